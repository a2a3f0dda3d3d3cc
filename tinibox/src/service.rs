//! TiniLinux's service files: one declarative JSON file per service,
//! `/etc/tinibox/services/NAME.json`, describing a container the way `tinibox run -d` flags do
//! (Docker-run shaped keys). `tinibox service up|down|ls` ([`crate::cli::service`]) reads them at
//! boot and shutdown (rcS/rcK); `distro-build` checks and bakes them into the image with this
//! same parser.
//!
//! The format (every key but `image` may be left out; unknown keys are refused):
//!
//! ```json
//! {
//!   "image": "tinilinux",                      // image reference or rootfs directory
//!   "command": ["httpd", "-f", "-p", "80"],     // the container's command (default: the image's)
//!   "entrypoint": "/bin/sh",                   // --entrypoint
//!   "env": ["KEY=VALUE"],                      // -e
//!   "mounts": ["/srv/www:/www:ro"],            // -v SRC:DST[:ro]
//!   "tmpfs": ["/tmp"],                         // --tmpfs DST[:OPTIONS]
//!   "ports": ["8080:80"],                      // -p [IP:][HOST:]PORT[/tcp|udp]
//!   "network": "bridge",                       // --network (default: bridge with ports, else none)
//!   "restart": "unless-stopped",               // --restart (default: unless-stopped)
//!   "init": true,                              // --init (a PID 1 that forwards the stop signal)
//!   "user": "1000:1000", "workdir": "/", "hostname": "web",
//!   "read_only": false, "privileged": false,
//!   "memory": "64m", "pids_limit": 100, "cpus": "0.5",
//!   "cap_add": [], "cap_drop": [], "dns": [],
//!   "labels": {"k": "v"},                      // --label
//!   "stop_signal": "SIGTERM", "stop_timeout": 10 // used by `service down` and at shutdown
//! }
//! ```
//! (JSON has no comments: they are only here to explain the keys.)
//!
//! The service's container is named NAME (the file name without `.json`) and carries the
//! labels [`LABEL_SERVICE`] and [`LABEL_DIGEST`] (the file's SHA-256, so a changed file
//! replaces the container). Values are checked by `run`'s own code when the service starts,
//! so a service accepts exactly what `tinibox run` accepts. Pure: reads files, runs nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::spec::RunFlags;

/// Where the services live on TiniLinux.
pub const DEFAULT_DIR: &str = "/etc/tinibox/services";
/// Label naming the service a container runs.
pub const LABEL_SERVICE: &str = "org.tinilinux.service";
/// Label holding `sha256:` + the hex SHA-256 of the service file the container was made from.
pub const LABEL_DIGEST: &str = "org.tinilinux.service.digest";
/// The restart policy of a service that names none.
pub const DEFAULT_RESTART: &str = "unless-stopped";

/// A service file that cannot be used: one line naming the file, the problem and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The file name is not `NAME.json` with a valid container name.
    #[error("{path}: the service name {name:?} is not a valid container name — name the file NAME.json with letters, digits, _ . - (starting with a letter or digit)")]
    BadName {
        /// The file.
        path: PathBuf,
        /// The name taken from it.
        name: String,
    },
    /// The file cannot be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The JSON is malformed, a key is unknown or a value has the wrong type.
    #[error("{path}: {problem} — see the service file format in README.md (\"Services\")")]
    Format {
        /// The file.
        path: PathBuf,
        /// serde's message (with line and column).
        problem: String,
    },
}

