//! `tinibox run`: flags → spec → bundle → `container::create` + `start` (the same engine as the
//! runc commands), then either the foreground wait (signal forwarding, optional pty) or a
//! detached monitor.
//!
//! Owns the front folder `<root>/.bundles/<id>/`; everything about the container itself is the
//! engine's. Every failure before the container runs leaves nothing behind.

use std::collections::BTreeMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::names::{self, LABEL_COMMAND, LABEL_DETACHED, LABEL_NAME, LABEL_RM};
use super::signals::SignalPipe;
use super::{engine, tty, RunArgs};
use crate::cli::GlobalOptions;
use crate::container::{self, ContainerError, CreateOptions};
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
fn resolve_rootfs(
    global: &GlobalOptions,
    image: &str,
    id: &str,
    front: &Path,
) -> Result<(PathBuf, ImageDefaults), Failure> {
    let p = Path::new(image);
    if p.is_dir() {
        let abs = p.canonicalize().map_err(|e| {
            Failure::tinibox(format!("rootfs {image}: {e} — give an existing directory"))
        })?;
        return Ok((abs, ImageDefaults::default()));
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
    Ok((
        prepared.rootfs,
        ImageDefaults {
            entrypoint: c.entrypoint,
            cmd: c.cmd,
            env: c.env,
            workdir: c.working_dir,
            user: c.user,
        },
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

pub(super) fn prepare(global: &GlobalOptions, args: &RunArgs) -> Result<Prepared, Failure> {
    let flags = &args.flags;
    spec::build::validate(flags).map_err(|e| Failure::tinibox(e.to_string()))?;
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
        let (rootfs, image) = resolve_rootfs(global, &args.image, &id, &front)?;
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
            },
        )
        .map_err(|e| Failure::tinibox(e.to_string()))?;
        write_plan(&plan)?;
        let built = plan.spec;
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
        let mut opts = CreateOptions::new(global.root.clone(), id.clone(), front.clone(), built);
        opts.labels = labels;
        Ok(opts)
    })();
    match result {
        Ok(opts) => Ok(Prepared {
            id,
            front,
            opts,
            rm: flags.rm,
        }),
        Err(f) => {
            discard(&front);
            Err(f)
        }
    }
}

/// Creates and starts a prepared container; on failure removes everything it made.
/// Returns the init's pid (our child) and, with a terminal, the pty master.
pub(super) fn create_and_start(
    global: &GlobalOptions,
    mut p: Prepared,
    terminal: bool,
) -> Result<(String, i32, Option<OwnedFd>, bool), Failure> {
    let mut ours = None;
    if terminal {
        let (a, b) = nix::sys::socket::socketpair(
            nix::sys::socket::AddressFamily::Unix,
            nix::sys::socket::SockType::Stream,
            None,
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| Failure::tinibox(format!("console socket pair: {e}")))?;
        p.opts.console_socket_fd = Some(b);
        ours = Some(a);
    }
    let id = p.id.clone();
    let created = match container::create(p.opts) {
        Ok(c) => c,
        Err(e) => {
            discard(&p.front);
            return Err(Failure::from_engine(e));
        }
    };
    let master = match &ours {
        Some(sock) => match tty::receive_master(sock.as_fd()) {
            Ok(m) => Some(m),
            Err(e) => {
                let _ = engine::remove(&global.root, &id);
                return Err(Failure::tinibox(e));
            }
        },
        None => None,
    };
    if let Some(m) = &master {
        tty::copy_winsize(libc::STDIN_FILENO, m.as_raw_fd());
    }
    if let Err(e) = container::start(&global.root, &id) {
        // Reap the init if it already exited, then remove everything.
        let _ = waitpid(Pid::from_raw(created.pid), Some(WaitPidFlag::WNOHANG));
        let _ = engine::remove(&global.root, &id);
        return Err(Failure::from_engine(e));
    }
    Ok((id, created.pid, master, p.rm))
}

