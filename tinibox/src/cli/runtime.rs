//! Handlers for the runc-compatible OCI runtime commands, with runc's flag names (what
//! containerd's shim through go-runc, Podman's conmon and the runtime-spec tests pass).
//!
//! Owns argument parsing for those commands, reading and validating `config.json`, and turning
//! results into output and exit codes: 0 on success, 1 on failure (like runc), with every
//! failure logged through [`super::log::error`] (the `--log` file and stderr). The container
//! work itself is done by [`crate::container`]; this file must not fork, mount or touch cgroups.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use oci_spec::runtime::{Capability, LinuxResources, Process, Spec, UserBuilder};

use super::{log, GlobalOptions};
use crate::container::{
    self,
    exec::{ExecOptions, ExecOutcome},
    state::Record,
    CreateOptions, State,
};

/// Runs a handler body: logs a failure and maps it to exit status 1 (or 126/127 for commands
/// that could not be executed).
fn finish(global: &GlobalOptions, what: &str, r: Result<u8>) -> u8 {
    log::init(global);
    match r {
        Ok(code) => code,
        Err(e) => {
            let msg = format!("{what}: {e:#}");
            log::error(&msg);
            e.downcast_ref::<container::ContainerError>()
                .and_then(|c| c.exec_exit_code())
                .filter(|_| what == "exec")
                .map_or(1, |c| c as u8)
        }
    }
}

/// Reads and checks `<bundle>/config.json`: JSON, the fields runc requires, known values.
pub fn load_config(bundle: &Path) -> Result<Spec> {
    let path = bundle.join("config.json");
    let data = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {} (is --bundle right?)", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&data)
        .map_err(|e| anyhow!("{} is not valid JSON: {e}", path.display()))?;
    let Some(obj) = value.as_object() else {
        bail!("{}: the top level must be a JSON object", path.display());
    };
    let version = obj
        .get("ociVersion")
        .and_then(|v| v.as_str())
        .ok_or_else(|| anyhow!("{}: required field ociVersion is missing", path.display()))?;
    if !version.starts_with("1.") {
        bail!(
            "{}: ociVersion {version:?} is not supported (this runtime implements 1.x)",
            path.display()
        );
    }
    for field in ["root", "process"] {
        if !obj.contains_key(field) {
            bail!("{}: required field {field} is missing", path.display());
        }
    }
    let spec: Spec = serde_json::from_value(value)
        .map_err(|e| anyhow!("{}: invalid value: {e}", path.display()))?;
    if spec
        .process()
        .as_ref()
        .and_then(|p| p.args().as_ref())
        .is_none_or(|a| a.is_empty())
    {
        bail!(
            "{}: process.args must name the command to run",
            path.display()
        );
    }
    let root = spec
        .root()
        .as_ref()
        .map(|r| r.path().clone())
        .unwrap_or_default();
    let rootfs = if root.is_absolute() {
        root
    } else {
        bundle.join(root)
    };
    if !rootfs.is_dir() {
        bail!(
            "rootfs {} does not exist or is not a directory (root.path in config.json)",
            rootfs.display()
        );
    }
    Ok(spec)
}

fn absolute(p: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(p).with_context(|| format!("bundle {} does not exist", p.display()))
}

/// The container id for `what`: itself when such a container exists (runc's callers always
/// pass exact ids), else a docker-like name or unique id prefix given to the docker-like
/// front door (`tinibox run -d --name web …` then `tinibox exec web sh`).
fn resolve_id(global: &GlobalOptions, what: &str) -> String {
    if container::container_dir(&global.root, what).exists() {
        return what.to_string();
    }
    super::docker::names::resolve(&global.root, what).unwrap_or_else(|_| what.to_string())
}

/// Options shared by `create` and `oci-run`.
#[derive(Debug, Args)]
pub struct CreateFlags {
    /// Bundle directory (holds config.json).
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// Write the container init's pid to this file.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket to receive the pty master when process.terminal is true.
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Do not use pivot_root (for a root on a ramfs).
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not create a new session keyring.
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass N extra fds (3..3+N) to the container process.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
}

