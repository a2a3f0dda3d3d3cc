//! What the spec builder reads from the world, gathered before it runs, so that
//! [`super::build_spec`] itself is a pure function of the flags and its context.
//!
//! [`Facts::read`] is the one place that reads: the container rootfs's /etc/passwd and
//! /etc/group, the `--env-file` files, tinibox's own environment (for `-e KEY`), which `-v`
//! sources exist, and, only when the flags need them, the host's hostname, /etc/hosts and
//! /etc/resolv.conf (`--network host`), device nodes (`--privileged`, `--device`) and number of CPUs
//! (`--cpus`). It writes nothing. Tests build a [`Facts`] by hand.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxDevice;

use super::values::{self, NetworkMode};
use super::{RunFlags, SpecError};

/// The host's view for `--network host`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostNetwork {
    /// The host's hostname.
    pub hostname: String,
    /// The host's /etc/hosts (a localhost line when it cannot be read).
    pub hosts: String,
    /// The host's /etc/resolv.conf (empty when it cannot be read).
    pub resolv_conf: String,
}

/// Everything outside the flags that the spec depends on (see the module comment).
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The rootfs's /etc/passwd (empty when missing).
    pub passwd: String,
    /// The rootfs's /etc/group (empty when missing).
    pub group: String,
    /// Each `--env-file`'s text, in flag order.
    pub env_files: Vec<String>,
    /// tinibox's own environment (a bare `-e KEY` copies its value).
    pub env: HashMap<String, String>,
    /// CPUs available to tinibox (the upper bound of `--cpus`); read only with `--cpus`.
    pub cpus: usize,
    /// The `-v` sources that exist on the host.
    pub existing_sources: HashSet<PathBuf>,
    /// The host's network files; read only with `--network host` and `bridge` (its
    /// resolv.conf).
    pub host_network: Option<HostNetwork>,
    /// The host's device nodes; read only with `--privileged`.
    pub host_devices: Vec<LinuxDevice>,
    /// The `--device` nodes, read from the host.
    pub devices: Vec<super::linux_flags::Device>,
    /// Which of the accounting controllers (`memory`, `pids`, `cpu`, `blkio`) the host's
    /// cgroups offer (v2's `io` reads as `blkio`).
    pub controllers: Vec<&'static str>,
}

/// The accounting controllers the host offers: cgroup v2's root `cgroup.controllers`, else
/// the v1 hierarchies of /proc/cgroups that are mounted and enabled.
fn accounting_controllers() -> Vec<&'static str> {
    let names: Vec<String> = match std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers") {
        Ok(t) => t
            .split_whitespace()
            .map(|c| if c == "io" { "blkio".into() } else { c.into() })
            .collect(),
        Err(_) => std::fs::read_to_string("/proc/cgroups")
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() >= 4 && f[1] != "0" && f[3] == "1").then(|| f[0].to_string())
            })
            .collect(),
    };
    ["memory", "pids", "cpu", "blkio"]
        .into_iter()
        .filter(|c| names.iter().any(|n| n == c))
        .collect()
}

impl Facts {
    /// Reads what `flags` need for a container whose root filesystem is `rootfs`. Errors name
    /// the flag whose file could not be read (`--env-file`, `--privileged`).
    pub fn read(flags: &RunFlags, rootfs: &Path) -> Result<Facts, SpecError> {
        let text = |p: PathBuf| std::fs::read_to_string(p).unwrap_or_default();
        let mut env_files = Vec::new();
        for f in &flags.env_file {
            env_files.push(std::fs::read_to_string(f).map_err(|e| {
                SpecError::flag(
                    "--env-file",
                    format!("cannot read {}: {e}", f.display()),
                    "check the path",
                )
            })?);
        }
        let existing_sources = flags
            .volume
            .iter()
            .filter_map(|v| v.split(':').next())
            .map(PathBuf::from)
            .filter(|p| p.exists())
            .collect();
        let host = matches!(
            values::network_mode(&flags.network)?,
            NetworkMode::Host | NetworkMode::Bridge | NetworkMode::Named
        );
        let host_network = host.then(|| HostNetwork {
            hostname: nix::unistd::gethostname()
                .ok()
                .and_then(|h| h.into_string().ok())
                .unwrap_or_else(|| "localhost".to_string()),
            hosts: std::fs::read_to_string("/etc/hosts")
                .unwrap_or_else(|_| "127.0.0.1\tlocalhost\n".to_string()),
            resolv_conf: text(PathBuf::from("/etc/resolv.conf")),
        });
        let host_devices = if flags.privileged {
            super::host_devices::host_devices(Path::new("/dev"))?
        } else {
            Vec::new()
        };
        let devices = flags
            .device
            .iter()
            .map(|d| super::linux_flags::read_device(d))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Facts {
            devices,
            controllers: accounting_controllers(),
            passwd: text(rootfs.join("etc/passwd")),
            group: text(rootfs.join("etc/group")),
            env_files,
            env: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
            // std reads the cgroup's CPU quota files for this: only when --cpus needs it.
            cpus: match flags.cpus {
                Some(_) => std::thread::available_parallelism().map_or(1, |c| c.get()),
                None => 0,
            },
            existing_sources,
            host_network,
            host_devices,
        })
    }

    /// The value a bare `-e KEY` copies, if tinibox has one.
    pub fn env_var(&self, key: &str) -> Option<&str> {
        self.env.get(key).map(String::as_str)
    }

    /// The entries of the `--env-file` files (see [`values::parse_env_file`]).
    pub fn env_file_entries(&self) -> Result<Vec<String>, SpecError> {
        let mut out = Vec::new();
        for text in &self.env_files {
            out.extend(values::parse_env_file(text, |k| self.env_var(k))?);
        }
        Ok(out)
    }
}
