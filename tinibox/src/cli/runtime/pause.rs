//! `pause`: freezes every process of a running container. Owns that command's flags and output; the work is [`crate::container`]'s.

use clap::Args;

use super::{finish, resolve_id};
use crate::cli::{log, GlobalOptions};
use crate::container::{self};

/// Arguments of `pause`.
#[derive(Debug, Args)]
pub struct PauseArgs {
    /// Container id.
    id: String,
}

/// Runs `pause`; returns the exit status.
pub fn pause(global: &GlobalOptions, args: PauseArgs) -> u8 {
    log::init(global);
    let r = container::pause(&global.root, &resolve_id(global, &args.id))
        .map(|_| 0)
        .map_err(Into::into);
    finish(global, "pause", r)
}
