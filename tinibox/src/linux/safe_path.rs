//! Resolving paths inside the container's root without ever leaving it (CVE-2021-30465):
//! every lookup is `openat2(RESOLVE_IN_ROOT)` relative to an fd of the rootfs, so `..` and
//! symlinks (absolute or relative) are resolved as if the rootfs were `/`. Mounts then go
//! through `/proc/self/fd/N` of the resolved `O_PATH` fd, never through a path string that
//! could be swapped. Owns path resolution and creation of missing mount targets only.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Component, Path};

use nix::errno::Errno;

/// struct open_how of openat2(2).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// Opens `path` (absolute or relative, interpreted inside `root`) with `flags`.
pub fn open_in_root(root: RawFd, path: &Path, flags: i32) -> Result<OwnedFd, Errno> {
    let rel = path.strip_prefix("/").unwrap_or(path);
    let rel = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    let c = CString::new(rel.as_os_str().as_encoded_bytes()).map_err(|_| Errno::EINVAL)?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS,
    };
    loop {
        // SAFETY: valid C string and open_how struct for the duration of the call.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                root,
                c.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        if fd >= 0 {
            // SAFETY: the kernel returned a new fd we own.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) });
        }
        let e = Errno::last();
        if e != Errno::EAGAIN && e != Errno::EINTR {
            return Err(e);
        }
    }
}

/// Makes sure `path` exists inside `root` (directories along the way, mode 0755; the last
/// component a directory if `dir`, else an empty file) and returns an `O_PATH` fd of it.
/// Dangling symlinks on the way are followed inside the root and their targets created.
pub fn ensure_in_root(root: RawFd, path: &Path, dir: bool) -> Result<OwnedFd, String> {
    ensure_depth(root, path, dir, 0)
}

fn ensure_depth(root: RawFd, path: &Path, dir: bool, depth: u32) -> Result<OwnedFd, String> {
    let fail = |what: &str, e: Errno| format!("{what} {} in the container: {e}", path.display());
    if depth > 40 {
        return Err(fail("resolve", Errno::ELOOP));
    }
    match open_in_root(root, path, libc::O_PATH) {
        Ok(fd) => return Ok(fd),
        Err(Errno::ENOENT) => {}
        Err(e) => return Err(fail("open", e)),
    }
    let comps: Vec<_> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            _ => None,
        })
        .collect();
    let mut cur = std::path::PathBuf::from("/");
    for (i, name) in comps.iter().enumerate() {
        let parent = open_in_root(root, &cur, libc::O_PATH | libc::O_DIRECTORY)
            .map_err(|e| fail("open parent of", e))?;
        let next = cur.join(name);
        let last = i + 1 == comps.len();
        match open_in_root(root, &next, libc::O_PATH) {
            Ok(_) => {}
            Err(Errno::ENOENT) => {
                let c = CString::new(name.as_encoded_bytes())
                    .map_err(|_| fail("name", Errno::EINVAL))?;
                // A dangling symlink: create its target (resolved inside the root) instead.
                if let Ok(target) = nix::fcntl::readlinkat(Some(parent.as_raw_fd()), c.as_c_str()) {
                    let target = Path::new(&target);
                    let mut redirected = if target.is_absolute() {
                        target.to_path_buf()
                    } else {
                        cur.join(target)
                    };
                    for rest in &comps[i + 1..] {
                        redirected.push(rest);
                    }
                    return ensure_depth(root, &redirected, dir, depth + 1);
                }
                if last && !dir {
                    // SAFETY: valid dirfd and C string.
                    let fd = unsafe {
                        libc::openat(
                            parent.as_raw_fd(),
                            c.as_ptr(),
                            libc::O_CREAT | libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                            0o644,
                        )
                    };
                    if fd < 0 {
                        return Err(fail("create", Errno::last()));
                    }
                    // SAFETY: fd is ours.
                    unsafe { libc::close(fd) };
                } else {
                    // SAFETY: valid dirfd and C string.
                    let rc = unsafe { libc::mkdirat(parent.as_raw_fd(), c.as_ptr(), 0o755) };
                    if rc != 0 && Errno::last() != Errno::EEXIST {
                        return Err(fail("create directory for", Errno::last()));
                    }
                }
            }
            Err(e) => return Err(fail("open", e)),
        }
        cur = next;
    }
    open_in_root(root, path, libc::O_PATH).map_err(|e| fail("open", e))
}

/// The `/proc/self/fd/N` path of an fd (to mount onto it).
pub fn fd_path(fd: &OwnedFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn symlinks_cannot_escape_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        fs::create_dir_all(root.join("etc")).unwrap();
        std::os::unix::fs::symlink("/", root.join("escape")).unwrap();
        std::os::unix::fs::symlink("../../../../", root.join("etc/up")).unwrap();
        let rfd = fs::File::open(&root).unwrap();
        // Creating through the symlinks lands inside the root, not on the host.
        let fd =
            ensure_in_root(rfd.as_raw_fd(), Path::new("/escape/tinibox-test-x/y"), true).unwrap();
        drop(fd);
        assert!(root.join("tinibox-test-x/y").is_dir());
        assert!(!Path::new("/tinibox-test-x").exists());
        ensure_in_root(rfd.as_raw_fd(), Path::new("/etc/up/file"), false).unwrap();
        assert!(root.join("file").is_file());
        // A dangling absolute symlink is followed inside the root.
        std::os::unix::fs::symlink("/tinibox-test-dangling/a", root.join("dang")).unwrap();
        ensure_in_root(rfd.as_raw_fd(), Path::new("/dang/b"), true).unwrap();
        assert!(root.join("tinibox-test-dangling/a/b").is_dir());
        assert!(!Path::new("/tinibox-test-dangling").exists());
        // Opening an existing path resolves inside the root.
        assert!(open_in_root(rfd.as_raw_fd(), Path::new("/escape/etc"), libc::O_PATH).is_ok());
    }
}
