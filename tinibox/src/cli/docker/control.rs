//! The docker-like commands that act on existing containers beyond stop/kill/rm: `wait`
//! (prints the exit code), `restart` (stop, then run again under a fresh monitor, which is
//! also how `start` runs a container detached),
//! `unpause`, `rename`, `top` (the container's processes as `ps -ef` rows) and
//! `container prune` (removes every stopped container).
//!
//! Exit status: 0, or 1 when a container is missing or in the wrong state (Docker's daemon
//! errors), 125 for bad input the CLI itself refuses. Changes containers only through
//! [`super::front`], [`super::detach`] and the engine's record of the name.

use std::io::Write;
use std::time::Duration;

use super::detach::{spawn_monitor, Start};
use super::front;
use super::manage::{self, fail, for_each_container};
use super::meta::Meta;
use super::names::{self, LABEL_DETACHED, LABEL_NAME};
use super::view::View;
use crate::cli::GlobalOptions;
use crate::container::state::{DirLock, Record};

/// `wait NAME…`: blocks until each container stopped and prints its exit code.
pub fn wait(global: &GlobalOptions, containers: &[String]) -> u8 {
    for_each_container(global, containers, 1, |id, what| loop {
        let Some(v) = View::load(&global.root, id) else {
            return Err(format!("{what} was removed while waiting"));
        };
        let detached = v.record.state.labels.contains_key(LABEL_DETACHED);
        // A container `create` made and nobody started is not running: 0, as Docker answers.
        if v.never_started() {
            println!("0");
            return Ok(());
        }
        if !v.alive() && (v.exit_code.is_some() || !detached) {
            println!("{}", v.exit_code.unwrap_or(-1));
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    })
}

/// `restart [-t N] NAME…`: stops a running container (as `stop`), then runs it again from
/// its front folder under a new monitor, as a detached container; prints the name.
pub fn restart(global: &GlobalOptions, time: Option<i64>, containers: &[String]) -> u8 {
    for_each_container(global, containers, 1, |id, what| {
        manage::stop_one(global, id, time, true).map_err(|e| format!("{what}: {e}"))?;
        start_detached(global, id).map_err(|e| format!("{what}: {e}"))?;
        println!("{what}");
        Ok(())
    })
}

/// Runs a stopped (or never started) container again under a new monitor, as a detached
/// container: what `restart` does after the stop and `start` does. Clears "stopped by the
/// user" (the old monitor is done).
pub(super) fn start_detached(global: &GlobalOptions, id: &str) -> Result<(), String> {
    Meta::update(&global.root, id, |m| m.stopped_by_user = false);
    let tty = Record::load(&global.root, id)
        .ok()
        .and_then(|r| r.spec.process().as_ref().and_then(|p| p.terminal()))
        .unwrap_or(false);
    mark_detached(global, id);
    spawn_monitor(global, Start::Again(id.to_string()), tty)
        .map(|_| ())
        .map_err(|(_, message)| message)
}

/// A container run again by `restart` is detached from then on (its output goes to the log).
fn mark_detached(global: &GlobalOptions, id: &str) {
    let dir = crate::container::container_dir(&global.root, id);
    let Ok(_lock) = DirLock::lock(&dir, id) else {
        return;
    };
    if let Ok(mut r) = Record::load(&global.root, id) {
        if r.state
            .labels
            .insert(LABEL_DETACHED.into(), "true".into())
            .is_none()
        {
            let _ = r.save(&dir);
        }
    }
}

/// `unpause NAME…`: thaws paused containers; prints each name.
pub fn unpause(global: &GlobalOptions, containers: &[String]) -> u8 {
    for_each_container(global, containers, 1, |id, what| {
        crate::container::resume(&global.root, id).map_err(|e| e.to_string())?;
        println!("{what}");
        Ok(())
    })
}

/// `rename OLD NEW`: gives a container another name.
pub fn rename(global: &GlobalOptions, old: &str, new: &str) -> u8 {
    if let Err(e) = crate::spec::values::validate_name(new) {
        return fail(1, e);
    }
    let id = match names::resolve(&global.root, old) {
        Ok(id) => id,
        Err(e) => return fail(1, e),
    };
    if names::name_taken(&global.root, new) {
        return fail(
            1,
            format!(
                "the name {new:?} is already in use — remove that container or pick another name"
            ),
        );
    }
    let dir = crate::container::container_dir(&global.root, &id);
    let old_name = Record::load(&global.root, &id)
        .ok()
        .and_then(|r| names::name_of(&r).map(str::to_string))
        .unwrap_or_else(|| names::short(&id).to_string());
    let r = DirLock::lock(&dir, &id)
        .and_then(|_lock| {
            let mut r = Record::load(&global.root, &id)?;
            r.state.labels.insert(LABEL_NAME.into(), new.to_string());
            r.save(&dir)
        })
        .map_err(|e| e.to_string());
    match r {
        Ok(()) => {
            // Its peers on user-defined networks resolve the new name (and no longer the old).
            let front = names::front_dir(&global.root, &id);
            if let Err(e) = crate::net::rename(&id, &old_name, new, &front) {
                eprintln!("tinibox: updating the network peers' names: {e}");
            }
            0
        }
        Err(e) => fail(1, format!("renaming {old}: {e}")),
    }
}

/// `top NAME [PS OPTIONS]`: the container's processes, as rows of the host's ps run with
/// those options (default `-ef`).
pub fn top(global: &GlobalOptions, what: &str, ps_options: &[String]) -> u8 {
    let id = match names::resolve(&global.root, what) {
        Ok(id) => id,
        Err(e) => return fail(1, e),
    };
    if !front::is_alive(&global.root, &id) {
        return fail(1, format!("container {what} is not running"));
    }
    manage::print_processes(global, &id, ps_options)
}

/// `container prune [-f]`: removes every stopped container (asks first unless `force`).
pub fn prune(global: &GlobalOptions, force: bool) -> u8 {
    if !force && !confirm("WARNING! This will remove all stopped containers.") {
        return 0;
    }
    let mut out = std::io::stdout().lock();
    let mut deleted = Vec::new();
    let mut reclaimed = 0u64;
    for id in names::all_ids(&global.root) {
        let Some(v) = View::load(&global.root, &id) else {
            continue;
        };
        if v.alive() || v.meta.restarting {
            continue;
        }
        let size = disk_usage(&names::front_dir(&global.root, &id));
        match front::remove(&global.root, &id) {
            Ok(()) => {
                deleted.push(id);
                reclaimed += size;
            }
            Err(e) => {
                let _ = writeln!(out, "tinibox: removing {}: {e}", names::short(&id));
            }
        }
    }
    if !deleted.is_empty() {
        let _ = writeln!(out, "Deleted Containers:");
        for id in &deleted {
            let _ = writeln!(out, "{id}");
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "Total reclaimed space: {}", human_size(reclaimed));
    0
}

/// Bytes of the regular files under `dir` (symlinks not followed, other mounts included).
pub fn disk_usage(dir: &std::path::Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => disk_usage(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

/// A size as Docker prints it: decimal units, four significant digits (`0B`, `12.29kB`,
/// `1.5MB`).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < UNITS.len() {
        v /= 1000.0;
        i += 1;
    }
    // Four significant digits without trailing zeros, like Go's %.4g.
    let digits = if v >= 100.0 {
        1
    } else if v >= 10.0 {
        2
    } else {
        3
    };
    let text = format!("{v:.digits$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    };
    format!("{text}{}", UNITS[i])
}

/// Asks "Are you sure you want to continue? [y/N]" on stderr; true for y/yes on stdin.
pub fn confirm(warning: &str) -> bool {
    eprint!("{warning}\nAre you sure you want to continue? [y/N] ");
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_dockers() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(12_290), "12.29kB");
        assert_eq!(human_size(1_500_000), "1.5MB");
        assert_eq!(human_size(123_456_789), "123.5MB");
    }
}
