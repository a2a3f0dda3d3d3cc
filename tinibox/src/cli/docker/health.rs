//! Health checks (`run --health-cmd … --health-interval/-timeout/-retries/-start-period`,
//! `--no-healthcheck`), with Docker's semantics: the first check runs one interval after the
//! container started, then every interval; a check passes when its command exits 0 within
//! the timeout; `retries` failures in a row make the container `unhealthy` (failures during
//! the start period do not count until a check passed); one pass makes it `healthy`.
//!
//! The configuration is kept in [`super::meta::Meta::health`] (Docker's
//! `Config.Healthcheck`, durations in nanoseconds); the state in `<front>/health.json`
//! (Docker's `State.Health`: `Status`, `FailingStreak`, `Log` of the last 5 checks), written
//! only by the checker process that a detached container's monitor forks ([`spawn_checker`]).
//! Checks run through tinibox's own `exec` (a fresh `tinibox exec NAME /bin/sh -c CMD`, or
//! the arguments of a `CMD` test). Without `--health-cmd` the image's own `HEALTHCHECK`
//! (its config's `Healthcheck`) applies, merged with the flags as Docker does
//! ([`with_image`]).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::duration::parse_go;
use crate::spec::RunFlags;

/// Name of the state file in the front folder.
pub const HEALTH_FILE: &str = "health.json";

/// Docker's defaults: 30 s interval and timeout, 3 retries.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_RETRIES: u32 = 3;
/// Most output bytes kept per check (Docker's 4 KiB).
const MAX_OUTPUT: usize = 4096;
/// Checks kept in the log (Docker's 5).
const MAX_LOG: usize = 5;

/// Docker's `Config.Healthcheck` (zero durations and retries mean the defaults).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// `["CMD-SHELL", cmd]`, or `["NONE"]` for `--no-healthcheck`.
    #[serde(rename = "Test")]
    pub test: Vec<String>,
    /// Nanoseconds between checks.
    #[serde(rename = "Interval", default, skip_serializing_if = "is_zero")]
    pub interval: u64,
    /// Nanoseconds a check may take.
    #[serde(rename = "Timeout", default, skip_serializing_if = "is_zero")]
    pub timeout: u64,
    /// Nanoseconds after start when failures do not count.
    #[serde(rename = "StartPeriod", default, skip_serializing_if = "is_zero")]
    pub start_period: u64,
    /// Failures in a row that make the container unhealthy.
    #[serde(rename = "Retries", default, skip_serializing_if = "is_zero32")]
    pub retries: u32,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn is_zero32(v: &u32) -> bool {
    *v == 0
}

/// The health flags → the configuration (None when none is given). Errors name the flag.
pub fn from_flags(f: &RunFlags) -> Result<Option<Config>, String> {
    let given = f.health_cmd.is_some()
        || f.health_interval.is_some()
        || f.health_timeout.is_some()
        || f.health_retries.is_some()
        || f.health_start_period.is_some();
    if f.no_healthcheck {
        if given {
            return Err(
                "--no-healthcheck conflicts with --health-* options — drop one of them".into(),
            );
        }
        return Ok(Some(Config {
            test: vec!["NONE".into()],
            ..Config::default()
        }));
    }
    if !given {
        return Ok(None);
    }
    let dur = |flag: &str, v: &Option<String>| -> Result<u64, String> {
        let Some(v) = v else { return Ok(0) };
        let d = parse_go(v).map_err(|e| format!("{flag}: {e}"))?;
        if !d.is_zero() && d < Duration::from_millis(1) {
            return Err(format!("{flag}: {v:?} is less than 1ms — use at least 1ms"));
        }
        Ok(d.as_nanos() as u64)
    };
    let retries = match f.health_retries {
        Some(r) if r < 0 => {
            return Err(format!(
                "--health-retries: {r} is negative — give 0 (the default, 3) or more"
            ))
        }
        Some(r) => u32::try_from(r).map_err(|_| format!("--health-retries: {r} is too large"))?,
        None => 0,
    };
    // Timing without a command: kept, and no check runs (as Docker with an image that has
    // no check of its own).
    let test = match &f.health_cmd {
        Some(cmd) if cmd.trim().is_empty() => {
            return Err(
                "--health-cmd: the command is empty — give the check's shell command".into(),
            )
        }
        Some(cmd) => vec!["CMD-SHELL".into(), cmd.clone()],
        None => Vec::new(),
    };
    Ok(Some(Config {
        test,
        interval: dur("--health-interval", &f.health_interval)?,
        timeout: dur("--health-timeout", &f.health_timeout)?,
        start_period: dur("--health-start-period", &f.health_start_period)?,
        retries,
    }))
}

