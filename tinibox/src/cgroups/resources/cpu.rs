//! The cpu controller: shares/weight, the CFS quota and burst, idle, the realtime budget.
//! v1: cpu.shares, cpu.cfs_period_us, cpu.cfs_quota_us, cpu.cfs_burst_us, cpu.idle,
//! cpu.rt_period_us, cpu.rt_runtime_us; v2: cpu.weight (converted from shares as runc and
//! crun do), cpu.max, cpu.max.burst, cpu.idle (v2 has no realtime budget: `support` refuses
//! it there).

use std::path::Path;

use oci_spec::runtime::LinuxResources;

use super::{dir, Writer};
use crate::cgroups::{write_file, CgroupError, CgroupHandle, Layout};

pub(super) const WRITER: Writer = Writer::new(Some("cpu"), Some("cpu"), wanted, write);

/// True when `res` sets a cpu value (shares or period 0 mean "not set").
fn used(res: &LinuxResources) -> bool {
    res.cpu().as_ref().is_some_and(|c| {
        c.shares().is_some_and(|s| s != 0)
            || c.quota().is_some()
            || c.period().is_some_and(|p| p != 0)
            || c.burst().is_some_and(|b| b != 0)
            || c.idle().is_some_and(|i| i != 0)
            || c.realtime_runtime().is_some_and(|r| r != 0)
            || c.realtime_period().is_some_and(|p| p != 0)
    })
}

fn wanted(res: &LinuxResources, update: bool) -> bool {
    if update {
        return used(res);
    }
    res.cpu()
        .as_ref()
        .is_some_and(|c| c.shares().is_some() || c.quota().is_some() || c.period().is_some())
        || used(res)
}

/// cpu.shares (2..262144) → cpu.weight (1..10000), the conversion runc and crun use.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 100;
    }
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

fn write(h: &CgroupHandle, res: &LinuxResources, initial: bool) -> Result<(), CgroupError> {
    let Some(cpu) = res.cpu() else {
        return Ok(());
    };
    let Some(dir) = dir(h, "cpu") else {
        if !initial && used(res) {
            return Err(CgroupError::Missing("cpu".into()));
        }
        return Ok(());
    };
    match h.layout {
        Layout::V1 => {
            if let Some(s) = cpu.shares().filter(|s| *s != 0) {
                write_file(dir, "cpu.shares", &s.to_string())?;
            }
            if let Some(p) = cpu.period().filter(|p| *p != 0) {
                write_file(dir, "cpu.cfs_period_us", &p.to_string())?;
            }
            if let Some(q) = cpu.quota() {
                let q = if q > 0 { q } else { -1 };
                write_file(dir, "cpu.cfs_quota_us", &q.to_string())?;
            }
            if let Some(b) = cpu.burst().filter(|b| *b != 0) {
                write_file(dir, "cpu.cfs_burst_us", &b.to_string())?;
            }
            // The period first: the runtime must fit in it.
            if let Some(p) = cpu.realtime_period().filter(|p| *p != 0) {
                write_file(dir, "cpu.rt_period_us", &p.to_string())?;
            }
            if let Some(r) = cpu.realtime_runtime().filter(|r| *r != 0) {
                grant_realtime(h, dir, r)?;
                write_file(dir, "cpu.rt_runtime_us", &r.to_string())?;
            }
            if let Some(i) = cpu.idle().filter(|i| *i != 0) {
                write_file(dir, "cpu.idle", &i.to_string())?;
            }
        }
        Layout::V2 => {
            if let Some(s) = cpu.shares().filter(|s| *s != 0) {
                write_file(dir, "cpu.weight", &shares_to_weight(s).to_string())?;
            }
            if cpu.quota().is_some() || cpu.period().is_some() {
                let period = cpu.period().filter(|p| *p != 0).unwrap_or(100_000);
                let quota = match cpu.quota() {
                    Some(q) if q > 0 => q.to_string(),
                    _ => "max".into(),
                };
                write_file(dir, "cpu.max", &format!("{quota} {period}"))?;
            }
            if let Some(b) = cpu.burst().filter(|b| *b != 0) {
                write_file(dir, "cpu.max.burst", &b.to_string())?;
            }
            if let Some(i) = cpu.idle().filter(|i| *i != 0) {
                write_file(dir, "cpu.idle", &i.to_string())?;
            }
        }
    }
    Ok(())
}

/// A group's realtime runtime must fit in its parent's: gives each ancestor of `dir` below
/// the hierarchy's root (tinibox's own parent groups start with 0) at least `runtime`,
/// top-down, before the container's group gets it.
fn grant_realtime(h: &CgroupHandle, dir: &Path, runtime: i64) -> Result<(), CgroupError> {
    let depth = h.rel_path.components().count();
    let ancestors: Vec<&Path> = dir
        .ancestors()
        .skip(1)
        .take(depth.saturating_sub(1))
        .collect();
    for a in ancestors.into_iter().rev() {
        let have = std::fs::read_to_string(a.join("cpu.rt_runtime_us"))
            .ok()
            .and_then(|t| t.trim().parse::<i64>().ok())
            .unwrap_or(0);
        if have >= 0 && have < runtime {
            write_file(a, "cpu.rt_runtime_us", &runtime.to_string())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_convert_to_weight() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
    }
}
