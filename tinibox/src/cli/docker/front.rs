//! The docker front door's shared machinery, used by `run` (foreground), `run -d` (its
//! monitor) and the managing commands (`ps`, `stop`, `kill`, `rm`, `logs`):
//! - preparing a container: flags → [`crate::spec::Facts`] + [`crate::spec::build_spec`] →
//!   the plan's files and `config.json` in the front folder `<root>/.bundles/<id>/`, the
//!   image's container root, the labels ([`prepare`]);
//! - creating and starting it through the engine, the console socket for `-t`
//!   ([`create_and_start`]);
//! - after the init ended: `--rm` or the recorded exit status ([`finish`]);
//! - the few engine calls beyond create/start: status, signals, process lists and full
//!   removal (engine state + front folder, [`remove`]).
//!
//! Calls `crate::container`, `crate::spec` and `crate::image`; every failure before the
//! container runs leaves nothing behind. Must not reach into cgroups or mounts itself, nor
//! wait for a container process (that is `crate::container::supervise`).

use std::collections::BTreeMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;

use super::meta::Meta;
use super::names::{self, LABEL_COMMAND, LABEL_DETACHED, LABEL_NAME, LABEL_RM};
use super::RunArgs;
use crate::cli::GlobalOptions;
use crate::container::{self, state::Record, ContainerError, CreateOptions, Status};
use crate::image::Store;
use crate::spec::{self, ImageDefaults, SpecContext};

/// A front-door failure: the message line and the exit status.
pub struct Failure {
    /// `what — what to do`.
    pub message: String,
    /// 125, 126 or 127.
    pub code: u8,
}

impl Failure {
    fn tinibox(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            code: 125,
        }
    }

    fn from_engine(e: ContainerError) -> Self {
        match e.exec_exit_code() {
            Some(code) => Failure {
                message: format!("{e} — check the command's path and permissions"),
                code: code as u8,
            },
            None => Failure::tinibox(e.to_string()),
        }
    }
}

/// A container prepared but not yet created: its id, front folder and options.
pub(super) struct Prepared {
    pub(super) id: String,
    pub(super) front: PathBuf,
    opts: CreateOptions,
    rm: bool,
    /// A container that ran before (restart): a failure keeps its front folder (its log,
    /// metadata and file system) and records the failure as its exit status.
    pub(super) existing: bool,
    /// For a container that ran before: its engine record without a process (its name,
    /// command and image labels, its spec), written again when this start fails, so that it
    /// keeps its name and `rm NAME` still finds it (see [`undo`]).
    kept: Option<CreateOptions>,
    /// The networks to join (`--network bridge|NAME`, kept in the front folder's
    /// `crate::net::REQUEST_FILE` for restarts), joined once the init exists.
    net: Option<crate::net::Request>,
}

/// Prepares container `id` to run again from its front folder (`start`, `restart`, a restart
/// policy): the engine's record of the last run is deleted, the spec and labels are kept
/// (and recorded again, without a process, when the new run cannot be made).
pub(super) fn prepare_again(global: &GlobalOptions, id: &str) -> Result<Prepared, Failure> {
    let front = names::front_dir(&global.root, id);
    let old = Record::load(&global.root, id)
        .map_err(|e| Failure::tinibox(format!("restarting {}: {e}", names::short(id))))?;
    let spec = crate::cli::runtime::load_config(&front).map_err(|e| {
        Failure::tinibox(format!(
            "restarting {}: {}",
            names::short(id),
            crate::cli::log::chain(&e)
        ))
    })?;
    match container::delete(&global.root, id, true) {
        Ok(()) | Err(ContainerError::NotFound(_)) => {}
        Err(e) => {
            return Err(Failure::tinibox(format!(
                "restarting {}: {e}",
                names::short(id)
            )))
        }
    }
    let rm = old.state.labels.contains_key(LABEL_RM);
    let mut kept = CreateOptions::new(
        global.root.clone(),
        id.to_string(),
        front.clone(),
        spec.clone(),
    );
    kept.labels = old.state.labels.clone();
    // After a reboot the image root's overlay is not mounted: the new run mounts it again.
    if let Err(e) = remount_image_root(&front) {
        let _ = container::reserve(&kept);
        return Err(Failure::tinibox(format!(
            "restarting {}: {e}",
            names::short(id)
        )));
    }
    let net = crate::net::Request::load(&front);
    let mut opts = CreateOptions::new(global.root.clone(), id.to_string(), front.clone(), spec);
    opts.labels = old.state.labels;
    Ok(Prepared {
        id: id.to_string(),
        front,
        opts,
        rm,
        existing: true,
        kept: Some(kept),
        net,
    })
}

