//! The container's filesystem view, set up by the init inside its new mount namespace:
//! root propagation, the rootfs bind, the spec's mounts (in order, resolved inside the rootfs
//! and mounted through `/proc/self/fd/N`), /dev, pivot_root (or MS_MOVE + chroot), then masked
//! paths, read-only paths and a read-only root. Owns mount flag parsing and these steps; it
//! does not create device nodes ([`super::devices`]) or touch cgroups.

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use oci_spec::runtime::{Mount, Spec};

use super::safe_path::{ensure_in_root, fd_path};

/// Mount flags and data parsed from fstab-style options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOpts {
    /// Flags to set.
    pub flags: MsFlags,
    /// Flags explicitly cleared ("rw", "suid" …), for remounts.
    pub clear: MsFlags,
    /// Propagation changes applied after the mount.
    pub propagation: Vec<MsFlags>,
    /// Filesystem-specific data ("mode=755,size=64k").
    pub data: String,
    /// A bind mount ("bind"/"rbind").
    pub bind: bool,
}

/// Parses mount options.
pub fn parse_options(options: &[String]) -> MountOpts {
    let mut o = MountOpts {
        flags: MsFlags::empty(),
        clear: MsFlags::empty(),
        propagation: Vec::new(),
        data: String::new(),
        bind: false,
    };
    let mut data = Vec::new();
    for opt in options {
        let (set, clear) = match opt.as_str() {
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
            "remount" => (MsFlags::MS_REMOUNT, MsFlags::empty()),
            "mand" => (MsFlags::MS_MANDLOCK, MsFlags::empty()),
            "nomand" => (MsFlags::empty(), MsFlags::MS_MANDLOCK),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "nostrictatime" => (MsFlags::empty(), MsFlags::MS_STRICTATIME),
            "bind" => {
                o.bind = true;
                (MsFlags::MS_BIND, MsFlags::empty())
            }
            "rbind" => {
                o.bind = true;
                (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty())
            }
            "private" => {
                o.propagation.push(MsFlags::MS_PRIVATE);
                continue;
            }
            "rprivate" => {
                o.propagation.push(MsFlags::MS_PRIVATE | MsFlags::MS_REC);
                continue;
            }
            "shared" => {
                o.propagation.push(MsFlags::MS_SHARED);
                continue;
            }
            "rshared" => {
                o.propagation.push(MsFlags::MS_SHARED | MsFlags::MS_REC);
                continue;
            }
            "slave" => {
                o.propagation.push(MsFlags::MS_SLAVE);
                continue;
            }
            "rslave" => {
                o.propagation.push(MsFlags::MS_SLAVE | MsFlags::MS_REC);
                continue;
            }
            "unbindable" => {
                o.propagation.push(MsFlags::MS_UNBINDABLE);
                continue;
            }
            "runbindable" => {
                o.propagation.push(MsFlags::MS_UNBINDABLE | MsFlags::MS_REC);
                continue;
            }
            // Accepted and meaningless for us (podman/docker pass them).
            "tmpcopyup" | "defaults" | "" => continue,
            other => {
                data.push(other.to_string());
                continue;
            }
        };
        o.flags.insert(set);
        o.flags.remove(clear);
        o.clear.insert(clear);
        o.clear.remove(set);
    }
    o.data = data.join(",");
    o
}

/// The propagation of the root mount (rootfsPropagation; default rslave).
fn root_propagation(spec: &Spec) -> Result<MsFlags, String> {
    let p = spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().clone());
    Ok(match p.as_deref() {
        None | Some("") | Some("rslave") => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        Some("slave") => MsFlags::MS_SLAVE,
        Some("rprivate") => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        Some("private") => MsFlags::MS_PRIVATE,
        Some("rshared") => MsFlags::MS_SHARED | MsFlags::MS_REC,
        Some("shared") => MsFlags::MS_SHARED,
        Some("runbindable") => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        Some("unbindable") => MsFlags::MS_UNBINDABLE,
        Some(other) => {
            return Err(format!(
                "linux.rootfsPropagation {other:?}: use shared, slave, private or unbindable (r-prefixed too)"
            ))
        }
    })
}

