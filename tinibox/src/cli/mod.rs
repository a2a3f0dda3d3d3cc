//! Command-line front doors: the global flags, the subcommand list and the dispatch.
//!
//! Handlers live beside this file, one file per family: `docker.rs` (docker-like container
//! commands and `check`), `images.rs` (image store commands), `service.rs` (TiniLinux's
//! services), `runtime/` (runc-compatible
//! OCI runtime commands, one file per command); `parse.rs` picks the clap tree a command line is
//! parsed with. This file must not grow command logic of its own.

pub mod docker;
pub mod images;
pub mod log;
pub mod network;
mod parse;
#[cfg(feature = "registry")]
pub mod registry;
pub mod runtime;
pub mod service;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The program's name in clap's messages.
pub const NAME: &str = "tinibox";

/// Top-level command line.
#[derive(Debug, Parser)]
#[command(name = NAME, version, about = "TiniLinux's container runtime", long_about = None)]
pub struct Cli {
    /// Flags accepted before (or after) any subcommand, as runc accepts them.
    #[command(flatten)]
    pub global: GlobalOptions,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Log line format for `--log`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line: {"level","msg","time"} (what containerd's shim reads).
    Json,
}

/// Global flags shared by every command (runc's set plus tinibox's image store).
#[derive(Debug, Clone, Args)]
pub struct GlobalOptions {
    /// State directory for containers.
    #[arg(
        long,
        global = true,
        env = "TINIBOX_ROOT",
        default_value = "/run/tinibox"
    )]
    pub root: PathBuf,
    /// Write log lines to this file instead of stderr.
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Format of log lines.
    #[arg(long = "log-format", global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log debug details.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Accept cgroupsPath in systemd's slice:prefix:name form (mapped onto cgroupfs paths).
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// Rootless mode hint (auto, true, false), accepted for runc compatibility.
    #[arg(long, global = true, value_parser = ["auto", "true", "false"])]
    pub rootless: Option<String>,
    /// Image store directory.
    #[arg(
        long,
        global = true,
        env = "TINIBOX_STORE",
        default_value = "/var/lib/tinibox"
    )]
    pub store: PathBuf,
}

