//! The library's error type. Owns the wording of every failure a stage can report; it does
//! not decide exit codes (the binary does) and never prints anything itself.

use std::path::PathBuf;

use thiserror::Error;

use crate::tree::TreeError;

/// Everything a distro-build stage can fail with.
#[derive(Debug, Error)]
pub enum Error {
    /// A file-system or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A host program the build needs is not installed.
    #[error("missing host tool `{tool}`: install it with `apt-get install -y {package}`")]
    MissingTool {
        /// The program that was looked for on PATH.
        tool: String,
        /// The Debian package that provides it.
        package: String,
    },
    /// An external command exited unsuccessfully.
    #[error("{what} failed ({status}); full log: {log}\n--- last lines ---\n{tail}")]
    CommandFailed {
        /// What the command was doing.
        what: String,
        /// Its exit status.
        status: String,
        /// The log file holding its complete output.
        log: PathBuf,
        /// The last lines of that log.
        tail: String,
    },
    /// A source file does not match the checksum pinned in `sources.lock`.
    #[error("{path}: sha256 is {actual} but sources.lock pins {expected}; the file is corrupt or a different version — delete it and run `distro-build sources` again (or update distro-build/sources.lock on purpose)")]
    Checksum {
        /// The file that was checked.
        path: PathBuf,
        /// The sha256 the lock file pins.
        expected: String,
        /// The sha256 actually found.
        actual: String,
    },
    /// A pinned package version is gone from Debian's archive and `--locked` forbids a fallback.
    #[error("{0}")]
    Unavailable(String),
    /// The kernel or BusyBox configuration lost options that a fragment asked for.
    #[error("{0}")]
    Config(String),
    /// The rootfs description is invalid.
    #[error(transparent)]
    Tree(#[from] TreeError),
    /// The OCI export or image store (the images helper's module) failed.
    #[error(transparent)]
    Oci(#[from] crate::oci::OciError),
    /// The disk image asked for is too small for the layout.
    #[error(transparent)]
    DiskTooSmall(#[from] crate::disk::layout::TooSmall),
    /// A command-line argument or the file it names is unusable (exit code 2).
    #[error("{0}")]
    Usage(String),
    /// Any other invalid input (a malformed lock file or fragment, a missing build output).
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    /// An I/O error with what was being done (`context`).
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// The library's result type.
pub type Result<T> = std::result::Result<T, Error>;

/// Adds a human context to I/O errors: `fs::read(p).ctx(|| format!("reading {p:?}"))?`.
pub trait IoContext<T> {
    /// Wraps the error with the context returned by `f`.
    fn ctx<S: Into<String>, F: FnOnce() -> S>(self, f: F) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx<S: Into<String>, F: FnOnce() -> S>(self, f: F) -> Result<T> {
        self.map_err(|source| Error::Io {
            context: f().into(),
            source,
        })
    }
}