fn create_options(global: &GlobalOptions, f: &CreateFlags, id: &str) -> Result<CreateOptions> {
    container::validate_id(id)?;
    let bundle = absolute(&f.bundle)?;
    let spec = load_config(&bundle)?;
    let mut o = CreateOptions::new(global.root.clone(), id.to_string(), bundle, spec);
    o.pid_file = f.pid_file.clone();
    o.console_socket = f.console_socket.clone();
    o.no_pivot = f.no_pivot;
    o.no_new_keyring = f.no_new_keyring;
    o.preserve_fds = f.preserve_fds;
    Ok(o)
}

/// Arguments of `create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    flags: CreateFlags,
    /// Accepted for go-runc compatibility (create always returns once the init waits).
    #[arg(short = 'd', long, hide = true)]
    detach: bool,
    /// Container id.
    id: String,
}

/// Runs `create`; returns the exit status.
pub fn create(global: &GlobalOptions, args: CreateArgs) -> u8 {
    log::init(global);
    let r = (|| {
        let o = create_options(global, &args.flags, &args.id)?;
        let c = container::create(o)?;
        log::debug(&format!("created {} with init pid {}", args.id, c.pid));
        Ok(0)
    })();
    finish(global, "create", r)
}

/// Arguments of `start`.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// Container id.
    id: String,
}

/// Runs `start`; returns the exit status.
pub fn start(global: &GlobalOptions, args: StartArgs) -> u8 {
    log::init(global);
    let r = container::start(&global.root, &args.id)
        .map(|_| 0)
        .map_err(Into::into);
    finish(global, "start", r)
}

/// Arguments of `state`.
#[derive(Debug, Args)]
pub struct StateArgs {
    /// Container id.
    id: String,
}

/// The OCI state as runc prints it (without tinibox's front-door labels).
fn oci_state_json(s: &State) -> serde_json::Value {
    serde_json::json!({
        "ociVersion": s.oci_version,
        "id": s.id,
        "pid": s.pid,
        "status": s.status.to_string(),
        "bundle": s.bundle,
        "rootfs": s.rootfs,
        "created": s.created,
        "annotations": s.annotations,
        "owner": s.owner,
    })
}

/// Runs `state`; returns the exit status.
pub fn state(global: &GlobalOptions, args: StateArgs) -> u8 {
    log::init(global);
    let r = (|| {
        let s = container::state(&global.root, &args.id)?;
        println!("{}", serde_json::to_string_pretty(&oci_state_json(&s))?);
        Ok(0)
    })();
    finish(global, "state", r)
}

/// Arguments of `delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Kill the container first if it still runs.
    #[arg(short = 'f', long)]
    force: bool,
    /// Container id.
    id: String,
}

/// Runs `delete`; returns the exit status.
pub fn delete(global: &GlobalOptions, args: DeleteArgs) -> u8 {
    log::init(global);
    let r = match container::delete(&global.root, &args.id, args.force) {
        Ok(()) => Ok(0),
        // Like runc: `delete --force` of a container that is already gone succeeds
        // (containerd's shim deletes again when it cleans up after the task).
        Err(container::ContainerError::NotFound(_)) if args.force => Ok(0),
        Err(e) => Err(e.into()),
    };
    finish(global, "delete", r)
}

/// Output format of `list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum ListFormat {
    /// Aligned columns.
    #[default]
    Table,
    /// A JSON array of states.
    Json,
}

/// Arguments of `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Output format.
    #[arg(short = 'f', long, value_enum, default_value_t = ListFormat::Table)]
    format: ListFormat,
    /// Print ids only.
    #[arg(short = 'q', long)]
    quiet: bool,
}

