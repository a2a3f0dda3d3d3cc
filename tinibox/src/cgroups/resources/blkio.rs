//! Block IO weight. v1: the blkio controller's blkio.weight (or blkio.bfq.weight); v2: the io
//! controller's io.weight (converted from the blkio range).

use oci_spec::runtime::LinuxResources;

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
        weight(res).is_some()
    } else {
        res.block_io().is_some()
    }
}

/// blkio.weight (10..1000) → io.weight (1..10000).
pub fn blkio_to_io_weight(w: u16) -> u64 {
    let w = (w as u64).clamp(10, 1000);
    1 + (w - 10) * 9999 / 990
}

fn write(h: &CgroupHandle, res: &LinuxResources, _initial: bool) -> Result<(), CgroupError> {
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
