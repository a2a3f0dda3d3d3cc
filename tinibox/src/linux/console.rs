//! process.terminal: the init opens a new pty inside the container (its own devpts), makes the
//! slave its controlling terminal and stdio, and sends the master to the console socket with
//! SCM_RIGHTS (what containerd, podman and `runc create --console-socket` expect). For the
//! init, the slave is also bind-mounted on /dev/console (what runc does; programs such as
//! getty, systemd and `sh` started as `/dev/console`'s users open it). Owns the pty and fd
//! passing; it does not read or write the terminal's data.

use std::io::IoSlice;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use nix::fcntl::{open, OFlag};
use nix::sys::socket::{
    connect, sendmsg, socket, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType, UnixAddr,
};
use nix::sys::stat::Mode;

/// Connects to the console socket at `path` (done by `create` before forking, on the host).
pub fn connect_socket(path: &Path) -> Result<OwnedFd, String> {
    let fd = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| format!("console socket: {e}"))?;
    let addr =
        UnixAddr::new(path).map_err(|e| format!("console socket {}: {e}", path.display()))?;
    connect(fd.as_raw_fd(), &addr)
        .map_err(|e| format!("connect to console socket {}: {e}", path.display()))?;
    Ok(fd)
}

/// Sends `fd` over the connected unix socket `sock` (SCM_RIGHTS), with `name` as the payload.
pub fn send_fd(sock: RawFd, fd: RawFd, name: &str) -> Result<(), String> {
    let iov = [IoSlice::new(name.as_bytes())];
    let fds = [fd];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    sendmsg::<()>(sock, &iov, &cmsg, MsgFlags::empty(), None)
        .map_err(|e| format!("send the pty master: {e}"))?;
    Ok(())
}

/// Opens a pty in the container (`/dev/ptmx` after pivot), sets its size, with
/// `mount_console` bind-mounts the slave on /dev/console (made as an empty file when missing,
/// see `devices::create`), makes the slave the controlling terminal and fds 0-2, and sends
/// the master over `sock`.
pub fn setup(sock: RawFd, size: Option<(u16, u16)>, mount_console: bool) -> Result<(), String> {
    let master = open(
        "/dev/ptmx",
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| format!("open /dev/ptmx: {e}"))?;
    // SAFETY: open returned a new fd we own.
    let master = unsafe { OwnedFd::from_raw_fd(master) };
    // SAFETY: ioctls on the pty master we own.
    let mut n: libc::c_uint = 0;
    let unlock: libc::c_int = 0;
    unsafe {
        if libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) != 0 {
            return Err(format!("unlock pty: {}", std::io::Error::last_os_error()));
        }
        if libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut n) != 0 {
            return Err(format!("pty number: {}", std::io::Error::last_os_error()));
        }
    }
    let slave_path = format!("/dev/pts/{n}");
    let slave = open(
        slave_path.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| format!("open {slave_path}: {e}"))?;
    if let Some((rows, cols)) = size {
        let ws = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: valid winsize on our pty.
        unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    }
    if mount_console {
        bind_console(&slave_path)?;
    }
    send_fd(sock, master.as_raw_fd(), &slave_path)?;
    drop(master);
    nix::unistd::setsid().map_err(|e| format!("setsid: {e}"))?;
    // SAFETY: make our pty slave the controlling terminal.
    if unsafe { libc::ioctl(slave, libc::TIOCSCTTY, 0) } != 0 {
        return Err(format!(
            "set controlling terminal: {}",
            std::io::Error::last_os_error()
        ));
    }
    for target in 0..3 {
        nix::unistd::dup2(slave, target).map_err(|e| format!("dup pty to fd {target}: {e}"))?;
    }
    if slave > 2 {
        let _ = nix::unistd::close(slave);
    }
    Ok(())
}

/// Bind-mounts the pty slave `slave_path` on /dev/console (after pivot, in the container's
/// mount namespace), creating the target as an empty file when it is missing.
fn bind_console(slave_path: &str) -> Result<(), String> {
    let console = Path::new("/dev/console");
    if std::fs::symlink_metadata(console).is_err() {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(console)
            .map_err(|e| format!("create /dev/console for the terminal: {e}"))?;
    }
    nix::mount::mount(
        Some(slave_path),
        console,
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| format!("bind {slave_path} on /dev/console: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::socket::{recvmsg, socketpair, ControlMessageOwned};
    use std::io::IoSliceMut;

    #[test]
    fn fd_passing_round_trip() {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::Stream,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        let f = std::fs::File::open("/dev/null").unwrap();
        send_fd(a.as_raw_fd(), f.as_raw_fd(), "/dev/pts/7").unwrap();
        let mut buf = [0u8; 64];
        let mut iov = [IoSliceMut::new(&mut buf)];
        let mut space = nix::cmsg_space!([RawFd; 1]);
        let msg =
            recvmsg::<()>(b.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::empty()).unwrap();
        let got: Vec<RawFd> = msg
            .cmsgs()
            .unwrap()
            .filter_map(|c| match c {
                ControlMessageOwned::ScmRights(f) => Some(f),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(got.len(), 1);
        assert_eq!(msg.bytes, 10);
        nix::unistd::close(got[0]).unwrap();
    }
}