/// Runs `list`; returns the exit status.
pub fn list(global: &GlobalOptions, args: ListArgs) -> u8 {
    log::init(global);
    let r = (|| {
        let states = container::list(&global.root)?;
        let mut out = String::new();
        if args.quiet {
            for s in &states {
                out.push_str(&format!("{}\n", s.id));
            }
        } else if args.format == ListFormat::Json {
            let v: Vec<_> = states.iter().map(oci_state_json).collect();
            out = serde_json::to_string(&v)? + "\n";
        } else {
            let rows: Vec<[String; 6]> = states
                .iter()
                .map(|s| {
                    [
                        s.id.clone(),
                        s.pid.to_string(),
                        s.status.to_string(),
                        s.bundle.display().to_string(),
                        s.created.clone(),
                        s.owner.clone(),
                    ]
                })
                .collect();
            out = table(
                &["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"],
                &rows,
            );
        }
        std::io::stdout().write_all(out.as_bytes())?;
        Ok(0)
    })();
    finish(global, "list", r)
}

/// Left-aligned columns separated by at least three spaces.
fn table<const N: usize>(head: &[&str; N], rows: &[[String; N]]) -> String {
    let mut w: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.len());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                l.push_str(&format!("{c:<width$}   ", width = w[i]));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(head.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
    out
}

/// Arguments of `exec`.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// A process.json describing the process (`-` for stdin); replaces the command line.
    #[arg(short = 'p', long)]
    process: Option<PathBuf>,
    /// Allocate a pty (the master goes to --console-socket).
    #[arg(short = 't', long)]
    tty: bool,
    /// Unix socket to receive the pty master.
    #[arg(long = "console-socket")]
    console_socket: Option<PathBuf>,
    /// Return once the process runs.
    #[arg(short = 'd', long)]
    detach: bool,
    /// Write the process's pid to this file.
    #[arg(long = "pid-file")]
    pid_file: Option<PathBuf>,
    /// Set an environment variable (NAME=VALUE); repeatable.
    #[arg(short = 'e', long = "env")]
    env: Vec<String>,
    /// Working directory inside the container.
    #[arg(long)]
    cwd: Option<PathBuf>,
    /// User as uid[:gid] (numbers).
    #[arg(short = 'u', long)]
    user: Option<String>,
    /// Additional group ids; repeatable.
    #[arg(short = 'g', long = "additional-gids")]
    additional_gids: Vec<u32>,
    /// Add a capability (e.g. CAP_NET_ADMIN); repeatable.
    #[arg(short = 'c', long = "cap")]
    cap: Vec<String>,
    /// Set no_new_privs for the process.
    #[arg(long = "no-new-privs")]
    no_new_privs: bool,
    /// SELinux label (accepted; SELinux is not supported).
    #[arg(long = "process-label")]
    process_label: Option<String>,
    /// AppArmor profile (accepted; AppArmor is not supported).
    #[arg(long)]
    apparmor: Option<String>,
    /// Pass N extra fds (3..3+N) to the process.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    preserve_fds: u32,
    /// Accepted for runc compatibility (exec into a paused container is refused).
    #[arg(long = "ignore-paused", hide = true)]
    ignore_paused: bool,
    /// Container id.
    id: String,
    /// The command and its arguments (unless --process is given).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

/// Builds the process of `exec`: `--process FILE`, or the container's process with the
/// command line's overrides.
fn exec_process(a: &ExecArgs, rec: &Record) -> Result<Process> {
    if let Some(f) = &a.process {
        if !a.command.is_empty() {
            bail!("give either --process or a command, not both");
        }
        return Ok(container::exec::load_process(f)?);
    }
    if a.command.is_empty() {
        bail!("no command given: use `tinibox exec ID COMMAND [ARG...]` or --process FILE");
    }
    let mut p = rec.spec.process().clone().unwrap_or_default();
    p.set_args(Some(a.command.clone()));
    p.set_terminal(Some(a.tty));
    let mut env = p.env().clone().unwrap_or_default();
    for e in &a.env {
        let key = e.split('=').next().unwrap_or(e);
        env.retain(|x| x.split('=').next() != Some(key));
        env.push(e.clone());
    }
    p.set_env(Some(env));
    if let Some(c) = &a.cwd {
        p.set_cwd(c.clone());
    }
    if let Some(u) = &a.user {
        let (uid, gid) = match u.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (u.as_str(), None),
        };
        let uid: u32 = uid
            .parse()
            .map_err(|_| anyhow!("--user {u:?}: give a numeric uid[:gid]"))?;
        let gid: u32 = match gid {
            Some(g) => g
                .parse()
                .map_err(|_| anyhow!("--user {u:?}: give a numeric uid[:gid]"))?,
            None => 0,
        };
        let mut b = UserBuilder::default().uid(uid).gid(gid);
        if !a.additional_gids.is_empty() {
            b = b.additional_gids(a.additional_gids.clone());
        }
        p.set_user(b.build()?);
    } else if !a.additional_gids.is_empty() {
        let mut user = p.user().clone();
        user.set_additional_gids(Some(a.additional_gids.clone()));
        p.set_user(user);
    }
    if !a.cap.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        for name in &a.cap {
            let full = if name.to_uppercase().starts_with("CAP_") {
                name.to_uppercase()
            } else {
                format!("CAP_{}", name.to_uppercase())
            };
            let cap: Capability = full
                .parse()
                .map_err(|_| anyhow!("--cap {name:?}: unknown capability"))?;
            let add = |set: &Option<oci_spec::runtime::Capabilities>| {
                let mut s = set.clone().unwrap_or_default();
                s.insert(cap);
                Some(s)
            };
            caps.set_bounding(add(caps.bounding()));
            caps.set_effective(add(caps.effective()));
            caps.set_permitted(add(caps.permitted()));
            caps.set_ambient(add(caps.ambient()));
        }
        p.set_capabilities(Some(caps));
    }
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    Ok(p)
}

