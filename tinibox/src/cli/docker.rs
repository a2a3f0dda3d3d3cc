//! Handlers for the docker-like container commands (`run`, `ps`, `stop`, `kill`, `rm`, `logs`)
//! and `check`: their arguments here, their logic in the files under `docker/`.
//!
//! Exit codes (Docker's convention): the container's own status for `run`; 125 when tinibox
//! fails or refuses a flag (a missing argument is 1, as Docker's CLI); 126/127 when the
//! command cannot be executed / is not found; 1 for what Docker's daemon refuses (`No such
//! container: X`, a container in the wrong state). The runc forms that share a name (`ps ID
//! --format`, `kill ID SIGNAL`, `kill --all`) exit 1 on failure, like runc.
//! Must not build specs (that is `crate::spec`) or touch container internals (`crate::container`).

pub mod api;
mod check;
mod control;
mod copy;
mod copy_tar;
mod detach;
mod disk;
mod disk_verbose;
mod duration;
mod front;
mod health;
mod inspect;
mod listing;
mod logs;
mod logstore;
mod manage;
pub mod meta;
pub mod names;
mod policy;
mod run;
pub mod signals;
mod start;
mod stats;
pub mod template;
pub mod usage;
mod view;

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
    /// Set by `create` (not a flag): the container is made but not run.
    #[arg(skip)]
    pub create: bool,
}

/// Runs `create` (Docker's form, `run`'s flags): makes the container in state `created`
/// without running it and prints its id; `start` runs it. Exit status 0; 1 when the
/// container cannot be made (a name taken, no such image: Docker's daemon errors; a flag
/// the CLI refuses is 125 before this runs).
pub fn create(global: &GlobalOptions, #[allow(unused_mut)] mut args: RunArgs) -> u8 {
    args.create = true;
    #[cfg(feature = "registry")]
    match super::registry::ensure_image(global, &args.image, args.pull) {
        Ok(image) => args.image = image,
        Err((_, message)) => {
            eprintln!("tinibox: {message}");
            return 1;
        }
    }
    match front::prepare(global, &args).and_then(front::park) {
        Ok(id) => {
            println!("{id}");
            0
        }
        Err(f) => {
            eprintln!("tinibox: {}", f.message);
            1
        }
    }
}

