//! The parent side of `create`, in four steps:
//!
//! 1. [`prepare`]: checks the spec, makes the state directory (locked) and records the
//!    container in it (status `creating`, with the cgroup directories it will have) before
//!    anything else, then the exec fifo, the console socket and the channel; decides whether
//!    stage 1 is needed;
//! 2. [`spawn`]: the container's cgroup and the fork of the init (straight from here, or
//!    through stage 1 when a user namespace is made or a namespace is joined by path);
//! 3. [`converse`]: answers the child side (user namespace maps, cgroup, hooks) until it is
//!    ready or fails;
//! 4. [`commit`]: the record, the pid file, and the clean-up disarmed.
//!
//! On any failure [`Cleanup`] removes everything made so far. Owns the creation sequence;
//! the child side is [`crate::process`].

use std::fs;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;

use nix::sched::CloneFlags;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxIdMapping, Spec};

use super::state::{proc_stat, DirLock, Record, State, Status, EXEC_FIFO};
use super::{container_dir, validate_id, ContainerError, CreateOptions, Created, INIT_ANNOTATION};
use crate::cgroups::{relative_path, CgroupHandle, Layout};
use crate::linux::namespaces::{self, Plan};
use crate::linux::rootfs;
use crate::process::channel::{self, Channel, Msg};
use crate::process::fork::{fork, Forked};
use crate::process::init::{self, InitArgs};
use crate::process::{exec_fifo, stage1};

