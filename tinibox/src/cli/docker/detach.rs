//! `run -d`: a monitor process (double fork + setsid) creates and starts the container through
//! [`super::front`], so it is the parent of the container's init; it sends the outcome back to
//! `tinibox run` over a pipe, then waits in [`container::supervise_with`], records the exit
//! status and honours `--rm`. Output goes to the log store ([`super::logstore`], a logger
//! process the monitor forks first) that `tinibox logs` reads; once the container has ended
//! for good the monitor lets the logger store the rest before it records the exit, as Docker
//! waits for a container's streams (up to 2 s), so `logs` after the container shows as exited
//! has all of its output; with `-t` the monitor holds
//! the pty master and `supervise_with` copies the terminal's output into the store's pipe.
//! With a health check the monitor also forks its checker ([`super::health`]).
//!
//! With a restart policy ([`super::policy`]) the monitor stays: after the init ended it
//! records the exit, waits Docker's back-off (the container shows as `restarting`) and runs
//! the container again from its front folder ([`super::front::prepare_again`]), until the
//! policy says no or the user stopped or removed it. `restart` starts a fresh monitor for a
//! stopped container the same way.
//!
//! Owns the monitor's life only; the container is the engine's.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, setsid, ForkResult, Pid};

use std::time::{Duration, Instant};

use super::front::{create_and_start, discard, finish, prepare_again, Prepared};
use super::meta::Meta;
use super::names;
use super::policy;
use super::RunArgs;
use crate::cli::GlobalOptions;
use crate::container::{self, Signals, Terminal};

fn redirect(fd: i32, to: i32) {
    // SAFETY: dup2 onto a standard fd of our own process.
    unsafe {
        libc::dup2(to, fd);
    }
}

