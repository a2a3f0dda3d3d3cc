//! Small, safe wrappers over the `*at` system calls the layer unpacker needs: every path is a
//! single name relative to an already-open directory, and nothing follows symlinks.
//!
//! This module owns raw libc calls only; the rules about what may be written live in
//! `unpack`.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn cstr(name: &OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Whether directory `dir` lies on a file system whose files the kernel makes up (proc, sysfs,
/// cgroup v1 and v2, devpts, mqueue, debugfs, tracefs, securityfs, bpf, nsfs; statfs(2)'s
/// f_type): a copy of a container's tree keeps such a folder but not what is in it, as
/// Docker's copy of a container's root file system does.
pub fn is_kernel_view(dir: &OwnedFd) -> bool {
    use nix::sys::statfs::{self as fs, FsType};
    const MQUEUE_MAGIC: FsType = FsType(0x1980_0202);
    let Ok(st) = fs::fstatfs(dir) else {
        return false;
    };
    [
        fs::PROC_SUPER_MAGIC,
        fs::SYSFS_MAGIC,
        fs::CGROUP_SUPER_MAGIC,
        fs::CGROUP2_SUPER_MAGIC,
        fs::DEVPTS_SUPER_MAGIC,
        MQUEUE_MAGIC,
        fs::DEBUGFS_MAGIC,
        fs::TRACEFS_MAGIC,
        fs::SECURITYFS_MAGIC,
        fs::BPF_FS_MAGIC,
        fs::NSFS_MAGIC,
    ]
    .contains(&st.filesystem_type())
}

/// Opens directory `path` (a host path) as the root of a walk.
pub fn open_dir_path(path: &Path) -> io::Result<OwnedFd> {
    let c = cstr(path.as_os_str())?;
    let fd = check(unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC | libc::O_NOFOLLOW,
        )
    })?;
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Opens the child directory `name` of `dir`, refusing symlinks (ELOOP/ENOTDIR).
pub fn open_dir_at(dir: &OwnedFd, name: &OsStr) -> io::Result<OwnedFd> {
    let c = cstr(name)?;
    let fd = check(unsafe {
        libc::openat(
            dir.as_raw_fd(),
            c.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC | libc::O_NOFOLLOW,
        )
    })?;
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `lstat` of `name` in `dir`; `None` when it does not exist.
pub fn lstat_at(dir: &OwnedFd, name: &OsStr) -> io::Result<Option<libc::stat>> {
    let c = cstr(name)?;
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let ret = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            c.as_ptr(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if ret < 0 {
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::ENOENT) {
            return Ok(None);
        }
        return Err(err);
    }
    Ok(Some(st))
}

/// The file-type bits of a stat result.
pub fn file_type(st: &libc::stat) -> libc::mode_t {
    st.st_mode & libc::S_IFMT
}

/// Creates directory `name` in `dir`.
pub fn mkdir_at(dir: &OwnedFd, name: &OsStr, mode: u32) -> io::Result<()> {
    let c = cstr(name)?;
    check(unsafe { libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), mode as libc::mode_t) }).map(|_| ())
}

/// Creates a new regular file `name` in `dir` (fails if anything exists there).
pub fn create_file_at(dir: &OwnedFd, name: &OsStr) -> io::Result<std::fs::File> {
    let c = cstr(name)?;
    let fd = check(unsafe {
        libc::openat(
            dir.as_raw_fd(),
            c.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            0o600 as libc::c_uint,
        )
    })?;
    Ok(unsafe { std::fs::File::from_raw_fd(fd) })
}

/// Creates symlink `name` in `dir` pointing at `target` (never followed here).
pub fn symlink_at(target: &OsStr, dir: &OwnedFd, name: &OsStr) -> io::Result<()> {
    let t = cstr(target)?;
    let c = cstr(name)?;
    check(unsafe { libc::symlinkat(t.as_ptr(), dir.as_raw_fd(), c.as_ptr()) }).map(|_| ())
}

