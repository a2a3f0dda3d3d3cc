//! `cp NAME:PATH -` and `cp - NAME:PATH`: a container's file or tree as a tar stream on
//! standard output, and a tar stream from standard input unpacked into a container's
//! directory, as `docker cp` does with `-` (POSIX ustar/GNU entries through the `tar` crate;
//! entry names start at the source's base name: `hostname`, `data/sub/f`).
//!
//! Same safety as the rest of `cp` ([`super::copy`]): the source is read inside the
//! container's root; the destination directory is resolved beneath it, and each entry's
//! parent directories are opened one name at a time with `O_NOFOLLOW`, so no entry is
//! written through a symlink (one in the container, or one an earlier entry made). Absolute
//! entry names and `..` are refused, in entry names and in hard links' targets.
//!
//! What the entries keep, as Docker's streams do: numeric owners (no user or group names),
//! permission bits with set-user-ID, set-group-ID and sticky, mtimes (seconds), symlinks, and
//! hard links (a file's second name inside the tree is a link entry to its first, in name
//! order; directory names end with `/`). Unpacking restores them: owners with `lchown`
//! semantics, modes after the owner (which clears set-user-ID), mtimes of directories after
//! their contents were written; a hard-link entry's owner and mtime are applied to the file
//! it names, as Docker's unpack does (so a set-user-ID file with a second name loses the
//! bit, as under Docker).

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::image::fsat;

use super::copy::{base_name, openat2};

/// Writes `path` of the container whose root is `root` to `out` as a tar stream.
pub fn write_tar(root: &OwnedFd, path: &Path, out: impl Write) -> Result<(), String> {
    let resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
    let src = openat2(root, path, libc::O_PATH, resolve)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let st = fstat(&src).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut b = tar::Builder::new(out);
    let name = PathBuf::from(base_name(path));
    if fsat::file_type(&st) == libc::S_IFDIR {
        let dir = openat2(root, path, libc::O_RDONLY | libc::O_DIRECTORY, resolve)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        tree(&mut b, &dir, &name, &st, &mut HashMap::new())?;
    } else {
        let file = openat2(root, path, libc::O_RDONLY, resolve)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        b.append_data(
            &mut header(&st, tar::EntryType::Regular),
            &name,
            std::fs::File::from(file),
        )
        .map_err(|e| format!("writing the archive: {e}"))?;
    }
    b.into_inner()
        .and_then(|mut w| w.flush())
        .map_err(|e| format!("writing the archive: {e}"))
}

fn fstat(fd: &OwnedFd) -> io::Result<libc::stat> {
    // SAFETY: fstat fills a zeroed struct for a descriptor we own.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(st)
}

/// A header with the mode, owner, time and size of `st`.
fn header(st: &libc::stat, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(st.st_uid as u64);
    h.set_gid(st.st_gid as u64);
    h.set_mtime(st.st_mtime.max(0) as u64);
    h.set_size(if kind == tar::EntryType::Regular {
        st.st_size as u64
    } else {
        0
    });
    h
}

/// The first archive name of each file with more than one link, by (device, inode).
type Seen = HashMap<(u64, u64), PathBuf>;

