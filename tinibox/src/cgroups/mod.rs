//! Control groups for containers, on cgroup v1/hybrid (the build host) and pure cgroup v2
//! (TiniLinux). The v1-or-v2 choice is made in one place, [`detect`]; what differs between
//! the two beyond resource files is behind one trait, [`Version`] ([`v1::V1`], [`v2::V2`]);
//! each resource has one writer that knows both ([`resources`], the device rules and the
//! freezer among them).
//!
//! Owns: cgroup directories under the tinibox parent group (default `/tinibox/<id>`, or the
//! spec's `cgroupsPath`), writing `LinuxResources` into them (memory, swap, pids, cpu, cpuset,
//! blkio/io, devices), joining, freezing, listing, stats and removal. Devices are the v1
//! devices controller, or on v2 an eBPF `BPF_CGROUP_DEVICE` program built in
//! [`resources::devices::bpf`].
//! It does not fork, signal containers' processes except for `kill_all`, or know about specs
//! beyond `LinuxResources`.
//!
//! Why not cgroups-rs: version 0.3 panics on invalid paths, silently ignores failed `mkdir`s,
//! creates a directory in every mounted v1 controller and has no v2 device filter; this module
//! is small, creates only the controllers a container uses (fast `create`) and reports every
//! failure with the file it was writing.

pub mod resources;
pub mod v1;
pub mod v2;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

/// Where cgroup filesystems are mounted.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";
/// The default parent group of tinibox containers.
pub const DEFAULT_PARENT: &str = "tinibox";

/// cgroup errors; each names the file or directory involved.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A cgroup file or directory operation failed.
    #[error("cgroup {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The cgroups path or a resource value is not acceptable.
    #[error("cgroup: {0}")]
    Invalid(String),
    /// A `linux.resources` field this host cannot apply (see `resources::support`).
    #[error("linux.resources.{field}: {why}")]
    Unsupported {
        /// The field, as the spec names it below `linux.resources` (`blockIO.weight`).
        field: &'static str,
        /// Why, and what to do.
        why: String,
    },
    /// A requested controller is not available on this system.
    #[error("cgroup controller {0:?} is not available on this system (see `tinibox check`)")]
    Missing(String),
}

pub(crate) fn io_err(path: &Path, source: std::io::Error) -> CgroupError {
    CgroupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Which cgroup layout the system uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Layout {
    /// v1 controllers (possibly with an empty cgroup2 beside them: "hybrid").
    V1,
    /// Pure cgroup v2 ("unified") at /sys/fs/cgroup.
    V2,
}

/// What differs between cgroup v1 and v2 beyond the resource files (those are the writers'
/// of [`resources`]): how a container's group is made and extended, where its processes are
/// listed, and its figures.
pub trait Version: Sync {
    /// Makes the container's group at `rel` (below each hierarchy root) with the controllers
    /// `res` needs; writes no values yet.
    fn create(&self, rel: &Path, res: &LinuxResources) -> Result<CgroupHandle, CgroupError>;
    /// Changes the limits of a running container (see [`CgroupHandle::update`]).
    fn update(&self, h: &mut CgroupHandle, res: &LinuxResources) -> Result<(), CgroupError>;
    /// The directory whose `cgroup.procs` lists every process of the container.
    fn procs_dir<'a>(&self, h: &'a CgroupHandle) -> Option<&'a PathBuf>;
    /// Memory, pids and cpu figures.
    fn stats(&self, h: &CgroupHandle) -> Stats;
}

/// The implementation of `layout`.
pub fn version(layout: Layout) -> &'static dyn Version {
    match layout {
        Layout::V1 => &v1::V1,
        Layout::V2 => &v2::V2,
    }
}

/// The one place that picks v1/hybrid or v2: /sys/fs/cgroup is cgroup2 → V2, else V1.
pub fn detect() -> Layout {
    match nix::sys::statfs::statfs(CGROUP_ROOT) {
        Ok(st) if st.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC => Layout::V2,
        _ => Layout::V1,
    }
}