/// The container's check from the run flags' (`from_flags`) and the image's own
/// `Healthcheck` (Docker's merge): without flags the image's; `--no-healthcheck`'s `NONE`
/// or `--health-cmd` wins over the image's test; a flag left out (no command, a zero
/// timing) takes the image's value.
pub fn with_image(flags: Option<Config>, image: Option<&serde_json::Value>) -> Option<Config> {
    let image: Option<Config> = image.and_then(|v| serde_json::from_value(v.clone()).ok());
    let Some(mut c) = flags else {
        return image.filter(|i| !i.test.is_empty());
    };
    let Some(i) = image else {
        return Some(c);
    };
    if c.test.is_empty() {
        c.test = i.test;
    }
    let pick = |mine: u64, theirs: u64| if mine == 0 { theirs } else { mine };
    c.interval = pick(c.interval, i.interval);
    c.timeout = pick(c.timeout, i.timeout);
    c.start_period = pick(c.start_period, i.start_period);
    if c.retries == 0 {
        c.retries = i.retries;
    }
    Some(c)
}

/// The command line a check runs in the container: `CMD-SHELL cmd` → `/bin/sh -c cmd`,
/// `CMD arg…` → the arguments; None for `NONE` or no test.
pub fn argv(test: &[String]) -> Option<Vec<String>> {
    match test.split_first() {
        Some((kind, [cmd])) if kind == "CMD-SHELL" => {
            Some(vec!["/bin/sh".into(), "-c".into(), cmd.clone()])
        }
        Some((kind, args)) if kind == "CMD" && !args.is_empty() => Some(args.to_vec()),
        _ => None,
    }
}

/// One check's result, as Docker's `State.Health.Log` entries.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Check {
    /// When it started (RFC 3339).
    #[serde(rename = "Start")]
    pub start: String,
    /// When it ended (RFC 3339).
    #[serde(rename = "End")]
    pub end: String,
    /// Its exit code (-1: timed out or could not run).
    #[serde(rename = "ExitCode")]
    pub exit_code: i32,
    /// Its output (stdout then stderr), at most 4 KiB.
    #[serde(rename = "Output")]
    pub output: String,
}

/// Docker's `State.Health`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    /// `starting`, `healthy` or `unhealthy`.
    #[serde(rename = "Status")]
    pub status: String,
    /// Failed checks in a row.
    #[serde(rename = "FailingStreak")]
    pub failing_streak: u32,
    /// The last checks, oldest first.
    #[serde(rename = "Log")]
    pub log: Vec<Check>,
}

impl State {
    /// Reads the state of the container whose front folder is `front` (None: no checks).
    pub fn load(front: &Path) -> Option<State> {
        let data = std::fs::read(front.join(HEALTH_FILE)).ok()?;
        serde_json::from_slice(&data).ok()
    }

    fn save(&self, front: &Path) {
        let tmp = front.join(format!("{HEALTH_FILE}.tmp"));
        if let Ok(data) = serde_json::to_vec(self) {
            if std::fs::write(&tmp, data).is_ok() {
                let _ = std::fs::rename(&tmp, front.join(HEALTH_FILE));
            }
        }
    }
}

/// Runs one check: `tinibox --root ROOT exec ID ARGV…`, killed after `timeout`.
fn probe(root: &Path, id: &str, cmd: &[String], timeout: Duration) -> Check {
    let start = super::meta::now();
    let child = Command::new("/proc/self/exe")
        .arg("--root")
        .arg(root)
        .args(["exec", id])
        .args(cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            return Check {
                start,
                end: super::meta::now(),
                exit_code: -1,
                output: format!("running the check: {e}"),
            }
        }
    };
    let began = Instant::now();
    let code = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s.code().unwrap_or(-1),
            Ok(None) if began.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Check {
                    start,
                    end: super::meta::now(),
                    exit_code: -1,
                    output: format!(
                        "Health check exceeded timeout ({})",
                        humantime::format_duration(timeout)
                    ),
                };
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => break -1,
        }
    };
    let mut out = Vec::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_end(&mut out);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_end(&mut out);
    }
    out.truncate(MAX_OUTPUT);
    Check {
        start,
        end: super::meta::now(),
        exit_code: code,
        output: String::from_utf8_lossy(&out).into_owned(),
    }
}

