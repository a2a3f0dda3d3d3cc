//! The cpuset controller: cpuset.cpus and cpuset.mems (the same files on v1 and v2; an empty
//! list means "not set"). The v1 parents' copies are made when the group is (see v1.rs).

use oci_spec::runtime::LinuxResources;

use super::{dir, Writer};
use crate::cgroups::{write_file, CgroupError, CgroupHandle};

pub(super) const WRITER: Writer = Writer::new(Some("cpuset"), Some("cpuset"), wanted, write);

fn wanted(res: &LinuxResources, update: bool) -> bool {
    res.cpu().as_ref().is_some_and(|c| {
        if update {
            c.cpus().as_ref().is_some_and(|v| !v.is_empty())
                || c.mems().as_ref().is_some_and(|v| !v.is_empty())
        } else {
            c.cpus().is_some() || c.mems().is_some()
        }
    })
}

fn write(h: &CgroupHandle, res: &LinuxResources, _initial: bool) -> Result<(), CgroupError> {
    let (Some(cpu), Some(dir)) = (res.cpu(), dir(h, "cpuset")) else {
        return Ok(());
    };
    if let Some(c) = cpu.cpus().as_ref().filter(|c| !c.is_empty()) {
        write_file(dir, "cpuset.cpus", c)?;
    }
    if let Some(m) = cpu.mems().as_ref().filter(|m| !m.is_empty()) {
        write_file(dir, "cpuset.mems", m)?;
    }
    Ok(())
}
