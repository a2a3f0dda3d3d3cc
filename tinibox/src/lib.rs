//! tinibox — TiniLinux's container runtime, as a library.
//!
//! One engine, two front doors: the docker-like commands (`run`, `ps`, `logs`, images …) and
//! the runc-compatible OCI runtime commands (`create`, `start`, `state`, …) both turn their
//! input into an OCI runtime spec plus a bundle and go through the same container lifecycle.
//!
//! Module map (each module's own doc comment says what it owns):
//! - [`cli`]: argument parsing and the command handlers of both front doors.
//! - [`spec`]: docker-like flags and image configs → an OCI runtime spec.
//! - [`container`]: the lifecycle (create, start, exec, kill, delete, state) and the state
//!   directory: the parent side.
//! - [`process`]: the child side: fork/clone3, stage 1, the init, exec's helper, the reaper,
//!   the child ↔ parent channel, the exec fifo and `finish_and_exec`.
//! - [`hooks`]: running OCI hooks (a leaf).
//! - [`linux`]: the system calls of each step: namespaces, mounts, pivot_root, devices,
//!   capabilities, rlimits, pty handling.
//! - [`cgroups`]: resource limits on cgroup v1, hybrid and v2, chosen in one place.
//! - [`seccomp`]: OCI seccomp profiles compiled to BPF, and the default profile.
//! - [`check`]: the kernel features containers need (`tinibox check`), shared with distro-build.
//! - [`image`]: the content-addressed image store (load, import, layers, overlay roots).
//! - [`text`]: cutting user-controlled text by characters for display (a leaf).
//! - [`passwd`]: parsing a container's /etc/passwd and /etc/group text (a leaf).

pub mod cgroups;
pub mod check;
pub mod cli;
pub mod container;
pub mod hooks;
pub mod image;
pub mod linux;
pub mod net;
pub mod passwd;
pub mod process;
#[cfg(feature = "registry")]
pub mod registry;
pub mod seccomp;
pub mod service;
pub mod spec;
pub mod text;
