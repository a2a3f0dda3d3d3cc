//! Handlers for the runc-compatible OCI runtime commands, with runc's flag names (what
//! containerd's shim through go-runc, Podman's conmon and the runtime-spec tests pass), one
//! file per command.
//!
//! Owns argument parsing for those commands, reading and validating `config.json`, and turning
//! results into output and exit codes: 0 on success, 1 on failure (like runc), with every
//! failure logged through [`super::log::error`] (the `--log` file and stderr). The container
//! work itself is done by [`crate::container`]; these files must not fork, mount or touch
//! cgroups. This file holds what several commands share.

mod create;
mod delete;
mod events;
mod exec;
mod features;
mod list;
mod pause;
mod resume;
mod run;
mod spec;
mod start;
mod state;
mod update;

pub use create::{create, CreateArgs};
pub use delete::{delete, DeleteArgs};
pub use events::{events, EventsArgs};
pub use exec::{exec, ExecArgs};
pub use features::{features, features_json, FeaturesArgs};
pub use list::{list, ListArgs, ListFormat};
pub use pause::{pause, PauseArgs};
pub use resume::{resume, ResumeArgs};
pub use run::{oci_run, OciRunArgs};
pub use spec::{spec, SpecArgs};
pub use start::{start, StartArgs};
pub use state::{state, StateArgs};
pub use update::{update, UpdateArgs};

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use oci_spec::runtime::Spec;

use super::{log, GlobalOptions};
use crate::container::{self, CreateOptions};

/// The runc commands whose names Docker's CLI has too (`exec`, `pause`, `start`).
const SHARED_NAMES: [&str; 3] = ["exec", "pause", "start"];

/// Runs a handler body: logs a failure and maps it to exit status 1 (or 126/127 for commands
/// that could not be executed).
fn finish(global: &GlobalOptions, what: &str, r: Result<u8>) -> u8 {
    log::init(global);
    match r {
        Ok(code) => code,
        Err(e) => {
            let msg = match e.downcast_ref::<container::ContainerError>() {
                // The commands Docker has too answer a missing container in both words:
                // Docker's "No such container" and runc's "does not exist" (engines parse it).
                Some(container::ContainerError::NotFound(id)) if SHARED_NAMES.contains(&what) => {
                    format!(
                        "{what}: {} ({e})",
                        super::docker::names::no_such_container(id)
                    )
                }
                _ => format!("{what}: {}", log::chain(&e)),
            };
            log::error(&msg);
            e.downcast_ref::<container::ContainerError>()
                .and_then(|c| c.exec_exit_code())
                .filter(|_| what == "exec")
                .map_or(1, |c| c as u8)
        }
    }
}

/// Reads and checks `<bundle>/config.json`: JSON, the fields runc requires, known values.
pub fn load_config(bundle: &Path) -> Result<Spec> {
    let path = bundle.join("config.json");
    let data = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {} (is --bundle right?)", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&data)
        .map_err(|e| anyhow!("{} is not valid JSON: {e}", path.display()))?;
    let Some(obj) = value.as_object() else {
        bail!("{}: the top level must be a JSON object", path.display());
    };
    let version = obj
        .get("ociVersion")
        .and_then(|v| v.as_str())
        .ok_or_else(|| anyhow!("{}: required field ociVersion is missing", path.display()))?;
    if !version.starts_with("1.") {
        bail!(
            "{}: ociVersion {version:?} is not supported (this runtime implements 1.x)",
            path.display()
        );
    }
    for field in ["root", "process"] {
        if !obj.contains_key(field) {
            bail!("{}: required field {field} is missing", path.display());
        }
    }
    // Parsed again from the bytes, not from `value`: Record::load reads specs from bytes
    // too, so the binary carries one copy of oci-spec's deserialisation code, not two
    // (BENCHMARKS.md, "Footprint").
    let spec: Spec = serde_json::from_slice(data.as_bytes())
        .map_err(|e| anyhow!("{}: invalid value: {e}", path.display()))?;
    if spec
        .process()
        .as_ref()
        .and_then(|p| p.args().as_ref())
        .is_none_or(|a| a.is_empty())
    {
        bail!(
            "{}: process.args must name the command to run",
            path.display()
        );
    }
    let root = spec
        .root()
        .as_ref()
        .map(|r| r.path().clone())
        .unwrap_or_default();
    let rootfs = if root.is_absolute() {
        root
    } else {
        bundle.join(root)
    };
    if !rootfs.is_dir() {
        bail!(
            "rootfs {} does not exist or is not a directory (root.path in config.json)",
            rootfs.display()
        );
    }
    Ok(spec)
}

fn absolute(p: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(p).with_context(|| format!("bundle {} does not exist", p.display()))
}