/// Runs `exec`; returns the exit status (the process's own when not detached).
pub fn exec(global: &GlobalOptions, args: ExecArgs) -> u8 {
    log::init(global);
    let r = (|| {
        if args.process_label.is_some() || args.apparmor.is_some() {
            log::debug("exec: SELinux labels and AppArmor profiles are not supported; ignored");
        }
        let id = resolve_id(global, &args.id);
        container::validate_id(&id)?;
        let rec = Record::load(&global.root, &id)?;
        let process = exec_process(&args, &rec)?;
        // `-t` without a console socket: tinibox holds the pty itself and relays the caller's
        // terminal to it (what a person typing `tinibox exec -t ID sh` wants).
        let relay =
            process.terminal().unwrap_or(false) && args.console_socket.is_none() && !args.detach;
        let (ours, theirs) = if relay {
            let (a, b) = std::os::unix::net::UnixStream::pair()?;
            (Some(a), Some(b))
        } else {
            (None, None)
        };
        let out = container::exec::exec(ExecOptions {
            state_root: global.root.clone(),
            id,
            process,
            console_socket: args.console_socket.clone(),
            console_stream: theirs,
            detach: args.detach || relay,
            pid_file: args.pid_file.clone(),
            preserve_fds: args.preserve_fds,
        })?;
        Ok(match (out, ours) {
            (ExecOutcome::Detached { pid }, Some(sock)) => relay_terminal(&sock, pid)?,
            (ExecOutcome::Detached { .. }, None) => 0,
            (ExecOutcome::Exited { code }, _) => code.clamp(0, 255) as u8,
        })
    })();
    finish(global, "exec", r)
}

