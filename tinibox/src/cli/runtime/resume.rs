//! `resume`: thaws a paused container. Owns that command's flags and output; the work is [`crate::container`]'s.

use clap::Args;

use super::on_container;
use crate::cli::GlobalOptions;
use crate::container;

/// Arguments of `resume`.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// Container id.
    id: String,
}

/// Runs `resume`; returns the exit status.
pub fn resume(global: &GlobalOptions, args: ResumeArgs) -> u8 {
    on_container(global, "resume", &args.id, container::resume)
}
