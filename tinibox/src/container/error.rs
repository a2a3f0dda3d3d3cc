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
    #[error("invalid container id {0:?}: use 1-1024 printable characters without '/' or spaces")]
    InvalidId(String),
    /// A container with this id exists already.
    #[error("container {0:?} already exists")]
    AlreadyExists(String),
    /// No container with this id.
    #[error("container {0:?} does not exist")]
    NotFound(String),
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
}
