//! The container lifecycle: the one create / start / state / kill / delete path that both
//! front doors (docker-like `tinibox run` and the runc-compatible CLI) go through.
//!
//! Owns: the state directory (`<state_root>/<id>/`), the parent side of container creation
//! (fork, sync with the child, cgroup set-up, hooks) and the public API below. It does not parse
//! command lines (`cli`), build specs from flags (`spec`), compile seccomp filters (`seccomp`)
//! or join running containers (`container::exec`, owned by the runtime helper). What runs
//! inside the new process lives in [`crate::process`] and [`crate::linux`]. Resource values
//! are checked with [`crate::spec::resources::validate`] before any cgroup is written. A
//! caller that is the parent of a container process waits for it in [`supervise_with`] (the
//! one waiter: signal forwarding, pty relay, exit status).
//!
//! # How a container comes to life
//!
//! `create` never re-executes `/proc/self/exe` (CVE-2019-5736): it forks. The first child
//! ("stage 1") joins namespaces given by path, unshares the new ones (for a new user namespace
//! the parent writes the id maps), then forks the container's init with `CLONE_PARENT`, so the
//! init is a child of the process that called `create` (`tinibox run` can `waitpid` it; a
//! runc-style caller exits and the init is adopted by its subreaper). On cgroup v2 the init is
//! born in the container's cgroup (clone3 `CLONE_INTO_CGROUP`); otherwise, while the init
//! mounts, the parent moves it there (on cgroup v1 that write waits for an RCU grace period,
//! ~8 ms here, so it runs in parallel). The init waits for that before it makes
//! its cgroup namespace, mounts cgroupfs, runs hooks or execs. The init
//! prepares the root filesystem, pivots, applies the security settings, reports "ready" and then
//! blocks opening `<state>/<id>/exec.fifo` for writing. `start` opens the fifo for reading,
//! which releases the init into `execve`; if `execve` fails the init writes the error into the
//! fifo, so `start` can tell "not found" (exit 127) from "cannot execute" (exit 126).
//!
//! # Example
//! ```no_run
//! use tinibox::container::{self, CreateOptions};
//! # fn main() -> Result<(), container::ContainerError> {
//! let spec: oci_spec::runtime::Spec = oci_spec::runtime::Spec::load("/b/config.json").unwrap();
//! let opts = CreateOptions::new("/run/tinibox".into(), "c1".into(), "/b".into(), spec);
//! let created = container::create(opts)?;
//! container::start(std::path::Path::new("/run/tinibox"), "c1")?;
//! // the caller is the init's parent: it may waitpid(created.pid)
//! # let _ = created; Ok(()) }
//! ```

mod create;
mod error;
pub mod exec;
mod lifecycle;
pub mod state;
mod supervise;

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

pub use error::{ContainerError, ExecFailure};
pub use lifecycle::{
    delete, kill, list, pause, pids, record, reserve, resume, start, state, update,
};
pub use state::{State, Status};
pub use supervise::{supervise, supervise_with, Signals, Terminal};

/// Annotation that asks for a tiny reaper as PID 1 (set by the docker-like `--init`).
pub use crate::process::reaper::ANNOTATION as INIT_ANNOTATION;

/// Everything `create` needs. Build it with [`CreateOptions::new`] and set the optional fields,
/// so that new fields do not break callers.
#[derive(Debug)]
pub struct CreateOptions {
    /// The state root (e.g. `/run/tinibox`); the container's state lives in `<state_root>/<id>/`.
    pub state_root: PathBuf,
    /// Container id: 1..=255 characters, no `/`, not `.` or `..`, no NUL or control characters.
    pub id: String,
    /// Absolute path of the bundle directory (holds `config.json` and usually the rootfs).
    pub bundle: PathBuf,
    /// The runtime spec (already loaded from the bundle's config.json, or built by the front door).
    pub spec: oci_spec::runtime::Spec,
    /// Write the init's pid here (host pid namespace), atomically.
    pub pid_file: Option<PathBuf>,
    /// With `process.terminal`: the unix socket to send the pty master to (SCM_RIGHTS).
    pub console_socket: Option<PathBuf>,
    /// With `process.terminal`: an already connected unix socket to send the pty master to
    /// (for in-process front doors that use a socketpair); wins over `console_socket`.
    pub console_socket_fd: Option<OwnedFd>,
    /// Do not use pivot_root; move the rootfs onto / and chroot (like `runc --no-pivot`).
    pub no_pivot: bool,
    /// Do not create a new session keyring for the container.
    pub no_new_keyring: bool,
    /// Pass fds 3..3+N of the calling process through to the container process.
    pub preserve_fds: u32,
    /// Front-door metadata kept in the state dir (name, log path, image …); never interpreted.
    pub labels: BTreeMap<String, String>,
}

impl CreateOptions {
    /// Options with every optional field off.
    pub fn new(
        state_root: PathBuf,
        id: String,
        bundle: PathBuf,
        spec: oci_spec::runtime::Spec,
    ) -> Self {
        CreateOptions {
            state_root,
            id,
            bundle,
            spec,
            pid_file: None,
            console_socket: None,
            console_socket_fd: None,
            no_pivot: false,
            no_new_keyring: false,
            preserve_fds: 0,
            labels: BTreeMap::new(),
        }
    }
}

/// What `create` returns: the container is in state `created`, its init blocked until `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Created {
    /// The init's pid in the caller's pid namespace (a child of the caller, via CLONE_PARENT).
    pub pid: i32,
}

/// Create a container: namespaces, cgroup, root filesystem, security settings; leaves the init
/// alive and blocked until [`start`]. On any failure nothing is left behind (no process, cgroup,
/// mount or state directory) and the error says what went wrong.
pub fn create(opts: CreateOptions) -> Result<Created, ContainerError> {
    create::create(opts)
}

/// Checks a container id with runc's rule (`^[\w+-\.]+$`, ASCII letters, digits and
/// `_ + , - .`; not `.` or `..`), at most 255 characters: the id is one file name (NAME_MAX)
/// in the state root and in cgroup paths, so a longer one failed later with ENAMETOOLONG.
/// `Err` quotes at most the id's first 64 characters.
pub fn validate_id(id: &str) -> Result<(), ContainerError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | ',' | '-' | '.');
    let bad =
        id.is_empty() || id.len() > 255 || id == "." || id == ".." || !id.chars().all(allowed);
    if bad {
        let mut shown: String = id.chars().take(64).collect();
        if shown.len() < id.len() {
            shown.push('…');
        }
        return Err(ContainerError::InvalidId(shown));
    }
    Ok(())
}

/// The directory holding one container's state.
pub fn container_dir(state_root: &Path, id: &str) -> PathBuf {
    state_root.join(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_validated() {
        for good in ["a", "abc-DEF_1.2", "a+b,c", "x".repeat(255).as_str()] {
            assert!(validate_id(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "/x",
            "a b",
            "a\nb",
            "ïd",
            "a:b",
            "x".repeat(256).as_str(),
        ] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
    }
}
