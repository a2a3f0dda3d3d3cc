//! `stats [-a] [--no-stream] [--no-trunc] [--format T] [NAME…]`: each container's CPU %,
//! memory use / limit and %, network and block I/O and number of processes, in Docker's
//! columns and units (memory in binary units, `1.5MiB / 7.6GiB`; I/O in decimal ones,
//! `1.23kB / 0B`).
//!
//! Figures: the container's cgroup, v1 or v2 (memory use less the inactive file cache, as
//! Docker's CLI counts it; the limit, or the host's memory when there is none; CPU time —
//! on a v1 host whose cpuacct hierarchy the container has no group in, the CPU time of its
//! processes from /proc; bytes read and written; pids), and the network namespace of its
//! init (`/proc/PID/net/dev`, every interface but `lo`; nothing for `--network host`, as
//! Docker). CPU % is the container's CPU time over the host's in the same interval, times
//! the number of CPUs (Docker's formula), from two samples.
//!
//! Without `--no-stream` it redraws every second until interrupted, clearing the screen
//! first as Docker does. Reads only; changes nothing.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use super::manage::fail;
use super::names;
use super::view::View;
use crate::cgroups::{CgroupHandle, Layout};
use crate::cli::GlobalOptions;
use crate::container::state::Record;

/// Docker's default `stats` table.
const DEFAULT_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

/// One reading of a container's counters.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    /// CPU time used, nanoseconds.
    cpu_ns: u64,
    /// The host's CPU time (every CPU, every state), nanoseconds.
    system_ns: u64,
    memory: u64,
    limit: u64,
    net_rx: u64,
    net_tx: u64,
    block_read: u64,
    block_write: u64,
    pids: u64,
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

fn read_u64(dir: &Path, file: &str) -> Option<u64> {
    read(&dir.join(file))?.trim().parse().ok()
}

