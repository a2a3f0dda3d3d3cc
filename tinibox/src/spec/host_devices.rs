//! The host's device nodes for `--privileged` (as Docker does): every character and block
//! device under the host's /dev, with its numbers, mode and owner, as `linux.devices` entries.
//! Owns the walk of /dev and what it skips; the nodes are made in the container by
//! [`crate::linux::devices`].

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use oci_spec::runtime::{LinuxDevice, LinuxDeviceBuilder, LinuxDeviceType};

use super::SpecError;

/// Directories under /dev that are per-container mounts or private state, never copied.
const SKIP_DIRS: [&str; 4] = ["pts", "shm", "mqueue", "fd"];
/// Nodes the container sets up itself: its console (a pty) and ptmx (a link to its devpts).
const SKIP_NODES: [&str; 2] = ["console", "ptmx"];

/// Every char and block device under `dev` (recursively, symlinks not followed), sorted by
/// path. Entries that vanish or cannot be read while walking are skipped.
pub fn host_devices(dev: &Path) -> Result<Vec<LinuxDevice>, SpecError> {
    let mut out = Vec::new();
    walk(dev, Path::new("/dev"), 0, &mut out)?;
    out.sort_by(|a, b| a.path().cmp(b.path()));
    Ok(out)
}

fn walk(
    dir: &Path,
    in_container: &Path,
    depth: u32,
    out: &mut Vec<LinuxDevice>,
) -> Result<(), SpecError> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(_) if depth > 0 => return Ok(()),
        Err(e) => {
            return Err(SpecError::Invalid(format!(
                "--privileged: reading the host's {}: {e} — is /dev mounted?",
                dir.display()
            )))
        }
    };
    for entry in rd.flatten() {
        let name = entry.file_name();
        let Some(n) = name.to_str() else { continue };
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
            continue;
        };
        let ft = meta.file_type();
        if ft.is_dir() {
            if depth < 8 && !n.starts_with('.') && !(depth == 0 && SKIP_DIRS.contains(&n)) {
                walk(&entry.path(), &in_container.join(n), depth + 1, out)?;
            }
            continue;
        }
        let typ = if ft.is_char_device() {
            LinuxDeviceType::C
        } else if ft.is_block_device() {
            LinuxDeviceType::B
        } else {
            continue;
        };
        if depth == 0 && SKIP_NODES.contains(&n) {
            continue;
        }
        let rdev = meta.rdev();
        out.push(
            LinuxDeviceBuilder::default()
                .path(in_container.join(n))
                .typ(typ)
                .major(libc::major(rdev) as i64)
                .minor(libc::minor(rdev) as i64)
                .file_mode(meta.mode() & 0o7777)
                .uid(meta.uid())
                .gid(meta.gid())
                .build()?,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hosts_dev_has_null_but_not_console_or_pts() {
        let d = host_devices(Path::new("/dev")).unwrap();
        let null = d
            .iter()
            .find(|d| d.path() == Path::new("/dev/null"))
            .expect("/dev/null");
        assert_eq!((null.major(), null.minor()), (1, 3));
        assert_eq!(null.typ(), LinuxDeviceType::C);
        assert!(!d.iter().any(|d| d.path() == Path::new("/dev/console")));
        assert!(!d.iter().any(|d| d.path().starts_with("/dev/pts")));
        assert!(d.iter().all(|d| d.path().starts_with("/dev/")));
    }
}
