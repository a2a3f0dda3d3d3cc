//! Huge page limits (`linux.resources.hugepageLimits`): v1 `hugetlb.<size>.limit_in_bytes`,
//! v2 `hugetlb.<size>.max`, one per listed page size (`2MB`, `1GB`, as the kernel names them).

use oci_spec::runtime::LinuxResources;

use super::{need_dir, Writer};
use crate::cgroups::{write_file, CgroupError, CgroupHandle, Layout};

pub(super) const WRITER: Writer = Writer::new(Some("hugetlb"), Some("hugetlb"), wanted, write);

fn wanted(res: &LinuxResources, _update: bool) -> bool {
    res.hugepage_limits()
        .as_ref()
        .is_some_and(|l| !l.is_empty())
}

fn write(h: &CgroupHandle, res: &LinuxResources, _initial: bool) -> Result<(), CgroupError> {
    if !wanted(res, false) {
        return Ok(());
    }
    let dir = need_dir(h, "hugetlb")?;
    for l in res.hugepage_limits().as_ref().into_iter().flatten() {
        let size = l.page_size();
        if size.is_empty() || !size.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(CgroupError::Invalid(format!(
                "linux.resources.hugepageLimits: page size {size:?} is not a size such as 2MB"
            )));
        }
        let file = match h.layout {
            Layout::V1 => format!("hugetlb.{size}.limit_in_bytes"),
            Layout::V2 => format!("hugetlb.{size}.max"),
        };
        if !dir.join(&file).exists() {
            return Err(CgroupError::Unsupported {
                field: "hugepageLimits",
                why: format!("this kernel has no {size} huge pages ({file})"),
            });
        }
        write_file(dir, &file, &l.limit().to_string())?;
    }
    Ok(())
}
