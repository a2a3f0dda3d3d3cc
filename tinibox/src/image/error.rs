//! The image store's error type: one variant per thing a user can get wrong or the system
//! can refuse, each with a message that names the problem and what to do.
//!
//! This module owns the messages only; it performs no I/O.

use std::path::PathBuf;

use thiserror::Error;

/// Everything the image store can fail with.
#[derive(Debug, Error)]
pub enum ImageError {
    /// No image matches the reference.
    #[error("no such image '{0}' — list images with `tinibox images`")]
    NoSuchImage(String),
    /// A short digest matches more than one image.
    #[error("image reference '{0}' is ambiguous: give more digits or name:tag")]
    Ambiguous(String),
    /// The reference is not `name[:tag]` or a digest.
    #[error("invalid image reference '{0}': use name[:tag] or a (short) sha256 digest")]
    InvalidReference(String),
    /// A blob's content does not match its digest (or size).
    #[error("blob {digest} is corrupt: {problem}; the image was not loaded")]
    DigestMismatch {
        /// The expected digest.
        digest: String,
        /// What differed.
        problem: String,
    },
    /// A blob the manifest or index names is missing.
    #[error("{0}; the image was not loaded")]
    MissingBlob(String),
    /// The input is not an OCI layout, an OCI archive or a `docker save` archive.
    #[error("{path}: {problem}")]
    BadInput {
        /// The input path.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// A descriptor has a media type tinibox does not know.
    #[error("unknown media type '{0}': tinibox loads OCI or Docker v2 images with tar, tar+gzip or tar+zstd layers")]
    UnknownMediaType(String),
    /// A JSON document of the image is malformed.
    #[error("{what} is not valid: {problem}")]
    BadDocument {
        /// Which document.
        what: String,
        /// The parse error.
        problem: String,
    },
    /// A layer entry would land outside the layer (or through a symlink); nothing was written
    /// outside the store and the layer was discarded.
    #[error("refusing layer entry '{entry}': {problem}")]
    UnsafeEntry {
        /// The entry's path as stored in the archive.
        entry: String,
        /// Why it is refused.
        problem: String,
    },
    /// The image is used by a container and `-f` was not given.
    #[error(
        "image '{image}' is used by container {container}: remove the container first or use -f"
    )]
    InUse {
        /// The image reference.
        image: String,
        /// One container using it.
        container: String,
    },
    /// A container id is not usable as a directory name.
    #[error("invalid container id '{0}': use letters, digits, '_', '.' and '-'")]
    InvalidContainerId(String),
    /// The store on disk is in a format this tinibox does not know.
    #[error("image store {path} has format version {found}, this tinibox reads version 1")]
    StoreVersion {
        /// The store root.
        path: PathBuf,
        /// The version found.
        found: u32,
    },
    /// A file system operation failed.
    #[error("cannot {what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl ImageError {
    /// An [`ImageError::Io`] builder for `map_err`.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ImageError {
        let what = what.into();
        move |source| ImageError::Io { what, source }
    }
}

/// Result alias for the image store.
pub type Result<T> = std::result::Result<T, ImageError>;
