//! The error type of the container lifecycle. Owns only error definitions and their mapping to
//! the docker-like exit codes; it does not log or print.

use std::path::PathBuf;

/// Why `execve` of the container's process failed (reported by the init to `create`/`start`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecFailure {
    /// The command was not found (ENOENT, or not on PATH): docker exits 127.
    NotFound,
    /// The command exists but cannot be executed (EACCES, ENOEXEC, a directory …): docker exits 126.
    NotExecutable,
}

/// Errors of the container lifecycle. Every message is one line naming the problem.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    /// The id is not acceptable.
    #[error("invalid container id {0:?}: use 1-255 of A-Z a-z 0-9 _ + , - . (runc's characters)")]
    InvalidId(String),
    /// A container with this id exists already.
    #[error("container {0:?} already exists")]
    AlreadyExists(String),
    /// No container with this id (runc's words "does not exist", which engines parse).
    #[error("container {0:?} does not exist")]
    NotFound(String),
    /// A signal was sent to a container that has stopped. The text starts with runc's words
    /// "container not running", which containerd's shim, go-runc and Podman look for to treat
    /// the kill as done.
    #[error("container not running: {0:?} has stopped, there is nothing to signal")]
    NotRunning(String),
    /// The operation is not allowed in the container's current state.
    #[error("container {id:?} is {status}: cannot {op}")]
    WrongState {
        /// Container id.
        id: String,
        /// Its current status.
        status: String,
        /// What was attempted, with a hint.
        op: String,
    },
    /// The spec asks for something invalid or unsupported; names the field.
    #[error("invalid config: {0}")]
    Spec(String),
    /// The container's command could not be executed.
    #[error("{kind_text}: {path}: {detail}", kind_text = match kind { ExecFailure::NotFound => "executable file not found", ExecFailure::NotExecutable => "cannot execute" })]
    Exec {
        /// Not found (127) or not executable (126).
        kind: ExecFailure,
        /// The command as given in process.args[0].
        path: String,
        /// The underlying reason.
        detail: String,
    },
    /// The container's init failed while setting the container up.
    #[error("container init: {0}")]
    Init(String),
    /// A hook failed.
    #[error("hook {path}: {detail}")]
    Hook {
        /// The hook's path.
        path: PathBuf,
        /// Exit status or error.
        detail: String,
    },
    /// A cgroup operation failed.
    #[error(transparent)]
    Cgroup(#[from] crate::cgroups::CgroupError),
    /// A system call or file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        source: std::io::Error,
    },
}

impl From<crate::hooks::HookError> for ContainerError {
    fn from(e: crate::hooks::HookError) -> Self {
        ContainerError::Hook {
            path: e.path,
            detail: e.detail,
        }
    }
}

/// The one mapping of a failure the child side reported (over the channel, from `create` or
/// `exec`, or through the exec fifo, from `start`): exec codes 127 and 126 become
/// [`ContainerError::Exec`], anything else [`ContainerError::Init`].
impl From<crate::process::channel::ChildError> for ContainerError {
    fn from(e: crate::process::channel::ChildError) -> Self {
        match e.exec_code {
            Some(code) => ContainerError::Exec {
                kind: if code == 127 {
                    ExecFailure::NotFound
                } else {
                    ExecFailure::NotExecutable
                },
                path: e.exec_path.unwrap_or_default(),
                detail: e.msg,
            },
            None => ContainerError::Init(e.msg),
        }
    }
}

impl ContainerError {
    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        ContainerError::Io {
            context: context.into(),
            source,
        }
    }

    /// Wraps an errno with what was being done.
    pub fn sys(context: impl Into<String>, errno: nix::errno::Errno) -> Self {
        ContainerError::Io {
            context: context.into(),
            source: std::io::Error::from_raw_os_error(errno as i32),
        }
    }

    /// Docker's exit code for exec failures: 127 (not found), 126 (cannot execute); else None.
    pub fn exec_exit_code(&self) -> Option<i32> {
        match self {
            ContainerError::Exec {
                kind: ExecFailure::NotFound,
                ..
            } => Some(127),
            ContainerError::Exec {
                kind: ExecFailure::NotExecutable,
                ..
            } => Some(126),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_errors_map_to_docker_codes() {
        let nf = ContainerError::Exec {
            kind: ExecFailure::NotFound,
            path: "nope".into(),
            detail: "no such file".into(),
        };
        assert_eq!(nf.exec_exit_code(), Some(127));
        assert_eq!(
            nf.to_string(),
            "executable file not found: nope: no such file"
        );
        let ne = ContainerError::Exec {
            kind: ExecFailure::NotExecutable,
            path: "/etc".into(),
            detail: "is a directory".into(),
        };
        assert_eq!(ne.exec_exit_code(), Some(126));
        assert_eq!(ContainerError::NotFound("x".into()).exec_exit_code(), None);
    }

    #[test]
    fn child_reports_map_once() {
        use crate::process::channel::ChildError;
        let e = ContainerError::from(ChildError::exec_failed(127, "nope", "nope: not found"));
        assert_eq!(e.exec_exit_code(), Some(127));
        let e = ContainerError::from(ChildError::exec_failed(126, "/etc", "/etc: is a dir"));
        assert_eq!(e.exec_exit_code(), Some(126));
        let e = ContainerError::from(ChildError::new("mount /proc: EPERM"));
        assert_eq!(e.to_string(), "container init: mount /proc: EPERM");
    }
}
