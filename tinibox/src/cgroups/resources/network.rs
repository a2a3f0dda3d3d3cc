//! The network class and priorities (`linux.resources.network`), cgroup v1 only: net_cls's
//! `net_cls.classid` and net_prio's `net_prio.ifpriomap` (one "IFNAME PRIORITY" line per
//! write). cgroup v2 has neither: `support` refuses the fields there.

use oci_spec::runtime::LinuxResources;

use super::{need_dir, Writer};
use crate::cgroups::{write_file, CgroupError, CgroupHandle, Layout};

/// network.classID → net_cls.classid.
pub(super) const NET_CLS: Writer = Writer::new(Some("net_cls"), None, wants_class, write_class);
/// network.priorities → net_prio.ifpriomap.
pub(super) const NET_PRIO: Writer =
    Writer::new(Some("net_prio"), None, wants_priorities, write_priorities);

fn class_id(res: &LinuxResources) -> Option<u32> {
    res.network()
        .as_ref()
        .and_then(|n| n.class_id())
        .filter(|c| *c != 0)
}

fn wants_class(res: &LinuxResources, _update: bool) -> bool {
    class_id(res).is_some()
}

fn wants_priorities(res: &LinuxResources, _update: bool) -> bool {
    res.network()
        .as_ref()
        .and_then(|n| n.priorities().as_ref())
        .is_some_and(|p| !p.is_empty())
}

fn write_class(h: &CgroupHandle, res: &LinuxResources, _initial: bool) -> Result<(), CgroupError> {
    match (class_id(res), h.layout) {
        (Some(id), Layout::V1) => {
            write_file(need_dir(h, "net_cls")?, "net_cls.classid", &id.to_string())
        }
        _ => Ok(()),
    }
}

fn write_priorities(
    h: &CgroupHandle,
    res: &LinuxResources,
    _initial: bool,
) -> Result<(), CgroupError> {
    if h.layout != Layout::V1 || !wants_priorities(res, false) {
        return Ok(());
    }
    let dir = need_dir(h, "net_prio")?;
    for p in res
        .network()
        .as_ref()
        .and_then(|n| n.priorities().as_ref())
        .into_iter()
        .flatten()
    {
        write_file(
            dir,
            "net_prio.ifpriomap",
            &format!("{} {}", p.name(), p.priority()),
        )?;
    }
    Ok(())
}
