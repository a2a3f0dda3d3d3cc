//! The initramfs writer: a [`RootfsTree`] → cpio "newc" archive (via the `cpio` crate) →
//! compressed with zstd, gzip or xz (CRC32 check, as the kernel's decompressor requires). The
//! archive is deterministic: entries in sorted order, inode numbers by position, owners and
//! modes from the tree, every mtime = SOURCE_DATE_EPOCH. It builds no tree itself.
//!
//! zstd (level 19) is the default (`TINILINUX_INITRAMFS_COMPRESSION` picks `gzip`, `xz` or
//! `none`). On the live initramfs (6.6 MB of cpio) it gives 2.4 MB against gzip's 3.1 MB and
//! xz's 2.2 MB, and the kernel unpacks it about as fast as gzip, while xz cost about half a
//! second of boot more under QEMU TCG (BENCHMARKS.md): zstd is both small and quick.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cache::{self, KeyBuilder};
use crate::context::Context;
use crate::epoch::Epoch;
use crate::error::{Error, IoContext, Result};
use crate::tree::{EntryKind, RootfsTree};

/// Bumped whenever the archive layout or compression settings change.
const RECIPE: u32 = 2;

/// How the cpio archive is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// zstd level 19 with a content checksum (needs CONFIG_RD_ZSTD): nearly as small as xz,
    /// faster to unpack than gzip.
    Zstd,
    /// xz, preset 9 extreme, CRC32 check (needs CONFIG_RD_XZ): smallest, slowest to unpack.
    Xz,
    /// gzip level 9 (needs CONFIG_RD_GZIP).
    Gzip,
    /// No compression (for tests and inspection).
    None,
}

/// The environment variable choosing the compression (`zstd`, `gzip`, `xz` or `none`).
pub const COMPRESSION_ENV: &str = "TINILINUX_INITRAMFS_COMPRESSION";

impl Compression {
    /// The compression named by `TINILINUX_INITRAMFS_COMPRESSION`, zstd when unset.
    pub fn from_env() -> Result<Compression> {
        match std::env::var(COMPRESSION_ENV).ok().as_deref() {
            None | Some("") | Some("zstd") => Ok(Compression::Zstd),
            Some("gzip") => Ok(Compression::Gzip),
            Some("xz") => Ok(Compression::Xz),
            Some("none") => Ok(Compression::None),
            Some(other) => Err(Error::Invalid(format!(
                "{COMPRESSION_ENV}={other:?}: use zstd, gzip, xz or none"
            ))),
        }
    }

    /// The usual file-name suffix.
    pub fn suffix(self) -> &'static str {
        match self {
            Compression::Zstd => ".cpio.zst",
            Compression::Xz => ".cpio.xz",
            Compression::Gzip => ".cpio.gz",
            Compression::None => ".cpio",
        }
    }
}

fn too_big(what: &str, path: &Path) -> Error {
    Error::Invalid(format!(
        "{}: {what} does not fit the cpio newc format (4 GiB / 32-bit fields)",
        path.display()
    ))
}

/// Files at least this big with identical content, mode and owner are stored once, as hard
/// links. The tinibox image store repeats the rootfs's binaries; linking them halves what the
/// kernel unpacks at boot. Small files (configuration a user may edit in place) stay separate.
pub const HARDLINK_MIN_SIZE: usize = 16 * 1024;

/// For each entry index: the inode number and link count it is written with, and whether it
/// carries the file's data (the first of a group does, later links are empty).
fn inode_plan(tree: &RootfsTree) -> Result<Vec<(u32, u32, bool)>> {
    use sha2::{Digest, Sha256};
    let mut plan = Vec::with_capacity(tree.len());
    let mut groups: std::collections::HashMap<(Vec<u8>, u32, u32, u32), Vec<usize>> =
        std::collections::HashMap::new();
    for (index, (path, entry)) in tree.iter().enumerate() {
        let ino = u32::try_from(index + 1).map_err(|_| too_big("entry count", path))?;
        let nlink = if matches!(entry.kind, EntryKind::Directory) {
            2
        } else {
            1
        };
        plan.push((ino, nlink, true));
        if let EntryKind::File(data) = &entry.kind {
            if data.len()? as usize >= HARDLINK_MIN_SIZE {
                let digest = Sha256::digest(data.read()?).to_vec();
                groups
                    .entry((digest, entry.st_mode(), entry.uid, entry.gid))
                    .or_default()
                    .push(index);
            }
        }
    }
    for members in groups.values().filter(|m| m.len() > 1) {
        let first = members[0];
        let links = u32::try_from(members.len()).unwrap_or(u32::MAX);
        let ino = plan[first].0;
        for (n, &i) in members.iter().enumerate() {
            plan[i] = (ino, links, n == 0);
        }
    }
    Ok(plan)
}

