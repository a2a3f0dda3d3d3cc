//! The Linux system calls a container process makes, one module per concern: namespaces, the
//! root filesystem (mounts, devices, pivot_root), the terminal (the container's pty in
//! [`console`], the caller's side of it in [`tty`]), security settings (user,
//! capabilities, rlimits, no_new_privs, hostname, sysctls), the loopback link, pidfds and
//! signal numbers 1-64 ([`signal`]).
//!
//! The lowest layer: it imports nothing of tinibox above it. The ORDER of the steps is
//! [`crate::process`]'s; cgroups are [`crate::cgroups`]'s, seccomp filters [`crate::seccomp`]'s.

pub mod console;
pub mod devices;
pub mod namespaces;
pub mod net;
pub mod pidfd;
pub mod private_file;
pub mod rootfs;
pub mod safe_path;
pub mod security;
pub mod signal;
pub mod tty;
