//! Unpacks one layer tar stream into its own directory, in overlayfs's lower-dir format:
//! `.wh.NAME` becomes a 0/0 character device (a whiteout) and `.wh..wh..opq` becomes the
//! `trusted.overlay.opaque=y` attribute on its directory.
//!
//! Safety rules (the layer is untrusted input): absolute paths and `..` components are
//! refused, every parent directory is opened one name at a time relative to the previous one
//! with `O_NOFOLLOW` (so an entry can never be written through a symlink, even one the same
//! layer created a moment earlier), files are created with `O_EXCL|O_NOFOLLOW`, and hard
//! links may only point at earlier entries of the same layer. On any refusal the caller
//! throws the whole (staging) directory away. This module writes only below `dest`.
//!
//! Times: every entry keeps its archive mtime, directories included. A directory's time is
//! set after the whole stream is written (each entry added to a directory changes its mtime
//! again), and a whiteout takes its entry's owner and time, so that rebuilding the layer's
//! tar stream from this directory (`crate::registry::export`) gives the same bytes each time.

use std::ffi::{OsStr, OsString};
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use sha2::{Digest as _, Sha256};
use tar::EntryType;

use super::error::{ImageError, Result};
use super::fsat;

/// What unpacking a layer measured.
#[derive(Debug, Clone)]
pub struct UnpackedLayer {
    /// `sha256:…` of the uncompressed tar stream (the layer's diff_id).
    pub diff_id: String,
    /// Bytes of the uncompressed tar stream.
    pub size: u64,
}

/// A reader that hashes and counts everything read through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Reads the rest of the stream, then returns (`sha256:…`, byte count).
    pub fn finish(mut self) -> io::Result<(String, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((
            format!("sha256:{}", hex::encode(self.hasher.finalize())),
            self.count,
        ))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";
/// The xattr overlayfs reads to hide a lower directory's content.
pub const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

fn unsafe_entry(entry: &str, problem: impl Into<String>) -> ImageError {
    ImageError::UnsafeEntry {
        entry: entry.to_string(),
        problem: problem.into(),
    }
}

/// Splits an archive path into names, refusing absolute paths and `..`.
fn split_path(raw: &[u8], shown: &str) -> Result<Vec<OsString>> {
    if raw.first() == Some(&b'/') {
        return Err(unsafe_entry(
            shown,
            "absolute paths are not allowed in a layer",
        ));
    }
    let mut parts = Vec::new();
    for part in raw.split(|b| *b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                return Err(unsafe_entry(shown, "'..' would climb out of the layer"));
            }
            name => parts.push(OsStr::from_bytes(name).to_os_string()),
        }
    }
    Ok(parts)
}

/// Opens the directory `names` below `root`, one name at a time, never following a symlink.
/// Missing directories are created (0755, root) when `create` is set.
fn walk(root: &OwnedFd, names: &[OsString], shown: &str, create: bool) -> Result<OwnedFd> {
    let mut fd = root
        .try_clone()
        .map_err(ImageError::io("duplicate the layer directory handle"))?;
    for (i, name) in names.iter().enumerate() {
        let so_far = || {
            names[..=i]
                .iter()
                .map(|n| n.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/")
        };
        match fsat::lstat_at(&fd, name).map_err(ImageError::io(format!("inspect {}", so_far())))? {
            None if create => fsat::mkdir_at(&fd, name, 0o755)
                .map_err(ImageError::io(format!("create directory {}", so_far())))?,
            None => {
                return Err(unsafe_entry(
                    shown,
                    format!("'{}' does not exist in this layer", so_far()),
                ))
            }
            Some(st) if fsat::file_type(&st) == libc::S_IFDIR => {}
            Some(st) if fsat::file_type(&st) == libc::S_IFLNK => {
                return Err(unsafe_entry(
                    shown,
                    format!("it would be written through the symlink '{}'", so_far()),
                ))
            }
            Some(_) => {
                return Err(unsafe_entry(
                    shown,
                    format!("'{}' is not a directory", so_far()),
                ))
            }
        }
        fd = fsat::open_dir_at(&fd, name).map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) || e.raw_os_error() == Some(libc::ENOTDIR) {
                unsafe_entry(shown, format!("'{}' changed into a symlink", so_far()))
            } else {
                ImageError::io(format!("open directory {}", so_far()))(e)
            }
        })?;
    }
    Ok(fd)
}