/// Relays the caller's terminal to the pty master received on `sock` until process `pid`
/// (our child) exits; returns its exit status.
fn relay_terminal(sock: &std::os::unix::net::UnixStream, pid: i32) -> Result<u8> {
    use super::docker::tty;
    use std::os::fd::{AsFd, AsRawFd};
    let master = tty::receive_master(sock.as_fd()).map_err(|e| anyhow!(e))?;
    let m = master.as_raw_fd();
    tty::copy_winsize(libc::STDIN_FILENO, m);
    let raw = tty::RawMode::enable(libc::STDIN_FILENO);
    let mut stdin_open = true;
    let code = loop {
        let mut st = 0;
        // SAFETY: non-blocking wait for our own child.
        let r = unsafe { libc::waitpid(pid, &mut st, libc::WNOHANG) };
        if r == pid || r < 0 {
            tty::drain(m, libc::STDOUT_FILENO);
            break if r < 0 {
                255
            } else if libc::WIFEXITED(st) {
                libc::WEXITSTATUS(st)
            } else {
                128 + libc::WTERMSIG(st)
            };
        }
        let mut fds = [
            libc::pollfd {
                fd: m,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: if stdin_open { libc::STDIN_FILENO } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: two valid pollfds; a short timeout so the child's exit is noticed.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, 100) };
        if n <= 0 {
            continue;
        }
        if fds[0].revents != 0 && !tty::pump(m, libc::STDOUT_FILENO) {
            // Every slave fd is closed: the process is exiting.
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        if fds[1].revents != 0 && !tty::pump(libc::STDIN_FILENO, m) {
            stdin_open = false;
        }
    };
    drop(raw);
    Ok(code.clamp(0, 255) as u8)
}

/// Arguments of `pause`.
#[derive(Debug, Args)]
pub struct PauseArgs {
    /// Container id.
    id: String,
}

/// Runs `pause`; returns the exit status.
pub fn pause(global: &GlobalOptions, args: PauseArgs) -> u8 {
    log::init(global);
    let r = container::pause(&global.root, &resolve_id(global, &args.id))
        .map(|_| 0)
        .map_err(Into::into);
    finish(global, "pause", r)
}

/// Arguments of `resume`.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// Container id.
    id: String,
}

/// Runs `resume`; returns the exit status.
pub fn resume(global: &GlobalOptions, args: ResumeArgs) -> u8 {
    log::init(global);
    let r = container::resume(&global.root, &resolve_id(global, &args.id))
        .map(|_| 0)
        .map_err(Into::into);
    finish(global, "resume", r)
}

/// Arguments of `update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// A LinuxResources JSON file (`-` for stdin); the flags below are applied on top.
    #[arg(short = 'r', long)]
    resources: Option<PathBuf>,
    /// Memory limit (bytes, or with a unit: 32m, 1g).
    #[arg(short = 'm', long)]
    memory: Option<String>,
    /// Memory soft limit.
    #[arg(long = "memory-reservation")]
    memory_reservation: Option<String>,
    /// Memory plus swap limit (-1: unlimited).
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    memory_swap: Option<String>,
    /// Kernel memory limit (accepted, ignored like runc 1.1 on cgroup v2).
    #[arg(long = "kernel-memory", hide = true)]
    kernel_memory: Option<String>,
    /// Maximum number of tasks (-1: unlimited).
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pids_limit: Option<i64>,
    /// CFS quota in microseconds per period (-1: unlimited).
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    cpu_quota: Option<i64>,
    /// CFS period in microseconds.
    #[arg(long = "cpu-period")]
    cpu_period: Option<u64>,
    /// CPU shares (relative weight).
    #[arg(long = "cpu-shares")]
    cpu_shares: Option<u64>,
    /// Realtime period in microseconds.
    #[arg(long = "cpu-rt-period")]
    cpu_rt_period: Option<u64>,
    /// Realtime runtime in microseconds.
    #[arg(long = "cpu-rt-runtime")]
    cpu_rt_runtime: Option<i64>,
    /// CPUs allowed (e.g. 0-1).
    #[arg(long = "cpuset-cpus")]
    cpuset_cpus: Option<String>,
    /// Memory nodes allowed.
    #[arg(long = "cpuset-mems")]
    cpuset_mems: Option<String>,
    /// Block IO weight (10-1000).
    #[arg(long = "blkio-weight")]
    blkio_weight: Option<u16>,
    /// Container id.
    id: String,
}

fn size(flag: &str, v: &str) -> Result<i64> {
    if v == "-1" {
        return Ok(-1);
    }
    Ok(crate::spec::values::parse_size(flag, v)?)
}

/// The resources asked for by `update`'s file and flags.
fn update_resources(a: &UpdateArgs) -> Result<LinuxResources> {
    let mut res: LinuxResources = match &a.resources {
        None => LinuxResources::default(),
        Some(p) => {
            let data = if p == Path::new("-") {
                let mut s = String::new();
                std::io::stdin().read_to_string(&mut s)?;
                s
            } else {
                std::fs::read_to_string(p).with_context(|| format!("read {}", p.display()))?
            };
            serde_json::from_str(&data)
                .map_err(|e| anyhow!("--resources {}: invalid resources JSON: {e}", p.display()))?
        }
    };
    let mut mem = res.memory().unwrap_or_default();
    let mut mem_set = res.memory().is_some();
    if let Some(v) = &a.memory {
        mem.set_limit(Some(size("--memory", v)?));
        mem_set = true;
    }
    if let Some(v) = &a.memory_reservation {
        mem.set_reservation(Some(size("--memory-reservation", v)?));
        mem_set = true;
    }
    if let Some(v) = &a.memory_swap {
        mem.set_swap(Some(size("--memory-swap", v)?));
        mem_set = true;
    }
    if mem_set {
        res.set_memory(Some(mem));
    }
    if let Some(v) = a.pids_limit {
        let mut p = res.pids().unwrap_or_default();
        p.set_limit(v);
        res.set_pids(Some(p));
    }
    let cpu_flags = a.cpu_quota.is_some()
        || a.cpu_period.is_some()
        || a.cpu_shares.is_some()
        || a.cpu_rt_period.is_some()
        || a.cpu_rt_runtime.is_some()
        || a.cpuset_cpus.is_some()
        || a.cpuset_mems.is_some();
    if cpu_flags {
        let mut c = res.cpu().clone().unwrap_or_default();
        if a.cpu_quota.is_some() {
            c.set_quota(a.cpu_quota);
        }
        if a.cpu_period.is_some() {
            c.set_period(a.cpu_period);
        }
        if a.cpu_shares.is_some() {
            c.set_shares(a.cpu_shares);
        }
        if a.cpu_rt_period.is_some() {
            c.set_realtime_period(a.cpu_rt_period);
        }
        if a.cpu_rt_runtime.is_some() {
            c.set_realtime_runtime(a.cpu_rt_runtime);
        }
        if a.cpuset_cpus.is_some() {
            c.set_cpus(a.cpuset_cpus.clone());
        }
        if a.cpuset_mems.is_some() {
            c.set_mems(a.cpuset_mems.clone());
        }
        res.set_cpu(Some(c));
    }
    if let Some(w) = a.blkio_weight {
        let mut b = res.block_io().clone().unwrap_or_default();
        b.set_weight(Some(w));
        res.set_block_io(Some(b));
    }
    Ok(res)
}

/// Runs `update`; returns the exit status.
pub fn update(global: &GlobalOptions, args: UpdateArgs) -> u8 {
    log::init(global);
    let r = (|| {
        if args.kernel_memory.is_some() {
            log::warn("update: --kernel-memory is ignored");
        }
        let res = update_resources(&args)?;
        container::update(&global.root, &resolve_id(global, &args.id), &res)?;
        Ok(0)
    })();
    finish(global, "update", r)
}

/// Arguments of `events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Print one stats event and exit.
    #[arg(long)]
    stats: bool,
    /// Interval between stats events (e.g. 5s, 500ms).
    #[arg(long, default_value = "5s")]
    interval: String,
    /// Container id.
    id: String,
}

