//! `state`: the OCI state JSON of a container, as runc prints it. Owns that command's flags and output; the work is [`crate::container`]'s.

use clap::Args;

use super::finish;
use crate::cli::{log, GlobalOptions};
use crate::container::{self, State};

/// Arguments of `state`.
#[derive(Debug, Args)]
pub struct StateArgs {
    /// Container id.
    id: String,
}

/// The OCI state as runc prints it (without tinibox's front-door labels).
pub(super) fn oci_state_json(s: &State) -> serde_json::Value {
    serde_json::json!({
        "ociVersion": s.oci_version,
        "id": s.id,
        "pid": s.pid,
        "status": s.status.to_string(),
        "bundle": s.bundle,
        "rootfs": s.rootfs,
        "created": s.created,
        "annotations": s.annotations,
        "owner": s.owner,
    })
}

/// Runs `state`; returns the exit status.
pub fn state(global: &GlobalOptions, args: StateArgs) -> u8 {
    log::init(global);
    let r = (|| {
        let s = container::state(&global.root, &args.id)?;
        println!("{}", serde_json::to_string_pretty(&oci_state_json(&s))?);
        Ok(0)
    })();
    finish(global, "state", r)
}