/// Mounts a container's image root again when it is not mounted (after a reboot: the
/// overlay's upper folder kept the container's files on disk).
fn remount_image_root(front: &Path) -> Result<(), String> {
    let Ok(store_path) = std::fs::read_to_string(front.join(IMAGE_MARKER)) else {
        return Ok(());
    };
    let Some(id) = front.file_name().and_then(|n| n.to_str()) else {
        return Ok(());
    };
    Store::open(Path::new(store_path.trim()))
        .and_then(|s| s.mount_rootfs_again(id))
        .map_err(|e| format!("mounting the container's image root: {e}"))
}

/// What a failed start leaves: nothing for a new container; for one that was created or ran
/// before (`kept`, see [`Prepared`]), its front folder with the failure as exit status and
/// its engine record without a process, as before the start (its name, command and image
/// stay; `ps -a` lists it as exited, `rm NAME` removes it).
fn undo(global: &GlobalOptions, id: &str, front: &Path, kept: Option<&CreateOptions>, code: u8) {
    if let Some(kept) = kept {
        let _ = container::delete(&global.root, id, true);
        if let Err(e) = container::reserve(kept) {
            eprintln!(
                "tinibox: recording {} again after its failed start: {e} — remove it with `tinibox rm {id}`",
                names::short(id)
            );
        }
        Meta::update(&global.root, id, |m| {
            m.finished_at = Some(super::meta::now());
            m.restarting = false;
        });
        names::write_exit_status(&global.root, id, code as i32);
    } else {
        discard(front);
    }
}

/// File in the front folder naming the image store whose container root this container uses.
const IMAGE_MARKER: &str = "image-store";

/// Unmounts and removes the container root made from an image, if this container has one.
pub(super) fn release_image_root(front: &Path) {
    let Ok(store_path) = std::fs::read_to_string(front.join(IMAGE_MARKER)) else {
        return;
    };
    let Some(id) = front.file_name().and_then(|n| n.to_str()) else {
        return;
    };
    match Store::open(Path::new(store_path.trim())).and_then(|s| s.release_rootfs(id)) {
        Ok(()) => {
            let _ = std::fs::remove_file(front.join(IMAGE_MARKER));
        }
        Err(e) => eprintln!("tinibox: releasing the container's image root: {e}"),
    }
}

/// Removes the front folder and any image root (used on every failure path before the
/// container exists).
pub(super) fn discard(front: &Path) {
    release_image_root(front);
    let _ = std::fs::remove_dir_all(front);
}

/// Finds the rootfs: a directory as given, or an image from the store (its container root is
/// prepared for `id` and recorded in the front folder).
/// The image's side of a container: its root, process defaults, id (`sha256:…`), exposed
/// ports, Docker's `Healthcheck` object and its stop signal (empty for a rootfs directory).
type ImageSide = (
    PathBuf,
    ImageDefaults,
    String,
    Vec<String>,
    Option<serde_json::Value>,
    Option<String>,
);

