//! The child side of `exec`: a new process in a running container. A helper (forked by
//! `exec`) marks itself non-dumpable, joins the container's cgroup, every namespace of its
//! init and its root, then forks the process with `CLONE_PARENT` (so that it is `exec`'s
//! child, in the container's pid namespace because it was made after `setns(CLONE_NEWPID)`),
//! reports the pid and exits. The process ends in [`finish_and_exec`], as a new container's
//! init does. Nothing of the host is executed inside the container (CVE-2019-5736).
//!
//! Owns the helper's steps; what the process does last is [`super::finish`]'s.

use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};

use oci_spec::runtime::LinuxNamespaceType;

use super::channel::{Channel, ChildError, Msg};
use super::finish::{finish_and_exec, Finish, Gate};
use super::fork::{fork, Forked};
use crate::cgroups::CgroupHandle;
use crate::linux::{namespaces, security};

/// What the helper needs, opened by `exec` before forking (so the children only make system
/// calls).
pub struct JoinArgs<'a> {
    /// The container's cgroup.
    pub cgroup: &'a CgroupHandle,
    /// The namespaces of the container's init, in joining order
    /// ([`namespaces::open_running`]).
    pub namespaces: Vec<(LinuxNamespaceType, File)>,
    /// An fd of `/proc/<init>/root`: the container's root after pivot_root or chroot alike.
    pub root: OwnedFd,
    /// The process's last steps.
    pub finish: Finish<'a>,
    /// The channel to `exec`.
    pub chan: &'a Channel,
}

/// Runs the helper. Never returns.
pub fn run(a: JoinArgs) -> ! {
    let mut gate = ExecGate { chan: a.chan };
    // Not dumpable: processes of the container cannot ptrace us or open our /proc files
    // while we hold host fds.
    // SAFETY: plain prctl.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    if let Err(e) = enter(&a) {
        gate.fail(e);
    }
    match fork(libc::CLONE_PARENT, None) {
        Ok(Forked::Child) => {
            drop(a.namespaces);
            drop(a.root);
            process(a.finish, &mut gate)
        }
        Ok(Forked::Parent { pid, in_cgroup }) => {
            let _ = a.chan.send(&Msg::Forked { pid, in_cgroup });
            // SAFETY: leave the forked helper.
            unsafe { libc::_exit(0) }
        }
        Err(e) => gate.fail(ChildError::new(format!("clone: {e}"))),
    }
}

/// The helper's steps: cgroup, namespaces, root.
fn enter(a: &JoinArgs) -> Result<(), ChildError> {
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    a.cgroup
        .add_pid(me)
        .map_err(|e| ChildError::new(format!("join cgroup: {e}")))?;
    for (t, f) in &a.namespaces {
        namespaces::join(*t, f).map_err(ChildError::new)?;
    }
    // SAFETY: fchdir/chroot/chdir with valid arguments.
    let entered = unsafe {
        libc::fchdir(a.root.as_raw_fd()) == 0
            && libc::chroot(c".".as_ptr()) == 0
            && libc::chdir(c"/".as_ptr()) == 0
    };
    if !entered {
        return Err(ChildError::new(format!(
            "enter the container's root: {}",
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}

/// The process: oom_score_adj, then the last steps (its own session is the first of them).
/// Never returns.
fn process(f: Finish, gate: &mut ExecGate) -> ! {
    if let Err(e) = security::apply_oom_score_adj(f.process) {
        gate.fail(ChildError::new(e));
    }
    finish_and_exec(f, gate)
}

/// A process of `exec` reports to `exec` over the channel; nothing to wait for.
struct ExecGate<'a> {
    chan: &'a Channel,
}

impl Gate for ExecGate<'_> {
    fn ready(&mut self) -> Result<(), ChildError> {
        Ok(())
    }

    fn release(&mut self) -> Result<(), ChildError> {
        Ok(())
    }

    fn fail(&mut self, err: ChildError) -> ! {
        let _ = self.chan.send(&Msg::Error(err.clone()));
        // SAFETY: leave the forked child without running the parent's destructors.
        unsafe { libc::_exit(err.exit_code()) }
    }

    fn close(&mut self) {}
}
