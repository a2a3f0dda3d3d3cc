//! `run` flags + an image's defaults → a complete OCI runtime [`Spec`], on top of
//! [`super::default_spec`].
//!
//! Pure: validates every flag (errors name the flag and the fix) and returns a [`SpecPlan`]:
//! the spec and the /etc files the caller writes before creating the container. Everything it
//! needs from the host or the rootfs comes in [`SpecContext::facts`]. Must not read or write
//! files, create containers or touch cgroups.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    Capabilities, LinuxCapabilitiesBuilder, LinuxCpu, LinuxMemory, LinuxNamespaceType,
    LinuxPidsBuilder, LinuxResources, Mount, MountBuilder, PosixRlimitBuilder, Spec,
};

use super::defaults::{self, DEFAULT_PATH};
use super::etc_files::{self, EtcFile};
use super::facts::Facts;
use super::linux_flags;
use super::resources;
use super::values::{self, network_mode, NetworkMode};
use super::{RunFlags, SpecError};

/// Annotation that asks the engine for a tiny reaper as PID 1 (`--init`).
pub use crate::process::reaper::ANNOTATION as INIT_ANNOTATION;

/// What an image contributes to a container (all empty for a plain rootfs directory).
#[derive(Debug, Clone, Default)]
pub struct ImageDefaults {
    /// The image's Entrypoint.
    pub entrypoint: Vec<String>,
    /// The image's Cmd.
    pub cmd: Vec<String>,
    /// The image's Env (KEY=VALUE).
    pub env: Vec<String>,
    /// The image's WorkingDir.
    pub workdir: Option<String>,
    /// The image's User.
    pub user: Option<String>,
}

/// Everything besides the flags that the spec depends on.
#[derive(Debug, Clone)]
pub struct SpecContext<'a> {
    /// The container's root filesystem (absolute); users are resolved inside it.
    pub rootfs: &'a Path,
    /// The command and arguments typed after the rootfs/image.
    pub command: &'a [String],
    /// The image's defaults.
    pub image: &'a ImageDefaults,
    /// Hostname when `-h` is not given (the short container id).
    pub default_hostname: &'a str,
    /// Directory where the container's /etc/hostname, hosts and resolv.conf are to be written.
    pub etc_dir: &'a Path,
    /// What was read from the host and the rootfs ([`Facts::read`]).
    pub facts: &'a Facts,
    /// The container's id (its cgroup's name below `--cgroup-parent`).
    pub id: &'a str,
}

/// What [`build_spec`] returns: the spec, and the files the caller writes before the
/// container is created (the spec bind-mounts them).
#[derive(Debug, Clone)]
pub struct SpecPlan {
    /// The container's runtime spec.
    pub spec: Spec,
    /// The /etc files to write (see [`etc_files::plan`]).
    pub files: Vec<EtcFile>,
}

/// Checks flag combinations and values that need no filesystem access.
pub fn validate(flags: &RunFlags) -> Result<(), SpecError> {
    if let Some(n) = &flags.name {
        values::validate_name(n)?;
    }
    if flags.memory_swap.is_some() && flags.memory.is_none() {
        return Err(SpecError::flag(
            "--memory-swap",
            "set without --memory",
            "also give -m/--memory",
        ));
    }
    if let Some(h) = &flags.hostname {
        let ok = !h.is_empty()
            && h.len() <= 64
            && h.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !ok {
            return Err(SpecError::flag(
                "--hostname",
                format!("invalid hostname {h:?}"),
                "use up to 64 letters, digits, - and .",
            ));
        }
    }
    if let Some(w) = &flags.workdir {
        if !w.starts_with('/') {
            return Err(SpecError::flag(
                "--workdir",
                format!("{w:?} is not absolute"),
                "use an absolute path such as /tmp",
            ));
        }
    }
    let network = network_mode(&flags.network)?;
    if network == NetworkMode::Container {
        for (given, flag) in [
            (flags.hostname.is_some(), "--hostname"),
            (!flags.add_host.is_empty(), "--add-host"),
        ] {
            if given {
                return Err(SpecError::flag(
                    flag,
                    format!("conflicts with --network {}", flags.network),
                    "drop it: the container shares the other container's network and names",
                ));
            }
        }
    }
    if !network.is_bridged() {
        for (given, flag) in [
            (!flags.publish.is_empty() || flags.publish_all, "-p/-P"),
            (!flags.dns.is_empty(), "--dns"),
            (!flags.dns_search.is_empty(), "--dns-search"),
            (flags.ip.is_some(), "--ip"),
            (!flags.network_alias.is_empty(), "--network-alias"),
        ] {
            if given {
                return Err(SpecError::flag(
                    flag,
                    format!("needs a bridge network, not --network {}", flags.network),
                    "drop it or use --network bridge",
                ));
            }
        }
    }
    for d in &flags.dns {
        if d.parse::<std::net::IpAddr>().is_err() {
            return Err(SpecError::flag(
                "--dns",
                format!("{d:?} is not an IP address"),
                "give a nameserver's address, e.g. --dns 192.0.2.53",
            ));
        }
    }
    for d in &flags.dns_search {
        values::dns_search_domain(d)?;
    }
    values::extra_hosts(&flags.add_host)?;
    Ok(())
}

