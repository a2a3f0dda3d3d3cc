//! `pause`: freezes every process of a running container. Owns that command's flags and output; the work is [`crate::container`]'s.

use clap::Args;

use super::on_container;
use crate::cli::GlobalOptions;
use crate::container;

/// Arguments of `pause`.
#[derive(Debug, Args)]
pub struct PauseArgs {
    /// Container id.
    id: String,
}

/// Runs `pause`; returns the exit status.
pub fn pause(global: &GlobalOptions, args: PauseArgs) -> u8 {
    on_container(global, "pause", &args.id, container::pause)
}
