//! The few engine calls the docker-like commands make beyond create/start, in one place:
//! signalling, status, process lists and full removal (engine state + front folder).
//!
//! Calls `crate::container` only; must not reach into cgroups or mounts itself.

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::names;
use crate::container::{self, state::Record, ContainerError, Status};

/// The container's live status, or None when the engine has no record of it.
pub fn status(root: &Path, id: &str) -> Option<Status> {
    let r = Record::load(root, id).ok()?;
    Some(r.live_status(&container::container_dir(root, id)))
}

/// Whether the container's init still runs (created, running or paused).
pub fn is_alive(root: &Path, id: &str) -> bool {
    matches!(
        status(root, id),
        Some(Status::Created | Status::Running | Status::Paused | Status::Creating)
    )
}

/// Sends a signal to the init (or with `all` to every process of the container).
pub fn signal(root: &Path, id: &str, sig: Signal, all: bool) -> Result<(), ContainerError> {
    container::kill(root, id, sig, all)
}

/// Waits until the init is gone; false on timeout.
pub fn wait_stopped(root: &Path, id: &str, timeout: Duration) -> bool {
    let end = Instant::now() + timeout;
    while is_alive(root, id) {
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// The container's processes (host pids).
pub fn pids(root: &Path, id: &str) -> Result<Vec<i32>, ContainerError> {
    container::pids(root, id)
}

/// Kills whatever still runs and removes the container: engine state (cgroup, mounts, state
/// folder) and the front folder. Best effort; returns the first engine error.
pub fn remove(root: &Path, id: &str) -> Result<(), ContainerError> {
    let mut result = Ok(());
    if Record::load(root, id).is_ok() {
        if is_alive(root, id) {
            let _ = signal(root, id, Signal::SIGKILL, true);
            wait_stopped(root, id, Duration::from_secs(10));
        }
        // A detached container's monitor may remove it at the same time (--rm): not an error.
        result = match container::delete(root, id, true) {
            Err(ContainerError::NotFound(_)) => Ok(()),
            r => r,
        };
    }
    super::run::discard(&names::front_dir(root, id));
    result
}
