//! `exec`: a new process in a running container, from `--process` or flags. Owns that
//! command's flags and output; the work is [`crate::container`]'s.
//!
//! Two forms share the flags and the engine path ([`crate::container::exec`]):
//! - runc's, what engines call: `exec --process FILE [--console-socket S] [-d] [--pid-file F] ID`
//!   (also `exec [--cwd D] [-u UID[:GID]] [-e K=V] ID CMD…`); stdin is passed through;
//! - Docker's, what people type: `exec [-i] [-t] [-d] [-e K[=V]] [--env-file F] [-w DIR]
//!   [-u USER[:GROUP]] [--privileged] NAME CMD…`. The docker form is any call without
//!   `--process` and `--console-socket`: `-u` then takes names (the container's
//!   /etc/passwd and /etc/group), `-e KEY` copies tinibox's own value, and stdin is
//!   /dev/null unless `-i` or `-t` is given (`-t` relays the caller's terminal both ways, as
//!   runc's foreground `-t` does).
//!
//! Exit status: the process's own; 126 when it cannot be executed, 127 when not found, 1
//! when tinibox fails (no such container, not running), 125 for a bad flag in the docker
//! form (see [`crate::cli::main`]).

use std::path::PathBuf;

use anyhow::{anyhow, bail, Result};
use clap::Args;
use oci_spec::runtime::Process;

use super::{finish, relay_terminal, resolve_id};
use crate::cli::{log, GlobalOptions};
use crate::container::{
    self,
    exec::{ExecOptions, ExecOutcome},
    state::Record,
};
use crate::spec::process::{exec_process as exec_process_from, ExecFlags};
use crate::spec::values;

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
    /// Read environment variables from a file (KEY=VALUE lines, # comments; docker form).
    #[arg(long = "env-file", value_name = "FILE")]
    env_file: Vec<PathBuf>,
    /// Working directory inside the container (`-w`/`--workdir` in Docker's words).
    #[arg(long, short = 'w', visible_alias = "workdir", value_name = "DIR")]
    cwd: Option<PathBuf>,
    /// User: uid[:gid] (runc form), or USER[:GROUP] names from the container's /etc files.
    #[arg(short = 'u', long)]
    user: Option<String>,
    /// Keep stdin open (docker form; without it stdin is /dev/null unless -t).
    #[arg(short = 'i', long)]
    interactive: bool,
    /// Give the process every capability (docker form).
    #[arg(long)]
    privileged: bool,
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
/// command line's overrides ([`crate::spec::process::exec_process`]).
fn exec_process(a: &ExecArgs, rec: &Record) -> Result<Process> {
    if let Some(f) = &a.process {
        if !a.command.is_empty() {
            bail!("give either --process or a command, not both");
        }
        return Ok(container::exec::load_process(f)?);
    }
    let docker = a.docker_form();
    let mut env = Vec::new();
    let lookup = |k: &str| std::env::var(k).ok();
    if docker {
        let own: std::collections::HashMap<String, String> = std::env::vars().collect();
        for f in &a.env_file {
            let text = std::fs::read_to_string(f).map_err(|e| {
                anyhow!(
                    "--env-file: cannot read {}: {e} — check the path",
                    f.display()
                )
            })?;
            env.extend(values::parse_env_file(&text, |k| {
                own.get(k).map(String::as_str)
            })?);
        }
        for e in &a.env {
            let key = e.split('=').next().unwrap_or("");
            let value = lookup(key);
            if let Some(e) = values::env_entry("--env", e, |_| value.as_deref())? {
                env.push(e);
            }
        }
    } else {
        env.extend(a.env.iter().cloned());
    }
    let (passwd, group) = match (&a.user, docker) {
        (Some(_), true) => (
            container_file(rec.state.pid, "/etc/passwd"),
            container_file(rec.state.pid, "/etc/group"),
        ),
        _ => (String::new(), String::new()),
    };
    let mut caps = a.cap.clone();
    if a.privileged {
        caps.push("ALL".into());
    }
    let base = rec.spec.process().clone().unwrap_or_default();
    Ok(exec_process_from(
        &base,
        &ExecFlags {
            args: a.command.clone(),
            tty: a.tty,
            env,
            cwd: a.cwd.clone(),
            user: a.user.clone(),
            names: docker,
            passwd,
            group,
            additional_gids: a.additional_gids.clone(),
            caps,
            no_new_privs: a.no_new_privs,
        },
    )?)
}

/// A small text file of the running container (its /etc/passwd or /etc/group), looked up
/// inside its root (symlinks cannot lead out); empty when missing.
fn container_file(pid: i32, path: &str) -> String {
    use std::io::Read;
    let Ok(root) = std::fs::File::open(format!("/proc/{pid}/root")) else {
        return String::new();
    };
    let Ok(fd) = crate::linux::safe_path::open_in_root(
        std::os::fd::AsRawFd::as_raw_fd(&root),
        std::path::Path::new(path),
        libc::O_RDONLY,
    ) else {
        return String::new();
    };
    let mut text = String::new();
    let _ = std::fs::File::from(fd)
        .take(4 << 20)
        .read_to_string(&mut text);
    text
}

impl ExecArgs {
    /// Docker's form: neither `--process` nor `--console-socket` (what engines pass).
    fn docker_form(&self) -> bool {
        self.process.is_none() && self.console_socket.is_none()
    }
}

/// Points our stdin at /dev/null (the process inherits it).
fn stdin_from_null() {
    if let Ok(null) = std::fs::File::open("/dev/null") {
        // SAFETY: dup2 onto fd 0 of our own process.
        unsafe {
            libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), libc::STDIN_FILENO);
        }
    }
}

/// Runs `exec`; returns the exit status (the process's own when not detached).
pub fn exec(global: &GlobalOptions, args: ExecArgs) -> u8 {
    log::init(global);
    if args.docker_form()
        && args.interactive
        && args.tty
        && !crate::cli::docker::stdin_is_a_terminal()
    {
        eprintln!("tinibox: {}", crate::cli::docker::NOT_A_TTY);
        return 1;
    }
    let r = (|| {
        if args.process_label.is_some() || args.apparmor.is_some() {
            log::debug("exec: SELinux labels and AppArmor profiles are not supported; ignored");
        }
        let id = resolve_id(global, &args.id);
        container::validate_id(&id)?;
        super::check_preserve_fds(args.preserve_fds)?;
        let rec = Record::load(&global.root, &id)?;
        let process = exec_process(&args, &rec)?;
        if args.docker_form() && !args.interactive && !args.tty {
            stdin_from_null();
        }
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
        // Held from before the process exists until it is waited for: a signal meanwhile is
        // forwarded once it runs, and none ends tinibox (see container::Signals).
        let signals = if args.detach {
            None
        } else {
            Some(container::Signals::hold()?)
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
            (ExecOutcome::Detached { pid }, Some(sock)) => match &signals {
                Some(held) => relay_terminal(&sock, pid, held)?,
                None => 0,
            },
            (ExecOutcome::Detached { .. }, None) => 0,
            (ExecOutcome::Exited { code }, _) => code.clamp(0, 255) as u8,
        })
    })();
    finish(global, "exec", r)
}
