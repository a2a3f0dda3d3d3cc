//! cgroup v1 (and hybrid): one directory per used controller, found through
//! /proc/self/mountinfo. Owns the hierarchy list, the self-join, making and extending a
//! container's groups (cpuset parents included) and the v1 figures; the resource values are
//! the writers' of [`super::resources`].

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use super::{
    make_dir, make_parent_dirs, read_u64, remove_made_parents, resources, write_file, CgroupError,
    CgroupHandle, Layout, Stats,
};

/// One mounted cgroup v1 hierarchy, from /proc/self/mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// Where it is mounted (e.g. `/sys/fs/cgroup/cpu,cpuacct`).
    pub mount_point: PathBuf,
    /// The mount options that name it: its controllers and `name=…` (without rw/ro,
    /// release_agent, clone_children, noprefix, xattr), to mount it again elsewhere.
    pub options: Vec<String>,
}

/// Every cgroup v1 hierarchy mounted in the caller's mount namespace, in mountinfo order.
pub fn hierarchies() -> Result<Vec<Hierarchy>, CgroupError> {
    let info = fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| super::io_err(Path::new("/proc/self/mountinfo"), e))?;
    Ok(parse_hierarchies(&info))
}

/// [`hierarchies`] from the text of a mountinfo file (proc(5)).
fn parse_hierarchies(mountinfo: &str) -> Vec<Hierarchy> {
    let mut out = Vec::new();
    for line in mountinfo.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let mut post = post.split_whitespace();
        if post.next() != Some("cgroup") {
            continue;
        }
        let superopts = post.nth(1).unwrap_or("");
        let Some(mnt) = pre.split_whitespace().nth(4) else {
            continue;
        };
        let options = superopts
            .split(',')
            .filter(|o| {
                !matches!(
                    *o,
                    "rw" | "ro" | "clone_children" | "noprefix" | "xattr" | ""
                ) && !o.starts_with("release_agent")
            })
            .map(String::from)
            .collect();
        out.push(Hierarchy {
            mount_point: PathBuf::from(mnt),
            options,
        });
    }
    out
}

/// controller name → mount point of its v1 hierarchy (the controllers tinibox manages).
/// Read from mountinfo once per process: `create` needs it three times (the host check, the
/// planned record, the groups), and the hierarchies do not move while one command runs.
pub(super) fn mount_points() -> Result<BTreeMap<String, PathBuf>, CgroupError> {
    static CACHE: std::sync::OnceLock<BTreeMap<String, PathBuf>> = std::sync::OnceLock::new();
    if let Some(m) = CACHE.get() {
        return Ok(m.clone());
    }
    let m = read_mount_points()?;
    Ok(CACHE.get_or_init(|| m).clone())
}

fn read_mount_points() -> Result<BTreeMap<String, PathBuf>, CgroupError> {
    let mut out = BTreeMap::new();
    for h in hierarchies()? {
        for opt in &h.options {
            if matches!(
                opt.as_str(),
                "memory"
                    | "pids"
                    | "cpu"
                    | "cpuacct"
                    | "cpuset"
                    | "blkio"
                    | "devices"
                    | "freezer"
                    | "net_cls"
                    | "net_prio"
                    | "hugetlb"
            ) {
                out.entry(opt.clone())
                    .or_insert_with(|| h.mount_point.clone());
            }
        }
    }
    Ok(out)
}

/// Moves the calling process (single-threaded) into the container's v1 directories `dirs` by
/// writing "0" into their `tasks` files. A thread that moves itself skips the cgroup core's
/// global threadgroup lock (Linux 5.19+), whose write side — taken when a pid is written into
/// `cgroup.procs` — waits for an RCU grace period (10-16 ms measured on the build host). The
/// container's init does this when it may write the host's cgroup files (no user namespace).
pub fn join_self(dirs: &BTreeMap<String, PathBuf>) -> Result<(), CgroupError> {
    for dir in dirs.values() {
        write_file(dir, "tasks", "0")?;
    }
    Ok(())
}

