//! Turns an unpacked layer of the store (overlayfs lower-dir format) back into a layer tar
//! stream, for `push` and `save`: entries in sorted order, modes, owners and mtimes kept,
//! symlinks and hard links (within the layer) as links, a 0/0 character device as the OCI
//! whiteout `.wh.NAME`, the `trusted.overlay.opaque=y` attribute as `DIR/.wh..wh..opq`.
//!
//! The store keeps no compressed blobs, so the stream is rebuilt: it holds the same files as
//! the layer that was unpacked, but its bytes (and so its digest) match the original only when
//! that archive was written the same way. Callers compare digests and describe the result.

use std::collections::HashMap;
use std::ffi::CString;
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use sha2::{Digest as _, Sha256};

/// A writer that hashes and counts what passes through.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// (`sha256:…`, bytes written) and the inner writer.
    pub fn finish(self) -> (String, u64, W) {
        (
            format!("sha256:{}", hex::encode(self.hasher.finalize())),
            self.count,
            self.inner,
        )
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn opaque(path: &Path) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    let name = c"trusted.overlay.opaque";
    let mut value = [0u8; 4];
    // SAFETY: both strings are NUL-terminated and the buffer's length is passed.
    let n = unsafe {
        libc::lgetxattr(
            c.as_ptr(),
            name.as_ptr(),
            value.as_mut_ptr().cast(),
            value.len(),
        )
    };
    n == 1 && value[0] == b'y'
}

fn header_for(meta: &std::fs::Metadata, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_mode(meta.mode() & 0o7777);
    h.set_uid(meta.uid() as u64);
    h.set_gid(meta.gid() as u64);
    h.set_mtime(meta.mtime().max(0) as u64);
    h.set_size(0);
    h
}

/// Writes the tar stream of the layer at `dir` to `out`.
pub fn write_layer(dir: &Path, out: impl Write) -> io::Result<()> {
    let mut builder = tar::Builder::new(out);
    let mut links: HashMap<(u64, u64), String> = HashMap::new();
    walk(dir, "", &mut builder, &mut links)?;
    builder.into_inner()?.flush()
}

