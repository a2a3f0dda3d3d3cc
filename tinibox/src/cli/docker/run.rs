//! `tinibox run` (and `start -a -i`) in the foreground: prepare and start the container
//! through the shared machinery of [`super::front`], then wait for it in
//! [`container::supervise_with`] (signal forwarding, pty relay) and honour `--rm`. `run -d`
//! is [`super::detach`].
//!
//! As Docker keeps what an attached container writes, its output goes through a logger
//! ([`super::logstore::spawn_echoing`]) that stores it in the container's log and passes it on
//! to our stdout and stderr as it comes; we wait for the logger before returning, so the last
//! words are shown before the prompt.
//!
//! Owns only the foreground's stdin, stdout/stderr hand-over and terminal mode; every failure
//! before the container runs leaves nothing behind.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::front::{create_and_start, discard, finish, Prepared};
use super::logstore::{self, Echo};
use super::meta::Meta;
use super::RunArgs;
use crate::cli::GlobalOptions;
use crate::container::{self, Signals, Terminal};
use crate::linux::tty;

/// Points our stdin at /dev/null (the container inherits it) when `-i` was not given.
fn detach_stdin() {
    if let Ok(null) = std::fs::File::open("/dev/null") {
        // SAFETY: dup2 onto fd 0 of our own process.
        unsafe {
            libc::dup2(null.as_raw_fd(), libc::STDIN_FILENO);
        }
    }
}

/// Runs `tinibox run` in the foreground, the container [`super::front::prepare`]d; returns
/// the exit status.
pub fn run(global: &GlobalOptions, args: &RunArgs, prepared: Prepared) -> u8 {
    foreground(global, prepared, args.flags.interactive, args.flags.tty)
}

/// Runs a prepared container in the foreground (`run` without -d, `start -a`): `interactive`
/// connects our stdin, `tty` gives it a terminal relayed to ours; returns its exit status.
pub fn foreground(global: &GlobalOptions, prepared: Prepared, interactive: bool, tty: bool) -> u8 {
    if !interactive {
        detach_stdin();
    }
    // Held from before the container exists: a signal during create/start is forwarded
    // once the init runs.
    let signals = match Signals::hold() {
        Ok(s) => s,
        Err(e) => {
            discard(&prepared.front);
            eprintln!("tinibox: holding signals for the container: {e}");
            return 125;
        }
    };
    let mut logging = match Logging::start(global, &prepared, tty) {
        Ok(l) => l,
        Err(e) => {
            discard_if_new(&prepared);
            eprintln!("tinibox: starting the container's logger: {e}");
            return 125;
        }
    };
    let started = create_and_start(global, prepared, tty);
    // The container (its init made by create) holds the pipes now: our stdout/stderr again.
    let output = logging.restore();
    let (id, pid, master, rm) = match started {
        Ok(r) => r,
        Err(f) => {
            drop(output);
            logging.wait();
            eprintln!("tinibox: {}", f.message);
            return f.code;
        }
    };
    let raw = if master.is_some() {
        tty::RawMode::enable(libc::STDIN_FILENO)
    } else {
        None
    };
    let stdin = std::io::stdin();
    let terminal = match (master.as_ref(), output.as_ref()) {
        (Some(m), Some(out)) => Some(Terminal {
            master: m.as_fd(),
            output: out.as_fd(),
            input: interactive.then(|| stdin.as_fd()),
            size_from: Some(stdin.as_fd()),
        }),
        _ => None,
    };
    let code = container::supervise_with(pid, &signals, terminal);
    drop(raw);
    drop(master);
    drop(output);
    logging.wait();
    // Still held while --rm removes the container: no signal ends tinibox half-way.
    finish(global, &id, rm, code);
    drop(signals);
    code.clamp(0, 255) as u8
}

/// The container's removal when `prepared` was new (a run that ran before keeps its folder).
fn discard_if_new(prepared: &Prepared) {
    if !prepared.existing {
        discard(&prepared.front);
    }
}

/// The logger of a foreground container and our own stdout/stderr while it is being made.
struct Logging {
    /// The logger process.
    pid: Pid,
    /// Our copies of the logger's pipes (stdout, stderr), until [`Logging::restore`].
    pipes: Option<(OwnedFd, Option<OwnedFd>)>,
    /// Our stdout and stderr, while fds 1 and 2 are the logger's pipes (no terminal).
    saved: Option<(OwnedFd, OwnedFd)>,
}

/// Points fd `to` at `from` (dup2).
fn redirect(to: i32, from: &impl AsRawFd) {
    // SAFETY: dup2 onto a standard fd of our own process.
    unsafe {
        libc::dup2(from.as_raw_fd(), to);
    }
}

/// Copies of our stdout and stderr (close-on-exec: the container does not get them).
fn ours() -> std::io::Result<(OwnedFd, OwnedFd)> {
    Ok((
        std::io::stdout().as_fd().try_clone_to_owned()?,
        std::io::stderr().as_fd().try_clone_to_owned()?,
    ))
}

impl Logging {
    /// Starts the logger (echoing to copies of our stdout and stderr). Without a terminal,
    /// fds 1 and 2 become its pipes until [`Logging::restore`], so the init that `create`
    /// makes inherits them; with one, the relay writes the terminal's output to its stdout
    /// pipe (a terminal has one stream: the stderr pipe is closed at once).
    fn start(global: &GlobalOptions, p: &Prepared, tty: bool) -> std::io::Result<Logging> {
        let opts =
            logstore::parse_options(&Meta::load(&global.root, &p.id).log_opts).unwrap_or_default();
        let (stdout, stderr) = ours()?;
        let logger = logstore::spawn_echoing(&p.front, opts, Echo { stdout, stderr })?;
        if tty {
            return Ok(Logging {
                pid: logger.pid,
                pipes: Some((logger.stdout, None)),
                saved: None,
            });
        }
        let saved = ours()?;
        redirect(libc::STDOUT_FILENO, &logger.stdout);
        redirect(libc::STDERR_FILENO, &logger.stderr);
        Ok(Logging {
            pid: logger.pid,
            pipes: Some((logger.stdout, Some(logger.stderr))),
            saved: Some(saved),
        })
    }

    /// Gives fds 1 and 2 back to our stdout and stderr and lets go of our copies of the
    /// logger's pipes (the container holds its own now); returns the terminal relay's
    /// output pipe (with a terminal).
    fn restore(&mut self) -> Option<OwnedFd> {
        if let Some((out, err)) = self.saved.take() {
            redirect(libc::STDOUT_FILENO, &out);
            redirect(libc::STDERR_FILENO, &err);
            return None;
        }
        self.pipes.take().map(|(out, _)| out)
    }

    /// Waits (up to a few seconds) for the logger to have stored and shown everything: it
    /// ends when the last writer of its pipes is gone (with the container's processes).
    fn wait(&mut self) {
        drop(self.pipes.take());
        let until = Instant::now() + Duration::from_secs(5);
        loop {
            match waitpid(self.pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) if Instant::now() < until => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(nix::errno::Errno::EINTR) => {}
                _ => return,
            }
        }
    }
}
