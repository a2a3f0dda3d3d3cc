//! Resource flags → `linux.resources`, and the rules on resource values, once for every
//! front door: `run`'s `-m`/`--memory-swap`/`--cpus`/`--cpu-shares`/`--pids-limit` and
//! runc-style `update`'s flags both fill a [`ResourceFlags`] and go through [`merge`];
//! [`validate`] is the one check of a [`LinuxResources`], called by the spec builder, by
//! `update` and by the engine's `create` (for a bundle's config.json).
//!
//! Pure: no cgroup is touched here (that is [`crate::cgroups`]). Values of 0 mean "not set",
//! as runc and the cgroup writers read them (dockerd sends zeros for limits it keeps).

use oci_spec::runtime::LinuxResources;

use super::{values, SpecError};

/// Resource values from command-line flags, already parsed; `None` = the flag was not given.
/// Bytes for memory, microseconds for CPU periods and quotas.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceFlags {
    /// `-m/--memory`: memory limit.
    pub memory: Option<i64>,
    /// `--memory-reservation`: soft limit.
    pub memory_reservation: Option<i64>,
    /// `--memory-swap`: memory plus swap (-1: unlimited).
    pub memory_swap: Option<i64>,
    /// `--pids-limit`: maximum tasks (-1: unlimited).
    pub pids_limit: Option<i64>,
    /// `--cpu-quota` (or from `--cpus`): CFS quota per period (-1: unlimited).
    pub cpu_quota: Option<i64>,
    /// `--cpu-period` (or from `--cpus`): CFS period.
    pub cpu_period: Option<u64>,
    /// `--cpu-shares`: relative weight.
    pub cpu_shares: Option<u64>,
    /// `--cpu-rt-period`: realtime period.
    pub cpu_rt_period: Option<u64>,
    /// `--cpu-rt-runtime`: realtime runtime.
    pub cpu_rt_runtime: Option<i64>,
    /// `--cpuset-cpus`: CPUs allowed (e.g. `0-1`).
    pub cpuset_cpus: Option<String>,
    /// `--cpuset-mems`: memory nodes allowed.
    pub cpuset_mems: Option<String>,
    /// `--blkio-weight`: block IO weight (10-1000).
    pub blkio_weight: Option<u16>,
}

/// Parses a byte-size flag in which `-1` means unlimited (see [`values::parse_size`]).
pub fn size_or_unlimited(flag: &str, value: &str) -> Result<i64, SpecError> {
    if value == "-1" {
        return Ok(-1);
    }
    values::parse_size(flag, value)
}

/// Sets every value given in `f` in `res`, keeping the others (a `--resources` file's, or the
/// default spec's device rules).
pub fn merge(res: &mut LinuxResources, f: &ResourceFlags) {
    if f.memory.is_some() || f.memory_reservation.is_some() || f.memory_swap.is_some() {
        let mut m = res.memory().unwrap_or_default();
        if f.memory.is_some() {
            m.set_limit(f.memory);
        }
        if f.memory_reservation.is_some() {
            m.set_reservation(f.memory_reservation);
        }
        if f.memory_swap.is_some() {
            m.set_swap(f.memory_swap);
        }
        res.set_memory(Some(m));
    }
    if let Some(v) = f.pids_limit {
        let mut p = res.pids().unwrap_or_default();
        p.set_limit(v);
        res.set_pids(Some(p));
    }
    let cpu = f.cpu_quota.is_some()
        || f.cpu_period.is_some()
        || f.cpu_shares.is_some()
        || f.cpu_rt_period.is_some()
        || f.cpu_rt_runtime.is_some()
        || f.cpuset_cpus.is_some()
        || f.cpuset_mems.is_some();
    if cpu {
        let mut c = res.cpu().clone().unwrap_or_default();
        if f.cpu_quota.is_some() {
            c.set_quota(f.cpu_quota);
        }
        if f.cpu_period.is_some() {
            c.set_period(f.cpu_period);
        }
        if f.cpu_shares.is_some() {
            c.set_shares(f.cpu_shares);
        }
        if f.cpu_rt_period.is_some() {
            c.set_realtime_period(f.cpu_rt_period);
        }
        if f.cpu_rt_runtime.is_some() {
            c.set_realtime_runtime(f.cpu_rt_runtime);
        }
        if f.cpuset_cpus.is_some() {
            c.set_cpus(f.cpuset_cpus.clone());
        }
        if f.cpuset_mems.is_some() {
            c.set_mems(f.cpuset_mems.clone());
        }
        res.set_cpu(Some(c));
    }
    if let Some(w) = f.blkio_weight {
        let mut b = res.block_io().clone().unwrap_or_default();
        b.set_weight(Some(w));
        res.set_block_io(Some(b));
    }
}

