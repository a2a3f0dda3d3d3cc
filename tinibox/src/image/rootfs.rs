//! A container's root file system from an image: an overlay mount of the image's read-only
//! layers with the container's own upper and work folders (`STORE/containers/<id>/`), or,
//! where overlayfs is unavailable, a private copy of the flattened layers (said once, on
//! stderr). The image's layers are never modified.
//!
//! This module owns `STORE/containers/<id>/` and the mount on its `merged/` folder; it never
//! touches layers, blobs or records except to read them.

use std::ffi::CString;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::error::{ImageError, Result};
use super::store::{write_atomic, ContainerImage, ImageRecord, ImageRuntimeConfig, Store};
use super::unpack::OPAQUE_XATTR;

/// How a container root was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootfsMode {
    /// overlayfs: read-only layers + the container's upper folder.
    Overlay,
    /// A private copy of the flattened layers (overlayfs unavailable).
    Copy,
}

/// A container root ready to be used as a bundle's rootfs.
#[derive(Debug, Clone)]
pub struct PreparedRootfs {
    /// The folder to use as the bundle's root (`containers/<id>/merged`).
    pub rootfs: PathBuf,
    /// The image's process settings.
    pub config: ImageRuntimeConfig,
    /// Overlay or copy.
    pub mode: RootfsMode,
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

fn mount_overlay(
    lowers: &[PathBuf],
    upper: &Path,
    work: &Path,
    merged: &Path,
) -> std::io::Result<()> {
    let lower = lowers
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    let opts = format!(
        "lowerdir={lower},upperdir={},workdir={}",
        upper.display(),
        work.display()
    );
    let c = |s: &str| CString::new(s).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL));
    let source = c("overlay")?;
    let target = c(&merged.display().to_string())?;
    let data = c(&opts)?;
    let ret = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            source.as_ptr(),
            0,
            data.as_ptr().cast(),
        )
    };
    if ret != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Applies one unpacked layer (overlay format) onto `dest`, interpreting whiteouts and
/// opaque folders; used by the copy fallback.
fn apply_layer(layer: &Path, dest: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(layer)? {
        let entry = entry?;
        let src = entry.path();
        let target = dest.join(entry.file_name());
        let meta = std::fs::symlink_metadata(&src)?;
        let ft = meta.file_type();
        let is_whiteout = ft.is_char_device() && meta.rdev() == 0;
        if is_whiteout {
            remove_any(&target)?;
            continue;
        }
        if ft.is_dir() {
            let opaque = super::fsat::get_xattr(&src, OPAQUE_XATTR)?.is_some_and(|v| v == b"y");
            let target_meta = std::fs::symlink_metadata(&target).ok();
            if opaque || target_meta.as_ref().is_some_and(|m| !m.is_dir()) {
                remove_any(&target)?;
            }
            if std::fs::symlink_metadata(&target).is_err() {
                std::fs::create_dir(&target)?;
            }
            apply_layer(&src, &target)?;
            copy_meta(&meta, &target)?;
            continue;
        }
        remove_any(&target)?;
        if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &target)?;
        } else if ft.is_file() {
            std::fs::copy(&src, &target)?;
        } else {
            let c = CString::new(target.display().to_string())
                .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
            if unsafe { libc::mknod(c.as_ptr(), meta.mode(), meta.rdev()) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        copy_meta(&meta, &target)?;
    }
    Ok(())
}

fn copy_meta(meta: &std::fs::Metadata, target: &Path) -> std::io::Result<()> {
    std::os::unix::fs::lchown(target, Some(meta.uid()), Some(meta.gid()))?;
    if !meta.file_type().is_symlink() {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            target,
            std::fs::Permissions::from_mode(meta.mode() & 0o7777),
        )?;
    }
    Ok(())
}

fn remove_any(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Err(_) => Ok(()),
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
    }
}

fn is_mounted(path: &Path) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let wanted = path.display().to_string();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|mount_point| mount_point == wanted)
}

