//! `linux.resources.unified`: raw cgroup v2 files and values, written as given (v2 only; a
//! v1 host ignores them, like runc on v1 without a unified hierarchy).

use oci_spec::runtime::LinuxResources;

use super::{need_dir, Writer};
use crate::cgroups::{write_file, CgroupError, CgroupHandle, Layout};

pub(super) const WRITER: Writer = Writer::new(None, None, |_, _| false, write);

fn write(h: &CgroupHandle, res: &LinuxResources, _initial: bool) -> Result<(), CgroupError> {
    let (Layout::V2, Some(unified)) = (h.layout, res.unified()) else {
        return Ok(());
    };
    let dir = need_dir(h, "")?;
    for (k, v) in unified {
        if k.contains('/') || k.starts_with('.') {
            return Err(CgroupError::Invalid(format!(
                "linux.resources.unified key {k:?}"
            )));
        }
        write_file(dir, k, v)?;
    }
    Ok(())
}
