//! cgroup v2 (unified): one directory; controllers enabled in the ancestors'
//! `cgroup.subtree_control`; devices through the eBPF filter of [`super::bpf`].
//! Owns the v2 file names and value conversions (shares → weight, blkio weight → io.weight).

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use oci_spec::runtime::LinuxResources;

use super::{
    blkio_used, bpf, cpu_used, cpuset_used, devices, make_dir, memory_used, memory_values,
    pids_value, read_u64, write_file, CgroupError, CgroupHandle, Layout, Stats, CGROUP_ROOT,
};

/// cpu.shares (2..262144) → cpu.weight (1..10000), the conversion runc and crun use.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 100;
    }
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

/// blkio.weight (10..1000) → io.weight (1..10000).
pub fn blkio_to_io_weight(w: u16) -> u64 {
    let w = (w as u64).clamp(10, 1000);
    1 + (w - 10) * 9999 / 990
}

/// The controllers `res` needs enabled in the ancestors.
fn wanted(res: &LinuxResources) -> Vec<&'static str> {
    let mut w = Vec::new();
    if res.memory().is_some() {
        w.push("memory");
    }
    if res.pids().is_some() {
        w.push("pids");
    }
    if let Some(cpu) = res.cpu() {
        if cpu.shares().is_some() || cpu.quota().is_some() || cpu.period().is_some() {
            w.push("cpu");
        }
        if cpu.cpus().is_some() || cpu.mems().is_some() {
            w.push("cpuset");
        }
    }
    if res.block_io().is_some() {
        w.push("io");
    }
    w
}

pub(super) fn create(rel: &Path, res: &LinuxResources) -> Result<CgroupHandle, CgroupError> {
    create_at(Path::new(CGROUP_ROOT), rel, res)
}

/// Creates the group under the cgroup2 mount `root` (tests use the hybrid host's
/// /sys/fs/cgroup/unified).
pub(super) fn create_at(
    root: &Path,
    rel: &Path,
    res: &LinuxResources,
) -> Result<CgroupHandle, CgroupError> {
    let root = root.to_path_buf();
    enable_controllers(&root, rel, &wanted(res), true)?;
    let dir = make_dir(&root, rel)?;
    let mut dirs = BTreeMap::new();
    dirs.insert("unified".to_string(), dir);
    Ok(CgroupHandle {
        layout: Layout::V2,
        rel_path: rel.to_path_buf(),
        dirs,
    })
}

/// Enables `want` in `cgroup.subtree_control` from `root` down to the parent of `rel`
/// (creating missing parents when `create` is set).
fn enable_controllers(
    root: &Path,
    rel: &Path,
    want: &[&str],
    create: bool,
) -> Result<(), CgroupError> {
    let mut cur = root.to_path_buf();
    let parents: Vec<_> = rel
        .parent()
        .map(|p| p.components().collect())
        .unwrap_or_default();
    let mut levels = vec![cur.clone()];
    for c in parents {
        cur.push(c);
        levels.push(cur.clone());
    }
    for (i, dir) in levels.iter().enumerate() {
        if create && i > 0 && !dir.exists() {
            fs::create_dir(dir).map_err(|e| super::io_err(dir, e))?;
        }
        if want.is_empty() {
            continue;
        }
        let available = fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
        let enabled = fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
        let mut add = Vec::new();
        for c in want {
            if !available.split_whitespace().any(|a| a == *c) {
                return Err(CgroupError::Missing((*c).into()));
            }
            if !enabled.split_whitespace().any(|a| a == *c) {
                add.push(format!("+{c}"));
            }
        }
        if !add.is_empty() {
            write_file(dir, "cgroup.subtree_control", &add.join(" "))?;
        }
    }
    Ok(())
}

/// `update` on v2: the container's one group stays; a controller the new limits need and
/// the container's creation did not enable is enabled in its ancestors (its processes are
/// then accounted by it at once).
pub(super) fn enable_for_update(h: &CgroupHandle, res: &LinuxResources) -> Result<(), CgroupError> {
    let dir = h
        .dirs
        .get("unified")
        .ok_or_else(|| CgroupError::Missing("unified".into()))?;
    let mut root = dir.clone();
    for _ in h.rel_path.components() {
        root.pop();
    }
    // Values that mean "not set" (dockerd sends zeros for what it does not change) need nothing.
    let mut want = wanted(res);
    want.retain(|c| match *c {
        "memory" => memory_used(res),
        "pids" => pids_value(res).is_some(),
        "cpu" => cpu_used(res),
        "cpuset" => cpuset_used(res),
        "io" => blkio_used(res),
        _ => true,
    });
    enable_controllers(&root, &h.rel_path, &want, false)
}

