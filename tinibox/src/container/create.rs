//! The parent side of `create`: state directory, exec fifo, cgroup, console socket, the fork
//! of the init (directly, or through stage 1 when a user namespace is made or a namespace is
//! joined by path), the sync conversation (cgroup, user namespace maps, hooks, ready/error)
//! and, on any failure, the complete clean-up. Owns the creation sequence; the container side
//! is [`crate::linux::init`].

use std::fs;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;

use nix::sched::CloneFlags;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult, Pid};
use oci_spec::runtime::{LinuxIdMapping, Spec};

use super::state::{proc_stat, DirLock, Record, State, Status, EXEC_FIFO};
use super::{
    container_dir, validate_id, ContainerError, CreateOptions, Created, ExecFailure,
    INIT_ANNOTATION,
};
use crate::cgroups::{relative_path, CgroupHandle, Layout};
use crate::linux::init::{self, InitArgs};
use crate::linux::namespaces::{self, Plan};
use crate::linux::rootfs;
use crate::linux::sync::{self, Channel, ChildError, Msg};

/// Removes everything a failed `create` made, in reverse order, when dropped armed.
struct Cleanup {
    dir: PathBuf,
    dir_created: bool,
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
        if self.dir_created {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

pub(super) fn create(mut opts: CreateOptions) -> Result<Created, ContainerError> {
    validate_id(&opts.id)?;
    if !opts.bundle.is_absolute() {
        return Err(ContainerError::Spec(format!(
            "bundle {} must be an absolute path",
            opts.bundle.display()
        )));
    }
    let spec = &opts.spec;
    let plan = namespaces::plan(spec).map_err(ContainerError::Spec)?;
    let rootfs = rootfs::rootfs_path(spec, &opts.bundle).map_err(ContainerError::Spec)?;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| ContainerError::Spec("process: missing".into()))?;
    if process
        .args()
        .as_ref()
        .map(|a| a.is_empty())
        .unwrap_or(true)
    {
        return Err(ContainerError::Spec(
            "process.args: empty; give the command to run".into(),
        ));
    }
    let terminal = process.terminal().unwrap_or(false);
    if terminal && opts.console_socket.is_none() && opts.console_socket_fd.is_none() {
        return Err(ContainerError::Spec(
            "process.terminal is true: pass --console-socket".into(),
        ));
    }
    let cg_rel = relative_path(
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
    let mut guard = Cleanup {
        dir: dir.clone(),
        dir_created: true,
        cgroup: None,
        stage1: None,
        init: None,
        armed: true,
    };
    let lock = DirLock::lock(&dir, &opts.id)?;
    make_exec_fifo(&dir.join(EXEC_FIFO), spec)?;

    let console: Option<OwnedFd> = match (opts.console_socket_fd.take(), &opts.console_socket) {
        (Some(fd), _) if terminal => Some(fd),
        (None, Some(p)) if terminal => {
            Some(crate::linux::console::connect_socket(p).map_err(ContainerError::Spec)?)
        }
        _ => None,
    };
    let resources = spec.linux().as_ref().and_then(|l| l.resources().as_ref());
    // Without a user namespace or a namespace joined by path there is no stage 1: the init is
    // forked from here with its pid namespace and makes its other namespaces itself.
    let direct = !plan.new_user && plan.join.is_empty();
    // On cgroup v1 such an init is forked before its cgroup exists: the directories and device
    // rules are written while the init creates its namespaces (the network namespace alone
    // takes about half a millisecond). Elsewhere the cgroup comes first: on v2 the init is
    // born in it (clone3 CLONE_INTO_CGROUP).
    let cgroup_first = !(direct && crate::cgroups::detect() == Layout::V1);

    let state_dir = nix::fcntl::open(
        &dir,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| ContainerError::sys(format!("open {}", dir.display()), e))?;
    // SAFETY: open returned a new fd we own.
    let state_dir = unsafe { OwnedFd::from_raw_fd(state_dir) };
    let (parent_chan, child_chan) =
        sync::pair().map_err(|e| ContainerError::sys("create sync socket", e))?;

    let hooks = spec.hooks().as_ref();
    let hooks_round_trip = hooks
        .map(|h| {
            h.prestart().as_ref().is_some_and(|v| !v.is_empty())
                || h.create_runtime().as_ref().is_some_and(|v| !v.is_empty())
                || h.create_container().as_ref().is_some_and(|v| !v.is_empty())
                || h.start_container().as_ref().is_some_and(|v| !v.is_empty())
        })
        .unwrap_or(false);
    let reaper = spec
        .annotations()
        .as_ref()
        .and_then(|a| a.get(INIT_ANNOTATION))
        .is_some_and(|v| v == "true");
    let created_at = humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string();

    let mut state = State {
        oci_version: spec.version().clone(),
        id: opts.id.clone(),
        pid: 0,
        status: Status::Creating,
        bundle: opts.bundle.clone(),
        rootfs: rootfs.clone(),
        created: created_at,
        annotations: spec
            .annotations()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        owner: nix::unistd::getuid().to_string(),
        labels: opts.labels.clone(),
    };
    let mut cgroup = None;
    if cgroup_first {
        cgroup = Some(make_cgroup(
            &cg_rel, resources, &mut guard, &dir, &state, spec,
        )?);
    }
    // cgroup v2: an fd of the container's group, for clone3(CLONE_INTO_CGROUP).
    let cgroup_dir_fd: Option<OwnedFd> = cgroup
        .as_ref()
        .filter(|cg| cg.layout == Layout::V2)
        .and_then(|cg| cg.dirs.get("unified"))
        .and_then(|d| fs::File::open(d).ok().map(OwnedFd::from));

    // The child's side of the fork: stage 1, or (direct) the init with the namespaces it
    // makes itself. Runs only our own code; never returns.
    let child_side = |direct: bool| -> ! {
        // SAFETY: closing the child's copy of the parent's end; the child never returns, so
        // the OwnedFd is never dropped (no double close).
        unsafe { libc::close(parent_chan.raw_fd()) };
        let unshare = if direct {
            plan.new_flags - CloneFlags::CLONE_NEWPID
        } else {
            CloneFlags::empty()
        };
        let args = InitArgs {
            spec,
            id: &opts.id,
            bundle: &opts.bundle,
            rootfs: &rootfs,
            plan: &plan,
            unshare,
            chan: &child_chan,
            state_dir: &state_dir,
            console: console.as_ref().map(|c| c.as_raw_fd()),
            no_pivot: opts.no_pivot,
            no_new_keyring: opts.no_new_keyring,
            preserve_fds: opts.preserve_fds,
            hooks_round_trip,
            reaper,
        };
        if direct {
            init::run(args)
        } else {
            stage1(args, cgroup_dir_fd.as_ref().map(|f| f.as_raw_fd()))
        }
    };
    let mut init_start_time = None;
    if direct {
        let new_pid = plan.new_pid();
        let (pid, in_cgroup) = fork_init(new_pid, cgroup_dir_fd.as_ref().map(|f| f.as_raw_fd()))
            .map_err(|e| ContainerError::io("fork the container's init", e))?;
        if pid == 0 {
            // Close (do not unlock) our copy of the lock's fd: flock belongs to the open file
            // description, which the parent keeps until create returns.
            drop(lock);
            child_side(true)
        }
        guard.init = Some(Pid::from_raw(pid));
        drop(child_chan);
        drop(console);
        drop(state_dir);
        drop(cgroup_dir_fd);
        let cg = match cgroup {
            Some(cg) => cg,
            None => make_cgroup(&cg_rel, resources, &mut guard, &dir, &state, spec)?,
        };
        state.pid = pid;
        init_start_time = proc_stat(pid).map(|(_, t)| t);
        join_cgroup(&cg, pid, in_cgroup, !plan.has_user(), &parent_chan)?;
        cgroup = Some(cg);
    } else {
        // SAFETY: tinibox is single-threaded here; the child only runs our own code and then
        // execs or _exits.
        match unsafe { fork() }.map_err(|e| ContainerError::sys("fork", e))? {
            ForkResult::Child => {
                drop(lock);
                child_side(false)
            }
            ForkResult::Parent { child } => {
                guard.stage1 = Some(child);
                drop(child_chan);
                drop(console);
                drop(state_dir);
                drop(cgroup_dir_fd);
            }
        }
    }
    let Some(cgroup) = cgroup else {
        return Err(ContainerError::Init("no cgroup was made".into()));
    };

    // The conversation with stage 1 and the init.
    loop {
        let msg = parent_chan
            .recv()
            .map_err(|e| ContainerError::io("read from the container's init", e))?;
        match msg {
            Some(Msg::UserNsCreated(pid)) => {
                write_id_maps(pid, spec)?;
                send(&parent_chan, &Msg::UserMapsWritten)?;
            }
            Some(Msg::InitPidInCgroup(pid) | Msg::InitPid(pid)) => {
                let in_cgroup = matches!(msg, Some(Msg::InitPidInCgroup(_)));
                guard.init = Some(Pid::from_raw(pid));
                state.pid = pid;
                init_start_time = proc_stat(pid).map(|(_, t)| t);
                join_cgroup(&cgroup, pid, in_cgroup, !plan.has_user(), &parent_chan)?;
                if let Some(s1) = guard.stage1.take() {
                    let _ = waitpid(s1, None);
                }
            }
            Some(Msg::HooksPlease) => {
                let json = serde_json::to_string(&state).unwrap_or_default();
                if let Some(h) = hooks {
                    for list in [h.prestart(), h.create_runtime()].into_iter().flatten() {
                        super::hooks::run_all(list, &json)?;
                    }
                }
                send(&parent_chan, &Msg::HooksDone(json))?;
            }
            Some(Msg::Ready) => break,
            Some(Msg::Error(e)) => return Err(child_error(e)),
            Some(other) => {
                return Err(ContainerError::Init(format!(
                    "unexpected message {other:?}"
                )))
            }
            None => {
                return Err(ContainerError::Init(
                    "the container's init exited during setup".into(),
                ))
            }
        }
    }
    let init_start_time = init_start_time
        .ok_or_else(|| ContainerError::Init("the container's init exited during setup".into()))?;
    state.status = Status::Created;
    let record = Record {
        state,
        init_start_time,
        cgroup,
        spec: opts.spec.clone(),
    };
    record.save(&dir)?;
    if let Some(pf) = &opts.pid_file {
        super::state::write_atomic(pf, record.state.pid.to_string().as_bytes())?;
    }
    guard.armed = false;
    drop(lock);
    Ok(Created {
        pid: record.state.pid,
    })
}

/// Makes the container's cgroup, hands it to the clean-up `guard` and writes the first record
/// (no pid yet): if tinibox is SIGKILLed from there on, `delete` still finds the cgroup (and
/// through it any process) and the state directory, and removes the container as stopped.
fn make_cgroup(
    cg_rel: &std::path::Path,
    resources: Option<&oci_spec::runtime::LinuxResources>,
    guard: &mut Cleanup,
    dir: &std::path::Path,
    state: &State,
    spec: &Spec,
) -> Result<CgroupHandle, ContainerError> {
    let cgroup = CgroupHandle::create(cg_rel, resources)?;
    guard.cgroup = Some(cgroup.clone());
    save_record(dir, state, 0, &cgroup, spec)?;
    Ok(cgroup)
}

/// Writes the container's record (state.json) with `state` and the init's start time.
fn save_record(
    dir: &std::path::Path,
    state: &State,
    init_start_time: u64,
    cgroup: &CgroupHandle,
    spec: &Spec,
) -> Result<(), ContainerError> {
    Record {
        state: state.clone(),
        init_start_time,
        cgroup: cgroup.clone(),
        spec: spec.clone(),
    }
    .save(dir)
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
    let joined = if in_cgroup {
        send(chan, &Msg::CgroupJoined(dirs))
    } else if self_join && cgroup.layout == Layout::V1 {
        send(chan, &Msg::JoinCgroup(dirs))
    } else {
        cgroup
            .add_pid(pid)
            .map_err(ContainerError::from)
            .and_then(|_| send(chan, &Msg::CgroupJoined(dirs)))
    };
    if let Err(err) = joined {
        // Kill it first so that draining the channel ends (EOF) instead of waiting.
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        return Err(pending_child_error(chan).unwrap_or(err));
    }
    Ok(())
}

/// Forks the container's init straight from `create` (no stage 1), in a new pid namespace
/// when `new_pid`; with `cgroup_fd` (cgroup v2) born in that cgroup through clone3
/// CLONE_INTO_CGROUP, falling back to a plain clone. Returns (0, _) in the child and
/// (pid, born in the cgroup) in the parent.
fn fork_init(new_pid: bool, cgroup_fd: Option<i32>) -> std::io::Result<(i32, bool)> {
    let ns = if new_pid {
        libc::CLONE_NEWPID as u64
    } else {
        0
    };
    if let Some(fd) = cgroup_fd {
        let pid = clone3(ns | CLONE_INTO_CGROUP, libc::SIGCHLD as u64, fd);
        if pid >= 0 {
            return Ok((pid as i32, true));
        }
    }
    // SAFETY: raw clone with a null stack behaves like fork. Single-threaded, so no locks are
    // held; the child runs only our code and execs or _exits.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            ns as libc::c_ulong | libc::SIGCHLD as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((pid as i32, false))
}

/// The exec fifo: the container's process opens it after switching to its user, so it is
/// owned by that user's host ids and writable by it (mode 0622, like runc; the state
/// directory itself stays root's).
fn make_exec_fifo(path: &std::path::Path, spec: &Spec) -> Result<(), ContainerError> {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o622))
        .map_err(|e| ContainerError::sys("create exec fifo", e))?;
    fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o622))
        .map_err(|e| ContainerError::io("chmod exec fifo", e))?;
    let user = spec.process().as_ref().map(|p| p.user());
    let (uid, gid) = user.map(|u| (u.uid(), u.gid())).unwrap_or((0, 0));
    let linux = spec.linux().as_ref();
    let host = |id: u32, maps: Option<Vec<LinuxIdMapping>>| -> u32 {
        match maps {
            Some(m) if !m.is_empty() => m
                .iter()
                .find(|m| id >= m.container_id() && id < m.container_id() + m.size())
                .map(|m| m.host_id() + (id - m.container_id()))
                .unwrap_or(id),
            _ => id,
        }
    };
    let huid = host(uid, linux.and_then(|l| l.uid_mappings().clone()));
    let hgid = host(gid, linux.and_then(|l| l.gid_mappings().clone()));
    std::os::unix::fs::chown(path, Some(huid), Some(hgid))
        .map_err(|e| ContainerError::io("chown exec fifo", e))
}

