//! `tinibox service up|down|ls`: TiniLinux's services as containers. Each
//! `/etc/tinibox/services/NAME.json` ([`crate::service`], or `--dir`/`$TINIBOX_SERVICES`) is a
//! detached container named NAME, made and run by the docker front door's own path
//! (`run -d`, its monitor, its restart policy and log: `tinibox logs NAME`).
//!
//! - `up [--boot] [NAME…]`: makes each service's container, or starts it again when it
//!   exists and is stopped (its log and file system kept), or replaces it when its file
//!   changed; one after the other in name order, with no dependencies between them. With
//!   `--boot` (rcS): first forgets the processes that records of an earlier boot name, then,
//!   after the services, starts again every other container whose restart policy is `always`,
//!   `unless-stopped` unless the user stopped it, or `on-failure` when it was running at
//!   shutdown (stopped by `down --all` or the power going, not by the user).
//! - `down [--all] [NAME…]`: stops the services' containers with their stop signal and
//!   timeout (`stop_signal`, `stop_timeout`), as `tinibox stop`. With `--all` (rcK, the disk's
//!   shutdown): every other running container too, remembering that the system, not the
//!   user, stopped it, so `unless-stopped` comes back at the next boot.
//! - `ls`: each service with its container's state.
//!
//! Every line names the service. Exit status: 0; 1 when a service could not be read,
//! started or stopped (the others are still handled); 125 for bad flags.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::docker::api;
use super::docker::meta::Meta;
use super::docker::names;
use super::GlobalOptions;
use crate::container::state::Record;
use crate::service::{self, Service, LABEL_DIGEST, LABEL_SERVICE};

use super::docker::api::STOPPED_AT_SHUTDOWN;

/// Arguments of `service`.
#[derive(Debug, Args)]
pub struct ServiceArgs {
    /// Folder of the service files (NAME.json).
    #[arg(long, global = true, env = "TINIBOX_SERVICES", default_value = service::DEFAULT_DIR)]
    pub dir: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub command: ServiceCommand,
}

/// Subcommands of `service`.
#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Start the services (all, or those named).
    Up {
        /// At boot: forget the previous boot's processes, and start again the containers
        /// whose restart policy is always, unless-stopped, or on-failure (if it was running
        /// at shutdown).
        #[arg(long)]
        boot: bool,
        /// Services to start (default: every file of the folder).
        names: Vec<String>,
    },
    /// Stop the services (all, or those named) with their stop signal and timeout.
    Down {
        /// At shutdown: stop every other running container too (unless-stopped ones come
        /// back at the next boot).
        #[arg(long)]
        all: bool,
        /// Services to stop (default: every service container).
        names: Vec<String>,
    },
    /// List the services and their containers' state.
    Ls,
}

/// Runs `service …`; returns the exit status.
pub fn run(global: &GlobalOptions, args: ServiceArgs) -> u8 {
    match args.command {
        ServiceCommand::Up { boot, names } => up(global, &args.dir, boot, &names),
        ServiceCommand::Down { all, names } => down(global, all, &names),
        ServiceCommand::Ls => ls(global, &args.dir),
    }
}

fn fail(msg: impl std::fmt::Display) -> u8 {
    eprintln!("tinibox: {msg}");
    1
}

/// The services of `dir` (those named in `only`, when given), and the status after reporting
/// each file that cannot be used.
fn load(dir: &Path, only: &[String]) -> (Vec<Service>, u8) {
    let mut rc = 0;
    let files = match service::files_in(dir) {
        Ok(f) => f,
        // The default folder may be absent: a system with no services.
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound
                && dir == Path::new(service::DEFAULT_DIR) =>
        {
            Vec::new()
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return (
                Vec::new(),
                fail(format!(
                    "service folder {} does not exist — give the folder of the NAME.json files \
                     (--dir or $TINIBOX_SERVICES)",
                    dir.display()
                )),
            )
        }
        Err(e) => return (Vec::new(), fail(format!("reading {}: {e}", dir.display()))),
    };
    for name in only {
        if !files
            .iter()
            .any(|f| f.file_stem().is_some_and(|s| s == name.as_str()))
        {
            rc = fail(format!(
                "service {name}: no file {name}.json in {} — see `tinibox service ls`",
                dir.display()
            ));
        }
    }
    let mut services = Vec::new();
    for path in files {
        let wanted = only.is_empty()
            || path
                .file_stem()
                .is_some_and(|s| only.iter().any(|n| s == n.as_str()));
        if !wanted {
            continue;
        }
        match Service::load(&path) {
            Ok(s) => services.push(s),
            Err(e) => rc = fail(e),
        }
    }
    (services, rc)
}

/// The id of the container named exactly `name`.
fn by_name(root: &Path, name: &str) -> Option<String> {
    names::all_ids(root).into_iter().find(|id| {
        Record::load(root, id)
            .map(|r| names::name_of(&r) == Some(name))
            .unwrap_or(false)
    })
}

/// A container's name as `ps` shows it (its short id when it has none).
fn display_name(root: &Path, id: &str) -> String {
    Record::load(root, id)
        .ok()
        .and_then(|r| names::name_of(&r).map(String::from))
        .unwrap_or_else(|| names::short(id).to_string())
}

/// Whether the container runs or its monitor is about to run it again.
fn is_up(root: &Path, id: &str) -> bool {
    api::is_alive(root, id) || Meta::load(root, id).restarting
}