/// A container's cgroup: one directory per used controller on v1, one directory on v2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupHandle {
    /// The layout it was created on.
    pub layout: Layout,
    /// The path relative to the hierarchy roots, e.g. `tinibox/c1`.
    pub rel_path: PathBuf,
    /// v1: controller name → absolute directory; v2: "unified" → the directory.
    pub dirs: BTreeMap<String, PathBuf>,
    /// The ancestors of `dirs` that tinibox made for this container (absolute; in the order
    /// they were made, so shallowest first per hierarchy): [`CgroupHandle::destroy`] removes
    /// them after the groups, each only while it is empty. A parent that existed before, or
    /// that another tinibox made first, is not listed, nor is the shared default parent
    /// [`DEFAULT_PARENT`] at the top of a hierarchy (every tinibox container's home, kept
    /// like Docker's `docker` group so that parallel runs never see it vanish).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub made_parents: Vec<PathBuf>,
}

/// Memory, pids and cpu figures of a cgroup (absent when the controller is not used).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Current memory use in bytes.
    pub memory_usage: Option<u64>,
    /// Memory limit in bytes (None = unlimited).
    pub memory_limit: Option<u64>,
    /// Number of OOM kills inside the group.
    pub oom_kills: Option<u64>,
    /// Current number of tasks.
    pub pids_current: Option<u64>,
    /// CPU time used, nanoseconds.
    pub cpu_usage_ns: Option<u64>,
}

/// Turns the spec's `cgroupsPath` (or none) into a path relative to the hierarchy roots.
/// None → `tinibox/<id>`; `/a/b` → `a/b`; `a/b` → `tinibox/a/b`; systemd's
/// `slice:prefix:name` → `slice/prefix-name.scope` (cgroupfs layout, like runc without systemd).
pub fn relative_path(id: &str, cgroups_path: Option<&Path>) -> Result<PathBuf, CgroupError> {
    let p = match cgroups_path {
        None => return Ok(Path::new(DEFAULT_PARENT).join(id)),
        Some(p) => p,
    };
    let s = p.to_string_lossy();
    let rel = if !s.starts_with('/') && s.split(':').count() == 3 {
        let parts: Vec<&str> = s.split(':').collect();
        let slice = if parts[0].is_empty() {
            "system.slice"
        } else {
            parts[0]
        };
        PathBuf::from(slice).join(format!("{}-{}.scope", parts[1], parts[2]))
    } else if let Some(abs) = s.strip_prefix('/') {
        PathBuf::from(abs)
    } else {
        Path::new(DEFAULT_PARENT).join(p)
    };
    let ok = rel.components().count() > 0
        && rel
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
    if !ok {
        return Err(CgroupError::Invalid(format!(
            "cgroupsPath {s:?} must name a group below the root without '..'"
        )));
    }
    Ok(rel)
}

impl CgroupHandle {
    /// Creates the container's cgroup at `rel_path` and applies `resources`.
    /// On failure removes what it created.
    pub fn create(
        rel_path: &Path,
        resources: Option<&LinuxResources>,
    ) -> Result<CgroupHandle, CgroupError> {
        let default_res = LinuxResources::default();
        let res = resources.unwrap_or(&default_res);
        let layout = detect();
        resources::check_host(layout, res)?;
        let handle = version(layout).create(rel_path, res)?;
        if let Err(e) = handle.apply(res, true) {
            let _ = handle.destroy();
            return Err(e);
        }
        Ok(handle)
    }

