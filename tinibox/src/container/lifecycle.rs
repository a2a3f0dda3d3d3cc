//! The operations on an existing container: start, state, list, kill, pause/resume, update,
//! pids and delete. Owns their state checks and clean-up; `create` is in `create.rs`.

use std::fs;
use std::path::Path;

use nix::sys::signal::{kill as send_signal, Signal};
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

use super::state::{DirLock, Record, State, Status, EXEC_FIFO};
use super::{container_dir, validate_id, ContainerError};
use crate::hooks::run_each_warning;
use crate::linux::pidfd::{pidfd_open, wait_exit};
use crate::linux::signal::Sig;
use crate::process::exec_fifo;

fn wrong(id: &str, status: Status, op: &str) -> ContainerError {
    ContainerError::WrongState {
        id: id.to_string(),
        status: status.to_string(),
        op: op.to_string(),
    }
}

fn open_locked(state_root: &Path, id: &str) -> Result<(DirLock, Record), ContainerError> {
    validate_id(id)?;
    let dir = container_dir(state_root, id);
    let lock = DirLock::lock(&dir, id)?;
    let rec = Record::load(state_root, id)?;
    Ok((lock, rec))
}

/// Records a container that has no process yet (Docker's `created` state, before its first
/// start): the state directory and a record with pid 0, which reads as stopped. Nothing runs
/// and no cgroup is made; `delete` removes it. `AlreadyExists` when the id is taken.
pub fn reserve(opts: &super::CreateOptions) -> Result<(), ContainerError> {
    validate_id(&opts.id)?;
    let dir = container_dir(&opts.state_root, &opts.id);
    if let Err(e) = fs::create_dir(&dir) {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            return Err(ContainerError::AlreadyExists(opts.id.clone()));
        }
        return Err(ContainerError::io(format!("create {}", dir.display()), e));
    }
    let spec = &opts.spec;
    let rootfs =
        crate::linux::rootfs::rootfs_path(spec, &opts.bundle).map_err(ContainerError::Spec)?;
    let record = Record {
        state: super::create::initial_state(opts, rootfs, Status::Stopped),
        init_start_time: 0,
        cgroup: crate::cgroups::CgroupHandle {
            layout: crate::cgroups::detect(),
            rel_path: std::path::PathBuf::new(),
            dirs: Default::default(),
            made_parents: Vec::new(),
        },
        spec: spec.clone(),
    };
    record.save(&dir).inspect_err(|_| {
        let _ = fs::remove_dir_all(&dir);
    })
}

/// Starts a created container: releases its init into `execve` and runs poststart hooks.
/// An exec failure comes back as [`ContainerError::Exec`] (127/126 for the docker-like CLI).
pub fn start(state_root: &Path, id: &str) -> Result<(), ContainerError> {
    let (_lock, rec) = open_locked(state_root, id)?;
    let dir = container_dir(state_root, id);
    let status = rec.live_status(&dir);
    if status != Status::Created {
        return Err(wrong(
            id,
            status,
            "start (only a created container can be started)",
        ));
    }
    // Take the pidfd before opening the fifo: opening it releases the init, which may run,
    // exit and be reaped by a subreaper (containerd's shim) before a later pidfd_open.
    let pidfd = pidfd_open(rec.state.pid).ok_or_else(|| wrong(id, Status::Stopped, "start"))?;
    let fifo_path = dir.join(EXEC_FIFO);
    exec_fifo::release(&fifo_path, &pidfd)
        .map_err(|e| ContainerError::io(format!("open {}", fifo_path.display()), e))??;
    if let Some(h) = rec
        .spec
        .hooks()
        .as_ref()
        .and_then(|h| h.poststart().as_ref())
    {
        let json = serde_json::to_string(&rec.live_state(&dir)).unwrap_or_default();
        // Per the runtime spec a poststart failure is logged, not fatal.
        run_each_warning(h, &json, "poststart");
    }
    Ok(())
}

/// The OCI state with the live status.
pub fn state(state_root: &Path, id: &str) -> Result<State, ContainerError> {
    validate_id(id)?;
    let rec = Record::load(state_root, id)?;
    Ok(rec.live_state(&container_dir(state_root, id)))
}

