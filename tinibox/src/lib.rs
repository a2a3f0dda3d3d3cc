//! tinibox — TiniLinux's container runtime, as a library.
//!
//! One engine, two front doors: the docker-like commands (`run`, `ps`, `logs`, images …) and
//! the runc-compatible OCI runtime commands (`create`, `start`, `state`, …) both turn their
//! input into an OCI runtime spec plus a bundle and go through the same container lifecycle.
//!
//! Module map (each module's own doc comment says what it owns):
//! - [`cli`]: argument parsing and the command handlers of both front doors.
//! - [`spec`]: docker-like flags and image configs → an OCI runtime spec.
//! - [`container`]: the lifecycle (create, start, kill, delete, state) and the state directory.
//! - [`linux`]: what runs inside the new process: namespaces, mounts, pivot_root, devices,
//!   capabilities, rlimits, pty handling.
//! - [`cgroups`]: resource limits on cgroup v1, hybrid and v2, chosen in one place.
//! - [`seccomp`]: OCI seccomp profiles compiled to BPF, and the default profile.
//! - [`check`]: the kernel features containers need (`tinibox check`), shared with distro-build.
//! - [`image`]: the content-addressed image store (load, import, layers, overlay roots).

pub mod cgroups;
pub mod check;
pub mod cli;
pub mod container;
pub mod image;
pub mod linux;
pub mod registry;
pub mod seccomp;
pub mod spec;