/// Removes everything a failed `create` made, in reverse order, when dropped armed.
struct Cleanup {
    dir: PathBuf,
    cgroup: Option<CgroupHandle>,
    stage1: Option<Pid>,
    init: Option<Pid>,
    armed: bool,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        for pid in [self.init.take(), self.stage1.take()].into_iter().flatten() {
            let _ = kill(pid, Signal::SIGKILL);
            let _ = waitpid(pid, None);
        }
        if let Some(cg) = self.cgroup.take() {
            let _ = cg.destroy();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// What [`prepare`] made, for the later steps.
struct Prepared {
    plan: Plan,
    rootfs: PathBuf,
    cgroup_path: PathBuf,
    dir: PathBuf,
    guard: Cleanup,
    lock: DirLock,
    /// No user namespace and no namespace joined by path: no stage 1, the init is forked
    /// from here with its pid namespace and makes its other namespaces itself.
    direct: bool,
    hooks_round_trip: bool,
    reaper: bool,
    /// The record so far (status `creating`, no pid yet).
    state: State,
    /// The cgroup directories the first record names (see [`CgroupHandle::planned`]).
    planned: CgroupHandle,
    parent_chan: Channel,
}

/// The fds the child side inherits and the parent closes after forking (so that the channel
/// reports EOF once the child side is gone).
struct ChildEnds {
    chan: Channel,
    console: Option<OwnedFd>,
    /// O_PATH fd of the state directory (the init opens the exec fifo through it).
    state_dir: OwnedFd,
}

/// What [`spawn`] leaves: the container's cgroup, and the init's pid and start time once
/// known (for a stage 1, in the conversation).
struct Spawned {
    cgroup: CgroupHandle,
    init_start_time: Option<u64>,
}

pub(super) fn create(mut opts: CreateOptions) -> Result<Created, ContainerError> {
    let (mut p, child) = prepare(&mut opts)?;
    let mut spawned = spawn(&opts, &mut p, child)?;
    converse(&opts.spec, &mut p, &mut spawned)?;
    commit(opts, p, spawned)
}

/// Whether the container has its own namespace of type `t`: a new one, or one joined by a
/// path that is not the host's (the host being this process's).
fn owns_namespace(spec: &Spec, t: oci_spec::runtime::LinuxNamespaceType) -> bool {
    use std::os::unix::fs::MetadataExt;
    let list = spec.linux().as_ref().and_then(|l| l.namespaces().clone());
    let Some(ns) = list.unwrap_or_default().into_iter().find(|n| n.typ() == t) else {
        return false;
    };
    let Some(path) = ns.path().as_ref().filter(|p| !p.as_os_str().is_empty()) else {
        return true;
    };
    let file = match t {
        oci_spec::runtime::LinuxNamespaceType::Ipc => "ipc",
        oci_spec::runtime::LinuxNamespaceType::Network => "net",
        _ => "uts",
    };
    let ino = |p: &std::path::Path| fs::metadata(p).map(|m| (m.dev(), m.ino())).ok();
    match (
        ino(path),
        ino(std::path::Path::new(&format!("/proc/self/ns/{file}"))),
    ) {
        (Some(joined), Some(host)) => joined != host,
        _ => false,
    }
}

/// Step 1 (see the module comment).
/// A container's first state (runtime-spec "State"): `opts`' id, bundle and labels, the
/// spec's version and annotations, `rootfs`, `status`, pid 0, created now, owned by the caller.
pub(super) fn initial_state(opts: &CreateOptions, rootfs: PathBuf, status: Status) -> State {
    State {
        oci_version: opts.spec.version().clone(),
        id: opts.id.clone(),
        pid: 0,
        status,
        bundle: opts.bundle.clone(),
        rootfs,
        created: humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string(),
        annotations: opts
            .spec
            .annotations()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        owner: nix::unistd::getuid().to_string(),
        labels: opts.labels.clone(),
    }
}

fn prepare(opts: &mut CreateOptions) -> Result<(Prepared, ChildEnds), ContainerError> {
    validate_id(&opts.id)?;
    if !opts.bundle.is_absolute() {
        return Err(ContainerError::Spec(format!(
            "bundle {} must be an absolute path",
            opts.bundle.display()
        )));
    }
    let spec = &opts.spec;
    let plan = namespaces::plan(spec).map_err(ContainerError::Spec)?;
    if !plan.private_mount() {
        rootfs::refuse_shared_mounts(spec).map_err(ContainerError::Spec)?;
    }
    let rootfs = rootfs::rootfs_path(spec, &opts.bundle).map_err(ContainerError::Spec)?;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| ContainerError::Spec("process: missing".into()))?;
    if process.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(ContainerError::Spec(
            "process.args: empty; give the command to run".into(),
        ));
    }
    crate::linux::security::check_rlimits(process).map_err(ContainerError::Spec)?;
    if let Some(res) = spec.linux().as_ref().and_then(|l| l.resources().as_ref()) {
        crate::spec::resources::validate(res).map_err(|e| ContainerError::Spec(e.to_string()))?;
    }
    if let Some(mounts) = spec.mounts() {
        let bundle = opts.bundle.clone();
        let fs_is = |source: &std::path::Path, magic| {
            nix::sys::statfs::statfs(&bundle.join(source))
                .map(|s| s.filesystem_type() == magic)
                .unwrap_or(false)
        };
        crate::spec::mount_check::validate(mounts, |s| {
            fs_is(s, nix::sys::statfs::PROC_SUPER_MAGIC)
        })
        .map_err(ContainerError::Spec)?;
        let terminal = process.terminal().unwrap_or(false);
        crate::spec::mount_check::validate_terminal(mounts, terminal, |s| {
            fs_is(s, nix::sys::statfs::DEVPTS_SUPER_MAGIC)
        })
        .map_err(ContainerError::Spec)?;
    }
    if let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) {
        crate::spec::sysctl::validate(sysctl.keys(), |t| owns_namespace(spec, t))
            .map_err(ContainerError::Spec)?;
    }
    let terminal = process.terminal().unwrap_or(false);
    if terminal && opts.console_socket.is_none() && opts.console_socket_fd.is_none() {
        return Err(ContainerError::Spec(
            "process.terminal is true: pass --console-socket".into(),
        ));
    }
    if !terminal && opts.console_socket.is_some() {
        // runc refuses the same ("cannot use console socket if runc will not ... allocate tty").
        return Err(ContainerError::Spec(
            "--console-socket needs process.terminal true: set it in config.json, or drop \
             --console-socket"
                .into(),
        ));
    }
    let cgroup_path = relative_path(
        &opts.id,
        spec.linux()
            .as_ref()
            .and_then(|l| l.cgroups_path().as_deref()),
    )?;

    // State is root's: 0711 dirs (the container's user only needs to reach exec.fifo).
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o711)
        .create(&opts.state_root)
        .map_err(|e| {
            ContainerError::io(
                format!("create state root {}", opts.state_root.display()),
                e,
            )
        })?;
    let dir = container_dir(&opts.state_root, &opts.id);
    match fs::DirBuilder::new().mode(0o711).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(ContainerError::AlreadyExists(opts.id.clone()))
        }
        Err(e) => return Err(ContainerError::io(format!("create {}", dir.display()), e)),
    }
    let state = initial_state(opts, rootfs.clone(), Status::Creating);
    let guard = Cleanup {
        dir: dir.clone(),
        cgroup: None,
        stage1: None,
        init: None,
        armed: true,
    };
    let lock = DirLock::lock(&dir, &opts.id)?;
    // The record comes before anything else is made for the container (exec fifo, cgroup,
    // processes, hooks' effects): a `delete` after tinibox was SIGKILLed from here on finds
    // it, with every cgroup directory `create` may make, and removes them. (Killed between
    // the mkdir above and this save, only the directory exists, and `delete` removes a
    // directory without a record.)
    let planned = CgroupHandle::planned(
        &cgroup_path,
        spec.linux().as_ref().and_then(|l| l.resources().as_ref()),
    )?;
    Record {
        state: state.clone(),
        init_start_time: 0,
        cgroup: planned.clone(),
        spec: spec.clone(),
    }
    .save(&dir)?;
    exec_fifo::make(&dir.join(EXEC_FIFO), spec)
        .map_err(|e| ContainerError::io("create the exec fifo", e))?;

    let console: Option<OwnedFd> = match (opts.console_socket_fd.take(), &opts.console_socket) {
        (Some(fd), _) if terminal => Some(fd),
        (None, Some(p)) if terminal => {
            Some(crate::linux::console::connect_socket(p).map_err(ContainerError::Spec)?)
        }
        _ => None,
    };
    let state_dir = nix::fcntl::open(
        &dir,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| ContainerError::sys(format!("open {}", dir.display()), e))?;
    // SAFETY: open returned a new fd we own.
    let state_dir = unsafe { OwnedFd::from_raw_fd(state_dir) };
    let (parent_chan, child_chan) = channel::pair(3 + opts.preserve_fds as i32)
        .map_err(|e| ContainerError::sys("create sync socket", e))?;

    let hooks_round_trip = spec.hooks().as_ref().is_some_and(|h| {
        [
            h.prestart(),
            h.create_runtime(),
            h.create_container(),
            h.start_container(),
        ]
        .iter()
        .any(|l| l.as_ref().is_some_and(|v| !v.is_empty()))
    });
    let reaper = spec
        .annotations()
        .as_ref()
        .and_then(|a| a.get(INIT_ANNOTATION))
        .is_some_and(|v| v == "true");
    let direct = !plan.new_user && plan.join.is_empty();
    let prepared = Prepared {
        plan,
        rootfs,
        cgroup_path,
        dir,
        guard,
        lock,
        direct,
        hooks_round_trip,
        reaper,
        state,
        planned,
        parent_chan,
    };
    let child = ChildEnds {
        chan: child_chan,
        console,
        state_dir,
    };
    Ok((prepared, child))
}

