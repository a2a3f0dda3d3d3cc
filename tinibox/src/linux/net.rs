//! The loopback interface of a container's new network namespace: brought up by the init
//! (like runc), so every front door — `tinibox run`, `create`/`start`, Docker with
//! `--network none` — gives the container a working `lo`. Owns only that `lo` flag; other
//! interfaces are the caller's (Docker joins a prepared namespace by path).

use std::os::fd::AsRawFd;

/// Sets IFF_UP on `lo` in the calling process's network namespace (two ioctls on a datagram
/// socket, SIOCGIFFLAGS then SIOCSIFFLAGS; needs CAP_NET_ADMIN over that namespace).
pub fn loopback_up() -> Result<(), String> {
    let sock = nix::sys::socket::socket(
        nix::sys::socket::AddressFamily::Inet,
        nix::sys::socket::SockType::Datagram,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| format!("bringing lo up: socket: {e}"))?;
    // SAFETY: ifreq is plain data; the ioctls read and write only this struct.
    unsafe {
        let mut req: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo\0".iter().enumerate() {
            req.ifr_name[i] = *b as libc::c_char;
        }
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS as _, &mut req) < 0 {
            return Err(format!(
                "bringing lo up: reading its flags: {} (is CONFIG_NET_NS set?)",
                std::io::Error::last_os_error()
            ));
        }
        if req.ifr_ifru.ifru_flags & libc::IFF_UP as libc::c_short != 0 {
            return Ok(());
        }
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS as _, &req) < 0 {
            return Err(format!(
                "bringing lo up: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}
