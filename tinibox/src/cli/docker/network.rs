//! `--network none`: brings the loopback interface of the container's new network namespace
//! up. tinibox joins that namespace for the two ioctls and returns to its own right after.
//!
//! Touches only the `lo` interface of the container's namespace.

use std::os::fd::AsRawFd;

use nix::sched::{setns, CloneFlags};

fn set_lo_up() -> Result<(), String> {
    let sock = nix::sys::socket::socket(
        nix::sys::socket::AddressFamily::Inet,
        nix::sys::socket::SockType::Datagram,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| format!("socket for lo: {e}"))?;
    // SAFETY: ifreq is plain data; the ioctls read and write only this struct.
    unsafe {
        let mut req: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo\0".iter().enumerate() {
            req.ifr_name[i] = *b as libc::c_char;
        }
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) < 0 {
            return Err(format!(
                "reading lo's flags: {}",
                std::io::Error::last_os_error()
            ));
        }
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) < 0 {
            return Err(format!(
                "bringing lo up: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

/// Sets IFF_UP on `lo` inside the network namespace of process `pid`. tinibox is
/// single-threaded here, so joining and leaving the namespace affects nothing else.
pub fn loopback_up(pid: i32) -> Result<(), String> {
    let ours = std::fs::File::open("/proc/self/ns/net")
        .map_err(|e| format!("opening tinibox's network namespace: {e}"))?;
    let theirs = std::fs::File::open(format!("/proc/{pid}/ns/net"))
        .map_err(|e| format!("opening the container's network namespace: {e}"))?;
    setns(&theirs, CloneFlags::CLONE_NEWNET)
        .map_err(|e| format!("joining the container's network namespace: {e}"))?;
    let result = set_lo_up();
    setns(&ours, CloneFlags::CLONE_NEWNET)
        .map_err(|e| format!("returning to tinibox's network namespace: {e}"))?;
    result
}
