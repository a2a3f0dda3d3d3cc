//! `run` flags + an image's defaults → a complete OCI runtime [`Spec`], on top of
//! [`super::default_spec`].
//!
//! Validates every flag (errors name the flag and the fix) and writes nothing except the
//! /etc files through [`super::etc_files`]. Must not create containers or touch cgroups.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    Capabilities, LinuxCapabilitiesBuilder, LinuxCpuBuilder, LinuxMemoryBuilder,
    LinuxNamespaceType, LinuxPidsBuilder, Mount, MountBuilder, PosixRlimitBuilder, Spec,
};

use super::defaults::{self, DEFAULT_PATH};
use super::etc_files::{self, NetworkMode};
use super::values;
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
    /// Directory where the container's /etc/hostname, hosts and resolv.conf are written.
    pub etc_dir: &'a Path,
}

/// Parses `--network`.
pub fn network_mode(value: &str) -> Result<NetworkMode, SpecError> {
    match value {
        "none" => Ok(NetworkMode::None),
        "host" => Ok(NetworkMode::Host),
        other => Err(SpecError::flag(
            "--network",
            format!("network {other:?} is not supported"),
            "use --network none (only lo) or --network host",
        )),
    }
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
    network_mode(&flags.network)?;
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

fn host_hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Merges KEY=VALUE lists: later entries replace earlier ones with the same key, order kept.
fn merge_env(lists: &[Vec<String>]) -> Vec<String> {
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

/// Builds the container's spec from the flags and the context; writes its /etc files.
pub fn build_spec(flags: &RunFlags, ctx: &SpecContext<'_>) -> Result<Spec, SpecError> {
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
        Some(u) if !u.is_empty() => super::user::resolve(ctx.rootfs, u)?,
        _ => super::user::resolve(ctx.rootfs, "0")?,
    };

    // Environment: PATH, image, HOME/HOSTNAME/TERM, env files, -e.
    let hostname = match (&flags.hostname, network) {
        (Some(h), _) => h.clone(),
        (None, NetworkMode::Host) => host_hostname(),
        (None, NetworkMode::None) => ctx.default_hostname.to_string(),
    };
    let mut base = vec![DEFAULT_PATH.to_string(), format!("HOSTNAME={hostname}")];
    if flags.tty {
        base.push("TERM=xterm".to_string());
    }
    let mut from_files = Vec::new();
    for f in &flags.env_file {
        from_files.extend(values::read_env_file(f)?);
    }
    let mut from_flags = Vec::new();
    for e in &flags.env {
        from_flags.extend(values::env_entry("--env", e)?);
    }
    let mut env = merge_env(&[base, ctx.image.env.clone(), from_files, from_flags]);
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!(
            "HOME={}",
            user.home.clone().unwrap_or_else(|| "/root".to_string())
        ));
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
    let mut volumes = Vec::new();
    for v in &flags.volume {
        volumes.push(values::parse_volume(v)?);
    }
    let mut tmpfs = Vec::new();
    for t in &flags.tmpfs {
        tmpfs.push(values::parse_tmpfs(t)?);
    }
    let memory = flags
        .memory
        .as_deref()
        .map(|m| values::parse_size("--memory", m))
        .transpose()?;
    let swap = match flags.memory_swap.as_deref() {
        None => None,
        Some("-1") => Some(-1),
        Some(s) => Some(values::parse_size("--memory-swap", s)?),
    };
    // The rule itself is the memory writer's (one definition); the error names the flag.
    if crate::cgroups::resources::check_swap(memory, swap).is_err() {
        return Err(SpecError::flag(
            "--memory-swap",
            "smaller than --memory",
            "give a value at least as large as -m (it is memory plus swap), or -1",
        ));
    }
    let cpu = flags.cpus.as_deref().map(values::parse_cpus).transpose()?;
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

    // All values are valid: only now write the /etc files.
    for (dest, file) in etc_files::write(ctx.etc_dir, &hostname, network)? {
        mounts.push(bind(&dest, &file, false)?);
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
            for d in super::host_devices::host_devices(Path::new("/dev"))? {
                if !devices.iter().any(|x| x.path() == d.path()) {
                    devices.push(d);
                }
            }
            linux.set_devices(Some(devices));
        }
        if let Some(res) = linux.resources_mut() {
            if flags.privileged {
                res.set_devices(Some(defaults::allow_all_devices()?));
            }
            if memory.is_some() || swap.is_some() {
                let mut mb = LinuxMemoryBuilder::default();
                if let Some(m) = memory {
                    mb = mb.limit(m);
                }
                if let Some(s) = swap {
                    mb = mb.swap(s);
                }
                res.set_memory(Some(mb.build()?));
            }
            if cpu.is_some() || flags.cpu_shares.is_some() {
                let mut cb = LinuxCpuBuilder::default();
                if let Some((quota, period)) = cpu {
                    cb = cb.quota(quota).period(period);
                }
                if let Some(s) = flags.cpu_shares {
                    cb = cb.shares(s);
                }
                res.set_cpu(Some(cb.build()?));
            }
            if let Some(p) = flags.pids_limit {
                res.set_pids(Some(LinuxPidsBuilder::default().limit(p).build()?));
            }
        }
    }

    let mut annotations = spec.annotations().clone().unwrap_or_default();
    if flags.init {
        annotations.insert(INIT_ANNOTATION.to_string(), "true".to_string());
    }
    spec.set_annotations(Some(annotations));
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx_run(flags: &RunFlags, cmd: &[&str]) -> Result<Spec, SpecError> {
        let dir = tempfile::tempdir().unwrap();
        let rootfs = dir.path().join("rootfs");
        std::fs::create_dir_all(rootfs.join("etc")).unwrap();
        std::fs::write(rootfs.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
        let command: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
        let image = ImageDefaults::default();
        let etc = dir.path().join("etc-files");
        build_spec(
            flags,
            &SpecContext {
                rootfs: &rootfs,
                command: &command,
                image: &image,
                default_hostname: "abc123",
                etc_dir: &etc,
            },
        )
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
        let e = ctx_run(
            &RunFlags {
                network: "bridge".into(),
                ..none()
            },
            &["sh"],
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("--network:"), "{e}");
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
