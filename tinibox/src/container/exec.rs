//! `exec`: a new process inside a running container (what `runc exec`, `docker exec` and
//! `podman exec` ask for). The parent side: checks the container's state, opens what the
//! child side needs (the init's namespaces, its root, the console socket, the compiled
//! seccomp filter), forks the helper of [`crate::process::join`], reads its report over the
//! channel and waits for the process unless detached.
//!
//! Process tree: tinibox (stays on the host) → helper (joins cgroup and namespaces, exits at
//! once) → the process, cloned with `CLONE_PARENT` so that it is tinibox's child. With
//! `--detach`, tinibox writes the pid file and exits; the process is then adopted by the
//! caller's subreaper (containerd's shim, conmon), like runc's. The process ends in the same
//! `finish_and_exec` as a new container's init. Owns nothing of the child side.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Process;

use super::state::{write_atomic, Record};
use super::{container_dir, ContainerError, Status};
use crate::linux::namespaces;
use crate::process::channel::{self, Msg};
use crate::process::finish::Finish;
use crate::process::fork::{fork, Forked};
use crate::process::join::{self, JoinArgs};

/// What `exec` needs.
#[derive(Debug)]
pub struct ExecOptions {
    /// The state root (e.g. `/run/tinibox`).
    pub state_root: PathBuf,
    /// The container.
    pub id: String,
    /// The process to run (from `--process FILE`, or the container's defaults plus flags).
    pub process: Process,
    /// With `process.terminal`: where to send the pty master (SCM_RIGHTS).
    pub console_socket: Option<PathBuf>,
    /// With `process.terminal`: an already connected socket to send the pty master to
    /// (an in-process caller's socketpair); wins over `console_socket`.
    pub console_stream: Option<UnixStream>,
    /// Return once the process runs instead of waiting for it.
    pub detach: bool,
    /// Write the process's host pid here (atomically).
    pub pid_file: Option<PathBuf>,
    /// Pass fds 3..3+N through to the process.
    pub preserve_fds: u32,
}

/// How `exec` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecOutcome {
    /// `detach`: the process runs with this host pid.
    Detached {
        /// Host pid.
        pid: i32,
    },
    /// The process ended with this status (128+N when killed by signal N).
    Exited {
        /// Exit status.
        code: i32,
    },
}

/// The console socket for a process with `process.terminal`, connected (None without).
fn console(opts: &ExecOptions) -> Result<Option<OwnedFd>, ContainerError> {
    if !opts.process.terminal().unwrap_or(false) {
        if opts.console_socket.is_some() {
            // As runc: a socket with no pty to send over it is a caller's mistake.
            return Err(ContainerError::Spec(
                "--console-socket needs a terminal (--tty, or process.terminal in --process): add one, or drop --console-socket".into(),
            ));
        }
        return Ok(None);
    }
    if let Some(stream) = &opts.console_stream {
        let s = stream
            .try_clone()
            .map_err(|e| ContainerError::io("console socket", e))?;
        return Ok(Some(OwnedFd::from(s)));
    }
    let Some(sock) = &opts.console_socket else {
        return Err(ContainerError::Spec(
            "process.terminal is true: give --console-socket to receive the pty".into(),
        ));
    };
    crate::linux::console::connect_socket(sock)
        .map(Some)
        .map_err(ContainerError::Spec)
}