fn bind(dest: &str, source: &Path, readonly: bool) -> Result<Mount, SpecError> {
    let mut options = vec!["rbind".to_string(), "rprivate".to_string()];
    if readonly {
        options.push("ro".to_string());
    }
    Ok(MountBuilder::default()
        .destination(PathBuf::from(dest))
        .typ("bind")
        .source(source.to_path_buf())
        .options(options)
        .build()?)
}

/// Merges KEY=VALUE lists: later entries replace earlier ones with the same key, order kept.
pub fn merge_env(lists: &[Vec<String>]) -> Vec<String> {
    let mut order: Vec<String> = Vec::new();
    let mut values: HashMap<String, String> = HashMap::new();
    for e in lists.iter().flatten() {
        let key = e.split('=').next().unwrap_or("").to_string();
        if !values.contains_key(&key) {
            order.push(key.clone());
        }
        values.insert(key, e.clone());
    }
    order
        .into_iter()
        .filter_map(|k| values.remove(&k))
        .collect()
}

fn capabilities(flags: &RunFlags) -> Result<Capabilities, SpecError> {
    if flags.privileged {
        return Ok(defaults::all_capabilities());
    }
    let mut drop_all = false;
    let mut drops = Vec::new();
    for d in &flags.cap_drop {
        match values::parse_capability("--cap-drop", d)? {
            None => drop_all = true,
            Some(c) => drops.push(c),
        }
    }
    let mut set = if drop_all {
        Capabilities::new()
    } else {
        defaults::default_capabilities()
    };
    for a in &flags.cap_add {
        match values::parse_capability("--cap-add", a)? {
            None => set.extend(defaults::all_capabilities()),
            Some(c) => {
                set.insert(c);
            }
        }
    }
    for d in drops {
        set.remove(&d);
    }
    Ok(set)
}

/// The resources `run`'s flags set (only those), parsed and checked (`--cpu-shares 0` and `--pids-limit 0`
/// are refused here: in a spec, 0 means "not set").
fn resource_flags(flags: &RunFlags, cpus: usize) -> Result<LinuxResources, SpecError> {
    let memory = flags
        .memory
        .as_deref()
        .map(values::parse_memory)
        .transpose()?;
    let memory_swap = flags
        .memory_swap
        .as_deref()
        .map(|s| resources::size_or_unlimited("--memory-swap", s))
        .transpose()?;
    let cpu = flags
        .cpus
        .as_deref()
        .map(|c| values::parse_cpus(c, cpus))
        .transpose()?;
    if let Some(0) = flags.cpu_shares {
        return Err(SpecError::flag(
            "--cpu-shares",
            "0 is not a valid weight",
            "use a value from 2 to 262144 (default 1024)",
        ));
    }
    if let Some(p) = flags.pids_limit {
        if p == 0 || p < -1 {
            return Err(SpecError::flag(
                "--pids-limit",
                format!("invalid limit {p}"),
                "use a positive number, or -1 for unlimited",
            ));
        }
    }
    let mut given = LinuxResources::default();
    if memory.is_some() || memory_swap.is_some() {
        let mut m = LinuxMemory::default();
        m.set_limit(memory).set_swap(memory_swap);
        given.set_memory(Some(m));
    }
    if cpu.is_some() || flags.cpu_shares.is_some() {
        let mut c = LinuxCpu::default();
        c.set_quota(cpu.map(|(q, _)| q))
            .set_period(cpu.map(|(_, p)| p))
            .set_shares(flags.cpu_shares);
        given.set_cpu(Some(c));
    }
    if let Some(limit) = flags.pids_limit {
        given.set_pids(Some(LinuxPidsBuilder::default().limit(limit).build()?));
    }
    Ok(given)
}

