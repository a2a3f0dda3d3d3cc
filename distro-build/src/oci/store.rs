//! Puts an image into the tinibox image store inside the rootfs tree (`/var/lib/tinibox`),
//! so `tinibox run tinilinux …` works on the live system with no network. The format is
//! tinibox's own, from the tinibox library: the record type
//! (`tinibox::image::store::ImageRecord`), `repositories.json`'s bytes
//! (`repositories_json`) and where blobs and unpacked layers live (`blob_relpath`,
//! `layer_relpath`), so a change of the store format reaches the ISO at build time. Only the
//! manifest, the config and the unpacked layer (the overlay lower directory) are stored: the
//! store never needs the compressed layer blob again, and leaving it out keeps the ISO small.
//! This module only adds entries below [`STORE_PATH`]; it never changes anything else in
//! the tree.

use std::path::Path;

use tinibox::image::store::{blob_relpath, layer_relpath, repositories_json, ImageRecord};

use crate::tree::{Entry, FileData, RootfsTree};

use super::image::BuiltImage;
use super::select::STORE_PATH;
use super::OciError;

/// The store format version written (tinibox refuses versions it does not know).
pub const STORE_FORMAT_VERSION: u32 = tinibox::image::store::FORMAT_VERSION;

/// Adds `image`, whose own tree is `image_tree`, to the store inside `rootfs`.
pub fn put_image(
    rootfs: &mut RootfsTree,
    image: &BuiltImage,
    image_tree: &RootfsTree,
    created: String,
) -> Result<(), OciError> {
    let store = Path::new(STORE_PATH);
    let (name, tag) = image
        .reference
        .rsplit_once(':')
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .unwrap_or_else(|| (image.reference.clone(), "latest".to_string()));
    rootfs.insert(store, Entry::dir(0o700))?;
    for blob in [&image.config, &image.manifest] {
        let path = store.join(blob_relpath(&blob.digest));
        rootfs.insert(
            path,
            Entry::file(FileData::Bytes(blob.bytes.clone()), 0o644),
        )?;
    }
    let layer_root = store.join(layer_relpath(&image.layer.diff_id));
    rootfs.insert(&layer_root, Entry::dir(0o755))?;
    for (path, entry) in image_tree.iter() {
        rootfs.insert(layer_root.join(path), entry.clone())?;
    }
    let record = ImageRecord {
        name,
        tag,
        manifest_digest: image.manifest.digest.clone(),
        config_digest: image.config.digest.clone(),
        diff_ids: vec![image.layer.diff_id.clone()],
        size: image.layer.tar.len() as u64,
        created: Some(created),
        repo_digest: None,
    };
    let json = repositories_json(vec![record]).map_err(|e| OciError::Spec(e.to_string()))?;
    rootfs.insert(
        store.join("repositories.json"),
        Entry::file(FileData::Bytes(json), 0o644),
    )?;
    Ok(())
}
