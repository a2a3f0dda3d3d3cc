//! `ps` (docker form): the container table with Docker's columns (CONTAINER ID, IMAGE,
//! COMMAND, CREATED, STATUS, PORTS, NAMES), newest first, `-a`, `-q`, `--no-trunc`,
//! `--filter KEY=VALUE` (status, name, label, ancestor, id, exited, health; the same key twice means
//! either, different keys both, as Docker) and `--format` (`table` and the template keys
//! `.ID .Image .Command .CreatedAt .RunningFor .Ports .Status .State .Names .Labels`, or
//! `json`: one object per line).
//!
//! Exit status: 0; 1 for a bad filter (Docker's daemon refuses it); 125 for a template
//! that does not parse. Reads [`super::view::View`]s; changes nothing.

use std::collections::BTreeMap;
use std::io::Write;

use serde_json::{json, Value};

use super::meta;
use super::names;
use super::template;
use super::view::View;
use crate::cli::GlobalOptions;

/// Docker's default table.
const DEFAULT_TABLE: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

/// A parsed `--filter`.
#[derive(Debug, Default)]
pub struct Filters(BTreeMap<String, Vec<String>>);

/// The keys `--filter` takes.
const FILTER_KEYS: [&str; 7] = [
    "status", "name", "label", "ancestor", "id", "exited", "health",
];

/// Docker's health states (what `health=` takes; `none`: no health check).
const HEALTH_STATES: [&str; 4] = ["starting", "healthy", "unhealthy", "none"];

/// Docker's container states (what `status=` takes).
const STATES: [&str; 7] = [
    "created",
    "restarting",
    "running",
    "removing",
    "paused",
    "exited",
    "dead",
];

impl Filters {
    /// Parses `KEY=VALUE` entries; errors name the bad one.
    pub fn parse(entries: &[String]) -> Result<Filters, String> {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for e in entries {
            let Some((k, v)) = e.split_once('=') else {
                return Err(format!(
                    "--filter: bad format of filter {e:?} (expected name=value)"
                ));
            };
            let k = k.trim().to_ascii_lowercase();
            if !FILTER_KEYS.contains(&k.as_str()) {
                return Err(format!(
                    "--filter: invalid filter {k:?} — use one of {}",
                    FILTER_KEYS.join(", ")
                ));
            }
            if k == "status" && !STATES.contains(&v) {
                return Err(format!(
                    "--filter: invalid filter 'status={v}' — use one of {}",
                    STATES.join(", ")
                ));
            }
            if k == "health" && !HEALTH_STATES.contains(&v) {
                return Err(format!(
                    "--filter: invalid filter 'health={v}' — use one of {}",
                    HEALTH_STATES.join(", ")
                ));
            }
            if k == "exited" && v.parse::<i32>().is_err() {
                return Err(format!(
                    "--filter: invalid filter 'exited={v}' — give an exit code"
                ));
            }
            m.entry(k).or_default().push(v.to_string());
        }
        Ok(Filters(m))
    }

    /// Whether a filter on container states was given (then stopped containers are listed
    /// without `-a`, as Docker does).
    pub fn names_states(&self) -> bool {
        self.0.contains_key("status") || self.0.contains_key("exited")
    }

    /// Whether `v` passes every filter.
    pub fn matches(&self, v: &View) -> bool {
        self.0.iter().all(|(k, values)| {
            values.iter().any(|want| match k.as_str() {
                "status" => v.state() == want,
                "name" => v.name.contains(want.as_str()),
                "id" => v.id.starts_with(want.as_str()),
                "exited" => {
                    !v.alive() && v.exit_code.map(|c| c.to_string()).as_deref() == Some(want)
                }
                "label" => match want.split_once('=') {
                    Some((key, value)) => v.meta.labels.get(key).map(String::as_str) == Some(value),
                    None => v.meta.labels.contains_key(want.as_str()),
                },
                "ancestor" => same_image(&v.image(), want) || v.meta.image_id.starts_with(want),
                "health" => v.health().map_or_else(|| "none".into(), |h| h.status) == *want,
                _ => false,
            })
        })
    }
}

