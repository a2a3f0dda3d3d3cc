//! Mount destinations that would defeat the container's own hardening, refused at create as
//! runc 1.1.5 refuses them (issue 15 item 21).
//!
//! A bind mount over `/proc` hides the procfs the masked and read-only paths protect, and a
//! bind mount inside `/proc` can replace a file the kernel's hardening depends on (the
//! CVE-2019-16884/CVE-2019-19921 family). The rule, measured against runc 1.1.5:
//!
//! - at `/proc` only a procfs is accepted (type `proc`, or a bind mount whose source is a
//!   procfs); runc refuses any other bind or filesystem there, and fails on a tmpfs, sysfs or
//!   mqueue there (it needs /proc itself), so tinibox refuses those too;
//! - below `/proc`, a bind mount or a filesystem other than proc, sysfs, mqueue, tmpfs and
//!   cgroup ([`UNCHECKED_TYPES`], what runc mounts there unchecked) is refused, except over
//!   the files LXCFS emulates ([`LXCFS_FILES`]);
//! - mounts over `/sys/fs/cgroup` and `/dev/pts` are accepted, as runc 1.1.5 and Docker
//!   accept them (Docker replaces its default mount there by the user's). A container with
//!   a terminal needs its own devpts at /dev/pts, though: [`validate_terminal`] refuses one
//!   whose /dev/pts is covered by something else (runc fails on it at start with
//!   "open /dev/ptmx: no such file or directory").
//!
//! [`validate`] compares destinations after lexical clean-up (`.`, `..`, repeated `/`), at
//! create; the container's init applies [`check`] again to each destination resolved inside
//! the rootfs (a symlink such as `/myproc -> proc` leads into /proc), as runc checks the
//! resolved path. Pure: the caller says whether a source is a procfs or a devpts.

use std::path::{Component, Path, PathBuf};

use oci_spec::runtime::Mount;

/// Files below /proc that a bind mount may replace (what LXCFS provides; runc's list).
pub const LXCFS_FILES: &[&str] = &[
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
];

/// `path` as an absolute path inside the container with `.` and `..` resolved lexically.
pub fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// Mount types runc 1.1.5 mounts inside /proc without the check (a procfs, sysfs, mqueue,
/// tmpfs or cgroupfs there hides nothing the masked paths protect); `cgroup2` is tinibox's
/// other spelling of a cgroup mount.
pub const UNCHECKED_TYPES: &[&str] = &["proc", "sysfs", "mqueue", "tmpfs", "cgroup", "cgroup2"];

/// Whether mount `m` is a bind mount (type `bind`, or option `bind`/`rbind`).
pub fn is_bind(m: &Mount) -> bool {
    m.typ().as_deref() == Some("bind")
        || m.options()
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .any(|o| o == "bind" || o == "rbind")
}

/// The rule for one mount at `dest` (already cleaned, or resolved inside the rootfs) of type
/// `typ`: `Err` says why it is refused and what to do. `source_is_proc()` is asked only for
/// a bind mount at `/proc` itself.
///
/// - at `/proc`: only a procfs (type `proc`, or a bind mount of one);
/// - below `/proc`: a bind mount or a type outside [`UNCHECKED_TYPES`] only over the files
///   LXCFS emulates ([`LXCFS_FILES`]).
pub fn check(
    dest: &Path,
    typ: &str,
    bind: bool,
    source_is_proc: impl FnOnce() -> bool,
) -> Result<(), String> {
    let Ok(below) = dest.strip_prefix("/proc") else {
        return Ok(());
    };
    if below.as_os_str().is_empty() {
        if (!bind && typ == "proc") || (bind && source_is_proc()) {
            return Ok(());
        }
        return Err(
            "/proc cannot be mounted because it is not of type proc: a mount over /proc \
             would hide the container's procfs; mount it elsewhere"
                .to_string(),
        );
    }
    if (!bind && UNCHECKED_TYPES.contains(&typ)) || LXCFS_FILES.iter().any(|f| dest == Path::new(f))
    {
        return Ok(());
    }
    Err(format!(
        "{} cannot be mounted because it is inside /proc; mount it elsewhere",
        dest.display()
    ))
}

/// Checks every mount's destination as written (after lexical clean-up); `Err` names the
/// first refused one (`mounts[i]`), why and what to do. `is_proc(source)` says whether a
/// bind source is a procfs. The container's init checks the destinations again once
/// resolved inside the rootfs, where a symlink may lead into /proc.
pub fn validate(mounts: &[Mount], is_proc: impl Fn(&Path) -> bool) -> Result<(), String> {
    for (i, m) in mounts.iter().enumerate() {
        let dest = clean(m.destination());
        let source = m.source().clone().unwrap_or_default();
        let typ = m.typ().clone().unwrap_or_default();
        check(&dest, &typ, is_bind(m), || is_proc(&source)).map_err(|e| {
            if &dest == m.destination() {
                format!("mounts[{i}]: {e}")
            } else {
                format!("mounts[{i}] ({}): {e}", m.destination().display())
            }
        })?;
    }
    Ok(())
}