/// Arguments of `start`: Docker's `start [-a] [-i] NAME…`, or runc's `start ID` (one exact
/// id of a container made by runc's `create --bundle`, with no flags).
#[derive(Debug, Args)]
pub struct StartArgs {
    /// Attach: stay in the foreground with the container's output, and exit with its status.
    #[arg(short = 'a', long)]
    pub attach: bool,
    /// Connect standard input (for a container created with -i); implies --attach.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Containers (names or ids).
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// Runs `start`: the runc form for a container runc's `create` left waiting, else Docker's.
pub fn start(global: &GlobalOptions, args: StartArgs) -> u8 {
    if let [one] = args.containers.as_slice() {
        if !args.attach && !args.interactive && start::is_runc_form(global, one) {
            return super::runtime::start(global, super::runtime::StartArgs { id: one.clone() });
        }
    }
    start::run(global, args)
}

/// Runs `run`; returns the exit status.
pub fn run(global: &GlobalOptions, #[allow(unused_mut)] mut args: RunArgs) -> u8 {
    if args.flags.interactive && args.flags.tty && !stdin_is_a_terminal() {
        eprintln!("tinibox: {NOT_A_TTY}");
        return 1;
    }
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

/// Arguments of `ps` (docker form `ps [-a] [-q] [--filter K=V] [--format T]`, runc form
/// `ps [-f table|json] ID`).
#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show stopped containers too.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Print ids only.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Show full ids and commands.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Filter: status=, name=, label=KEY[=VALUE], ancestor=IMAGE, id=, exited=N (repeatable).
    #[arg(long = "filter", value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
    /// `-f`: a filter (docker form), or with ID the process list's format, table or json (runc form).
    #[arg(short = 'f', value_name = "FILTER|FORMAT")]
    pub f: Vec<String>,
    /// Go-template subset (`table {{.ID}}\t{{.Names}}`, `{{.Status}}`, `json`); with ID, runc's table|json.
    #[arg(long)]
    pub format: Option<String>,
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
    /// Seconds to wait after the stop signal before SIGKILL (default: --stop-timeout, else
    /// 10); a negative number waits for as long as the container runs, as Docker's -1.
    #[arg(short = 't', long = "time", allow_negative_numbers = true)]
    pub time: Option<i64>,
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

/// Arguments of `inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Print each object through a Go-template subset: {{.State.Pid}}, {{json .Config}},
    /// {{index .Config.Labels "k"}}, {{join .Args " "}}.
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    /// Only look for this kind of object: container or image.
    #[arg(long = "type", value_name = "container|image")]
    pub kind: Option<String>,
    /// Containers (names or ids) or images.
    #[arg(required = true, value_name = "NAME|IMAGE")]
    pub targets: Vec<String>,
}

/// Runs `inspect`; returns the exit status (1 when an object is missing, as Docker).
pub fn inspect(global: &GlobalOptions, args: InspectArgs) -> u8 {
    inspect::run(global, args)
}

/// Arguments of `wait`.
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Containers (names or ids).
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// Runs `wait`: prints each container's exit code once it stopped.
pub fn wait(global: &GlobalOptions, args: WaitArgs) -> u8 {
    control::wait(global, &args.containers)
}

/// Arguments of `restart`.
#[derive(Debug, Args)]
pub struct RestartArgs {
    /// Seconds to wait after the stop signal before SIGKILL (default: --stop-timeout, else
    /// 10); a negative number waits for as long as the container runs, as Docker's -1.
    #[arg(short = 't', long = "time", allow_negative_numbers = true)]
    pub time: Option<i64>,
    /// Containers (names or ids).
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// Runs `restart`: stop, then run again detached.
pub fn restart(global: &GlobalOptions, args: RestartArgs) -> u8 {
    control::restart(global, args.time, &args.containers)
}

/// Arguments of `unpause`.
#[derive(Debug, Args)]
pub struct UnpauseArgs {
    /// Containers (names or ids).
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// Runs `unpause`.
pub fn unpause(global: &GlobalOptions, args: UnpauseArgs) -> u8 {
    control::unpause(global, &args.containers)
}

/// Arguments of `rename`.
#[derive(Debug, Args)]
pub struct RenameArgs {
    /// The container (name or id).
    pub container: String,
    /// Its new name.
    pub new_name: String,
}

/// Runs `rename`.
pub fn rename(global: &GlobalOptions, args: RenameArgs) -> u8 {
    control::rename(global, &args.container, &args.new_name)
}

/// Arguments of `top`.
#[derive(Debug, Args)]
pub struct TopArgs {
    /// The container (name or id).
    pub container: String,
    /// Options for the host's ps (default `-ef`), as Docker passes them: `-o pid,comm`, `aux`.
    #[arg(
        value_name = "PS OPTIONS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub ps_options: Vec<String>,
}

/// Runs `top`.
pub fn top(global: &GlobalOptions, args: TopArgs) -> u8 {
    control::top(global, &args.container, &args.ps_options)
}

/// Arguments of `cp`.
#[derive(Debug, Args)]
pub struct CpArgs {
    /// NAME:PATH, a host path, or `-` (a tar stream read from stdin).
    pub source: String,
    /// NAME:PATH, a host path, or `-` (a tar stream written to stdout).
    pub destination: String,
}

/// Runs `cp`.
pub fn cp(global: &GlobalOptions, args: CpArgs) -> u8 {
    copy::run(global, &args.source, &args.destination)
}

/// `container SUBCOMMAND`.
#[derive(Debug, Args)]
pub struct ContainerArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ContainerCommand,
}

/// Subcommands of `container`.
#[derive(Debug, clap::Subcommand)]
pub enum ContainerCommand {
    /// Remove every stopped container.
    Prune {
        /// Do not ask for confirmation.
        #[arg(short = 'f', long)]
        force: bool,
    },
}

/// Runs `container …`.
pub fn container(global: &GlobalOptions, args: ContainerArgs) -> u8 {
    match args.command {
        ContainerCommand::Prune { force } => control::prune(global, force),
    }
}

/// `system SUBCOMMAND`.
#[derive(Debug, Args)]
pub struct SystemArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: SystemCommand,
}

/// Subcommands of `system`.
#[derive(Debug, clap::Subcommand)]
pub enum SystemCommand {
    /// Show disk use: images, containers, local volumes, build cache.
    Df {
        /// Go-template subset over Type, TotalCount, Active, Size, Reclaimable, or `json`.
        #[arg(long)]
        format: Option<String>,
        /// Show each image, container, volume and build cache entry (Docker's verbose
        /// report).
        #[arg(short = 'v', long, conflicts_with = "format")]
        verbose: bool,
    },
}

/// Runs `system …`.
pub fn system(global: &GlobalOptions, args: SystemArgs) -> u8 {
    match args.command {
        SystemCommand::Df { format, verbose } => disk::df(global, format.as_deref(), verbose),
    }
}

/// `image SUBCOMMAND`.
#[derive(Debug, Args)]
pub struct ImageArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ImageCommand,
}