/// Appends directory `dir` (named `name` in the archive) and everything below it; a file
/// already archived under another name (`seen`) becomes a hard-link entry to that name.
fn tree<W: Write>(
    b: &mut tar::Builder<W>,
    dir: &OwnedFd,
    name: &Path,
    st: &libc::stat,
    seen: &mut Seen,
) -> Result<(), String> {
    let werr = |e: io::Error| format!("writing the archive: {e}");
    // A directory's name ends with a slash, as in Docker's (and GNU tar's) streams.
    let mut slashed = name.as_os_str().to_os_string();
    slashed.push("/");
    b.append_data(
        &mut header(st, tar::EntryType::Directory),
        Path::new(&slashed),
        io::empty(),
    )
    .map_err(werr)?;
    if fsat::is_kernel_view(dir) {
        // /proc, /sys, /dev/pts…: the kernel's view, not the container's files.
        return Ok(());
    }
    let mut names = fsat::list_dir(dir).map_err(|e| e.to_string())?;
    names.sort();
    for n in names {
        let Some(st) = fsat::lstat_at(dir, &n).map_err(|e| e.to_string())? else {
            continue;
        };
        let path = name.join(&n);
        match fsat::file_type(&st) {
            libc::S_IFDIR => {
                let sub = fsat::open_dir_at(dir, &n).map_err(|e| e.to_string())?;
                tree(b, &sub, &path, &st, seen)?;
            }
            libc::S_IFREG if st.st_nlink > 1 && seen.contains_key(&(st.st_dev, st.st_ino)) => {
                let first = &seen[&(st.st_dev, st.st_ino)];
                b.append_link(&mut header(&st, tar::EntryType::Link), &path, first)
                    .map_err(werr)?;
            }
            libc::S_IFREG => {
                if st.st_nlink > 1 {
                    seen.insert((st.st_dev, st.st_ino), path.clone());
                }
                let f = openat2(
                    dir,
                    Path::new(&n),
                    libc::O_RDONLY | libc::O_NOFOLLOW,
                    libc::RESOLVE_BENEATH,
                )
                .map_err(|e| format!("{}: {e}", path.display()))?;
                b.append_data(
                    &mut header(&st, tar::EntryType::Regular),
                    &path,
                    std::fs::File::from(f),
                )
                .map_err(werr)?;
            }
            libc::S_IFLNK => {
                let target = nix::fcntl::readlinkat(Some(dir.as_raw_fd()), n.as_os_str())
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                b.append_link(&mut header(&st, tar::EntryType::Symlink), &path, target)
                    .map_err(werr)?;
            }
            // Devices, fifos and sockets are left out, as the copy to a host folder does.
            _ => {}
        }
    }
    Ok(())
}

