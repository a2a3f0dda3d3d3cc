//! `start [-a] [-i] NAME…` (Docker's form): runs containers that `create` made or that
//! exited, detached under a monitor as `run -d` does (prints each name). With `-a`, one
//! container: its output printed from its log as it comes and its status as ours; with `-i`
//! too (and a container created with `-i`) it runs in the foreground as `run -i` does, with
//! our stdin (its output kept in its log as well, as Docker keeps it). A running container
//! is left alone (its name is printed, as Docker does); with `-a` we attach to it: its
//! output from then on, and its status when it ends (its stdin cannot be attached: a
//! container created with `-i` is refused with `-i`).
//!
//! runc's `start ID` (one exact id of a container runc's `create --bundle` left waiting, no
//! flags) is told apart by [`is_runc_form`] and handled by the runtime CLI.
//!
//! Exit status: 0; 1 when a container is missing, paused, or fails to start (Docker's daemon
//! errors); with `-a`, the container's own status.

use super::control::start_detached;
use super::front;
use super::manage::{fail, for_each_container};
use super::meta::Meta;
use super::names;
use super::StartArgs;
use crate::cli::GlobalOptions;
use crate::container::{state::Record, Status};

/// Whether `start WHAT` (no flags) is runc's form: no docker-like container has that name
/// or id (a missing one too: the runtime CLI answers in runc's and Docker's words).
pub fn is_runc_form(global: &GlobalOptions, what: &str) -> bool {
    match names::resolve(&global.root, what) {
        Err(_) => true,
        Ok(id) => !names::front_dir(&global.root, &id).is_dir(),
    }
}

/// Why a container cannot be started now, or None; `Ok(true)` when it already runs.
fn startable(global: &GlobalOptions, id: &str) -> Result<bool, String> {
    match front::status(&global.root, id) {
        Some(Status::Running) => Ok(true),
        Some(Status::Paused) => {
            Err("cannot start a paused container — unpause it with `tinibox unpause`".into())
        }
        Some(Status::Created | Status::Creating) => Ok(true),
        _ if Meta::load(&global.root, id).restarting => Ok(true),
        _ => Ok(false),
    }
}

/// Runs Docker's form of `start`; returns the exit status.
pub fn run(global: &GlobalOptions, args: StartArgs) -> u8 {
    if args.attach || args.interactive {
        if args.containers.len() > 1 {
            return fail(
                1,
                "you cannot start and attach multiple containers at once — give one container",
            );
        }
        return attached(global, &args.containers[0], args.interactive);
    }
    for_each_container(global, &args.containers, 1, |id, what| {
        if !startable(global, id).map_err(|e| format!("{what}: {e}"))? {
            start_detached(global, id).map_err(|e| format!("{what}: {e}"))?;
        }
        println!("{what}");
        Ok(())
    })
}

/// `start -a [-i] NAME`: the container in the foreground, as `run` without `-d`.
fn attached(global: &GlobalOptions, what: &str, interactive: bool) -> u8 {
    let id = match names::resolve(&global.root, what) {
        Ok(id) => id,
        Err(e) => return fail(1, e),
    };
    let meta = Meta::load(&global.root, &id);
    match startable(global, &id) {
        Ok(false) => {}
        Ok(true) if interactive && meta.open_stdin => {
            return fail(
                1,
                format!(
                    "{what} is already running and its stdin cannot be attached — use `tinibox start -a {what}` for its output or `tinibox exec -i {what} CMD`"
                ),
            )
        }
        Ok(true) => return watch(global, &id, what, super::meta::now()),
        Err(e) => return fail(1, format!("{what}: {e}")),
    }
    // Docker connects stdin only to a container created with -i (OpenStdin).
    let interactive = interactive && meta.open_stdin;
    let tty = Record::load(&global.root, &id)
        .ok()
        .and_then(|r| r.spec.process().as_ref().and_then(|p| p.terminal()))
        .unwrap_or(false);
    if interactive && tty && !super::stdin_is_a_terminal() {
        return fail(1, super::NOT_A_TTY);
    }
    if !interactive {
        return follow(global, &id, what);
    }
    Meta::update(&global.root, &id, |m| m.stopped_by_user = false);
    let prepared = match front::prepare_again(global, &id) {
        Ok(p) => p,
        Err(f) => return fail(1, f.message),
    };
    super::run::foreground(global, prepared, interactive, tty)
}

/// `start -a` without stdin: the container runs under its monitor as `start` runs it (its
/// output kept in its log, its restart policy and health check in force), and we print its
/// output from the log as it comes, then exit with its status.
fn follow(global: &GlobalOptions, id: &str, what: &str) -> u8 {
    // Log records from this start on (the logger stamps each when it reads it).
    let since = super::meta::now();
    if let Err(e) = start_detached(global, id) {
        return fail(1, format!("{what}: {e}"));
    }
    watch(global, id, what, since)
}

/// Prints the container's output logged from `since` on as it comes, until it ends; then
/// exits with its status.
fn watch(global: &GlobalOptions, id: &str, what: &str, since: String) -> u8 {
    let logs = super::LogsArgs {
        follow: true,
        tail: "all".into(),
        since: Some(since),
        until: None,
        timestamps: false,
        container: id.to_string(),
    };
    let code = super::logs::run(global, logs);
    if code != 0 {
        return code;
    }
    // The monitor records the exit status right after the init ends.
    for _ in 0..500 {
        let m = Meta::load(&global.root, id);
        if let Some(code) = names::exit_status(&global.root, id).filter(|_| !m.restarting) {
            if !front::is_alive(&global.root, id) {
                return code.clamp(0, 255) as u8;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    fail(
        1,
        format!("{what}: its exit status was not recorded — see `tinibox ps -a`"),
    )
}
