//! The early-boot initramfs of an installed TiniLinux: static BusyBox (the same binary as
//! the live root's) with its applet links, and the /init of
//! `distro-build/rootfs-disk/early-init/init`, which finds the root by `root=UUID=…`, checks
//! and mounts it and `switch_root`s into it (or starts a rescue shell with a clear message).
//!
//! It owns the early tree; the crate's cpio writer ([`crate::initramfs::write_with`], gzip)
//! serialises it. It does not touch the live initramfs.

use crate::error::{Error, Result};
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
pub fn tree(busybox: FileData) -> Result<RootfsTree> {
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
pub fn busybox_of(live: &RootfsTree) -> Result<FileData> {
    for path in ["bin/busybox", "usr/bin/busybox", "sbin/busybox"] {
        if let Some(Entry {
            kind: EntryKind::File(data),
            ..
        }) = live.get(path)
        {
            return Ok(data.clone());
        }
    }
    Err(Error::Invalid(
        "the rootfs tree has no /bin/busybox; the early-boot initramfs needs the static BusyBox"
            .into(),
    ))
}
