//! `delete`: removes a stopped container (or any with `--force`). Owns that command's flags and output; the work is [`crate::container`]'s.

use clap::Args;

use super::finish;
use crate::cli::{log, GlobalOptions};
use crate::container::{self};

/// Arguments of `delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Kill the container first if it still runs.
    #[arg(short = 'f', long)]
    force: bool,
    /// Container id.
    id: String,
}

/// Runs `delete`; returns the exit status.
pub fn delete(global: &GlobalOptions, args: DeleteArgs) -> u8 {
    log::init(global);
    let r = match container::delete(&global.root, &args.id, args.force) {
        Ok(()) => Ok(0),
        // Like runc: `delete --force` of a container that is already gone succeeds
        // (containerd's shim deletes again when it cleans up after the task).
        Err(container::ContainerError::NotFound(_)) if args.force => Ok(0),
        Err(e) => Err(e.into()),
    };
    finish(global, "delete", r)
}
