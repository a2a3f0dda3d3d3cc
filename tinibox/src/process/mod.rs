//! The child side of the engine: every process tinibox makes that becomes part of a container,
//! from the fork to `execve`.
//!
//! - [`fork`]: the one clone/clone3 (`CLONE_INTO_CGROUP`, `CLONE_PARENT`) call;
//! - [`stage1`]: joins namespaces by path and makes a new user namespace, then forks the init;
//! - [`init`]: a new container's init (root filesystem, cgroup, hooks, pivot, sysctls …);
//! - [`join`]: `exec`'s helper, which joins a running container and forks the process;
//! - [`finish`]: `finish_and_exec`, the last steps both the init and `exec` end in;
//! - [`reaper`]: the `--init` PID 1;
//! - [`channel`]: the child ↔ parent messages, one typed enum for create and exec;
//! - [`exec_fifo`]: how `start` releases a created init, both ends.
//!
//! Owns the child side only: the parent side (state directory, record, cgroup creation, the
//! conversation's answers) is [`crate::container`]'s. This module uses [`crate::linux`] for
//! the system calls of each step, [`crate::cgroups`] to join a group and [`crate::seccomp`]'s
//! compiled filters; it never imports the container or CLI layers.

pub mod channel;
pub mod exec_fifo;
pub mod finish;
pub mod fork;
pub mod init;
pub mod join;
pub mod reaper;
pub mod stage1;

/// The status a waiting parent reports for a child that ended with the wait `status`: its
/// exit code, or 128 + N when signal N killed it (the shell's convention, which docker, runc
/// and containerd follow). None while it has not ended (stopped, continued).
pub fn exit_code(status: nix::sys::wait::WaitStatus) -> Option<i32> {
    match status {
        nix::sys::wait::WaitStatus::Exited(_, code) => Some(code),
        nix::sys::wait::WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}