/// Hard-links `from_dir/from_name` as `to_dir/to_name` (does not follow a symlink source).
pub fn link_at(
    from_dir: &OwnedFd,
    from_name: &OsStr,
    to_dir: &OwnedFd,
    to_name: &OsStr,
) -> io::Result<()> {
    let f = cstr(from_name)?;
    let t = cstr(to_name)?;
    check(unsafe {
        libc::linkat(
            from_dir.as_raw_fd(),
            f.as_ptr(),
            to_dir.as_raw_fd(),
            t.as_ptr(),
            0,
        )
    })
    .map(|_| ())
}

/// Creates a device node, fifo or whiteout (`mode` includes the file-type bits).
pub fn mknod_at(dir: &OwnedFd, name: &OsStr, mode: u32, dev: libc::dev_t) -> io::Result<()> {
    let c = cstr(name)?;
    check(unsafe { libc::mknodat(dir.as_raw_fd(), c.as_ptr(), mode as libc::mode_t, dev) })
        .map(|_| ())
}

/// Removes `name` from `dir` (a directory with everything below it, without following links).
pub fn remove_at(dir: &OwnedFd, name: &OsStr) -> io::Result<()> {
    let c = cstr(name)?;
    match lstat_at(dir, name)? {
        None => Ok(()),
        Some(st) if file_type(&st) == libc::S_IFDIR => {
            let child = open_dir_at(dir, name)?;
            for entry in list_dir(&child)? {
                remove_at(&child, &entry)?;
            }
            check(unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), libc::AT_REMOVEDIR) })
                .map(|_| ())
        }
        Some(_) => check(unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), 0) }).map(|_| ()),
    }
}

/// The names in directory `dir` (without `.` and `..`).
pub fn list_dir(dir: &OwnedFd) -> io::Result<Vec<std::ffi::OsString>> {
    let path = format!("/proc/self/fd/{}", dir.as_raw_fd());
    let mut names: Vec<_> = std::fs::read_dir(path)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<_>>()?;
    names.sort();
    Ok(names)
}

/// Sets owner, permission bits and (for non-directories) mtime of `name` without following
/// a symlink. Permission bits are skipped for symlinks (Linux has none).
pub fn set_meta_at(
    dir: &OwnedFd,
    name: &OsStr,
    uid: u32,
    gid: u32,
    mode: Option<u32>,
    mtime: Option<i64>,
) -> io::Result<()> {
    let c = cstr(name)?;
    check(unsafe {
        libc::fchownat(
            dir.as_raw_fd(),
            c.as_ptr(),
            uid,
            gid,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })?;
    if let Some(mode) = mode {
        check(unsafe { libc::fchmodat(dir.as_raw_fd(), c.as_ptr(), mode as libc::mode_t, 0) })?;
    }
    if let Some(mtime) = mtime {
        let t = libc::timespec {
            tv_sec: mtime as _,
            tv_nsec: 0,
        };
        let times = [t, t];
        check(unsafe {
            libc::utimensat(
                dir.as_raw_fd(),
                c.as_ptr(),
                times.as_ptr(),
                libc::AT_SYMLINK_NOFOLLOW,
            )
        })?;
    }
    Ok(())
}

/// Sets an extended attribute on the directory `dir` itself.
pub fn set_xattr(dir: &OwnedFd, key: &str, value: &[u8]) -> io::Result<()> {
    let k = cstr(OsStr::new(key))?;
    check(unsafe {
        libc::fsetxattr(
            dir.as_raw_fd(),
            k.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    })
    .map(|_| ())
}

/// Reads an extended attribute of `path` (no symlink following); `None` when absent.
pub fn get_xattr(path: &Path, key: &str) -> io::Result<Option<Vec<u8>>> {
    let p = cstr(path.as_os_str())?;
    let k = cstr(OsStr::new(key))?;
    let mut buf = [0u8; 64];
    let n = unsafe { libc::lgetxattr(p.as_ptr(), k.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        let err = io::Error::last_os_error();
        return match err.raw_os_error() {
            Some(libc::ENODATA) | Some(libc::ENOTSUP) => Ok(None),
            _ => Err(err),
        };
    }
    Ok(Some(buf[..n as usize].to_vec()))
}