/// Whether two image references name the same image (`busybox` is `busybox:latest`).
fn same_image(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        let last = s.rsplit('/').next().unwrap_or(s);
        if last.contains(':') || last.contains('@') || s.starts_with('/') {
            s.to_string()
        } else {
            format!("{s}:latest")
        }
    };
    norm(a) == norm(b)
}

/// The fields a `ps --format` template sees for one container.
fn row(v: &View, no_trunc: bool) -> Value {
    let mut command = v.command();
    if !no_trunc && command.chars().count() > 20 {
        command = format!("{}…", crate::text::prefix(&command, 19));
    }
    let labels = v
        .meta
        .labels
        .iter()
        .map(|(k, x)| format!("{k}={x}"))
        .collect::<Vec<_>>()
        .join(",");
    json!({
        "ID": if no_trunc { v.id.clone() } else { names::short(&v.id).to_string() },
        "Image": v.image(),
        "Command": format!("\"{command}\""),
        "CreatedAt": go_time(v.created()),
        "RunningFor": format!("{} ago", meta::human_duration(meta::seconds_since(v.created()))),
        "Ports": v.ports_text(),
        "Status": v.status_text(),
        "State": v.state(),
        "Names": v.name,
        "Labels": labels,
        "Mounts": "",
        "Networks": v.network_names().join(","),
        "Size": "",
    })
}

/// An RFC 3339 time as Docker's `ps` writes `CreatedAt` (Go's `time.Time.String()` of the
/// creation second in UTC, the zone TiniLinux runs in): `2026-11-30 18:52:44 +0000 UTC`.
/// Text that is not a time is returned unchanged.
fn go_time(rfc3339: &str) -> String {
    match humantime::parse_rfc3339_weak(rfc3339.trim_end_matches('Z')) {
        Ok(t) => {
            let text = humantime::format_rfc3339_seconds(t).to_string();
            format!(
                "{} +0000 UTC",
                text.trim_end_matches('Z').replacen('T', " ", 1)
            )
        }
        Err(_) => rfc3339.to_string(),
    }
}

/// The table headers of the template keys.
fn headers() -> Value {
    json!({
        "ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
        "RunningFor": "CREATED", "Ports": "PORTS", "Status": "STATUS", "State": "STATE",
        "Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS",
        "Size": "SIZE",
    })
}

/// Aligns tab-separated cells like Go's tabwriter with Docker's settings (minimum width 10,
/// padding 3); the last cell of a line is not padded.
pub fn tabulate(lines: &[String]) -> String {
    let rows: Vec<Vec<&str>> = lines.iter().map(|l| l.split('\t').collect()).collect();
    let mut widths: Vec<usize> = Vec::new();
    for r in &rows {
        for (i, c) in r.iter().enumerate().take(r.len().saturating_sub(1)) {
            if widths.len() <= i {
                widths.push(0);
            }
            widths[i] = widths[i].max(crate::text::width(c));
        }
    }
    let mut out = String::new();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            out.push_str(c);
            if i + 1 < r.len() {
                let w = (widths[i] + 3).max(10);
                out.push_str(&" ".repeat(w - crate::text::width(c)));
            }
        }
        out.push('\n');
    }
    out
}

