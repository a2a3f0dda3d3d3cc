//! Handlers for the docker-like container commands (`run`, `ps`, `stop`, `kill`, `rm`, `logs`)
//! and `check`: their arguments here, their logic in the files under `docker/`.
//!
//! Exit codes (Docker's convention): the container's own status for `run`; 125 when tinibox
//! fails; 126/127 when the command cannot be executed / is not found. The runc forms that share
//! a name (`ps ID --format`, `kill ID SIGNAL`, `kill --all`) exit 1 on failure, like runc.
//! Must not build specs (that is `crate::spec`) or touch container internals (`crate::container`).

mod check;
mod detach;
mod front;
mod manage;
pub mod names;
mod run;
pub mod signals;

use std::path::PathBuf;

use clap::Args;

use super::GlobalOptions;
use crate::spec::RunFlags;

/// Arguments of `run`.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Print help (`-h` is `--hostname` here, as in Docker).
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// The docker-like flags.
    #[command(flatten)]
    pub flags: RunFlags,
    /// Pull the image from its registry: when missing from the store, always, or never.
    #[cfg(feature = "registry")]
    #[arg(long, value_enum, default_value_t = super::registry::PullPolicy::Missing)]
    pub pull: super::registry::PullPolicy,
    /// A rootfs directory, or an image reference from tinibox's store.
    #[arg(value_name = "ROOTFS|IMAGE")]
    pub image: String,
    /// The command and its arguments (default: the image's entrypoint and cmd).
    #[arg(
        value_name = "COMMAND",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<String>,
}

/// Runs `run`; returns the exit status.
pub fn run(global: &GlobalOptions, #[allow(unused_mut)] mut args: RunArgs) -> u8 {
    #[cfg(feature = "registry")]
    match super::registry::ensure_image(global, &args.image, args.pull) {
        Ok(image) => args.image = image,
        Err((code, message)) => {
            eprintln!("tinibox: {message}");
            return code;
        }
    }
    let prepared = match front::prepare(global, &args) {
        Ok(p) => p,
        Err(f) => {
            eprintln!("tinibox: {}", f.message);
            return f.code;
        }
    };
    if args.flags.detach {
        detach::run(global, &args, prepared)
    } else {
        run::run(global, &args, prepared)
    }
}

/// Output format of the runc form `ps ID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum PsFormat {
    /// `ps -ef` lines of the container's processes.
    #[default]
    Table,
    /// A JSON array of the container's pids.
    Json,
}

/// Arguments of `ps`.
#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show stopped containers too.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Print ids only.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// runc form: format of the process list of container ID.
    #[arg(short = 'f', long, value_enum)]
    pub format: Option<PsFormat>,
    /// runc form: list the processes of this container (name or id).
    pub id: Option<String>,
}

/// Runs `ps`; returns the exit status.
pub fn ps(global: &GlobalOptions, args: PsArgs) -> u8 {
    manage::ps(global, args)
}

/// Arguments of `stop`.
#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait after SIGTERM before SIGKILL.
    #[arg(short = 't', long = "time", default_value_t = 10)]
    pub time: u64,
    /// Containers (names or ids).
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// Runs `stop`; returns the exit status.
pub fn stop(global: &GlobalOptions, args: StopArgs) -> u8 {
    manage::stop(global, args)
}

/// Arguments of `kill` (docker form `kill [-s SIG] NAME…`, runc form `kill [--all] ID [SIGNAL]`).
#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal to send (name like TERM/SIGTERM or number); docker's default is KILL.
    #[arg(short = 's', long = "signal")]
    pub signal: Option<String>,
    /// runc form: signal every process of the container, not only its init.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Container (name or id), optionally followed by a signal (runc form).
    #[arg(required = true, num_args = 1..=2, value_name = "CONTAINER [SIGNAL]")]
    pub target: Vec<String>,
}

/// Runs `kill`; returns the exit status.
pub fn kill(global: &GlobalOptions, args: KillArgs) -> u8 {
    manage::kill(global, args)
}

/// Arguments of `rm`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Kill running containers first.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Containers (names or ids).
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// Runs `rm`; returns the exit status.
pub fn rm(global: &GlobalOptions, args: RmArgs) -> u8 {
    manage::rm(global, args)
}

/// Arguments of `logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Keep printing new output until the container stops.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Container (name or id).
    pub container: String,
}

/// Runs `logs`; returns the exit status.
pub fn logs(global: &GlobalOptions, args: LogsArgs) -> u8 {
    manage::logs(global, args)
}

/// Arguments of `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Check this kernel config file instead of the running kernel's.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// Runs `check`; returns the exit status (1 when a required feature is missing).
pub fn check(_global: &GlobalOptions, args: CheckArgs) -> u8 {
    check::run(args.config.as_deref())
}