/// Subcommands of `image`.
#[derive(Debug, clap::Subcommand)]
pub enum ImageCommand {
    /// Remove dangling images (with -a: every image no container uses).
    Prune {
        /// Remove every image no container uses, not only dangling ones.
        #[arg(short = 'a', long)]
        all: bool,
        /// Do not ask for confirmation.
        #[arg(short = 'f', long)]
        force: bool,
    },
}

/// Runs `image …`.
pub fn image(global: &GlobalOptions, args: ImageArgs) -> u8 {
    match args.command {
        ImageCommand::Prune { all, force } => disk::image_prune(global, all, force),
    }
}

/// Arguments of `stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Show every container (default: the running ones).
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Print one reading and exit.
    #[arg(long = "no-stream")]
    pub no_stream: bool,
    /// Show full ids.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Go-template subset over ID, Name, Container, CPUPerc, MemUsage, MemPerc, NetIO,
    /// BlockIO, PIDs (`table …` for columns), or `json`.
    #[arg(long)]
    pub format: Option<String>,
    /// Containers (names or ids); default: all running ones.
    pub containers: Vec<String>,
}

/// Runs `stats`; returns the exit status.
pub fn stats(global: &GlobalOptions, args: StatsArgs) -> u8 {
    stats::run(
        global,
        &args.containers,
        stats::Options {
            all: args.all,
            no_stream: args.no_stream,
            no_trunc: args.no_trunc,
            format: args.format.as_deref(),
        },
    )
}

/// Arguments of `logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Keep printing new output until the container stops.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Only the last N lines (or `all`; a negative N means all, as Docker's -1).
    #[arg(
        short = 'n',
        long = "tail",
        value_name = "N|all",
        default_value = "all",
        allow_negative_numbers = true
    )]
    pub tail: String,
    /// Only lines since this time: RFC 3339 (2026-01-02T15:04:05Z), Unix seconds, or a
    /// duration back from now (10m, 1h30m).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only lines before this time (same forms as --since).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Show each line's time (RFC 3339 with nanoseconds) before it.
    #[arg(short = 't', long)]
    pub timestamps: bool,
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

/// Docker's refusal of `-i -t` when stdin is not a terminal (a pipe or a file): the container
/// would wait on a terminal nobody types into. Exit status 1, as the docker client's.
pub const NOT_A_TTY: &str =
    "the input device is not a TTY — drop -t (keep -i to pipe input) or run from a terminal";

/// Whether standard input is a terminal (isatty(3)).
pub fn stdin_is_a_terminal() -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(libc::STDIN_FILENO) == 1 }
}