/// The pids listed in `dir/cgroup.procs`.
fn procs(dir: &Path) -> Vec<i32> {
    fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Moves every process listed in `from` into each of `to`, again until a pass finds nothing
/// left to move (a process may fork while the others are moved; its child then shows up in
/// `from` on the next pass). A process that exits meanwhile is skipped.
fn move_procs(from: &Path, to: &[PathBuf]) -> Result<(), CgroupError> {
    for _ in 0..100 {
        let pids = procs(from);
        let mut moved = false;
        for dir in to {
            let inside = procs(dir);
            let file = dir.join("cgroup.procs");
            for pid in pids.iter().filter(|p| !inside.contains(p)) {
                match fs::write(&file, pid.to_string()) {
                    Ok(()) => moved = true,
                    Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
                    Err(e) => {
                        return Err(CgroupError::Invalid(format!(
                            "moving process {pid} into {}: {e}",
                            dir.display()
                        )))
                    }
                }
            }
        }
        if !moved {
            return Ok(());
        }
    }
    Ok(())
}

/// `update` on v1: makes the container's group in each controller the new limits need and the
/// container has no group in yet, writes the limits, then moves the container's processes
/// (listed by its devices group) into the new groups, with the container frozen meanwhile so
/// that none forks past the move. Parents made for the new groups join
/// [`CgroupHandle::made_parents`]. When the limits cannot be written, the new groups and
/// their new parents are removed again (they are still empty) and the handle is left as it
/// was.
fn update(h: &mut CgroupHandle, res: &LinuxResources) -> Result<(), CgroupError> {
    let missing: Vec<&str> = resources::controllers(Layout::V1, res, true)
        .into_iter()
        .filter(|c| !h.dirs.contains_key(*c))
        .collect();
    if missing.is_empty() {
        return resources::apply(h, res, false);
    }
    let source = h
        .dirs
        .get("devices")
        .or_else(|| h.dirs.get("freezer"))
        .or_else(|| h.dirs.values().next())
        .cloned()
        .ok_or_else(|| CgroupError::Missing("devices".into()))?;
    let mounts = mount_points()?;
    let mut added: Vec<(String, PathBuf)> = Vec::new();
    let mut new_parents: Vec<PathBuf> = Vec::new();
    let undo = |h: &mut CgroupHandle, added: &[(String, PathBuf)], new_parents: &[PathBuf]| {
        for (ctrl, dir) in added {
            h.dirs.remove(ctrl);
            let _ = fs::remove_dir(dir);
        }
        let _ = remove_made_parents(new_parents);
    };
    for ctrl in missing {
        let made = (|| {
            let root = mounts
                .get(ctrl)
                .ok_or_else(|| CgroupError::Missing(ctrl.into()))?;
            if ctrl == "cpuset" {
                init_cpuset_parents(root, &h.rel_path, &mut new_parents)?;
            } else {
                make_parent_dirs(root, &h.rel_path, &mut new_parents)?;
            }
            let dir = make_dir(root, &h.rel_path)?;
            if ctrl == "cpuset" {
                if let Err(e) = copy_cpuset(&dir) {
                    let _ = fs::remove_dir(&dir);
                    return Err(e);
                }
            }
            Ok(dir)
        })();
        match made {
            Ok(dir) => {
                h.dirs.insert(ctrl.to_string(), dir.clone());
                added.push((ctrl.to_string(), dir));
            }
            Err(e) => {
                undo(h, &added, &new_parents);
                return Err(e);
            }
        }
    }
    if let Err(e) = resources::apply(h, res, false) {
        undo(h, &added, &new_parents);
        return Err(e);
    }
    h.made_parents.extend(new_parents);
    let thaw = h.dirs.contains_key("freezer") && !h.is_frozen() && h.freeze().is_ok();
    let moved = move_procs(
        &source,
        &added.iter().map(|(_, d)| d.clone()).collect::<Vec<_>>(),
    );
    if thaw {
        h.thaw()?;
    }
    moved
}

fn create(rel: &Path, res: &LinuxResources) -> Result<CgroupHandle, CgroupError> {
    let mounts = mount_points()?;
    let mut handle = CgroupHandle {
        layout: Layout::V1,
        rel_path: rel.to_path_buf(),
        dirs: BTreeMap::new(),
        made_parents: Vec::new(),
    };
    for ctrl in resources::controllers(Layout::V1, res, false) {
        let Some(root) = mounts.get(ctrl) else {
            if ctrl == "freezer" {
                continue; // pause will say it is unavailable
            }
            let _ = handle.destroy();
            return Err(CgroupError::Missing(ctrl.into()));
        };
        let parents = if ctrl == "cpuset" {
            init_cpuset_parents(root, rel, &mut handle.made_parents)
        } else {
            make_parent_dirs(root, rel, &mut handle.made_parents)
        };
        if let Err(e) = parents {
            let _ = handle.destroy();
            return Err(e);
        }
        match make_dir(root, rel) {
            Ok(dir) => {
                handle.dirs.insert(ctrl.to_string(), dir.clone());
                if ctrl == "cpuset" {
                    if let Err(e) = copy_cpuset(&dir) {
                        let _ = handle.destroy();
                        return Err(e);
                    }
                }
            }
            Err(e) => {
                let _ = handle.destroy();
                return Err(e);
            }
        }
    }
    Ok(handle)
}

/// cpuset groups start with empty cpus/mems: create the ancestors of `rel` copying them down
/// from their parents (the leaf is copied by [`copy_cpuset`] after it is made); those made
/// here are appended to `made`.
fn init_cpuset_parents(
    root: &Path,
    rel: &Path,
    made: &mut Vec<PathBuf>,
) -> Result<(), CgroupError> {
    for dir in super::parents_below(root, rel) {
        super::make_parent_dir(root, &dir, made)?;
        copy_cpuset(&dir)?;
    }
    Ok(())
}

/// Copies cpuset.cpus/mems from the parent directory when they are empty in `dir`.
fn copy_cpuset(dir: &Path) -> Result<(), CgroupError> {
    let Some(parent) = dir.parent() else {
        return Ok(());
    };
    for f in ["cpuset.cpus", "cpuset.mems"] {
        if fs::read_to_string(dir.join(f))
            .map(|s| s.trim().is_empty())
            .unwrap_or(false)
        {
            let v = fs::read_to_string(parent.join(f)).unwrap_or_default();
            write_file(dir, f, v.trim())?;
        }
    }
    Ok(())
}

/// cgroup v1 (and hybrid): a directory per controller.
pub struct V1;

impl super::Version for V1 {
    fn create(&self, rel: &Path, res: &LinuxResources) -> Result<CgroupHandle, CgroupError> {
        create(rel, res)
    }

    fn update(&self, h: &mut CgroupHandle, res: &LinuxResources) -> Result<(), CgroupError> {
        update(h, res)
    }

    /// The freezer group (every container has one), else any.
    fn procs_dir<'a>(&self, h: &'a CgroupHandle) -> Option<&'a PathBuf> {
        h.dirs.get("freezer").or_else(|| h.dirs.values().next())
    }

    fn stats(&self, h: &CgroupHandle) -> Stats {
        stats(h)
    }
}