/// One service file's content (see the module comment for the keys).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceFile {
    /// Image reference (from tinibox's store) or rootfs directory.
    pub image: String,
    /// The command and its arguments (default: the image's entrypoint and cmd).
    #[serde(default)]
    pub command: Vec<String>,
    /// `--entrypoint`.
    #[serde(default)]
    pub entrypoint: Option<String>,
    /// `-e KEY=VALUE` entries.
    #[serde(default)]
    pub env: Vec<String>,
    /// `-v SRC:DST[:ro]` entries.
    #[serde(default)]
    pub mounts: Vec<String>,
    /// `--tmpfs DST[:OPTIONS]` entries.
    #[serde(default)]
    pub tmpfs: Vec<String>,
    /// `-p [IP:][HOST:]PORT[/PROTO]` entries.
    #[serde(default)]
    pub ports: Vec<String>,
    /// `--network`; None: `bridge` when ports are published, else `run`'s default.
    #[serde(default)]
    pub network: Option<String>,
    /// `--restart`; None: [`DEFAULT_RESTART`].
    #[serde(default)]
    pub restart: Option<String>,
    /// `--init`.
    #[serde(default)]
    pub init: bool,
    /// `-u USER[:GROUP]`.
    #[serde(default)]
    pub user: Option<String>,
    /// `-w DIR`.
    #[serde(default)]
    pub workdir: Option<String>,
    /// `-h HOSTNAME`.
    #[serde(default)]
    pub hostname: Option<String>,
    /// `--read-only`.
    #[serde(default)]
    pub read_only: bool,
    /// `--privileged`.
    #[serde(default)]
    pub privileged: bool,
    /// `-m BYTES`.
    #[serde(default)]
    pub memory: Option<String>,
    /// `--pids-limit N`.
    #[serde(default)]
    pub pids_limit: Option<i64>,
    /// `--cpus N`.
    #[serde(default)]
    pub cpus: Option<String>,
    /// `--cap-add CAP` entries.
    #[serde(default)]
    pub cap_add: Vec<String>,
    /// `--cap-drop CAP` entries.
    #[serde(default)]
    pub cap_drop: Vec<String>,
    /// `--dns IP` entries.
    #[serde(default)]
    pub dns: Vec<String>,
    /// `--label KEY=VALUE` entries.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `--stop-signal`.
    #[serde(default)]
    pub stop_signal: Option<String>,
    /// `--stop-timeout` in seconds (negative: no SIGKILL, as Docker's -1).
    #[serde(default)]
    pub stop_timeout: Option<i64>,
}

/// A parsed service: its name, file, content and the file's digest.
#[derive(Debug, Clone)]
pub struct Service {
    /// The container name (the file name without `.json`).
    pub name: String,
    /// The file it came from.
    pub path: PathBuf,
    /// What it says.
    pub file: ServiceFile,
    /// `sha256:` + the hex SHA-256 of the file's bytes.
    pub digest: String,
}

impl Service {
    /// Reads and parses `path` (named `NAME.json`).
    pub fn load(path: &Path) -> Result<Service, ServiceError> {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".json"))
            .unwrap_or_default()
            .to_string();
        if crate::spec::values::validate_name(&name).is_err() {
            return Err(ServiceError::BadName {
                path: path.to_path_buf(),
                name,
            });
        }
        let bytes = std::fs::read(path).map_err(|source| ServiceError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let file = parse(&bytes).map_err(|problem| ServiceError::Format {
            path: path.to_path_buf(),
            problem,
        })?;
        Ok(Service {
            name,
            path: path.to_path_buf(),
            file,
            digest: format!("sha256:{}", hex::encode(Sha256::digest(&bytes))),
        })
    }

    /// The `run -d` flags this service stands for (named, labelled, detached).
    pub fn run_flags(&self) -> RunFlags {
        let f = &self.file;
        let mut label: Vec<String> = f.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        label.push(format!("{LABEL_SERVICE}={}", self.name));
        label.push(format!("{LABEL_DIGEST}={}", self.digest));
        let network = match &f.network {
            Some(n) => n.clone(),
            None if !f.ports.is_empty() => "bridge".into(),
            None => run_default_network(),
        };
        RunFlags {
            name: Some(self.name.clone()),
            detach: true,
            env: f.env.clone(),
            workdir: f.workdir.clone(),
            user: f.user.clone(),
            hostname: f.hostname.clone(),
            volume: f.mounts.clone(),
            tmpfs: f.tmpfs.clone(),
            read_only: f.read_only,
            memory: f.memory.clone(),
            pids_limit: f.pids_limit,
            cpus: f.cpus.clone(),
            cap_add: f.cap_add.clone(),
            cap_drop: f.cap_drop.clone(),
            privileged: f.privileged,
            network,
            init: f.init,
            publish: f.ports.clone(),
            dns: f.dns.clone(),
            entrypoint: f.entrypoint.clone(),
            label,
            restart: f.restart.clone().unwrap_or_else(|| DEFAULT_RESTART.into()),
            stop_signal: f.stop_signal.clone(),
            stop_timeout: f.stop_timeout,
            ..RunFlags::default()
        }
    }
}

/// `run`'s default `--network` (its clap default), so a service without ports gets what a
/// plain `tinibox run` gets.
pub fn run_default_network() -> String {
    use clap::Args;
    let cmd = RunFlags::augment_args(clap::Command::new("run"));
    let value = cmd
        .get_arguments()
        .find(|a| a.get_id() == "network")
        .and_then(|a| a.get_default_values().first())
        .map(|v| v.to_string_lossy().into_owned());
    value.unwrap_or_else(|| "none".into())
}

