//! The container's init, from the moment it is forked (in all its namespaces) until it ends
//! in [`finish_and_exec`]: its own namespaces (when forked straight from `create`), the root
//! filesystem, the cgroup, hooks, pivot, hostname, sysctls, masked/read-only paths and the
//! keyring. Owns the ORDER of these steps; each step lives in its own module. Never returns:
//! it execs or exits, reporting failures over the channel (before "ready") or the exec fifo
//! (after), both through [`InitGate`].

use std::collections::BTreeMap;
use std::fs::File;
use std::os::fd::{OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

use super::channel::{Channel, ChildError, Msg};
use super::exec_fifo;
use super::finish::{finish_and_exec, Finish, Gate};
use crate::linux::rootfs::CgroupMounts;
use crate::linux::{devices, namespaces::Plan, rootfs, security};

/// Everything the init needs (inherited through fork; nothing is serialized).
pub struct InitArgs<'a> {
    /// The spec.
    pub spec: &'a Spec,
    /// Container id.
    pub id: &'a str,
    /// Absolute bundle path.
    pub bundle: &'a Path,
    /// Absolute rootfs path.
    pub rootfs: &'a Path,
    /// Namespace plan.
    pub plan: &'a Plan,
    /// Namespaces the init creates itself before anything else: `create` forked it directly
    /// (no stage 1) with only the pid namespace, so that the costly ones (network above all)
    /// are made here while the parent prepares the cgroup. Empty when stage 1 made them.
    pub unshare: nix::sched::CloneFlags,
    /// Channel to `create`.
    pub chan: &'a Channel,
    /// O_PATH fd of the state directory (to open the exec fifo after pivot).
    pub state_dir: &'a OwnedFd,
    /// Connected console socket when process.terminal.
    pub console: Option<RawFd>,
    /// `--no-pivot`.
    pub no_pivot: bool,
    /// `--no-new-keyring`.
    pub no_new_keyring: bool,
    /// Fds 3..3+N stay open for the container.
    pub preserve_fds: u32,
    /// Whether the parent must run hooks (a HooksPlease round trip).
    pub hooks_round_trip: bool,
    /// Run a reaper as PID 1 (annotation org.tinibox.init=true).
    pub reaper: bool,
}

/// Runs the init. Never returns.
pub fn run(a: InitArgs) -> ! {
    // SAFETY: prctl with integer arguments: no core dumps or ptrace of tinibox code in the container.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    let mut gate = InitGate {
        chan: a.chan,
        state_dir: a.state_dir,
        spec: a.spec,
        state_json: None,
        ready: false,
        fifo: None,
    };
    if let Err(msg) = crate::linux::namespaces::create(a.unshare) {
        gate.fail(ChildError::new(msg));
    }
    let process = match a.spec.process().as_ref() {
        Some(p) => p,
        None => gate.fail(ChildError::new("process: missing")),
    };
    let seccomp = match setup(&a) {
        Ok((state_json, seccomp)) => {
            gate.state_json = state_json;
            seccomp
        }
        Err(e) => gate.fail(e),
    };
    let finish = Finish {
        process,
        console: a.console,
        seccomp,
        preserve_fds: a.preserve_fds,
        reaper: a.reaper,
        console_mount: a.plan.private_mount(),
    };
    finish_and_exec(finish, &mut gate)
}

/// The init's reports: over the channel to `create` until "ready", then through the exec
/// fifo to `start`.
pub struct InitGate<'a> {
    chan: &'a Channel,
    state_dir: &'a OwnedFd,
    spec: &'a Spec,
    /// The OCI state JSON from the parent (for the container-side hooks).
    state_json: Option<String>,
    /// "Ready" was sent: failures go through the exec fifo from now on.
    ready: bool,
    /// The exec fifo, once `start` opened it.
    fifo: Option<File>,
}

