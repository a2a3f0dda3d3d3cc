//! What goes into the root filesystem, as components (Buildroot's package idea): each one
//! fetches its pinned sources, builds (or takes its build from the cache) and installs its
//! files into the [`RootfsTree`]. BusyBox ([`crate::busybox::BusyBoxComponent`]) and the
//! static tinibox ([`crate::tinibox_static::TiniboxComponent`]) implement it; a new program
//! in the rootfs (dropbear, apk …) is one more implementation and one entry in
//! [`crate::pipeline::Pipeline::components`].
//!
//! A component remembers what it fetched and built (each step runs at most once per process)
//! and may be handed an already built result for tests. The kernel is not a component: it
//! goes onto the boot media, not into the tree. This module defines the trait only.

use crate::context::Context;
use crate::error::Result;
use crate::tree::RootfsTree;

/// One program (or set of files) of the root filesystem.
pub trait Component {
    /// The name in progress lines (`busybox`, `tinibox`).
    fn name(&self) -> &'static str;

    /// Gets the pinned sources into the cache, verified and unpacked (a no-op for a component
    /// built from this repository).
    ///
    /// Errors: a download or checksum failure, a version gone with `--locked`.
    fn fetch(&self, ctx: &Context) -> Result<()>;

    /// Builds the component for `ctx.target` (or takes it from the cache), fetching first.
    ///
    /// Errors: the fetch's, a failing build tool (its log named), a config that lost options.
    fn build(&self, ctx: &Context) -> Result<()>;

    /// Adds the built component's files to `tree` (building first when needed). It must only
    /// add its own paths; the skeleton is laid over the tree afterwards and wins.
    ///
    /// Errors: the build's, an invalid tree path.
    fn install(&self, ctx: &Context, tree: &mut RootfsTree) -> Result<()>;
}
