//! `ps`, `stop`, `kill`, `rm` and `logs` for the docker-like front door (plus the runc forms
//! `ps ID`, `kill ID SIGNAL`, `kill --all`), by name, full id or id prefix.
//!
//! Reads the engine's records and the front folders; changes containers only through
//! [`super::front`].

use std::time::Duration;

use nix::sys::signal::Signal;

use super::meta::Meta;
use super::names::{self, LABEL_DETACHED};
use super::signals::parse_signal;
use super::{front, KillArgs, LogsArgs, PsArgs, PsFormat, RmArgs, StopArgs};
use crate::cli::GlobalOptions;
use crate::container::state::Record;

/// Prints `tinibox: MSG` on stderr and returns `code` (the docker commands' one error line).
pub(super) fn fail(code: u8, msg: impl std::fmt::Display) -> u8 {
    eprintln!("tinibox: {msg}");
    code
}

/// Runs `each(id, as_typed)` for every container of `containers` (names or id prefixes,
/// resolved by [`names::resolve`]), in order, going on after a failure as Docker does: each
/// failure is one line on stderr. Returns `code` if any name or `each` failed, else 0.
pub(super) fn for_each_container(
    global: &GlobalOptions,
    containers: &[String],
    code: u8,
    mut each: impl FnMut(&str, &str) -> Result<(), String>,
) -> u8 {
    let mut rc = 0;
    for what in containers {
        if let Err(e) = names::resolve(&global.root, what).and_then(|id| each(&id, what)) {
            rc = fail(code, e);
        }
    }
    rc
}

/// Runs `ps`: the runc form with an ID, else the docker form ([`super::listing`]).
pub fn ps(global: &GlobalOptions, args: PsArgs) -> u8 {
    if let Some(what) = &args.id {
        let format = match args.format.as_deref().or(args.f.last().map(String::as_str)) {
            None | Some("table") => PsFormat::Table,
            Some("json") => PsFormat::Json,
            Some(other) => {
                return fail(
                    1,
                    format!(
                        "ps: format {other:?} is not table or json (runc form `ps -f json ID`)"
                    ),
                )
            }
        };
        return ps_processes(global, what, format);
    }
    let mut filters = args.filter.clone();
    filters.extend(args.f.iter().cloned());
    super::listing::ps(
        global,
        args.all,
        args.quiet,
        args.no_trunc,
        &filters,
        args.format.as_deref(),
    )
}

/// The runc form `ps ID`: the container's processes, as `ps -ef` rows or a JSON pid array.
fn ps_processes(global: &GlobalOptions, what: &str, format: PsFormat) -> u8 {
    let id = match names::resolve(&global.root, what) {
        Ok(id) => id,
        Err(e) => return fail(1, e),
    };
    if format == PsFormat::Json {
        let pids = match front::pids(&global.root, &id) {
            Ok(p) => p,
            Err(e) => return fail(1, format!("{e} — is the container running?")),
        };
        println!(
            "{}",
            serde_json::to_string(&pids).unwrap_or_else(|_| "[]".into())
        );
        return 0;
    }
    print_processes(global, &id, &[])
}

/// Prints the header and the rows of container `id`'s processes from the host's ps run with
/// `options` (default `-ef`; Docker passes them through the same way). Rows are picked by
/// the column titled PID; exit status 0, or 1 when the processes cannot be listed or ps
/// gives no PID column (as Docker).
pub(super) fn print_processes(global: &GlobalOptions, id: &str, options: &[String]) -> u8 {
    let pids = match front::pids(&global.root, id) {
        Ok(p) => p,
        Err(e) => return fail(1, format!("{e} — is the container running?")),
    };
    let default = ["-ef".to_string()];
    let options = if options.is_empty() {
        &default[..]
    } else {
        options
    };
    let out = match std::process::Command::new("ps").args(options).output() {
        Ok(o) => o,
        Err(e) => return fail(1, format!("running ps: {e} — install procps")),
    };
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return fail(
            1,
            format!(
                "ps {}: {} — give options the host's ps accepts",
                options.join(" "),
                err.lines().next().unwrap_or("failed")
            ),
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return fail(1, "ps printed nothing — give options the host's ps accepts");
    };
    let Some(column) = header.split_whitespace().position(|t| t == "PID") else {
        return fail(
            1,
            format!(
                "ps {}: no PID column in its output — add pid to -o",
                options.join(" ")
            ),
        );
    };
    println!("{header}");
    for l in lines {
        let pid = l
            .split_whitespace()
            .nth(column)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            println!("{l}");
        }
    }
    0
}

/// Runs `stop`; returns the exit status.
pub fn stop(global: &GlobalOptions, args: StopArgs) -> u8 {
    for_each_container(global, &args.containers, 1, |id, what| {
        stop_one(global, id, args.time, true).map_err(|e| format!("{what}: {e}"))?;
        println!("{what}");
        Ok(())
    })
}