/// Unpacks the tar stream `input` into the directory `path` of the container whose root is
/// `root` (the directory must exist, as Docker requires).
pub fn read_tar(root: &OwnedFd, path: &Path, input: impl Read) -> Result<(), String> {
    let beneath = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS;
    let dest = openat2(root, path, libc::O_RDONLY | libc::O_DIRECTORY, beneath).map_err(|e| {
        match e.raw_os_error() {
            Some(libc::EXDEV | libc::ELOOP) => format!(
                "{} goes through a symlink that leads out of the container — refused (give the path the link points to)",
                path.display()
            ),
            Some(libc::ENOTDIR) => format!(
                "{} is not a directory — the destination of a tar stream must be a directory",
                path.display()
            ),
            _ => format!("{}: {e}", path.display()),
        }
    })?;
    let mut archive = tar::Archive::new(input);
    let bad = |e: io::Error| format!("reading the archive: {e} (is it a tar stream?)");
    // Directories' owners, modes and mtimes, set once their contents are written.
    let mut dirs: Vec<(Vec<OsString>, OsString, Meta)> = Vec::new();
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let mut names = split(&raw, &shown)?;
        let Some(last) = names.pop() else {
            continue;
        };
        let parent = walk(&dest, &names, &shown)?;
        let meta = Meta::of(entry.header());
        let fail = |e: io::Error| format!("{shown}: {e}");
        let existing = fsat::lstat_at(&parent, &last).map_err(fail)?;
        let is_dir = existing.is_some_and(|st| fsat::file_type(&st) == libc::S_IFDIR);
        match entry.header().entry_type() {
            tar::EntryType::Directory => {
                if !is_dir {
                    if existing.is_some() {
                        fsat::remove_at(&parent, &last).map_err(fail)?;
                    }
                    fsat::mkdir_at(&parent, &last, 0o755).map_err(fail)?;
                }
                let d = fsat::open_dir_at(&parent, &last).map_err(fail)?;
                // Writable for now: its entries come next; mode and mtime are set at the end.
                meta.apply_fd(&d, 0o700, None).map_err(fail)?;
                dirs.push((names, last, meta));
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                if is_dir {
                    return Err(format!("{shown}: cannot overwrite a directory with a file"));
                }
                if existing.is_some() {
                    fsat::remove_at(&parent, &last).map_err(fail)?;
                }
                let mut f = fsat::create_file_at(&parent, &last).map_err(fail)?;
                io::copy(&mut entry, &mut f).map_err(fail)?;
                meta.apply_fd(&f, meta.mode, Some(meta.mtime))
                    .map_err(fail)?;
            }
            tar::EntryType::Link => {
                let target = entry.link_name_bytes().unwrap_or_default().into_owned();
                let target_shown = String::from_utf8_lossy(&target).into_owned();
                let mut tnames = split(&target, &target_shown)?;
                let Some(tlast) = tnames.pop() else {
                    return Err(format!("{shown}: a hard link without a target"));
                };
                let tparent = find(&dest, &tnames, &target_shown)?;
                if is_dir {
                    return Err(format!("{shown}: cannot overwrite a directory with a link"));
                }
                if existing.is_some() {
                    fsat::remove_at(&parent, &last).map_err(fail)?;
                }
                fsat::link_at(&tparent, &tlast, &parent, &last).map_err(|e| {
                    format!("{shown}: linking to {target_shown} (an earlier entry): {e}")
                })?;
                // The link entry's owner and mtime go to the shared file, as Docker's
                // unpack does (its chown clears set-user-ID and set-group-ID).
                meta.apply_link(&parent, &last).map_err(fail)?;
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| OsStr::from_bytes(&t).to_os_string())
                    .unwrap_or_default();
                if is_dir {
                    return Err(format!("{shown}: cannot overwrite a directory with a link"));
                }
                if existing.is_some() {
                    fsat::remove_at(&parent, &last).map_err(fail)?;
                }
                fsat::symlink_at(&target, &parent, &last).map_err(fail)?;
                meta.apply_link(&parent, &last).map_err(fail)?;
            }
            other => {
                return Err(format!(
                    "{shown}: entries of type {other:?} are not supported — copy regular files, directories, hard links and symlinks"
                ))
            }
        }
    }
    // Deepest first: a directory's entries change its mtime, not its parent's.
    for (names, last, meta) in dirs.iter().rev() {
        let mut shown = names.iter().fold(PathBuf::new(), |p, n| p.join(n));
        shown.push(last);
        let shown = shown.display().to_string();
        let dir = find(&dest, names, &shown)
            .and_then(|parent| fsat::open_dir_at(&parent, last).map_err(|e| e.to_string()))
            .map_err(|e| format!("{shown}: {e}"))?;
        meta.apply_fd(&dir, meta.mode, Some(meta.mtime))
            .map_err(|e| format!("{shown}: {e}"))?;
    }
    Ok(())
}

/// What an entry's header says of its file: numeric owner, permission bits, mtime.
#[derive(Debug, Clone, Copy)]
struct Meta {
    uid: u32,
    gid: u32,
    mode: u32,
    mtime: i64,
}

impl Meta {
    fn of(h: &tar::Header) -> Meta {
        Meta {
            uid: h
                .uid()
                .ok()
                .and_then(|u| u32::try_from(u).ok())
                .unwrap_or(0),
            gid: h
                .gid()
                .ok()
                .and_then(|g| u32::try_from(g).ok())
                .unwrap_or(0),
            mode: h.mode().unwrap_or(0o644) & 0o7777,
            mtime: h
                .mtime()
                .ok()
                .and_then(|t| i64::try_from(t).ok())
                .unwrap_or(0),
        }
    }

