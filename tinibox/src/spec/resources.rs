//! Resource flags → `linux.resources`, and the rules on resource values, once for every
//! front door: `run`'s `-m`/`--memory-swap`/`--cpus`/`--cpu-shares`/`--pids-limit` and
//! runc-style `update`'s flags both become a `LinuxResources` with only the given values set
//! and go through [`merge`];
//! [`validate`] is the one check of a [`LinuxResources`], called by the spec builder, by
//! `update` and by the engine's `create` (for a bundle's config.json).
//!
//! Pure: no cgroup is touched here (that is [`crate::cgroups`]). Values of 0 mean "not set",
//! as runc and the cgroup writers read them (dockerd sends zeros for limits it keeps).

use oci_spec::runtime::LinuxResources;

use super::{values, SpecError};

/// Parses a byte-size flag in which `-1` means unlimited (see [`values::parse_size`]).
pub fn size_or_unlimited(flag: &str, value: &str) -> Result<i64, SpecError> {
    if value == "-1" {
        return Ok(-1);
    }
    values::parse_size(flag, value)
}

/// Sets in `res` every value that `given` sets (memory limit, reservation and swap; CPU
/// shares, quota, period, realtime period and runtime, cpus, mems; the pids limit; the blkio
/// weight), keeping the others (a `--resources` file's, or the default spec's device rules).
pub fn merge(res: &mut LinuxResources, given: &LinuxResources) {
    if let Some(m) = given.memory() {
        let mut to = res.memory().unwrap_or_default();
        to.set_limit(m.limit().or(to.limit()));
        to.set_reservation(m.reservation().or(to.reservation()));
        to.set_swap(m.swap().or(to.swap()));
        res.set_memory(Some(to));
    }
    if let Some(c) = given.cpu() {
        let mut to = res.cpu().clone().unwrap_or_default();
        to.set_shares(c.shares().or(to.shares()));
        to.set_quota(c.quota().or(to.quota()));
        to.set_period(c.period().or(to.period()));
        to.set_realtime_period(c.realtime_period().or(to.realtime_period()));
        to.set_realtime_runtime(c.realtime_runtime().or(to.realtime_runtime()));
        to.set_cpus(c.cpus().clone().or(to.cpus().clone()));
        to.set_mems(c.mems().clone().or(to.mems().clone()));
        res.set_cpu(Some(to));
    }
    if let Some(p) = given.pids() {
        res.set_pids(Some(*p));
    }
    if let Some(w) = given.block_io().as_ref().and_then(|b| b.weight()) {
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
    use oci_spec::runtime::{LinuxCpu, LinuxMemory, LinuxPidsBuilder};

    fn memory(limit: Option<i64>, swap: Option<i64>) -> LinuxResources {
        let mut m = LinuxMemory::default();
        m.set_limit(limit).set_swap(swap);
        let mut r = LinuxResources::default();
        r.set_memory(Some(m));
        r
    }

    #[test]
    fn swap_rule() {
        let e = validate(&memory(Some(100), Some(50)))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--memory-swap:"), "{e}");
        assert!(validate(&memory(Some(100), Some(100))).is_ok());
        assert!(validate(&memory(Some(100), Some(-1))).is_ok());
        assert!(validate(&memory(None, Some(50))).is_ok());
        assert!(validate(&memory(Some(-1), Some(50))).is_ok());
        assert!(validate(&memory(Some(0), Some(50))).is_ok());
    }

    #[test]
    fn merge_keeps_what_is_not_given() {
        let mut r = memory(Some(64 << 20), None);
        let mut cpu = LinuxCpu::default();
        cpu.set_shares(Some(512));
        r.set_cpu(Some(cpu));
        let mut given = memory(None, Some(-1));
        let mut quota = LinuxCpu::default();
        quota.set_quota(Some(50_000));
        given.set_cpu(Some(quota));
        given.set_pids(Some(LinuxPidsBuilder::default().limit(7).build().unwrap()));
        merge(&mut r, &given);
        let c = r.cpu().as_ref().unwrap();
        assert_eq!((c.shares(), c.quota()), (Some(512), Some(50_000)));
        let m = r.memory().unwrap();
        assert_eq!((m.limit(), m.swap()), (Some(64 << 20), Some(-1)));
        assert_eq!(r.pids().unwrap().limit(), 7);
        given.set_pids(Some(LinuxPidsBuilder::default().limit(-2).build().unwrap()));
        assert!(validate(&given).is_err());
    }
}
