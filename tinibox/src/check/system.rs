//! Checks of the running system that a kernel config cannot answer: the cgroup layout
//! (v1, hybrid or v2), overlayfs in /proc/filesystems, and user namespaces.
//!
//! Reads /proc and /sys only.

/// How cgroups are mounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupLayout {
    /// Only cgroup v1 hierarchies.
    V1,
    /// v1 controllers plus a cgroup2 mount (usually /sys/fs/cgroup/unified).
    Hybrid,
    /// Pure cgroup v2 at /sys/fs/cgroup.
    V2,
    /// No cgroup filesystem mounted.
    None,
}

impl std::fmt::Display for CgroupLayout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CgroupLayout::V1 => "cgroup v1",
            CgroupLayout::Hybrid => "cgroup v1 + v2 (hybrid)",
            CgroupLayout::V2 => "cgroup v2 (unified)",
            CgroupLayout::None => "not mounted",
        })
    }
}

/// Reads /proc/self/mountinfo to find the cgroup layout.
pub fn cgroup_layout() -> CgroupLayout {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut v1 = false;
    let mut v2_at_root = false;
    let mut v2_elsewhere = false;
    for line in info.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mount_point = left.split(' ').nth(4).unwrap_or("");
        match right.split(' ').next() {
            Some("cgroup") => v1 = true,
            Some("cgroup2") if mount_point == "/sys/fs/cgroup" => v2_at_root = true,
            Some("cgroup2") => v2_elsewhere = true,
            _ => {}
        }
    }
    match (v1, v2_at_root || v2_elsewhere) {
        (false, true) if v2_at_root => CgroupLayout::V2,
        (true, true) => CgroupLayout::Hybrid,
        (true, false) => CgroupLayout::V1,
        (false, true) => CgroupLayout::V2,
        (false, false) => CgroupLayout::None,
    }
}

/// Whether the kernel lists a filesystem type in /proc/filesystems.
pub fn has_filesystem(name: &str) -> bool {
    std::fs::read_to_string("/proc/filesystems")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split_whitespace().last() == Some(name))
}

/// Whether user namespaces can be created (/proc/self/ns/user exists and the limit is not 0).
pub fn user_namespaces() -> bool {
    std::path::Path::new("/proc/self/ns/user").exists()
        && std::fs::read_to_string("/proc/sys/user/max_user_namespaces")
            .map(|s| s.trim() != "0")
            .unwrap_or(true)
}