fn resolve_rootfs(
    global: &GlobalOptions,
    image: &str,
    id: &str,
    front: &Path,
) -> Result<ImageSide, Failure> {
    let p = Path::new(image);
    if p.is_dir() {
        let abs = p.canonicalize().map_err(|e| {
            Failure::tinibox(format!("rootfs {image}: {e} — give an existing directory"))
        })?;
        return Ok((
            abs,
            ImageDefaults::default(),
            String::new(),
            Vec::new(),
            None,
            None,
        ));
    }
    let not_found = |e: String| {
        Failure::tinibox(format!(
            "{image} is neither a rootfs directory nor an image in the store ({e}) — give a directory, or load the image first (`tinibox load` / `tinibox import`)"
        ))
    };
    let store = Store::open(&global.store).map_err(|e| not_found(e.to_string()))?;
    let record = store.resolve(image).map_err(|e| not_found(e.to_string()))?;
    std::fs::write(front.join(IMAGE_MARKER), global.store.display().to_string())
        .map_err(|e| Failure::tinibox(format!("writing {}: {e}", front.display())))?;
    let prepared = store
        .prepare_rootfs(&record, id)
        .map_err(|e| Failure::tinibox(format!("preparing the root of {image}: {e}")))?;
    let c = prepared.config;
    if let Some(platform) = &c.foreign_platform {
        eprintln!(
            "{}",
            crate::image::store::platform_mismatch_warning(platform)
        );
    }
    Ok((
        prepared.rootfs,
        ImageDefaults {
            entrypoint: c.entrypoint,
            cmd: c.cmd,
            env: c.env,
            workdir: c.working_dir,
            user: c.user,
        },
        record.config_digest,
        c.exposed_ports,
        c.healthcheck,
        c.stop_signal,
    ))
}

/// Writes the files a spec plan asks for (the /etc files the spec bind-mounts), each to a
/// temporary name then renamed.
fn write_plan(plan: &spec::SpecPlan) -> Result<(), Failure> {
    for f in &plan.files {
        let tmp = f.path.with_extension("tmp");
        std::fs::write(&tmp, &f.contents)
            .and_then(|_| std::fs::rename(&tmp, &f.path))
            .map_err(|e| {
                Failure::tinibox(format!(
                    "writing {}: {e} — check that --root is writable",
                    f.path.display()
                ))
            })?;
    }
    Ok(())
}

/// The front door's own flags (`--label`, `--restart`, `--stop-signal`, `--stop-timeout`,
/// `--log-opt`, `--health-*`) checked, and the metadata they give (without times).
fn front_meta(args: &RunArgs) -> Result<Meta, Failure> {
    let flags = &args.flags;
    let restart = super::policy::parse(&flags.restart).map_err(Failure::tinibox)?;
    if restart.name != "no" && flags.rm {
        return Err(Failure::tinibox(
            "--restart and --rm: conflicting options — a container removed at exit cannot be restarted; drop one",
        ));
    }
    // `create` makes a container that `start` runs under a monitor, like `run -d`.
    let managed = flags.detach || args.create;
    if restart.name != "no" && !managed {
        return Err(Failure::tinibox(
            "--restart: a restart policy needs -d (the detached container's monitor restarts it)",
        ));
    }
    if let Some(sig) = &flags.stop_signal {
        super::signals::parse_signal(sig)
            .map_err(|e| Failure::tinibox(format!("--stop-signal: {e}")))?;
    }
    super::logstore::parse_options(&flags.log_opt).map_err(Failure::tinibox)?;
    let health = super::health::from_flags(flags).map_err(Failure::tinibox)?;
    let mut labels = BTreeMap::new();
    for l in &flags.label {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        if k.is_empty() {
            return Err(Failure::tinibox(format!(
                "--label: invalid label {l:?} — use KEY=VALUE with a non-empty KEY"
            )));
        }
        labels.insert(k.to_string(), v.to_string());
    }
    Ok(Meta {
        image: args.image.clone(),
        created: Some(super::meta::now()),
        labels,
        restart: restart.clone(),
        stop_signal: flags.stop_signal.clone(),
        stop_timeout: flags.stop_timeout,
        host_config: host_config(flags, &restart),
        log_opts: flags.log_opt.clone(),
        health,
        open_stdin: flags.interactive,
        ..Meta::default()
    })
}