/// One stats event in runc's shape (the fields tinibox's cgroups report).
fn stats_event(global: &GlobalOptions, id: &str) -> Result<Option<serde_json::Value>> {
    let rec = Record::load(&global.root, id)?;
    let dir = container::container_dir(&global.root, id);
    if !rec.init_alive() {
        return Ok(None);
    }
    let _ = dir;
    let s = rec.cgroup.stats();
    Ok(Some(serde_json::json!({
        "type": "stats",
        "id": id,
        "data": {
            "cpu": {"usage": {"total": s.cpu_usage_ns.unwrap_or(0)}},
            "memory": {
                "usage": {"usage": s.memory_usage.unwrap_or(0),
                          "limit": s.memory_limit.unwrap_or(u64::MAX)},
                "oom_kills": s.oom_kills.unwrap_or(0)
            },
            "pids": {"current": s.pids_current.unwrap_or(0)}
        }
    })))
}

/// Runs `events`; returns the exit status.
pub fn events(global: &GlobalOptions, args: EventsArgs) -> u8 {
    log::init(global);
    let r = (|| {
        container::validate_id(&args.id)?;
        let interval = humantime::parse_duration(&args.interval)
            .map_err(|e| anyhow!("--interval {:?}: {e}", args.interval))?;
        loop {
            match stats_event(global, &args.id)? {
                Some(ev) => println!("{ev}"),
                None if args.stats => bail!("container {:?} is not running", args.id),
                None => return Ok(0),
            }
            if args.stats {
                return Ok(0);
            }
            std::thread::sleep(interval);
        }
    })();
    finish(global, "events", r)
}