/// Waits for the init, forwarding signals and (with a master) copying terminal I/O.
fn wait_foreground(pid: i32, sigs: &SignalPipe, master: Option<&OwnedFd>, stdin_open: bool) -> i32 {
    let child = Pid::from_raw(pid);
    let mut stdin_live = stdin_open && master.is_some();
    let mut master_live = master.is_some();
    loop {
        match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => {}
            Ok(ws) => {
                if let Some(code) = crate::process::exit_code(ws) {
                    if let Some(m) = master {
                        tty::drain(m.as_raw_fd(), libc::STDOUT_FILENO);
                    }
                    return code;
                }
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return 125,
        }
        let stdin_fd = std::io::stdin();
        let mut fds = vec![PollFd::new(sigs.fd(), PollFlags::POLLIN)];
        let master_idx = if master_live {
            master.map(|m| {
                fds.push(PollFd::new(m.as_fd(), PollFlags::POLLIN));
                fds.len() - 1
            })
        } else {
            None
        };
        let stdin_idx = if stdin_live {
            fds.push(PollFd::new(stdin_fd.as_fd(), PollFlags::POLLIN));
            Some(fds.len() - 1)
        } else {
            None
        };
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
        }
        let ready = |i: Option<usize>, fds: &[PollFd]| {
            i.and_then(|i| fds[i].revents())
                .is_some_and(|r| !r.is_empty())
        };
        let master_ready = ready(master_idx, &fds);
        let stdin_ready = ready(stdin_idx, &fds);
        drop(fds);
        for sig in sigs.drain() {
            if sig == libc::SIGCHLD {
                continue;
            }
            if sig == libc::SIGWINCH {
                if let Some(m) = master {
                    tty::copy_winsize(libc::STDIN_FILENO, m.as_raw_fd());
                }
                continue;
            }
            if let Ok(s) = Signal::try_from(sig) {
                let _ = kill(child, s);
            }
        }
        if let Some(m) = master {
            if master_ready && !tty::pump(m.as_raw_fd(), libc::STDOUT_FILENO) {
                master_live = false;
            }
            if stdin_ready && !tty::pump(libc::STDIN_FILENO, m.as_raw_fd()) {
                stdin_live = false;
            }
        }
    }
}

/// Points our stdin at /dev/null (the container inherits it) when `-i` was not given.
fn detach_stdin() {
    if let Ok(null) = std::fs::File::open("/dev/null") {
        // SAFETY: dup2 onto fd 0 of our own process.
        unsafe {
            libc::dup2(null.as_raw_fd(), libc::STDIN_FILENO);
        }
    }
}

/// Runs `tinibox run`; returns the exit status.
pub fn run(global: &GlobalOptions, args: RunArgs) -> u8 {
    if args.flags.detach {
        return super::detach::run(global, args);
    }
    let prepared = match prepare(global, &args) {
        Ok(p) => p,
        Err(f) => {
            eprintln!("tinibox: {}", f.message);
            return f.code;
        }
    };
    if !args.flags.interactive {
        detach_stdin();
    }
    let sigs = match SignalPipe::install() {
        Ok(s) => s,
        Err(e) => {
            discard(&prepared.front);
            eprintln!("tinibox: installing signal handlers: {e}");
            return 125;
        }
    };
    let (id, pid, master, rm) = match create_and_start(global, prepared, args.flags.tty) {
        Ok(r) => r,
        Err(f) => {
            eprintln!("tinibox: {}", f.message);
            return f.code;
        }
    };
    let raw = if master.is_some() {
        tty::RawMode::enable(libc::STDIN_FILENO)
    } else {
        None
    };
    let code = wait_foreground(pid, &sigs, master.as_ref(), args.flags.interactive);
    drop(raw);
    drop(master);
    drop(sigs);
    finish(global, &id, rm, code);
    code.clamp(0, 255) as u8
}

/// After the init exited: remove the container (`--rm`) or record its exit status.
pub fn finish(global: &GlobalOptions, id: &str, rm: bool, code: i32) {
    if rm {
        if let Err(e) = engine::remove(&global.root, id) {
            eprintln!("tinibox: removing the container: {e} — run `tinibox rm -f {id}`");
        }
    } else {
        names::write_exit_status(&global.root, id, code);
    }
}
