//! The exec fifo, `<state>/<id>/exec.fifo`: how `start` releases a created container's init.
//! The init, ready, blocks opening it for writing and then writes one byte; `start` opens it
//! for reading, which releases the init into `execve`. If anything fails after that point the
//! init writes a [`ChildError`] (JSON, the same encoding as the sync channel) after the byte,
//! so `start` can tell "not found" (127) from "cannot execute" (126); a successful `execve`
//! closes the init's close-on-exec end and `start` reads EOF.
//!
//! Owns both ends of the protocol: making the fifo, the init's side (open, report) and the
//! side of `start` (release, read the report).

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use oci_spec::runtime::{LinuxIdMapping, Spec};

use super::channel::ChildError;

/// The fifo's file name inside the container's state directory.
pub const FILE_NAME: &str = "exec.fifo";

/// Makes the fifo at `path`. The container's process opens it after switching to its user, so
/// it is owned by that user's host ids (through the spec's id mappings) and writable by it
/// (mode 0622, like runc; the state directory itself stays root's).
pub fn make(path: &Path, spec: &Spec) -> std::io::Result<()> {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o622))?;
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o622))?;
    let user = spec.process().as_ref().map(|p| p.user());
    let (uid, gid) = user.map(|u| (u.uid(), u.gid())).unwrap_or((0, 0));
    let linux = spec.linux().as_ref();
    let huid = host_id(uid, linux.and_then(|l| l.uid_mappings().as_deref()));
    let hgid = host_id(gid, linux.and_then(|l| l.gid_mappings().as_deref()));
    std::os::unix::fs::chown(path, Some(huid), Some(hgid))
}

/// The host id of container id `id` under `maps` (itself without maps or outside them).
fn host_id(id: u32, maps: Option<&[LinuxIdMapping]>) -> u32 {
    maps.unwrap_or_default()
        .iter()
        .find(|m| id >= m.container_id() && id - m.container_id() < m.size())
        .map(|m| m.host_id() + (id - m.container_id()))
        .unwrap_or(id)
}

/// The init's side: blocks until `start` opens the fifo (found through the O_PATH fd of the
/// state directory, which works after pivot_root), then writes the first byte. Returns the
/// open fifo, close-on-exec, for [`report`]; the errno when it cannot be opened.
pub fn wait_for_start(state_dir: &OwnedFd) -> Result<File, nix::errno::Errno> {
    let fd = loop {
        // SAFETY: openat relative to our O_PATH state dir fd with a valid C string.
        let fd = unsafe {
            libc::openat(
                state_dir.as_raw_fd(),
                c"exec.fifo".as_ptr(),
                libc::O_WRONLY | libc::O_CLOEXEC,
            )
        };
        if fd >= 0 {
            // SAFETY: a new fd we own.
            break unsafe { OwnedFd::from_raw_fd(fd) };
        }
        let errno = nix::errno::Errno::last();
        if errno != nix::errno::Errno::EINTR {
            return Err(errno);
        }
    };
    let mut fifo = File::from(fd);
    let _ = fifo.write_all(b"0");
    Ok(fifo)
}

/// The init's side: writes `err` for `start` and exits with its exit code (127, 126 or 1).
pub fn report(fifo: &mut File, err: &ChildError) -> ! {
    if let Ok(json) = serde_json::to_vec(err) {
        let _ = fifo.write_all(&json);
    }
    // SAFETY: leave the forked child without running the parent's destructors.
    unsafe { libc::_exit(err.exit_code()) }
}

/// The side of `start`: opens the fifo at `path` (which releases the init), waits until the
/// init has written its byte or died (`pidfd`, taken before: the init may run, exit and be
/// reaped by a subreaper right after the release), removes the fifo and reads the init's
/// report. `Ok(Ok(()))` once `execve` succeeded; `Ok(Err(_))` with what the init reported, or
/// that it died first; `Err` when the fifo cannot be opened.
pub fn release(path: &Path, pidfd: &OwnedFd) -> std::io::Result<Result<(), ChildError>> {
    let fifo = nix::fcntl::open(
        path,
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_NONBLOCK | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    // SAFETY: a new fd we own.
    let fifo = unsafe { OwnedFd::from_raw_fd(fifo) };
    let mut fds = [
        libc::pollfd {
            fd: fifo.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    loop {
        // SAFETY: two valid pollfds.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if rc < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        break;
    }
    let mut f = File::from(fifo);
    let mut first = [0u8; 1];
    if f.read(&mut first).unwrap_or(0) == 0 {
        return Ok(Err(ChildError::new(
            "the container's init exited before start",
        )));
    }
    let _ = std::fs::remove_file(path);
    // Blocking from here: EOF arrives when execve closes the init's (close-on-exec) end.
    // SAFETY: clearing O_NONBLOCK on our own fd.
    unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETFL, 0) };
    let mut rest = Vec::new();
    let _ = f.read_to_end(&mut rest);
    Ok(parse(&rest))
}

/// What the init wrote after its first byte: nothing once `execve` succeeded, else its report
/// (a report that does not parse is kept as the message).
fn parse(data: &[u8]) -> Result<(), ChildError> {
    if data.is_empty() {
        return Ok(());
    }
    Err(serde_json::from_slice(data)
        .unwrap_or_else(|_| ChildError::new(String::from_utf8_lossy(data).into_owned())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_round_trip() {
        assert_eq!(parse(b""), Ok(()));
        let e = ChildError::exec_failed(127, "nope", "/bin/nope: No such file or directory");
        assert_eq!(parse(&serde_json::to_vec(&e).unwrap()), Err(e));
        assert_eq!(parse(b"garbage"), Err(ChildError::new("garbage")));
    }

    #[test]
    fn fifo_owner_follows_the_id_maps() {
        let maps: Vec<LinuxIdMapping> =
            serde_json::from_str(r#"[{"containerID":0,"hostID":100000,"size":65536}]"#).unwrap();
        assert_eq!(host_id(0, Some(&maps)), 100000);
        assert_eq!(host_id(1000, Some(&maps)), 101000);
        assert_eq!(host_id(70000, Some(&maps)), 70000);
        assert_eq!(host_id(5, None), 5);
    }
}
