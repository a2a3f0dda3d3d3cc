//! The state directory of one container: `<state_root>/<id>/state.json` (written atomically:
//! temp file + rename), `exec.fifo` (present while the container is `created`) and an advisory
//! lock (flock on the directory) that serialises operations on one id.
//!
//! Owns the on-disk record and the live status computation; it does not start, signal or clean
//! up processes (that is `lifecycle`).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ContainerError;
use crate::cgroups::CgroupHandle;

/// Name of the record file inside the container's state directory.
pub const STATE_FILE: &str = "state.json";
/// Name of the exec fifo inside the container's state directory.
pub const EXEC_FIFO: &str = crate::process::exec_fifo::FILE_NAME;

/// A container's status, as the OCI runtime spec names it (plus `paused`, like runc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Being created (never persisted; shown while `create` runs).
    Creating,
    /// Created, init blocked until `start`.
    Created,
    /// The container's process runs.
    Running,
    /// Frozen through the freezer cgroup.
    Paused,
    /// The init has exited.
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// The OCI state of a container (what `runc state` prints), plus the front door's labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// OCI runtime spec version of this state.
    pub oci_version: String,
    /// Container id.
    pub id: String,
    /// The init's pid in the host pid namespace (0 once stopped).
    pub pid: i32,
    /// Live status.
    pub status: Status,
    /// Absolute bundle path.
    pub bundle: PathBuf,
    /// Absolute rootfs path on the host.
    pub rootfs: PathBuf,
    /// Creation time, RFC 3339.
    pub created: String,
    /// The spec's annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Uid of the user who created the container.
    pub owner: String,
    /// Front-door metadata (name, log path, image …) given at create time.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// Everything kept on disk for one container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// The OCI state as of creation (status is recomputed live by [`Record::live_state`]).
    pub state: State,
    /// The init's start time (field 22 of /proc/PID/stat), to detect pid reuse.
    pub init_start_time: u64,
    /// The container's cgroup.
    pub cgroup: CgroupHandle,
    /// The spec the container was created from (exec reuses its process defaults).
    pub spec: oci_spec::runtime::Spec,
}

impl Record {
    /// Reads `<dir>/state.json`; `NotFound` when there is no such container.
    pub fn load(state_root: &Path, id: &str) -> Result<Record, ContainerError> {
        let path = super::container_dir(state_root, id).join(STATE_FILE);
        let data = match fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ContainerError::NotFound(id.to_string()))
            }
            Err(e) => return Err(ContainerError::io(format!("read {}", path.display()), e)),
        };
        serde_json::from_slice(&data).map_err(|e| {
            ContainerError::io(
                format!("parse {}", path.display()),
                std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            )
        })
    }

    /// Writes `<dir>/state.json` atomically (temp file + rename).
    pub fn save(&self, dir: &Path) -> Result<(), ContainerError> {
        // Pretty like the bundle's config.json (spec::to_json): one copy of the spec's
        // serialisation code in the binary instead of a compact and a pretty one.
        let data = serde_json::to_vec_pretty(self).map_err(|e| {
            ContainerError::io(
                "serialize state",
                std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            )
        })?;
        write_atomic(&dir.join(STATE_FILE), &data)
    }

    /// The state with its status (and pid) computed from the live system.
    pub fn live_state(&self, dir: &Path) -> State {
        let mut st = self.state.clone();
        st.status = self.live_status(dir);
        if st.status == Status::Stopped {
            st.pid = 0;
        }
        st
    }

    /// created | running | paused | stopped, from /proc, the exec fifo and the freezer.
    pub fn live_status(&self, dir: &Path) -> Status {
        if !self.init_alive() {
            return Status::Stopped;
        }
        if dir.join(EXEC_FIFO).exists() {
            return Status::Created;
        }
        if self.cgroup.is_frozen() {
            return Status::Paused;
        }
        Status::Running
    }

    /// True while the recorded init process exists and is not a zombie.
    pub fn init_alive(&self) -> bool {
        let pid = self.state.pid;
        if pid <= 0 {
            return false;
        }
        match proc_stat(pid) {
            Some((state, start)) => start == self.init_start_time && state != 'Z' && state != 'X',
            None => false,
        }
    }
}

/// (state letter, start time) from /proc/PID/stat, or None when the process is gone.
pub fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let data = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: split after the last ')'.
    let rest = &data[data.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // After ')' field 3 (state) is index 0; starttime is field 22 → index 19.
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// Writes `data` to `path` through a temp file in the same directory and a rename, mode
/// 0600: the record holds the spec (environment variables may be secrets).
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<(), ContainerError> {
    crate::linux::private_file::write_private(path, data, false)
        .map_err(|e| ContainerError::io(format!("write {}", path.display()), e))
}

/// An exclusive advisory lock on a container's state directory, released on drop.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

impl DirLock {
    /// Locks `dir` (blocking). `NotFound(id)` when the directory does not exist.
    pub fn lock(dir: &Path, id: &str) -> Result<DirLock, ContainerError> {
        let file = match File::open(dir) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ContainerError::NotFound(id.to_string()))
            }
            Err(e) => return Err(ContainerError::io(format!("open {}", dir.display()), e)),
        };
        // SAFETY: flock on a valid fd we own.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(ContainerError::io(
                format!("lock {}", dir.display()),
                std::io::Error::last_os_error(),
            ));
        }
        Ok(DirLock { _file: file })
    }

    /// The lock's fd: a forked child closes its copy (flock belongs to the open file
    /// description, which would stay locked while the child holds it).
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        self._file.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_reads_self() {
        let (state, start) = proc_stat(std::process::id() as i32).unwrap();
        assert!("RS".contains(state), "{state}");
        assert!(start > 0);
        assert!(proc_stat(i32::MAX).is_none());
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn status_serializes_lowercase() {
        assert_eq!(
            serde_json::to_string(&Status::Paused).unwrap(),
            "\"paused\""
        );
    }
}
