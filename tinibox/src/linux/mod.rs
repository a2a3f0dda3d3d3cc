//! What runs inside the new container process: namespaces, the root filesystem (mounts,
//! devices, pivot_root), the terminal, security settings (user, capabilities, rlimits,
//! no_new_privs) and the init's step order, plus the sync channel to the parent.
//!
//! Owns the container side only. It does not create cgroups ([`crate::cgroups`]), write state
//! ([`crate::container`]) or compile seccomp filters ([`crate::seccomp`]).

pub mod console;
pub mod devices;
pub mod init;
pub mod namespaces;
pub mod reaper;
pub mod rootfs;
pub mod safe_path;
pub mod security;
pub mod sync;
