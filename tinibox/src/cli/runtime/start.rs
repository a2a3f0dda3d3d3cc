//! `start`: releases a created container's init into its process. Owns that command's flags and output; the work is [`crate::container`]'s.

use clap::Args;

use super::finish;
use crate::cli::{log, GlobalOptions};
use crate::container::{self};

/// Arguments of `start`.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// Container id.
    pub id: String,
}

/// Runs `start`; returns the exit status.
pub fn start(global: &GlobalOptions, args: StartArgs) -> u8 {
    log::init(global);
    let r = container::start(&global.root, &args.id)
        .map(|_| 0)
        .map_err(Into::into);
    finish(global, "start", r)
}