/// Files whose data is at least this big are written after everything else, largest first.
pub const LARGE_FILE_SIZE: u64 = 1024 * 1024;

/// The order entries are written in: the tree's order, except that the files carrying
/// [`LARGE_FILE_SIZE`] bytes or more come last, largest first. The large files are the two
/// static binaries (tinibox, BusyBox), which both carry glibc: written next to each other,
/// the copy of glibc in the second is within [`ZSTD_WINDOW_LOG`] of the first, which the
/// small window would otherwise miss (about 180 KB more of initramfs). A hard link written
/// before the entry with the data is fine: the kernel links the later name to the file the
/// first made and writes the data into it.
fn write_order<'a>(
    tree: &'a RootfsTree,
    plan: &[(u32, u32, bool)],
) -> Result<Vec<(usize, (&'a Path, &'a crate::tree::Entry))>> {
    let mut small = Vec::new();
    let mut large = Vec::new();
    for (index, (path, entry)) in tree.iter().enumerate() {
        let size = match &entry.kind {
            EntryKind::File(data) if plan[index].2 => data.len()?,
            _ => 0,
        };
        if size >= LARGE_FILE_SIZE {
            large.push((size, index, (path, entry)));
        } else {
            small.push((index, (path, entry)));
        }
    }
    large.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    small.extend(large.into_iter().map(|(_, index, item)| (index, item)));
    Ok(small)
}

/// Writes `tree` as an uncompressed cpio newc archive to `w`.
pub fn write_cpio<W: Write>(tree: &RootfsTree, mut w: W, epoch: Epoch) -> Result<W> {
    let mtime = epoch.cpio_mtime()?;
    let io = |e: std::io::Error| Error::Io {
        context: "writing the cpio archive".into(),
        source: e,
    };
    let plan = inode_plan(tree)?;
    for (index, (path, entry)) in write_order(tree, &plan)? {
        let (ino, nlink, with_data) = plan[index];
        let name = path.to_string_lossy();
        let mut builder = cpio::newc::Builder::new(&name)
            .ino(ino)
            .mode(entry.st_mode())
            .uid(entry.uid)
            .gid(entry.gid)
            .mtime(mtime)
            .nlink(nlink);
        let data: Vec<u8> = match &entry.kind {
            EntryKind::File(data) if with_data => data.read()?,
            EntryKind::File(_) => Vec::new(),
            EntryKind::Symlink(target) => target.to_string_lossy().into_owned().into_bytes(),
            EntryKind::CharDevice { major, minor } | EntryKind::BlockDevice { major, minor } => {
                builder = builder.rdev_major(*major).rdev_minor(*minor);
                Vec::new()
            }
            EntryKind::Directory | EntryKind::Fifo => Vec::new(),
        };
        let size = u32::try_from(data.len()).map_err(|_| too_big("file size", path))?;
        let mut writer = builder.write(w, size);
        writer.write_all(&data).map_err(io)?;
        w = writer.finish().map_err(io)?;
    }
    cpio::newc::trailer(w).map_err(io)
}

/// Writes `tree` as a compressed initramfs at `out` (through a temporary file and a rename).
pub fn write_with(
    tree: &RootfsTree,
    out: &Path,
    epoch: Epoch,
    compression: Compression,
) -> Result<()> {
    let mut raw = Vec::new();
    raw = write_cpio(tree, raw, epoch)?;
    let bytes = compress(&raw, compression)?;
    if let Some(parent) = out.parent() {
        fs::create_dir_all(parent).ctx(|| format!("creating {}", parent.display()))?;
    }
    cache::write_atomic(out, &bytes)
}