/// Docker's `HostConfig` keys that the run flags set (values as Docker stores them).
fn host_config(f: &spec::RunFlags, restart: &super::meta::RestartPolicy) -> serde_json::Value {
    let size = |v: &Option<String>, flag: &str| {
        v.as_deref()
            .and_then(|v| {
                if v == "-1" {
                    Some(-1)
                } else {
                    spec::values::parse_size(flag, v).ok()
                }
            })
            .unwrap_or(0)
    };
    let nano_cpus = f
        .cpus
        .as_deref()
        .and_then(|c| c.parse::<f64>().ok())
        .map_or(0, |c| (c * 1e9) as i64);
    let list = |v: &Vec<String>| {
        if v.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::json!(v)
        }
    };
    serde_json::json!({
        "Binds": list(&f.volume),
        "NetworkMode": f.network,
        "RestartPolicy": restart,
        "AutoRemove": f.rm,
        "CapAdd": list(&f.cap_add),
        "CapDrop": list(&f.cap_drop),
        "Privileged": f.privileged,
        "ReadonlyRootfs": f.read_only,
        "Memory": size(&f.memory, "--memory"),
        "MemorySwap": size(&f.memory_swap, "--memory-swap"),
        "NanoCpus": nano_cpus,
        "CpuShares": f.cpu_shares.unwrap_or(0),
        "PidsLimit": f.pids_limit,
        "Init": f.init,
        "Tmpfs": f.tmpfs.iter().map(|t| {
            let (d, o) = t.split_once(':').unwrap_or((t, ""));
            (d.to_string(), serde_json::Value::String(o.to_string()))
        }).collect::<serde_json::Map<_, _>>(),
        "Ulimits": list(&f.ulimit),
        "CgroupParent": f.cgroup_parent.clone().unwrap_or_default(),
        "Sysctls": f.sysctl.iter().filter_map(|s| s.split_once('='))
            .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
            .collect::<serde_json::Map<_, _>>(),
        "GroupAdd": list(&f.group_add),
        "Devices": f.device.iter().filter_map(|d| crate::spec::linux_flags::split_device(d).ok())
            .map(|(h, c, p)| serde_json::json!({
                "PathOnHost": h, "PathInContainer": c, "CgroupPermissions": p,
            }))
            .collect::<Vec<_>>(),
        "ShmSize": f.shm_size.as_deref()
            .and_then(|s| spec::values::parse_size("--shm-size", s).ok())
            .unwrap_or(64 << 20),
        "LogConfig": {
            "Type": "tinibox",
            "Config": f.log_opt.iter().filter_map(|s| s.split_once('='))
                .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
                .collect::<serde_json::Map<_, _>>(),
        },
    })
}

