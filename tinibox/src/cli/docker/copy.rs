//! `cp NAME:PATH HOSTPATH` and `cp HOSTPATH NAME:PATH`: files and directory trees between a
//! container and the host, as `docker cp` does (into an existing directory under the
//! source's name, else to the path given; modes kept; symlinks copied as symlinks). With `-`
//! as HOSTPATH, a tar stream on stdout or from stdin ([`super::copy_tar`]).
//!
//! The container's side is reached from a descriptor of its root: `/proc/PID/root` while it
//! runs (so its mounts are seen), its root directory once stopped. Reading resolves the
//! container path inside that root (`openat2(RESOLVE_IN_ROOT)`: a symlink pointing out reads
//! the container's own file, never the host's). Writing is stricter, like the image store's
//! unpacking: the destination's directories are resolved with `RESOLVE_BENEATH`, so a
//! symlink that leads out of the container (absolute, or `..` above its root) is refused
//! with one line, and every file, directory and link is created relative to a descriptor
//! with `O_NOFOLLOW`, so nothing is ever written through a link.
//!
//! Exit status: 0, or 1 (Docker's daemon errors: no such container or path, refused).

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use crate::cli::GlobalOptions;
use crate::container::state::Record;
use crate::image::fsat;

use super::names;

fn fail(msg: impl std::fmt::Display) -> u8 {
    eprintln!("tinibox: {msg}");
    1
}

/// Splits `NAME:PATH` (a container side) from a host path.
fn container_side(arg: &str) -> Option<(&str, &str)> {
    if arg.starts_with('/') || arg.starts_with('.') {
        return None;
    }
    arg.split_once(':')
        .filter(|(n, p)| !n.is_empty() && !p.is_empty())
}

/// Runs `cp SRC DST`; returns the exit status.
pub fn run(global: &GlobalOptions, src: &str, dst: &str) -> u8 {
    match (container_side(src), container_side(dst)) {
        (Some(_), Some(_)) => {
            fail("cp: copying between containers is not supported — copy through the host")
        }
        (None, None) => fail("cp: one of SRC and DST must be NAME:PATH (a container's path)"),
        (Some((name, path)), None) if dst == "-" => match root_of(global, name) {
            Ok(root) => report(
                super::copy_tar::write_tar(&root, Path::new(path), io::stdout().lock()),
                src,
            ),
            Err(e) => fail(e),
        },
        (None, Some((name, path))) if src == "-" => match root_of(global, name) {
            Ok(root) => report(
                super::copy_tar::read_tar(&root, Path::new(path), io::stdin().lock()),
                dst,
            ),
            Err(e) => fail(e),
        },
        (Some((name, path)), None) => match root_of(global, name) {
            Ok(root) => report(copy_out(&root, Path::new(path), Path::new(dst)), src),
            Err(e) => fail(e),
        },
        (None, Some((name, path))) => match root_of(global, name) {
            Ok(root) => report(copy_in(Path::new(src), &root, Path::new(path)), dst),
            Err(e) => fail(e),
        },
    }
}

fn report(r: Result<(), String>, what: &str) -> u8 {
    match r {
        Ok(()) => 0,
        Err(e) => fail(format!("cp {what}: {e}")),
    }
}

/// A descriptor of the container's root (see the module comment).
fn root_of(global: &GlobalOptions, name: &str) -> Result<OwnedFd, String> {
    let id = names::resolve(&global.root, name)?;
    let rec = Record::load(&global.root, &id).map_err(|e| e.to_string())?;
    let path = if rec.init_alive() {
        PathBuf::from(format!("/proc/{}/root", rec.state.pid))
    } else {
        rec.state.rootfs.clone()
    };
    // /proc/PID/root is a magic link: followed here on purpose (it is the container's root).
    std::fs::File::open(&path)
        .map(OwnedFd::from)
        .map_err(|e| format!("opening the root of {name}: {e}"))
}

/// openat2 with `resolve` flags relative to `dir`.
pub(super) fn openat2(dir: &OwnedFd, path: &Path, flags: i32, resolve: u64) -> io::Result<OwnedFd> {
    #[repr(C)]
    struct How {
        flags: u64,
        mode: u64,
        resolve: u64,
    }
    let rel = path.strip_prefix("/").unwrap_or(path);
    let rel = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    let c = std::ffi::CString::new(rel.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let how = How {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve,
    };
    loop {
        // SAFETY: valid C string and open_how struct for the duration of the call.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_raw_fd(),
                c.as_ptr(),
                &how as *const How,
                std::mem::size_of::<How>(),
            )
        };
        if fd >= 0 {
            // SAFETY: a new fd the kernel gave us.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) });
        }
        let e = io::Error::last_os_error();
        if !matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::EINTR)) {
            return Err(e);
        }
    }
}