    /// The handle [`CgroupHandle::create`] would make for `rel_path` and `resources`, without
    /// making anything (v1: the group in each mounted controller the resources need; v2: the
    /// one group). `create` records it before it makes anything, so that a `delete` after
    /// tinibox was killed half-way removes whatever part was made (missing directories are
    /// fine there). So that the record only ever names directories tinibox makes itself, a
    /// directory that exists already (a group of someone else's at `cgroupsPath`, or a
    /// leftover) is refused here, before anything is recorded, with
    /// [`CgroupError::Invalid`] naming it: a later `delete` can never remove it, nor kill
    /// its processes.
    pub fn planned(
        rel_path: &Path,
        resources: Option<&LinuxResources>,
    ) -> Result<CgroupHandle, CgroupError> {
        let default_res = LinuxResources::default();
        let res = resources.unwrap_or(&default_res);
        let layout = detect();
        // Hierarchy roots in the order `create` makes the groups (so that the parents it
        // will make are listed in the same order, and the record is not written again).
        let roots: Vec<(String, PathBuf)> = match layout {
            Layout::V1 => {
                let mounts = v1::mount_points()?;
                resources::controllers(layout, res, false)
                    .into_iter()
                    .filter_map(|c| Some((c.to_string(), mounts.get(c)?.clone())))
                    .collect()
            }
            Layout::V2 => vec![("unified".to_string(), PathBuf::from(CGROUP_ROOT))],
        };
        let mut dirs = BTreeMap::new();
        let mut made_parents = Vec::new();
        for (name, root) in &roots {
            let dir = root.join(rel_path);
            if dir.exists() {
                return Err(exists_already(&dir));
            }
            made_parents.extend(
                parents_below(root, rel_path)
                    .into_iter()
                    .filter(|p| !is_shared_parent(root, p) && !p.exists()),
            );
            dirs.insert(name.clone(), dir);
        }
        Ok(CgroupHandle {
            layout,
            rel_path: rel_path.to_path_buf(),
            dirs,
            made_parents,
        })
    }

