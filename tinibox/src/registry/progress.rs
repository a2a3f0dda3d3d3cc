//! Pull/push progress, in Docker's words (`Pulling fs layer`, `Downloading`, `Pull complete`,
//! `Already exists`). On a terminal, one line per layer redrawn in place every 150 ms with bytes
//! and rate; otherwise one plain line per state change, so logs stay readable. Writes to the
//! stream the caller gives (stdout for `pull`, stderr when `run` pulls).

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where progress goes.
pub struct Progress {
    out: Mutex<Box<dyn Write + Send>>,
    tty: bool,
    quiet: bool,
    lines: Mutex<Vec<Arc<LineState>>>,
    drawn: AtomicU64,
    stop: AtomicBool,
}

/// The state of one layer's line.
pub struct LineState {
    id: String,
    status: Mutex<String>,
    done: AtomicU64,
    total: u64,
    started: Instant,
}

/// A handle to one line.
pub struct Line {
    state: Arc<LineState>,
    progress: Arc<Progress>,
}

fn human(bytes: f64) -> String {
    let units = ["B", "kB", "MB", "GB"];
    let mut v = bytes;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < units.len() {
        v /= 1000.0;
        u += 1;
    }
    format!("{v:.1}{}", units[u])
}

impl Progress {
    /// A progress display on `out`; `tty` selects the redrawn form, `quiet` prints nothing.
    pub fn new(out: Box<dyn Write + Send>, tty: bool, quiet: bool) -> Arc<Progress> {
        Arc::new(Progress {
            out: Mutex::new(out),
            tty,
            quiet,
            lines: Mutex::new(Vec::new()),
            drawn: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        })
    }

    /// Prints one message line (not a layer).
    pub fn message(&self, text: &str) {
        if self.quiet {
            return;
        }
        if let Ok(mut out) = self.out.lock() {
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        }
    }

    /// Adds a line for blob `digest` of `total` bytes.
    pub fn line(self: &Arc<Self>, digest: &str, total: u64, status: &str) -> Line {
        let id: String = digest
            .trim_start_matches("sha256:")
            .chars()
            .take(12)
            .collect();
        let state = Arc::new(LineState {
            id,
            status: Mutex::new(status.to_string()),
            done: AtomicU64::new(0),
            total,
            started: Instant::now(),
        });
        if let Ok(mut lines) = self.lines.lock() {
            lines.push(state.clone());
        }
        let line = Line {
            state,
            progress: self.clone(),
        };
        line.plain();
        line
    }

    fn redraw(&self) {
        if self.quiet || !self.tty {
            return;
        }
        let Ok(lines) = self.lines.lock() else { return };
        let Ok(mut out) = self.out.lock() else { return };
        let up = self.drawn.swap(lines.len() as u64, Ordering::Relaxed);
        if up > 0 {
            let _ = write!(out, "\x1b[{up}A");
        }
        for l in lines.iter() {
            let status = l.status.lock().map(|s| s.clone()).unwrap_or_default();
            let done = l.done.load(Ordering::Relaxed);
            let text = if status == "Downloading" || status == "Uploading" {
                let secs = l.started.elapsed().as_secs_f64().max(0.001);
                format!(
                    "{}: {status} {}/{} {}/s",
                    l.id,
                    human(done as f64),
                    human(l.total as f64),
                    human(done as f64 / secs)
                )
            } else {
                format!("{}: {status}", l.id)
            };
            let _ = writeln!(out, "\x1b[2K{text}");
        }
        let _ = out.flush();
    }

    /// Starts the redraw thread (terminal only); stop it with [`Progress::finish`].
    pub fn start(self: &Arc<Self>) -> Option<std::thread::JoinHandle<()>> {
        if self.quiet || !self.tty {
            return None;
        }
        let me = self.clone();
        Some(std::thread::spawn(move || {
            while !me.stop.load(Ordering::Relaxed) {
                me.redraw();
                std::thread::sleep(Duration::from_millis(150));
            }
        }))
    }

    /// Stops the redraw thread and draws the final state.
    pub fn finish(&self, handle: Option<std::thread::JoinHandle<()>>) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = handle {
            let _ = h.join();
        }
        self.redraw();
    }
}

impl Line {
    fn plain(&self) {
        let p = &self.progress;
        if p.quiet || p.tty {
            return;
        }
        let status = self
            .state
            .status
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default();
        p.message(&format!("{}: {status}", self.state.id));
    }

    /// Changes the line's status (printed at once in plain mode).
    pub fn set_status(&self, status: &str) {
        if let Ok(mut s) = self.state.status.lock() {
            if *s == status {
                return;
            }
            *s = status.to_string();
        }
        self.plain();
    }

    /// Sets the bytes done so far.
    pub fn set_done(&self, bytes: u64) {
        self.state.done.store(bytes, Ordering::Relaxed);
    }
}

/// Whether file descriptor `fd` is a terminal.
pub fn is_terminal(fd: i32) -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(fd) == 1 }
}
