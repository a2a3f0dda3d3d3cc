//! `run` (the runc command, `oci-run` here): create, start and wait in one go. Owns that command's flags and output; the work is [`crate::container`]'s.

use clap::Args;

use super::{create_options, finish, relay_terminal, CreateFlags};
use crate::cli::{log, GlobalOptions};
use crate::container::{self};

/// Arguments of `oci-run` (runc's `run --bundle DIR ID`).
#[derive(Debug, Args)]
pub struct OciRunArgs {
    #[command(flatten)]
    flags: CreateFlags,
    /// Return once the container runs (do not wait, do not delete).
    #[arg(short = 'd', long)]
    detach: bool,
    /// Keep the container's state after it exits (do not delete).
    #[arg(long)]
    keep: bool,
    /// Container id.
    id: String,
}

/// Runs `oci-run`; returns the exit status (the container's, when not detached).
pub fn oci_run(global: &GlobalOptions, args: OciRunArgs) -> u8 {
    log::init(global);
    let r = (|| {
        let mut o = create_options(global, &args.flags, &args.id)?;
        // process.terminal without a console socket: keep the pty here and relay the
        // caller's terminal to it, as `runc run` does.
        let terminal = o
            .spec
            .process()
            .as_ref()
            .and_then(|p| p.terminal())
            .unwrap_or(false);
        let relay = terminal && o.console_socket.is_none() && !args.detach;
        let ours = if relay {
            let (a, b) = std::os::unix::net::UnixStream::pair()?;
            o.console_socket_fd = Some(b.into());
            Some(a)
        } else {
            None
        };
        // Held from before the container exists until it is deleted: a signal meanwhile is
        // forwarded once the init runs, and none ends tinibox half-way (container::Signals).
        let signals = if args.detach {
            None
        } else {
            Some(container::Signals::hold()?)
        };
        let c = container::create(o)?;
        if let Err(e) = container::start(&global.root, &args.id) {
            let _ = container::delete(&global.root, &args.id, true);
            return Err(e.into());
        }
        let Some(signals) = signals else {
            return Ok(0);
        };
        let code = match &ours {
            Some(sock) => relay_terminal(sock, c.pid, &signals)? as i32,
            None => container::supervise_with(c.pid, &signals, None),
        };
        if !args.keep {
            container::delete(&global.root, &args.id, true)?;
        }
        Ok(code.clamp(0, 255) as u8)
    })();
    finish(global, "run", r)
}