/// With `terminal`, refuses a mount that covers `/dev/pts` with something other than a
/// devpts: the container's pty is opened through `/dev/ptmx` → `pts/ptmx`, so such a mount
/// makes the start fail with "open /dev/ptmx: ENOENT" (runc 1.1.5 fails the same way, at
/// the same place); refused at create instead, naming the mount. The last mount at
/// `/dev/pts` decides; `is_devpts(source)` says whether a bind source is a devpts (a bind of
/// the host's /dev/pts keeps working).
pub fn validate_terminal(
    mounts: &[Mount],
    terminal: bool,
    is_devpts: impl Fn(&Path) -> bool,
) -> Result<(), String> {
    if !terminal {
        return Ok(());
    }
    let last = mounts
        .iter()
        .enumerate()
        .rfind(|(_, m)| clean(m.destination()) == Path::new("/dev/pts"));
    let Some((i, m)) = last else {
        return Ok(());
    };
    let typ = m.typ().clone().unwrap_or_default();
    let bind = is_bind(m);
    let source = m.source().clone().unwrap_or_default();
    if (!bind && typ == "devpts") || (bind && is_devpts(&source)) {
        return Ok(());
    }
    let what = if bind {
        format!("a bind mount of {}", source.display())
    } else {
        format!("a {typ} mount")
    };
    Err(format!(
        "mounts[{i}]: {what} covers /dev/pts, but the terminal needs the container's own \
         devpts there (/dev/ptmx opens through it); mount it elsewhere or run without a terminal"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::MountBuilder;

    fn mount(dest: &str, typ: &str, opts: &[&str]) -> Mount {
        MountBuilder::default()
            .destination(dest)
            .typ(typ)
            .source("/srv/x")
            .options(opts.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .build()
            .unwrap()
    }

    #[test]
    fn binds_over_and_inside_proc_are_refused() {
        let no = |_: &Path| false;
        for d in ["/proc", "/proc/sys", "//proc/./sys/", "/tmp/../proc/foo"] {
            let e = validate(&[mount(d, "bind", &["rbind"])], no).unwrap_err();
            assert!(e.contains("mounts[0]"), "{e}");
            assert!(
                validate(&[mount(d, "none", &["rbind"])], no).is_err(),
                "{d}"
            );
        }
        assert!(validate(&[mount("/proc", "bind", &[])], |_| true).is_ok());
        assert!(validate(&[mount("/proc/cpuinfo", "bind", &[])], no).is_ok());
        for (d, t) in [
            ("/proc/sys", "tmpfs"),
            ("/sys/fs/cgroup", "bind"),
            ("/dev/pts", "bind"),
            ("/procfoo", "bind"),
        ] {
            assert!(validate(&[mount(d, t, &[])], no).is_ok(), "{d} {t}");
        }
    }

    #[test]
    fn other_filesystems_follow_runcs_types() {
        let no = |_: &Path| false;
        // runc checks every type but proc, sysfs, mqueue, tmpfs and cgroup inside /proc.
        for t in ["ramfs", "devpts", "none", "ext4"] {
            let e = validate(&[mount("/proc/sys", t, &[])], no).unwrap_err();
            assert!(e.contains("inside /proc"), "{t}: {e}");
        }
        for t in ["proc", "sysfs", "mqueue", "tmpfs", "cgroup"] {
            assert!(validate(&[mount("/proc/sys", t, &[])], no).is_ok(), "{t}");
        }
        // At /proc itself only a procfs.
        assert!(validate(&[mount("/proc", "proc", &[])], no).is_ok());
        for t in ["tmpfs", "sysfs", "ramfs"] {
            let e = validate(&[mount("/tmp/../proc", t, &[])], no).unwrap_err();
            assert!(
                e.starts_with("mounts[0] (/tmp/../proc): /proc cannot"),
                "{t}: {e}"
            );
        }
        // The same rule on a destination resolved inside the rootfs.
        assert!(check(Path::new("/proc/sys/kernel"), "bind", true, || false).is_err());
        assert!(check(Path::new("/srv"), "bind", true, || false).is_ok());
    }

    #[test]
    fn a_terminal_needs_its_own_devpts() {
        let devpts = mount("/dev/pts", "devpts", &[]);
        let bind = mount("/dev/pts", "bind", &["rbind"]);
        let tmpfs = mount("/dev//pts/", "tmpfs", &[]);
        let never = |_: &Path| false;
        assert!(validate_terminal(&[devpts.clone(), bind.clone()], false, never).is_ok());
        let e = validate_terminal(&[devpts.clone(), bind.clone()], true, never).unwrap_err();
        assert!(
            e.starts_with("mounts[1]: a bind mount of /srv/x covers /dev/pts"),
            "{e}"
        );
        assert!(validate_terminal(&[devpts.clone(), tmpfs], true, never).is_err());
        // The last mount decides; a bind of a devpts keeps the terminal working.
        assert!(validate_terminal(&[bind.clone(), devpts], true, never).is_ok());
        assert!(validate_terminal(&[bind], true, |_| true).is_ok());
        assert!(validate_terminal(&[], true, never).is_ok());
    }
}
