//! Stage 1: the first child of `create` when the container needs a new user namespace or
//! joins namespaces by path. It joins the namespaces given by path (the user namespace first),
//! makes the new ones (for a new user namespace the parent writes the id maps while it waits),
//! forks the container's init with `CLONE_PARENT` (so the init is a child of `create`'s
//! caller), reports the init's pid and exits. Owns that sequence only.

use std::os::fd::RawFd;

use oci_spec::runtime::LinuxNamespaceType;

use super::channel::{Channel, ChildError, Msg};
use super::fork::{fork, Forked};
use super::init::{self, InitArgs};
use crate::linux::namespaces::{self, Plan};

/// Runs stage 1; `cgroup_fd` (cgroup v2) lets the init be born in the container's cgroup.
/// Never returns: exits 0 once the init's pid is sent, 1 after reporting an error.
pub fn run(args: InitArgs, cgroup_fd: Option<RawFd>) -> ! {
    // SAFETY: prctl with integer arguments: no core dumps or ptrace of tinibox code in the container.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    let chan = args.chan;
    let fail = |msg: String| -> ! {
        let _ = chan.send(&Msg::Error(ChildError::new(msg)));
        // SAFETY: leave the forked child.
        unsafe { libc::_exit(1) }
    };
    if let Err(msg) = setup(args.plan, chan) {
        fail(msg);
    }
    match fork(libc::CLONE_PARENT, cgroup_fd) {
        Ok(Forked::Child) => init::run(args),
        Ok(Forked::Parent { pid, in_cgroup }) => {
            let _ = chan.send(&Msg::Forked { pid, in_cgroup });
            // SAFETY: leave the forked child.
            unsafe { libc::_exit(0) }
        }
        Err(e) => fail(format!("fork the container's init: {e}")),
    }
}

/// Joins and creates the namespaces of `plan`; talks to the parent for the user id maps.
fn setup(plan: &Plan, chan: &Channel) -> Result<(), String> {
    let joins = namespaces::open_joins(plan)?;
    for (t, f) in joins.iter().filter(|(t, _)| *t == LinuxNamespaceType::User) {
        namespaces::join(*t, f)?;
    }
    if plan.new_user {
        namespaces::create(nix::sched::CloneFlags::CLONE_NEWUSER)?;
        chan.send(&Msg::UserNsCreated(nix::unistd::getpid().as_raw()))
            .map_err(|e| format!("sync: {e}"))?;
        match chan.recv() {
            Ok(Some(Msg::UserMapsWritten)) => {}
            other => return Err(format!("sync: expected UserMapsWritten, got {other:?}")),
        }
        nix::unistd::setresgid(0.into(), 0.into(), 0.into())
            .map_err(|e| format!("setgid 0 in the user namespace: {e}"))?;
        nix::unistd::setresuid(0.into(), 0.into(), 0.into())
            .map_err(|e| format!("setuid 0 in the user namespace: {e}"))?;
    }
    for (t, f) in joins.iter().filter(|(t, _)| *t != LinuxNamespaceType::User) {
        namespaces::join(*t, f)?;
    }
    // The cgroup namespace is made by the init once it is in the container's cgroup (so that
    // cgroup is the namespace's root).
    namespaces::create(plan.new_flags)
}
