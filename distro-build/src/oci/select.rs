//! Picks the part of the rootfs tree an image definition asks for and puts its extra files on
//! top, giving the image's own [`RootfsTree`].
//!
//! This module owns the selection rules only (include, exclude, extra files, and the rule that
//! the tinibox image store is never exported); it writes nothing.

use std::path::Path;

use crate::tree::{normalise, Entry, FileData, RootfsTree};

use super::definition::{parse_mode, ImageDefinition};
use super::OciError;

/// The image store inside the rootfs; its content never goes into an exported image.
pub const STORE_PATH: &str = "var/lib/tinibox";

/// The tree the image `def` holds, cut from `rootfs`.
pub fn select(rootfs: &RootfsTree, def: &ImageDefinition) -> Result<RootfsTree, OciError> {
    let bad_path = |p: &Path| OciError::Definition {
        path: format!("oci-images/{}", def.name).into(),
        problem: format!("path {:?} is not a valid rootfs path", p),
    };
    let store = Path::new(STORE_PATH);
    let mut excludes = Vec::new();
    for p in &def.exclude {
        excludes.push(normalise(p).map_err(|_| bad_path(p))?);
    }
    let keep = |path: &Path| {
        let in_store = path.starts_with(store) && path != store;
        !in_store && !excludes.iter().any(|e| path.starts_with(e))
    };
    let mut out = RootfsTree::new();
    for include in &def.include {
        let whole = include.components().all(|c| {
            matches!(
                c,
                std::path::Component::RootDir | std::path::Component::CurDir
            )
        });
        let prefix = if whole {
            None
        } else {
            Some(normalise(include).map_err(|_| bad_path(include))?)
        };
        if let Some(prefix) = &prefix {
            if rootfs.get(prefix).is_none() {
                return Err(OciError::MissingPath {
                    image: def.reference(),
                    path: prefix.clone(),
                });
            }
            // Parents keep the rootfs's owners and modes.
            for ancestor in prefix
                .ancestors()
                .skip(1)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
            {
                if let Some(entry) = rootfs.get(ancestor) {
                    if !ancestor.as_os_str().is_empty() {
                        insert(&mut out, ancestor, entry.clone())?;
                    }
                }
            }
        }
        for (path, entry) in rootfs.iter() {
            let wanted = prefix.as_ref().is_none_or(|p| path.starts_with(p));
            if wanted && keep(path) {
                insert(&mut out, path, entry.clone())?;
            }
        }
    }
    for file in &def.files {
        let mode = parse_mode(file.mode.as_deref()).map_err(|problem| OciError::Definition {
            path: file.path.clone(),
            problem,
        })?;
        let data = FileData::Bytes(file.content.clone().into_bytes());
        insert(&mut out, &file.path, Entry::file(data, mode))?;
    }
    Ok(out)
}

fn insert(tree: &mut RootfsTree, path: &Path, entry: Entry) -> Result<(), OciError> {
    tree.insert(path, entry).map_err(OciError::Tree)
}