impl Gate for InitGate<'_> {
    fn ready(&mut self) -> Result<(), ChildError> {
        self.chan
            .send(&Msg::Ready)
            .map_err(|x| ChildError::new(format!("sync: {x}")))?;
        self.ready = true;
        Ok(())
    }

    fn release(&mut self) -> Result<(), ChildError> {
        let fifo = exec_fifo::wait_for_start(self.state_dir)
            .map_err(|x| ChildError::new(format!("open the exec fifo: {x}")))?;
        self.fifo = Some(fifo);
        if let Some(hooks) = self
            .spec
            .hooks()
            .as_ref()
            .and_then(|h| h.start_container().as_ref())
        {
            crate::hooks::run_all(hooks, self.state_json.as_deref().unwrap_or("{}")).map_err(
                |x| {
                    ChildError::new(format!(
                        "startContainer hook {}: {}",
                        x.path.display(),
                        x.detail
                    ))
                },
            )?;
        }
        Ok(())
    }

    fn fail(&mut self, err: ChildError) -> ! {
        if !self.ready {
            let _ = self.chan.send(&Msg::Error(err));
            // SAFETY: leaving the forked child without running the parent's destructors.
            unsafe { libc::_exit(1) }
        }
        if self.fifo.is_none() {
            // "Ready" was sent already: the error goes through the fifo once start opens it.
            self.fifo = exec_fifo::wait_for_start(self.state_dir).ok();
        }
        match &mut self.fifo {
            Some(fifo) => exec_fifo::report(fifo, &err),
            // SAFETY: leaving the forked child without running the parent's destructors.
            None => unsafe { libc::_exit(err.exit_code()) },
        }
    }

    fn close(&mut self) {
        self.fifo = None;
    }
}

fn e(msg: impl Into<String>) -> ChildError {
    ChildError::new(msg)
}

/// What setup hands to the last steps: the OCI state JSON from the parent (for the
/// container-side hooks) and the compiled seccomp filter.
type SetUp = (Option<String>, Option<crate::seccomp::CompiledFilter>);