/// The first error message still queued from the container side, if any (does not block
/// once the container side has exited).
fn pending_child_error(chan: &Channel) -> Option<ContainerError> {
    loop {
        match chan.recv() {
            Ok(Some(Msg::Error(e))) => return Some(child_error(e)),
            Ok(Some(_)) => continue,
            _ => return None,
        }
    }
}

fn send(chan: &Channel, msg: &Msg) -> Result<(), ContainerError> {
    chan.send(msg)
        .map_err(|e| ContainerError::io("write to the container's init", e))
}

fn child_error(e: ChildError) -> ContainerError {
    match e.exec_code {
        Some(code) => ContainerError::Exec {
            kind: if code == 127 {
                ExecFailure::NotFound
            } else {
                ExecFailure::NotExecutable
            },
            path: e.exec_path.unwrap_or_default(),
            detail: e.msg,
        },
        None => ContainerError::Init(e.msg),
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

/// Stage 1: join namespaces by path, create new namespaces, fork the init with
/// CLONE_PARENT, report its pid, exit. Never returns.
fn stage1(args: InitArgs, cgroup_fd: Option<i32>) -> ! {
    // SAFETY: prctl with integer arguments: no core dumps or ptrace of tinibox code in the container.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    let chan = args.chan;
    let res = stage1_setup(args.plan, chan);
    let fail = |msg: String| -> ! {
        let _ = chan.send(&Msg::Error(ChildError::new(msg)));
        // SAFETY: leave the forked child.
        unsafe { libc::_exit(1) }
    };
    if let Err(msg) = res {
        fail(msg);
    }
    // cgroup v2: be born in the container's cgroup (no migration, no RCU wait); any failure
    // (old kernel, user namespace without access) falls back to a plain fork below.
    if let Some(fd) = cgroup_fd {
        // With CLONE_PARENT the exit signal must be 0 (the parent's, SIGCHLD, is inherited).
        let pid = clone3(libc::CLONE_PARENT as u64 | CLONE_INTO_CGROUP, 0, fd);
        if pid == 0 {
            init::run(args);
        }
        if pid > 0 {
            let _ = chan.send(&Msg::InitPidInCgroup(pid as i32));
            // SAFETY: leave the forked child.
            unsafe { libc::_exit(0) }
        }
    }
    // SAFETY: raw clone with a null stack behaves like fork; CLONE_PARENT makes the init a
    // child of the process that called `create`. Single-threaded, so no locks are held.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (libc::CLONE_PARENT | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if pid < 0 {
        fail(format!(
            "fork the container's init: {}",
            std::io::Error::last_os_error()
        ));
    }
    if pid == 0 {
        init::run(args);
    }
    let _ = chan.send(&Msg::InitPid(pid as i32));
    // SAFETY: leave the forked child.
    unsafe { libc::_exit(0) }
}

/// clone3's CLONE_INTO_CGROUP flag (Linux 5.7).
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// clone3 with fork semantics (no new stack) into the cgroup `cgroup_fd`: 0 in the child,
/// the pid in the parent, -1 on failure.
fn clone3(flags: u64, exit_signal: u64, cgroup_fd: i32) -> i64 {
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

fn stage1_setup(plan: &Plan, chan: &Channel) -> Result<(), String> {
    let joins = namespaces::open_joins(plan)?;
    for (t, f) in joins
        .iter()
        .filter(|(t, _)| *t == oci_spec::runtime::LinuxNamespaceType::User)
    {
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
    for (t, f) in joins
        .iter()
        .filter(|(t, _)| *t != oci_spec::runtime::LinuxNamespaceType::User)
    {
        namespaces::join(*t, f)?;
    }
    // The cgroup namespace is made by the init once the parent has moved it into the
    // container's cgroup (so that cgroup is the namespace's root).
    namespaces::create(plan.new_flags)
}
