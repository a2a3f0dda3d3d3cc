//! Mount destinations that would defeat the container's own hardening, refused at create as
//! runc 1.1.5 refuses them (issue 15 item 21).
//!
//! A bind mount over `/proc` hides the procfs the masked and read-only paths protect, and a
//! bind mount inside `/proc` can replace a file the kernel's hardening depends on (the
//! CVE-2019-16884/CVE-2019-19921 family). The rule, measured against runc 1.1.5:
//!
//! - a bind mount (type `bind`, or option `bind`/`rbind`) at `/proc` is refused unless its
//!   source is itself a procfs;
//! - a bind mount below `/proc` is refused, except over the files LXCFS emulates
//!   ([`LXCFS_FILES`]);
//! - other types (tmpfs, proc …) below `/proc`, and mounts over `/sys/fs/cgroup` or `/dev/pts`,
//!   are accepted, as runc accepts them.
//!
//! Destinations are compared after lexical clean-up (`.`, `..`, repeated `/`). Pure: the
//! caller says whether a source is a procfs.

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

/// Checks every mount; `Err` names the first refused one (`mounts[i]`), why and what to do.
/// `is_proc(source)` says whether a bind source is a procfs.
pub fn validate(mounts: &[Mount], is_proc: impl Fn(&Path) -> bool) -> Result<(), String> {
    for (i, m) in mounts.iter().enumerate() {
        let bind = m.typ().as_deref() == Some("bind")
            || m.options()
                .as_deref()
                .unwrap_or(&[])
                .iter()
                .any(|o| o == "bind" || o == "rbind");
        if !bind {
            continue;
        }
        let dest = clean(m.destination());
        let Ok(below) = dest.strip_prefix("/proc") else {
            continue;
        };
        let source = m.source().clone().unwrap_or_default();
        if below.as_os_str().is_empty() {
            if is_proc(&source) {
                continue;
            }
            return Err(format!(
                "mounts[{i}]: {} cannot be mounted because it is not of type proc: a bind \
                 mount over /proc would hide the container's procfs; mount it elsewhere",
                m.destination().display()
            ));
        }
        if LXCFS_FILES.iter().any(|f| dest == Path::new(f)) {
            continue;
        }
        return Err(format!(
            "mounts[{i}]: {} cannot be mounted because it is inside /proc; mount it elsewhere",
            m.destination().display()
        ));
    }
    Ok(())
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
}