/// Everything of the init before the last steps shared with `exec` (see the module comment).
fn setup(a: &InitArgs) -> Result<SetUp, ChildError> {
    let spec = a.spec;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| e("process: missing"))?;
    security::apply_oom_score_adj(process).map_err(e)?;
    if a.plan.new_user {
        nix::unistd::setresgid(0.into(), 0.into(), 0.into()).map_err(|x| {
            e(format!(
                "become gid 0 in the user namespace (is 0 in linux.gidMappings?): {x}"
            ))
        })?;
        nix::unistd::setresuid(0.into(), 0.into(), 0.into()).map_err(|x| {
            e(format!(
                "become uid 0 in the user namespace (is 0 in linux.uidMappings?): {x}"
            ))
        })?;
    }
    if a.plan.new_net() {
        crate::linux::net::loopback_up().map_err(e)?;
    }
    // Without a mount namespace of its own the container shares the caller's mounts: nothing
    // is mounted, only a chroot into the rootfs (`create` refused what would need a mount,
    // see rootfs::refuse_shared_mounts).
    let private_mnt = a.plan.private_mount();
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    let root = if private_mnt {
        Some(rootfs::prepare_root(spec, a.rootfs).map_err(e)?)
    } else {
        None
    };
    let private_cgroup_ns = a.plan.new_cgroup
        || a.plan
            .join
            .iter()
            .any(|(t, _)| *t == oci_spec::runtime::LinuxNamespaceType::Cgroup);
    let mut joined = None;
    let mut cgroup_view = || -> Result<CgroupMounts, String> {
        let dirs = join_cgroup(a, &mut joined)?;
        cgroup_mounts(dirs, private_cgroup_ns)
    };
    let dev_fresh = match &root {
        Some(root) => rootfs::mount_all(spec, root, a.bundle, &mut cgroup_view).map_err(e)?,
        None => false,
    };
    // Everything after this point (hooks, exec) runs inside the container's cgroup.
    join_cgroup(a, &mut joined).map_err(e)?;
    if let (true, Some(root)) = (dev_fresh, &root) {
        devices::create(spec, root, a.plan.has_user()).map_err(e)?;
    }
    let mut state_json = None;
    if a.hooks_round_trip {
        a.chan
            .send(&Msg::HooksPlease)
            .map_err(|x| e(format!("sync: {x}")))?;
        match a.chan.recv() {
            Ok(Some(Msg::HooksDone(s))) => state_json = Some(s),
            other => return Err(e(format!("sync: expected HooksDone, got {other:?}"))),
        }
        if let Some(h) = spec
            .hooks()
            .as_ref()
            .and_then(|h| h.create_container().as_ref())
        {
            crate::hooks::run_all(h, state_json.as_deref().unwrap_or("{}")).map_err(|x| {
                e(format!(
                    "createContainer hook {}: {}",
                    x.path.display(),
                    x.detail
                ))
            })?;
        }
    }
    drop(root);
    if private_mnt {
        rootfs::enter_root(a.rootfs, a.no_pivot).map_err(e)?;
    } else {
        rootfs::chroot_into(a.rootfs).map_err(e)?;
    }
    if a.plan.has_uts() {
        security::set_hostname(spec.hostname().as_deref(), spec.domainname().as_deref())
            .map_err(e)?;
    } else if spec.hostname().is_some() {
        return Err(e("hostname: set, but the container has no UTS namespace"));
    }
    if let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) {
        security::apply_sysctl(sysctl.iter()).map_err(e)?;
    }
    if private_mnt {
        rootfs::finish(spec).map_err(e)?;
    }
    if !a.no_new_keyring {
        security::new_session_keyring(a.id).map_err(e)?;
    }
    let seccomp = match spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        Some(profile) => Some(crate::seccomp::compile(profile).map_err(|x| e(x.to_string()))?),
        None => None,
    };
    Ok((state_json, seccomp))
}

/// Waits until the parent has the init in its cgroup (or tells it to move itself there, on
/// cgroup v1), then makes the cgroup namespace. Once: later calls return the same directories.
fn join_cgroup(
    a: &InitArgs,
    joined: &mut Option<BTreeMap<String, PathBuf>>,
) -> Result<BTreeMap<String, PathBuf>, String> {
    if let Some(dirs) = joined {
        return Ok(dirs.clone());
    }
    let dirs = match a.chan.recv() {
        Ok(Some(Msg::CgroupJoined(dirs))) => dirs,
        Ok(Some(Msg::JoinCgroup(dirs))) => {
            crate::cgroups::v1::join_self(&dirs).map_err(|x| x.to_string())?;
            dirs
        }
        other => return Err(format!("sync: expected CgroupJoined, got {other:?}")),
    };
    if a.plan.new_cgroup {
        crate::linux::namespaces::create(nix::sched::CloneFlags::CLONE_NEWCGROUP)?;
    }
    *joined = Some(dirs.clone());
    Ok(dirs)
}

/// What the cgroup mounts of the spec need to know, once the init is in its cgroup: the
/// layout, the host's v1 hierarchies and the container's own directories (`dirs`, bound
/// where cgroupfs cannot be mounted). Read before pivot_root: the host's view.
fn cgroup_mounts(
    dirs: BTreeMap<String, PathBuf>,
    private_ns: bool,
) -> Result<CgroupMounts, String> {
    let v2 = crate::cgroups::detect() == crate::cgroups::Layout::V2;
    let v1_hierarchies = if v2 {
        Vec::new()
    } else {
        crate::cgroups::v1::hierarchies()
            .map_err(|x| x.to_string())?
            .into_iter()
            .map(|h| (h.mount_point, h.options))
            .collect()
    };
    Ok(CgroupMounts {
        v2,
        v1_hierarchies,
        dirs,
        private_ns,
    })
}
