//! The one place tinibox forks a process that becomes part of a container: the init of a new
//! container (straight from `create`, or from stage 1), and the helper and process of `exec`.
//! Fork semantics throughout (no new stack, the child continues with a copy of memory); on
//! cgroup v2 a child can be born in its cgroup with clone3's `CLONE_INTO_CGROUP` (Linux 5.7),
//! with a plain clone as the fallback when that is refused (old kernel, no access).
//!
//! Owns the clone/clone3 system calls only; what the child does is decided by the caller.

use std::os::fd::RawFd;

/// clone3's `CLONE_INTO_CGROUP` flag (Linux 5.7, include/uapi/linux/sched.h).
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// What [`fork`] returns on each side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forked {
    /// In the new process.
    Child,
    /// In the calling process.
    Parent {
        /// The child's pid in the caller's pid namespace (with `CLONE_PARENT`: a sibling).
        pid: i32,
        /// The child was born in the cgroup given as `cgroup_fd` (nothing to move).
        in_cgroup: bool,
    },
}

/// Forks with the clone `flags` (`CLONE_NEWPID`, `CLONE_PARENT`, or none). With `cgroup_fd`
/// (an fd of a cgroup v2 directory) tries clone3 into that cgroup first. Errors are the OS
/// error of the clone. The caller must be single-threaded: the child may only run our own
/// code and then exec or `_exit`.
pub fn fork(flags: libc::c_int, cgroup_fd: Option<RawFd>) -> std::io::Result<Forked> {
    let flags = flags as u64;
    let parent = flags & libc::CLONE_PARENT as u64 != 0;
    if let Some(fd) = cgroup_fd {
        // With CLONE_PARENT the exit signal must be 0 (the parent's SIGCHLD is inherited).
        let exit_signal = if parent { 0 } else { libc::SIGCHLD as u64 };
        match clone3(flags | CLONE_INTO_CGROUP, exit_signal, fd) {
            0 => return Ok(Forked::Child),
            pid if pid > 0 => {
                return Ok(Forked::Parent {
                    pid: pid as i32,
                    in_cgroup: true,
                })
            }
            _ => {}
        }
    }
    // SAFETY: raw clone with a null stack behaves like fork. The caller is single-threaded,
    // so no locks are held; the child runs only our code and execs or _exits.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags as libc::c_ulong | libc::SIGCHLD as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    match pid {
        0 => Ok(Forked::Child),
        p if p > 0 => Ok(Forked::Parent {
            pid: p as i32,
            in_cgroup: false,
        }),
        _ => Err(std::io::Error::last_os_error()),
    }
}

/// clone3 with fork semantics (no new stack) into the cgroup `cgroup_fd`: 0 in the child,
/// the pid in the parent, -1 on failure.
fn clone3(flags: u64, exit_signal: u64, cgroup_fd: RawFd) -> i64 {
    /// struct clone_args (include/uapi/linux/sched.h, size version 2: up to `cgroup`).
    #[repr(C)]
    struct CloneArgs {
        flags: u64,
        pidfd: u64,
        child_tid: u64,
        parent_tid: u64,
        exit_signal: u64,
        stack: u64,
        stack_size: u64,
        tls: u64,
        set_tid: u64,
        set_tid_size: u64,
        cgroup: u64,
    }
    let args = CloneArgs {
        flags,
        pidfd: 0,
        child_tid: 0,
        parent_tid: 0,
        exit_signal,
        stack: 0,
        stack_size: 0,
        tls: 0,
        set_tid: 0,
        set_tid_size: 0,
        cgroup: cgroup_fd as u64,
    };
    // SAFETY: clone3 with a valid args struct and no new stack behaves like fork; the
    // process is single-threaded.
    unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    }
}

/// How the child `pid` ended, for an error message (see [`describe_status`]). Reaps it;
/// waits at most one second for it to end (a child whose channel closed is exiting). Says so
/// when it is still running or is not ours to wait for.
pub fn describe_exit(pid: nix::unistd::Pid) -> String {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    loop {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Ok(WaitStatus::StillAlive) => {
                return format!("closed its channel but still runs (pid {pid})")
            }
            Ok(status) => return describe_status(status),
            Err(e) => return format!("ended (its exit status is not readable here: {e})"),
        }
    }
}

/// A wait status in words: "exited with status N", "was killed by signal SIGX" (with
/// "(core dumped)"), else its debug form.
pub fn describe_status(status: nix::sys::wait::WaitStatus) -> String {
    use nix::sys::wait::WaitStatus;
    match status {
        WaitStatus::Exited(_, code) => format!("exited with status {code}"),
        WaitStatus::Signaled(_, sig, core) => {
            let core = if core { " (core dumped)" } else { "" };
            format!("was killed by signal {sig}{core}")
        }
        other => format!("ended ({other:?})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exit_is_described_by_status_or_signal() {
        for (code, want) in [
            (Some(3), "exited with status 3"),
            (None, "was killed by signal SIGKILL"),
        ] {
            match fork(0, None).unwrap() {
                Forked::Child => {
                    if code.is_none() {
                        // SAFETY: the forked test child kills itself.
                        unsafe { libc::raise(libc::SIGKILL) };
                    }
                    // SAFETY: leave the forked test child at once.
                    unsafe { libc::_exit(code.unwrap_or(0)) }
                }
                Forked::Parent { pid, .. } => {
                    assert_eq!(describe_exit(nix::unistd::Pid::from_raw(pid)), want);
                }
            }
        }
    }

    #[test]
    fn fork_gives_each_side_its_answer() {
        match fork(0, None).unwrap() {
            Forked::Child => {
                // SAFETY: leave the forked test child at once.
                unsafe { libc::_exit(7) }
            }
            Forked::Parent { pid, in_cgroup } => {
                assert!(!in_cgroup);
                let status = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
                assert_eq!(
                    status.unwrap(),
                    nix::sys::wait::WaitStatus::Exited(nix::unistd::Pid::from_raw(pid), 7)
                );
            }
        }
    }
}
