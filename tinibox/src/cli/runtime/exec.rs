//! `exec`: a new process in a running container, from `--process` or flags. Owns that command's flags and output; the work is [`crate::container`]'s.

use std::path::PathBuf;

use anyhow::{bail, Result};
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
/// command line's overrides ([`crate::spec::process::exec_process`]).
fn exec_process(a: &ExecArgs, rec: &Record) -> Result<Process> {
    if let Some(f) = &a.process {
        if !a.command.is_empty() {
            bail!("give either --process or a command, not both");
        }
        return Ok(container::exec::load_process(f)?);
    }
    let base = rec.spec.process().clone().unwrap_or_default();
    Ok(exec_process_from(
        &base,
        &ExecFlags {
            args: a.command.clone(),
            tty: a.tty,
            env: a.env.clone(),
            cwd: a.cwd.clone(),
            user: a.user.clone(),
            additional_gids: a.additional_gids.clone(),
            caps: a.cap.clone(),
            no_new_privs: a.no_new_privs,
        },
    )?)
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