pub(super) fn prepare(global: &GlobalOptions, args: &RunArgs) -> Result<Prepared, Failure> {
    let flags = &args.flags;
    spec::build::validate(flags).map_err(|e| Failure::tinibox(e.to_string()))?;
    let mut meta = front_meta(args)?;
    if let Some(name) = &flags.name {
        if names::name_taken(&global.root, name) {
            return Err(Failure::tinibox(format!(
                "--name: the name {name:?} is already in use — remove that container (`tinibox rm {name}`) or pick another name"
            )));
        }
    }
    let id = names::new_id().map_err(|e| Failure::tinibox(format!("generating an id: {e}")))?;
    let front = names::front_dir(&global.root, &id);
    std::fs::create_dir_all(&front).map_err(|e| {
        Failure::tinibox(format!(
            "creating {}: {e} — check that --root is writable (run as root)",
            front.display()
        ))
    })?;
    let result = (|| {
        let (rootfs, image, image_id, exposed, check, stop_signal) =
            resolve_rootfs(global, &args.image, &id, &front)?;
        meta.image_id = image_id;
        // --stop-signal, else the image's STOPSIGNAL (as Docker).
        meta.stop_signal = meta.stop_signal.take().or(stop_signal);
        meta.health = super::health::with_image(meta.health.take(), check.as_ref());
        meta.save_in(&front)
            .map_err(|e| Failure::tinibox(format!("writing {}: {e}", front.display())))?;
        let mut net = net_request(flags, &exposed)?;
        let facts =
            spec::Facts::read(flags, &rootfs).map_err(|e| Failure::tinibox(e.to_string()))?;
        let plan = spec::build_spec(
            flags,
            &SpecContext {
                rootfs: &rootfs,
                command: &args.command,
                image: &image,
                default_hostname: names::short(&id),
                etc_dir: &front,
                facts: &facts,
                id: &id,
            },
        )
        .map_err(|e| Failure::tinibox(e.to_string()))?;
        write_plan(&plan)?;
        let mut built = plan.spec;
        if spec::values::network_mode(&flags.network).ok()
            == Some(spec::values::NetworkMode::Container)
        {
            share_network(global, &flags.network, &front, &mut built)?;
        }
        let json = spec::to_json(&built).map_err(|e| Failure::tinibox(e.to_string()))?;
        let tmp = front.join("config.json.tmp");
        std::fs::write(&tmp, json)
            .and_then(|_| std::fs::rename(&tmp, front.join("config.json")))
            .map_err(|e| Failure::tinibox(format!("writing config.json: {e}")))?;
        let command = built
            .process()
            .as_ref()
            .and_then(|p| p.args().clone())
            .unwrap_or_default()
            .join(" ");
        let mut labels = BTreeMap::new();
        if let Some(n) = &flags.name {
            labels.insert(LABEL_NAME.to_string(), n.clone());
        }
        labels.insert(LABEL_COMMAND.to_string(), command);
        if flags.rm {
            labels.insert(LABEL_RM.to_string(), "true".to_string());
        }
        if flags.detach {
            labels.insert(LABEL_DETACHED.to_string(), "true".to_string());
        }
        if let Some(req) = &mut net {
            req.member.hostname = built.hostname().clone().unwrap_or_default();
            req.member.hosts = Some(front.join("hosts"));
            req.member.name = flags
                .name
                .clone()
                .unwrap_or_else(|| names::short(&id).to_string());
            req.member.aliases = flags.name.iter().cloned().collect();
            req.member.aliases.push(names::short(&id).to_string());
            req.save(&front)
                .map_err(|e| Failure::tinibox(e.to_string()))?;
        }
        let mut opts = CreateOptions::new(global.root.clone(), id.clone(), front.clone(), built);
        opts.labels = labels;
        Ok((opts, net))
    })();
    match result {
        Ok((opts, net)) => Ok(Prepared {
            id,
            front,
            opts,
            rm: flags.rm,
            existing: false,
            kept: None,
            net,
        }),
        Err(f) => {
            discard(&front);
            Err(f)
        }
    }
}

/// The network request of `run`'s flags (`--network bridge|NAME`, `-p`, `-P` with the
/// image's `exposed` ports), or None when the container joins no bridge network. An unknown
/// network is an error here, before anything is made.
fn net_request(
    flags: &spec::RunFlags,
    exposed: &[String],
) -> Result<Option<crate::net::Request>, Failure> {
    use crate::net::ports;
    if !spec::values::network_mode(&flags.network).is_ok_and(|m| m.is_bridged()) {
        return Ok(None);
    }
    let network = crate::net::networks::load(spec::values::network_target(&flags.network))
        .map_err(|e| Failure::tinibox(format!("--network: {e}")))?;
    let (ip, aliases) = crate::net::addressing(&network, flags.ip.as_deref(), &flags.network_alias)
        .map_err(|e| Failure::tinibox(e.to_string()))?;
    let mut req = crate::net::Request {
        networks: vec![network.name],
        ip,
        ..Default::default()
    };
    req.member.network_aliases = aliases;
    for p in &flags.publish {
        req.ports
            .push(ports::parse_publish(p).map_err(|e| Failure::tinibox(e.to_string()))?);
    }
    if flags.publish_all {
        for key in exposed {
            let r = ports::parse_exposed(key).map_err(|e| Failure::tinibox(e.to_string()))?;
            // A port -p already publishes is not published twice.
            if !req
                .ports
                .iter()
                .any(|p| p.container_port == r.container_port && p.protocol == r.protocol)
            {
                req.ports.push(r);
            }
        }
    }
    Ok(Some(req))
}