/// Every subcommand of both front doors.
///
/// `defer`: each subcommand's arguments are made only when that subcommand is parsed (or its
/// help shown). Built all at once, the arguments of the 50 subcommands were 0.6 MB of heap for
/// every command, `run --rm` included (BENCHMARKS.md, "Heap of a container start").
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Run a command in a new container from a rootfs directory or an image.
    Run(Box<docker::RunArgs>),
    /// List containers (no ID), or the processes of one container (runc form: `ps ID`).
    Ps(docker::PsArgs),
    /// Stop a container: SIGTERM, then SIGKILL after a timeout.
    Stop(docker::StopArgs),
    /// Send a signal to a container's init process.
    Kill(docker::KillArgs),
    /// Remove stopped containers.
    Rm(docker::RmArgs),
    /// Print a detached container's output.
    Logs(docker::LogsArgs),
    /// Wait for containers to stop and print their exit codes.
    Wait(docker::WaitArgs),
    /// Stop containers and run them again (detached).
    Restart(docker::RestartArgs),
    /// Thaw paused containers (docker's name for runc's `resume`).
    Unpause(docker::UnpauseArgs),
    /// Give a container another name.
    Rename(docker::RenameArgs),
    /// Show a container's processes.
    Top(docker::TopArgs),
    /// Copy files between a container and the host.
    Cp(docker::CpArgs),
    /// Manage containers: `container prune`.
    Container(docker::ContainerArgs),
    /// Show containers' CPU, memory, network and block I/O use and process counts.
    Stats(docker::StatsArgs),
    /// System-wide information: `system df`.
    System(docker::SystemArgs),
    /// Manage images: `image prune`.
    Image(docker::ImageArgs),
    /// List a container's published ports.
    Port(network::PortArgs),
    /// Manage networks: create, ls, rm, inspect, connect, disconnect.
    Network(network::NetworkArgs),
    /// Check the kernel and the running system for container features.
    Check(docker::CheckArgs),
    /// TiniLinux's services: start, stop and list the containers of /etc/tinibox/services.
    Service(service::ServiceArgs),
    /// Load an image from an OCI layout (directory or archive) or a `docker save` archive.
    Load(images::LoadArgs),
    /// Create an image from a rootfs tarball, like `docker import`.
    Import(images::ImportArgs),
    /// List images.
    Images(images::ImagesArgs),
    /// Remove images.
    Rmi(images::RmiArgs),
    /// Download an image from a registry.
    #[cfg(feature = "registry")]
    Pull(registry::PullArgs),
    /// Log in to a registry (credentials go to Docker's config.json).
    #[cfg(feature = "registry")]
    Login(registry::LoginArgs),
    /// Log out from a registry.
    #[cfg(feature = "registry")]
    Logout(registry::LogoutArgs),
    /// Upload an image to a registry.
    #[cfg(feature = "registry")]
    Push(registry::PushArgs),
    /// Give an image another name.
    #[cfg(feature = "registry")]
    Tag(registry::TagArgs),
    /// Print containers' or images' details as JSON (or through -f TEMPLATE).
    Inspect(docker::InspectArgs),
    /// Write an image to an OCI (or docker-loadable) archive.
    #[cfg(feature = "registry")]
    Save(registry::SaveArgs),
    /// Create a container from an image without running it (`run`'s flags); prints its id.
    /// runc's form `create --bundle DIR ID` is recognised by its flags.
    Create(Box<docker::RunArgs>),
    /// Start created or stopped containers (`-a` in the foreground); runc's `start ID` too.
    Start(docker::StartArgs),
    /// runc: `create --bundle DIR ID`. Reached through `create` with runc's flags.
    #[command(name = "oci-create", hide = true)]
    OciCreate(runtime::CreateArgs),
    /// runc: print a container's OCI state as JSON.
    State(runtime::StateArgs),
    /// runc: delete a container and everything it holds.
    Delete(runtime::DeleteArgs),
    /// runc: list containers.
    List(runtime::ListArgs),
    /// runc: run a new process inside a container.
    Exec(runtime::ExecArgs),
    /// runc: freeze every process of a container.
    Pause(runtime::PauseArgs),
    /// runc: thaw a paused container.
    Resume(runtime::ResumeArgs),
    /// runc: change a running container's resource limits.
    Update(runtime::UpdateArgs),
    /// runc: print container events and statistics.
    Events(runtime::EventsArgs),
    /// runc: print the runtime-spec features this runtime supports.
    Features(runtime::FeaturesArgs),
    /// runc: write a default config.json.
    Spec(runtime::SpecArgs),
    /// runc: `run --bundle DIR ID` (create + start + wait). Reached through `run --bundle`.
    #[command(name = "oci-run", hide = true)]
    OciRun(runtime::OciRunArgs),
    /// The relay of a container's ports published on `[::1]`, started by `run` (see
    /// `net::proxy`).
    #[command(name = "net-proxy", hide = true)]
    NetProxy(network::ProxyArgs),
}

/// Global flags that take a value (their value is not a subcommand).
const GLOBAL_VALUE_FLAGS: [&str; 5] = ["--root", "--log", "--log-format", "--rootless", "--store"];

/// `run` flags (docker and runc forms) that take a value, so the scan for `--bundle` can step
/// over their values.
const RUN_VALUE_FLAGS: [&str; 40] = [
    "--name",
    "-l",
    "--label",
    "--restart",
    "--stop-signal",
    "--stop-timeout",
    "-e",
    "--env",
    "--env-file",
    "-w",
    "--workdir",
    "-u",
    "--user",
    "-h",
    "--hostname",
    "-v",
    "--volume",
    "--tmpfs",
    "-m",
    "--memory",
    "--memory-swap",
    "--pids-limit",
    "--cpus",
    "-c",
    "--cpu-shares",
    "--cap-add",
    "--cap-drop",
    "--network",
    "--net",
    "--ulimit",
    "--entrypoint",
    "--pull",
    "--console-socket",
    "--pid-file",
    "--preserve-fds",
    "--root",
    "--log",
    "--log-format",
    "--rootless",
    "--store",
];