/// Stops one container: its stop signal (`--stop-signal`, default SIGTERM), then SIGKILL
/// after `time` seconds (default: its `--stop-timeout`, else 10; negative: never, as Docker's
/// -1). `by_user` keeps a restart
/// policy from bringing it back. Waits for a detached container's monitor to record the exit.
pub(super) fn stop_one(
    global: &GlobalOptions,
    id: &str,
    time: Option<i64>,
    by_user: bool,
) -> Result<(), String> {
    let m = Meta::load(&global.root, id);
    if by_user {
        Meta::update(&global.root, id, |m| m.stopped_by_user = true);
    }
    if front::is_alive(&global.root, id) {
        let sig = m
            .stop_signal
            .as_deref()
            .and_then(|s| parse_signal(s).ok())
            .unwrap_or(Signal::SIGTERM.into());
        // A negative time waits for as long as the container runs.
        let time = u64::try_from(time.or(m.stop_timeout).unwrap_or(10))
            .map_or(Duration::MAX, Duration::from_secs);
        let _ = front::signal(&global.root, id, sig, false);
        if !front::wait_stopped(&global.root, id, time) {
            let _ = front::signal(&global.root, id, Signal::SIGKILL, true);
            if !front::wait_stopped(&global.root, id, Duration::from_secs(10)) {
                return Err("did not stop after SIGKILL — check `tinibox ps -a`".into());
            }
        }
    }
    wait_for_monitor(global, id);
    Ok(())
}

/// Gives a detached container's monitor a moment to record the exit status (and apply --rm).
fn wait_for_monitor(global: &GlobalOptions, id: &str) {
    let detached = Record::load(&global.root, id)
        .map(|r| r.state.labels.contains_key(LABEL_DETACHED))
        .unwrap_or(false);
    if !detached {
        return;
    }
    for _ in 0..300 {
        let restarting = Meta::load(&global.root, id).restarting;
        if (names::exit_status(&global.root, id).is_some() && !restarting)
            || Record::load(&global.root, id).is_err()
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs `kill`; returns the exit status.
pub fn kill(global: &GlobalOptions, args: KillArgs) -> u8 {
    // runc form: `kill [--all] ID [SIGNAL]` (default TERM, errors exit 1);
    // docker form: `kill [-s SIG] NAME` (default KILL): a signal it cannot read is refused
    // with 125 (bad input), an unknown or stopped container with 1 (Docker's daemon errors).
    let runc_form = args.all || args.target.len() == 2;
    let code = 1;
    let sig_text = args
        .target
        .get(1)
        .cloned()
        .or(args.signal.clone())
        .unwrap_or_else(|| {
            if runc_form {
                "TERM".into()
            } else {
                "KILL".into()
            }
        });
    let sig = match parse_signal(&sig_text) {
        Ok(s) => s,
        Err(e) => return fail(if runc_form { 1 } else { 125 }, e),
    };
    let what = &args.target[0];
    let id = match names::resolve(&global.root, what) {
        Ok(id) => id,
        // The runc form answers in runc's words ("container … does not exist"), which
        // containerd's shim and go-runc parse: the engine's own error says them.
        Err(_) if runc_form => what.clone(),
        Err(e) => return fail(code, e),
    };
    // The runc form leaves a stopped container to the engine: `kill --all` succeeds and a
    // kill of the init fails with "container not running", as runc answers.
    if !runc_form && !front::is_alive(&global.root, &id) {
        return fail(
            code,
            format!("container {what} is not running — start one with `tinibox run`"),
        );
    }
    if !runc_form && is_ending(sig) {
        Meta::update(&global.root, &id, |m| m.stopped_by_user = true);
    }
    if let Err(e) = front::signal(&global.root, &id, sig, args.all) {
        return fail(code, e);
    }
    if !runc_form {
        println!("{what}");
    }
    0
}

/// Whether a signal sent by `kill` means the user wants the container down (no restart).
fn is_ending(sig: crate::linux::signal::Sig) -> bool {
    [
        Signal::SIGKILL,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGQUIT,
    ]
    .iter()
    .any(|s| crate::linux::signal::Sig::from(*s) == sig)
}

/// Runs `rm`; returns the exit status.
pub fn rm(global: &GlobalOptions, args: RmArgs) -> u8 {
    let mut rc = 0;
    for what in &args.containers {
        let id = match names::resolve(&global.root, what) {
            Ok(id) => id,
            Err(e) => {
                // Leftovers of a tinibox killed before its container existed.
                if let Some(stray) = names::stray_front_dirs(&global.root)
                    .into_iter()
                    .find(|s| s.starts_with(what.as_str()) && !what.is_empty())
                {
                    // The engine may have begun the container (killed inside create):
                    // remove its state and cgroups too, not only the front folder.
                    let _ = front::remove(&global.root, &stray);
                    println!("{what}");
                    continue;
                }
                // Docker's `rm -f` says so but succeeds: nothing is left to remove.
                let code = if args.force { 0 } else { 1 };
                rc = rc.max(fail(code, e));
                continue;
            }
        };
        if front::is_alive(&global.root, &id) && !args.force {
            rc = fail(
                1,
                format!("container {what} is running — stop it first (`tinibox stop {what}`) or use `tinibox rm -f`"),
            );
            continue;
        }
        Meta::update(&global.root, &id, |m| m.stopped_by_user = true);
        match front::remove(&global.root, &id) {
            Ok(()) => println!("{what}"),
            Err(e) => rc = fail(1, format!("removing {what}: {e}")),
        }
    }
    rc
}

/// Runs `logs`; returns the exit status.
pub fn logs(global: &GlobalOptions, args: LogsArgs) -> u8 {
    super::logs::run(global, args)
}