/// Runs the docker form of `ps`; returns the exit status.
pub fn ps(
    global: &GlobalOptions,
    all: bool,
    quiet: bool,
    no_trunc: bool,
    filters: &[String],
    format: Option<&str>,
) -> u8 {
    let fail = |m: String| {
        eprintln!("tinibox: {m}");
        125
    };
    // Docker's daemon refuses a bad filter: exit 1.
    let filters = match Filters::parse(filters) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("tinibox: {e}");
            return 1;
        }
    };
    let mut views: Vec<View> = names::all_ids(&global.root)
        .iter()
        .filter_map(|id| View::load(&global.root, id))
        .filter(|v| all || filters.names_states() || v.alive())
        .filter(|v| filters.matches(v))
        .collect();
    views.sort_by(|a, b| b.created().cmp(a.created()));
    // Leftovers of a tinibox killed before its container existed: listed by `ps -a` so
    // that they can be seen and removed (`tinibox rm ID`).
    let strays: Vec<String> = if all && filters.0.is_empty() {
        names::stray_front_dirs(&global.root)
    } else {
        Vec::new()
    };
    let mut out = std::io::stdout().lock();
    if quiet {
        for id in views.iter().map(|v| &v.id).chain(strays.iter()) {
            let id = if no_trunc { id } else { names::short(id) };
            let _ = writeln!(out, "{id}");
        }
        return 0;
    }
    let format = format.unwrap_or(DEFAULT_TABLE);
    let stray_rows = strays.iter().map(|id| {
        json!({
            "ID": if no_trunc { id.as_str() } else { names::short(id) },
            "Image": "", "Command": "", "CreatedAt": "", "RunningFor": "", "Ports": "",
            "Status": "Dead (tinibox was killed before the container existed; `tinibox rm` cleans it)",
            "State": "dead", "Names": "", "Labels": "", "Mounts": "", "Networks": "", "Size": "",
        })
    });
    let rows: Vec<Value> = if format == "json" {
        views.iter().map(|v| row(v, no_trunc)).collect()
    } else {
        views
            .iter()
            .map(|v| row(v, no_trunc))
            .chain(stray_rows)
            .collect()
    };
    match render(format, &headers(), &rows) {
        Ok(text) => {
            let _ = out.write_all(text.as_bytes());
            0
        }
        Err(e) => fail(e),
    }
}

/// Renders `rows` through a `--format` value, as Docker's listing commands do: `json` (one
/// compact object per line), `table TEMPLATE` (the `headers` row, then aligned columns by
/// [`tabulate`]) or a bare template (one line per row). `\t` in the value is a tab. The
/// error is `--format: …`.
pub(super) fn render(format: &str, headers: &Value, rows: &[Value]) -> Result<String, String> {
    let format = format.replace("\\t", "\t");
    let mut text = String::new();
    if format == "json" {
        for r in rows {
            text.push_str(&r.to_string());
            text.push('\n');
        }
        return Ok(text);
    }
    let (table, body) = match format.strip_prefix("table") {
        Some(rest) => (true, rest.trim_start().to_string()),
        None => (false, format),
    };
    let mut lines = Vec::new();
    if table {
        lines.push(template::render(&body, headers).map_err(|e| format!("--format: {e}"))?);
    }
    for r in rows {
        lines.push(template::render(&body, r).map_err(|e| format!("--format: {e}"))?);
    }
    if table {
        return Ok(tabulate(&lines));
    }
    for l in lines {
        text.push_str(&l);
        text.push('\n');
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_at_is_gos_time_string() {
        assert_eq!(
            go_time("2026-11-30T18:52:44.123456789Z"),
            "2026-11-30 18:52:44 +0000 UTC"
        );
        assert_eq!(
            go_time("2026-11-30T18:52:44Z"),
            "2026-11-30 18:52:44 +0000 UTC"
        );
        assert_eq!(go_time("garbage"), "garbage");
    }

    #[test]
    fn tabwriter_pads_like_dockers() {
        let t = tabulate(&["CONTAINER ID\tNAMES".into(), "abc\tweb".into()]);
        assert_eq!(t, "CONTAINER ID   NAMES\nabc            web\n");
        let t = tabulate(&["A\tB".into()]);
        assert_eq!(t, "A         B\n");
    }

    #[test]
    fn filters_are_checked() {
        assert!(Filters::parse(&["status=running".into()]).is_ok());
        assert!(Filters::parse(&["status=up".into()])
            .unwrap_err()
            .contains("status=up"));
        assert!(Filters::parse(&["colour=red".into()]).is_err());
        assert!(Filters::parse(&["name".into()]).is_err());
        assert!(same_image("busybox", "busybox:latest"));
        assert!(!same_image("busybox:1", "busybox"));
    }
}