/// Docker-style commands: their flag errors exit 125, a missing argument 1, as Docker's CLI
/// (runc-style ones exit 1 for both).
const DOCKER_COMMANDS: [&str; 33] = [
    "run",
    "create",
    "start",
    "stats",
    "system",
    "image",
    "ps",
    "stop",
    "kill",
    "rm",
    "logs",
    "check",
    "load",
    "import",
    "images",
    "rmi",
    "pull",
    "push",
    "login",
    "logout",
    "tag",
    "inspect",
    "save",
    "wait",
    "restart",
    "unpause",
    "rename",
    "top",
    "container",
    "cp",
    "port",
    "service",
    "network",
];

/// Whether an `exec` command line is runc's form (what engines pass: `--process` or
/// `--console-socket`), whose usage errors exit 1; Docker's form exits 125.
fn runc_exec(args: &[std::ffi::OsString]) -> bool {
    args.iter().any(|a| {
        let a = a.to_string_lossy();
        ["--process", "-p", "--console-socket"]
            .iter()
            .any(|f| a == *f || a.starts_with(&format!("{f}=")))
    })
}

/// Index of the subcommand word in `args` (skipping global flags and their values).
fn subcommand_index(args: &[std::ffi::OsString]) -> Option<usize> {
    let mut i = 1;
    while i < args.len() {
        let a = args[i].to_string_lossy();
        if GLOBAL_VALUE_FLAGS.contains(&a.as_ref()) {
            i += 2;
        } else if a.starts_with('-') {
            i += 1;
        } else {
            return Some(i);
        }
    }
    None
}

/// Flags only runc's `create` has (what engines pass: go-runc, conmon, runtime-tools).
const RUNC_CREATE_FLAGS: [&str; 5] = [
    "--pid-file",
    "--console-socket",
    "--no-pivot",
    "--no-new-keyring",
    "--preserve-fds",
];

/// The runc forms go to hidden commands: `run --bundle DIR ID` to `oci-run`, and `create`
/// with `-b`/`--bundle` or another flag only runc's `create` has to `oci-create`. Looks at
/// the options before the first positional argument.
pub fn rewrite_runc_run(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let Some(sub) = subcommand_index(&args) else {
        return args;
    };
    let target = match args[sub].to_str() {
        Some("run") => "oci-run",
        Some("create") => "oci-create",
        _ => return args,
    };
    let mut i = sub + 1;
    while i < args.len() {
        let a = args[i].to_string_lossy();
        let runc_only = target == "oci-create"
            && RUNC_CREATE_FLAGS
                .iter()
                .any(|f| a == *f || a.starts_with(&format!("{f}=")));
        if a == "-b"
            || a == "--bundle"
            || a.starts_with("--bundle=")
            || a.starts_with("-b")
            || runc_only
        {
            args[sub] = target.into();
            break;
        }
        if a == "--" || !a.starts_with('-') {
            break;
        }
        i += if RUN_VALUE_FLAGS.contains(&a.as_ref()) {
            2
        } else {
            1
        };
    }
    args
}

