//! `resume`: thaws a paused container. Owns that command's flags and output; the work is [`crate::container`]'s.

use clap::Args;

use super::{finish, resolve_id};
use crate::cli::{log, GlobalOptions};
use crate::container::{self};

/// Arguments of `resume`.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// Container id.
    id: String,
}

/// Runs `resume`; returns the exit status.
pub fn resume(global: &GlobalOptions, args: ResumeArgs) -> u8 {
    log::init(global);
    let r = container::resume(&global.root, &resolve_id(global, &args.id))
        .map(|_| 0)
        .map_err(Into::into);
    finish(global, "resume", r)
}
