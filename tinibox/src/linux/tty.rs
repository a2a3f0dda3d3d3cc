//! The caller's side of a container's terminal (`run -t`, `run --bundle`, `exec -t`):
//! receiving the pty master over the console socket, raw mode on the caller's terminal
//! (restored on drop), window size, and copying bytes between the caller's stdin/stdout and
//! the master (used by `crate::container::supervise`).
//!
//! Owns the caller's terminal settings while a container runs; must not touch the container.

use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use nix::sys::termios::{self, SetArg, Termios};

/// Receives one fd (the pty master) sent with SCM_RIGHTS on `sock`.
pub fn receive_master(sock: BorrowedFd<'_>) -> Result<OwnedFd, String> {
    let mut buf = [0u8; 256];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    loop {
        let msg = match recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(m) => m,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(format!("receiving the terminal from the container: {e}")),
        };
        if let Ok(cmsgs) = msg.cmsgs() {
            for c in cmsgs {
                if let ControlMessageOwned::ScmRights(fds) = c {
                    if let Some(fd) = fds.first() {
                        // SAFETY: the kernel just gave us this fd; we own it from here.
                        return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
                    }
                }
            }
        }
        return Err("the container sent no terminal — this is a tinibox bug".into());
    }
}

/// Copies the window size of `from` (the caller's terminal) to `to` (the pty master).
pub fn copy_winsize(from: RawFd, to: RawFd) {
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ/TIOCSWINSZ read/write a winsize struct we own.
    unsafe {
        if libc::ioctl(from, libc::TIOCGWINSZ, &mut ws) == 0 && ws.ws_row > 0 {
            libc::ioctl(to, libc::TIOCSWINSZ, &ws);
        }
    }
}

/// The caller's terminal in raw mode; the previous settings come back on drop.
pub struct RawMode {
    fd: RawFd,
    saved: Termios,
}

impl RawMode {
    /// Switches `fd` to raw mode when it is a terminal (None otherwise).
    pub fn enable(fd: RawFd) -> Option<RawMode> {
        // SAFETY: fd is one of our standard fds, open for the life of the process.
        let bfd = unsafe { BorrowedFd::borrow_raw(fd) };
        let saved = termios::tcgetattr(bfd).ok()?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(bfd, SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode { fd, saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: as in enable.
        let bfd = unsafe { BorrowedFd::borrow_raw(self.fd) };
        let _ = termios::tcsetattr(bfd, SetArg::TCSADRAIN, &self.saved);
    }
}

/// Writes all of `data` to `fd`, retrying on EINTR/EAGAIN.
pub fn write_all(fd: RawFd, mut data: &[u8]) {
    while !data.is_empty() {
        // SAFETY: writing from a live slice.
        let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EAGAIN) => {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                    continue;
                }
                _ => return,
            }
        }
        data = &data[n as usize..];
    }
}

/// Reads what is available from `from` and writes it to `to`; false on EOF or error
/// (EIO on a master means every slave fd was closed).
pub fn pump(from: RawFd, to: RawFd) -> bool {
    let mut buf = [0u8; 8192];
    // SAFETY: reading into a local buffer.
    let n = unsafe { libc::read(from, buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        let e = std::io::Error::last_os_error().raw_os_error();
        return matches!(e, Some(libc::EINTR) | Some(libc::EAGAIN));
    }
    if n == 0 {
        return false;
    }
    write_all(to, &buf[..n as usize]);
    true
}

/// Copies whatever is left in the master to `to` without blocking.
pub fn drain(master: RawFd, to: RawFd) {
    // SAFETY: setting O_NONBLOCK on our own fd.
    unsafe {
        let fl = libc::fcntl(master, libc::F_GETFL);
        libc::fcntl(master, libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
    let mut buf = [0u8; 8192];
    loop {
        // SAFETY: reading into a local buffer.
        let n = unsafe { libc::read(master, buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        write_all(to, &buf[..n as usize]);
    }
}
