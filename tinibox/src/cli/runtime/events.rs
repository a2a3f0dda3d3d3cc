//! `events`: a container's resource figures, once (`--stats`) or every interval. Owns that command's flags and output; the work is [`crate::container`]'s.

use anyhow::{bail, Result};
use clap::Args;

use super::finish;
use crate::cli::{log, GlobalOptions};
use crate::container::{self, state::Record};

/// Arguments of `events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Print one stats event and exit.
    #[arg(long)]
    stats: bool,
    /// Interval between stats events (e.g. 5s, 500ms).
    #[arg(long, default_value = "5s")]
    interval: String,
    /// Container id.
    id: String,
}

/// One stats event in runc's shape (the fields tinibox's cgroups report).
fn stats_event(global: &GlobalOptions, id: &str) -> Result<Option<serde_json::Value>> {
    let rec = Record::load(&global.root, id)?;
    if !rec.init_alive() {
        return Ok(None);
    }
    let s = rec.cgroup.stats();
    Ok(Some(serde_json::json!({
        "type": "stats",
        "id": id,
        "data": {
            "cpu": {"usage": {"total": s.cpu_usage_ns.unwrap_or(0)}},
            "memory": {
                "usage": {"usage": s.memory_usage.unwrap_or(0),
                          "limit": s.memory_limit.unwrap_or(u64::MAX)},
                "oom_kills": s.oom_kills.unwrap_or(0)
            },
            "pids": {"current": s.pids_current.unwrap_or(0)}
        }
    })))
}

/// `--interval`: a humantime duration greater than zero (runc refuses 0 too: a zero interval
/// would print events in a busy loop).
///
/// Errors: one line naming the value (cut to 64 characters) and the form to use.
fn parse_interval(text: &str) -> Result<std::time::Duration> {
    let shown: String = text.chars().take(64).collect();
    match humantime::parse_duration(text) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => bail!("--interval {shown:?} must be greater than 0 — e.g. 5s or 500ms"),
        Err(_) => bail!("--interval {shown:?} is not a duration — e.g. 5s or 500ms"),
    }
}

/// Runs `events`; returns the exit status.
pub fn events(global: &GlobalOptions, args: EventsArgs) -> u8 {
    log::init(global);
    let r = (|| {
        container::validate_id(&args.id)?;
        let interval = parse_interval(&args.interval)?;
        loop {
            match stats_event(global, &args.id)? {
                Some(ev) => println!("{ev}"),
                None if args.stats => bail!("container {:?} is not running", args.id),
                None => return Ok(0),
            }
            if args.stats {
                return Ok(0);
            }
            std::thread::sleep(interval);
        }
    })();
    finish(global, "events", r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_are_positive_durations() {
        assert_eq!(
            parse_interval("500ms").unwrap(),
            std::time::Duration::from_millis(500)
        );
        for (bad, want) in [
            ("0s", "greater than 0"),
            ("0", "greater than 0"),
            ("abc", "not a duration"),
            ("-1s", "not a duration"),
        ] {
            let e = parse_interval(bad).unwrap_err().to_string();
            assert!(e.contains(want) && !e.contains('\n'), "{bad}: {e}");
        }
    }
}