/// `KEY VALUE` lines (memory.stat, cpu.stat) → the value of `key`.
fn stat_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// The host's memory in bytes (/proc/meminfo MemTotal).
fn host_memory() -> u64 {
    read(Path::new("/proc/meminfo"))
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// The host's CPU time in nanoseconds (/proc/stat's `cpu` line, in clock ticks).
fn system_ns() -> u64 {
    let ticks: u64 = read(Path::new("/proc/stat"))
        .and_then(|t| {
            t.lines().next().map(|l| {
                l.split_whitespace()
                    .skip(1)
                    .filter_map(|v| v.parse::<u64>().ok())
                    .sum()
            })
        })
        .unwrap_or(0);
    ticks * tick_ns()
}

/// Nanoseconds per clock tick.
fn tick_ns() -> u64 {
    // SAFETY: sysconf with a constant name.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    1_000_000_000 / if hz > 0 { hz as u64 } else { 100 }
}

/// CPU time of processes from /proc/PID/stat (utime + stime), nanoseconds.
fn processes_cpu_ns(pids: &[i32]) -> u64 {
    let ticks: u64 = pids
        .iter()
        .filter_map(|p| read(Path::new(&format!("/proc/{p}/stat"))))
        .filter_map(|t| {
            // Fields after the command's closing parenthesis: state is field 3; utime 14, stime 15.
            let rest = &t[t.rfind(')')? + 1..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .sum();
    ticks * tick_ns()
}

/// The cgroup figures of `h` into `s`; `pids` are the container's processes.
fn cgroup_figures(h: &CgroupHandle, pids: &[i32], s: &mut Sample) {
    let dir = |c: &str| match h.layout {
        Layout::V1 => h.dirs.get(c).cloned(),
        Layout::V2 => h.dirs.get("unified").cloned(),
    };
    let mut cpu = None;
    if let Some(d) = dir("memory") {
        let (usage, stat, limit) = match h.layout {
            Layout::V1 => (
                read_u64(&d, "memory.usage_in_bytes"),
                read(&d.join("memory.stat")).and_then(|t| stat_value(&t, "total_inactive_file")),
                read_u64(&d, "memory.limit_in_bytes"),
            ),
            Layout::V2 => (
                read_u64(&d, "memory.current"),
                read(&d.join("memory.stat")).and_then(|t| stat_value(&t, "inactive_file")),
                read_u64(&d, "memory.max"),
            ),
        };
        let usage = usage.unwrap_or(0);
        s.memory = match stat {
            Some(inactive) if inactive < usage => usage - inactive,
            _ => usage,
        };
        if let Some(l) = limit {
            s.limit = l;
        }
    }
    if let Some(d) = dir("pids") {
        s.pids = read_u64(&d, "pids.current").unwrap_or(pids.len() as u64);
    } else {
        s.pids = pids.len() as u64;
    }
    match h.layout {
        Layout::V1 => {
            let acct = h
                .dirs
                .get("cpuacct")
                .or(h.dirs.get("cpu"))
                .and_then(|d| read_u64(d, "cpuacct.usage"));
            cpu = acct;
            if let Some(d) = h.dirs.get("blkio") {
                let text = read(&d.join("blkio.throttle.io_service_bytes")).unwrap_or_default();
                for l in text.lines() {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    if let [_, op, n] = f.as_slice() {
                        let n: u64 = n.parse().unwrap_or(0);
                        match *op {
                            "Read" => s.block_read += n,
                            "Write" => s.block_write += n,
                            _ => {}
                        }
                    }
                }
            }
        }
        Layout::V2 => {
            if let Some(d) = h.dirs.get("unified") {
                cpu = read(&d.join("cpu.stat"))
                    .and_then(|t| stat_value(&t, "usage_usec"))
                    .map(|u| u * 1000);
                for l in read(&d.join("io.stat")).unwrap_or_default().lines() {
                    for kv in l.split_whitespace().skip(1) {
                        match kv.split_once('=') {
                            Some(("rbytes", n)) => s.block_read += n.parse().unwrap_or(0),
                            Some(("wbytes", n)) => s.block_write += n.parse().unwrap_or(0),
                            _ => {}
                        }
                    }
                }
            }
        }
    }
    s.cpu_ns = cpu.unwrap_or_else(|| processes_cpu_ns(pids));
}

/// Bytes received and sent on every interface but `lo` of process `pid`'s network namespace.
fn network(pid: i32) -> (u64, u64) {
    let text = read(Path::new(&format!("/proc/{pid}/net/dev"))).unwrap_or_default();
    let mut rx = 0;
    let mut tx = 0;
    for l in text.lines().skip(2) {
        let Some((name, rest)) = l.split_once(':') else {
            continue;
        };
        if name.trim() == "lo" {
            continue;
        }
        let f: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        rx += f.first().copied().unwrap_or(0);
        tx += f.get(8).copied().unwrap_or(0);
    }
    (rx, tx)
}

/// One sample of container `v` (zeros for a stopped one).
fn sample(root: &Path, v: &View, host_mem: u64) -> Sample {
    let mut s = Sample {
        system_ns: system_ns(),
        ..Sample::default()
    };
    if !v.alive() {
        return s;
    }
    let pids = super::front::pids(root, &v.id).unwrap_or_default();
    if let Ok(rec) = Record::load(root, &v.id) {
        cgroup_figures(&rec.cgroup, &pids, &mut s);
    }
    if s.limit == 0 || s.limit > host_mem {
        s.limit = host_mem;
    }
    let host_net = v
        .meta
        .host_config
        .get("NetworkMode")
        .and_then(Value::as_str)
        == Some("host");
    if !host_net {
        (s.net_rx, s.net_tx) = network(v.record.state.pid);
    }
    s
}

/// Go's `%.Ng`: `prec` significant digits, trailing zeros dropped.
fn go_g(x: f64, prec: usize) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let exp = x.abs().log10().floor() as i64;
    if exp < -4 || exp >= prec as i64 {
        let text = format!("{:.*e}", prec.saturating_sub(1), x);
        let (m, e) = text.split_once('e').unwrap_or((&text, "0"));
        let m = trim_zeros(m);
        let e: i64 = e.parse().unwrap_or(0);
        return format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    }
    let decimals = (prec as i64 - 1 - exp).max(0) as usize;
    trim_zeros(&format!("{x:.decimals$}")).to_string()
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// go-units' size formats: `base` 1024 with KiB… (BytesSize, 4 digits) or 1000 with kB…
/// (HumanSizeWithPrecision, 3 digits).
fn size(bytes: u64, binary: bool) -> String {
    let (base, units, prec): (f64, &[&str], usize) = if binary {
        (1024.0, &["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"], 4)
    } else {
        (1000.0, &["B", "kB", "MB", "GB", "TB", "PB", "EB"], 3)
    };
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= base && i + 1 < units.len() {
        v /= base;
        i += 1;
    }
    format!("{}{}", go_g(v, prec), units[i])
}

/// The template fields of one row (Docker's `stats --format` keys).
fn row(v: &View, as_typed: &str, prev: &Sample, now: &Sample, no_trunc: bool) -> Value {
    let cpus = std::thread::available_parallelism().map_or(1, |c| c.get()) as f64;
    let cpu_delta = now.cpu_ns.saturating_sub(prev.cpu_ns) as f64;
    let sys_delta = now.system_ns.saturating_sub(prev.system_ns) as f64;
    let cpu = if sys_delta > 0.0 && cpu_delta > 0.0 {
        cpu_delta / sys_delta * cpus * 100.0
    } else {
        0.0
    };
    let mem_perc = if now.limit > 0 {
        now.memory as f64 / now.limit as f64 * 100.0
    } else {
        0.0
    };
    let alive = v.alive();
    json!({
        "Container": as_typed,
        "ID": if no_trunc { v.id.as_str() } else { names::short(&v.id) },
        "Name": if alive { v.name.as_str() } else { "--" },
        "CPUPerc": format!("{cpu:.2}%"),
        "MemUsage": format!("{} / {}", size(now.memory, true), size(now.limit, true)),
        "MemPerc": format!("{mem_perc:.2}%"),
        "NetIO": format!("{} / {}", size(now.net_rx, false), size(now.net_tx, false)),
        "BlockIO": format!("{} / {}", size(now.block_read, false), size(now.block_write, false)),
        "PIDs": now.pids.to_string(),
    })
}

/// Docker's column headers.
fn headers() -> Value {
    json!({
        "Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %",
        "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O",
        "BlockIO": "BLOCK I/O", "PIDs": "PIDS",
    })
}

/// Options of `stats`.
pub struct Options<'a> {
    /// Include stopped containers (without names: every container).
    pub all: bool,
    /// One reading, then exit.
    pub no_stream: bool,
    /// Full ids.
    pub no_trunc: bool,
    /// `--format`.
    pub format: Option<&'a str>,
}

/// Runs `stats`; returns the exit status (1 for an unknown container, as Docker).
pub fn run(global: &GlobalOptions, containers: &[String], o: Options<'_>) -> u8 {
    let root = &global.root;
    let mut targets: Vec<(String, String)> = Vec::new();
    if containers.is_empty() {
        for id in names::all_ids(root) {
            targets.push((id.clone(), names::short(&id).to_string()));
        }
    } else {
        for what in containers {
            match names::resolve(root, what) {
                Ok(id) => targets.push((id, what.clone())),
                Err(e) => return fail(1, e),
            }
        }
    }
    let format = o.format.unwrap_or(DEFAULT_TABLE);
    if let Err(e) = super::listing::render(format, &headers(), &[]) {
        return fail(125, e);
    }
    let host_mem = host_memory();
    let load = |targets: &[(String, String)]| -> Vec<(View, String)> {
        let mut views: Vec<(View, String)> = targets
            .iter()
            .filter_map(|(id, typed)| View::load(root, id).map(|v| (v, typed.clone())))
            .filter(|(v, _)| o.all || !containers.is_empty() || v.alive())
            .collect();
        if containers.is_empty() {
            views.sort_by(|a, b| b.0.created().cmp(a.0.created()));
        }
        views
    };
    let mut prev: BTreeMap<String, Sample> = BTreeMap::new();
    let mut first = true;
    loop {
        if containers.is_empty() {
            targets = names::all_ids(root)
                .into_iter()
                .map(|id| {
                    let s = names::short(&id).to_string();
                    (id, s)
                })
                .collect();
        }
        let views = load(&targets);
        if first {
            // The first interval: CPU % needs two readings.
            for (v, _) in &views {
                prev.insert(v.id.clone(), sample(root, v, host_mem));
            }
            std::thread::sleep(Duration::from_millis(500));
            first = false;
        }
        let mut rows = Vec::new();
        for (v, typed) in &views {
            let now = sample(root, v, host_mem);
            let before = prev.get(&v.id).copied().unwrap_or(now);
            rows.push(row(v, typed, &before, &now, o.no_trunc));
            prev.insert(v.id.clone(), now);
        }
        let text = match super::listing::render(format, &headers(), &rows) {
            Ok(t) => t,
            Err(e) => return fail(125, e),
        };
        let mut out = std::io::stdout().lock();
        let clear = if o.no_stream { "" } else { "\x1b[2J\x1b[H" };
        if write!(out, "{clear}{text}")
            .and_then(|_| out.flush())
            .is_err()
        {
            return 0;
        }
        if o.no_stream {
            return 0;
        }
        drop(out);
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_go_units() {
        assert_eq!(size(0, false), "0B");
        assert_eq!(size(1234, false), "1.23kB");
        assert_eq!(size(999, false), "999B");
        assert_eq!(size(1_500_000, false), "1.5MB");
        assert_eq!(size(1536 * 1024, true), "1.5MiB");
        assert_eq!(size(8_123_456_789, true), "7.566GiB");
        assert_eq!(size(512, true), "512B");
        assert_eq!(go_g(1000.0, 4), "1000");
        assert_eq!(go_g(1000.0, 3), "1e+03");
    }

    #[test]
    fn stat_lines_parse() {
        let t = "cache 10\ninactive_file 4096\ntotal_inactive_file 8192\n";
        assert_eq!(stat_value(t, "inactive_file"), Some(4096));
        assert_eq!(stat_value(t, "total_inactive_file"), Some(8192));
        assert_eq!(stat_value(t, "nope"), None);
    }
}
