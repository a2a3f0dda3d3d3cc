//! `pause`: freezes every process of a running container (cgroup v1 freezer or v2
//! `cgroup.freeze`). Owns that command's flags and output; the work is
//! [`crate::container`]'s. runc's form (an exact container id, what engines pass) prints
//! nothing; Docker's (a container given by name or id prefix) prints the name as
//! `docker pause` does.

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
    let by_name = !container::container_dir(&global.root, &args.id).exists();
    let code = on_container(global, "pause", &args.id, container::pause);
    if code == 0 && by_name {
        println!("{}", args.id);
    }
    code
}
