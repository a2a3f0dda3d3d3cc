//! What this host can apply, checked once before a container's group is made (at `create`)
//! and before `update` writes anything: every value `linux.resources` sets is either written
//! by a writer of this module's siblings on this host, or refused here with the field's name
//! and why, as runc and crun refuse them at create — never accepted and silently dropped.
//!
//! A field needs its controller (a mounted v1 hierarchy, or one listed in the v2 root's
//! `cgroup.controllers`) and, on v1, the file it is written to (a blkio controller without
//! the CFQ/BFQ scheduler has no `blkio.weight`). Owns these rules; the writes are the writers'.

use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use super::set;
use crate::cgroups::{CgroupError, Layout};

/// What the host offers: per controller, the directory its files are read from (the v1
/// hierarchy's mount point, or the v2 root), None when the controller is not available.
pub(crate) trait Host {
    /// The directory of `controller`'s files, if the host has that controller.
    fn controller(&self, controller: &str) -> Option<PathBuf>;
}

/// One requirement of a set field: a controller, and on v1 the file of that controller.
struct Need {
    field: &'static str,
    v1: Option<(&'static str, &'static str)>,
    v2: Option<(&'static str, &'static str)>,
}

const fn need(
    field: &'static str,
    v1: Option<(&'static str, &'static str)>,
    v2: Option<(&'static str, &'static str)>,
) -> Need {
    Need { field, v1, v2 }
}

/// The fields `res` sets (0 = not set, as runc reads them), with what each needs.
fn needs(res: &LinuxResources) -> Vec<Need> {
    let mut out = Vec::new();
    if let Some(m) = res.memory() {
        if set(m.kernel()).is_some() {
            out.push(need(
                "memory.kernel",
                Some(("memory", "memory.kmem.limit_in_bytes")),
                None,
            ));
        }
        if set(m.kernel_tcp()).is_some() {
            out.push(need(
                "memory.kernelTCP",
                Some(("memory", "memory.kmem.tcp.limit_in_bytes")),
                None,
            ));
        }
    }
    if let Some(c) = res.cpu() {
        if set(c.realtime_runtime()).is_some() {
            out.push(need(
                "cpu.realtimeRuntime",
                Some(("cpu", "cpu.rt_runtime_us")),
                None,
            ));
        }
        if c.realtime_period().is_some_and(|p| p != 0) {
            out.push(need(
                "cpu.realtimePeriod",
                Some(("cpu", "cpu.rt_period_us")),
                None,
            ));
        }
        if c.burst().is_some_and(|b| b != 0) {
            out.push(need(
                "cpu.burst",
                Some(("cpu", "cpu.cfs_burst_us")),
                Some(("cpu", "")),
            ));
        }
        if c.idle().is_some_and(|i| i != 0) {
            out.push(need(
                "cpu.idle",
                Some(("cpu", "cpu.idle")),
                Some(("cpu", "")),
            ));
        }
    }
    if let Some(b) = res.block_io() {
        if b.weight().is_some_and(|w| w != 0) {
            // blkio.bfq.weight is the BFQ scheduler's name for it; the writer takes either.
            let file = "blkio.weight|blkio.bfq.weight";
            out.push(need(
                "blockIO.weight",
                Some(("blkio", file)),
                Some(("io", "")),
            ));
        }
        if b.leaf_weight().is_some_and(|w| w != 0) {
            out.push(need(
                "blockIO.leafWeight",
                Some(("blkio", "blkio.leaf_weight")),
                None,
            ));
        }
        if b.weight_device().as_ref().is_some_and(|d| !d.is_empty()) {
            out.push(need(
                "blockIO.weightDevice",
                Some(("blkio", "blkio.weight_device|blkio.bfq.weight_device")),
                None,
            ));
        }
        for (field, list, file) in [
            (
                "blockIO.throttleReadBpsDevice",
                b.throttle_read_bps_device(),
                "blkio.throttle.read_bps_device",
            ),
            (
                "blockIO.throttleWriteBpsDevice",
                b.throttle_write_bps_device(),
                "blkio.throttle.write_bps_device",
            ),
            (
                "blockIO.throttleReadIOPSDevice",
                b.throttle_read_iops_device(),
                "blkio.throttle.read_iops_device",
            ),
            (
                "blockIO.throttleWriteIOPSDevice",
                b.throttle_write_iops_device(),
                "blkio.throttle.write_iops_device",
            ),
        ] {
            if list.as_ref().is_some_and(|l| !l.is_empty()) {
                out.push(need(field, Some(("blkio", file)), Some(("io", ""))));
            }
        }
    }
    if let Some(n) = res.network() {
        if n.class_id().is_some_and(|c| c != 0) {
            out.push(need(
                "network.classID",
                Some(("net_cls", "net_cls.classid")),
                None,
            ));
        }
        if n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
            out.push(need(
                "network.priorities",
                Some(("net_prio", "net_prio.ifpriomap")),
                None,
            ));
        }
    }
    if res
        .hugepage_limits()
        .as_ref()
        .is_some_and(|h| !h.is_empty())
    {
        out.push(need(
            "hugepageLimits",
            Some(("hugetlb", "")),
            Some(("hugetlb", "")),
        ));
    }
    if res.rdma().as_ref().is_some_and(|r| !r.is_empty()) {
        // No writer: refused everywhere (tinibox has no rdma support).
        out.push(need("rdma", None, None));
    }
    out
}

