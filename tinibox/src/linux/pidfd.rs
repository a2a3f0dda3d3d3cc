//! Process file descriptors (pidfd_open(2), Linux 5.3): waiting for a process that is not
//! our child, or without reaping it. Owns nothing else.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Waits up to `ms` for process `pid` to exit (without reaping it); false on timeout.
pub fn wait_exit(pid: i32, ms: i32) -> bool {
    let Some(pfd) = pidfd_open(pid) else {
        return true;
    };
    let mut p = libc::pollfd {
        fd: pfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd.
        let rc = unsafe { libc::poll(&mut p, 1, ms) };
        if rc < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        return rc > 0;
    }
}

/// pidfd_open(2); None when the process is gone.
pub fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: plain syscall with integer arguments.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: a new fd we own.
    Some(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}
