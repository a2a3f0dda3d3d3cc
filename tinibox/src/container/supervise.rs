//! `supervise`: the one waiter for a container process the caller is the parent of (the
//! init of `run --bundle`, a process of `exec`): forwards the usual termination and user
//! signals and SIGWINCH to it, and returns its status with [`crate::process::exit_code`]
//! (128 + N when signal N killed it). Owns nothing else.

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// Waits for our child `pid`, forwarding [`crate::linux::FORWARDED_SIGNALS`] and SIGWINCH to
/// it; its exit status, or 255 when it cannot be waited for.
pub fn supervise(pid: i32) -> i32 {
    let pid = Pid::from_raw(pid);
    let mut set = SigSet::empty();
    for s in crate::linux::FORWARDED_SIGNALS {
        set.add(s);
    }
    set.add(Signal::SIGWINCH);
    set.add(Signal::SIGCHLD);
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None);
    let code = loop {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Err(_) => break 255,
            Ok(WaitStatus::StillAlive) => {}
            Ok(status) => {
                if let Some(code) = crate::process::exit_code(status) {
                    break code;
                }
            }
        }
        match set.wait() {
            Ok(Signal::SIGCHLD) | Err(_) => {}
            Ok(sig) => {
                let _ = nix::sys::signal::kill(pid, sig);
            }
        }
    };
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&set), None);
    code
}
