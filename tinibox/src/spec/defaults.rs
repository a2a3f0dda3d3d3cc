//! The runc/Docker-compatible default runtime spec: Docker's capability set, the standard
//! pseudo-filesystem mounts, masked and read-only paths, the device allow-list, namespaces,
//! `noNewPrivileges`, rlimits and the default seccomp profile.
//!
//! Owns only the defaults; flags are applied on top by [`super::run`]. Must not touch the
//! filesystem or the running system.

use std::path::PathBuf;

use oci_spec::runtime::{
    Capabilities, Capability, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxDeviceCgroup,
    LinuxDeviceCgroupBuilder, LinuxDeviceType, LinuxNamespaceBuilder, LinuxNamespaceType,
    LinuxResourcesBuilder, Mount, MountBuilder, PosixRlimitBuilder, PosixRlimitType,
    ProcessBuilder, RootBuilder, Spec, SpecBuilder, UserBuilder,
};

use super::SpecError;

/// Docker's default capability set (what `docker run` grants without `--cap-add`).
pub const DEFAULT_CAPABILITIES: [Capability; 14] = [
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fsetid,
    Capability::Fowner,
    Capability::Mknod,
    Capability::NetRaw,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setfcap,
    Capability::Setpcap,
    Capability::NetBindService,
    Capability::SysChroot,
    Capability::Kill,
    Capability::AuditWrite,
];

/// Paths hidden from the container (a /dev/null or empty read-only tmpfs over them).
pub const MASKED_PATHS: [&str; 11] = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths remounted read-only inside the container.
pub const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The default `PATH` of a container process.
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Docker's default capabilities as a set.
pub fn default_capabilities() -> Capabilities {
    DEFAULT_CAPABILITIES.iter().copied().collect()
}

/// Every capability tinibox itself holds in its bounding set (what `--privileged` and
/// `--cap-add ALL` grant): a container cannot get more than its runtime has.
pub fn all_capabilities() -> Capabilities {
    let held = caps::read(None, caps::CapSet::Bounding).unwrap_or_else(|_| caps::all());
    held.into_iter()
        .filter_map(|c| {
            let name = c.to_string();
            name.strip_prefix("CAP_")
                .and_then(|n| n.parse::<Capability>().ok())
        })
        .collect()
}

fn mount(dest: &str, typ: &str, source: &str, options: &[&str]) -> Result<Mount, SpecError> {
    Ok(MountBuilder::default()
        .destination(PathBuf::from(dest))
        .typ(typ)
        .source(PathBuf::from(source))
        .options(options.iter().map(|o| o.to_string()).collect::<Vec<_>>())
        .build()?)
}

/// The standard mounts: /proc, /dev (tmpfs), /dev/pts, /dev/shm, /dev/mqueue, /sys (read-only).
pub fn default_mounts() -> Result<Vec<Mount>, SpecError> {
    Ok(vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])?,
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        )?,
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        )?,
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        )?,
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        )?,
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        )?,
    ])
}

fn char_dev(
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> Result<LinuxDeviceCgroup, SpecError> {
    let mut b = LinuxDeviceCgroupBuilder::default()
        .allow(true)
        .typ(LinuxDeviceType::C)
        .access(access);
    if let Some(m) = major {
        b = b.major(m);
    }
    if let Some(m) = minor {
        b = b.minor(m);
    }
    Ok(b.build()?)
}

/// The device cgroup rules: deny everything, allow mknod of any node (as Docker does; opening
/// is still refused), and read/write of null, zero, full, random, urandom, tty, console, ptmx
/// and the pts slaves.
pub fn default_device_rules() -> Result<Vec<LinuxDeviceCgroup>, SpecError> {
    Ok(vec![
        LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()?,
        char_dev(None, None, "m")?,
        LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::B)
            .access("m")
            .build()?,
        char_dev(Some(1), Some(3), "rwm")?, // null
        char_dev(Some(1), Some(5), "rwm")?, // zero
        char_dev(Some(1), Some(7), "rwm")?, // full
        char_dev(Some(1), Some(8), "rwm")?, // random
        char_dev(Some(1), Some(9), "rwm")?, // urandom
        char_dev(Some(5), Some(0), "rwm")?, // tty
        char_dev(Some(5), Some(1), "rwm")?, // console
        char_dev(Some(5), Some(2), "rwm")?, // ptmx
        char_dev(Some(136), None, "rwm")?,  // pts/*
    ])
}

/// The device cgroup rule of `--privileged`: every device allowed.
pub fn allow_all_devices() -> Result<Vec<LinuxDeviceCgroup>, SpecError> {
    Ok(vec![LinuxDeviceCgroupBuilder::default()
        .allow(true)
        .access("rwm")
        .build()?])
}

/// The namespaces of a default container: pid, network, ipc, uts, mount, cgroup.
pub fn default_namespaces() -> Result<Vec<oci_spec::runtime::LinuxNamespace>, SpecError> {
    [
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Network,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Cgroup,
    ]
    .into_iter()
    .map(|t| Ok(LinuxNamespaceBuilder::default().typ(t).build()?))
    .collect()
}

/// A runc-compatible default spec: `sh` as root in `rootfs`, Docker's capabilities, the
/// standard mounts, masked/read-only paths, default devices, six namespaces,
/// `noNewPrivileges`, RLIMIT_NOFILE 1024 and the default seccomp profile.
pub fn default_spec() -> Result<Spec, SpecError> {
    let caps = default_capabilities();
    let capabilities = LinuxCapabilitiesBuilder::default()
        .bounding(caps.clone())
        .effective(caps.clone())
        .permitted(caps)
        .inheritable(Capabilities::new())
        .ambient(Capabilities::new())
        .build()?;
    let process = ProcessBuilder::default()
        .terminal(false)
        .user(UserBuilder::default().uid(0u32).gid(0u32).build()?)
        .args(vec!["sh".to_string()])
        .env(vec![DEFAULT_PATH.to_string(), "TERM=xterm".to_string()])
        .cwd("/")
        .capabilities(capabilities)
        .rlimits(vec![PosixRlimitBuilder::default()
            .typ(PosixRlimitType::RlimitNofile)
            .hard(1024u64)
            .soft(1024u64)
            .build()?])
        .no_new_privileges(true)
        .build()?;
    let resources = LinuxResourcesBuilder::default()
        .devices(default_device_rules()?)
        .build()?;
    let linux = LinuxBuilder::default()
        .namespaces(default_namespaces()?)
        .resources(resources)
        .masked_paths(
            MASKED_PATHS
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>(),
        )
        .readonly_paths(
            READONLY_PATHS
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>(),
        )
        .build()?;
    let mut linux = linux;
    linux.set_seccomp(super::default_seccomp());
    Ok(SpecBuilder::default()
        .version("1.0.2")
        .root(
            RootBuilder::default()
                .path("rootfs")
                .readonly(false)
                .build()?,
        )
        .process(process)
        .hostname("tinibox")
        .mounts(default_mounts()?)
        .linux(linux)
        .build()?)
}