fn up(global: &GlobalOptions, dir: &Path, boot: bool, only: &[String]) -> u8 {
    let mut rc = 0;
    if boot {
        match api::forget_previous_boot(global) {
            Ok(0) => {}
            Ok(n) => println!("tinibox: {n} container(s) of the previous boot marked stopped"),
            Err(e) => rc = fail(e),
        }
    }
    let (services, load_rc) = load(dir, only);
    rc = rc.max(load_rc);
    for s in &services {
        match up_one(global, s) {
            Ok(what) => println!("{}: {what}", s.name),
            Err(e) => rc = fail(format!("service {}: {e}", s.name)),
        }
    }
    if boot {
        rc = rc.max(restart_by_policy(global));
    }
    rc
}

/// Brings one service up; returns what was done.
fn up_one(global: &GlobalOptions, s: &Service) -> Result<String, String> {
    let root = &global.root;
    let mut replaced = false;
    if let Some(id) = by_name(root, &s.name) {
        let meta = Meta::load(root, &id);
        if meta.labels.get(LABEL_SERVICE) != Some(&s.name) {
            return Err(format!(
                "a container named {} exists that is not this service — rename or remove it (`tinibox rm -f {}`)",
                s.name, s.name
            ));
        }
        if meta.labels.get(LABEL_DIGEST) == Some(&s.digest) {
            if is_up(root, &id) {
                return Ok("already up".into());
            }
            api::start_again(global, &id)?;
            return Ok("started".into());
        }
        api::remove(global, &id)?;
        replaced = true;
    }
    let id = api::run_detached(global, s.run_flags(), &s.file.image, &s.file.command)
        .map_err(|(_, message)| message)?;
    Ok(format!(
        "{} {}",
        if replaced {
            "started anew (its file changed):"
        } else {
            "started:"
        },
        names::short(&id)
    ))
}

/// At boot: starts again the containers (not services) whose restart policy asks for it.
fn restart_by_policy(global: &GlobalOptions) -> u8 {
    let root = &global.root;
    let mut rc = 0;
    for id in names::all_ids(root) {
        let meta = Meta::load(root, &id);
        if meta.labels.contains_key(LABEL_SERVICE) || api::is_alive(root, &id) {
            continue;
        }
        let marker = names::front_dir(root, &id).join(STOPPED_AT_SHUTDOWN);
        let by_system = marker.exists();
        let _ = std::fs::remove_file(&marker);
        let policy = meta.restart.name.as_str();
        let go = match policy {
            "always" => true,
            "unless-stopped" => !meta.stopped_by_user || by_system,
            // Running when the system went down (the marker: not stopped by the user before;
            // its exit was the shutdown's, not a failure of its own): started again, as
            // dockerd restarts it when it comes up. One that had already ended (its retries
            // spent, or exit 0) stays down.
            "on-failure" => by_system,
            _ => false,
        };
        if !go {
            continue;
        }
        let name = display_name(root, &id);
        match api::start_again(global, &id) {
            Ok(()) => println!("{name}: started again (restart policy {policy})"),
            Err(e) => rc = fail(format!("{name}: {e}")),
        }
    }
    rc
}

fn down(global: &GlobalOptions, all: bool, only: &[String]) -> u8 {
    let root = &global.root;
    let mut rc = 0;
    for name in only {
        let known = by_name(root, name)
            .is_some_and(|id| Meta::load(root, &id).labels.contains_key(LABEL_SERVICE));
        if !known {
            rc = fail(format!(
                "service {name}: no such service container — see `tinibox service ls`"
            ));
        }
    }
    let mut services = Vec::new();
    let mut others = Vec::new();
    for id in names::all_ids(root) {
        match Meta::load(root, &id).labels.get(LABEL_SERVICE) {
            Some(n) if only.is_empty() || only.contains(n) => services.push(id),
            Some(_) => {}
            None if all => others.push(id),
            None => {}
        }
    }
    for id in services {
        if is_up(root, &id) {
            rc = rc.max(stop_one(global, &id, false));
        }
    }
    for id in others {
        if is_up(root, &id) {
            rc = rc.max(stop_one(global, &id, true));
        }
    }
    rc
}

/// Stops one container and prints its exit status; `by_system` marks it for the next boot.
fn stop_one(global: &GlobalOptions, id: &str, by_system: bool) -> u8 {
    let root = &global.root;
    let name = display_name(root, id);
    let by_user = Meta::load(root, id).stopped_by_user;
    if let Err(e) = api::stop(global, id) {
        return fail(format!("{name}: {e}"));
    }
    if by_system && !by_user {
        let _ = std::fs::write(names::front_dir(root, id).join(STOPPED_AT_SHUTDOWN), "");
    }
    match names::exit_status(root, id) {
        Some(code) => println!("{name}: stopped (exit {code})"),
        None => println!("{name}: stopped"),
    }
    0
}

fn ls(global: &GlobalOptions, dir: &Path) -> u8 {
    let root = &global.root;
    let (services, rc) = load(dir, &[]);
    let rows: Vec<[String; 3]> = services
        .iter()
        .map(|s| {
            let state = match by_name(root, &s.name) {
                None => "not created".to_string(),
                Some(id) if api::is_alive(root, &id) => "up".to_string(),
                Some(id) if Meta::load(root, &id).restarting => "restarting".to_string(),
                Some(id) => match names::exit_status(root, &id) {
                    Some(code) => format!("exited ({code})"),
                    None => "created".to_string(),
                },
            };
            [s.name.clone(), s.file.image.clone(), state]
        })
        .collect();
    let width = |i: usize, title: &str| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .chain([title.chars().count()])
            .max()
            .unwrap_or(0)
    };
    let (w0, w1) = (width(0, "NAME"), width(1, "IMAGE"));
    println!("{:<w0$}   {:<w1$}   STATUS", "NAME", "IMAGE");
    for [name, image, state] in rows {
        println!("{name:<w0$}   {image:<w1$}   {state}");
    }
    rc
}