/// Writes `tree` as a compressed initramfs at `out` (the contract other stages use), with the
/// compression chosen by [`Compression::from_env`].
pub fn write(tree: &RootfsTree, out: &Path, epoch: Epoch) -> Result<()> {
    write_with(tree, out, epoch, Compression::from_env()?)
}

/// log2 of the zstd window: 2 MiB. The kernel unpacks the initramfs in a stream and
/// allocates a buffer of the frame's window size while it does, next to the files it
/// unpacks; level 19's own 8 MiB window made a 40 MiB machine run out of memory at boot
/// (BENCHMARKS.md, "Memory floor"). With [`write_order`], 2 MiB costs 44 KB of initramfs.
pub const ZSTD_WINDOW_LOG: u32 = 21;

/// Compresses a cpio archive the way the kernel can unpack it.
pub fn compress(raw: &[u8], compression: Compression) -> Result<Vec<u8>> {
    let io = |e: std::io::Error| Error::Io {
        context: "compressing the initramfs".into(),
        source: e,
    };
    match compression {
        Compression::None => Ok(raw.to_vec()),
        Compression::Zstd => {
            let mut enc = zstd::stream::Encoder::new(Vec::new(), 19).map_err(io)?;
            enc.include_checksum(true).map_err(io)?;
            enc.window_log(ZSTD_WINDOW_LOG).map_err(io)?;
            enc.write_all(raw).map_err(io)?;
            enc.finish().map_err(io)
        }
        Compression::Gzip => {
            let mut enc = flate2::GzBuilder::new()
                .mtime(0)
                .write(Vec::new(), flate2::Compression::best());
            enc.write_all(raw).map_err(io)?;
            enc.finish().map_err(io)
        }
        Compression::Xz => {
            let stream = xz2::stream::Stream::new_easy_encoder(
                9 | 0x8000_0000, // LZMA_PRESET_EXTREME
                xz2::stream::Check::Crc32,
            )
            .map_err(|e| Error::Invalid(format!("xz encoder: {e}")))?;
            let mut enc = xz2::write::XzEncoder::new_stream(Vec::new(), stream);
            enc.write_all(raw).map_err(io)?;
            enc.finish().map_err(io)
        }
    }
}

/// The cache key of a tree: every path, kind, owner, mode and byte of content.
pub fn tree_key(tree: &RootfsTree, epoch: Epoch, compression: Compression) -> Result<String> {
    let mut key = KeyBuilder::new("initramfs", RECIPE);
    key.bytes("epoch", &epoch.key_bytes())
        .bytes("compression", compression.suffix().as_bytes());
    for (path, entry) in tree.iter() {
        let meta = format!("{:o} {} {} {:?}", entry.st_mode(), entry.uid, entry.gid, {
            match &entry.kind {
                EntryKind::File(_) => String::from("file"),
                other => format!("{other:?}"),
            }
        });
        key.bytes(&path.to_string_lossy(), meta.as_bytes());
        if let EntryKind::File(data) = &entry.kind {
            key.bytes("data", &data.read()?);
        }
    }
    Ok(key.finish())
}

/// Writes (or takes from the cache) the initramfs of `tree` and returns its path.
pub fn build(ctx: &Context, tree: &RootfsTree) -> Result<PathBuf> {
    let compression = Compression::from_env()?;
    build_archive(ctx, tree, "initramfs", compression)
}