    /// The owner to set: the entry's, or -1 (unchanged) when we are not root.
    fn owner(&self) -> (u32, u32) {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            (self.uid, self.gid)
        } else {
            (u32::MAX, u32::MAX)
        }
    }

    /// Sets the owner, then `mode` (after the owner: chown clears set-user-ID), then `mtime`
    /// when given, on an open file or directory (no path a container's process could swap
    /// for a symlink in between).
    fn apply_fd(&self, fd: &impl AsRawFd, mode: u32, mtime: Option<i64>) -> io::Result<()> {
        let fd = fd.as_raw_fd();
        let (uid, gid) = self.owner();
        // SAFETY: fchown, fchmod and futimens on a descriptor the caller holds.
        check(unsafe { libc::fchown(fd, uid, gid) })?;
        check(unsafe { libc::fchmod(fd, mode as libc::mode_t) })?;
        if let Some(t) = mtime {
            let times = [timespec(t), timespec(t)];
            check(unsafe { libc::futimens(fd, times.as_ptr()) })?;
        }
        Ok(())
    }

    /// Sets the owner and mtime of `name` in `dir` without following a symlink (a symlink,
    /// or a hard link's new name; no mode: a symlink has none).
    fn apply_link(&self, dir: &OwnedFd, name: &OsStr) -> io::Result<()> {
        let c = std::ffi::CString::new(name.as_bytes())
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        let (uid, gid) = self.owner();
        let times = [timespec(self.mtime), timespec(self.mtime)];
        let (d, p) = (dir.as_raw_fd(), c.as_ptr());
        // SAFETY: fchownat and utimensat on a name in a directory we hold, not following it.
        check(unsafe { libc::fchownat(d, p, uid, gid, libc::AT_SYMLINK_NOFOLLOW) })?;
        check(unsafe { libc::utimensat(d, p, times.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) })?;
        Ok(())
    }
}

fn timespec(secs: i64) -> libc::timespec {
    libc::timespec {
        tv_sec: secs as _, // time_t: 64-bit on every target TiniLinux builds for
        tv_nsec: 0,
    }
}

/// A libc return value as a result (-1: the errno).
fn check(ret: libc::c_int) -> io::Result<()> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// An entry's names, refusing absolute names and `..`.
fn split(raw: &[u8], shown: &str) -> Result<Vec<OsString>, String> {
    if raw.first() == Some(&b'/') {
        return Err(format!(
            "{shown}: absolute names are refused in the archive"
        ));
    }
    let mut parts = Vec::new();
    for part in raw.split(|b| *b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                return Err(format!(
                    "{shown}: '..' would climb out of the destination — refused"
                ))
            }
            name => parts.push(OsStr::from_bytes(name).to_os_string()),
        }
    }
    Ok(parts)
}

/// Opens the existing directory `names` below `dest`, one name at a time, refusing anything
/// else on the way (a symlink too): where a hard link's target lies.
fn find(dest: &OwnedFd, names: &[OsString], shown: &str) -> Result<OwnedFd, String> {
    let mut fd = dest.try_clone().map_err(|e| e.to_string())?;
    for n in names {
        match fsat::lstat_at(&fd, n).map_err(|e| format!("{shown}: {e}"))? {
            Some(st) if fsat::file_type(&st) == libc::S_IFDIR => {}
            _ => {
                return Err(format!(
                    "{shown}: {} is not a directory of the destination — refused",
                    n.to_string_lossy()
                ))
            }
        }
        fd = fsat::open_dir_at(&fd, n).map_err(|e| format!("{shown}: {e} — refused"))?;
    }
    Ok(fd)
}

