//! `tinibox run` (and `start -a`) in the foreground: prepare and start the container through the shared
//! machinery of [`super::front`], then wait for it in [`container::supervise_with`] (signal
//! forwarding, pty relay) and honour `--rm`. `run -d` is [`super::detach`].
//!
//! Owns only the foreground's stdin and terminal mode; every failure before the container
//! runs leaves nothing behind.

use std::os::fd::{AsFd, AsRawFd};

use super::front::{create_and_start, discard, finish, Prepared};
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
    let (id, pid, master, rm) = match create_and_start(global, prepared, tty) {
        Ok(r) => r,
        Err(f) => {
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
    let stdout = std::io::stdout();
    let terminal = master.as_ref().map(|m| Terminal {
        master: m.as_fd(),
        output: stdout.as_fd(),
        input: interactive.then(|| stdin.as_fd()),
        size_from: Some(stdin.as_fd()),
    });
    let code = container::supervise_with(pid, &signals, terminal);
    drop(raw);
    drop(master);
    // Still held while --rm removes the container: no signal ends tinibox half-way.
    finish(global, &id, rm, code);
    drop(signals);
    code.clamp(0, 255) as u8
}
