//! `create`: makes a container from a bundle and leaves its init waiting for `start`. Owns that command's flags and output; the work is [`crate::container`]'s.

use clap::Args;

use super::{create_options, finish, CreateFlags};
use crate::cli::{log, GlobalOptions};
use crate::container::{self};

/// Arguments of `create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    flags: CreateFlags,
    /// Accepted for go-runc compatibility (create always returns once the init waits).
    #[arg(short = 'd', long, hide = true)]
    detach: bool,
    /// Container id.
    id: String,
}

/// Runs `create`; returns the exit status.
pub fn create(global: &GlobalOptions, args: CreateArgs) -> u8 {
    log::init(global);
    let r = (|| {
        let o = create_options(global, &args.flags, &args.id)?;
        let c = container::create(o)?;
        log::debug(&format!("created {} with init pid {}", args.id, c.pid));
        Ok(0)
    })();
    finish(global, "create", r)
}