/// `--network container:NAME`: the spec joins the running container's network namespace,
/// and the container gets a copy of its hostname, /etc/hosts and /etc/resolv.conf (as
/// Docker does).
fn share_network(
    global: &GlobalOptions,
    value: &str,
    front: &Path,
    built: &mut oci_spec::runtime::Spec,
) -> Result<(), Failure> {
    let target = spec::values::network_target(value);
    let fail = |what: String| {
        Failure::tinibox(format!(
            "--network {value}: {what} — give a running container's name or id"
        ))
    };
    let id = names::resolve(&global.root, target).map_err(fail)?;
    if !is_alive(&global.root, &id) {
        return Err(fail(format!("container {target} is not running")));
    }
    let pid = Record::load(&global.root, &id)
        .map_err(|e| fail(e.to_string()))?
        .state
        .pid;
    let path = PathBuf::from(format!("/proc/{pid}/ns/net"));
    if let Some(ns) = built
        .linux_mut()
        .as_mut()
        .and_then(|l| l.namespaces_mut().as_mut())
    {
        for n in ns.iter_mut() {
            if n.typ() == oci_spec::runtime::LinuxNamespaceType::Network {
                n.set_path(Some(path.clone()));
            }
        }
    }
    let theirs = names::front_dir(&global.root, &id);
    for file in ["hosts", "resolv.conf", "hostname"] {
        if let Ok(text) = std::fs::read_to_string(theirs.join(file)) {
            if file == "hostname" {
                built.set_hostname(Some(text.trim().to_string()));
            }
            std::fs::write(front.join(file), text).map_err(|e| {
                Failure::tinibox(format!("writing {}: {e}", front.join(file).display()))
            })?;
        }
    }
    Ok(())
}

/// Joins the container's networks (its /etc/hosts gets its own line and, on user-defined
/// networks, its peers', from `crate::net`).
fn join_network(id: &str, pid: i32, req: &crate::net::Request) -> Result<(), Failure> {
    crate::net::attach(id, pid, req)
        .map(|_| ())
        .map_err(|e| Failure::tinibox(e.to_string()))
}

/// Creates and starts a prepared container; on failure removes everything it made.
/// Returns the init's pid (our child) and, with a terminal, the pty master.
pub(super) fn create_and_start(
    global: &GlobalOptions,
    mut p: Prepared,
    terminal: bool,
) -> Result<(String, i32, Option<OwnedFd>, bool), Failure> {
    let mut ours = None;
    let front = p.front.clone();
    let kept = p.kept.take();
    if terminal {
        let pair = nix::sys::socket::socketpair(
            nix::sys::socket::AddressFamily::Unix,
            nix::sys::socket::SockType::Stream,
            None,
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        );
        let (a, b) = match pair {
            Ok(x) => x,
            Err(e) => {
                undo(global, &p.id, &front, kept.as_ref(), 125);
                return Err(Failure::tinibox(format!("console socket pair: {e}")));
            }
        };
        p.opts.console_socket_fd = Some(b);
        ours = Some(a);
    }
    let id = p.id.clone();
    let created = match container::create(p.opts) {
        Ok(c) => c,
        Err(e) => {
            let f = Failure::from_engine(e);
            undo(global, &id, &front, kept.as_ref(), f.code);
            return Err(f);
        }
    };
    let gone = |f: Failure| {
        if kept.is_some() {
            undo(global, &id, &front, kept.as_ref(), f.code);
        } else {
            let _ = remove(&global.root, &id);
        }
        Err(f)
    };
    if let Some(req) = &p.net {
        if let Err(f) = join_network(&id, created.pid, req) {
            return gone(f);
        }
    }
    let master = match &ours {
        Some(sock) => match crate::linux::tty::receive_master(sock.as_fd()) {
            Ok(m) => Some(m),
            Err(e) => return gone(Failure::tinibox(e)),
        },
        None => None,
    };
    if let Some(m) = &master {
        crate::linux::tty::copy_winsize(libc::STDIN_FILENO, m.as_raw_fd());
    }
    if let Err(e) = container::start(&global.root, &id) {
        // Reap the init if it already exited, then remove everything.
        let _ = waitpid(Pid::from_raw(created.pid), Some(WaitPidFlag::WNOHANG));
        return gone(Failure::from_engine(e));
    }
    Meta::update(&global.root, &id, |m| {
        m.started_at = Some(super::meta::now());
        m.restarting = false;
        m.oom_killed = false;
    });
    let _ = std::fs::remove_file(front.join(names::EXIT_FILE));
    Ok((id, created.pid, master, p.rm))
}

