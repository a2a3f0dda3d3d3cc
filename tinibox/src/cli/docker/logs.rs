//! `logs [-f] [--tail N] [--since T] [--until T] [-t] NAME`: a container's output
//! from its log store ([`super::logstore`], across rotated files), stdout records to stdout
//! and stderr records to stderr, as Docker's `logs` prints them. `--tail` takes the last N
//! records, then `--since`/`--until` drop those outside the window (Docker's order); `-t`
//! puts each record's time (RFC 3339, nanoseconds) and a space before it.
//!
//! A container started before the store existed has a raw `container.log`: printed as it
//! is (`--tail` and `-f` work, times are unknown). One that never ran has no log: nothing
//! is printed (exit 0), as Docker does.

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::logstore::{self, Record};
use super::manage::fail;
use super::names::{self, LOG_FILE};
use super::{front, LogsArgs};
use crate::cli::GlobalOptions;

/// Runs `logs`; returns the exit status: 1 for an unknown container or a value of `--tail`,
/// `--since` or `--until` that cannot be read (Docker's daemon refuses such values: its CLI
/// exits 1; only flags its CLI cannot parse exit 125).
pub fn run(global: &GlobalOptions, args: LogsArgs) -> u8 {
    let id = match names::resolve(&global.root, &args.container) {
        Ok(id) => id,
        Err(e) => return fail(1, e),
    };
    let tail = match args.tail.as_str() {
        "all" => None,
        n => match n.parse::<i64>() {
            Ok(n) if n < 0 => None,
            Ok(n) => Some(n as usize),
            Err(_) => {
                return fail(
                    1,
                    format!("--tail: {n:?} is not a number — use a count of lines, -1 or all"),
                )
            }
        },
    };
    let now = SystemTime::now();
    let point = |flag: &str, v: &Option<String>| {
        v.as_deref()
            .map(|t| super::duration::parse_point(t, now).map_err(|e| format!("{flag}: {e}")))
            .transpose()
    };
    let (since, until) = match (point("--since", &args.since), point("--until", &args.until)) {
        (Ok(s), Ok(u)) => (s, u),
        // Docker's daemon refuses the value: exit 1.
        (Err(e), _) | (_, Err(e)) => return fail(1, e),
    };
    let front_dir = names::front_dir(&global.root, &id);
    if !logstore::exists(&front_dir) {
        return legacy(global, &id, &front_dir, &args, tail);
    }
    let (mut records, mut follower) = match logstore::read_records(&front_dir) {
        Ok(r) => r,
        Err(e) => return fail(125, format!("reading the log of {}: {e}", args.container)),
    };
    if let Some(n) = tail {
        records.drain(..records.len().saturating_sub(n));
    }
    let keep = |r: &Record| {
        let at = r.at();
        since.is_none_or(|s| at >= s) && until.is_none_or(|u| at <= u)
    };
    let mut out = Output::new(args.timestamps);
    for r in records.iter().filter(|r| keep(r)) {
        if !out.put(r) {
            return 0;
        }
    }
    if !args.follow {
        return 0;
    }
    loop {
        let alive = front::is_alive(&global.root, &id);
        out.flush();
        std::thread::sleep(Duration::from_millis(100));
        for r in follower.next_records().iter().filter(|r| keep(r)) {
            if !out.put(r) {
                return 0;
            }
        }
        if until.is_some_and(|u| SystemTime::now() > u) {
            return 0;
        }
        // One more read after the container stopped, for its last words (above).
        if !alive {
            out.flush();
            return 0;
        }
    }
}

/// Where records go: stdout or stderr, with or without their times.
struct Output {
    stdout: std::io::Stdout,
    stderr: std::io::Stderr,
    timestamps: bool,
}

impl Output {
    fn new(timestamps: bool) -> Output {
        Output {
            stdout: std::io::stdout(),
            stderr: std::io::stderr(),
            timestamps,
        }
    }

    /// Writes one record; false when the reader went away.
    fn put(&mut self, r: &Record) -> bool {
        let w: &mut dyn Write = if r.stderr {
            let _ = self.stdout.flush();
            &mut self.stderr
        } else {
            &mut self.stdout
        };
        if self.timestamps && (write!(w, "{} ", r.time).is_err()) {
            return false;
        }
        w.write_all(&r.data).is_ok()
    }

    fn flush(&mut self) {
        let _ = self.stdout.flush();
        let _ = self.stderr.flush();
    }
}

/// The raw `container.log` of a container started before the log store.
fn legacy(
    global: &GlobalOptions,
    id: &str,
    front_dir: &Path,
    args: &LogsArgs,
    tail: Option<usize>,
) -> u8 {
    let path = front_dir.join(LOG_FILE);
    // No log yet: a container `create` made and nothing started (Docker prints nothing).
    let Ok(mut file) = std::fs::File::open(&path) else {
        return 0;
    };
    if args.timestamps || args.since.is_some() || args.until.is_some() {
        return fail(
            125,
            format!(
                "{}: its log was written before tinibox kept times — use logs without -t/--since/--until",
                args.container
            ),
        );
    }
    let mut out = std::io::stdout().lock();
    let mut text = Vec::new();
    if let Err(e) = file.read_to_end(&mut text) {
        return fail(125, format!("reading {}: {e}", path.display()));
    }
    let lines: Vec<&[u8]> = text.split_inclusive(|b| *b == b'\n').collect();
    let from = tail.map_or(0, |n| lines.len().saturating_sub(n));
    for l in &lines[from..] {
        if out.write_all(l).is_err() {
            return 0;
        }
    }
    let mut buf = vec![0u8; 65536];
    if !args.follow {
        return 0;
    }
    loop {
        let alive = front::is_alive(&global.root, id);
        let _ = out.flush();
        std::thread::sleep(Duration::from_millis(100));
        loop {
            match file.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if out.write_all(&buf[..n]).is_err() {
                        return 0;
                    }
                }
            }
        }
        if !alive {
            break;
        }
    }
    0
}