fn stats(h: &CgroupHandle) -> Stats {
    let mut s = Stats::default();
    if let Some(d) = h.dirs.get("memory") {
        s.memory_usage = read_u64(d, "memory.usage_in_bytes");
        s.memory_limit = read_u64(d, "memory.limit_in_bytes").filter(|v| *v < (1 << 62));
        s.oom_kills = fs::read_to_string(d.join("memory.oom_control"))
            .ok()
            .and_then(|t| {
                t.lines().find_map(|l| {
                    l.strip_prefix("oom_kill ")
                        .and_then(|v| v.trim().parse().ok())
                })
            });
    }
    if let Some(d) = h.dirs.get("pids") {
        s.pids_current = read_u64(d, "pids.current");
    }
    if let Some(d) = h.dirs.get("cpu") {
        s.cpu_usage_ns = read_u64(d, "cpuacct.usage");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hierarchies_come_from_mountinfo() {
        let info = "\
30 25 0:26 / /sys/fs/cgroup rw,nosuid - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,release_agent=/x,name=systemd
35 30 0:31 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
36 30 0:32 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
";
        let h = parse_hierarchies(info);
        assert_eq!(
            h,
            vec![
                Hierarchy {
                    mount_point: "/sys/fs/cgroup/systemd".into(),
                    options: vec!["name=systemd".into()],
                },
                Hierarchy {
                    mount_point: "/sys/fs/cgroup/cpu,cpuacct".into(),
                    options: vec!["cpu".into(), "cpuacct".into()],
                },
            ]
        );
    }
}
