//! What the docker-like front door remembers about a container beyond the engine's record:
//! `<root>/.bundles/<id>/meta.json` — the image as typed, the times it was created, started
//! and finished (RFC 3339, UTC, nanoseconds), the user's `--label`s, the restart policy and
//! how often it restarted, the stop signal and timeout, the log options, the health check,
//! whether the OOM killer struck in the last run, and the `HostConfig` object that `inspect`
//! shows (built once from the run flags).
//!
//! Written atomically (temp file + rename) by `run` (at prepare, start and exit) and by the
//! detached container's monitor; read by `ps`, `inspect`, `wait` and friends. A container
//! made before this file existed (or by the runc form) reads as [`Meta::default`].

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::names;

/// Name of the file in the front folder.
pub const META_FILE: &str = "meta.json";

/// Docker's zero time, shown for a time that has not happened yet.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// A restart policy (`--restart`), as Docker's `HostConfig.RestartPolicy`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartPolicy {
    /// `no`, `on-failure`, `always` or `unless-stopped` (empty reads as `no`).
    #[serde(rename = "Name")]
    pub name: String,
    /// With `on-failure`: the most restarts (0: no limit).
    #[serde(rename = "MaximumRetryCount")]
    pub maximum_retry_count: u32,
}

/// The front door's record of one container (see the module comment).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Meta {
    /// The image (or rootfs directory) as the user typed it.
    #[serde(default)]
    pub image: String,
    /// The image's id (`sha256:…`) when it came from the store.
    #[serde(default)]
    pub image_id: String,
    /// When the container was first created (RFC 3339; kept across restarts, which make a
    /// new engine record).
    #[serde(default)]
    pub created: Option<String>,
    /// `--label KEY=VALUE` entries.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// When the container's init last started (RFC 3339).
    #[serde(default)]
    pub started_at: Option<String>,
    /// When the container's init last ended (RFC 3339).
    #[serde(default)]
    pub finished_at: Option<String>,
    /// `--restart`.
    #[serde(default)]
    pub restart: RestartPolicy,
    /// How often the monitor restarted the container.
    #[serde(default)]
    pub restart_count: u32,
    /// Whether the monitor is waiting to restart it now.
    #[serde(default)]
    pub restarting: bool,
    /// Set by `stop`/`kill`: the container was stopped by the user, so no policy restarts it
    /// (and `unless-stopped` stays down at boot).
    #[serde(default)]
    pub stopped_by_user: bool,
    /// `--stop-signal` (Docker's default: SIGTERM).
    #[serde(default)]
    pub stop_signal: Option<String>,
    /// `--stop-timeout` in seconds (Docker's default: 10; negative: no SIGKILL).
    #[serde(default)]
    pub stop_timeout: Option<i64>,
    /// The `HostConfig` object `inspect` prints.
    #[serde(default)]
    pub host_config: serde_json::Value,
    /// `--log-opt KEY=VALUE` entries (checked by [`super::logstore::parse_options`]).
    #[serde(default)]
    pub log_opts: Vec<String>,
    /// The health check (`--health-*`, `--no-healthcheck`).
    #[serde(default)]
    pub health: Option<super::health::Config>,
    /// `-i`: the container keeps standard input open (Docker's `Config.OpenStdin`), so
    /// `start -i` connects the caller's stdin to it.
    #[serde(default)]
    pub open_stdin: bool,
    /// Whether the memory cgroup's OOM killer killed a process of the last run (Docker's
    /// `State.OOMKilled`; cleared at each start).
    #[serde(default)]
    pub oom_killed: bool,
}

impl Meta {
    /// Reads the container's metadata; the default when there is none (or it is unreadable).
    pub fn load(root: &Path, id: &str) -> Meta {
        std::fs::read(names::front_dir(root, id).join(META_FILE))
            .ok()
            .and_then(|d| serde_json::from_slice(&d).ok())
            .unwrap_or_default()
    }

    /// Writes the metadata into `front` (temp file + rename).
    pub fn save_in(&self, front: &Path) -> std::io::Result<()> {
        let data = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        let tmp = front.join(format!("{META_FILE}.tmp"));
        std::fs::write(&tmp, data)?;
        std::fs::rename(&tmp, front.join(META_FILE))
    }

    /// Loads, changes with `f` and saves the metadata of container `id` (best effort: a
    /// container whose front folder is gone is left alone).
    pub fn update(root: &Path, id: &str, f: impl FnOnce(&mut Meta)) {
        let front = names::front_dir(root, id);
        if !front.is_dir() {
            return;
        }
        let mut m = Meta::load(root, id);
        f(&mut m);
        let _ = m.save_in(&front);
    }
}

/// Now, as RFC 3339 with nanoseconds (what Docker prints).
pub fn now() -> String {
    humantime::format_rfc3339_nanos(SystemTime::now()).to_string()
}

/// Parses an RFC 3339 time written by [`now`] (or the engine's `created`).
pub fn parse_time(text: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(text.trim_end_matches('Z'))
        .ok()
        .or_else(|| humantime::parse_rfc3339(text).ok())
}

/// How long ago `text` was, in whole seconds (0 for a time in the future or unparsable).
pub fn seconds_since(text: &str) -> u64 {
    parse_time(text)
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .map_or(0, |d| d.as_secs())
}

/// A duration as Docker's `ps` words it (`Less than a second`, `3 minutes`, `About an
/// hour`, `2 days` …), from the number of seconds (go-units' HumanDuration).
pub fn human_duration(secs: u64) -> String {
    let minutes = secs / 60;
    let hours = (secs as f64 / 3600.0).round() as u64;
    match secs {
        0 => "Less than a second".into(),
        1 => "1 second".into(),
        s if s < 60 => format!("{s} seconds"),
        _ if minutes == 1 => "About a minute".into(),
        _ if minutes < 60 => format!("{minutes} minutes"),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", hours / 24 / 365),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_dockers() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(1), "1 second");
        assert_eq!(human_duration(42), "42 seconds");
        assert_eq!(human_duration(61), "About a minute");
        assert_eq!(human_duration(180), "3 minutes");
        assert_eq!(human_duration(3700), "About an hour");
        assert_eq!(human_duration(5 * 3600), "5 hours");
        assert_eq!(human_duration(3 * 86400), "3 days");
        assert_eq!(human_duration(20 * 86400), "2 weeks");
    }

    #[test]
    fn times_round_trip() {
        let t = now();
        assert!(t.ends_with('Z'), "{t}");
        assert!(seconds_since(&t) < 5);
        assert!(parse_time("2026-01-01T00:00:00.123456789Z").is_some());
        assert_eq!(seconds_since("garbage"), 0);
    }

    #[test]
    fn missing_meta_is_default() {
        let d = tempfile::tempdir().unwrap();
        let m = Meta::load(d.path(), "x");
        assert!(m.image.is_empty() && m.restart.name.is_empty());
        let front = names::front_dir(d.path(), "x");
        std::fs::create_dir_all(&front).unwrap();
        Meta::update(d.path(), "x", |m| m.image = "img".into());
        assert_eq!(Meta::load(d.path(), "x").image, "img");
    }
}