/// Unpacks the tar stream `reader` into the existing, empty directory `dest`.
pub fn unpack_layer<R: Read>(reader: R, dest: &Path) -> Result<UnpackedLayer> {
    let root =
        fsat::open_dir_path(dest).map_err(ImageError::io(format!("open {}", dest.display())))?;
    let mut archive = tar::Archive::new(HashingReader::new(reader));
    // (path below dest, owner, mtime) of every directory entry, applied at the end.
    let mut dir_times: Vec<(Vec<OsString>, u32, u32, i64)> = Vec::new();
    let truncated = |e: io::Error| ImageError::BadDocument {
        what: "layer archive".to_string(),
        problem: format!("{e} (truncated or not a tar stream?)"),
    };
    for entry in archive.entries().map_err(truncated)? {
        let mut entry = entry.map_err(truncated)?;
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let names = split_path(&raw, &shown)?;
        let Some((name, parents)) = names.split_last() else {
            continue; // the layer root itself ("./")
        };
        let parent = walk(&root, parents, &shown, true)?;
        let header = entry.header().clone();
        let uid = header.uid().map_err(truncated)? as u32;
        let gid = header.gid().map_err(truncated)? as u32;
        let mode = header.mode().map_err(truncated)? & 0o7777;
        let mtime = header.mtime().map_err(truncated)? as i64;
        let io = |what: &str| ImageError::io(format!("{what} {shown}"));

        let name_str = name.to_string_lossy();
        if name_str == OPAQUE {
            fsat::set_xattr(&parent, OPAQUE_XATTR, b"y").map_err(io("mark opaque"))?;
            continue;
        }
        if let Some(hidden) = name_str.strip_prefix(WHITEOUT_PREFIX) {
            let hidden = OsString::from(hidden);
            fsat::remove_at(&parent, &hidden).map_err(io("replace"))?;
            fsat::mknod_at(&parent, &hidden, libc::S_IFCHR, 0).map_err(io("write whiteout for"))?;
            fsat::set_meta_at(&parent, &hidden, uid, gid, None, Some(mtime))
                .map_err(io("set owner of"))?;
            continue;
        }

        let kind = header.entry_type();
        let existing = fsat::lstat_at(&parent, name).map_err(io("inspect"))?;
        let both_dirs = kind == EntryType::Directory
            && existing.is_some_and(|st| fsat::file_type(&st) == libc::S_IFDIR);
        if existing.is_some() && !both_dirs {
            fsat::remove_at(&parent, name).map_err(io("replace"))?;
        }
        match kind {
            EntryType::Directory => {
                if !both_dirs {
                    fsat::mkdir_at(&parent, name, 0o700).map_err(io("create directory"))?;
                }
                fsat::set_meta_at(&parent, name, uid, gid, Some(mode), None)
                    .map_err(io("set owner of"))?;
                dir_times.push((names.clone(), uid, gid, mtime));
            }
            EntryType::Regular | EntryType::Continuous => {
                let mut file = fsat::create_file_at(&parent, name).map_err(io("create"))?;
                io::copy(&mut entry, &mut file).map_err(truncated)?;
                drop(file);
                fsat::set_meta_at(&parent, name, uid, gid, Some(mode), Some(mtime))
                    .map_err(io("set owner of"))?;
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| unsafe_entry(&shown, "symlink without a target"))?
                    .into_owned();
                fsat::symlink_at(OsStr::from_bytes(&target), &parent, name)
                    .map_err(io("create symlink"))?;
                fsat::set_meta_at(&parent, name, uid, gid, None, Some(mtime))
                    .map_err(io("set owner of"))?;
            }
            EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| unsafe_entry(&shown, "hard link without a target"))?
                    .into_owned();
                let target_shown = String::from_utf8_lossy(&target).into_owned();
                let target_names = split_path(&target, &format!("{shown} -> {target_shown}"))?;
                let Some((target_name, target_parents)) = target_names.split_last() else {
                    return Err(unsafe_entry(&shown, "hard link to the layer root"));
                };
                let target_dir = walk(&root, target_parents, &shown, false)?;
                match fsat::lstat_at(&target_dir, target_name)
                    .map_err(io("inspect link target of"))?
                {
                    None => {
                        return Err(unsafe_entry(
                            &shown,
                            format!("hard link target '{target_shown}' is not in this layer"),
                        ))
                    }
                    Some(st) if fsat::file_type(&st) == libc::S_IFDIR => {
                        return Err(unsafe_entry(&shown, "hard link to a directory"))
                    }
                    Some(_) => {}
                }
                fsat::link_at(&target_dir, target_name, &parent, name)
                    .map_err(io("create hard link"))?;
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let type_bits = match kind {
                    EntryType::Char => libc::S_IFCHR,
                    EntryType::Block => libc::S_IFBLK,
                    _ => libc::S_IFIFO,
                };
                let major = header.device_major().ok().flatten().unwrap_or(0);
                let minor = header.device_minor().ok().flatten().unwrap_or(0);
                fsat::mknod_at(&parent, name, type_bits | mode, libc::makedev(major, minor))
                    .map_err(io("create device node"))?;
                fsat::set_meta_at(&parent, name, uid, gid, Some(mode), Some(mtime))
                    .map_err(io("set owner of"))?;
            }
            other => {
                return Err(unsafe_entry(
                    &shown,
                    format!("unsupported tar entry type {other:?}"),
                ))
            }
        }
    }
    let (diff_id, size) = archive.into_inner().finish().map_err(truncated)?;
    set_directory_times(&root, &dir_times)?;
    Ok(UnpackedLayer { diff_id, size })
}

/// Gives each directory entry of the stream its archive mtime, once nothing more is written
/// into it. A directory a later entry replaced (by a file or a symlink) is left alone.
fn set_directory_times(root: &OwnedFd, dirs: &[(Vec<OsString>, u32, u32, i64)]) -> Result<()> {
    for (names, uid, gid, mtime) in dirs {
        let Some((name, parents)) = names.split_last() else {
            continue;
        };
        let shown = names
            .iter()
            .map(|n| n.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        let Ok(parent) = walk(root, parents, &shown, false) else {
            continue;
        };
        let is_dir = fsat::lstat_at(&parent, name)
            .map_err(ImageError::io(format!("inspect {shown}")))?
            .is_some_and(|st| fsat::file_type(&st) == libc::S_IFDIR);
        if is_dir {
            fsat::set_meta_at(&parent, name, *uid, *gid, None, Some(*mtime))
                .map_err(ImageError::io(format!("set the time of {shown}")))?;
        }
    }
    Ok(())
}