pub(super) fn apply(
    h: &CgroupHandle,
    res: &LinuxResources,
    initial: bool,
) -> Result<(), CgroupError> {
    let dir = h
        .dirs
        .get("unified")
        .ok_or_else(|| CgroupError::Missing("unified".into()))?;
    let num_or_max = |v: i64| {
        if v < 0 {
            "max".to_string()
        } else {
            v.to_string()
        }
    };
    if memory_used(res) {
        let (limit, reservation, swap) = memory_values(res);
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
                (Some(l), s) if l > 0 && s >= l => (s - l).to_string(),
                (Some(l), s) if l > 0 => {
                    return Err(CgroupError::Invalid(format!(
                        "memory+swap limit {s} is lower than the memory limit {l}"
                    )))
                }
                (_, s) => s.to_string(),
            };
            if dir.join("memory.swap.max").exists() {
                write_file(dir, "memory.swap.max", &v)?;
            }
        }
    }
    if let Some(p) = pids_value(res) {
        let v = if p > 0 { p.to_string() } else { "max".into() };
        write_file(dir, "pids.max", &v)?;
    }
    if let Some(cpu) = res.cpu() {
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
        if let Some(c) = cpu.cpus() {
            write_file(dir, "cpuset.cpus", c)?;
        }
        if let Some(m) = cpu.mems() {
            write_file(dir, "cpuset.mems", m)?;
        }
    }
    if let Some(w) = res
        .block_io()
        .as_ref()
        .and_then(|b| b.weight())
        .filter(|w| *w != 0)
    {
        write_file(
            dir,
            "io.weight",
            &format!("default {}", blkio_to_io_weight(w)),
        )?;
    }
    if let Some(unified) = res.unified() {
        for (k, v) in unified {
            if k.contains('/') || k.starts_with('.') {
                return Err(CgroupError::Invalid(format!(
                    "linux.resources.unified key {k:?}"
                )));
            }
            write_file(dir, k, v)?;
        }
    }
    if initial {
        let rules = devices::rules(res.devices().as_ref()).map_err(CgroupError::Invalid)?;
        let prog = bpf::program(&rules);
        bpf::attach(&prog, dir).map_err(|e| super::io_err(dir, e))?;
    }
    Ok(())
}

pub(super) fn set_frozen(h: &CgroupHandle, frozen: bool) -> Result<(), CgroupError> {
    let dir = h
        .dirs
        .get("unified")
        .ok_or_else(|| CgroupError::Missing("unified".into()))?;
    write_file(dir, "cgroup.freeze", if frozen { "1" } else { "0" })?;
    let want = if frozen { "frozen 1" } else { "frozen 0" };
    for _ in 0..1000 {
        let ev = fs::read_to_string(dir.join("cgroup.events")).unwrap_or_default();
        if ev.lines().any(|l| l.trim() == want) {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    Err(CgroupError::Invalid(format!(
        "{} did not reach {want}",
        dir.display()
    )))
}

pub(super) fn stats(h: &CgroupHandle) -> Stats {
    let mut s = Stats::default();
    let Some(d) = h.dirs.get("unified") else {
        return s;
    };
    s.memory_usage = read_u64(d, "memory.current");
    s.memory_limit = read_u64(d, "memory.max");
    s.oom_kills = fs::read_to_string(d.join("memory.events"))
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("oom_kill ")
                    .and_then(|v| v.trim().parse().ok())
            })
        });
    s.pids_current = read_u64(d, "pids.current");
    s.cpu_usage_ns = fs::read_to_string(d.join("cpu.stat")).ok().and_then(|t| {
        t.lines()
            .find_map(|l| {
                l.strip_prefix("usage_usec ")
                    .and_then(|v| v.trim().parse::<u64>().ok())
            })
            .map(|us| us * 1000)
    });
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// The device filter really runs in the kernel: on the hybrid host's empty cgroup2
    /// hierarchy, a child in the group can open /dev/null but not a block device node.
    #[test]
    fn device_filter_is_enforced_by_the_kernel() {
        let unified = Path::new("/sys/fs/cgroup/unified");
        let root = if super::super::detect() == Layout::V2 {
            Path::new(CGROUP_ROOT)
        } else {
            unified
        };
        assert_eq!(nix::unistd::geteuid().as_raw(), 0, "this test needs root");
        assert!(
            root.join("cgroup.procs").exists(),
            "no cgroup2 mount at {}",
            root.display()
        );
        let rel = PathBuf::from(format!("tinibox-test/bpf-{}", std::process::id()));
        let h = create_at(root, &rel, &LinuxResources::default()).unwrap();
        h.apply(&LinuxResources::default(), true).unwrap();
        // A block device node of our own, outside any container: /dev/loop-control is a char
        // device, so make a block node for the host's first loop device in a temp dir.
        let dir = tempfile::tempdir().unwrap();
        let blk = dir.path().join("blk");
        nix::sys::stat::mknod(
            &blk,
            nix::sys::stat::SFlag::S_IFBLK,
            nix::sys::stat::Mode::from_bits_truncate(0o600),
            nix::sys::stat::makedev(7, 0),
        )
        .unwrap();
        // SAFETY: the child only does syscalls and _exit.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                let ok = std::fs::write(h.dirs["unified"].join("cgroup.procs"), "0").is_ok();
                let null = std::fs::File::open("/dev/null").is_ok();
                let blk_err = std::fs::File::open(&blk)
                    .err()
                    .and_then(|e| e.raw_os_error());
                let code = if !ok {
                    10
                } else if !null {
                    11
                } else if blk_err != Some(libc::EPERM) {
                    12
                } else {
                    0
                };
                unsafe { libc::_exit(code) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                let st = nix::sys::wait::waitpid(child, None).unwrap();
                h.destroy().unwrap();
                let _ = std::fs::remove_dir(root.join("tinibox-test"));
                assert_eq!(
                    st,
                    nix::sys::wait::WaitStatus::Exited(child, 0),
                    "10: join failed, 11: /dev/null denied, 12: block device not denied"
                );
            }
        }
        assert!(!root.join(&rel).exists());
    }

    #[test]
    fn conversions() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(1000), 10_000);
        assert_eq!(blkio_to_io_weight(500), 4950);
    }
}
