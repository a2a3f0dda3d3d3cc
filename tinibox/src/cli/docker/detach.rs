//! `run -d`: a monitor process (double fork + setsid) creates and starts the container through
//! [`super::front`], so it is the parent of the container's init; it sends the outcome back to
//! `tinibox run` over a pipe, then waits in [`container::supervise_with`], records the exit
//! status and honours `--rm`. Output goes to the log file `<front>/container.log` that
//! `tinibox logs` reads; with `-t` the monitor holds the pty master and `supervise_with`
//! copies the terminal's output into that file.
//!
//! Owns the monitor's life only; the container is the engine's.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::sys::wait::waitpid;
use nix::unistd::{fork, setsid, ForkResult};

use super::front::{create_and_start, discard, finish, Prepared};
use super::names::{self, LOG_FILE};
use super::RunArgs;
use crate::cli::GlobalOptions;
use crate::container::{self, Signals, Terminal};

fn redirect(fd: i32, to: i32) {
    // SAFETY: dup2 onto a standard fd of our own process.
    unsafe {
        libc::dup2(to, fd);
    }
}

/// The monitor: set up stdio, create + start, report, wait, clean up. Never returns.
fn monitor(global: &GlobalOptions, prepared: Prepared, tty: bool, report: OwnedFd) -> ! {
    let mut report = std::fs::File::from(report);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(prepared.front.join(LOG_FILE));
    let null = std::fs::File::open("/dev/null");
    match (log, null) {
        (Ok(log), Ok(null)) => {
            redirect(libc::STDIN_FILENO, null.as_raw_fd());
            redirect(libc::STDOUT_FILENO, log.as_raw_fd());
            redirect(libc::STDERR_FILENO, log.as_raw_fd());
        }
        (Err(e), _) | (_, Err(e)) => {
            discard(&prepared.front);
            let _ = write!(report, "125 opening the log file: {e}");
            std::process::exit(125);
        }
    }
    let signals = match Signals::hold() {
        Ok(s) => s,
        Err(e) => {
            discard(&prepared.front);
            let _ = write!(report, "125 holding signals for the container: {e}");
            std::process::exit(125);
        }
    };
    let (id, pid, master, rm) = match create_and_start(global, prepared, tty) {
        Ok(r) => r,
        Err(f) => {
            let _ = write!(report, "{} {}", f.code, f.message);
            std::process::exit(f.code as i32);
        }
    };
    let _ = write!(report, "0 {id}");
    drop(report);
    let stdout = std::io::stdout();
    let terminal = master.as_ref().map(|m| Terminal {
        master: m.as_fd(),
        output: stdout.as_fd(),
        input: None,
        size_from: None,
    });
    let code = container::supervise_with(pid, &signals, terminal);
    drop(master);
    drop(signals);
    finish(global, &id, rm, code);
    std::process::exit(0);
}

/// Runs `tinibox run -d` for a [`super::front::prepare`]d container: prints the id once the
/// container runs; returns the exit status.
pub fn run(global: &GlobalOptions, args: &RunArgs, prepared: Prepared) -> u8 {
    let (read, write) = match nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) {
        Ok(p) => p,
        Err(e) => {
            discard(&prepared.front);
            eprintln!("tinibox: creating a pipe: {e}");
            return 125;
        }
    };
    // SAFETY: tinibox is single-threaded here; the children only call async-signal-safe
    // functions until they either exit or continue as a fresh single-threaded monitor.
    match unsafe { fork() } {
        Err(e) => {
            discard(&prepared.front);
            eprintln!("tinibox: fork: {e}");
            125
        }
        Ok(ForkResult::Child) => {
            drop(read);
            let _ = setsid();
            // SAFETY: as above.
            match unsafe { fork() } {
                Ok(ForkResult::Child) => monitor(global, prepared, args.flags.tty, write),
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
                Ok(0) => {
                    println!("{rest}");
                    0
                }
                Ok(c) => {
                    eprintln!("tinibox: {rest}");
                    c
                }
                Err(_) => {
                    eprintln!("tinibox: the container monitor exited without reporting — see `tinibox ps -a`");
                    125
                }
            }
        }
    }
}

/// The log file of a container.
pub fn log_path(global: &GlobalOptions, id: &str) -> std::path::PathBuf {
    names::front_dir(&global.root, id).join(LOG_FILE)
}