/// How long the monitor waits for the logger at the container's end (Docker's wait for a
/// container's streams on exit).
const DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// Closes the monitor's own ends of the log pipes (its stdout and stderr become /dev/null)
/// and waits until the logger `pid` has stored the rest of the output and exited, at most
/// [`DRAIN_LIMIT`]: a process still holding the pipes only costs that wait.
fn wait_for_logger(pid: Pid) {
    if let Ok(null) = std::fs::File::open("/dev/null") {
        redirect(libc::STDOUT_FILENO, null.as_raw_fd());
        redirect(libc::STDERR_FILENO, null.as_raw_fd());
    }
    let deadline = Instant::now() + DRAIN_LIMIT;
    while let Ok(WaitStatus::StillAlive) = waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
        if Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// What the monitor starts: a new container, or one that ran before (by id).
pub(super) enum Start {
    /// A container [`super::front::prepare`]d by `run -d`.
    New(Box<Prepared>),
    /// A stopped container run again (`restart`).
    Again(String),
}

/// The container id of `start`.
fn id_of(start: &Start) -> String {
    match start {
        Start::New(p) => p.id.clone(),
        Start::Again(id) => id.clone(),
    }
}

/// The monitor: set up stdio, create + start, report, wait, restart by policy, clean up.
/// Never returns.
fn monitor(global: &GlobalOptions, start: Start, tty: bool, report: OwnedFd) -> ! {
    let mut report = std::fs::File::from(report);
    let front = match &start {
        Start::New(p) => p.front.clone(),
        Start::Again(id) => names::front_dir(&global.root, id),
    };
    let discard_new = |start: Start| {
        if let Start::New(p) = start {
            discard(&p.front);
        }
    };
    let opts = super::logstore::parse_options(&Meta::load(&global.root, &id_of(&start)).log_opts)
        .unwrap_or_default();
    let logger = super::logstore::spawn_logger(&front, opts);
    let null = std::fs::File::open("/dev/null");
    let logger_pid = match (logger, null) {
        (Ok(logger), Ok(null)) => {
            redirect(libc::STDIN_FILENO, null.as_raw_fd());
            redirect(libc::STDOUT_FILENO, logger.stdout.as_raw_fd());
            redirect(libc::STDERR_FILENO, logger.stderr.as_raw_fd());
            logger.pid
        }
        (Err(e), _) | (_, Err(e)) => {
            discard_new(start);
            let _ = write!(report, "125 starting the logger: {e}");
            std::process::exit(125);
        }
    };
    let signals = match Signals::hold() {
        Ok(s) => s,
        Err(e) => {
            discard_new(start);
            let _ = write!(report, "125 holding signals for the container: {e}");
            std::process::exit(125);
        }
    };
    let first = match start {
        Start::New(p) => create_and_start(global, *p, tty),
        Start::Again(id) => {
            prepare_again(global, &id).and_then(|p| create_and_start(global, p, tty))
        }
    };
    let (id, mut pid, mut master, rm) = match first {
        Ok(r) => r,
        Err(f) => {
            let _ = write!(report, "{} {}", f.code, f.message);
            std::process::exit(f.code as i32);
        }
    };
    let _ = write!(report, "0 {id}");
    drop(report);
    let root = &global.root;
    if let Some(h) = &Meta::load(root, &id).health {
        super::health::spawn_checker(root, &id, &front, h);
    }
    let mut delay = Duration::ZERO;
    loop {
        let began = Instant::now();
        let stdout = std::io::stdout();
        let terminal = master.as_ref().map(|m| Terminal {
            master: m.as_fd(),
            output: stdout.as_fd(),
            input: None,
            size_from: None,
        });
        let code = container::supervise_with(pid, &signals, terminal);
        drop(master.take());
        let m = Meta::load(root, &id);
        if !front.is_dir()
            || !policy::should_restart(&m.restart, code, m.restart_count, m.stopped_by_user)
        {
            wait_for_logger(logger_pid);
            // `rm -f` may have removed the container during the wait: record nothing then.
            if front.is_dir() {
                finish(global, &id, rm, code);
            }
            std::process::exit(0);
        }
        Meta::update(root, &id, |m| m.restarting = true);
        super::front::record_exit(global, &id, code);
        delay = policy::next_delay(delay, began.elapsed());
        std::thread::sleep(delay);
        if !front.is_dir() || Meta::load(root, &id).stopped_by_user {
            Meta::update(root, &id, |m| m.restarting = false);
            std::process::exit(0);
        }
        match prepare_again(global, &id).and_then(|p| create_and_start(global, p, tty)) {
            Ok((_, p, m, _)) => {
                pid = p;
                master = m;
                Meta::update(root, &id, |m| m.restart_count += 1);
            }
            Err(f) => {
                eprintln!("tinibox: restarting the container: {}", f.message);
                std::process::exit(0);
            }
        }
    }
}

/// Runs `tinibox run -d` for a [`super::front::prepare`]d container: prints the id once the
/// container runs; returns the exit status.
pub fn run(global: &GlobalOptions, args: &RunArgs, prepared: Prepared) -> u8 {
    match spawn_monitor(global, Start::New(Box::new(prepared)), args.flags.tty) {
        Ok(id) => {
            println!("{id}");
            0
        }
        Err((code, message)) => {
            eprintln!("tinibox: {message}");
            code
        }
    }
}

/// Starts a monitor for `start` (double fork + setsid) and waits for its report: the id
/// once the container runs, or the exit status and message of the failure.
pub(super) fn spawn_monitor(
    global: &GlobalOptions,
    start: Start,
    tty: bool,
) -> Result<String, (u8, String)> {
    let (read, write) = match nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) {
        Ok(p) => p,
        Err(e) => {
            if let Start::New(p) = start {
                discard(&p.front);
            }
            return Err((125, format!("creating a pipe: {e}")));
        }
    };
    // SAFETY: tinibox is single-threaded here; the children only call async-signal-safe
    // functions until they either exit or continue as a fresh single-threaded monitor.
    match unsafe { fork() } {
        Err(e) => {
            if let Start::New(p) = start {
                discard(&p.front);
            }
            Err((125, format!("fork: {e}")))
        }
        Ok(ForkResult::Child) => {
            drop(read);
            let _ = setsid();
            // SAFETY: as above.
            match unsafe { fork() } {
                Ok(ForkResult::Child) => monitor(global, start, tty, write),
                _ => std::process::exit(0),
            }
        }
        Ok(ForkResult::Parent { child }) => {
            drop(write);
            let _ = waitpid(child, None);
            let mut text = String::new();
            let _ = std::fs::File::from(read).read_to_string(&mut text);
            let (code, rest) = text.split_once(' ').unwrap_or(("125", ""));
            match code.parse::<u8>() {
                Ok(0) => Ok(rest.to_string()),
                Ok(c) => Err((c, rest.to_string())),
                Err(_) => Err((
                    125,
                    "the container monitor exited without reporting — see `tinibox ps -a`".into(),
                )),
            }
        }
    }
}