/// The rules on a resources object (0 = not set): OCI's `memory.swap` is memory plus swap, so
/// with both set it must be at least `memory.limit`, or -1 (unlimited); `memory.swappiness`
/// is at most 100; `pids.limit` is -1 (unlimited) or more. The error names the flag and the
/// spec field.
pub fn validate(res: &LinuxResources) -> Result<(), SpecError> {
    let set = |v: Option<i64>| v.filter(|v| *v != 0);
    if let Some(m) = res.memory() {
        if let Some(sw) = m.swappiness().filter(|sw| *sw > 100) {
            return Err(SpecError::Invalid(format!(
                "memory.swappiness: {sw} is above 100 — give a value from 0 to 100"
            )));
        }
        if let (Some(l), Some(s)) = (set(m.limit()), set(m.swap())) {
            if l > 0 && s != -1 && s < l {
                return Err(SpecError::flag(
                    "--memory-swap",
                    format!("the memory+swap limit {s} (memory.swap) is lower than the memory limit {l} (memory.limit)"),
                    "give a value at least as large as -m/--memory (it is memory plus swap), or -1",
                ));
            }
        }
    }
    if let Some(p) = res.pids() {
        if p.limit() < -1 {
            return Err(SpecError::flag(
                "--pids-limit",
                format!("invalid limit {} (pids.limit)", p.limit()),
                "use a positive number, or -1 for unlimited",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(f: ResourceFlags) -> LinuxResources {
        let mut r = LinuxResources::default();
        merge(&mut r, &f);
        r
    }

    #[test]
    fn swap_rule() {
        let mem = |l, s| {
            with(ResourceFlags {
                memory: l,
                memory_swap: s,
                ..Default::default()
            })
        };
        let e = validate(&mem(Some(100), Some(50))).unwrap_err().to_string();
        assert!(e.starts_with("--memory-swap:"), "{e}");
        assert!(validate(&mem(Some(100), Some(100))).is_ok());
        assert!(validate(&mem(Some(100), Some(-1))).is_ok());
        assert!(validate(&mem(None, Some(50))).is_ok());
        assert!(validate(&mem(Some(-1), Some(50))).is_ok());
        assert!(validate(&mem(Some(0), Some(50))).is_ok());
    }

    #[test]
    fn merge_keeps_what_is_not_given() {
        let mut r = with(ResourceFlags {
            memory: Some(64 << 20),
            cpu_shares: Some(512),
            ..Default::default()
        });
        merge(
            &mut r,
            &ResourceFlags {
                cpu_quota: Some(50_000),
                pids_limit: Some(7),
                ..Default::default()
            },
        );
        let c = r.cpu().as_ref().unwrap();
        assert_eq!((c.shares(), c.quota()), (Some(512), Some(50_000)));
        assert_eq!(r.memory().unwrap().limit(), Some(64 << 20));
        assert_eq!(r.pids().unwrap().limit(), 7);
        assert!(validate(&with(ResourceFlags {
            pids_limit: Some(-2),
            ..Default::default()
        }))
        .is_err());
    }
}