/// Runs a command whose only argument is a container (`pause`, `resume`): `op` on the
/// resolved id, errors reported as `what`'s; returns the exit status.
fn on_container(
    global: &GlobalOptions,
    what: &str,
    id: &str,
    op: fn(&Path, &str) -> Result<(), container::ContainerError>,
) -> u8 {
    log::init(global);
    let r = op(&global.root, &resolve_id(global, id))
        .map(|_| 0)
        .map_err(Into::into);
    finish(global, what, r)
}

/// The container id for `what`: itself when such a container exists (runc's callers always
/// pass exact ids), else a docker-like name or unique id prefix given to the docker-like
/// front door (`tinibox run -d --name web …` then `tinibox exec web sh`).
fn resolve_id(global: &GlobalOptions, what: &str) -> String {
    if container::container_dir(&global.root, what).exists() {
        return what.to_string();
    }
    super::docker::names::resolve(&global.root, what).unwrap_or_else(|_| what.to_string())
}

/// Options shared by `create` and `oci-run`.
#[derive(Debug, Args)]
pub struct CreateFlags {
    /// Bundle directory (holds config.json).
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// Write the container init's pid to this file.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket to receive the pty master when process.terminal is true.
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Do not use pivot_root (for a root on a ramfs).
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not create a new session keyring.
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass N extra fds (3..3+N) to the container process.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
}

/// Refuses a `--preserve-fds` count whose fds (3..3+N, and the two tinibox numbers above
/// them) reach past this process's open-file limit (soft RLIMIT_NOFILE, getrlimit(2)).
fn check_preserve_fds(n: u32) -> Result<()> {
    use nix::sys::resource::{getrlimit, Resource};
    let (soft, _) = getrlimit(Resource::RLIMIT_NOFILE)?;
    let most = soft.saturating_sub(5);
    if u64::from(n) > most {
        bail!(
            "--preserve-fds {n}: fds 3 to {} are past the open-file limit ({soft}): give at most \
             {most}, or raise the limit (ulimit -n)",
            u64::from(n) + 2
        );
    }
    Ok(())
}

fn create_options(global: &GlobalOptions, f: &CreateFlags, id: &str) -> Result<CreateOptions> {
    container::validate_id(id)?;
    check_preserve_fds(f.preserve_fds)?;
    let bundle = absolute(&f.bundle)?;
    let spec = load_config(&bundle)?;
    let mut o = CreateOptions::new(global.root.clone(), id.to_string(), bundle, spec);
    o.pid_file = f.pid_file.clone();
    o.console_socket = f.console_socket.clone();
    o.no_pivot = f.no_pivot;
    o.no_new_keyring = f.no_new_keyring;
    o.preserve_fds = f.preserve_fds;
    Ok(o)
}

/// Relays the caller's terminal to the pty master received on `sock` until process `pid`
/// (our child) exits, in [`container::supervise_with`] with `signals` held by the caller
/// since before the process existed; returns its exit status.
fn relay_terminal(
    sock: &std::os::unix::net::UnixStream,
    pid: i32,
    signals: &container::Signals,
) -> Result<u8> {
    use crate::linux::tty;
    use std::os::fd::AsFd;
    let master = tty::receive_master(sock.as_fd()).map_err(|e| anyhow!(e))?;
    let raw = tty::RawMode::enable(libc::STDIN_FILENO);
    let (stdin, stdout) = (std::io::stdin(), std::io::stdout());
    let terminal = container::Terminal {
        master: master.as_fd(),
        output: stdout.as_fd(),
        input: Some(stdin.as_fd()),
        size_from: Some(stdin.as_fd()),
    };
    let code = container::supervise_with(pid, signals, Some(terminal));
    drop(raw);
    Ok(code.clamp(0, 255) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_validation_names_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let b = dir.path();
        let err = |b: &Path| format!("{:#}", load_config(b).unwrap_err());
        assert!(err(b).contains("cannot read"));
        std::fs::write(b.join("config.json"), "{not json").unwrap();
        assert!(err(b).contains("not valid JSON"));
        std::fs::write(b.join("config.json"), r#"{"root":{"path":"rootfs"}}"#).unwrap();
        assert!(err(b).contains("ociVersion is missing"));
        let good = r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
            "process":{"cwd":"/","args":["sh"],"user":{"uid":0,"gid":0}}}"#;
        std::fs::write(b.join("config.json"), good).unwrap();
        assert!(err(b).contains("rootfs"), "{}", err(b));
        std::fs::create_dir(b.join("rootfs")).unwrap();
        assert!(load_config(b).is_ok());
        let bad_ns = r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
            "process":{"cwd":"/","args":["sh"],"user":{"uid":0,"gid":0}},
            "linux":{"namespaces":[{"type":"bogus"}]}}"#;
        std::fs::write(b.join("config.json"), bad_ns).unwrap();
        assert!(err(b).contains("bogus"), "{}", err(b));
    }
}
