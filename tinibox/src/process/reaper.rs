//! The tiny PID 1 for `--init` (annotation `org.tinibox.init=true`): forks the container's
//! process, forwards signals to it, reaps every child and exits with the process's status.
//! It stays non-dumpable and never execs. Owns nothing else; the exec and its failure report
//! are `process::finish`'s, which calls [`fork_reaper`].

use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

use super::channel::ChildError;

/// The spec annotation that asks for this reaper as PID 1 (`"true"`; set by the docker-like
/// `--init`).
pub const ANNOTATION: &str = "org.tinibox.init";

/// Forks the reaper: returns `Ok` in the child (with an empty signal mask), which goes on to
/// exec the container's process; the parent runs `in_parent` (it closes the report channel)
/// and stays PID 1, forwarding signals and reaping, until the child exits, then exits with
/// its status. `Err` when fork fails.
pub fn fork_reaper(in_parent: impl FnOnce()) -> Result<(), ChildError> {
    let all = SigSet::all();
    let _ = sigprocmask(SigmaskHow::SIG_BLOCK, Some(&all), None);
    // SAFETY: single-threaded process; the child only execs or exits.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
            Ok(())
        }
        Ok(ForkResult::Parent { child }) => {
            // Our copy of the report channel must close so the waiting side sees EOF once
            // the child has exec'd.
            in_parent();
            close_inherited_fds();
            loop_forward(child)
        }
        Err(e) => Err(ChildError::new(format!("--init: fork: {e}"))),
    }
}

/// Closes every descriptor above stderr in the reaper. It never execs, so the close-on-exec
/// descriptors it inherited (e.g. the pipe on which `run -d`'s monitor reports to the waiting
/// `tinibox run`, which then never saw EOF) would otherwise stay open for the container's whole
/// life; the reaper itself needs none of them, and its child has its own copies.
fn close_inherited_fds() {
    // SAFETY: close_range(2) on our own descriptor table; no memory is passed.
    let r = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
    if r != 0 {
        // Kernels before 5.9: close them one by one, up to the descriptor limit.
        let max = unsafe { libc::sysconf(libc::_SC_OPEN_MAX) }.clamp(64, 65536) as i32;
        for fd in 3..max {
            // SAFETY: closing a descriptor number we own (EBADF for unused ones is ignored).
            unsafe {
                libc::close(fd);
            }
        }
    }
}

fn loop_forward(child: Pid) -> ! {
    let mut set = SigSet::all();
    set.remove(Signal::SIGKILL);
    set.remove(Signal::SIGSTOP);
    loop {
        let sig = match set.wait() {
            Ok(s) => s,
            Err(_) => continue,
        };
        if sig == Signal::SIGCHLD {
            loop {
                match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::StillAlive) | Err(_) => break,
                    Ok(status) if status.pid() == Some(child) => {
                        if let Some(code) = super::exit_code(status) {
                            exit(code)
                        }
                    }
                    Ok(_) => continue,
                }
            }
        } else {
            let _ = nix::sys::signal::kill(child, sig);
        }
    }
}

fn exit(code: i32) -> ! {
    // SAFETY: leave without running destructors (forked process).
    unsafe { libc::_exit(code) }
}
