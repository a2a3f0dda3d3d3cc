//! The tiny PID 1 for `--init` (annotation `org.tinibox.init=true`): forks the container's
//! process, forwards signals to it, reaps every child and exits with the process's status.
//! It stays non-dumpable and never execs. Owns nothing else.

use std::ffi::CString;
use std::os::fd::AsRawFd;

use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

/// Runs the reaper; the child execs `path`. Never returns.
pub fn run(fifo: &mut std::fs::File, path: &CString, args: &[CString], env: &[CString]) -> ! {
    let all = SigSet::all();
    let _ = sigprocmask(SigmaskHow::SIG_BLOCK, Some(&all), None);
    // SAFETY: single-threaded process; the child only execs or exits.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
            let err = super::init::execve(path, args, env);
            let code = if err == nix::errno::Errno::ENOENT {
                127
            } else {
                126
            };
            super::init::report_exec_failure(
                fifo,
                code,
                &format!("{}: {}", path.to_string_lossy(), err.desc()),
            );
        }
        Ok(ForkResult::Parent { child }) => {
            // Our copy of the fifo must close so `start` sees EOF once the child has exec'd.
            // SAFETY: closing our own fd; the File is never used again by this process.
            unsafe { libc::close(fifo.as_raw_fd()) };
            loop_forward(child)
        }
        Err(e) => super::init::report_exec_failure(fifo, 1, &format!("--init: fork: {e}")),
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
                    Ok(WaitStatus::Exited(pid, code)) if pid == child => exit(code),
                    Ok(WaitStatus::Signaled(pid, s, _)) if pid == child => exit(128 + s as i32),
                    Ok(WaitStatus::StillAlive) | Err(_) => break,
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