/// Step 2 (see the module comment).
fn spawn(
    opts: &CreateOptions,
    p: &mut Prepared,
    child: ChildEnds,
) -> Result<Spawned, ContainerError> {
    let spec = &opts.spec;
    let resources = spec.linux().as_ref().and_then(|l| l.resources().as_ref());
    // On cgroup v1 a direct init is forked before its cgroup exists: the directories and
    // device rules are written while the init creates its namespaces (the network namespace
    // alone takes about half a millisecond). Elsewhere the cgroup comes first: on v2 the init
    // is born in it (clone3 CLONE_INTO_CGROUP).
    let cgroup_first = !(p.direct && crate::cgroups::detect() == Layout::V1);
    let mut cgroup = None;
    if cgroup_first {
        cgroup = Some(make_cgroup(resources, p, spec)?);
    }
    // cgroup v2: an fd of the container's group, for clone3(CLONE_INTO_CGROUP).
    let cgroup_dir_fd: Option<OwnedFd> = cgroup
        .as_ref()
        .filter(|cg| cg.layout == Layout::V2)
        .and_then(|cg| cg.dirs.get("unified"))
        .and_then(|d| fs::File::open(d).ok().map(OwnedFd::from));
    let cgroup_fd = cgroup_dir_fd.as_ref().map(|f| f.as_raw_fd());

    let (flags, unshare) = if p.direct {
        let ns = if p.plan.new_pid() {
            libc::CLONE_NEWPID
        } else {
            0
        };
        (ns, p.plan.new_flags - CloneFlags::CLONE_NEWPID)
    } else {
        (0, CloneFlags::empty())
    };
    // Stage 1 is forked plainly; it forks the init into the cgroup itself.
    let fork_cgroup = if p.direct { cgroup_fd } else { None };
    let forked = fork(flags, fork_cgroup).map_err(|e| {
        ContainerError::io(
            if p.direct {
                "fork the container's init"
            } else {
                "fork"
            },
            e,
        )
    })?;
    let Forked::Parent { pid, in_cgroup } = forked else {
        // The child side: runs only our own code; never returns. Close our copy of the
        // parent's end (the child never returns, so the OwnedFd is never dropped: no double
        // close) and of the lock's fd (flock belongs to the open file description, which the
        // parent keeps until create returns).
        // SAFETY: closing fds of this (forked) process that it never uses again.
        unsafe {
            libc::close(p.parent_chan.raw_fd());
            libc::close(p.lock.raw_fd());
        }
        let args = InitArgs {
            spec,
            id: &opts.id,
            bundle: &opts.bundle,
            rootfs: &p.rootfs,
            plan: &p.plan,
            unshare,
            chan: &child.chan,
            state_dir: &child.state_dir,
            console: child.console.as_ref().map(|c| c.as_raw_fd()),
            no_pivot: opts.no_pivot,
            no_new_keyring: opts.no_new_keyring,
            preserve_fds: opts.preserve_fds,
            hooks_round_trip: p.hooks_round_trip,
            reaper: p.reaper,
        };
        if p.direct {
            init::run(args)
        } else {
            stage1::run(args, cgroup_fd)
        }
    };
    drop(child);
    drop(cgroup_dir_fd);
    if !p.direct {
        p.guard.stage1 = Some(Pid::from_raw(pid));
        let cgroup = cgroup.ok_or_else(|| ContainerError::Init("no cgroup was made".into()))?;
        return Ok(Spawned {
            cgroup,
            init_start_time: None,
        });
    }
    p.guard.init = Some(Pid::from_raw(pid));
    let cgroup = match cgroup {
        Some(cg) => cg,
        None => make_cgroup(resources, p, spec)?,
    };
    p.state.pid = pid;
    let init_start_time = proc_stat(pid).map(|(_, t)| t);
    join_cgroup(&cgroup, pid, in_cgroup, !p.plan.has_user(), &p.parent_chan)?;
    Ok(Spawned {
        cgroup,
        init_start_time,
    })
}

