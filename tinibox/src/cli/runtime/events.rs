//! `events`: a container's resource figures, once (`--stats`) or every interval. Owns that command's flags and output; the work is [`crate::container`]'s.

use anyhow::{anyhow, bail, Result};
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
    let dir = container::container_dir(&global.root, id);
    if !rec.init_alive() {
        return Ok(None);
    }
    let _ = dir;
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

/// Runs `events`; returns the exit status.
pub fn events(global: &GlobalOptions, args: EventsArgs) -> u8 {
    log::init(global);
    let r = (|| {
        container::validate_id(&args.id)?;
        let interval = humantime::parse_duration(&args.interval)
            .map_err(|e| anyhow!("--interval {:?}: {e}", args.interval))?;
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
