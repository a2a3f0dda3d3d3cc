//! Writes a [`RootfsTree`] as a tar stream (the layer and the `docker import` tarball) and
//! compresses it with a reproducible gzip header.
//!
//! This module owns the tar encoding of tree entries: sorted paths, owners and modes from the
//! tree, every mtime set to the build's SOURCE_DATE_EPOCH. It writes no files itself.

use crate::epoch::Epoch;
use std::io::Write;

use flate2::write::GzEncoder;
use flate2::{Compression, GzBuilder};
use sha2::{Digest as _, Sha256};
use tar::{EntryType, Header};

use crate::tree::{EntryKind, RootfsTree};

use super::OciError;

/// A layer in both forms, with the digests the image config and manifest need.
#[derive(Debug, Clone)]
pub struct Layer {
    /// The uncompressed tar stream.
    pub tar: Vec<u8>,
    /// `sha256:…` of the uncompressed tar (the config's diff_id).
    pub diff_id: String,
    /// The gzip-compressed tar stream (the manifest's layer blob).
    pub gzip: Vec<u8>,
    /// `sha256:…` of the compressed stream.
    pub digest: String,
}

/// `sha256:` followed by the lowercase hex SHA-256 of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Encodes `tree` as a tar stream with every mtime set to `mtime`.
pub fn tar_tree(tree: &RootfsTree, mtime: Epoch) -> Result<Vec<u8>, OciError> {
    let io = |what: String| move |source| OciError::Io { what, source };
    let mut builder = tar::Builder::new(Vec::new());
    for (path, entry) in tree.iter() {
        let mut header = Header::new_gnu();
        header.set_mode(entry.mode & 0o7777);
        header.set_uid(entry.uid.into());
        header.set_gid(entry.gid.into());
        header.set_mtime(mtime.secs());
        header.set_size(0);
        let err = io(format!("add {} to the tar stream", path.display()));
        match &entry.kind {
            EntryKind::Directory => {
                header.set_entry_type(EntryType::Directory);
                builder
                    .append_data(&mut header, path, std::io::empty())
                    .map_err(err)?;
            }
            EntryKind::File(data) => {
                let bytes = data.read().map_err(OciError::Tree)?;
                header.set_entry_type(EntryType::Regular);
                header.set_size(bytes.len() as u64);
                builder
                    .append_data(&mut header, path, bytes.as_slice())
                    .map_err(err)?;
            }
            EntryKind::Symlink(target) => {
                header.set_entry_type(EntryType::Symlink);
                builder
                    .append_link(&mut header, path, target)
                    .map_err(err)?;
            }
            EntryKind::CharDevice { major, minor } | EntryKind::BlockDevice { major, minor } => {
                let kind = if matches!(entry.kind, EntryKind::CharDevice { .. }) {
                    EntryType::Char
                } else {
                    EntryType::Block
                };
                header.set_entry_type(kind);
                header
                    .set_device_major(*major)
                    .map_err(io(path.display().to_string()))?;
                header
                    .set_device_minor(*minor)
                    .map_err(io(path.display().to_string()))?;
                builder
                    .append_data(&mut header, path, std::io::empty())
                    .map_err(err)?;
            }
            EntryKind::Fifo => {
                header.set_entry_type(EntryType::Fifo);
                builder
                    .append_data(&mut header, path, std::io::empty())
                    .map_err(err)?;
            }
        }
    }
    builder
        .into_inner()
        .map_err(io("finish the tar stream".to_string()))
}

/// Gzip with a header that carries no file name and no timestamp, at the best ratio.
pub fn gzip(bytes: &[u8]) -> Result<Vec<u8>, OciError> {
    let mut encoder: GzEncoder<Vec<u8>> = GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), Compression::best());
    let io = |source| OciError::Io {
        what: "gzip a layer".to_string(),
        source,
    };
    encoder.write_all(bytes).map_err(io)?;
    encoder.finish().map_err(io)
}

/// Builds the layer for `tree`: tar, gzip and both digests.
pub fn build_layer(tree: &RootfsTree, mtime: Epoch) -> Result<Layer, OciError> {
    let tar = tar_tree(tree, mtime)?;
    let gzip = gzip(&tar)?;
    Ok(Layer {
        diff_id: sha256_digest(&tar),
        digest: sha256_digest(&gzip),
        tar,
        gzip,
    })
}
