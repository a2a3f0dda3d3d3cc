//! `update`: new resource limits for a running container, from `--resources` or flags. Owns that command's flags and output; the work is [`crate::container`]'s.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use oci_spec::runtime::{
    LinuxBlockIoBuilder, LinuxCpu, LinuxMemory, LinuxPidsBuilder, LinuxResources,
};

use super::{finish, resolve_id};
use crate::cli::{log, GlobalOptions};
use crate::container::{self};
use crate::spec::{resources, values};

/// Arguments of `update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// A LinuxResources JSON file (`-` for stdin); the flags below are applied on top.
    #[arg(short = 'r', long)]
    resources: Option<PathBuf>,
    /// Memory limit (bytes, or with a unit: 32m, 1g; at least 6m, Docker's minimum; -1: none).
    #[arg(short = 'm', long, allow_hyphen_values = true)]
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

/// The resources asked for by `update`'s file and flags (merged and checked by
/// [`crate::spec::resources`]).
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
            // serde reads a struct from a JSON array too; runc (Go) refuses anything else.
            if !data.trim_start().starts_with('{') {
                bail!(
                    "--resources {}: not a JSON object: give LinuxResources as in config.json's \
                     linux.resources (runtime-spec config-linux.md)",
                    p.display()
                );
            }
            // from_slice like config.json's parse: one copy of the resources' serde code.
            serde_json::from_slice(data.as_bytes())
                .map_err(|e| anyhow!("--resources {}: invalid resources JSON: {e}", p.display()))?
        }
    };
    let size = |flag: &str, v: &Option<String>| {
        v.as_deref()
            .map(|v| resources::size_or_unlimited(flag, v))
            .transpose()
    };
    // As `run -m`: -1 for no limit, else at least Docker's 6 MiB (a smaller one rounds down
    // to no page at all in cgroup v1 and kills the container at its next allocation).
    let limit = a
        .memory
        .as_deref()
        .map(|v| match v {
            "-1" => Ok(-1),
            v => values::parse_memory(v),
        })
        .transpose()?;
    let mut memory = LinuxMemory::default();
    memory
        .set_limit(limit)
        .set_reservation(size("--memory-reservation", &a.memory_reservation)?)
        .set_swap(size("--memory-swap", &a.memory_swap)?);
    let mut cpu = LinuxCpu::default();
    cpu.set_quota(a.cpu_quota)
        .set_period(a.cpu_period)
        .set_shares(a.cpu_shares)
        .set_realtime_period(a.cpu_rt_period)
        .set_realtime_runtime(a.cpu_rt_runtime)
        .set_cpus(a.cpuset_cpus.clone())
        .set_mems(a.cpuset_mems.clone());
    let mut given = LinuxResources::default();
    given
        .set_memory((memory != LinuxMemory::default()).then_some(memory))
        .set_cpu((cpu != LinuxCpu::default()).then_some(cpu))
        .set_pids(
            a.pids_limit
                .map(|l| LinuxPidsBuilder::default().limit(l).build())
                .transpose()?,
        )
        .set_block_io(
            a.blkio_weight
                .map(|w| LinuxBlockIoBuilder::default().weight(w).build())
                .transpose()?,
        );
    resources::merge(&mut res, &given);
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
