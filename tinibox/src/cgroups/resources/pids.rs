//! The pids controller: pids.max (the same file on v1 and v2; "max" for no limit).

use oci_spec::runtime::LinuxResources;

use super::{need_dir, set, Writer};
use crate::cgroups::{write_file, CgroupError, CgroupHandle};

pub(super) const WRITER: Writer = Writer::new(Some("pids"), Some("pids"), wanted, write);

/// The pids limit of `res` when set (negative: unlimited).
fn value(res: &LinuxResources) -> Option<i64> {
    set(res.pids().as_ref().map(|p| p.limit()))
}

fn wanted(res: &LinuxResources, update: bool) -> bool {
    if update {
        value(res).is_some()
    } else {
        res.pids().is_some()
    }
}

fn write(h: &CgroupHandle, res: &LinuxResources, _initial: bool) -> Result<(), CgroupError> {
    let Some(p) = value(res) else {
        return Ok(());
    };
    let v = if p > 0 { p.to_string() } else { "max".into() };
    write_file(need_dir(h, "pids")?, "pids.max", &v)
}