/// Runs a process inside container `opts.id` (see the module comment).
pub fn exec(opts: ExecOptions) -> Result<ExecOutcome, ContainerError> {
    super::validate_id(&opts.id)?;
    let rec = Record::load(&opts.state_root, &opts.id)?;
    let dir = container_dir(&opts.state_root, &opts.id);
    match rec.live_status(&dir) {
        Status::Running | Status::Created => {}
        other => {
            return Err(ContainerError::WrongState {
                id: opts.id.clone(),
                status: other.to_string(),
                op: match other {
                    Status::Paused => "exec (resume it first)".into(),
                    _ => "exec (start it first)".into(),
                },
            })
        }
    }
    if opts.process.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(ContainerError::Spec(
            "process.args is empty: give the command to run".into(),
        ));
    }
    crate::linux::security::check_rlimits(&opts.process).map_err(ContainerError::Spec)?;
    let pid = rec.state.pid;
    let types: Vec<_> = rec
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .map(|ns| ns.iter().map(|n| n.typ()).collect())
        .unwrap_or_default();
    let ns = namespaces::open_running(pid, &types).map_err(ContainerError::Spec)?;
    let root_path = format!("/proc/{pid}/root");
    let root =
        File::open(&root_path).map_err(|e| ContainerError::io(format!("open {root_path}"), e))?;
    let seccomp = match rec.spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        Some(profile) => Some(
            crate::seccomp::compile(profile).map_err(|e| ContainerError::Spec(e.to_string()))?,
        ),
        None => None,
    };
    let console = console(&opts)?;
    let (parent_chan, child_chan) = channel::pair(3 + opts.preserve_fds as i32)
        .map_err(|e| ContainerError::sys("create sync socket", e))?;

    let helper = match fork(0, None).map_err(|e| ContainerError::io("fork", e))? {
        Forked::Child => {
            // SAFETY: closing the child's copy of the parent's end; the child never returns,
            // so the OwnedFd is never dropped (no double close).
            unsafe { libc::close(parent_chan.raw_fd()) };
            join::run(JoinArgs {
                cgroup: &rec.cgroup,
                namespaces: ns,
                root: OwnedFd::from(root),
                finish: Finish {
                    process: &opts.process,
                    console: console.as_ref().map(|c| c.as_raw_fd()),
                    seccomp,
                    preserve_fds: opts.preserve_fds,
                    reaper: false,
                    console_mount: false,
                },
                chan: &child_chan,
            })
        }
        Forked::Parent { pid, .. } => pid,
    };
    drop(child_chan);
    drop(console);
    drop(ns);
    drop(root);

    // The helper reports the process's pid (or fails); the process then closes its end when
    // execve succeeds, or reports why it failed.
    let mut forked = None;
    let mut failure = None;
    loop {
        match parent_chan.recv() {
            Ok(Some(Msg::Forked { pid, .. })) => forked = Some(pid),
            Ok(Some(Msg::Error(e))) => {
                failure = Some(e);
                break;
            }
            Ok(Some(other)) => {
                failure = Some(crate::process::channel::ChildError::new(format!(
                    "exec: unexpected message {other:?}"
                )));
                break;
            }
            Ok(None) | Err(_) => break,
        }
    }
    // The helper exits right after reporting; how it ended explains a missing report.
    let helper_ended = match nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(helper), None) {
        Ok(status) => crate::process::fork::describe_status(status),
        Err(e) => format!("ended (its exit status is not readable here: {e})"),
    };
    if let Some(pid) = forked.filter(|_| failure.is_some()) {
        // The process reported a failure before execve and exits: reap it.
        // SAFETY: `pid` is our child (CLONE_PARENT).
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    }
    if let Some(e) = failure {
        return Err(e.into());
    }
    let Some(pid) = forked else {
        return Err(ContainerError::Init(format!(
            "exec: the helper (joining the container's namespaces and cgroup) {helper_ended} \
             without starting the process or reporting why"
        )));
    };
    if let Some(f) = &opts.pid_file {
        write_atomic(f, pid.to_string().as_bytes())?;
    }
    if opts.detach {
        return Ok(ExecOutcome::Detached { pid });
    }
    Ok(ExecOutcome::Exited {
        code: super::supervise(pid),
    })
}

/// Reads a process description (`--process FILE`, `-` for stdin) as runc does.
pub fn load_process(path: &Path) -> Result<Process, ContainerError> {
    let data = if path == Path::new("-") {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| ContainerError::io("read process from stdin", e))?;
        s
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| ContainerError::io(format!("read {}", path.display()), e))?
    };
    // from_slice like config.json's parse: one copy of the process' serde code.
    serde_json::from_slice(data.as_bytes())
        .map_err(|e| ContainerError::Spec(format!("process file {}: {e}", path.display())))
}
