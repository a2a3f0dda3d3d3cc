//! The early-boot initramfs of an installed TiniLinux: static BusyBox (the same binary as
//! the live root's) with its applet links, and the /init of
//! `distro-build/rootfs-disk/early-init/init`, which finds the root by `root=UUID=…`, checks
//! and mounts it and `switch_root`s into it (or starts a rescue shell with a clear message).
//!
//! It owns the early tree and its cpio newc + gzip serialisation; it does not touch the live
//! initramfs.

use crate::epoch::Epoch;
use std::io::Write;
use std::path::Path;

use flate2::write::GzEncoder;
use flate2::Compression;

use super::DiskError;
use crate::tree::{Entry, EntryKind, FileData, RootfsTree};

/// The /init script (BusyBox ash).
pub const INIT_SCRIPT: &str = include_str!("../../rootfs-disk/early-init/init");

/// BusyBox applets the early /init uses (each becomes a link to /bin/busybox).
pub const APPLETS: &[&str] = &[
    "sh",
    "mount",
    "umount",
    "mkdir",
    "cat",
    "ls",
    "tr",
    "awk",
    "sleep",
    "findfs",
    "blkid",
    "switch_root",
    "setsid",
    "cttyhack",
    "cp",
    "rm",
    "sync",
    "reboot",
    "mountpoint",
    "mdev",
    "echo",
    "dmesg",
    "poweroff",
    "vi",
    "ps",
    "grep",
];

/// The early tree: /init, /bin/busybox (from `busybox`), applet links, and the mount
/// points and console nodes the kernel and /init expect.
pub fn tree(busybox: FileData) -> Result<RootfsTree, DiskError> {
    let mut t = RootfsTree::new();
    for dir in [
        "dev", "proc", "sys", "run", "mnt/root", "bin", "sbin", "tmp",
    ] {
        t.insert(dir, Entry::dir(0o755))?;
    }
    t.insert("tmp", Entry::dir(0o1777))?;
    t.insert("dev/console", Entry::char_device(5, 1, 0o600))?;
    t.insert("dev/null", Entry::char_device(1, 3, 0o666))?;
    t.insert("bin/busybox", Entry::file(busybox, 0o755))?;
    for applet in APPLETS {
        t.insert(format!("bin/{applet}"), Entry::symlink("busybox"))?;
    }
    t.insert(
        "init",
        Entry::file(FileData::Bytes(INIT_SCRIPT.as_bytes().to_vec()), 0o755),
    )?;
    Ok(t)
}

/// The busybox binary of `live`: its /bin/busybox, following one symlink level.
pub fn busybox_of(live: &RootfsTree) -> Result<FileData, DiskError> {
    for path in ["bin/busybox", "usr/bin/busybox", "sbin/busybox"] {
        if let Some(Entry {
            kind: EntryKind::File(data),
            ..
        }) = live.get(path)
        {
            return Ok(data.clone());
        }
    }
    Err(DiskError::Invalid(
        "the rootfs tree has no /bin/busybox; the early-boot initramfs needs the static BusyBox"
            .into(),
    ))
}

/// Writes `tree` as a gzip-compressed cpio newc archive with the tree's owners and modes
/// and every mtime set to `epoch`.
pub fn write_cpio_gz(tree: &RootfsTree, epoch: Epoch, out: &Path) -> Result<(), DiskError> {
    let file = std::fs::File::create(out)
        .map_err(|e| DiskError::io(format!("creating {}", out.display()), e))?;
    let mut gz = GzEncoder::new(std::io::BufWriter::new(file), Compression::best());
    let io = |e| DiskError::io(format!("writing {}", out.display()), e);
    let mtime = epoch.cpio_mtime()?;
    for (ino, (path, entry)) in tree.iter().enumerate() {
        let name = path.to_string_lossy();
        let data: Vec<u8> = match &entry.kind {
            EntryKind::File(d) => d.read()?,
            EntryKind::Symlink(target) => target.as_os_str().as_encoded_bytes().to_vec(),
            _ => Vec::new(),
        };
        let mut b = cpio::newc::Builder::new(&name)
            .ino(ino as u32 + 1)
            .mode(entry.st_mode())
            .uid(entry.uid)
            .gid(entry.gid)
            .nlink(if matches!(entry.kind, EntryKind::Directory) {
                2
            } else {
                1
            })
            .mtime(mtime);
        if let EntryKind::CharDevice { major, minor } | EntryKind::BlockDevice { major, minor } =
            entry.kind
        {
            b = b.rdev_major(major).rdev_minor(minor);
        }
        let mut w = b.write(&mut gz, data.len() as u32);
        w.write_all(&data).map_err(io)?;
        w.finish().map_err(io)?;
    }
    cpio::newc::trailer(&mut gz).map_err(io)?;
    let inner = gz.finish().map_err(io)?;
    inner
        .into_inner()
        .map_err(|e| io(e.into_error()))?
        .sync_all()
        .map_err(io)?;
    Ok(())
}