/// Every container under `state_root` (sorted by id); unreadable entries are skipped.
pub fn list(state_root: &Path) -> Result<Vec<State>, ContainerError> {
    let rd = match fs::read_dir(state_root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(ContainerError::io(
                format!("read {}", state_root.display()),
                e,
            ))
        }
    };
    let mut out: Vec<State> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().map(String::from))
        .filter_map(|id| {
            Record::load(state_root, &id)
                .ok()
                .map(|r| r.live_state(&container_dir(state_root, &id)))
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// Sends `signal` (any of 1-64, see [`Sig`]) to the init, or with `all` to every process of
/// the container.
pub fn kill(
    state_root: &Path,
    id: &str,
    signal: impl Into<Sig>,
    all: bool,
) -> Result<(), ContainerError> {
    let signal: Sig = signal.into();
    validate_id(id)?;
    let rec = Record::load(state_root, id)?;
    let dir = container_dir(state_root, id);
    let status = rec.live_status(&dir);
    if status == Status::Stopped {
        // As runc: `kill --all` of a stopped container has nothing left to do and succeeds;
        // a kill of its init is refused in the words engines parse.
        if all {
            return Ok(());
        }
        return Err(ContainerError::NotRunning(id.to_string()));
    }
    if all {
        rec.cgroup.kill_all(signal.number())?;
        if status == Status::Paused && signal.number() == libc::SIGKILL {
            let _ = rec.cgroup.thaw();
        }
        return Ok(());
    }
    signal
        .send(rec.state.pid)
        .map_err(|e| ContainerError::sys(format!("send {signal} to {}", rec.state.pid), e))
}

/// Freezes every process of a running container.
pub fn pause(state_root: &Path, id: &str) -> Result<(), ContainerError> {
    let (_l, rec) = open_locked(state_root, id)?;
    let status = rec.live_status(&container_dir(state_root, id));
    if status != Status::Running {
        return Err(wrong(
            id,
            status,
            "pause (only a running container can be paused)",
        ));
    }
    Ok(rec.cgroup.freeze()?)
}

/// Thaws a paused container.
pub fn resume(state_root: &Path, id: &str) -> Result<(), ContainerError> {
    let (_l, rec) = open_locked(state_root, id)?;
    let status = rec.live_status(&container_dir(state_root, id));
    if status != Status::Paused {
        return Err(wrong(id, status, "resume (it is not paused)"));
    }
    Ok(rec.cgroup.thaw()?)
}

/// Changes the resource limits of a container.
pub fn update(state_root: &Path, id: &str, res: &LinuxResources) -> Result<(), ContainerError> {
    crate::spec::resources::validate(res).map_err(|e| ContainerError::Spec(e.to_string()))?;
    let (_l, mut rec) = open_locked(state_root, id)?;
    let dir = container_dir(state_root, id);
    let status = rec.live_status(&dir);
    if status == Status::Stopped {
        return Err(wrong(id, status, "update"));
    }
    let before = rec.cgroup.dirs.clone();
    let result = rec.cgroup.update(res);
    if rec.cgroup.dirs != before {
        // New controller groups: record them so that exec joins them and delete removes them.
        rec.save(&dir)?;
    }
    Ok(result?)
}

/// The host pids of the container's processes.
pub fn pids(state_root: &Path, id: &str) -> Result<Vec<i32>, ContainerError> {
    validate_id(id)?;
    Ok(Record::load(state_root, id)?.cgroup.pids())
}

/// The container's stored record (cgroup handle, spec, state) for `exec`, `events` and stats.
pub fn record(state_root: &Path, id: &str) -> Result<Record, ContainerError> {
    validate_id(id)?;
    Record::load(state_root, id)
}

/// Deletes a container: refuses a running or paused one unless `force` (then kills it);
/// runs poststop hooks; removes its cgroup and state directory. Works after the process that
/// created it (or an earlier `delete`) was SIGKILLed at any point: the record written first
/// lists every cgroup directory create may have made, and a state directory without a record
/// holds nothing else. Mounts live in the container's mount namespace and vanish with it.
pub fn delete(state_root: &Path, id: &str, force: bool) -> Result<(), ContainerError> {
    validate_id(id)?;
    let dir = container_dir(state_root, id);
    let lock = DirLock::lock(&dir, id)?;
    let rec = match Record::load(state_root, id) {
        Ok(rec) => rec,
        // A state directory without a record: `create` was killed between making the
        // directory and writing the record (nothing else exists yet), or an earlier `delete`
        // was killed while removing the directory. Either way, the directory is all there is.
        Err(ContainerError::NotFound(_)) => {
            fs::remove_dir_all(&dir)
                .map_err(|e| ContainerError::io(format!("remove {}", dir.display()), e))?;
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let status = rec.live_status(&dir);
    if matches!(status, Status::Running | Status::Paused) && !force {
        return Err(wrong(id, status, "delete (stop it first, or use --force)"));
    }
    // pid 0 (a create that never got as far as the init) must never reach kill(2): it would
    // signal our own process group.
    if status != Status::Stopped && rec.state.pid > 0 {
        let _ = rec.cgroup.thaw();
        let _ = send_signal(Pid::from_raw(rec.state.pid), Signal::SIGKILL);
        let _ = rec.cgroup.kill_all(libc::SIGKILL);
        wait_exit(rec.state.pid, 5000);
    }
    if let Some(h) = rec
        .spec
        .hooks()
        .as_ref()
        .and_then(|h| h.poststop().as_ref())
    {
        let mut st = rec.live_state(&dir);
        st.status = Status::Stopped;
        let json = serde_json::to_string(&st).unwrap_or_default();
        run_each_warning(h, &json, "poststop");
    }
    rec.cgroup.destroy()?;
    fs::remove_dir_all(&dir)
        .map_err(|e| ContainerError::io(format!("remove {}", dir.display()), e))?;
    drop(lock);
    Ok(())
}