impl Store {
    /// Makes the root of container `container_id` from `image`: an overlay of the image's
    /// layers with the container's own upper folder, mounted on `containers/<id>/merged`
    /// (or a private copy when overlayfs is unavailable). Fails if the id is already in use.
    pub fn prepare_rootfs(
        &self,
        image: &ImageRecord,
        container_id: &str,
    ) -> Result<PreparedRootfs> {
        if !valid_id(container_id) {
            return Err(ImageError::InvalidContainerId(container_id.to_string()));
        }
        let config = self.runtime_config(image)?;
        let _lock = self.lock_exclusive()?;
        let dir = self.container_path(container_id);
        if dir.exists() {
            return Err(ImageError::Io {
                what: format!("prepare the root of container {container_id}"),
                source: std::io::Error::from_raw_os_error(libc::EEXIST),
            });
        }
        let mut lowers = Vec::new();
        for diff_id in image.diff_ids.iter().rev() {
            let layer = self.layer_path(diff_id);
            if !layer.is_dir() {
                return Err(ImageError::NoSuchImage(format!(
                    "{} (layer {diff_id} is missing; load the image again)",
                    image.reference()
                )));
            }
            lowers.push(layer);
        }
        let result = (|| {
            let (upper, work, merged) = (dir.join("upper"), dir.join("work"), dir.join("merged"));
            for d in [&upper, &work, &merged] {
                std::fs::create_dir_all(d)
                    .map_err(ImageError::io(format!("create {}", d.display())))?;
            }
            let mode = match mount_overlay(&lowers, &upper, &work, &merged) {
                Ok(()) => RootfsMode::Overlay,
                Err(e) => {
                    eprintln!(
                        "tinibox: overlayfs is unavailable here ({e}); copying the image into the container's root instead"
                    );
                    for layer in lowers.iter().rev() {
                        apply_layer(layer, &merged)
                            .map_err(ImageError::io(format!("copy layer {}", layer.display())))?;
                    }
                    RootfsMode::Copy
                }
            };
            let record = ContainerImage {
                manifest_digest: image.manifest_digest.clone(),
                diff_ids: image.diff_ids.clone(),
                mode: if mode == RootfsMode::Overlay {
                    "overlay"
                } else {
                    "copy"
                }
                .to_string(),
            };
            let bytes = serde_json::to_vec(&record).map_err(|e| ImageError::BadDocument {
                what: "container image record".into(),
                problem: e.to_string(),
            })?;
            write_atomic(&dir.join("image.json"), &bytes)?;
            Ok(PreparedRootfs {
                rootfs: merged,
                config: config.clone(),
                mode,
            })
        })();
        if result.is_err() {
            let merged = dir.join("merged");
            if is_mounted(&merged) {
                let _ = nix_umount(&merged);
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
        result
    }

    /// Mounts the overlay root of container `container_id` again when it is not mounted (after
    /// a reboot; the upper folder on disk kept the container's writes), from the layers its
    /// `image.json` names. A copy-mode root or one already mounted is left as it is.
    pub fn mount_rootfs_again(&self, container_id: &str) -> Result<()> {
        if !valid_id(container_id) {
            return Err(ImageError::InvalidContainerId(container_id.to_string()));
        }
        let _lock = self.lock_shared()?;
        let dir = self.container_path(container_id);
        let merged = dir.join("merged");
        let record_path = dir.join("image.json");
        let bytes = std::fs::read(&record_path)
            .map_err(ImageError::io(format!("read {}", record_path.display())))?;
        let record: ContainerImage =
            serde_json::from_slice(&bytes).map_err(|e| ImageError::BadDocument {
                what: record_path.display().to_string(),
                problem: e.to_string(),
            })?;
        if record.mode != "overlay" || is_mounted(&merged) {
            return Ok(());
        }
        let mut lowers = Vec::new();
        for diff_id in record.diff_ids.iter().rev() {
            let layer = self.layer_path(diff_id);
            if !layer.is_dir() {
                return Err(ImageError::NoSuchImage(format!(
                    "layer {diff_id} of container {container_id} is missing; load its image again"
                )));
            }
            lowers.push(layer);
        }
        mount_overlay(&lowers, &dir.join("upper"), &dir.join("work"), &merged).map_err(
            ImageError::io(format!("mount the overlay on {}", merged.display())),
        )
    }

    /// Unmounts and removes the root of container `container_id` (its upper folder with all
    /// its writes). Idempotent: a missing container is not an error.
    pub fn release_rootfs(&self, container_id: &str) -> Result<()> {
        if !valid_id(container_id) {
            return Err(ImageError::InvalidContainerId(container_id.to_string()));
        }
        let _lock = self.lock_exclusive()?;
        let dir = self.container_path(container_id);
        let merged = dir.join("merged");
        if is_mounted(&merged) {
            nix_umount(&merged).map_err(ImageError::io(format!("unmount {}", merged.display())))?;
        }
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(ImageError::io(format!("remove {}", dir.display()))(e)),
        }
        // Layers kept only for this container (after `rmi -f`) can go now.
        self.collect_garbage()
    }
}

fn nix_umount(path: &Path) -> std::io::Result<()> {
    let c = CString::new(path.display().to_string())
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    if unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
