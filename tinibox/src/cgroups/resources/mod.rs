//! One writer per resource, each knowing both cgroup versions: which controller it needs on
//! v1 and v2, when a spec asks for it, and how its values are written on each. `apply`,
//! `create` and `update` of both versions loop over [`WRITERS`]; a new controller is one
//! module here plus one line in that list.
//!
//! Owns the resource file names and value formats. Values of 0 mean "not set", as runc reads
//! them (dockerd sends zeros for every limit it does not change).

mod blkio;
mod cpu;
mod cpuset;
pub mod devices;
pub(super) mod freezer;
mod hugetlb;
mod memory;
mod network;
mod pids;
mod support;
mod unified;

use std::path::PathBuf;

use oci_spec::runtime::LinuxResources;

use super::{CgroupError, CgroupHandle, Layout};

/// A resource writer.
pub(crate) struct Writer {
    /// The controller on cgroup v1 (a hierarchy), None when it has none there.
    pub v1: Option<&'static str>,
    /// The controller on cgroup v2 (enabled in the ancestors' `cgroup.subtree_control`),
    /// None when it needs none.
    pub v2: Option<&'static str>,
    /// Whether `res` asks for this resource; `update` true: only values that are set count.
    pub wanted: fn(res: &LinuxResources, update: bool) -> bool,
    /// Writes the values of `res` into the container's group; `initial` at creation.
    pub write: fn(h: &CgroupHandle, res: &LinuxResources, initial: bool) -> Result<(), CgroupError>,
}

impl Writer {
    /// A writer (a `const fn`, so that each module's writer is one line).
    pub const fn new(
        v1: Option<&'static str>,
        v2: Option<&'static str>,
        wanted: fn(&LinuxResources, bool) -> bool,
        write: fn(&CgroupHandle, &LinuxResources, bool) -> Result<(), CgroupError>,
    ) -> Writer {
        Writer {
            v1,
            v2,
            wanted,
            write,
        }
    }
}

/// Every resource, in the order its values are written.
pub(crate) const WRITERS: &[Writer] = &[
    memory::WRITER,
    pids::WRITER,
    cpu::WRITER,
    cpuset::WRITER,
    blkio::WRITER,
    network::NET_CLS,
    network::NET_PRIO,
    hugetlb::WRITER,
    unified::WRITER,
    devices::WRITER,
    freezer::WRITER,
];

/// Refuses, naming the field, the first value of `res` this host cannot apply (see
/// [`support`]); called before anything is made or written.
pub(crate) fn check_host(layout: Layout, res: &LinuxResources) -> Result<(), CgroupError> {
    let roots = match layout {
        Layout::V1 => super::v1::mount_points()?,
        Layout::V2 => [("unified".to_string(), PathBuf::from(super::CGROUP_ROOT))].into(),
    };
    support::check(layout, res, &support::Mounted { layout, roots })
}

/// Writes every resource of `res` (see [`Writer::write`]).
pub(crate) fn apply(
    h: &CgroupHandle,
    res: &LinuxResources,
    initial: bool,
) -> Result<(), CgroupError> {
    for w in WRITERS {
        (w.write)(h, res, initial)?;
    }
    Ok(())
}

/// The controllers `res` needs on `layout` (for `update`: only those whose values are set).
pub(crate) fn controllers(layout: Layout, res: &LinuxResources, update: bool) -> Vec<&'static str> {
    WRITERS
        .iter()
        .filter(|w| (w.wanted)(res, update))
        .filter_map(|w| match layout {
            Layout::V1 => w.v1,
            Layout::V2 => w.v2,
        })
        .collect()
}

/// The directory the container's group has for `controller` on v1, or its one directory on
/// v2. None when the group has none (the controller was not needed so far).
pub(crate) fn dir<'a>(h: &'a CgroupHandle, v1_controller: &str) -> Option<&'a PathBuf> {
    match h.layout {
        Layout::V1 => h.dirs.get(v1_controller),
        Layout::V2 => h.dirs.get("unified"),
    }
}

/// Like [`dir`], but a missing directory is [`CgroupError::Missing`].
pub(crate) fn need_dir<'a>(
    h: &'a CgroupHandle,
    v1_controller: &str,
) -> Result<&'a PathBuf, CgroupError> {
    dir(h, v1_controller).ok_or_else(|| {
        CgroupError::Missing(match h.layout {
            Layout::V1 => v1_controller.into(),
            Layout::V2 => "unified".into(),
        })
    })
}

/// A resource value as runc reads it: 0 means "not set".
pub(crate) fn set(v: Option<i64>) -> Option<i64> {
    v.filter(|v| *v != 0)
}
