//! `ps`, `stop`, `kill`, `rm` and `logs` for the docker-like front door (plus the runc forms
//! `ps ID`, `kill ID SIGNAL`, `kill --all`), by name, full id or id prefix.
//!
//! Reads the engine's records and the front folders; changes containers only through
//! [`super::front`].

use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Duration;

use nix::sys::signal::Signal;

use super::names::{self, LABEL_COMMAND, LABEL_DETACHED};
use super::signals::parse_signal;
use super::{front, KillArgs, LogsArgs, PsArgs, PsFormat, RmArgs, StopArgs};
use crate::cli::GlobalOptions;
use crate::container::{state::Record, Status};

fn fail(code: u8, msg: impl std::fmt::Display) -> u8 {
    eprintln!("tinibox: {msg}");
    code
}

fn status_text(global: &GlobalOptions, id: &str, st: Option<Status>) -> String {
    match st {
        Some(Status::Running) => "Up".into(),
        Some(Status::Paused) => "Up (Paused)".into(),
        Some(Status::Created) | Some(Status::Creating) => "Created".into(),
        Some(Status::Stopped) | None => match names::exit_status(&global.root, id) {
            Some(c) => format!("Exited ({c})"),
            None => "Exited (unknown; tinibox was killed — `tinibox rm` cleans it)".into(),
        },
    }
}

/// Runs `ps`; returns the exit status.
pub fn ps(global: &GlobalOptions, args: PsArgs) -> u8 {
    if let Some(what) = &args.id {
        return ps_processes(global, what, args.format.unwrap_or_default());
    }
    let ids = names::all_ids(&global.root);
    let mut rows = Vec::new();
    for id in &ids {
        let Ok(record) = Record::load(&global.root, id) else {
            continue;
        };
        let st = front::status(&global.root, id);
        let alive = matches!(
            st,
            Some(Status::Running | Status::Paused | Status::Created | Status::Creating)
        );
        if !args.all && !alive {
            continue;
        }
        let name = names::name_of(&record).unwrap_or("").to_string();
        let command = record
            .state
            .labels
            .get(LABEL_COMMAND)
            .cloned()
            .unwrap_or_default();
        rows.push((id.clone(), name, status_text(global, id, st), command));
    }
    if args.all {
        for stray in names::stray_front_dirs(&global.root) {
            rows.push((
                stray,
                String::new(),
                "Dead (tinibox was killed before the container existed; `tinibox rm` cleans it)"
                    .into(),
                String::new(),
            ));
        }
    }
    let mut out = std::io::stdout().lock();
    if args.quiet {
        for r in rows {
            let _ = writeln!(out, "{}", names::short(&r.0));
        }
        return 0;
    }
    let _ = writeln!(
        out,
        "{:<14}{:<20}{:<24}COMMAND",
        "CONTAINER ID", "NAME", "STATUS"
    );
    for (id, name, status, command) in rows {
        let command = crate::text::ellipsize(&command, 40);
        let _ = writeln!(
            out,
            "{:<14}{:<20}{:<24}{}",
            names::short(&id),
            name,
            status,
            command
        );
    }
    0
}

/// The runc form `ps ID`: the container's processes, as `ps -ef` rows or a JSON pid array.
fn ps_processes(global: &GlobalOptions, what: &str, format: PsFormat) -> u8 {
    let id = match names::resolve(&global.root, what) {
        Ok(id) => id,
        Err(e) => return fail(1, e),
    };
    let pids = match front::pids(&global.root, &id) {
        Ok(p) => p,
        Err(e) => return fail(1, format!("{e} — is the container running?")),
    };
    if format == PsFormat::Json {
        println!(
            "{}",
            serde_json::to_string(&pids).unwrap_or_else(|_| "[]".into())
        );
        return 0;
    }
    let out = match std::process::Command::new("ps").arg("-ef").output() {
        Ok(o) => o,
        Err(e) => return fail(1, format!("running ps -ef: {e} — install procps")),
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    if let Some(h) = lines.next() {
        println!("{h}");
    }
    for l in lines {
        let pid = l
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            println!("{l}");
        }
    }
    0
}

/// Runs `stop`; returns the exit status.
pub fn stop(global: &GlobalOptions, args: StopArgs) -> u8 {
    let mut rc = 0;
    for what in &args.containers {
        let id = match names::resolve(&global.root, what) {
            Ok(id) => id,
            Err(e) => {
                rc = fail(125, e);
                continue;
            }
        };
        if front::is_alive(&global.root, &id) {
            let _ = front::signal(&global.root, &id, Signal::SIGTERM, false);
            if !front::wait_stopped(&global.root, &id, Duration::from_secs(args.time)) {
                let _ = front::signal(&global.root, &id, Signal::SIGKILL, true);
                if !front::wait_stopped(&global.root, &id, Duration::from_secs(10)) {
                    rc = fail(
                        125,
                        format!("{what} did not stop after SIGKILL — check `tinibox ps {what}`"),
                    );
                    continue;
                }
            }
        }
        wait_for_monitor(global, &id);
        println!("{what}");
    }
    rc
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
        if names::exit_status(&global.root, id).is_some() || Record::load(&global.root, id).is_err()
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs `kill`; returns the exit status.
pub fn kill(global: &GlobalOptions, args: KillArgs) -> u8 {
    // runc form: `kill [--all] ID [SIGNAL]` (default TERM, errors exit 1);
    // docker form: `kill [-s SIG] NAME` (default KILL, errors exit 125).
    let runc_form = args.all || args.target.len() == 2;
    let code = if runc_form { 1 } else { 125 };
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
        Err(e) => return fail(code, e),
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
    if let Err(e) = front::signal(&global.root, &id, sig, args.all) {
        return fail(code, e);
    }
    if !runc_form {
        println!("{what}");
    }
    0
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
                    front::discard(&names::front_dir(&global.root, &stray));
                    println!("{what}");
                    continue;
                }
                rc = fail(125, e);
                continue;
            }
        };
        if front::is_alive(&global.root, &id) && !args.force {
            rc = fail(
                125,
                format!("container {what} is running — stop it first (`tinibox stop {what}`) or use `tinibox rm -f`"),
            );
            continue;
        }
        match front::remove(&global.root, &id) {
            Ok(()) => println!("{what}"),
            Err(e) => rc = fail(125, format!("removing {what}: {e}")),
        }
    }
    rc
}

/// Runs `logs`; returns the exit status.
pub fn logs(global: &GlobalOptions, args: LogsArgs) -> u8 {
    let id = match names::resolve(&global.root, &args.container) {
        Ok(id) => id,
        Err(e) => return fail(125, e),
    };
    let path = super::detach::log_path(global, &id);
    let mut file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(_) => {
            return fail(
                125,
                format!(
                    "{} has no log — only containers started with -d keep their output",
                    args.container
                ),
            )
        }
    };
    let mut out = std::io::stdout().lock();
    let mut buf = vec![0u8; 65536];
    loop {
        let n = file.read(&mut buf).unwrap_or(0);
        if n > 0 {
            if out.write_all(&buf[..n]).is_err() {
                return 0;
            }
            continue;
        }
        let _ = out.flush();
        if !args.follow || !front::is_alive(&global.root, &id) {
            // One more read after the container stopped, for its last words.
            if args.follow {
                let pos = file.stream_position().unwrap_or(0);
                let _ = file.seek(SeekFrom::Start(pos));
                while let Ok(n) = file.read(&mut buf) {
                    if n == 0 || out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
            return 0;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
