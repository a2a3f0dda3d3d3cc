//! `cp NAME:PATH -` and `cp - NAME:PATH`: a container's file or tree as a tar stream on
//! standard output, and a tar stream from standard input unpacked into a container's
//! directory, as `docker cp` does with `-` (POSIX ustar/GNU entries through the `tar` crate;
//! entry names start at the source's base name: `hostname`, `data/sub/f`).
//!
//! Same safety as the rest of `cp` ([`super::copy`]): the source is read inside the
//! container's root; the destination directory is resolved beneath it, and each entry's
//! parent directories are opened one name at a time with `O_NOFOLLOW`, so no entry is
//! written through a symlink (one in the container, or one an earlier entry made). Absolute
//! entry names and `..` are refused. Owners are not restored (the files belong to root, as
//! with `docker cp`); modes and symlinks are kept.

use std::ffi::{OsStr, OsString};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
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
        tree(&mut b, &dir, &name, &st)?;
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

/// Appends directory `dir` (named `name` in the archive) and everything below it.
fn tree<W: Write>(
    b: &mut tar::Builder<W>,
    dir: &OwnedFd,
    name: &Path,
    st: &libc::stat,
) -> Result<(), String> {
    let werr = |e: io::Error| format!("writing the archive: {e}");
    b.append_data(
        &mut header(st, tar::EntryType::Directory),
        name,
        io::empty(),
    )
    .map_err(werr)?;
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
                tree(b, &sub, &path, &st)?;
            }
            libc::S_IFREG => {
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
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let mut names = split(&raw, &shown)?;
        let Some(last) = names.pop() else {
            continue;
        };
        let parent = walk(&dest, &names, &shown)?;
        let mode = entry.header().mode().unwrap_or(0o644) & 0o7777;
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
                // SAFETY: fchmod on a directory descriptor we own.
                unsafe { libc::fchmod(d.as_raw_fd(), mode as libc::mode_t) };
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
                f.set_permissions(std::fs::Permissions::from_mode(mode))
                    .map_err(fail)?;
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
            }
            other => {
                return Err(format!(
                    "{shown}: entries of type {other:?} are not supported — copy regular files, directories and symlinks"
                ))
            }
        }
    }
    Ok(())
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
}