/// Parses the command line, runs the command, and turns its result into the exit status.
pub fn main() -> ExitCode {
    let args = rewrite_runc_run(std::env::args_os().collect());
    let sub_index = subcommand_index(&args);
    let sub = sub_index.map(|i| args[i].to_string_lossy().into_owned());
    let cli = match parse::parse(&args, sub_index) {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            let text = e.to_string();
            // The first paragraph of clap's message, on one line.
            let first = text
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" ");
            let first = first.trim_start_matches("error: ");
            let help = docker::usage::help_command(&text);
            eprintln!("tinibox: {first} — see `{help}`");
            let docker = sub.as_deref().is_none_or(|s| DOCKER_COMMANDS.contains(&s))
                || (sub.as_deref() == Some("exec") && !runc_exec(&args));
            // Docker's CLI: a flag it cannot parse is 125, too few arguments ("requires at
            // least 1 argument") is 1.
            let missing = e.kind() == ErrorKind::MissingRequiredArgument;
            return ExitCode::from(if docker && !missing { 125 } else { 1 });
        }
    };
    let global = cli.global;
    let status = match cli.command {
        Command::Run(a) => docker::run(&global, *a),
        Command::Ps(a) => docker::ps(&global, a),
        Command::Stop(a) => docker::stop(&global, a),
        Command::Kill(a) => docker::kill(&global, a),
        Command::Rm(a) => docker::rm(&global, a),
        Command::Logs(a) => docker::logs(&global, a),
        Command::Wait(a) => docker::wait(&global, a),
        Command::Restart(a) => docker::restart(&global, a),
        Command::Unpause(a) => docker::unpause(&global, a),
        Command::Rename(a) => docker::rename(&global, a),
        Command::Top(a) => docker::top(&global, a),
        Command::Container(a) => docker::container(&global, a),
        Command::Stats(a) => docker::stats(&global, a),
        Command::System(a) => docker::system(&global, a),
        Command::Image(a) => docker::image(&global, a),
        Command::Cp(a) => docker::cp(&global, a),
        Command::Port(a) => network::port(&global, a),
        Command::Network(a) => network::network(&global, a),
        Command::Check(a) => docker::check(&global, a),
        Command::Service(a) => service::run(&global, a),
        Command::Load(a) => images::load(&global, a),
        Command::Import(a) => images::import(&global, a),
        Command::Images(a) => images::images(&global, a),
        Command::Rmi(a) => images::rmi(&global, a),
        #[cfg(feature = "registry")]
        Command::Pull(a) => registry::pull(&global, a),
        #[cfg(feature = "registry")]
        Command::Login(a) => registry::login(&global, a),
        #[cfg(feature = "registry")]
        Command::Logout(a) => registry::logout(&global, a),
        #[cfg(feature = "registry")]
        Command::Push(a) => registry::push(&global, a),
        #[cfg(feature = "registry")]
        Command::Tag(a) => registry::tag(&global, a),
        Command::Inspect(a) => docker::inspect(&global, a),
        #[cfg(feature = "registry")]
        Command::Save(a) => registry::save(&global, a),
        Command::Create(a) => docker::create(&global, *a),
        Command::Start(a) => docker::start(&global, a),
        Command::OciCreate(a) => runtime::create(&global, a),
        Command::State(a) => runtime::state(&global, a),
        Command::Delete(a) => runtime::delete(&global, a),
        Command::List(a) => runtime::list(&global, a),
        Command::Exec(a) => runtime::exec(&global, a),
        Command::Pause(a) => runtime::pause(&global, a),
        Command::Resume(a) => runtime::resume(&global, a),
        Command::Update(a) => runtime::update(&global, a),
        Command::Events(a) => runtime::events(&global, a),
        Command::Features(a) => runtime::features(&global, a),
        Command::Spec(a) => runtime::spec(&global, a),
        Command::OciRun(a) => runtime::oci_run(&global, a),
        Command::NetProxy(a) => crate::net::proxy::run(a.pid, &a.forwards),
    };
    ExitCode::from(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<std::ffi::OsString> {
        s.split_whitespace().map(Into::into).collect()
    }

    #[test]
    fn runc_run_is_rewritten() {
        let r = |s: &str| rewrite_runc_run(words(s));
        assert_eq!(r("tinibox run --bundle /b c1")[1], "oci-run");
        assert_eq!(r("tinibox --root /r run -b /b c1")[3], "oci-run");
        assert_eq!(r("tinibox run --pid-file p --bundle=/b c1")[1], "oci-run");
        assert_eq!(r("tinibox run -d --bundle /b c1")[1], "oci-run");
        assert_eq!(r("tinibox run --rm /rootfs ls -b")[1], "run");
        assert_eq!(r("tinibox run -v /a:/b /rootfs --bundle")[1], "run");
        assert_eq!(r("tinibox ps -b")[1], "ps");
        assert_eq!(r("tinibox create --bundle /b c1")[1], "oci-create");
        assert_eq!(r("tinibox create --pid-file p -d c1")[1], "oci-create");
        assert_eq!(r("tinibox create --name web -e A=1 bbx sh")[1], "create");
        assert_eq!(r("tinibox create bbx ls -b")[1], "create");
    }

    #[test]
    fn run_parses_docker_flags() {
        let cli = Cli::try_parse_from(words(
            "tinibox run --rm -it -h box -e A=1 -v /a:/b:ro -m 32m --pids-limit 10 /rootfs sh -c x",
        ))
        .unwrap();
        match cli.command {
            Command::Run(a) => {
                assert!(a.flags.rm && a.flags.interactive && a.flags.tty);
                assert_eq!(a.flags.hostname.as_deref(), Some("box"));
                assert_eq!(a.image, "/rootfs");
                assert_eq!(a.command, vec!["sh", "-c", "x"]);
            }
            other => panic!("parsed as {other:?}"),
        }
    }
}