/// Writes (or takes from the cache) `tree` as the cpio archive `<name><suffix>` compressed
/// with `compression`; `name` also names the step in the progress output and the archive's
/// cache folder, so two archives never evict each other. The initramfs is one such archive,
/// the installer's payload on the live medium another.
pub fn build_archive(
    ctx: &Context,
    tree: &RootfsTree,
    name: &str,
    compression: Compression,
) -> Result<PathBuf> {
    let stage = crate::runner::Stage::start(name, &format!("tree → cpio newc → {compression:?}"));
    let key = tree_key(tree, ctx.epoch, compression)?;
    let cache_stage = name;
    let name = format!("{name}{}", compression.suffix());
    if let Some(dir) = cache::lookup(ctx, cache_stage, &key) {
        stage.done(&format!("cached ({key})"));
        return Ok(dir.join(name));
    }
    let dir = cache::publish(ctx, cache_stage, &key, |tmp| {
        write_with(tree, &tmp.join(&name), ctx.epoch, compression)
    })?;
    let size = fs::metadata(dir.join(&name)).map(|m| m.len()).unwrap_or(0);
    stage.done(&format!(
        "{} entries, {} KiB ({key})",
        tree.len(),
        size / 1024
    ));
    Ok(dir.join(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{Entry, FileData};
    use std::io::Read;

    fn sample() -> RootfsTree {
        let mut tree = RootfsTree::new();
        tree.insert(
            "bin/busybox",
            Entry::file(FileData::Bytes(b"ELF...".to_vec()), 0o755),
        )
        .unwrap();
        tree.insert("bin/sh", Entry::symlink("/bin/busybox"))
            .unwrap();
        tree.insert("dev/console", Entry::char_device(5, 1, 0o600))
            .unwrap();
        tree.insert(
            "etc/shadow",
            Entry::file(FileData::Bytes(b"root::1:::::\n".to_vec()), 0o600),
        )
        .unwrap();
        let mut owned = Entry::dir(0o1777);
        owned.uid = 1000;
        owned.gid = 100;
        tree.insert("tmp", owned).unwrap();
        tree
    }

    #[test]
    fn cpio_round_trips_through_the_cpio_reader() {
        let raw = write_cpio(&sample(), Vec::new(), Epoch::from_secs(1_700_000_000)).unwrap();
        let mut rest: &[u8] = &raw;
        let mut seen = Vec::new();
        loop {
            let mut reader = cpio::newc::Reader::new(rest).unwrap();
            let e = reader.entry();
            if e.is_trailer() {
                break;
            }
            let (name, mode, uid, gid, mtime) =
                (e.name().to_string(), e.mode(), e.uid(), e.gid(), e.mtime());
            let (rmaj, rmin) = (e.rdev_major(), e.rdev_minor());
            let mut data = Vec::new();
            reader.read_to_end(&mut data).unwrap();
            seen.push((name, mode, uid, gid, mtime, rmaj, rmin, data));
            rest = reader.finish().unwrap();
        }
        let names: Vec<_> = seen.iter().map(|s| s.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "bin",
                "bin/busybox",
                "bin/sh",
                "dev",
                "dev/console",
                "etc",
                "etc/shadow",
                "tmp"
            ]
        );
        let console = &seen[4];
        assert_eq!((console.1, console.5, console.6), (0o020600, 5, 1));
        assert_eq!(seen[2].1, 0o120777);
        assert_eq!(seen[2].7, b"/bin/busybox");
        assert_eq!(seen[1].7, b"ELF...");
        assert_eq!((seen[7].1, seen[7].2, seen[7].3), (0o041777, 1000, 100));
        assert!(seen.iter().all(|s| s.4 == 1_700_000_000));
    }

    #[test]
    fn gnu_cpio_lists_the_archive() {
        let raw = write_cpio(&sample(), Vec::new(), Epoch::from_secs(0)).unwrap();
        let mut child = std::process::Command::new("cpio")
            .args(["-t", "-v", "--quiet"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("GNU cpio must be installed (scripts/install-deps.sh)");
        child.stdin.take().unwrap().write_all(&raw).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let listing = String::from_utf8(out.stdout).unwrap();
        assert!(listing.contains("crw-------"), "{listing}");
        assert!(listing.contains("bin/sh -> /bin/busybox"), "{listing}");
        assert!(listing.contains("drwxrwxrwt"), "{listing}");
    }

    #[test]
    fn two_writes_are_byte_identical_and_decompress() {
        let dir = tempfile::tempdir().unwrap();
        for c in [Compression::Zstd, Compression::Xz, Compression::Gzip] {
            let a = dir.path().join(format!("a{}", c.suffix()));
            let b = dir.path().join(format!("b{}", c.suffix()));
            write_with(&sample(), &a, Epoch::from_secs(42), c).unwrap();
            write_with(&sample(), &b, Epoch::from_secs(42), c).unwrap();
            let (a, b) = (fs::read(a).unwrap(), fs::read(b).unwrap());
            assert_eq!(a, b, "{c:?} output differs between two runs");
            let mut raw = Vec::new();
            match c {
                Compression::Zstd => {
                    raw = zstd::stream::decode_all(&a[..]).unwrap();
                }
                Compression::Xz => {
                    xz2::read::XzDecoder::new(&a[..])
                        .read_to_end(&mut raw)
                        .unwrap();
                }
                _ => {
                    flate2::read::GzDecoder::new(&a[..])
                        .read_to_end(&mut raw)
                        .unwrap();
                }
            }
            assert_eq!(
                raw,
                write_cpio(&sample(), Vec::new(), Epoch::from_secs(42)).unwrap()
            );
        }
        let leftovers = fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 6, "temporary files left behind");
    }

    #[test]
    fn identical_big_files_become_hard_links_that_gnu_cpio_restores() {
        let big = vec![7u8; HARDLINK_MIN_SIZE + 1];
        let mut tree = sample();
        tree.insert(
            "usr/bin/tool",
            Entry::file(FileData::Bytes(big.clone()), 0o755),
        )
        .unwrap();
        tree.insert(
            "var/store/tool",
            Entry::file(FileData::Bytes(big.clone()), 0o755),
        )
        .unwrap();
        tree.insert(
            "var/store/other-mode",
            Entry::file(FileData::Bytes(big.clone()), 0o700),
        )
        .unwrap();
        let raw = write_cpio(&tree, Vec::new(), Epoch::from_secs(0)).unwrap();
        assert!(
            raw.len() < 3 * big.len(),
            "the two identical files were both stored"
        );
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("cpio")
            .args(["-i", "-d", "--quiet", "--no-absolute-filenames"])
            .current_dir(dir.path())
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("GNU cpio must be installed (scripts/install-deps.sh)");
        child.stdin.take().unwrap().write_all(&raw).unwrap();
        assert!(child.wait().unwrap().success());
        use std::os::unix::fs::MetadataExt;
        let a = fs::metadata(dir.path().join("usr/bin/tool")).unwrap();
        let b = fs::metadata(dir.path().join("var/store/tool")).unwrap();
        let c = fs::metadata(dir.path().join("var/store/other-mode")).unwrap();
        assert_eq!(a.ino(), b.ino());
        assert_ne!(a.ino(), c.ino());
        assert_eq!(fs::read(dir.path().join("var/store/tool")).unwrap(), big);
        assert_eq!(fs::read(dir.path().join("usr/bin/tool")).unwrap(), big);
        assert_eq!(
            fs::read(dir.path().join("var/store/other-mode")).unwrap(),
            big
        );
    }

    #[test]
    fn tree_key_follows_content_and_metadata() {
        let a = tree_key(&sample(), Epoch::from_secs(0), Compression::Xz).unwrap();
        assert_eq!(
            a,
            tree_key(&sample(), Epoch::from_secs(0), Compression::Xz).unwrap()
        );
        assert_ne!(
            a,
            tree_key(&sample(), Epoch::from_secs(1), Compression::Xz).unwrap()
        );
        let mut t = sample();
        t.insert(
            "etc/shadow",
            Entry::file(FileData::Bytes(b"root::1:::::\n".to_vec()), 0o644),
        )
        .unwrap();
        assert_ne!(
            a,
            tree_key(&t, Epoch::from_secs(0), Compression::Xz).unwrap()
        );
        let mut t = sample();
        t.insert(
            "bin/busybox",
            Entry::file(FileData::Bytes(b"ELF..!".to_vec()), 0o755),
        )
        .unwrap();
        assert_ne!(
            a,
            tree_key(&t, Epoch::from_secs(0), Compression::Xz).unwrap()
        );
    }
}
