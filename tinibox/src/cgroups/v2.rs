//! cgroup v2 (unified): one directory; controllers enabled in the ancestors'
//! `cgroup.subtree_control`. Owns making the group, enabling controllers and the v2 figures;
//! the resource values are the writers' of [`super::resources`].

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use super::{
    make_dir, read_u64, remove_made_parents, resources, write_file, CgroupError, CgroupHandle,
    Layout, Stats, CGROUP_ROOT,
};

/// cgroup v2: one directory, controllers enabled in the ancestors.
pub struct V2;

impl super::Version for V2 {
    fn create(&self, rel: &Path, res: &LinuxResources) -> Result<CgroupHandle, CgroupError> {
        create_at(Path::new(CGROUP_ROOT), rel, res)
    }

    /// The container's one group stays; a controller the new limits need and the creation
    /// did not enable is enabled in its ancestors (its processes are then accounted by it at
    /// once), then the values are written.
    fn update(&self, h: &mut CgroupHandle, res: &LinuxResources) -> Result<(), CgroupError> {
        let dir = h
            .dirs
            .get("unified")
            .ok_or_else(|| CgroupError::Missing("unified".into()))?;
        let mut root = dir.clone();
        for _ in h.rel_path.components() {
            root.pop();
        }
        // Values that mean "not set" (dockerd sends zeros for what it does not change) need
        // nothing.
        let want = resources::controllers(Layout::V2, res, true);
        enable_controllers(&root, &h.rel_path, &want, None)?;
        resources::apply(h, res, false)
    }

    fn procs_dir<'a>(&self, h: &'a CgroupHandle) -> Option<&'a PathBuf> {
        h.dirs.get("unified")
    }

    fn stats(&self, h: &CgroupHandle) -> Stats {
        stats(h)
    }
}

/// Creates the group under the cgroup2 mount `root` (tests use the hybrid host's
/// /sys/fs/cgroup/unified), with the parents it needs (recorded in
/// [`CgroupHandle::made_parents`]). On failure removes the parents it made.
pub(super) fn create_at(
    root: &Path,
    rel: &Path,
    res: &LinuxResources,
) -> Result<CgroupHandle, CgroupError> {
    let root = root.to_path_buf();
    let mut made_parents = Vec::new();
    let made = enable_controllers(
        &root,
        rel,
        &resources::controllers(Layout::V2, res, false),
        Some(&mut made_parents),
    )
    .and_then(|()| make_dir(&root, rel));
    let dir = match made {
        Ok(dir) => dir,
        Err(e) => {
            let _ = remove_made_parents(&made_parents);
            return Err(e);
        }
    };
    let mut dirs = BTreeMap::new();
    dirs.insert("unified".to_string(), dir);
    Ok(CgroupHandle {
        layout: Layout::V2,
        rel_path: rel.to_path_buf(),
        dirs,
        made_parents,
    })
}

/// Enables `want` in `cgroup.subtree_control` from `root` down to the parent of `rel`
/// (creating missing parents when `made` is given, and appending those made to it).
fn enable_controllers(
    root: &Path,
    rel: &Path,
    want: &[&str],
    mut made: Option<&mut Vec<PathBuf>>,
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
        if let (Some(made), true) = (made.as_deref_mut(), i > 0) {
            super::make_parent_dir(root, dir, made)?;
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

fn stats(h: &CgroupHandle) -> Stats {
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
    /// Several containers made at once under a parent group that does not exist yet (the
    /// boot-time `service up` beside a user's `run`, as on the live ISO): every one is made,
    /// on the kernel's own cgroup2 hierarchy. The window between "is it there" and mkdir is
    /// short, so the race is run many times over.
    #[test]
    fn containers_made_at_once_share_a_new_parent() {
        let root = if super::super::detect() == Layout::V2 {
            PathBuf::from(CGROUP_ROOT)
        } else {
            PathBuf::from("/sys/fs/cgroup/unified")
        };
        assert!(root.join("cgroup.procs").exists(), "no cgroup2 mount");
        const THREADS: usize = 4;
        for round in 0..300 {
            let parent = format!("tinibox-race-{}-{round}", std::process::id());
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(THREADS));
            let threads: Vec<_> = (0..THREADS)
                .map(|i| {
                    let (root, barrier) = (root.clone(), barrier.clone());
                    let rel = PathBuf::from(format!("{parent}/c{i}"));
                    std::thread::spawn(move || {
                        barrier.wait();
                        create_at(&root, &rel, &LinuxResources::default())
                    })
                })
                .collect();
            let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
            let failed: Vec<String> = results
                .iter()
                .filter_map(|r| r.as_ref().err().map(|e| e.to_string()))
                .collect();
            for h in results.into_iter().flatten() {
                h.destroy().unwrap();
            }
            let _ = std::fs::remove_dir(root.join(&parent));
            assert!(failed.is_empty(), "round {round}: {failed:?}");
        }
    }
}
