//! Docker-like flags and image configs → an OCI runtime spec (oci-spec crate).
//!
//! - [`defaults`]: the runc/Docker-compatible default spec ([`default_spec`]), also used by
//!   the runc-style `tinibox spec` command.
//! - [`flags`]: the `run` flags as parsed by clap ([`RunFlags`]).
//! - [`values`]: parsers for flag values (sizes, CPUs, ulimits, volumes, env files).
//! - [`user`]: `-u NAME[:GROUP]` resolved through the rootfs's /etc/passwd and /etc/group.
//! - [`facts`]: what the builder needs from the host and the rootfs, read before it runs
//!   ([`Facts::read`], the one place here that reads files).
//! - [`build`]: flags + image defaults + facts → a complete [`Spec`] and the files to write
//!   ([`build_spec`] → [`SpecPlan`]).
//! - [`etc_files`]: the /etc/hostname, /etc/hosts and /etc/resolv.conf given to a container.
//! - [`resources`]: resource flags → `linux.resources` ([`resources::merge`]) and the one
//!   check of resource values ([`resources::validate`]), for `run`, `update` and `create`.
//! - [`mount_check`]: mount destinations refused because they defeat hardening (/proc).
//! - [`linux_flags`]: `--cgroup-parent`, `--sysctl`, `--group-add`, `--device`, `--shm-size`.
//! - [`sysctl`]: which `linux.sysctl` keys a container may set (namespaced ones only).
//! - [`process`]: `exec`'s flags → the process to run (one capability translation with `run`).
//!
//! This module builds data only: it writes nothing (the caller writes a [`SpecPlan`]'s files)
//! and must not create containers, cgroups or mounts.

pub mod build;
pub mod defaults;
pub mod etc_files;
pub mod facts;
pub mod flags;
pub mod host_devices;
pub mod linux_flags;
pub mod mount_check;
pub mod process;
pub mod resources;
pub mod sysctl;
pub mod user;
pub mod values;

pub use build::{build_spec, ImageDefaults, SpecContext, SpecPlan};
pub use defaults::default_spec;
pub use facts::Facts;
pub use flags::RunFlags;

use oci_spec::runtime::{LinuxSeccomp, Spec};

/// Why a spec could not be built: a bad flag value (named, with the fix) or an oci-spec error.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// A flag had a value tinibox cannot use; the message names the flag and the fix.
    #[error("{0}")]
    Invalid(String),
    /// oci-spec refused a value while building the spec.
    #[error("building the runtime spec: {0}")]
    Oci(#[from] oci_spec::OciSpecError),
}

impl SpecError {
    /// A flag error: `--flag: what is wrong — what to do`.
    pub fn flag(flag: &str, what: impl std::fmt::Display, fix: impl std::fmt::Display) -> Self {
        SpecError::Invalid(format!("{flag}: {what} — {fix}"))
    }
}

/// The default seccomp profile (from [`crate::seccomp`]).
pub fn default_seccomp() -> Option<LinuxSeccomp> {
    Some(crate::seccomp::default_profile())
}

/// Serialises a spec as the `config.json` of a bundle.
pub fn to_json(spec: &Spec) -> Result<String, SpecError> {
    serde_json::to_string_pretty(spec)
        .map_err(|e| SpecError::Invalid(format!("serialising config.json: {e}")))
}