/// Step 3 (see the module comment): the conversation with stage 1 and the init. When the
/// container side goes away without reporting (its end closed: EOF, or ECONNRESET when it
/// left a message of ours unread) or a write to it fails, the error says so with its exit
/// status or signal and the step it was in (see [`child_gone`]), never only the socket's
/// errno.
fn converse(spec: &Spec, p: &mut Prepared, spawned: &mut Spawned) -> Result<(), ContainerError> {
    let mut step = if p.direct {
        "making its namespaces, before joining its cgroup"
    } else {
        "in stage 1, making the user namespace or joining namespaces by path"
    };
    loop {
        let msg = match p.parent_chan.recv() {
            Ok(Some(msg)) => msg,
            Ok(None) => return Err(child_gone(p, step, None)),
            Err(e) => return Err(child_gone(p, step, Some(e))),
        };
        match msg {
            Msg::UserNsCreated(pid) => {
                write_id_maps(pid, spec)?;
                p.parent_chan
                    .send(&Msg::UserMapsWritten)
                    .map_err(|e| child_gone(p, step, Some(e)))?;
                step = "in stage 1, after its user namespace was mapped, forking the init";
            }
            Msg::Forked { pid, in_cgroup } => {
                p.guard.init = Some(Pid::from_raw(pid));
                p.state.pid = pid;
                spawned.init_start_time = proc_stat(pid).map(|(_, t)| t);
                let self_join = !p.plan.has_user();
                join_cgroup(&spawned.cgroup, pid, in_cgroup, self_join, &p.parent_chan)?;
                if let Some(s1) = p.guard.stage1.take() {
                    let _ = waitpid(s1, None);
                }
                step = "joining its cgroup and making its mounts, before the prestart hooks";
            }
            Msg::HooksPlease => {
                step = "waiting for the prestart and createRuntime hooks";
                let json = serde_json::to_string(&p.state).unwrap_or_default();
                if let Some(h) = spec.hooks() {
                    // prestart sees the container as `created`, as crun and runtime-tools
                    // expect: its environment exists and the command has not started.
                    let mut created = p.state.clone();
                    created.status = Status::Created;
                    let created = serde_json::to_string(&created).unwrap_or_default();
                    for (list, state) in [(h.prestart(), &created), (h.create_runtime(), &json)] {
                        if let Some(list) = list {
                            crate::hooks::run_all(list, state)?;
                        }
                    }
                }
                p.parent_chan
                    .send(&Msg::HooksDone(json))
                    .map_err(|e| child_gone(p, step, Some(e)))?;
                step = "finishing after the hooks (entering the rootfs, masking paths, \
                        becoming the user, seccomp, finding the command)";
            }
            Msg::Ready => return Ok(()),
            Msg::Error(e) => return Err(e.into()),
            other => {
                return Err(ContainerError::Init(format!(
                    "unexpected message {other:?}"
                )))
            }
        }
    }
}