/// Refuses the first field of `res` that `host` (of `layout`) cannot apply, naming it:
/// `linux.resources.FIELD: …`.
pub(crate) fn check(
    layout: Layout,
    res: &LinuxResources,
    host: &dyn Host,
) -> Result<(), CgroupError> {
    for n in needs(res) {
        let want = match layout {
            Layout::V1 => n.v1,
            Layout::V2 => n.v2,
        };
        let version = match layout {
            Layout::V1 => "cgroup v1",
            Layout::V2 => "cgroup v2",
        };
        let refuse = |why: String| CgroupError::Unsupported {
            field: n.field,
            why,
        };
        let Some((controller, files)) = want else {
            return Err(refuse(if n.field == "rdma" {
                "tinibox does not apply rdma limits; remove the field".into()
            } else {
                format!("{version} has no such setting; remove the field")
            }));
        };
        let Some(dir) = host.controller(controller) else {
            return Err(refuse(format!(
                "the {controller} controller is not available on this host ({version}); \
                 remove the field"
            )));
        };
        if !files.is_empty() && !files.split('|').any(|f| dir.join(f).exists()) {
            let first = files.split('|').next().unwrap_or(files);
            return Err(refuse(format!(
                "this kernel's {controller} controller has no {first}; remove the field"
            )));
        }
    }
    Ok(())
}

/// The host as the mounted cgroup file systems show it.
pub(crate) struct Mounted {
    /// The layout.
    pub layout: Layout,
    /// v1: controller → mount point; v2: the root under "unified".
    pub roots: std::collections::BTreeMap<String, PathBuf>,
}

impl Host for Mounted {
    fn controller(&self, controller: &str) -> Option<PathBuf> {
        match self.layout {
            Layout::V1 => self.roots.get(controller).cloned(),
            Layout::V2 => {
                let root = self.roots.get("unified")?;
                let list = std::fs::read_to_string(Path::new(root).join("cgroup.controllers"))
                    .unwrap_or_default();
                list.split_whitespace()
                    .any(|c| c == controller)
                    .then(|| root.clone())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    struct Fake(BTreeMap<String, PathBuf>);
    impl Host for Fake {
        fn controller(&self, c: &str) -> Option<PathBuf> {
            self.0.get(c).cloned()
        }
    }

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn fields_without_controller_or_file_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("memory.kmem.tcp.limit_in_bytes"), "").unwrap();
        let mut m = BTreeMap::new();
        m.insert("memory".to_string(), dir.path().to_path_buf());
        m.insert("blkio".to_string(), dir.path().to_path_buf());
        let host = Fake(m);
        let err = |j: &str| {
            check(Layout::V1, &res(j), &host)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(check(
            Layout::V1,
            &res(r#"{"memory":{"kernelTCP":1048576}}"#),
            &host
        )
        .is_ok());
        assert!(err(r#"{"blockIO":{"weight":500}}"#).contains("linux.resources.blockIO.weight"));
        assert!(err(r#"{"network":{"classID":1}}"#).contains("network.classID"));
        assert!(
            err(r#"{"hugepageLimits":[{"pageSize":"2MB","limit":0}]}"#).contains("hugepageLimits")
        );
        assert!(err(r#"{"memory":{"kernelTCP":1}}"#).is_empty());
        assert!(
            check(Layout::V2, &res(r#"{"memory":{"kernelTCP":1}}"#), &host)
                .is_err_and(|e| e.to_string().contains("memory.kernelTCP"))
        );
        assert!(check(Layout::V1, &res(r#"{"blockIO":{"weight":0}}"#), &host).is_ok());
    }
}
