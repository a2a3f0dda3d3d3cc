//! Namespaces from the spec: which to create, which to join by path, and the setns/unshare
//! calls. Owns the mapping OCI namespace type → clone flag; it does not fork.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::PathBuf;

use nix::sched::{setns, unshare, CloneFlags};
use oci_spec::runtime::{LinuxNamespaceType, Spec};

/// What to do with namespaces, read from `linux.namespaces`.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Namespaces to create, except user and cgroup (see the fields below).
    pub new_flags: CloneFlags,
    /// Create a new user namespace (first, then the parent writes the id maps).
    pub new_user: bool,
    /// Create a new cgroup namespace (after joining the cgroup).
    pub new_cgroup: bool,
    /// Namespaces to join by path, user namespace first.
    pub join: Vec<(LinuxNamespaceType, PathBuf)>,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            new_flags: CloneFlags::empty(),
            new_user: false,
            new_cgroup: false,
            join: Vec::new(),
        }
    }
}

impl Plan {
    /// True when a new mount namespace is made (so the rootfs can be set up privately).
    pub fn new_mount(&self) -> bool {
        self.new_flags.contains(CloneFlags::CLONE_NEWNS)
    }
    /// True when the container has a mount namespace of its own, new or joined by path (its
    /// root is then set up and pivoted there); false: it shares the caller's mounts and only
    /// chroots into the rootfs.
    pub fn private_mount(&self) -> bool {
        self.new_mount()
            || self
                .join
                .iter()
                .any(|(t, _)| *t == LinuxNamespaceType::Mount)
    }
    /// True when the init gets a new pid namespace (it is PID 1).
    pub fn new_pid(&self) -> bool {
        self.new_flags.contains(CloneFlags::CLONE_NEWPID)
    }
    /// True when a new network namespace is made (its `lo` is brought up).
    pub fn new_net(&self) -> bool {
        self.new_flags.contains(CloneFlags::CLONE_NEWNET)
    }
    /// True when the container has its own UTS namespace (may set a hostname).
    pub fn has_uts(&self) -> bool {
        self.new_flags.contains(CloneFlags::CLONE_NEWUTS)
            || self.join.iter().any(|(t, _)| *t == LinuxNamespaceType::Uts)
    }
    /// True when a user namespace is created or joined.
    pub fn has_user(&self) -> bool {
        self.new_user
            || self
                .join
                .iter()
                .any(|(t, _)| *t == LinuxNamespaceType::User)
    }
}

/// The clone flag of a namespace type.
pub fn flag(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(0x80),
    }
}

/// Reads the plan from the spec, refusing duplicates and unsupported types.
pub fn plan(spec: &Spec) -> Result<Plan, String> {
    let mut p = Plan::default();
    let mut seen = Vec::new();
    let list = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    for ns in list {
        let t = ns.typ();
        if seen.contains(&t) {
            return Err(format!("linux.namespaces: {t:?} is listed twice"));
        }
        seen.push(t);
        if t == LinuxNamespaceType::Time {
            return Err("linux.namespaces: the time namespace is not supported".into());
        }
        match ns.path() {
            Some(path) if !path.as_os_str().is_empty() => {
                if t == LinuxNamespaceType::User {
                    p.join.insert(0, (t, path.clone()));
                } else {
                    p.join.push((t, path.clone()));
                }
            }
            _ => match t {
                LinuxNamespaceType::User => p.new_user = true,
                LinuxNamespaceType::Cgroup => p.new_cgroup = true,
                _ => p.new_flags |= flag(t),
            },
        }
    }
    Ok(p)
}

/// Opens every namespace file to join (before any setns changes what paths mean).
pub fn open_joins(plan: &Plan) -> Result<Vec<(LinuxNamespaceType, File)>, String> {
    plan.join
        .iter()
        .map(|(t, path)| {
            File::open(path)
                .map(|f| (*t, f))
                .map_err(|e| format!("open namespace {t:?} at {}: {e}", path.display()))
        })
        .collect()
}

/// Joins one namespace.
pub fn join(t: LinuxNamespaceType, file: &File) -> Result<(), String> {
    setns(file.as_fd(), flag(t)).map_err(|e| format!("join namespace {t:?}: {e}"))
}

/// The order in which a process joins the namespaces of a running container: the user
/// namespace first (it grants the rights for the others), the mount namespace last (joining it
/// changes what paths mean).
const RUNNING_ORDER: [(LinuxNamespaceType, &str); 8] = [
    (LinuxNamespaceType::User, "user"),
    (LinuxNamespaceType::Ipc, "ipc"),
    (LinuxNamespaceType::Uts, "uts"),
    (LinuxNamespaceType::Network, "net"),
    (LinuxNamespaceType::Pid, "pid"),
    (LinuxNamespaceType::Cgroup, "cgroup"),
    (LinuxNamespaceType::Time, "time"),
    (LinuxNamespaceType::Mount, "mnt"),
];

/// Opens `/proc/<pid>/ns/*` of a running container's init for each type in `types` (the
/// spec's linux.namespaces), in [`RUNNING_ORDER`], skipping those the caller already shares
/// (joining one's own namespace again is useless, or refused). Join them with [`join`].
pub fn open_running(
    pid: i32,
    types: &[LinuxNamespaceType],
) -> Result<Vec<(LinuxNamespaceType, File)>, String> {
    let mut out = Vec::new();
    for (t, name) in RUNNING_ORDER {
        if !types.contains(&t) || same_as_ours(pid, name) {
            continue;
        }
        let path = format!("/proc/{pid}/ns/{name}");
        let f = File::open(&path).map_err(|e| format!("open {path}: {e}"))?;
        out.push((t, f));
    }
    Ok(out)
}

/// `/proc/<pid>/ns/<name>` is the caller's own namespace of that kind (same inode).
fn same_as_ours(pid: i32, name: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    let theirs = std::fs::metadata(format!("/proc/{pid}/ns/{name}"));
    let ours = std::fs::metadata(format!("/proc/self/ns/{name}"));
    matches!((theirs, ours), (Ok(a), Ok(b)) if a.ino() == b.ino() && a.dev() == b.dev())
}

/// Unshares `flags`.
pub fn create(flags: CloneFlags) -> Result<(), String> {
    if flags.is_empty() {
        return Ok(());
    }
    unshare(flags).map_err(|e| format!("create namespaces ({flags:?}): {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(ns: &str) -> Spec {
        serde_json::from_str(&format!(
            r#"{{"ociVersion":"1.0.2","root":{{"path":"rootfs"}},"linux":{{"namespaces":{ns}}}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn plans() {
        let p = plan(&spec(
            r#"[{"type":"pid"},{"type":"network","path":"/proc/1/ns/net"},{"type":"user"},{"type":"cgroup"},{"type":"mount"}]"#,
        ))
        .unwrap();
        assert!(p.new_pid() && p.new_mount() && p.new_user && p.new_cgroup);
        assert!(!p.new_flags.contains(CloneFlags::CLONE_NEWNET));
        assert_eq!(p.join.len(), 1);
        assert!(plan(&spec(r#"[{"type":"pid"},{"type":"pid"}]"#)).is_err());
        let p = plan(&spec(
            r#"[{"type":"network","path":"/a"},{"type":"user","path":"/b"}]"#,
        ))
        .unwrap();
        assert_eq!(p.join[0].0, LinuxNamespaceType::User);
    }
}