/// Arguments of `features`.
#[derive(Debug, Args)]
pub struct FeaturesArgs {}

/// The runtime-spec "features" document of this runtime.
pub fn features_json() -> serde_json::Value {
    let caps: Vec<String> = caps::all()
        .iter()
        .map(|c| c.to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut annotations = BTreeMap::new();
    annotations.insert(
        "org.tinilinux.tinibox.version".to_string(),
        env!("CARGO_PKG_VERSION").to_string(),
    );
    annotations.insert(
        "org.tinilinux.tinibox.seccomp".to_string(),
        "pure-Rust BPF compiler".to_string(),
    );
    serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.1.0",
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer",
                  "poststart", "poststop"],
        "mountOptions": ["async", "atime", "bind", "defaults", "dev", "diratime", "dirsync",
            "exec", "iversion", "lazytime", "loud", "mand", "noatime", "nodev", "nodiratime",
            "noexec", "noiversion", "nolazytime", "nomand", "norelatime", "nostrictatime",
            "nosuid", "private", "rbind", "relatime", "remount", "ro", "rprivate", "rshared",
            "rslave", "runbindable", "rw", "shared", "silent", "slave", "strictatime", "suid",
            "sync", "unbindable"],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"],
            "capabilities": caps,
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false,
                       "rdma": false},
            "seccomp": {
                "enabled": true,
                "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",
                    "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",
                    "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"],
                "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE",
                    "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
                "archs": ["SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"],
                "knownFlags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                    "SECCOMP_FILTER_FLAG_TSYNC"],
                "supportedFlags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                    "SECCOMP_FILTER_FLAG_TSYNC"]
            },
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
            "intelRdt": {"enabled": false}
        },
        "annotations": annotations
    })
}

/// Runs `features`; returns the exit status.
pub fn features(global: &GlobalOptions, _args: FeaturesArgs) -> u8 {
    log::init(global);
    let r = (|| {
        println!("{}", serde_json::to_string_pretty(&features_json())?);
        Ok(0)
    })();
    finish(global, "features", r)
}

/// Arguments of `spec`.
#[derive(Debug, Args)]
pub struct SpecArgs {
    /// Where to write config.json (default: the current directory).
    #[arg(short = 'b', long, default_value = ".")]
    bundle: PathBuf,
}

/// Runs `spec`; returns the exit status.
pub fn spec(global: &GlobalOptions, args: SpecArgs) -> u8 {
    log::init(global);
    let r = (|| {
        let target = args.bundle.join("config.json");
        if target.exists() {
            bail!(
                "{} exists already: remove it or choose another --bundle",
                target.display()
            );
        }
        let json = crate::spec::to_json(&crate::spec::default_spec()?)?;
        // Write a temp file, then link it into place: never overwrites, never half-written.
        let tmp = args
            .bundle
            .join(format!(".config.json.tmp{}", std::process::id()));
        std::fs::write(&tmp, json + "\n")
            .with_context(|| format!("cannot write in {}", args.bundle.display()))?;
        let linked = std::fs::hard_link(&tmp, &target);
        let _ = std::fs::remove_file(&tmp);
        linked.with_context(|| format!("cannot create {}", target.display()))?;
        Ok(0)
    })();
    finish(global, "spec", r)
}

/// Arguments of `oci-run` (runc's `run --bundle DIR ID`).
#[derive(Debug, Args)]
pub struct OciRunArgs {
    #[command(flatten)]
    flags: CreateFlags,
    /// Return once the container runs (do not wait, do not delete).
    #[arg(short = 'd', long)]
    detach: bool,
    /// Keep the container's state after it exits (do not delete).
    #[arg(long)]
    keep: bool,
    /// Container id.
    id: String,
}

