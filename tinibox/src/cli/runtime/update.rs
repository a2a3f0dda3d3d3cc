//! `update`: new resource limits for a running container, from `--resources` or flags. Owns that command's flags and output; the work is [`crate::container`]'s.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use clap::Args;
use oci_spec::runtime::LinuxResources;

use super::{finish, resolve_id};
use crate::cli::{log, GlobalOptions};
use crate::container::{self};

/// Arguments of `update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// A LinuxResources JSON file (`-` for stdin); the flags below are applied on top.
    #[arg(short = 'r', long)]
    resources: Option<PathBuf>,
    /// Memory limit (bytes, or with a unit: 32m, 1g).
    #[arg(short = 'm', long)]
    memory: Option<String>,
    /// Memory soft limit.
    #[arg(long = "memory-reservation")]
    memory_reservation: Option<String>,
    /// Memory plus swap limit (-1: unlimited).
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    memory_swap: Option<String>,
    /// Kernel memory limit (accepted, ignored like runc 1.1 on cgroup v2).
    #[arg(long = "kernel-memory", hide = true)]
    kernel_memory: Option<String>,
    /// Maximum number of tasks (-1: unlimited).
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pids_limit: Option<i64>,
    /// CFS quota in microseconds per period (-1: unlimited).
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    cpu_quota: Option<i64>,
    /// CFS period in microseconds.
    #[arg(long = "cpu-period")]
    cpu_period: Option<u64>,
    /// CPU shares (relative weight).
    #[arg(long = "cpu-shares")]
    cpu_shares: Option<u64>,
    /// Realtime period in microseconds.
    #[arg(long = "cpu-rt-period")]
    cpu_rt_period: Option<u64>,
    /// Realtime runtime in microseconds.
    #[arg(long = "cpu-rt-runtime")]
    cpu_rt_runtime: Option<i64>,
    /// CPUs allowed (e.g. 0-1).
    #[arg(long = "cpuset-cpus")]
    cpuset_cpus: Option<String>,
    /// Memory nodes allowed.
    #[arg(long = "cpuset-mems")]
    cpuset_mems: Option<String>,
    /// Block IO weight (10-1000).
    #[arg(long = "blkio-weight")]
    blkio_weight: Option<u16>,
    /// Container id.
    id: String,
}

fn size(flag: &str, v: &str) -> Result<i64> {
    if v == "-1" {
        return Ok(-1);
    }
    Ok(crate::spec::values::parse_size(flag, v)?)
}

/// The resources asked for by `update`'s file and flags.
fn update_resources(a: &UpdateArgs) -> Result<LinuxResources> {
    let mut res: LinuxResources = match &a.resources {
        None => LinuxResources::default(),
        Some(p) => {
            let data = if p == Path::new("-") {
                let mut s = String::new();
                std::io::stdin().read_to_string(&mut s)?;
                s
            } else {
                std::fs::read_to_string(p).with_context(|| format!("read {}", p.display()))?
            };
            serde_json::from_str(&data)
                .map_err(|e| anyhow!("--resources {}: invalid resources JSON: {e}", p.display()))?
        }
    };
    let mut mem = res.memory().unwrap_or_default();
    let mut mem_set = res.memory().is_some();
    if let Some(v) = &a.memory {
        mem.set_limit(Some(size("--memory", v)?));
        mem_set = true;
    }
    if let Some(v) = &a.memory_reservation {
        mem.set_reservation(Some(size("--memory-reservation", v)?));
        mem_set = true;
    }
    if let Some(v) = &a.memory_swap {
        mem.set_swap(Some(size("--memory-swap", v)?));
        mem_set = true;
    }
    if mem_set {
        res.set_memory(Some(mem));
    }
    if let Some(v) = a.pids_limit {
        let mut p = res.pids().unwrap_or_default();
        p.set_limit(v);
        res.set_pids(Some(p));
    }
    let cpu_flags = a.cpu_quota.is_some()
        || a.cpu_period.is_some()
        || a.cpu_shares.is_some()
        || a.cpu_rt_period.is_some()
        || a.cpu_rt_runtime.is_some()
        || a.cpuset_cpus.is_some()
        || a.cpuset_mems.is_some();
    if cpu_flags {
        let mut c = res.cpu().clone().unwrap_or_default();
        if a.cpu_quota.is_some() {
            c.set_quota(a.cpu_quota);
        }
        if a.cpu_period.is_some() {
            c.set_period(a.cpu_period);
        }
        if a.cpu_shares.is_some() {
            c.set_shares(a.cpu_shares);
        }
        if a.cpu_rt_period.is_some() {
            c.set_realtime_period(a.cpu_rt_period);
        }
        if a.cpu_rt_runtime.is_some() {
            c.set_realtime_runtime(a.cpu_rt_runtime);
        }
        if a.cpuset_cpus.is_some() {
            c.set_cpus(a.cpuset_cpus.clone());
        }
        if a.cpuset_mems.is_some() {
            c.set_mems(a.cpuset_mems.clone());
        }
        res.set_cpu(Some(c));
    }
    if let Some(w) = a.blkio_weight {
        let mut b = res.block_io().clone().unwrap_or_default();
        b.set_weight(Some(w));
        res.set_block_io(Some(b));
    }
    Ok(res)
}

/// Runs `update`; returns the exit status.
pub fn update(global: &GlobalOptions, args: UpdateArgs) -> u8 {
    log::init(global);
    let r = (|| {
        if args.kernel_memory.is_some() {
            log::warn("update: --kernel-memory is ignored");
        }
        let res = update_resources(&args)?;
        container::update(&global.root, &resolve_id(global, &args.id), &res)?;
        Ok(0)
    })();
    finish(global, "update", r)
}