/// Forks the checker of container `id` (front folder `front`): it runs the checks while its
/// parent, the monitor, lives (it dies with it) and writes the state file.
pub fn spawn_checker(root: &Path, id: &str, front: &Path, config: &Config) {
    let Some(cmd) = argv(&config.test) else {
        return;
    };
    let interval = nanos_or(config.interval, DEFAULT_INTERVAL);
    let timeout = nanos_or(config.timeout, DEFAULT_TIMEOUT);
    let start_period = Duration::from_nanos(config.start_period);
    let retries = if config.retries == 0 {
        DEFAULT_RETRIES
    } else {
        config.retries
    };
    State {
        status: "starting".into(),
        ..State::default()
    }
    .save(front);
    let monitor = std::process::id() as i32;
    // SAFETY: the monitor is single-threaded; the child sets its parent-death signal and
    // runs the loop below as a fresh single-threaded process.
    if let Ok(nix::unistd::ForkResult::Child) = unsafe { nix::unistd::fork() } {
        // SAFETY: prctl with integer arguments.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
        if nix::unistd::getppid().as_raw() != monitor {
            // SAFETY: leave without the parent's exit handlers.
            unsafe { libc::_exit(0) };
        }
        // Signals the monitor holds for the container are not ours.
        let _ = nix::sys::signal::sigprocmask(
            nix::sys::signal::SigmaskHow::SIG_SETMASK,
            Some(&nix::sys::signal::SigSet::empty()),
            None,
        );
        check_loop(
            root.to_path_buf(),
            id,
            front.to_path_buf(),
            &cmd,
            (interval, timeout, start_period, retries),
        );
        // SAFETY: as above.
        unsafe { libc::_exit(0) }
    }
}

fn nanos_or(n: u64, default: Duration) -> Duration {
    if n == 0 {
        default
    } else {
        Duration::from_nanos(n)
    }
}

fn check_loop(
    root: PathBuf,
    id: &str,
    front: PathBuf,
    cmd: &[String],
    (interval, timeout, start_period, retries): (Duration, Duration, Duration, u32),
) {
    let mut state = State::load(&front).unwrap_or_default();
    let mut last_started = super::meta::Meta::load(&root, id).started_at;
    let mut started = Instant::now();
    loop {
        std::thread::sleep(interval);
        if !front.is_dir() {
            return;
        }
        // A restart (new StartedAt) begins again from `starting`.
        let now_started = super::meta::Meta::load(&root, id).started_at;
        if now_started != last_started {
            last_started = now_started;
            started = Instant::now();
            state = State {
                status: "starting".into(),
                ..State::default()
            };
        }
        if !super::front::is_alive(&root, id) {
            continue;
        }
        let check = probe(&root, id, cmd, timeout);
        let passed = check.exit_code == 0;
        state.log.push(check);
        if state.log.len() > MAX_LOG {
            state.log.remove(0);
        }
        if passed {
            state.status = "healthy".into();
            state.failing_streak = 0;
        } else if started.elapsed() >= start_period || state.status != "starting" {
            state.failing_streak += 1;
            if state.failing_streak >= retries {
                state.status = "unhealthy".into();
            }
        }
        state.save(&front);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_images_check_is_merged_like_dockers() {
        let image = serde_json::json!({
            "Test": ["CMD", "test", "-e", "/ok"], "Interval": 1_000_000_000u64, "Retries": 1,
        });
        let c = with_image(None, Some(&image)).unwrap();
        assert_eq!(argv(&c.test).unwrap(), ["test", "-e", "/ok"]);
        let none = Config {
            test: vec!["NONE".into()],
            ..Config::default()
        };
        let c = with_image(Some(none), Some(&image)).unwrap();
        assert_eq!(
            (c.test.as_slice(), c.interval),
            (&["NONE".to_string()][..], 1_000_000_000)
        );
        assert!(argv(&c.test).is_none());
        let mine = Config {
            test: vec!["CMD-SHELL".into(), "true".into()],
            retries: 5,
            ..Config::default()
        };
        let c = with_image(Some(mine), Some(&image)).unwrap();
        assert_eq!(argv(&c.test).unwrap(), ["/bin/sh", "-c", "true"]);
        assert_eq!((c.interval, c.retries), (1_000_000_000, 5));
        assert!(with_image(None, None).is_none());
        assert!(with_image(None, Some(&serde_json::json!({"Test": []}))).is_none());
    }

    #[test]
    fn flags_make_dockers_healthcheck() {
        let f = RunFlags {
            health_cmd: Some("true".into()),
            health_interval: Some("1s".into()),
            health_retries: Some(2),
            ..RunFlags::default()
        };
        let c = from_flags(&f).unwrap().unwrap();
        assert_eq!(c.test, ["CMD-SHELL", "true"]);
        assert_eq!(c.interval, 1_000_000_000);
        let v = serde_json::to_value(&c).unwrap();
        assert!(v.get("Timeout").is_none() && v["Retries"] == 2);
        assert!(from_flags(&RunFlags::default()).unwrap().is_none());
        let bad = |f: RunFlags| from_flags(&f).unwrap_err();
        assert!(bad(RunFlags {
            health_interval: Some("soon".into()),
            ..f.clone()
        })
        .starts_with("--health-interval"));
        assert!(bad(RunFlags {
            health_retries: Some(-1),
            ..f.clone()
        })
        .starts_with("--health-retries"));
        assert!(bad(RunFlags {
            no_healthcheck: true,
            ..f.clone()
        })
        .contains("conflicts"));
        let none = from_flags(&RunFlags {
            no_healthcheck: true,
            ..RunFlags::default()
        })
        .unwrap()
        .unwrap();
        assert_eq!(none.test, ["NONE"]);
    }
}
