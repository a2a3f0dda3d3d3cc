//! The memory controller: limit, reservation, memory+swap, swappiness, the OOM killer.
//! v1: memory.limit_in_bytes, memory.soft_limit_in_bytes, memory.memsw.limit_in_bytes,
//! memory.swappiness, memory.oom_control, memory.kmem.limit_in_bytes (`kernel`) and
//! memory.kmem.tcp.limit_in_bytes (`kernelTCP`); v2: memory.max, memory.low, memory.swap.max
//! (v2 has no kernel limits: `support` refuses them there; on v1 a kernel limit the kernel
//! does not keep is refused after the write, see `kernel_limit_took`).
//! The rules between values (swap ≥ limit, swappiness ≤ 100) are checked before they reach
//! a writer, once, by `crate::spec::resources::validate`.

use oci_spec::runtime::LinuxResources;

use super::{need_dir, set, Writer};
use crate::cgroups::{write_file, CgroupError, CgroupHandle, Layout};

pub(super) const WRITER: Writer = Writer::new(Some("memory"), Some("memory"), wanted, write);

fn wanted(res: &LinuxResources, update: bool) -> bool {
    if update {
        used(res)
    } else {
        res.memory().is_some()
    }
}

/// The memory values of `res` that are set: (limit, reservation, swap).
fn values(res: &LinuxResources) -> (Option<i64>, Option<i64>, Option<i64>) {
    match res.memory() {
        Some(m) => (set(m.limit()), set(m.reservation()), set(m.swap())),
        None => (None, None, None),
    }
}

/// True when `res` sets anything in the memory controller.
fn used(res: &LinuxResources) -> bool {
    let (l, r, s) = values(res);
    l.is_some()
        || r.is_some()
        || s.is_some()
        || res.memory().as_ref().is_some_and(|m| {
            m.swappiness().is_some()
                || m.disable_oom_killer() == Some(true)
                || set(m.kernel()).is_some()
                || set(m.kernel_tcp()).is_some()
        })
}

fn write(h: &CgroupHandle, res: &LinuxResources, _initial: bool) -> Result<(), CgroupError> {
    let Some(mem) = res.memory().as_ref().filter(|_| used(res)) else {
        return Ok(());
    };
    let dir = need_dir(h, "memory")?;
    let (limit, reservation, swap) = values(res);
    match h.layout {
        Layout::V1 => {
            if let Some(r) = reservation {
                write_file(dir, "memory.soft_limit_in_bytes", &r.to_string())?;
            }
            let has_memsw = dir.join("memory.memsw.limit_in_bytes").exists();
            // memsw must stay >= limit: order the two writes so each is valid.
            let write_limit = |v: i64| write_file(dir, "memory.limit_in_bytes", &v.to_string());
            let write_swap = |v: i64| {
                if has_memsw {
                    write_file(dir, "memory.memsw.limit_in_bytes", &v.to_string())
                } else {
                    Ok(())
                }
            };
            match (limit, swap) {
                (Some(l), Some(s)) => {
                    if write_limit(l).is_err() {
                        write_swap(s)?;
                        write_limit(l)?;
                    } else {
                        write_swap(s)?;
                    }
                }
                (Some(l), None) => {
                    if l == -1 {
                        write_swap(-1)?;
                    }
                    write_limit(l)?;
                }
                (None, Some(s)) => write_swap(s)?,
                (None, None) => {}
            }
            if let Some(sw) = mem.swappiness() {
                write_file(dir, "memory.swappiness", &sw.to_string())?;
            }
            if mem.disable_oom_killer() == Some(true) {
                write_file(dir, "memory.oom_control", "1")?;
            }
            if let Some(k) = set(mem.kernel()) {
                write_file(dir, "memory.kmem.limit_in_bytes", &k.to_string())?;
                kernel_limit_took(dir, k)?;
            }
            if let Some(k) = set(mem.kernel_tcp()) {
                write_file(dir, "memory.kmem.tcp.limit_in_bytes", &k.to_string())?;
            }
        }
        Layout::V2 => {
            let num_or_max = |v: i64| {
                if v < 0 {
                    "max".to_string()
                } else {
                    v.to_string()
                }
            };
            if let Some(r) = reservation {
                write_file(dir, "memory.low", &num_or_max(r))?;
            }
            if let Some(l) = limit {
                write_file(dir, "memory.max", &num_or_max(l))?;
            }
            if let Some(s) = swap {
                // OCI's swap is memory+swap; v2's memory.swap.max is swap alone.
                let v = match (limit, s) {
                    (_, -1) => "max".to_string(),
                    (Some(l), s) if l > 0 => (s - l).to_string(),
                    (_, s) => s.to_string(),
                };
                if dir.join("memory.swap.max").exists() {
                    write_file(dir, "memory.swap.max", &v)?;
                }
            }
        }
    }
    Ok(())
}

/// Reads `memory.kmem.limit_in_bytes` back after `limit` was written: newer kernels (6.18 on
/// the build host) accept any value there and keep "unlimited" (kernel memory limits were
/// deprecated, then dropped, upstream), so a kernel memory limit is refused, naming the
/// field, instead of being accepted and never applied. A limit of -1 (unlimited) passes.
fn kernel_limit_took(dir: &std::path::Path, limit: i64) -> Result<(), CgroupError> {
    let Some(now) = crate::cgroups::read_u64(dir, "memory.kmem.limit_in_bytes") else {
        return Ok(());
    };
    // The kernel keeps whole pages: the value read back is the limit rounded down to one.
    let page = 4096u64;
    if limit < 0 || now == (limit as u64) / page * page {
        return Ok(());
    }
    Err(CgroupError::Unsupported {
        field: "memory.kernel",
        why: format!(
            "this kernel ignores memory.kmem.limit_in_bytes (wrote {limit}, it reads {now}; \
             kernel memory limits are no longer enforced by Linux); remove the field"
        ),
    })
}
