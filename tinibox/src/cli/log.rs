//! Log lines of the runc-compatible commands: `--log FILE` and `--log-format text|json`.
//!
//! Owns the process-wide logger and its line formats. containerd's shim and Podman's conmon read
//! the *last* `"level":"error"` line of the log file to explain a failed `create`/`exec`, so
//! every failure of a runtime command goes through [`error`], which writes the log line and
//! the same message on stderr (as runc does). It does not decide exit codes.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use super::{GlobalOptions, LogFormat};

struct Logger {
    file: Option<Mutex<File>>,
    format: LogFormat,
    debug: bool,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// Sets up the logger from the global flags (first call wins). A log file that cannot be opened
/// is reported on stderr and logging falls back to stderr only.
pub fn init(global: &GlobalOptions) {
    LOGGER.get_or_init(|| {
        let file = global.log.as_ref().and_then(|p| {
            match OpenOptions::new().create(true).append(true).open(p) {
                Ok(f) => Some(Mutex::new(f)),
                Err(e) => {
                    eprintln!("tinibox: cannot open log file {}: {e}", p.display());
                    None
                }
            }
        });
        Logger {
            file,
            format: global.log_format,
            debug: global.debug,
        }
    });
}

/// One formatted line (without the trailing newline).
fn line(format: LogFormat, level: &str, msg: &str, time: SystemTime) -> String {
    let time = humantime::format_rfc3339_nanos(time).to_string();
    match format {
        LogFormat::Json => {
            serde_json::json!({"level": level, "msg": msg, "time": time}).to_string()
        }
        LogFormat::Text => format!(
            "time={time:?} level={level} msg={}",
            serde_json::Value::String(msg.to_string())
        ),
    }
}

fn write(level: &str, msg: &str, also_stderr: bool) {
    let logger = LOGGER.get();
    let mut written_to_stderr = false;
    if let Some(Logger {
        file: Some(f),
        format,
        ..
    }) = logger
    {
        let l = line(*format, level, msg, SystemTime::now());
        if let Ok(mut f) = f.lock() {
            let _ = writeln!(f, "{l}");
        }
    } else if level != "error" {
        // No log file: non-error lines go to stderr in the chosen format.
        let format = logger.map_or(LogFormat::Text, |l| l.format);
        eprintln!("{}", line(format, level, msg, SystemTime::now()));
        written_to_stderr = true;
    }
    if also_stderr && !written_to_stderr {
        eprintln!("tinibox: {msg}");
    }
}

/// Logs a failure: a log line (if `--log` is set) and `tinibox: MSG` on stderr.
pub fn error(msg: &str) {
    write("error", msg, true);
}

/// Logs a warning to the log file (or stderr without `--log`).
pub fn warn(msg: &str) {
    write("warning", msg, false);
}

/// Logs a debug line when `--debug` is set.
pub fn debug(msg: &str) {
    if LOGGER.get().is_some_and(|l| l.debug) {
        write("debug", msg, false);
    }
}

/// An error and its causes on one line, `outer: cause: …`, as anyhow's `{:#}` writes them,
/// but without a cause whose text the line already ends with: error types whose message
/// includes their source (`{context}: {source}`) would otherwise print it twice ("read F:
/// No such file or directory (os error 2): No such file or directory (os error 2)").
pub fn chain(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.ends_with(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_names_each_cause_once() {
        let io = std::io::Error::from_raw_os_error(2);
        let inner = crate::container::ContainerError::io("read /nonexist", io);
        let e = anyhow::Error::new(inner).context("loading the process");
        assert_eq!(
            chain(&e),
            "loading the process: read /nonexist: No such file or directory (os error 2)"
        );
        let plain = anyhow::anyhow!("a").context("b");
        assert_eq!(chain(&plain), "b: a");
    }

    #[test]
    fn json_lines_have_level_msg_time() {
        let l = line(LogFormat::Json, "error", "a \"b\"", SystemTime::UNIX_EPOCH);
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "a \"b\"");
        assert_eq!(v["time"], "1970-01-01T00:00:00.000000000Z");
    }

    #[test]
    fn text_lines_look_like_logrus() {
        let l = line(LogFormat::Text, "warning", "x y", SystemTime::UNIX_EPOCH);
        assert_eq!(
            l,
            "time=\"1970-01-01T00:00:00.000000000Z\" level=warning msg=\"x y\""
        );
    }
}
