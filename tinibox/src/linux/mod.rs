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
pub mod net;
pub mod reaper;
pub mod rootfs;
pub mod safe_path;
pub mod security;
pub mod sync;

/// Signals a waiting tinibox process forwards to the container process it waits for
/// (`run` in the foreground, `run --bundle`, `exec`): termination and the user signals.
pub const FORWARDED_SIGNALS: [nix::sys::signal::Signal; 6] = [
    nix::sys::signal::Signal::SIGINT,
    nix::sys::signal::Signal::SIGTERM,
    nix::sys::signal::Signal::SIGHUP,
    nix::sys::signal::Signal::SIGQUIT,
    nix::sys::signal::Signal::SIGUSR1,
    nix::sys::signal::Signal::SIGUSR2,
];
