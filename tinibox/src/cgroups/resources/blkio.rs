//! Block IO. v1: the blkio controller's blkio.weight (or blkio.bfq.weight), blkio.leaf_weight,
//! blkio.weight_device (or blkio.bfq.weight_device) and the four blkio.throttle.*_device
//! files ("MAJ:MIN VALUE" per device); v2: the io controller's io.weight (converted from the
//! blkio range) and io.max (rbps, wbps, riops, wiops per device). Fields a host lacks the file
//! for are refused before this writes (`support`).

use std::path::Path;

use oci_spec::runtime::{LinuxBlockIo, LinuxResources, LinuxThrottleDevice};

use super::{dir, Writer};
use crate::cgroups::{write_file, CgroupError, CgroupHandle, Layout};

pub(super) const WRITER: Writer = Writer::new(Some("blkio"), Some("io"), wanted, write);

/// The block IO weight when set (0 means "not set").
fn weight(res: &LinuxResources) -> Option<u16> {
    res.block_io()
        .as_ref()
        .and_then(|b| b.weight())
        .filter(|w| *w != 0)
}

fn wanted(res: &LinuxResources, update: bool) -> bool {
    if update {
        weight(res).is_some() || others(res)
    } else {
        res.block_io().is_some()
    }
}

/// True when `res` sets a block IO value other than the weight.
fn others(res: &LinuxResources) -> bool {
    res.block_io().as_ref().is_some_and(|b| {
        b.leaf_weight().is_some_and(|w| w != 0)
            || b.weight_device().as_ref().is_some_and(|d| !d.is_empty())
            || throttles(b).iter().any(|(_, _, l)| !l.is_empty())
    })
}

/// The throttle lists: (v1 file, v2 io.max key, devices).
fn throttles(b: &LinuxBlockIo) -> [(&'static str, &'static str, Vec<LinuxThrottleDevice>); 4] {
    let l = |v: &Option<Vec<LinuxThrottleDevice>>| v.clone().unwrap_or_default();
    [
        (
            "blkio.throttle.read_bps_device",
            "rbps",
            l(b.throttle_read_bps_device()),
        ),
        (
            "blkio.throttle.write_bps_device",
            "wbps",
            l(b.throttle_write_bps_device()),
        ),
        (
            "blkio.throttle.read_iops_device",
            "riops",
            l(b.throttle_read_iops_device()),
        ),
        (
            "blkio.throttle.write_iops_device",
            "wiops",
            l(b.throttle_write_iops_device()),
        ),
    ]
}

/// Writes the leaf weight, per-device weights and throttles (see the module comment).
fn write_others(h: &CgroupHandle, b: &LinuxBlockIo, dir: &Path) -> Result<(), CgroupError> {
    let first = |names: &[&'static str]| -> &'static str {
        names
            .iter()
            .find(|n| dir.join(n).exists())
            .copied()
            .unwrap_or(names[0])
    };
    if h.layout == Layout::V1 {
        if let Some(w) = b.leaf_weight().filter(|w| *w != 0) {
            write_file(dir, "blkio.leaf_weight", &w.to_string())?;
        }
        for d in b.weight_device().as_ref().into_iter().flatten() {
            if let Some(w) = d.weight() {
                let f = first(&["blkio.weight_device", "blkio.bfq.weight_device"]);
                write_file(dir, f, &format!("{}:{} {w}", d.major(), d.minor()))?;
            }
        }
    }
    for (file, key, devices) in throttles(b) {
        for d in devices {
            match h.layout {
                Layout::V1 => write_file(
                    dir,
                    file,
                    &format!("{}:{} {}", d.major(), d.minor(), d.rate()),
                )?,
                Layout::V2 => write_file(
                    dir,
                    "io.max",
                    &format!("{}:{} {key}={}", d.major(), d.minor(), d.rate()),
                )?,
            }
        }
    }
    Ok(())
}

/// blkio.weight (10..1000) → io.weight (1..10000).
pub fn blkio_to_io_weight(w: u16) -> u64 {
    let w = (w as u64).clamp(10, 1000);
    1 + (w - 10) * 9999 / 990
}

fn write(h: &CgroupHandle, res: &LinuxResources, _initial: bool) -> Result<(), CgroupError> {
    if let (Some(b), Some(dir)) = (res.block_io(), dir(h, "blkio")) {
        write_others(h, b, dir)?;
    }
    let (Some(w), Some(dir)) = (weight(res), dir(h, "blkio")) else {
        return Ok(());
    };
    match h.layout {
        Layout::V1 => {
            let f = if dir.join("blkio.weight").exists() {
                "blkio.weight"
            } else {
                "blkio.bfq.weight"
            };
            write_file(dir, f, &w.to_string())
        }
        Layout::V2 => write_file(
            dir,
            "io.weight",
            &format!("default {}", blkio_to_io_weight(w)),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_converts_to_io_weight() {
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(1000), 10_000);
        assert_eq!(blkio_to_io_weight(500), 4950);
    }
}