fn walk<W: Write>(
    dir: &Path,
    prefix: &str,
    builder: &mut tar::Builder<W>,
    links: &mut HashMap<(u64, u64), String>,
) -> io::Result<()> {
    let mut names: Vec<_> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<_>>()?;
    names.sort();
    if !prefix.is_empty() && opaque(dir) {
        let meta = std::fs::symlink_metadata(dir)?;
        let mut h = header_for(&meta, tar::EntryType::Regular);
        h.set_mode(0o644);
        builder.append_data(&mut h, format!("{prefix}.wh..wh..opq"), io::empty())?;
    }
    for name in names {
        let name_text = name.to_string_lossy().into_owned();
        let path = dir.join(&name);
        let rel = format!("{prefix}{name_text}");
        let meta = std::fs::symlink_metadata(&path)?;
        let ft = meta.file_type();
        if ft.is_dir() {
            let mut h = header_for(&meta, tar::EntryType::Directory);
            builder.append_data(&mut h, format!("{rel}/"), io::empty())?;
            walk(&path, &format!("{rel}/"), builder, links)?;
        } else if ft.is_char_device() && meta.rdev() == 0 {
            let mut h = header_for(&meta, tar::EntryType::Regular);
            h.set_mode(0o644);
            builder.append_data(&mut h, format!("{prefix}.wh.{name_text}"), io::empty())?;
        } else if ft.is_symlink() {
            let target = std::fs::read_link(&path)?;
            let mut h = header_for(&meta, tar::EntryType::Symlink);
            builder.append_link(&mut h, &rel, target)?;
        } else if ft.is_file() {
            if meta.nlink() > 1 {
                let key = (meta.dev(), meta.ino());
                if let Some(first) = links.get(&key) {
                    let mut h = header_for(&meta, tar::EntryType::Link);
                    builder.append_link(&mut h, &rel, first)?;
                    continue;
                }
                links.insert(key, rel.clone());
            }
            let mut h = header_for(&meta, tar::EntryType::Regular);
            h.set_size(meta.len());
            builder.append_data(&mut h, &rel, File::open(&path)?)?;
        } else {
            let kind = if ft.is_char_device() {
                tar::EntryType::Char
            } else if ft.is_block_device() {
                tar::EntryType::Block
            } else if ft.is_fifo() {
                tar::EntryType::Fifo
            } else {
                continue; // sockets are not archived
            };
            let mut h = header_for(&meta, kind);
            let rdev = meta.rdev();
            h.set_device_major(libc::major(rdev))?;
            h.set_device_minor(libc::minor(rdev))?;
            builder.append_data(&mut h, &rel, io::empty())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::write_layer;
    use crate::image::unpack::unpack_layer;

    fn header(kind: tar::EntryType, mode: u32, mtime: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_mtime(mtime);
        h.set_uid(0);
        h.set_gid(0);
        h.set_size(0);
        h
    }

    /// A layer as another tool writes it: directories with their own times (listed before
    /// their contents, which change a directory's mtime when unpacked), a whiteout, an
    /// opaque directory, links, and a file whose parent directory has no entry.
    fn foreign_layer() -> Vec<u8> {
        use tar::EntryType::{Directory, Link, Regular, Symlink};
        let mut b = tar::Builder::new(Vec::new());
        let mut add = |kind, path: &str, mtime, data: &[u8]| {
            let mut h = header(kind, if kind == Directory { 0o755 } else { 0o644 }, mtime);
            h.set_size(data.len() as u64);
            b.append_data(&mut h, path, data).unwrap();
        };
        add(Directory, "etc/", 1_000, b"");
        add(Regular, "etc/hosts", 1_001, b"127.0.0.1 localhost\n");
        add(Directory, "etc/sub/", 1_002, b"");
        add(Regular, "etc/sub/file", 1_003, b"x");
        add(Directory, "usr/", 1_004, b"");
        add(Regular, "usr/.wh.gone", 1_005, b"");
        add(Directory, "var/", 1_006, b"");
        add(Regular, "var/.wh..wh..opq", 1_007, b"");
        add(Regular, "implicit/child", 1_008, b"y");
        let mut h = header(Symlink, 0o777, 1_009);
        b.append_link(&mut h, "etc/localhost", "hosts").unwrap();
        let mut h = header(Link, 0o644, 1_010);
        b.append_link(&mut h, "etc/hosts-again", "etc/hosts")
            .unwrap();
        b.into_inner().unwrap()
    }

    fn unpack_then_write(layer: &[u8]) -> (tempfile::TempDir, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        unpack_layer(layer, dir.path()).unwrap();
        let mut out = Vec::new();
        write_layer(dir.path(), &mut out).unwrap();
        (dir, out)
    }

    /// Unpacked directories keep their archive times, and the rebuilt stream of a layer
    /// tinibox wrote is the same bytes again (so a pushed or saved image keeps its ID when it
    /// comes back). Needs root (whiteouts are device nodes, opaque is a trusted xattr).
    #[test]
    fn a_rebuilt_layer_is_stable_across_round_trips() {
        let (first_dir, first) = unpack_then_write(&foreign_layer());
        let mtime = |p: &str| {
            std::fs::symlink_metadata(first_dir.path().join(p))
                .unwrap()
                .mtime()
        };
        assert_eq!(mtime("etc"), 1_000);
        assert_eq!(mtime("etc/sub"), 1_002);
        assert_eq!(mtime("usr"), 1_004);
        assert_eq!(mtime("usr/gone"), 1_005);
        assert_eq!(mtime("var"), 1_006);
        let (_, second) = unpack_then_write(&first);
        let (_, third) = unpack_then_write(&second);
        assert_eq!(first.len(), second.len());
        assert!(first == second, "the second rebuild differs from the first");
        assert!(second == third, "the third rebuild differs from the second");
    }
}
