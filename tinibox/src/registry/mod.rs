//! A client of the OCI distribution protocol (v1.1, and Docker's registry API with schema 2
//! manifests): `pull`, `push`, `login`/`logout`, for Docker Hub, GHCR, Quay or a private
//! registry.
//!
//! Sub-modules, one job each: `reference` (Docker's reference grammar), `auth` (challenges,
//! Basic, bearer tokens), `credentials` (Docker's `config.json`), `tls` (roots, `certs.d`,
//! plain-HTTP rules), `client` (one registry connection: scheme, auth, retries), `manifest`
//! (manifests, indexes, platforms), `blob` (verified, resumable downloads), `progress`,
//! `pull` (into the image store through [`crate::image::load_pulled`]), `push`, `push_layout`
//! (an OCI image layout byte for byte, for `distro-build push`), `local`
//! (tag, inspect, save: store-side commands that registries made necessary), `error`.
//! It writes to the image store only through `crate::image`.

pub mod auth;
pub mod blob;
pub mod client;
pub mod credentials;
pub mod error;
pub mod export;
pub mod local;
pub mod manifest;
pub mod progress;
pub mod pull;
pub mod push;
pub mod push_layout;
pub mod reference;
pub mod tls;

pub use error::{RegistryError, Result};
pub use manifest::Platform;
pub use reference::ImageRef;