fn fd_meta(fd: &OwnedFd) -> io::Result<std::fs::Metadata> {
    std::fs::metadata(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// The last component of a path (`.` for `/`).
pub(super) fn base_name(p: &Path) -> &OsStr {
    p.components()
        .rev()
        .find_map(|c| match c {
            Component::Normal(n) => Some(n),
            _ => None,
        })
        .unwrap_or(OsStr::new("."))
}

/// Container → host.
fn copy_out(root: &OwnedFd, path: &Path, dst: &Path) -> Result<(), String> {
    let resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
    let src = openat2(root, path, libc::O_PATH, resolve)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let meta = fd_meta(&src).map_err(|e| e.to_string())?;
    let target = if dst.is_dir() && !dst.is_symlink() {
        dst.join(base_name(path))
    } else {
        dst.to_path_buf()
    };
    if meta.is_dir() {
        let dir = openat2(root, path, libc::O_RDONLY | libc::O_DIRECTORY, resolve)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        out_tree(&dir, &target, meta.mode())
    } else {
        let file = openat2(root, path, libc::O_RDONLY, resolve)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        out_file(std::fs::File::from(file), &target, meta.mode())
    }
}

fn out_file(mut from: std::fs::File, to: &Path, mode: u32) -> Result<(), String> {
    let mut f = std::fs::File::create(to).map_err(|e| format!("{}: {e}", to.display()))?;
    io::copy(&mut from, &mut f).map_err(|e| format!("{}: {e}", to.display()))?;
    let _ = f.set_permissions(std::fs::Permissions::from_mode(mode & 0o7777));
    Ok(())
}

fn out_tree(dir: &OwnedFd, to: &Path, mode: u32) -> Result<(), String> {
    match std::fs::create_dir(to) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && to.is_dir() => {}
        Err(e) => return Err(format!("{}: {e}", to.display())),
    }
    let _ = std::fs::set_permissions(to, std::fs::Permissions::from_mode(mode & 0o7777));
    if fsat::is_kernel_view(dir) {
        // /proc, /sys, /dev/pts…: the kernel's view, not the container's files.
        return Ok(());
    }
    for name in fsat::list_dir(dir).map_err(|e| e.to_string())? {
        let Some(st) = fsat::lstat_at(dir, &name).map_err(|e| e.to_string())? else {
            continue;
        };
        let dest = to.join(&name);
        match fsat::file_type(&st) {
            libc::S_IFDIR => {
                let sub = fsat::open_dir_at(dir, &name).map_err(|e| e.to_string())?;
                out_tree(&sub, &dest, st.st_mode)?;
            }
            libc::S_IFREG => {
                let f = openat2(
                    dir,
                    Path::new(&name),
                    libc::O_RDONLY | libc::O_NOFOLLOW,
                    libc::RESOLVE_BENEATH,
                )
                .map_err(|e| format!("{}: {e}", dest.display()))?;
                out_file(std::fs::File::from(f), &dest, st.st_mode)?;
            }
            libc::S_IFLNK => {
                let target = nix::fcntl::readlinkat(Some(dir.as_raw_fd()), name.as_os_str())
                    .map_err(|e| format!("{}: {e}", dest.display()))?;
                let _ = std::fs::remove_file(&dest);
                std::os::unix::fs::symlink(target, &dest)
                    .map_err(|e| format!("{}: {e}", dest.display()))?;
            }
            // Devices, fifos and sockets are not copied (Docker copies them as tar entries).
            _ => {}
        }
    }
    Ok(())
}

/// Host → container.
fn copy_in(src: &Path, root: &OwnedFd, path: &Path) -> Result<(), String> {
    let meta = std::fs::symlink_metadata(src).map_err(|e| format!("{}: {e}", src.display()))?;
    let refuse = |p: &Path, e: io::Error| {
        match e.raw_os_error() {
        Some(libc::EXDEV) | Some(libc::ELOOP) => format!(
            "{} goes through a symlink that leads out of the container — refused (give the path the link points to)",
            p.display()
        ),
        _ => format!("{}: {e}", p.display()),
    }
    };
    let beneath = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS;
    // The destination itself, when it is an existing directory: copy into it.
    let into = match openat2(
        root,
        path,
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
        beneath,
    ) {
        Ok(d) => Some(d),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => None,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(format!(
                "{} is a symlink — refused (give the path the link points to)",
                path.display()
            ))
        }
        Err(e) => return Err(refuse(path, e)),
    };
    let (parent, name) = match into {
        Some(d) => (d, base_name(src).to_os_string()),
        None => {
            let parent_path = path.parent().unwrap_or(Path::new("/"));
            let parent = openat2(
                root,
                parent_path,
                libc::O_RDONLY | libc::O_DIRECTORY,
                beneath,
            )
            .map_err(|e| refuse(parent_path, e))?;
            let name = base_name(path).to_os_string();
            if let Ok(Some(st)) = fsat::lstat_at(&parent, &name) {
                if fsat::file_type(&st) == libc::S_IFLNK {
                    return Err(format!(
                        "{} is a symlink — refused (give the path the link points to)",
                        path.display()
                    ));
                }
            }
            (parent, name)
        }
    };
    if meta.is_dir() {
        in_tree(src, &parent, &name, meta.mode())
    } else if meta.file_type().is_symlink() {
        let target = std::fs::read_link(src).map_err(|e| e.to_string())?;
        let _ = fsat::remove_at(&parent, &name);
        fsat::symlink_at(target.as_os_str(), &parent, &name).map_err(|e| e.to_string())
    } else {
        in_file(src, &parent, &name, meta.mode())
    }
}

