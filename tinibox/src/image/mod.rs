//! The content-addressed image store: images loaded from OCI layouts/archives or `docker
//! save` archives, imported from rootfs tarballs, listed and removed, and turned into
//! container roots (overlay of read-only layers + the container's own upper folder).
//!
//! This module owns everything below the store folder (`--store`, `TINIBOX_STORE`, default
//! `/var/lib/tinibox`); it never touches the container state directory, cgroups or the
//! runtime spec. Sub-modules: `store` (on-disk format, records, lock, GC), `reference`
//! (what users type), `document` (the one JSON entry point for image documents), `load`
//! (load/import with verification), `interrupt` (staging removed on SIGINT/SIGTERM/SIGHUP),
//! `unpack` (safe layer
//! extraction), `fsat` (`*at` syscalls), `rootfs` (container roots), `error`.
//!
//! The run path uses: [`Store::open`], [`Store::resolve`], [`Store::prepare_rootfs`] (gives a
//! [`PreparedRootfs`] with the rootfs folder and the image's [`ImageRuntimeConfig`]) and
//! [`Store::release_rootfs`] (on `rm` and `--rm`).

pub mod compression;
pub mod document;
pub mod error;
pub mod fsat;
pub mod interrupt;
pub mod load;
pub mod reference;
pub mod rootfs;
pub mod store;
pub mod unpack;

pub use error::{ImageError, Result};
pub use load::{import, load, load_pulled};
pub use rootfs::{PreparedRootfs, RootfsMode};
pub use store::{ImageRecord, ImageRuntimeConfig, Store};
