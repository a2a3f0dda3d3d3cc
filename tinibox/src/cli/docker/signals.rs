//! Signals for the foreground `run`: a self-pipe that turns SIGINT/TERM/HUP/QUIT/USR1/USR2
//! (forwarded to the container), SIGCHLD (the container exited) and SIGWINCH (terminal resized)
//! into bytes the wait loop polls; and signal name/number parsing for `kill`/`stop`.
//!
//! Owns only signal dispositions of the tinibox process; must not signal anything itself.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

/// Signals tinibox forwards to the container's PID 1 (the engine's one list).
pub use crate::linux::FORWARDED_SIGNALS as FORWARDED;

static PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = PIPE_WRITE.load(Ordering::Relaxed);
    if fd >= 0 {
        let b = sig as u8;
        // SAFETY: write(2) is async-signal-safe; the buffer is a local byte.
        unsafe {
            libc::write(fd, (&b as *const u8).cast(), 1);
        }
    }
}

/// The read end of the self-pipe; signals are restored to their defaults on drop.
pub struct SignalPipe {
    read: OwnedFd,
    write: OwnedFd,
}

impl SignalPipe {
    /// Installs the handlers for [`FORWARDED`], SIGCHLD and SIGWINCH. With SA_RESTART, so
    /// the engine's blocking calls during create/start are not interrupted; the wait loop's
    /// poll(2) still wakes up (poll is never restarted).
    pub fn install() -> std::io::Result<Self> {
        let (read, write) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)?;
        PIPE_WRITE.store(write.as_raw_fd(), Ordering::Relaxed);
        let action = SigAction::new(
            SigHandler::Handler(on_signal),
            SaFlags::SA_NOCLDSTOP | SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        for sig in FORWARDED
            .iter()
            .chain([Signal::SIGCHLD, Signal::SIGWINCH].iter())
        {
            // SAFETY: the handler only calls write(2) on a pipe.
            unsafe { sigaction(*sig, &action) }?;
        }
        Ok(SignalPipe { read, write })
    }

    /// The fd to poll for readability.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }

    /// Signals received since the last call.
    pub fn drain(&self) -> Vec<i32> {
        let mut out = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            match nix::unistd::read(self.read.as_raw_fd(), &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend(buf[..n].iter().map(|b| *b as i32)),
            }
        }
        out
    }
}

impl Drop for SignalPipe {
    fn drop(&mut self) {
        PIPE_WRITE.store(-1, Ordering::Relaxed);
        let dfl = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
        for sig in FORWARDED
            .iter()
            .chain([Signal::SIGCHLD, Signal::SIGWINCH].iter())
        {
            // SAFETY: restoring the default disposition.
            let _ = unsafe { sigaction(*sig, &dfl) };
        }
        let _ = &self.write;
    }
}

/// Parses a signal as `kill` accepts it: `TERM`, `SIGTERM`, `term` or a number.
pub fn parse_signal(text: &str) -> Result<Signal, String> {
    let t = text.trim();
    if let Ok(n) = t.parse::<i32>() {
        return Signal::try_from(n)
            .map_err(|_| format!("unknown signal number {n} — use 1-31 or a name such as TERM"));
    }
    let up = t.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    name.parse::<Signal>().map_err(|_| {
        format!("unknown signal {text:?} — use a name such as TERM or KILL, or a number")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_names() {
        assert_eq!(parse_signal("TERM").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("sigkill").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("99").is_err());
    }
}