/// The error for a container side that went away without a report while `step`: its own
/// report if one is still queued, else how the process ended (exit status or signal; the
/// init when it is known, else stage 1) and the step. `io` is the socket error that showed
/// it (a closed peer's EPIPE or ECONNRESET), named only when no process is known.
fn child_gone(p: &mut Prepared, step: &str, io: Option<std::io::Error>) -> ContainerError {
    if let Some(reported) = pending_child_error(&p.parent_chan) {
        return reported;
    }
    let pid = p.guard.init.or(p.guard.stage1);
    let ended = match pid {
        Some(pid) => crate::process::fork::describe_exit(pid),
        None => "ended".to_string(),
    };
    let who = if p.guard.init.is_some() {
        "the container's init"
    } else {
        "the container's stage 1"
    };
    // The socket's errno adds nothing once the process's end is known.
    let seen = match (pid, io) {
        (None, Some(e)) => format!(" (seen as: {e})"),
        _ => String::new(),
    };
    ContainerError::Init(format!(
        "{who} {ended} without reporting why, while {step}{seen}"
    ))
}

/// Step 4 (see the module comment).
fn commit(
    opts: CreateOptions,
    mut p: Prepared,
    spawned: Spawned,
) -> Result<Created, ContainerError> {
    let init_start_time = spawned
        .init_start_time
        .ok_or_else(|| ContainerError::Init("the container's init exited during setup".into()))?;
    p.state.status = Status::Created;
    let record = Record {
        state: p.state.clone(),
        init_start_time,
        cgroup: spawned.cgroup,
        spec: opts.spec,
    };
    record.save(&p.dir)?;
    if let Some(pf) = &opts.pid_file {
        super::state::write_atomic(pf, record.state.pid.to_string().as_bytes())?;
    }
    p.guard.armed = false;
    Ok(Created {
        pid: record.state.pid,
    })
}