fn mnt(
    src: Option<&str>,
    target: &str,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<(), Errno> {
    mount(src, target, fstype, flags, data)
}

/// Step 1, as runc's prepareRoot: apply linux.rootfsPropagation (default rslave) to the whole
/// mount tree of the new namespace — `rshared` keeps the host's shared mounts peers of ours, so
/// an `rbind,rshared` volume carries mounts made inside back to the host — then make the mount
/// holding the rootfs private (the bind below must not propagate, and pivot_root refuses a
/// shared parent), and bind the rootfs onto itself (pivot_root needs a mount point). Returns
/// an `O_PATH` fd of the rootfs.
pub fn prepare_root(spec: &Spec, rootfs: &Path) -> Result<OwnedFd, String> {
    let prop = root_propagation(spec)?;
    mnt(None, "/", None, prop, None)
        .map_err(|e| format!("set linux.rootfsPropagation on /: {e}"))?;
    // The mount the rootfs lies on (itself when it is a mount point, as an image's overlay).
    if let Some(m) = mount_of(rootfs) {
        mnt(None, &m.mount_point, None, MsFlags::MS_PRIVATE, None).map_err(|e| {
            format!(
                "make {} (the mount holding the rootfs) private: {e}",
                m.mount_point
            )
        })?;
    }
    mount(
        Some(rootfs),
        rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| format!("bind rootfs {}: {e}", rootfs.display()))?;
    nix::fcntl::open(
        rootfs,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map(|fd| unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) })
    .map_err(|e| format!("open rootfs {}: {e}", rootfs.display()))
}

/// One line of /proc/self/mountinfo, the parts pivot_root's diagnosis needs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct MountEntry {
    /// Where it is mounted (octal escapes such as `\040` decoded).
    mount_point: String,
    /// The filesystem type (`rootfs` for an initramfs root).
    fstype: String,
    /// It has shared propagation (`shared:N` among the optional fields).
    shared: bool,
}

/// Parses one mountinfo line (proc(5)): id, parent, dev, root, mount point, options,
/// optional fields up to `-`, then type.
fn parse_mountinfo_line(line: &str) -> Option<MountEntry> {
    let mut f = line.split(' ');
    let mount_point = unescape(f.nth(4)?);
    let rest: Vec<&str> = f.skip(1).collect();
    let dash = rest.iter().position(|x| *x == "-")?;
    Some(MountEntry {
        mount_point,
        fstype: rest.get(dash + 1)?.to_string(),
        shared: rest[..dash].iter().any(|o| o.starts_with("shared:")),
    })
}

/// Decodes mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The mount `path` lies on in this mount namespace (the last, i.e. topmost, of the mounts
/// with the longest mount point containing it).
fn mount_of(path: &Path) -> Option<MountEntry> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mut best: Option<MountEntry> = None;
    for m in text.lines().filter_map(parse_mountinfo_line) {
        if path.starts_with(&m.mount_point)
            && best
                .as_ref()
                .is_none_or(|b| m.mount_point.len() >= b.mount_point.len())
        {
            best = Some(m);
        }
    }
    best
}

/// What cgroup mounts need to know, supplied by the caller once the process is in its cgroup
/// (this module reads no cgroup state of its own).
#[derive(Debug, Clone, Default)]
pub struct CgroupMounts {
    /// The host runs cgroup v2 (a `cgroup2` mount), else v1 or hybrid.
    pub v2: bool,
    /// On v1: each hierarchy's mount point and the options that mount it again (controllers,
    /// `name=…`).
    pub v1_hierarchies: Vec<(PathBuf, Vec<String>)>,
    /// The container's own cgroup directories on the host (controller, or "unified" on v2 →
    /// directory), bound where cgroupfs cannot be mounted.
    pub dirs: BTreeMap<String, PathBuf>,
    /// The container has its own cgroup namespace (so it may mount cgroupfs).
    pub private_ns: bool,
}

/// Step 2: the spec's mounts, in order. `bundle` resolves relative bind sources.
/// `before_cgroup_mount` runs before each cgroup mount: the init uses it to wait until it is in
/// its cgroup (and has its cgroup namespace); it returns what the mount needs to know.
/// Returns true when /dev is a fresh filesystem (so device nodes must be created).
pub fn mount_all(
    spec: &Spec,
    root: &OwnedFd,
    bundle: &Path,
    before_cgroup_mount: &mut dyn FnMut() -> Result<CgroupMounts, String>,
) -> Result<bool, String> {
    let mut dev_is_fresh = false;
    for m in spec.mounts().iter().flatten() {
        let view = if matches!(m.typ().as_deref(), Some("cgroup") | Some("cgroup2")) {
            before_cgroup_mount()?
        } else {
            CgroupMounts::default()
        };
        mount_one(m, root, bundle, &view).map_err(|e| {
            format!(
                "mount {} on {}: {e}",
                m.source().as_deref().unwrap_or(Path::new("none")).display(),
                m.destination().display()
            )
        })?;
        if m.destination() == Path::new("/dev") {
            let opts = parse_options(m.options().as_deref().unwrap_or(&[]));
            dev_is_fresh = !opts.bind;
        }
    }
    Ok(dev_is_fresh)
}

