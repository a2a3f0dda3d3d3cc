//! The freezer: pause and resume. v1: the freezer controller's freezer.state (every container
//! gets a freezer group, which also lists its processes); v2: cgroup.freeze and the
//! "frozen" line of cgroup.events. It writes no limits.

use std::fs;

use oci_spec::runtime::LinuxResources;

use super::Writer;
use crate::cgroups::{write_file, CgroupError, CgroupHandle, Layout};

/// The freezer "writer": a freezer group on v1 for every container; nothing to write.
pub(in crate::cgroups) const WRITER: Writer = Writer::new(
    Some("freezer"),
    None,
    |_, update| !update,
    |_: &CgroupHandle, _: &LinuxResources, _| Ok(()),
);

/// Freezes (`frozen`) or thaws every process of the group and waits until the kernel says
/// it is done (about a second at most).
pub(in crate::cgroups) fn set_frozen(h: &CgroupHandle, frozen: bool) -> Result<(), CgroupError> {
    match h.layout {
        Layout::V1 => {
            let dir = h
                .dirs
                .get("freezer")
                .ok_or_else(|| CgroupError::Missing("freezer".into()))?;
            let want = if frozen { "FROZEN" } else { "THAWED" };
            // The kernel moves through FREEZING; re-writing until it settles is how v1
            // freezing works.
            for _ in 0..1000 {
                write_file(dir, "freezer.state", want)?;
                let now = fs::read_to_string(dir.join("freezer.state")).unwrap_or_default();
                if now.trim() == want {
                    return Ok(());
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            Err(CgroupError::Invalid(format!(
                "{} did not become {want}",
                dir.display()
            )))
        }
        Layout::V2 => {
            let dir = h
                .dirs
                .get("unified")
                .ok_or_else(|| CgroupError::Missing("unified".into()))?;
            write_file(dir, "cgroup.freeze", if frozen { "1" } else { "0" })?;
            let want = if frozen { "frozen 1" } else { "frozen 0" };
            for _ in 0..1000 {
                let ev = fs::read_to_string(dir.join("cgroup.events")).unwrap_or_default();
                if ev.lines().any(|l| l.trim() == want) {
                    return Ok(());
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            Err(CgroupError::Invalid(format!(
                "{} did not reach {want}",
                dir.display()
            )))
        }
    }
}

/// True when the group is frozen.
pub(in crate::cgroups) fn is_frozen(h: &CgroupHandle) -> bool {
    let (dir, file, frozen): (_, _, fn(&str) -> bool) = match h.layout {
        Layout::V1 => (h.dirs.get("freezer"), "freezer.state", |s| s != "THAWED"),
        Layout::V2 => (h.dirs.get("unified"), "cgroup.freeze", |s| s == "1"),
    };
    dir.and_then(|d| fs::read_to_string(d.join(file)).ok())
        .is_some_and(|s| frozen(s.trim()))
}