/// Makes the container's cgroup, hands it to the clean-up guard and records it (no pid yet;
/// the record `prepare` wrote holds the planned directories): if tinibox is SIGKILLed from
/// there on, `delete` still finds the cgroup (and through it any process) and the state
/// directory, and removes the container as stopped.
fn make_cgroup(
    resources: Option<&oci_spec::runtime::LinuxResources>,
    p: &mut Prepared,
    spec: &Spec,
) -> Result<CgroupHandle, ContainerError> {
    let cgroup = match CgroupHandle::create(&p.cgroup_path, resources) {
        Ok(c) => c,
        Err(e) => {
            // `create` removed what it made. A planned directory that someone else made
            // meanwhile (its mkdir failed with EEXIST) must not stay in the record, where a
            // `delete` after a SIGKILL of this process would remove it: the record is
            // rewritten without any directory before the failure is reported.
            let none = CgroupHandle {
                layout: crate::cgroups::detect(),
                rel_path: p.cgroup_path.clone(),
                dirs: Default::default(),
                made_parents: Vec::new(),
            };
            let _ = Record {
                state: p.state.clone(),
                init_start_time: 0,
                cgroup: none,
                spec: spec.clone(),
            }
            .save(&p.dir);
            return Err(e.into());
        }
    };
    p.guard.cgroup = Some(cgroup.clone());
    // The first record names these directories already unless `create` made fewer (a v1
    // freezer that is not mounted): then the record is written again with the exact ones.
    if cgroup != p.planned {
        Record {
            state: p.state.clone(),
            init_start_time: 0,
            cgroup: cgroup.clone(),
            spec: spec.clone(),
        }
        .save(&p.dir)?;
    }
    Ok(cgroup)
}

/// Gets the init into its cgroup and hands it the cgroup's directories; the init waits for
/// this before its cgroup namespace, hooks and exec, so before anything of the container's
/// runs. Born there (clone3 CLONE_INTO_CGROUP): nothing to move. On cgroup v1 with
/// `self_join` (no user namespace: the init may write the host's cgroup files) the init moves
/// itself, which avoids the RCU grace period a `cgroup.procs` write waits for (~10 ms here);
/// otherwise the pid is written into `cgroup.procs` here. On failure the init is killed and
/// its own error, if it sent one, explains more.
fn join_cgroup(
    cgroup: &CgroupHandle,
    pid: i32,
    in_cgroup: bool,
    self_join: bool,
    chan: &Channel,
) -> Result<(), ContainerError> {
    let dirs = cgroup.dirs.clone();
    let joins_itself = self_join && cgroup.layout == Layout::V1;
    if !in_cgroup && !joins_itself {
        if let Err(err) = cgroup.add_pid(pid) {
            // Kill it first so that draining the channel ends (EOF) instead of waiting.
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            return Err(pending_child_error(chan).unwrap_or(err.into()));
        }
    }
    let msg = if joins_itself && !in_cgroup {
        Msg::JoinCgroup(dirs)
    } else {
        Msg::CgroupJoined(dirs)
    };
    if let Err(err) = chan.send(&msg) {
        // The init closed its end: it exited (or is exiting). Its own report, if it sent
        // one, else how it ended.
        return Err(pending_child_error(chan).unwrap_or_else(|| {
            ContainerError::Init(format!(
                "the container's init {} without reporting why, while it waited to join \
                 its cgroup; seen as: {err}",
                crate::process::fork::describe_exit(Pid::from_raw(pid))
            ))
        }));
    }
    Ok(())
}

/// The first error message still queued from the container side, if any (does not block
/// once the container side has exited).
fn pending_child_error(chan: &Channel) -> Option<ContainerError> {
    loop {
        match chan.recv() {
            Ok(Some(Msg::Error(e))) => return Some(e.into()),
            Ok(Some(_)) => continue,
            _ => return None,
        }
    }
}

fn map_lines(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// Writes linux.uidMappings / gidMappings for the new user namespace of `pid`.
fn write_id_maps(pid: i32, spec: &Spec) -> Result<(), ContainerError> {
    let linux = spec.linux().as_ref();
    let uid = linux
        .and_then(|l| l.uid_mappings().clone())
        .unwrap_or_default();
    let gid = linux
        .and_then(|l| l.gid_mappings().clone())
        .unwrap_or_default();
    if uid.is_empty() || gid.is_empty() {
        return Err(ContainerError::Spec(
            "a user namespace needs linux.uidMappings and linux.gidMappings".into(),
        ));
    }
    for (file, maps) in [("uid_map", &uid), ("gid_map", &gid)] {
        let p = format!("/proc/{pid}/{file}");
        fs::write(&p, map_lines(maps)).map_err(|e| ContainerError::io(format!("write {p}"), e))?;
    }
    Ok(())
}
