//! The registry client's error type: one variant per thing a user, a network or a server can
//! get wrong, each with a one-line message that names the problem and what to do.
//!
//! This module owns the messages only; it performs no I/O.

use thiserror::Error;

use crate::image::ImageError;

/// Everything pulling, pushing or logging in can fail with.
#[derive(Debug, Error)]
pub enum RegistryError {
    /// The reference does not follow Docker's grammar.
    #[error("invalid reference {0} — use [REGISTRY[:PORT]/]NAME[:TAG][@sha256:DIGEST]")]
    Reference(String),
    /// The registry could not be reached (DNS, TCP, TLS).
    #[error("cannot reach {host}: {problem}")]
    Unreachable {
        /// `host[:port]`.
        host: String,
        /// What failed, with a hint.
        problem: String,
    },
    /// The registry refused the credentials (or anonymous access).
    #[error("{host}: authentication failed ({problem}) — check the user and password, then `tinibox login {host}`")]
    Unauthorized {
        /// `host[:port]`.
        host: String,
        /// The server's reason.
        problem: String,
    },
    /// The manifest or blob does not exist.
    #[error("{what} not found on {host} — check the name and tag")]
    NotFound {
        /// `host[:port]`.
        host: String,
        /// What was asked for.
        what: String,
    },
    /// The server answered something other than the protocol allows.
    #[error("{host}: {problem}")]
    Protocol {
        /// `host[:port]`.
        host: String,
        /// What was wrong.
        problem: String,
    },
    /// Downloaded bytes do not match their digest or size.
    #[error("{digest} from {host} is corrupt: {problem}; nothing was stored")]
    Corrupt {
        /// `host[:port]`.
        host: String,
        /// The expected digest.
        digest: String,
        /// What differed.
        problem: String,
    },
    /// An index has no manifest for the wanted platform.
    #[error("{image} has no image for {wanted} (it has {available}) — choose one with --platform")]
    NoPlatform {
        /// The reference.
        image: String,
        /// The platform asked for.
        wanted: String,
        /// The platforms the index lists.
        available: String,
    },
    /// A local operation (credentials file, staging) failed.
    #[error("cannot {what}: {problem}")]
    Local {
        /// What was being done.
        what: String,
        /// Why it failed.
        problem: String,
    },
    /// The image store refused the image.
    #[error(transparent)]
    Store(#[from] ImageError),
}

/// Exit status of a command whose image is not in the store or whose credentials the
/// registry refused: Docker's CLI exits 1 when its daemon answers an error (README, "Exit
/// codes").
pub const EXIT_DAEMON_ERROR: u8 = 1;
/// Exit status of any other failure of a registry command (Docker's CLI: 125).
pub const EXIT_FAILURE: u8 = 125;

impl RegistryError {
    /// The exit status of `tag`, `save`, `push` or `inspect` failing with this error:
    /// [`EXIT_DAEMON_ERROR`] for an image not in the store, [`EXIT_FAILURE`] otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            RegistryError::Store(ImageError::NoSuchImage(_)) => EXIT_DAEMON_ERROR,
            _ => EXIT_FAILURE,
        }
    }

    /// The exit status of `login` failing with this error: [`EXIT_DAEMON_ERROR`] when the
    /// registry refused the credentials (Docker: 1), [`EXIT_FAILURE`] otherwise.
    pub fn login_exit_code(&self) -> u8 {
        match self {
            RegistryError::Unauthorized { .. } => EXIT_DAEMON_ERROR,
            _ => EXIT_FAILURE,
        }
    }

    /// A [`RegistryError::Local`] builder for `map_err`.
    pub fn local<E: std::fmt::Display>(what: impl Into<String>) -> impl FnOnce(E) -> RegistryError {
        let what = what.into();
        move |e| RegistryError::Local {
            what,
            problem: e.to_string(),
        }
    }
}

/// Result alias for the registry client.
pub type Result<T> = std::result::Result<T, RegistryError>;
