//! Device nodes in the container's fresh /dev: the spec's `linux.devices` plus the defaults
//! (null, zero, full, random, urandom, tty), made with mknod — or, where mknod is not allowed
//! (user namespaces), bind-mounted from the host — and the standard symlinks (ptmx, fd, stdin,
//! stdout, stderr), and with process.terminal the empty /dev/console the pty is bound on.
//! Owns nothing else; the cgroup side of device access is `cgroups::resources::devices`.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::mount::{mount, MsFlags};
use oci_spec::runtime::{LinuxDeviceType, Spec};

use super::safe_path::{ensure_in_root, fd_path, open_in_root};

/// A device node to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Path inside the container (under /dev).
    pub path: PathBuf,
    /// 'c' or 'b' (or 'p' for a fifo).
    pub kind: char,
    /// Major.
    pub major: u64,
    /// Minor.
    pub minor: u64,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
}

/// The default nodes plus the spec's (the spec's win on the same path).
pub fn nodes(spec: &Spec) -> Result<Vec<Node>, String> {
    let mut out: Vec<Node> = [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ]
    .iter()
    .map(|(n, ma, mi)| Node {
        path: Path::new("/dev").join(n),
        kind: 'c',
        major: *ma,
        minor: *mi,
        mode: 0o666,
        uid: 0,
        gid: 0,
    })
    .collect();
    for d in spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().clone())
        .unwrap_or_default()
    {
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => 'c',
            LinuxDeviceType::B => 'b',
            LinuxDeviceType::P => 'p',
            LinuxDeviceType::A => {
                return Err(format!(
                    "linux.devices {}: type \"a\" is not a device",
                    d.path().display()
                ))
            }
        };
        if !d.path().starts_with("/dev/") {
            return Err(format!(
                "linux.devices {}: must be under /dev",
                d.path().display()
            ));
        }
        let node = Node {
            path: d.path().clone(),
            kind,
            major: d.major() as u64,
            minor: d.minor() as u64,
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        };
        out.retain(|n| n.path != node.path);
        out.push(node);
    }
    Ok(out)
}

/// Creates the nodes and symlinks inside `root` (before pivot). `bind_only`: do not try
/// mknod (in a user namespace it always fails).
pub fn create(spec: &Spec, root: &OwnedFd, bind_only: bool) -> Result<(), String> {
    let rfd = root.as_raw_fd();
    let mut use_bind = bind_only;
    for n in nodes(spec)? {
        let parent = n.path.parent().unwrap_or(Path::new("/dev"));
        let pfd = ensure_in_root(rfd, parent, true)?;
        let dirfd = open_in_root(rfd, parent, libc::O_PATH | libc::O_DIRECTORY)
            .map_err(|e| format!("open {}: {e}", parent.display()))?;
        drop(pfd);
        let name = n
            .path
            .file_name()
            .ok_or_else(|| format!("device path {}", n.path.display()))?;
        let cname = CString::new(name.as_encoded_bytes())
            .map_err(|_| "device name with NUL".to_string())?;
        if !use_bind {
            let typ = match n.kind {
                'b' => libc::S_IFBLK,
                'p' => libc::S_IFIFO,
                _ => libc::S_IFCHR,
            };
            // SAFETY: valid dirfd and name.
            let rc = unsafe {
                libc::mknodat(
                    dirfd.as_raw_fd(),
                    cname.as_ptr(),
                    typ | n.mode,
                    libc::makedev(n.major as u32, n.minor as u32),
                )
            };
            if rc == 0 {
                // SAFETY: valid dirfd and name; no symlink following.
                unsafe {
                    libc::fchmodat(dirfd.as_raw_fd(), cname.as_ptr(), n.mode, 0);
                    libc::fchownat(
                        dirfd.as_raw_fd(),
                        cname.as_ptr(),
                        n.uid,
                        n.gid,
                        libc::AT_SYMLINK_NOFOLLOW,
                    );
                }
                continue;
            }
            let e = nix::errno::Errno::last();
            if e == nix::errno::Errno::EEXIST {
                continue;
            }
            if e != nix::errno::Errno::EPERM {
                return Err(format!("mknod {}: {e}", n.path.display()));
            }
            use_bind = true;
        }
        // Bind the host's node onto an empty file.
        let target = ensure_in_root(rfd, &n.path, false)?;
        mount(
            Some(&n.path),
            fd_path(&target).as_str(),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| format!("bind {} from the host: {e}", n.path.display()))?;
    }
    // The terminal's /dev/console is bound later (console::setup); its mount point is made
    // now, while /dev can still be written to (a read-only /dev is remounted after).
    if spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false)
    {
        drop(ensure_in_root(rfd, Path::new("/dev/console"), false)?);
    }
    let dev = open_in_root(rfd, Path::new("/dev"), libc::O_PATH | libc::O_DIRECTORY)
        .map_err(|e| format!("open /dev: {e}"))?;
    for (link, to) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        match nix::unistd::symlinkat(to, Some(dev.as_raw_fd()), link) {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(format!("symlink /dev/{link}: {e}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_spec_devices() {
        let spec: Spec = serde_json::from_str(
            r#"{"ociVersion":"1.0.2","linux":{"devices":[{"path":"/dev/null","type":"c","major":1,"minor":3,"fileMode":438,"uid":5},{"path":"/dev/fuse","type":"c","major":10,"minor":229}]}}"#,
        )
        .unwrap();
        let n = nodes(&spec).unwrap();
        assert_eq!(n.len(), 7);
        assert_eq!(
            n.iter()
                .filter(|d| d.path == Path::new("/dev/null"))
                .count(),
            1
        );
        assert!(n
            .iter()
            .any(|d| d.path == Path::new("/dev/null") && d.uid == 5));
        let bad: Spec = serde_json::from_str(r#"{"ociVersion":"1.0.2","linux":{"devices":[{"path":"/etc/x","type":"c","major":1,"minor":3}]}}"#).unwrap();
        assert!(nodes(&bad).is_err());
    }
}