/// Waits for the init (our child through CLONE_PARENT) and forwards termination signals.
fn wait_init(pid: i32) -> i32 {
    use nix::sys::signal::{SigSet, SigmaskHow, Signal};
    let mut set = SigSet::empty();
    for s in crate::linux::FORWARDED_SIGNALS {
        set.add(s);
    }
    set.add(Signal::SIGCHLD);
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None);
    let code = loop {
        let mut st = 0;
        // SAFETY: non-blocking wait for our child.
        let r = unsafe { libc::waitpid(pid, &mut st, libc::WNOHANG) };
        if r < 0 {
            break 255;
        }
        if r == pid {
            break if libc::WIFEXITED(st) {
                libc::WEXITSTATUS(st)
            } else {
                128 + libc::WTERMSIG(st)
            };
        }
        match set.wait() {
            Ok(Signal::SIGCHLD) | Err(_) => {}
            Ok(sig) => {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
            }
        }
    };
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&set), None);
    code
}

/// Runs `oci-run`; returns the exit status (the container's, when not detached).
pub fn oci_run(global: &GlobalOptions, args: OciRunArgs) -> u8 {
    log::init(global);
    let r = (|| {
        let mut o = create_options(global, &args.flags, &args.id)?;
        // process.terminal without a console socket: keep the pty here and relay the
        // caller's terminal to it, as `runc run` does.
        let terminal = o
            .spec
            .process()
            .as_ref()
            .and_then(|p| p.terminal())
            .unwrap_or(false);
        let relay = terminal && o.console_socket.is_none() && !args.detach;
        let ours = if relay {
            let (a, b) = std::os::unix::net::UnixStream::pair()?;
            o.console_socket_fd = Some(b.into());
            Some(a)
        } else {
            None
        };
        let c = container::create(o)?;
        if let Err(e) = container::start(&global.root, &args.id) {
            let _ = container::delete(&global.root, &args.id, true);
            return Err(e.into());
        }
        if args.detach {
            return Ok(0);
        }
        let code = match &ours {
            Some(sock) => relay_terminal(sock, c.pid)? as i32,
            None => wait_init(c.pid),
        };
        if !args.keep {
            container::delete(&global.root, &args.id, true)?;
        }
        Ok(code.clamp(0, 255) as u8)
    })();
    finish(global, "run", r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_validation_names_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let b = dir.path();
        let err = |b: &Path| format!("{:#}", load_config(b).unwrap_err());
        assert!(err(b).contains("cannot read"));
        std::fs::write(b.join("config.json"), "{not json").unwrap();
        assert!(err(b).contains("not valid JSON"));
        std::fs::write(b.join("config.json"), r#"{"root":{"path":"rootfs"}}"#).unwrap();
        assert!(err(b).contains("ociVersion is missing"));
        let good = r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
            "process":{"cwd":"/","args":["sh"],"user":{"uid":0,"gid":0}}}"#;
        std::fs::write(b.join("config.json"), good).unwrap();
        assert!(err(b).contains("rootfs"), "{}", err(b));
        std::fs::create_dir(b.join("rootfs")).unwrap();
        assert!(load_config(b).is_ok());
        let bad_ns = r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
            "process":{"cwd":"/","args":["sh"],"user":{"uid":0,"gid":0}},
            "linux":{"namespaces":[{"type":"bogus"}]}}"#;
        std::fs::write(b.join("config.json"), bad_ns).unwrap();
        assert!(err(b).contains("bogus"), "{}", err(b));
    }

    #[test]
    fn features_lists_seccomp_and_hooks() {
        let f = features_json();
        assert_eq!(f["linux"]["seccomp"]["enabled"], true);
        assert!(f["hooks"].as_array().unwrap().len() == 6);
        assert!(f["linux"]["capabilities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "CAP_SYS_ADMIN"));
    }

    #[test]
    fn table_aligns_columns() {
        let t = table(
            &["ID", "PID"],
            &[
                ["a".to_string(), "1".to_string()],
                ["bbbb".to_string(), "22".to_string()],
            ],
        );
        assert_eq!(t, "ID     PID\na      1\nbbbb   22\n");
    }
}