fn mount_one(
    m: &Mount,
    root: &OwnedFd,
    bundle: &Path,
    cgroup_dirs: &CgroupMounts,
) -> Result<(), String> {
    let dest = m.destination();
    if !dest.is_absolute() {
        return Err(format!("destination {} must be absolute", dest.display()));
    }
    let opts = parse_options(m.options().as_deref().unwrap_or(&[]));
    let typ = m.typ().clone().unwrap_or_default();
    let bind = opts.bind || typ == "bind";
    if typ == "cgroup" || typ == "cgroup2" {
        return mount_cgroup(dest, root, &opts, cgroup_dirs);
    }
    if bind {
        let src = m.source().clone().ok_or("a bind mount needs a source")?;
        let src = if src.is_absolute() {
            src
        } else {
            bundle.join(src)
        };
        let meta = std::fs::metadata(&src).map_err(|e| format!("source {}: {e}", src.display()))?;
        let target = ensure_in_root(root.as_raw_fd(), dest, meta.is_dir())?;
        check_resolved(dest, root, &target, &typ, true, || {
            nix::sys::statfs::statfs(&src)
                .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC)
        })?;
        let tp = fd_path(&target);
        let flags = opts.flags | MsFlags::MS_BIND;
        mount(
            Some(&src),
            tp.as_str(),
            None::<&str>,
            flags & (MsFlags::MS_BIND | MsFlags::MS_REC),
            None::<&str>,
        )
        .map_err(|e| e.to_string())?;
        let extra = flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
        if !extra.is_empty() {
            // Re-open: the fd still points at the covered directory, the new mount is on top.
            let target = ensure_in_root(root.as_raw_fd(), dest, meta.is_dir())?;
            let tp = fd_path(&target);
            remount_keeping_locked(&tp, extra)?;
        }
        apply_propagation(root, dest, &opts)?;
        return Ok(());
    }
    let target = ensure_in_root(root.as_raw_fd(), dest, true)?;
    check_resolved(dest, root, &target, &typ, false, || false)?;
    let tp = fd_path(&target);
    let src = m
        .source()
        .as_ref()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| typ.clone());
    let mut data = opts.data.clone();
    if typ == "tmpfs" && !data.split(',').any(|o| o.starts_with("mode=")) {
        // A tmpfs without mode= keeps the mode of the folder it covers (runc, crun), not
        // tmpfs's own 1777: an image's 0750 folder stays 0750.
        let st = nix::sys::stat::fstat(target.as_raw_fd())
            .map_err(|e| format!("stat {}: {e}", dest.display()))?;
        let mode = format!("mode={:o}", st.st_mode & 0o7777);
        data = if data.is_empty() {
            mode
        } else {
            format!("{data},{mode}")
        };
    }
    let data = (!data.is_empty()).then_some(data.as_str());
    let mut flags = opts.flags & !MsFlags::MS_REMOUNT;
    if dest == Path::new("/dev") {
        // The device nodes, /dev/pts and the links are made in it later: read-only comes
        // with a remount once they exist ([`finish`]), as runc does.
        flags.remove(MsFlags::MS_RDONLY);
    }
    match mount(
        Some(src.as_str()),
        tp.as_str(),
        Some(typ.as_str()),
        flags,
        data,
    ) {
        Ok(()) => {}
        // sysfs cannot be mounted without a new network namespace: bind the host's instead.
        Err(Errno::EPERM) if typ == "sysfs" => {
            mount(
                Some("/sys"),
                tp.as_str(),
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
            .map_err(|e| format!("bind /sys: {e}"))?;
            let target = ensure_in_root(root.as_raw_fd(), dest, true)?;
            remount_keeping_locked(&fd_path(&target), flags)?;
        }
        // mqueue needs its own IPC namespace; without one bind the host's.
        Err(Errno::EPERM) if typ == "mqueue" => {
            mount(
                Some("/dev/mqueue"),
                tp.as_str(),
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(|e| format!("bind /dev/mqueue: {e}"))?;
        }
        Err(e) => return Err(format!("{typ}: {e}")),
    }
    apply_propagation(root, dest, &opts)
}

/// Applies [`crate::spec::mount_check::check`] to the place `dest` resolved to inside the
/// rootfs (`target`, opened from `root`), when a symlink on the way moved it: create checked
/// only the destination as written, and `/myproc/sys` with `/myproc -> proc` in the image
/// is inside /proc all the same (runc checks the resolved path too).
fn check_resolved(
    dest: &Path,
    root: &OwnedFd,
    target: &OwnedFd,
    typ: &str,
    bind: bool,
    source_is_proc: impl FnOnce() -> bool,
) -> Result<(), String> {
    let (Ok(root_path), Ok(target_path)) = (
        std::fs::read_link(fd_path(root)),
        std::fs::read_link(fd_path(target)),
    ) else {
        return Ok(());
    };
    let Ok(inside) = target_path.strip_prefix(&root_path) else {
        return Ok(());
    };
    let resolved = Path::new("/").join(inside);
    if resolved == crate::spec::mount_check::clean(dest) {
        return Ok(());
    }
    crate::spec::mount_check::check(&resolved, typ, bind, source_is_proc).map_err(|e| {
        format!(
            "it leads to {} through a symlink in the rootfs: {e}",
            resolved.display()
        )
    })
}

fn apply_propagation(root: &OwnedFd, dest: &Path, opts: &MountOpts) -> Result<(), String> {
    for p in &opts.propagation {
        let target = ensure_in_root(root.as_raw_fd(), dest, true)?;
        mount(
            None::<&str>,
            fd_path(&target).as_str(),
            None::<&str>,
            *p,
            None::<&str>,
        )
        .map_err(|e| format!("set propagation: {e}"))?;
    }
    Ok(())
}

/// Linux's `ST_RELATIME` statvfs flag (musl's headers, and so nix on musl, do not name it).
const ST_RELATIME: nix::sys::statvfs::FsFlags =
    nix::sys::statvfs::FsFlags::from_bits_retain(0x1000);

/// Remounts a bind mount with `flags`, keeping the flags the kernel locks (nosuid, nodev,
/// noexec, atime flags) so the remount also works in a user namespace.
fn remount_keeping_locked(target: &str, flags: MsFlags) -> Result<(), String> {
    let mut locked = MsFlags::empty();
    if let Ok(st) = nix::sys::statvfs::statvfs(target) {
        use nix::sys::statvfs::FsFlags;
        let f = st.flags();
        for (ff, mf) in [
            (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
            (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
            (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
            (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
            (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
            (ST_RELATIME, MsFlags::MS_RELATIME),
        ] {
            if f.contains(ff) {
                locked |= mf;
            }
        }
    }
    let all = flags | locked | MsFlags::MS_BIND | MsFlags::MS_REMOUNT;
    mount(None::<&str>, target, None::<&str>, all, None::<&str>)
        .map_err(|e| format!("remount {flags:?}: {e}"))
}

/// cgroup mounts: cgroup2 on v2; on v1 a tmpfs with one cgroup mount per hierarchy.
fn mount_cgroup(
    dest: &Path,
    root: &OwnedFd,
    opts: &MountOpts,
    cgroup_dirs: &CgroupMounts,
) -> Result<(), String> {
    let flags = (opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT))
        | MsFlags::MS_NOSUID
        | MsFlags::MS_NODEV
        | MsFlags::MS_NOEXEC;
    let target = ensure_in_root(root.as_raw_fd(), dest, true)?;
    if cgroup_dirs.v2 {
        if !cgroup_dirs.private_ns {
            let own = cgroup_dirs
                .dirs
                .get("unified")
                .ok_or("no cgroup directory to bind")?;
            mount(
                Some(own),
                fd_path(&target).as_str(),
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(|e| format!("bind {}: {e}", own.display()))?;
            let t = ensure_in_root(root.as_raw_fd(), dest, true)?;
            return remount_keeping_locked(&fd_path(&t), flags);
        }
        return mount(
            Some("cgroup2"),
            fd_path(&target).as_str(),
            Some("cgroup2"),
            flags,
            None::<&str>,
        )
        .map_err(|e| format!("cgroup2: {e}"));
    }
    let ro = flags.contains(MsFlags::MS_RDONLY);
    mount(
        Some("tmpfs"),
        fd_path(&target).as_str(),
        Some("tmpfs"),
        flags & !MsFlags::MS_RDONLY,
        Some("mode=755"),
    )
    .map_err(|e| format!("tmpfs: {e}"))?;
    let mut links = Vec::new();
    for (mp, ctrls) in &cgroup_dirs.v1_hierarchies {
        // Only the hierarchies below /sys/fs/cgroup (what a container sees there).
        if !mp.starts_with("/sys/fs/cgroup") || mp == Path::new("/sys/fs/cgroup") {
            continue;
        }
        let Some(name) = mp.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        let sub = dest.join(&name);
        let t = ensure_in_root(root.as_raw_fd(), &sub, true)?;
        let data = ctrls.join(",");
        let res = if cgroup_dirs.private_ns {
            mount(
                Some("cgroup"),
                fd_path(&t).as_str(),
                Some("cgroup"),
                flags,
                Some(data.as_str()),
            )
        } else {
            Err(Errno::EPERM) // without a cgroup namespace: bind the container's own group
        };
        match res {
            Ok(()) => {}
            // cgroup v1 cannot be mounted from a user namespace: bind the container's own
            // cgroup directory of this hierarchy (if it has one) instead.
            Err(Errno::EPERM) => {
                if let Some(own) = ctrls.iter().find_map(|c| cgroup_dirs.dirs.get(c)) {
                    mount(
                        Some(own),
                        fd_path(&t).as_str(),
                        None::<&str>,
                        MsFlags::MS_BIND,
                        None::<&str>,
                    )
                    .map_err(|e| format!("bind {}: {e}", own.display()))?;
                    let t = ensure_in_root(root.as_raw_fd(), &sub, true)?;
                    remount_keeping_locked(&fd_path(&t), flags)?;
                }
            }
            Err(e) => return Err(format!("cgroup {data}: {e}")),
        }
        if name.contains(',') {
            for part in name.split(',') {
                links.push((part.to_string(), name.clone()));
            }
        }
    }
    let dir = ensure_in_root(root.as_raw_fd(), dest, true)?;
    let dirfd =
        super::safe_path::open_in_root(root.as_raw_fd(), dest, libc::O_DIRECTORY | libc::O_RDONLY)
            .map_err(|e| format!("open {}: {e}", dest.display()))?;
    drop(dir);
    for (link, to) in links {
        let _ = nix::unistd::symlinkat(to.as_str(), Some(dirfd.as_raw_fd()), link.as_str());
    }
    if ro {
        let t = ensure_in_root(root.as_raw_fd(), dest, true)?;
        remount_keeping_locked(&fd_path(&t), MsFlags::MS_RDONLY)?;
    }
    Ok(())
}

/// Step 3: make `rootfs` the root. pivot_root unless `no_pivot`. When pivot_root fails, the
/// cause is read from the mount table: only a root that is an initramfs (type `rootfs`, which
/// cannot be pivoted) falls back to MS_MOVE + chroot, with a warning; a shared mount in the
/// way, or anything else, is an error naming it.
pub fn enter_root(rootfs: &Path, no_pivot: bool) -> Result<(), String> {
    if !no_pivot {
        match pivot(rootfs) {
            Ok(()) => return Ok(()),
            Err(e) => {
                let root = mount_of(Path::new("/"));
                if root.as_ref().is_some_and(|r| r.fstype == "rootfs") {
                    eprintln!("tinibox: warning: pivot_root is not possible here (the host root is an initramfs); using MS_MOVE + chroot");
                } else {
                    return Err(pivot_failure(rootfs, e, root.as_ref()));
                }
            }
        }
    }
    nix::unistd::chdir(rootfs).map_err(|e| format!("chdir {}: {e}", rootfs.display()))?;
    mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
        .map_err(|e| format!("move rootfs onto /: {e}"))?;
    nix::unistd::chroot(".").map_err(|e| format!("chroot: {e}"))?;
    nix::unistd::chdir("/").map_err(|e| format!("chdir /: {e}"))
}

/// For a container without a mount namespace of its own (none in linux.namespaces): refuses
/// what would have to be mounted in the caller's (host's) mount namespace and stay there —
/// `mounts`, `linux.maskedPaths`, `linux.readonlyPaths`, `root.readonly` (runc makes such
/// mounts on the host and leaves them behind; it refuses masked and read-only paths too).
pub fn refuse_shared_mounts(spec: &Spec) -> Result<(), String> {
    let linux = spec.linux().as_ref();
    let fields = [
        (
            "mounts",
            spec.mounts().as_ref().is_some_and(|m| !m.is_empty()),
        ),
        (
            "linux.maskedPaths",
            linux
                .and_then(|l| l.masked_paths().as_ref())
                .is_some_and(|m| !m.is_empty()),
        ),
        (
            "linux.readonlyPaths",
            linux
                .and_then(|l| l.readonly_paths().as_ref())
                .is_some_and(|m| !m.is_empty()),
        ),
        (
            "root.readonly",
            spec.root()
                .as_ref()
                .and_then(|r| r.readonly())
                .unwrap_or(false),
        ),
    ];
    match fields.iter().find(|(_, set)| *set) {
        Some((field, _)) => Err(format!(
            "{field}: the container has no mount namespace (none in linux.namespaces), so this \
             would change the host's mounts; add {{\"type\":\"mount\"}} or remove {field}"
        )),
        None => Ok(()),
    }
}

/// Step 3 for a container sharing the caller's mount namespace: chroot into `rootfs` (no
/// pivot_root or MS_MOVE, which would change the host's mounts).
pub fn chroot_into(rootfs: &Path) -> Result<(), String> {
    nix::unistd::chdir(rootfs).map_err(|e| format!("chdir {}: {e}", rootfs.display()))?;
    nix::unistd::chroot(".").map_err(|e| format!("chroot {}: {e}", rootfs.display()))?;
    nix::unistd::chdir("/").map_err(|e| format!("chdir /: {e}"))
}

/// The error of a failed pivot_root into `rootfs`, naming what the kernel refused: a shared
/// mount (the root `/`, or the mount holding the rootfs), else the errno alone.
fn pivot_failure(rootfs: &Path, e: Errno, root: Option<&MountEntry>) -> String {
    let parent = mount_of(rootfs);
    let shared: Vec<String> = [root, parent.as_ref()]
        .into_iter()
        .flatten()
        .filter(|m| m.shared)
        .map(|m| m.mount_point.clone())
        .collect();
    if e == Errno::EINVAL && !shared.is_empty() {
        format!(
            "pivot_root into {}: {e}: the mount {} is shared (linux.rootfsPropagation \
             \"shared\"/\"rshared\" on a root that is not below a mount of its own); use \
             rslave or rprivate, or put the rootfs on its own mount",
            rootfs.display(),
            shared.join(" and ")
        )
    } else {
        format!("pivot_root into {}: {e}", rootfs.display())
    }
}

fn pivot(rootfs: &Path) -> Result<(), Errno> {
    use nix::fcntl::{open, OFlag};
    use nix::sys::stat::Mode;
    let old = open(
        "/",
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let new = open(
        rootfs,
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let res = (|| {
        nix::unistd::fchdir(new)?;
        nix::unistd::pivot_root(".", ".")?;
        // The old root is now stacked under the new one at "."; detach it.
        nix::unistd::fchdir(old)?;
        mount(
            None::<&str>,
            ".",
            None::<&str>,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None::<&str>,
        )?;
        umount2(".", MntFlags::MNT_DETACH)?;
        nix::unistd::chdir("/")
    })();
    let _ = nix::unistd::close(old);
    let _ = nix::unistd::close(new);
    res
}

/// Step 4 (after entering the root): /dev read-only when its mount asked (made rw first, see
/// `mount_one`), masked paths, read-only paths, read-only root, a shared or unbindable root.
pub fn finish(spec: &Spec) -> Result<(), String> {
    let dev_readonly = spec.mounts().iter().flatten().any(|m| {
        m.destination() == Path::new("/dev")
            && parse_options(m.options().as_deref().unwrap_or(&[]))
                .flags
                .contains(MsFlags::MS_RDONLY)
    });
    if dev_readonly {
        remount_keeping_locked("/dev", MsFlags::MS_RDONLY)
            .map_err(|e| format!("make /dev read-only: {e}"))?;
    }
    let linux = spec.linux().as_ref();
    for p in linux
        .and_then(|l| l.masked_paths().as_ref())
        .into_iter()
        .flatten()
    {
        mask(Path::new(p))?;
    }
    for p in linux
        .and_then(|l| l.readonly_paths().as_ref())
        .into_iter()
        .flatten()
    {
        readonly(Path::new(p))?;
    }
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        remount_keeping_locked("/", MsFlags::MS_RDONLY | MsFlags::MS_REC)
            .map_err(|e| format!("make the root read-only: {e}"))?;
    }
    // A shared or unbindable root is made so on the container's own root mount, after
    // pivot_root: `prepare_root` set it on the namespace's old root, but the rootfs was bound
    // from a private mount, so the new root starts private (a mount made inside would not
    // reach a bind of `/`; a bind of `/` would succeed where the spec says it must fail).
    // Only the root mount itself: the mounts below keep what their own options asked (an
    // `rshared` volume stays a peer of the host's). slave and private need nothing more (a
    // private root is both).
    let prop = root_propagation(spec)?;
    let on_root = prop & (MsFlags::MS_SHARED | MsFlags::MS_UNBINDABLE);
    if !on_root.is_empty() {
        mnt(None, "/", None, on_root, None)
            .map_err(|e| format!("set linux.rootfsPropagation on the container's root: {e}"))?;
    }
    Ok(())
}

fn mask(p: &Path) -> Result<(), String> {
    let meta = match std::fs::symlink_metadata(p) {
        Ok(m) => m,
        Err(_) => return Ok(()), // nothing to hide
    };
    let res = if meta.is_dir() {
        mount(
            Some("tmpfs"),
            p,
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            Some("size=0,mode=555"),
        )
    } else {
        mount(
            Some("/dev/null"),
            p,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
    };
    res.map_err(|e| format!("mask {}: {e}", p.display()))
}

fn readonly(p: &Path) -> Result<(), String> {
    if std::fs::symlink_metadata(p).is_err() {
        return Ok(());
    }
    mount(
        Some(p),
        p,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| format!("bind {} read-only: {e}", p.display()))?;
    remount_keeping_locked(&p.to_string_lossy(), MsFlags::MS_RDONLY | MsFlags::MS_REC)
        .map_err(|e| format!("{}: {e}", p.display()))
}

/// The rootfs of a spec, made absolute against the bundle.
pub fn rootfs_path(spec: &Spec, bundle: &Path) -> Result<PathBuf, String> {
    let root = spec
        .root()
        .as_ref()
        .ok_or("root: missing (set root.path)")?;
    let p = root.path();
    let p = if p.is_absolute() {
        p.clone()
    } else {
        bundle.join(p)
    };
    match std::fs::metadata(&p) {
        Ok(m) if m.is_dir() => Ok(p),
        Ok(_) => Err(format!("root.path {} is not a directory", p.display())),
        Err(e) => Err(format!("root.path {}: {e}", p.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_env = "gnu")]
    #[test]
    fn mountinfo_lines_are_parsed() {
        let m = parse_mountinfo_line(
            "36 35 98:0 /mnt1 /mnt\\040x rw,noatime master:1 shared:7 - ext3 /dev/root rw",
        )
        .unwrap();
        assert_eq!(m.mount_point, "/mnt x");
        assert_eq!(m.fstype, "ext3");
        assert!(m.shared);
        let m = parse_mountinfo_line("1 1 0:2 / / rw - rootfs rootfs rw").unwrap();
        assert_eq!((m.fstype.as_str(), m.shared), ("rootfs", false));
        assert!(parse_mountinfo_line("garbage").is_none());
    }

    #[test]
    fn own_relatime_flag_matches_glibc() {
        assert_eq!(ST_RELATIME.bits(), libc::ST_RELATIME);
    }

    fn o(v: &[&str]) -> MountOpts {
        parse_options(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn option_parsing() {
        let m = o(&[
            "rbind",
            "ro",
            "nosuid",
            "rprivate",
            "mode=755",
            "size=65536k",
        ]);
        assert!(m.bind);
        assert!(m.flags.contains(
            MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID
        ));
        assert_eq!(m.propagation, vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC]);
        assert_eq!(m.data, "mode=755,size=65536k");
        let m = o(&["ro", "rw"]);
        assert!(!m.flags.contains(MsFlags::MS_RDONLY));
        assert!(m.clear.contains(MsFlags::MS_RDONLY));
    }
}
