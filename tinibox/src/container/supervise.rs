//! `supervise`: the one waiter for a container process the caller is the parent of — the
//! init of `run` (foreground), of `run -d` (its monitor), of `run --bundle`, and a process of
//! `exec`. It forwards every signal it can catch (1–64 but SIGKILL, SIGSTOP, the C library's
//! own real-time signals, SIGCHLD, and what the kernel sent tinibox for its own writes, such as
//! SIGPIPE) to that process, as runc does, follows SIGWINCH
//! and, with a [`Terminal`], copies the pty's output (and the caller's input) until the
//! process ends; its status comes from [`crate::process::exit_code`] (128 + N when signal N
//! killed it).
//!
//! One signal mechanism: [`Signals::hold`] blocks every signal that can be blocked and reads
//! them from a signalfd, so no signal can end tinibox while it supervises (SIGALRM's default
//! action would, leaving the container with nobody to wait for it or delete it), and a signal
//! that comes while the container is still being created waits, pending, and is forwarded once
//! the process runs. The container's own processes start with an empty mask
//! (`process::finish` clears it before `execve`; hooks are started by std, which clears it).
//! Owns nothing else.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::linux::signal::Sig;
use crate::linux::tty;

/// The signals a waiter handles, held (blocked) from [`Signals::hold`] until drop.
pub struct Signals {
    fd: SignalFd,
    previous: SigSet,
}

impl Signals {
    /// Blocks every signal the C library lets a program block (`sigfillset`: 1–64 but its own
    /// real-time signals; SIGKILL and SIGSTOP cannot be) in this thread and opens a signalfd
    /// for them. Call it before creating the container: signals that come early are forwarded
    /// once the process runs, and none can end tinibox meanwhile. Threads started afterwards
    /// inherit the mask.
    pub fn hold() -> std::io::Result<Signals> {
        let set = SigSet::all();
        let mut previous = SigSet::empty();
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut previous))?;
        let fd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
            .inspect_err(|_| {
                let _ =
                    nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&previous), None);
            })?;
        Ok(Signals { fd, previous })
    }

    /// The signals received since the last call (non-blocking), but those the kernel raised
    /// for tinibox's own actions (SIGPIPE for a write to a closed pipe carries our own pid):
    /// they are not the caller's, so they are not forwarded.
    fn drain(&self) -> Vec<i32> {
        let me = std::process::id();
        let mut out = Vec::new();
        while let Ok(Some(info)) = self.fd.read_signal() {
            if info.ssi_pid != me {
                out.push(info.ssi_signo as i32);
            }
        }
        out
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        // Signals that came after the process ended are not forwarded; drop them, as a
        // handler would have, instead of letting them act on tinibox once unblocked.
        let _ = self.drain();
        let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.previous), None);
    }
}

/// A pty to relay while waiting: the master's output goes to `output`; `input` (the caller's
/// stdin) goes to the master; the master follows `size_from`'s window size on SIGWINCH.
pub struct Terminal<'a> {
    /// The pty master (from the console socket).
    pub master: BorrowedFd<'a>,
    /// Where the container's terminal output goes: stdout, or the log of `run -d`.
    pub output: BorrowedFd<'a>,
    /// The caller's input, copied to the master until it ends; None: nothing is typed.
    pub input: Option<BorrowedFd<'a>>,
    /// The caller's terminal whose window size the master follows; None: none.
    pub size_from: Option<BorrowedFd<'a>>,
}

/// Waits for our child `pid`, forwarding signals to it; its exit status, or 255 when it
/// cannot be waited for. Holds the signals itself (for a caller that did not).
pub fn supervise(pid: i32) -> i32 {
    match Signals::hold() {
        Ok(signals) => supervise_with(pid, &signals, None),
        Err(_) => 255,
    }
}

/// Waits for our child `pid` with `signals` held (see [`Signals::hold`]), forwarding them and
/// relaying `terminal`; returns its exit status (255 when it cannot be waited for).
pub fn supervise_with(pid: i32, signals: &Signals, terminal: Option<Terminal<'_>>) -> i32 {
    let child = Pid::from_raw(pid);
    let mut master_open = terminal.is_some();
    let mut input_open = terminal.as_ref().is_some_and(|t| t.input.is_some());
    if let Some(t) = &terminal {
        if let Some(from) = t.size_from {
            tty::copy_winsize(from.as_raw_fd(), t.master.as_raw_fd());
        }
    }
    loop {
        match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => {}
            Ok(status) => {
                if let Some(code) = crate::process::exit_code(status) {
                    if let Some(t) = &terminal {
                        tty::drain(t.master.as_raw_fd(), t.output.as_raw_fd());
                    }
                    return code;
                }
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return 255,
        }
        let mut fds = vec![PollFd::new(signals.fd.as_fd(), PollFlags::POLLIN)];
        let mut master_at = None;
        let mut input_at = None;
        if let Some(t) = &terminal {
            if master_open {
                master_at = Some(fds.len());
                fds.push(PollFd::new(t.master, PollFlags::POLLIN));
            }
            if let (true, Some(input)) = (input_open, t.input) {
                input_at = Some(fds.len());
                fds.push(PollFd::new(input, PollFlags::POLLIN));
            }
        }
        if let Err(e) = poll(&mut fds, PollTimeout::NONE) {
            if e != nix::errno::Errno::EINTR {
                return 255;
            }
        }
        let ready = |at: Option<usize>| {
            at.and_then(|i| fds[i].revents())
                .is_some_and(|r| !r.is_empty())
        };
        let (master_ready, input_ready) = (ready(master_at), ready(input_at));
        drop(fds);
        for sig in signals.drain() {
            match Signal::try_from(sig) {
                Ok(Signal::SIGCHLD) => {}
                Ok(Signal::SIGWINCH) => {
                    if let Some(t) = &terminal {
                        if let Some(from) = t.size_from {
                            tty::copy_winsize(from.as_raw_fd(), t.master.as_raw_fd());
                        }
                    }
                }
                _ => {
                    if let Some(s) = Sig::from_number(sig) {
                        let _ = s.send(pid);
                    }
                }
            }
        }
        if let Some(t) = &terminal {
            // EOF (EIO) on the master: every process let go of the terminal; keep waiting.
            if master_ready && !tty::pump(t.master.as_raw_fd(), t.output.as_raw_fd()) {
                master_open = false;
            }
            if let (true, Some(input)) = (input_ready, t.input) {
                if !tty::pump(input.as_raw_fd(), t.master.as_raw_fd()) {
                    input_open = false;
                }
            }
        }
    }
}
