//! Puts an image into the tinibox image store inside the rootfs tree (`/var/lib/tinibox`), in
//! the store's own on-disk format, so `tinibox run tinilinux …` works on the live system with
//! no network.
//!
//! The format mirrors `tinibox/src/image/store.rs` (version 1): `repositories.json` (image
//! records), `blobs/sha256/<hex>` (manifest and config only) and `layers/sha256/<diff_id hex>/`
//! (each layer unpacked, the overlay lower directory). The compressed layer blob is not kept:
//! the store never needs it again, and leaving it out keeps the ISO small. This module only
//! adds entries below [`STORE_PATH`]; it never changes anything else in the tree.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::tree::{Entry, FileData, RootfsTree};

use super::image::{canonical_json, BuiltImage};
use super::select::STORE_PATH;
use super::OciError;

/// The store format version this module writes (tinibox refuses versions it does not know).
pub const STORE_FORMAT_VERSION: u32 = 1;

/// One image record of `repositories.json` (same fields as tinibox's `ImageRecord`).
#[derive(Serialize)]
struct Record {
    name: String,
    tag: String,
    manifest_digest: String,
    config_digest: String,
    diff_ids: Vec<String>,
    size: u64,
    created: Option<String>,
}

#[derive(Serialize)]
struct Repositories {
    version: u32,
    images: Vec<Record>,
}

fn hex_of(digest: &str) -> &str {
    digest.trim_start_matches("sha256:")
}

/// Adds `image`, whose own tree is `image_tree`, to the store inside `rootfs`.
pub fn put_image(
    rootfs: &mut RootfsTree,
    image: &BuiltImage,
    image_tree: &RootfsTree,
    created: String,
) -> Result<(), OciError> {
    let store = Path::new(STORE_PATH);
    let tree_err = OciError::Tree;
    let (name, tag) = image
        .reference
        .rsplit_once(':')
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .unwrap_or_else(|| (image.reference.clone(), "latest".to_string()));
    rootfs.insert(store, Entry::dir(0o700)).map_err(tree_err)?;
    for blob in [&image.config, &image.manifest] {
        let path = store.join("blobs/sha256").join(hex_of(&blob.digest));
        rootfs
            .insert(
                path,
                Entry::file(FileData::Bytes(blob.bytes.clone()), 0o644),
            )
            .map_err(OciError::Tree)?;
    }
    let layer_root: PathBuf = store
        .join("layers/sha256")
        .join(hex_of(&image.layer.diff_id));
    rootfs
        .insert(&layer_root, Entry::dir(0o755))
        .map_err(OciError::Tree)?;
    for (path, entry) in image_tree.iter() {
        rootfs
            .insert(layer_root.join(path), entry.clone())
            .map_err(OciError::Tree)?;
    }
    let repositories = Repositories {
        version: STORE_FORMAT_VERSION,
        images: vec![Record {
            name,
            tag,
            manifest_digest: image.manifest.digest.clone(),
            config_digest: image.config.digest.clone(),
            diff_ids: vec![image.layer.diff_id.clone()],
            size: image.layer.tar.len() as u64,
            created: Some(created),
        }],
    };
    let json = canonical_json(&repositories)?;
    rootfs
        .insert(
            store.join("repositories.json"),
            Entry::file(FileData::Bytes(json), 0o644),
        )
        .map_err(OciError::Tree)?;
    Ok(())
}