/// Opens (creating when missing) the directory `names` below `dest`, one name at a time,
/// refusing a symlink on the way.
fn walk(dest: &OwnedFd, names: &[OsString], shown: &str) -> Result<OwnedFd, String> {
    let mut fd = dest.try_clone().map_err(|e| e.to_string())?;
    for n in names {
        match fsat::lstat_at(&fd, n).map_err(|e| format!("{shown}: {e}"))? {
            None => fsat::mkdir_at(&fd, n, 0o755).map_err(|e| format!("{shown}: {e}"))?,
            Some(st) if fsat::file_type(&st) == libc::S_IFDIR => {}
            Some(st) if fsat::file_type(&st) == libc::S_IFLNK => {
                return Err(format!(
                    "{shown} would be written through the symlink {} — refused",
                    n.to_string_lossy()
                ))
            }
            Some(_) => {
                return Err(format!(
                    "{shown}: {} is not a directory",
                    n.to_string_lossy()
                ))
            }
        }
        fd = fsat::open_dir_at(&fd, n).map_err(|e| format!("{shown}: {e} — refused"))?;
    }
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archives_round_trip_and_never_leave_the_root() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        let outside = d.path().join("outside");
        std::fs::create_dir_all(root.join("data/sub")).unwrap();
        std::fs::create_dir_all(root.join("dest")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(root.join("data/sub/f"), "hello").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("data/link")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("dest/abs")).unwrap();
        let fd = fsat::open_dir_path(&root).unwrap();
        let mut tar = Vec::new();
        write_tar(&fd, Path::new("/data"), &mut tar).unwrap();
        read_tar(&fd, Path::new("/dest"), tar.as_slice()).unwrap();
        assert_eq!(
            std::fs::read_to_string(root.join("dest/data/sub/f")).unwrap(),
            "hello"
        );
        assert_eq!(
            std::fs::read_link(root.join("dest/data/link")).unwrap(),
            Path::new("/etc/passwd")
        );
        // An entry under the link the destination holds, `..`, an absolute name: refused.
        for name in ["abs/x", "../x", "/x"] {
            let mut b = tar::Builder::new(Vec::new());
            let mut h = tar::Header::new_gnu();
            h.set_size(1);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            // set_path refuses `..` and absolute names: write the bytes directly.
            h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_cksum();
            b.append(&h, &b"x"[..]).unwrap();
            let data = b.into_inner().unwrap();
            let e = read_tar(&fd, Path::new("/dest"), data.as_slice()).unwrap_err();
            assert!(e.contains("refused"), "{name}: {e}");
        }
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
        assert!(read_tar(&fd, Path::new("/dest/abs"), &b""[..])
            .unwrap_err()
            .contains("refused"));
    }

    #[test]
    fn archives_keep_modes_times_and_hard_links() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        std::fs::create_dir_all(root.join("data/d")).unwrap();
        std::fs::create_dir_all(root.join("dest")).unwrap();
        std::fs::write(root.join("data/d/f"), "abc").unwrap();
        std::fs::hard_link(root.join("data/d/f"), root.join("data/d/hard")).unwrap();
        std::fs::set_permissions(
            root.join("data/d/f"),
            std::fs::Permissions::from_mode(0o4751),
        )
        .unwrap();
        std::fs::set_permissions(root.join("data/d"), std::fs::Permissions::from_mode(0o710))
            .unwrap();
        let set_mtime = |p: &Path| {
            let c = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
            let t = [timespec(981_173_106), timespec(981_173_106)];
            assert_eq!(
                unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), t.as_ptr(), 0) },
                0
            );
        };
        set_mtime(&root.join("data/d/f"));
        set_mtime(&root.join("data/d"));
        let fd = fsat::open_dir_path(&root).unwrap();
        let mut tar = Vec::new();
        write_tar(&fd, Path::new("/data"), &mut tar).unwrap();
        let mut kinds = Vec::new();
        for e in tar::Archive::new(tar.as_slice()).entries().unwrap() {
            let e = e.unwrap();
            kinds.push((
                e.path().unwrap().display().to_string(),
                e.header().entry_type(),
            ));
        }
        assert!(
            kinds.contains(&("data/d/hard".into(), tar::EntryType::Link)),
            "{kinds:?}"
        );
        read_tar(&fd, Path::new("/dest"), tar.as_slice()).unwrap();
        let f = std::fs::metadata(root.join("dest/data/d/f")).unwrap();
        let hard = std::fs::metadata(root.join("dest/data/d/hard")).unwrap();
        let dir = std::fs::metadata(root.join("dest/data/d")).unwrap();
        assert_eq!(f.ino(), hard.ino());
        assert_eq!(f.nlink(), 2);
        // The link entry's owner went to the shared file: chown cleared set-user-ID (Docker).
        assert_eq!(f.mode() & 0o7777, 0o751);
        assert_eq!(dir.mode() & 0o7777, 0o710);
        assert_eq!((f.mtime(), dir.mtime()), (981_173_106, 981_173_106));
        // A hard link whose target is outside the stream's tree: refused.
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Link);
        h.set_size(0);
        h.as_gnu_mut().unwrap().linkname[..5].copy_from_slice(b"../up");
        h.as_gnu_mut().unwrap().name[..4].copy_from_slice(b"evil");
        h.set_cksum();
        b.append(&h, io::empty()).unwrap();
        let data = b.into_inner().unwrap();
        let e = read_tar(&fd, Path::new("/dest"), data.as_slice()).unwrap_err();
        assert!(e.contains("refused"), "{e}");
    }
}