/// `create`: records a prepared container without running it (Docker's `created` state: no
/// process, no cgroup; its front folder, image root and engine record with pid 0). `start`
/// runs it later through [`prepare_again`]. On failure nothing is left.
pub(super) fn park(p: Prepared) -> Result<String, Failure> {
    match container::reserve(&p.opts) {
        Ok(()) => Ok(p.id),
        Err(e) => {
            discard(&p.front);
            Err(Failure::tinibox(e.to_string()))
        }
    }
}

/// After the init exited: remove the container (`--rm`) or record its exit status.
pub fn finish(global: &GlobalOptions, id: &str, rm: bool, code: i32) {
    if rm {
        if let Err(e) = remove(&global.root, id) {
            eprintln!("tinibox: removing the container: {e} — run `tinibox rm -f {id}`");
        }
    } else {
        record_exit(global, id, code);
        // Its network namespace is gone with the init: give back the address and ports now.
        if let Err(e) = crate::net::detach(id) {
            eprintln!("tinibox: leaving the network: {e}");
        }
    }
}

/// Records the end of a run: the finish time, whether the memory cgroup's OOM killer struck
/// (its `oom_kill` count: v1 `memory.oom_control`, v2 `memory.events`; the cgroup is new for
/// each run and still there until the container is removed or run again), and the exit
/// status.
pub(super) fn record_exit(global: &GlobalOptions, id: &str, code: i32) {
    let oom = Record::load(&global.root, id)
        .ok()
        .and_then(|r| r.cgroup.stats().oom_kills)
        .is_some_and(|n| n > 0);
    Meta::update(&global.root, id, |m| {
        m.finished_at = Some(super::meta::now());
        m.oom_killed = oom;
    });
    names::write_exit_status(&global.root, id, code);
}

/// The container's live status, or None when the engine has no record of it.
pub fn status(root: &Path, id: &str) -> Option<Status> {
    let r = Record::load(root, id).ok()?;
    Some(r.live_status(&container::container_dir(root, id)))
}

/// Whether the container's init still runs (created, running or paused).
pub fn is_alive(root: &Path, id: &str) -> bool {
    matches!(
        status(root, id),
        Some(Status::Created | Status::Running | Status::Paused | Status::Creating)
    )
}

/// Sends a signal to the init (or with `all` to every process of the container).
pub fn signal(
    root: &Path,
    id: &str,
    sig: impl Into<crate::linux::signal::Sig>,
    all: bool,
) -> Result<(), ContainerError> {
    container::kill(root, id, sig, all)
}

/// Waits until the init is gone; false on timeout.
pub fn wait_stopped(root: &Path, id: &str, timeout: Duration) -> bool {
    // A timeout past what the clock can hold (Duration::MAX) never ends the wait.
    let end = Instant::now().checked_add(timeout);
    while is_alive(root, id) {
        if end.is_some_and(|end| Instant::now() >= end) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// The container's processes (host pids).
pub fn pids(root: &Path, id: &str) -> Result<Vec<i32>, ContainerError> {
    container::pids(root, id)
}

/// Kills whatever still runs and removes the container: engine state (cgroup, mounts, state
/// folder) and the front folder. Best effort; returns the first engine error.
pub fn remove(root: &Path, id: &str) -> Result<(), ContainerError> {
    let mut result = Ok(());
    // The engine's state directory, with or without a record (a create killed half-way):
    // `delete` removes either.
    if container::container_dir(root, id).exists() {
        if is_alive(root, id) {
            let _ = signal(root, id, Signal::SIGKILL, true);
            wait_stopped(root, id, Duration::from_secs(10));
        }
        // A detached container's monitor may remove it at the same time (--rm): not an error.
        result = match container::delete(root, id, true) {
            Err(ContainerError::NotFound(_)) => Ok(()),
            r => r,
        };
    }
    if let Err(e) = crate::net::detach(id) {
        eprintln!("tinibox: leaving the network: {e}");
    }
    discard(&names::front_dir(root, id));
    result
}