    /// The `cgroup.procs` files a process writes "0" into to join the group.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs.values().map(|d| d.join("cgroup.procs")).collect()
    }

    /// Moves process `pid` into the group (all controllers).
    pub fn add_pid(&self, pid: i32) -> Result<(), CgroupError> {
        for f in self.procs_files() {
            fs::write(&f, pid.to_string()).map_err(|e| io_err(&f, e))?;
        }
        Ok(())
    }

    /// Applies resource limits; `initial` is true at creation (devices rules written once).
    pub fn apply(&self, res: &LinuxResources, initial: bool) -> Result<(), CgroupError> {
        resources::apply(self, res, initial)
    }

    /// Changes the limits of a running container (`update`). A limit whose controller the
    /// container did not use so far gets it now: on v1 the container's group is made in that
    /// controller, the limit written, then every process of the container moved into it; on
    /// v2 the controller is enabled in the ancestors' `cgroup.subtree_control`. `self.dirs`
    /// then lists the new directories: the caller must save the handle so that `delete`
    /// removes them.
    pub fn update(&mut self, res: &LinuxResources) -> Result<(), CgroupError> {
        resources::check_host(self.layout, res)?;
        version(self.layout).update(self, res)
    }

    /// The pids (host pid namespace) of all processes in the group.
    pub fn pids(&self) -> Vec<i32> {
        let Some(dir) = version(self.layout).procs_dir(self) else {
            return Vec::new();
        };
        fs::read_to_string(dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// Sends signal number `sig` (1-64, real-time signals included) to every process in the
    /// group.
    pub fn kill_all(&self, sig: i32) -> Result<(), CgroupError> {
        for pid in self.pids() {
            // A process may exit between listing and signalling: ESRCH is fine.
            // SAFETY: kill(2) takes plain integers and touches no memory of ours.
            let _ = unsafe { libc::kill(pid, sig) };
        }
        Ok(())
    }

    /// Freezes every process (pause).
    pub fn freeze(&self) -> Result<(), CgroupError> {
        resources::freezer::set_frozen(self, true)
    }

    /// Thaws every process (resume).
    pub fn thaw(&self) -> Result<(), CgroupError> {
        resources::freezer::set_frozen(self, false)
    }

    /// True when the group is frozen.
    pub fn is_frozen(&self) -> bool {
        resources::freezer::is_frozen(self)
    }

    /// Memory, pids and cpu figures.
    pub fn stats(&self) -> Stats {
        version(self.layout).stats(self)
    }

    /// Removes the group's directories, then the parents tinibox made for them
    /// ([`CgroupHandle::made_parents`]). Processes still inside the groups are SIGKILLed
    /// first; waits (bounded, about 2 s) for them to leave. Missing directories are fine; a
    /// made parent that is not empty (another container's group or processes are in it now)
    /// is kept, and nothing in it is signalled.
    pub fn destroy(&self) -> Result<(), CgroupError> {
        if self.is_frozen() {
            let _ = self.thaw();
        }
        let mut last_err = None;
        for dir in self.dirs.values() {
            if let Err(e) = remove_dir_retrying(self, dir) {
                last_err = Some(e);
            }
        }
        if let Err(e) = remove_made_parents(&self.made_parents) {
            last_err = Some(e);
        }
        match last_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// rmdir with a bounded retry on EBUSY (processes still exiting), killing stragglers.
fn remove_dir_retrying(handle: &CgroupHandle, dir: &Path) -> Result<(), CgroupError> {
    let mut delay = std::time::Duration::from_micros(200);
    for attempt in 0..40 {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && attempt < 39 => {
                let _ = handle.kill_all(libc::SIGKILL);
                std::thread::sleep(delay);
                delay = (delay * 2).min(std::time::Duration::from_millis(100));
            }
            Err(e) => return Err(io_err(dir, e)),
        }
    }
    Ok(())
}

/// Removes the parent groups in `made` that are empty, deepest first. One that is gone is
/// fine; one that still has groups or processes in it (EBUSY on cgroupfs, ENOTEMPTY
/// elsewhere) is shared now and kept. Errors: the last other failure of rmdir(2), naming
/// the directory.
pub(crate) fn remove_made_parents(made: &[PathBuf]) -> Result<(), CgroupError> {
    let mut deepest_first: Vec<&PathBuf> = made.iter().collect();
    deepest_first.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    let mut last_err = None;
    for dir in deepest_first {
        match fs::remove_dir(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::EBUSY | libc::ENOTEMPTY)) => {}
            Err(e) => last_err = Some(io_err(dir, e)),
        }
    }
    match last_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The ancestors of `root/rel` below `root`, shallowest first (`a/b/c` → `root/a`,
/// `root/a/b`).
pub(crate) fn parents_below(root: &Path, rel: &Path) -> Vec<PathBuf> {
    let mut cur = root.to_path_buf();
    let mut out = Vec::new();
    if let Some(parent) = rel.parent() {
        for c in parent.components() {
            cur.push(c);
            out.push(cur.clone());
        }
    }
    out
}

/// Whether `dir` is the shared default parent at the top of hierarchy `root`, which tinibox
/// makes when missing but never records as a container's (see
/// [`CgroupHandle::made_parents`]).
fn is_shared_parent(root: &Path, dir: &Path) -> bool {
    dir == root.join(DEFAULT_PARENT)
}

/// Writes `value` into `dir/file`, naming the file on failure.
pub(crate) fn write_file(dir: &Path, file: &str, value: &str) -> Result<(), CgroupError> {
    let p = dir.join(file);
    fs::write(&p, value)
        .map_err(|e| CgroupError::Invalid(format!("write {value:?} to {}: {e}", p.display())))
}

/// Reads a number from `dir/file` ("max" → None).
pub(crate) fn read_u64(dir: &Path, file: &str) -> Option<u64> {
    fs::read_to_string(dir.join(file))
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

/// Creates the intermediate group `dir` (e.g. `/sys/fs/cgroup/a`, below the hierarchy
/// `root`) unless it exists, and appends it to `made` when this call made it (one mkdir, so
/// a parent that another process made is never counted as ours), unless it is the shared
/// default parent.
///
/// Another tinibox (a boot-time `service up`, a parallel `run`) may make the same parent
/// between a check and a `mkdir`, so `EEXIST` counts as success here; only a container's own
/// leaf group is refused when it exists (see [`make_dir`]).
///
/// Errors: [`CgroupError::Io`] naming `dir` for any other failure of mkdir(2).
pub(crate) fn make_parent_dir(
    root: &Path,
    dir: &Path,
    made: &mut Vec<PathBuf>,
) -> Result<(), CgroupError> {
    match fs::create_dir(dir) {
        Ok(()) => {
            if !is_shared_parent(root, dir) {
                made.push(dir.to_path_buf());
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io_err(dir, e)),
    }
}

/// Creates the missing ancestors of `root/rel`, shallowest first, with [`make_parent_dir`]
/// (appending those made to `made`).
pub(crate) fn make_parent_dirs(
    root: &Path,
    rel: &Path,
    made: &mut Vec<PathBuf>,
) -> Result<(), CgroupError> {
    for dir in parents_below(root, rel) {
        make_parent_dir(root, &dir, made)?;
    }
    Ok(())
}

/// Creates `root/rel` (and, should one have vanished since [`make_parent_dirs`], missing
/// parents); returns the directory, refusing one that exists.
pub(crate) fn make_dir(root: &Path, rel: &Path) -> Result<PathBuf, CgroupError> {
    let dir = root.join(rel);
    match fs::create_dir(&dir) {
        Ok(()) => Ok(dir),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
            Ok(dir)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(exists_already(&dir)),
        Err(e) => Err(io_err(&dir, e)),
    }
}

/// The refusal of a container's cgroup directory that exists before tinibox made it.
fn exists_already(dir: &Path) -> CgroupError {
    CgroupError::Invalid(format!(
        "{} exists already: tinibox makes a container's group itself and never takes over \
         another's (a leftover? remove it with rmdir; else give another cgroupsPath)",
        dir.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two tinibox processes making the same parent group at once (the boot-time
    /// `service up` beside a `run`) both go on, and only the one whose mkdir made it records
    /// it as made; a container's own leaf is still refused.
    #[test]
    fn parent_groups_made_concurrently_are_shared() {
        let root = tempfile::tempdir().unwrap();
        let parent = root.path().join("grp");
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (r, p) = (root.path().to_path_buf(), parent.clone());
                std::thread::spawn(move || {
                    let mut made = Vec::new();
                    make_parent_dir(&r, &p, &mut made).map(|()| made)
                })
            })
            .collect();
        let made: Vec<Vec<PathBuf>> = threads
            .into_iter()
            .map(|t| t.join().unwrap().unwrap())
            .collect();
        assert!(parent.is_dir());
        assert_eq!(made.concat(), vec![parent.clone()], "exactly one maker");
        let mut again = Vec::new();
        make_parent_dir(root.path(), &parent, &mut again).unwrap();
        assert!(
            again.is_empty(),
            "an existing parent is not ours: {again:?}"
        );
        // The shared default parent is made but never recorded.
        make_parent_dir(root.path(), &root.path().join(DEFAULT_PARENT), &mut again).unwrap();
        assert!(again.is_empty() && root.path().join(DEFAULT_PARENT).is_dir());
        make_dir(root.path(), Path::new("grp/c1")).unwrap();
        let err = make_dir(root.path(), Path::new("grp/c1")).unwrap_err();
        assert!(err.to_string().contains("exists already"), "{err}");
        let missing = root.path().join("no/such");
        let err = make_parent_dir(root.path(), &missing, &mut again).unwrap_err();
        assert!(err.to_string().contains("no/such"), "{err}");
    }

    /// Made parents are removed deepest first; one that still holds something is kept.
    #[test]
    fn made_parents_are_removed_only_when_empty() {
        let root = tempfile::tempdir().unwrap();
        let mut made = Vec::new();
        make_parent_dirs(root.path(), Path::new("a/b/c/leaf"), &mut made).unwrap();
        let (a, b, c) = (
            root.path().join("a"),
            root.path().join("a/b"),
            root.path().join("a/b/c"),
        );
        assert_eq!(made, vec![a.clone(), b.clone(), c.clone()]);
        fs::create_dir(b.join("other")).unwrap();
        remove_made_parents(&made).unwrap();
        assert!(
            !c.exists() && b.is_dir() && a.is_dir(),
            "b holds another group"
        );
        fs::remove_dir(b.join("other")).unwrap();
        remove_made_parents(&made).unwrap();
        assert!(!a.exists());
    }

    #[test]
    fn cgroup_paths() {
        assert_eq!(relative_path("c1", None).unwrap(), Path::new("tinibox/c1"));
        assert_eq!(
            relative_path("c1", Some(Path::new("/docker/abc"))).unwrap(),
            Path::new("docker/abc")
        );
        assert_eq!(
            relative_path("c1", Some(Path::new("x"))).unwrap(),
            Path::new("tinibox/x")
        );
        assert_eq!(
            relative_path("c1", Some(Path::new("system.slice:docker:abc"))).unwrap(),
            Path::new("system.slice/docker-abc.scope")
        );
        assert!(relative_path("c1", Some(Path::new("/a/../../etc"))).is_err());
        assert!(relative_path("c1", Some(Path::new("/"))).is_err());
    }

    /// The file system type mounted at /sys/fs/cgroup, as /proc/self/mountinfo lists it (the
    /// last mount on that point wins).
    fn mounted_type() -> String {
        let mi = fs::read_to_string("/proc/self/mountinfo").unwrap();
        mi.lines()
            .filter(|l| l.split(' ').nth(4) == Some(CGROUP_ROOT))
            .filter_map(|l| l.split(" - ").nth(1)?.split(' ').next().map(String::from))
            .next_back()
            .unwrap_or_default()
    }

    #[test]
    fn layout_detection_follows_what_is_mounted() {
        // On this host: cgroup2 at /sys/fs/cgroup is v2, anything else (a tmpfs of v1
        // hierarchies) v1.
        let want = if mounted_type() == "cgroup2" {
            Layout::V2
        } else {
            Layout::V1
        };
        assert_eq!(detect(), want, "mounted: {}", mounted_type());
        // And both ways for real, in a private mount namespace of a forked child (needs root):
        // a tmpfs on /sys/fs/cgroup reads as v1, the cgroup2 hierarchy as v2.
        if nix::unistd::geteuid().as_raw() != 0 {
            panic!("this test needs root (it mounts over /sys/fs/cgroup in a private namespace)");
        }
        // SAFETY: the child only unshares, mounts, calls detect() and exits.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                use nix::mount::{mount, MsFlags};
                let code = (|| -> i32 {
                    if nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).is_err() {
                        return 10;
                    }
                    let none = None::<&str>;
                    if mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_PRIVATE, none).is_err()
                    {
                        return 11;
                    }
                    let tmpfs = mount(
                        Some("tmpfs"),
                        CGROUP_ROOT,
                        Some("tmpfs"),
                        MsFlags::empty(),
                        none,
                    );
                    if tmpfs.is_err() || mounted_type() != "tmpfs" || detect() != Layout::V1 {
                        return 12;
                    }
                    let v2 = mount(
                        Some("cgroup2"),
                        CGROUP_ROOT,
                        Some("cgroup2"),
                        MsFlags::empty(),
                        none,
                    );
                    if v2.is_err() || mounted_type() != "cgroup2" || detect() != Layout::V2 {
                        return 13;
                    }
                    0
                })();
                unsafe { libc::_exit(code) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                let st = nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(
                    st,
                    nix::sys::wait::WaitStatus::Exited(child, 0),
                    "12: tmpfs not seen as v1, 13: cgroup2 not seen as v2"
                );
            }
        }
    }
}