/// Parses a service file's bytes; the error is serde's message (with line and column).
pub fn parse(bytes: &[u8]) -> Result<ServiceFile, String> {
    // serde reads a struct from a JSON array too, and then speaks of "24 elements".
    if !bytes.trim_ascii_start().starts_with(b"{") {
        return Err(
            "not a JSON object: a service file is {\"image\": …, \"command\": […], …}".into(),
        );
    }
    let file: ServiceFile = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if file.image.trim().is_empty() {
        return Err("\"image\" is empty — name an image (e.g. \"tinilinux\")".into());
    }
    Ok(file)
}

/// The `*.json` files of `dir`, sorted by name: regular files, and symbolic links unless they
/// lead to something other than a file (a dangling one is listed, so that reading it names
/// it). Errors: reading the folder (a missing one included: the caller decides).
pub fn files_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter(|e| match e.file_type() {
            Ok(t) if t.is_file() => true,
            Ok(t) if t.is_symlink() => std::fs::metadata(e.path()).map_or(true, |m| m.is_file()),
            _ => false,
        })
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn a_service_becomes_run_flags() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            "web.json",
            r#"{"image": "tinilinux", "command": ["httpd", "-f"], "ports": ["8080:80"],
                "env": ["A=1"], "mounts": ["/srv:/srv:ro"], "init": true, "stop_timeout": 5,
                "labels": {"k": "v"}}"#,
        );
        let s = Service::load(&p).unwrap();
        assert_eq!(s.name, "web");
        assert!(s.digest.starts_with("sha256:") && s.digest.len() == 71);
        let f = s.run_flags();
        assert_eq!(f.name.as_deref(), Some("web"));
        assert!(f.detach && f.init && !f.rm);
        assert_eq!(f.network, "bridge");
        assert_eq!(f.publish, ["8080:80"]);
        assert_eq!(f.volume, ["/srv:/srv:ro"]);
        assert_eq!(f.restart, DEFAULT_RESTART);
        assert_eq!(f.stop_timeout, Some(5));
        assert!(f.label.contains(&"k=v".to_string()));
        assert!(f.label.contains(&format!("{LABEL_SERVICE}=web")));
        assert!(f.label.contains(&format!("{LABEL_DIGEST}={}", s.digest)));
        assert_eq!(s.file.command, ["httpd", "-f"]);
    }

    #[test]
    fn without_ports_the_network_is_runs_default() {
        let d = tempfile::tempdir().unwrap();
        let p = write(d.path(), "x.json", r#"{"image": "i", "restart": "always"}"#);
        let f = Service::load(&p).unwrap().run_flags();
        assert_eq!(f.network, run_default_network());
        assert_eq!(f.restart, "always");
    }

    #[test]
    fn bad_files_are_named_with_the_problem() {
        let d = tempfile::tempdir().unwrap();
        let unknown = write(d.path(), "a.json", r#"{"image": "i", "portz": []}"#);
        let e = Service::load(&unknown).unwrap_err().to_string();
        assert!(e.contains("a.json") && e.contains("portz"), "{e}");
        let empty = write(d.path(), "b.json", r#"{"image": " "}"#);
        let e = Service::load(&empty).unwrap_err().to_string();
        assert!(e.contains("\"image\" is empty"), "{e}");
        let broken = write(d.path(), "c.json", "{");
        assert!(Service::load(&broken)
            .unwrap_err()
            .to_string()
            .contains("c.json"));
        let badname = write(d.path(), "-x.json", r#"{"image": "i"}"#);
        let e = Service::load(&badname).unwrap_err().to_string();
        assert!(e.contains("\"-x\""), "{e}");
        let typed = write(d.path(), "d.json", r#"{"image": "i", "ports": "80"}"#);
        assert!(Service::load(&typed).is_err());
    }

    #[test]
    fn files_are_listed_sorted() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "b.json", "{}");
        write(d.path(), "a.json", "{}");
        write(d.path(), "README", "x");
        std::fs::create_dir(d.path().join("dir.json")).unwrap();
        std::os::unix::fs::symlink(d.path().join("a.json"), d.path().join("c.json")).unwrap();
        std::os::unix::fs::symlink("/nonexistent/x.json", d.path().join("dangling.json")).unwrap();
        std::os::unix::fs::symlink(d.path(), d.path().join("folder.json")).unwrap();
        let names: Vec<_> = files_in(d.path())
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.json", "b.json", "c.json", "dangling.json"]);
        let e = Service::load(&d.path().join("dangling.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("dangling.json"), "{e}");
        let missing = files_in(&d.path().join("missing")).unwrap_err();
        assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
        assert!(parse(b" [] ").unwrap_err().starts_with("not a JSON object"));
    }
}