fn in_file(src: &Path, dir: &OwnedFd, name: &OsStr, mode: u32) -> Result<(), String> {
    let mut from = std::fs::File::open(src).map_err(|e| format!("{}: {e}", src.display()))?;
    // Replace what is there without following it: a symlink left in place is removed.
    if let Ok(Some(st)) = fsat::lstat_at(dir, name) {
        if fsat::file_type(&st) == libc::S_IFDIR {
            return Err(format!(
                "cannot overwrite directory {} with a file",
                name.to_string_lossy()
            ));
        }
        fsat::remove_at(dir, name).map_err(|e| e.to_string())?;
    }
    let mut f =
        fsat::create_file_at(dir, name).map_err(|e| format!("{}: {e}", name.to_string_lossy()))?;
    io::copy(&mut from, &mut f).map_err(|e| e.to_string())?;
    let _ = f.set_permissions(std::fs::Permissions::from_mode(mode & 0o7777));
    Ok(())
}

fn in_tree(src: &Path, dir: &OwnedFd, name: &OsStr, mode: u32) -> Result<(), String> {
    match fsat::mkdir_at(dir, name, 0o700) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("{}: {e}", name.to_string_lossy())),
    }
    let sub = fsat::open_dir_at(dir, name).map_err(|e| match e.raw_os_error() {
        Some(libc::ELOOP) | Some(libc::ENOTDIR) => format!(
            "{} is a symlink or a file in the container — refused",
            name.to_string_lossy()
        ),
        _ => e.to_string(),
    })?;
    // SAFETY: fchmod on a directory fd we own.
    unsafe { libc::fchmod(sub.as_raw_fd(), (mode & 0o7777) as libc::mode_t) };
    let rd = std::fs::read_dir(src).map_err(|e| format!("{}: {e}", src.display()))?;
    for entry in rd.flatten() {
        let p = entry.path();
        let m = std::fs::symlink_metadata(&p).map_err(|e| e.to_string())?;
        let n = entry.file_name();
        if m.is_dir() {
            in_tree(&p, &sub, &n, m.mode())?;
        } else if m.file_type().is_symlink() {
            let target = std::fs::read_link(&p).map_err(|e| e.to_string())?;
            let _ = fsat::remove_at(&sub, &n);
            fsat::symlink_at(target.as_os_str(), &sub, &n).map_err(|e| e.to_string())?;
        } else if m.is_file() {
            in_file(&p, &sub, &n, m.mode())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_paths_are_told_from_host_paths() {
        assert_eq!(
            container_side("web:/etc/hosts"),
            Some(("web", "/etc/hosts"))
        );
        assert_eq!(container_side("/tmp/a:b"), None);
        assert_eq!(container_side("./x:y"), None);
        assert_eq!(container_side("web:"), None);
    }

    #[test]
    fn writes_never_leave_the_root() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        let outside = d.path().join("outside");
        std::fs::create_dir_all(root.join("tmp")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink("../../outside", root.join("tmp/up")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("tmp/abs")).unwrap();
        std::os::unix::fs::symlink("/tmp", root.join("link")).unwrap();
        let src = d.path().join("f");
        std::fs::write(&src, "data").unwrap();
        let fd = fsat::open_dir_path(&root).unwrap();
        for dst in ["/tmp/up/x", "/tmp/abs/x", "/tmp/up", "/link"] {
            let e = copy_in(&src, &fd, Path::new(dst))
                .err()
                .unwrap_or_else(|| panic!("{dst} was written"));
            assert!(e.contains("refused"), "{dst}: {e}");
        }
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
        copy_in(&src, &fd, Path::new("/tmp/f2")).unwrap();
        assert_eq!(
            std::fs::read_to_string(root.join("tmp/f2")).unwrap(),
            "data"
        );
        copy_in(&src, &fd, Path::new("/tmp")).unwrap();
        assert_eq!(std::fs::read_to_string(root.join("tmp/f")).unwrap(), "data");
        // Reading through a link that points out reads the container's own file.
        std::fs::write(outside.join("secret"), "host").unwrap();
        std::fs::write(root.join("tmp/secret"), "container").unwrap();
        std::os::unix::fs::symlink(outside.join("secret"), root.join("tmp/s")).unwrap();
        let got = d.path().join("got");
        assert!(copy_out(&fd, Path::new("/tmp/s"), &got).is_err());
        std::fs::create_dir_all(root.join(outside.strip_prefix("/").unwrap())).unwrap();
        std::fs::write(
            root.join(outside.strip_prefix("/").unwrap()).join("secret"),
            "inside",
        )
        .unwrap();
        copy_out(&fd, Path::new("/tmp/s"), &got).unwrap();
        assert_eq!(std::fs::read_to_string(&got).unwrap(), "inside");
    }
}