/// Asks for the memory, pids, cpu and block I/O controllers without setting a limit, so
/// that the container's group accounts its use on cgroup v1 too (`stats`), as Docker's
/// containers have every controller.
/// Only the controllers in `available` are asked for.
fn accounting(res: &mut LinuxResources, available: &[&str]) {
    let has = |c: &str| available.contains(&c);
    if res.memory().is_none() && has("memory") {
        res.set_memory(Some(LinuxMemory::default()));
    }
    if res.pids().is_none() && has("pids") {
        // A limit of 0 means "not set": the controller, no pids.max.
        if let Ok(p) = LinuxPidsBuilder::default().limit(0).build() {
            res.set_pids(Some(p));
        }
    }
    if res.cpu().is_none() && has("cpu") {
        let mut c = LinuxCpu::default();
        c.set_shares(Some(0));
        res.set_cpu(Some(c));
    }
    if res.block_io().is_none() && has("blkio") {
        res.set_block_io(Some(Default::default()));
    }
}

/// Builds the container's spec and the /etc files to write from the flags and the context.
pub fn build_spec(flags: &RunFlags, ctx: &SpecContext<'_>) -> Result<SpecPlan, SpecError> {
    let facts = ctx.facts;
    validate(flags)?;
    let network = network_mode(&flags.network)?;
    let mut spec = defaults::default_spec()?;

    // What to run.
    let args: Vec<String> = match &flags.entrypoint {
        Some(ep) if ep.is_empty() => ctx.command.to_vec(),
        Some(ep) => std::iter::once(ep.clone())
            .chain(ctx.command.iter().cloned())
            .collect(),
        None => {
            let rest = if ctx.command.is_empty() {
                ctx.image.cmd.clone()
            } else {
                ctx.command.to_vec()
            };
            ctx.image.entrypoint.iter().cloned().chain(rest).collect()
        }
    };
    if args.is_empty() {
        return Err(SpecError::Invalid(
            "no command given and the image has none — add a command after the rootfs, e.g. `tinibox run ROOTFS sh`".into(),
        ));
    }

    // Who runs it.
    let user_spec = flags.user.clone().or_else(|| ctx.image.user.clone());
    let user = match user_spec.as_deref() {
        Some(u) if !u.is_empty() => super::user::resolve(&facts.passwd, &facts.group, u)?,
        _ => super::user::resolve(&facts.passwd, &facts.group, "0")?,
    };

    // Environment: PATH, image, HOME/HOSTNAME/TERM, env files, -e.
    let host_network = match network {
        NetworkMode::Host => Some(facts.host_network.clone().unwrap_or_default()),
        _ => None,
    };
    let hostname = match (&flags.hostname, &host_network) {
        (Some(h), _) => h.clone(),
        (None, Some(host)) => host.hostname.clone(),
        (None, None) => ctx.default_hostname.to_string(),
    };
    let mut base = vec![DEFAULT_PATH.to_string(), format!("HOSTNAME={hostname}")];
    if flags.tty {
        base.push("TERM=xterm".to_string());
    }
    let from_files = facts.env_file_entries()?;
    let mut from_flags = Vec::new();
    for e in &flags.env {
        from_flags.extend(values::env_entry("--env", e, |k| facts.env_var(k))?);
    }
    let mut env = merge_env(&[base, ctx.image.env.clone(), from_files, from_flags]);
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!(
            "HOME={}",
            user.home.clone().unwrap_or_else(|| "/".to_string())
        ));
    }

    let mut user = user;
    for g in linux_flags::group_gids(&flags.group_add, &facts.group)? {
        if !user.additional_gids.contains(&g) {
            user.additional_gids.push(g);
        }
    }

    let cwd = flags
        .workdir
        .clone()
        .or_else(|| ctx.image.workdir.clone().filter(|w| !w.is_empty()))
        .unwrap_or_else(|| "/".to_string());

    // Capabilities: the same set for every user, in bounding, effective and permitted (the
    // runc semantics of an OCI spec; the kernel clears effective caps of a non-root exec).
    let caps = capabilities(flags)?;
    let effective = caps.clone();
    let capabilities = LinuxCapabilitiesBuilder::default()
        .bounding(caps)
        .effective(effective.clone())
        .permitted(effective)
        .inheritable(Capabilities::new())
        .ambient(Capabilities::new())
        .build()?;

    // Rlimits: defaults, then --ulimit overrides by type.
    let mut rlimits = spec
        .process()
        .as_ref()
        .and_then(|p| p.rlimits().clone())
        .unwrap_or_default();
    for u in &flags.ulimit {
        let (typ, soft, hard) = values::parse_ulimit(u)?;
        rlimits.retain(|r| r.typ() != typ);
        rlimits.push(
            PosixRlimitBuilder::default()
                .typ(typ)
                .soft(soft)
                .hard(hard)
                .build()?,
        );
    }

    if let Some(process) = spec.process_mut() {
        process.set_args(Some(args));
        process.set_env(Some(env));
        process.set_cwd(PathBuf::from(cwd));
        process.set_terminal(Some(flags.tty));
        let u = process.user_mut();
        u.set_uid(user.uid);
        u.set_gid(user.gid);
        u.set_additional_gids(if user.additional_gids.is_empty() {
            None
        } else {
            Some(user.additional_gids.clone())
        });
        process.set_capabilities(Some(capabilities));
        process.set_rlimits(Some(rlimits));
    }

    // Root and hostname.
    if let Some(root) = spec.root_mut() {
        root.set_path(ctx.rootfs.to_path_buf());
        root.set_readonly(Some(flags.read_only));
    }
    spec.set_hostname(Some(hostname.clone()));

    // Mounts: defaults, /etc files, volumes, tmpfs.
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    if flags.privileged {
        for m in mounts.iter_mut() {
            if m.destination() == Path::new("/sys") {
                m.set_options(Some(vec![
                    "nosuid".into(),
                    "noexec".into(),
                    "nodev".into(),
                    "rw".into(),
                ]));
            }
        }
    }
    if let Some(size) = &flags.shm_size {
        let size = linux_flags::shm_option(size)?;
        for m in mounts.iter_mut() {
            if m.destination() == Path::new("/dev/shm") {
                let mut o = m.options().clone().unwrap_or_default();
                o.retain(|o| !o.starts_with("size="));
                o.push(size.clone());
                m.set_options(Some(o));
            }
        }
    }
    let mut volumes = Vec::new();
    for v in &flags.volume {
        volumes.push(values::parse_volume(v, |p| {
            facts.existing_sources.contains(p)
        })?);
    }
    let mut tmpfs = Vec::new();
    for t in &flags.tmpfs {
        tmpfs.push(values::parse_tmpfs(t)?);
    }
    let resource_flags = resource_flags(flags, facts.cpus)?;

    // All values are valid: the /etc files to write, bind-mounted over the rootfs's.
    let host_resolv_conf = facts
        .host_network
        .as_ref()
        .map(|h| h.resolv_conf.as_str())
        .unwrap_or("");
    let etc_network = match (&host_network, network) {
        (Some(h), _) => etc_files::EtcNetwork::Host(h),
        (None, NetworkMode::Bridge | NetworkMode::Named) => etc_files::EtcNetwork::Bridge {
            host_resolv_conf,
            dns: &flags.dns,
            dns_search: &flags.dns_search,
        },
        (None, _) => etc_files::EtcNetwork::None,
    };
    let extra_hosts = values::extra_hosts(&flags.add_host)?;
    let files = etc_files::plan(ctx.etc_dir, &hostname, etc_network, &extra_hosts);
    for f in &files {
        mounts.push(bind(&f.destination, &f.path, false)?);
    }
    for v in &volumes {
        mounts.push(bind(&v.destination, &v.source, v.readonly)?);
    }
    for (dest, options) in tmpfs {
        mounts.push(
            MountBuilder::default()
                .destination(PathBuf::from(dest))
                .typ("tmpfs")
                .source(PathBuf::from("tmpfs"))
                .options(options)
                .build()?,
        );
    }
    spec.set_mounts(Some(mounts));

    if let Some(linux) = spec.linux_mut() {
        if network == NetworkMode::Host {
            if let Some(ns) = linux.namespaces_mut() {
                ns.retain(|n| n.typ() != LinuxNamespaceType::Network);
            }
        }
        if flags.privileged {
            linux.set_masked_paths(None);
            linux.set_readonly_paths(None);
            linux.set_seccomp(None);
            // Docker's --privileged: the host's device nodes in the container's /dev.
            let mut devices = linux.devices().clone().unwrap_or_default();
            for d in facts.host_devices.iter().cloned() {
                if !devices.iter().any(|x| x.path() == d.path()) {
                    devices.push(d);
                }
            }
            linux.set_devices(Some(devices));
        }
        if let Some(parent) = &flags.cgroup_parent {
            linux.set_cgroups_path(Some(linux_flags::cgroups_path(parent, ctx.id)?));
        }
        if !flags.sysctl.is_empty() {
            let ns = linux.namespaces().clone().unwrap_or_default();
            let owns = |t| ns.iter().any(|n| n.typ() == t && n.path().is_none());
            linux.set_sysctl(Some(linux_flags::sysctls(&flags.sysctl, owns)?));
        }
        if !facts.devices.is_empty() {
            let mut devices = linux.devices().clone().unwrap_or_default();
            for d in &facts.devices {
                devices.retain(|x| x.path() != d.node.path());
                devices.push(d.node.clone());
            }
            linux.set_devices(Some(devices));
        }
        if let Some(res) = linux.resources_mut() {
            if flags.privileged {
                res.set_devices(Some(defaults::allow_all_devices()?));
            } else if !facts.devices.is_empty() {
                let mut rules = res.devices().clone().unwrap_or_default();
                for d in &facts.devices {
                    rules.push(d.rule()?);
                }
                res.set_devices(Some(rules));
            }
            accounting(res, &facts.controllers);
            resources::merge(res, &resource_flags);
            resources::validate(res)?;
        }
    }

    let mut annotations = spec.annotations().clone().unwrap_or_default();
    if flags.init {
        annotations.insert(INIT_ANNOTATION.to_string(), "true".to_string());
    }
    spec.set_annotations(Some(annotations));
    Ok(SpecPlan { spec, files })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(flags: &RunFlags, cmd: &[&str]) -> Result<SpecPlan, SpecError> {
        let command: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
        let image = ImageDefaults::default();
        let facts = Facts {
            passwd: "root:x:0:0::/root:/bin/sh\n".into(),
            cpus: 2,
            host_network: Some(super::super::facts::HostNetwork {
                hostname: "thehost".into(),
                hosts: "127.0.0.1\tlocalhost thehost\n".into(),
                resolv_conf: "nameserver 192.0.2.53\n".into(),
            }),
            ..Default::default()
        };
        build_spec(
            flags,
            &SpecContext {
                rootfs: Path::new("/containers/abc123/rootfs"),
                command: &command,
                image: &image,
                default_hostname: "abc123",
                etc_dir: Path::new("/front/abc123"),
                facts: &facts,
                id: "abc123",
            },
        )
    }

    fn ctx_run(flags: &RunFlags, cmd: &[&str]) -> Result<Spec, SpecError> {
        plan(flags, cmd).map(|p| p.spec)
    }

    #[test]
    fn etc_files_are_planned_not_written() {
        let none = plan(
            &RunFlags {
                network: "none".into(),
                ..Default::default()
            },
            &["sh"],
        )
        .unwrap();
        let names: Vec<_> = none.files.iter().map(|f| f.path.clone()).collect();
        assert_eq!(
            names,
            ["hostname", "hosts", "resolv.conf"].map(|n| Path::new("/front/abc123").join(n))
        );
        assert_eq!(none.files[0].contents, "abc123\n");
        assert!(!Path::new("/front/abc123").exists());
        let mounts = none.spec.mounts().clone().unwrap();
        assert!(mounts
            .iter()
            .any(|m| m.destination() == Path::new("/etc/hosts")
                && m.source().as_deref() == Some(Path::new("/front/abc123/hosts"))));
        let host = plan(
            &RunFlags {
                network: "host".into(),
                ..Default::default()
            },
            &["sh"],
        )
        .unwrap();
        assert_eq!(host.spec.hostname().as_deref(), Some("thehost"));
        assert_eq!(host.files[2].contents, "nameserver 192.0.2.53\n");
    }

    #[test]
    fn defaults_and_flags() {
        let spec = ctx_run(
            &RunFlags {
                network: "none".into(),
                ..Default::default()
            },
            &["sh"],
        )
        .unwrap();
        let p = spec.process().as_ref().unwrap();
        assert_eq!(p.args().as_ref().unwrap(), &vec!["sh".to_string()]);
        assert_eq!(
            p.capabilities()
                .as_ref()
                .unwrap()
                .effective()
                .as_ref()
                .unwrap()
                .len(),
            14
        );
        assert_eq!(spec.hostname().as_deref(), Some("abc123"));
        let linux = spec.linux().as_ref().unwrap();
        assert_eq!(linux.namespaces().as_ref().unwrap().len(), 6);
        assert_eq!(linux.masked_paths().as_ref().unwrap().len(), 11);

        let flags = RunFlags {
            network: "host".into(),
            privileged: true,
            memory: Some("32m".into()),
            pids_limit: Some(20),
            env: vec!["A=1".into()],
            init: true,
            ..Default::default()
        };
        let spec = ctx_run(&flags, &["true"]).unwrap();
        let linux = spec.linux().as_ref().unwrap();
        assert_eq!(linux.namespaces().as_ref().unwrap().len(), 5);
        assert!(linux.seccomp().is_none() && linux.masked_paths().is_none());
        let res = linux.resources().as_ref().unwrap();
        assert_eq!(res.memory().as_ref().unwrap().limit(), Some(32 << 20));
        assert_eq!(res.pids().as_ref().unwrap().limit(), 20);
        let env = spec.process().as_ref().unwrap().env().clone().unwrap();
        assert!(env.contains(&"A=1".to_string()));
        assert_eq!(
            spec.annotations()
                .as_ref()
                .unwrap()
                .get(INIT_ANNOTATION)
                .map(String::as_str),
            Some("true")
        );
    }

    #[test]
    fn bad_input_names_the_flag() {
        let none = || RunFlags {
            network: "none".into(),
            ..Default::default()
        };
        // Any valid name may be a user-defined network (checked when the container joins);
        // a name no network can have, and `container:` without a container, are errors here.
        for bad in ["over/lay", "container:"] {
            let e = ctx_run(
                &RunFlags {
                    network: bad.into(),
                    ..none()
                },
                &["sh"],
            )
            .unwrap_err();
            assert!(e.to_string().starts_with("--network:"), "{bad}: {e}");
        }
        let e = ctx_run(
            &RunFlags {
                network: "container:web".into(),
                hostname: Some("x".into()),
                ..none()
            },
            &["sh"],
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("--hostname:"), "{e}");
        let e = ctx_run(
            &RunFlags {
                publish: vec!["80".into()],
                ..none()
            },
            &["sh"],
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("-p/-P:"), "{e}");
        let e = ctx_run(
            &RunFlags {
                user: Some("nobody".into()),
                ..none()
            },
            &["sh"],
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("--user:"), "{e}");
        let e = ctx_run(
            &RunFlags {
                memory_swap: Some("1g".into()),
                ..none()
            },
            &["sh"],
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("--memory-swap:"), "{e}");
        let e = ctx_run(
            &RunFlags {
                cap_add: vec!["FLY".into()],
                ..none()
            },
            &["sh"],
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("--cap-add:"), "{e}");
        assert!(ctx_run(&none(), &[]).is_err());
        let caps = ctx_run(
            &RunFlags {
                cap_drop: vec!["ALL".into()],
                cap_add: vec!["chown".into()],
                ..none()
            },
            &["sh"],
        )
        .unwrap();
        let c = caps
            .process()
            .as_ref()
            .unwrap()
            .capabilities()
            .clone()
            .unwrap();
        assert_eq!(c.bounding().as_ref().unwrap().len(), 1);
    }
}
