//! `exec`: a new process inside a running container (what `runc exec`, `docker exec` and
//! `podman exec` ask for).
//!
//! Owns joining an existing container: its cgroup, every namespace of its init (through
//! `/proc/<pid>/ns/*` fds opened before forking), its root (an fd on `/proc/<pid>/root`, which
//! is right after pivot_root and after `--no-pivot`'s chroot alike), and the same security
//! settings as the init: rlimits, user and groups, capabilities, `no_new_privs`, seccomp.
//! It does not create containers or change their state (`create`, `lifecycle`), and it never
//! runs a host binary inside the container: tinibox forks, marks itself non-dumpable before the
//! first `setns`, and the only `execve` is of the container's own command (CVE-2019-5736).
//!
//! Process tree: tinibox (stays on the host) → helper child (joins cgroup and namespaces) →
//! the exec'd process, cloned with `CLONE_PARENT` so that it is tinibox's child (it is in the
//! container's pid namespace because it was created after `setns(CLONE_NEWPID)`). The helper
//! exits at once. With `--detach`, tinibox writes the pid file and exits; the process is then
//! adopted by the caller's subreaper (containerd's shim, conmon), like runc's.

use std::ffi::CString;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Process};

use super::state::{write_atomic, Record};
use super::{container_dir, ContainerError, ExecFailure, Status};
use crate::linux::security;
use crate::seccomp::{self, CompiledFilter};

/// What `exec` needs.
#[derive(Debug)]
pub struct ExecOptions {
    /// The state root (e.g. `/run/tinibox`).
    pub state_root: PathBuf,
    /// The container.
    pub id: String,
    /// The process to run (from `--process FILE`, or the container's defaults plus flags).
    pub process: Process,
    /// With `process.terminal`: where to send the pty master (SCM_RIGHTS).
    pub console_socket: Option<PathBuf>,
    /// With `process.terminal`: an already connected socket to send the pty master to
    /// (an in-process caller's socketpair); wins over `console_socket`.
    pub console_stream: Option<UnixStream>,
    /// Return once the process runs instead of waiting for it.
    pub detach: bool,
    /// Write the process's host pid here (atomically).
    pub pid_file: Option<PathBuf>,
    /// Pass fds 3..3+N through to the process.
    pub preserve_fds: u32,
}

/// How `exec` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecOutcome {
    /// `detach`: the process runs with this host pid.
    Detached {
        /// Host pid.
        pid: i32,
    },
    /// The process ended with this status (128+N when killed by signal N).
    Exited {
        /// Exit status.
        code: i32,
    },
}

/// Namespaces in the order they are joined: the user namespace first (it grants the rights
/// for the others), the mount namespace last (it hides the host's /proc).
const JOIN_ORDER: &[(LinuxNamespaceType, &str, libc::c_int)] = &[
    (LinuxNamespaceType::User, "user", libc::CLONE_NEWUSER),
    (LinuxNamespaceType::Ipc, "ipc", libc::CLONE_NEWIPC),
    (LinuxNamespaceType::Uts, "uts", libc::CLONE_NEWUTS),
    (LinuxNamespaceType::Network, "net", libc::CLONE_NEWNET),
    (LinuxNamespaceType::Pid, "pid", libc::CLONE_NEWPID),
    (LinuxNamespaceType::Cgroup, "cgroup", libc::CLONE_NEWCGROUP),
    (LinuxNamespaceType::Time, "time", 0x80),
    (LinuxNamespaceType::Mount, "mnt", libc::CLONE_NEWNS),
];

/// Everything prepared before forking, so the children only make system calls.
struct Prepared {
    ns_fds: Vec<(OwnedFd, libc::c_int)>,
    root_fd: OwnedFd,
    seccomp: Option<CompiledFilter>,
    console: Option<UnixStream>,
    exe_candidates: Vec<CString>,
    argv: Vec<CString>,
    envp: Vec<CString>,
    cwd: CString,
    cmd_name: String,
    caps: security::CapSets,
}

fn cstring(what: &str, s: &str) -> Result<CString, ContainerError> {
    CString::new(s).map_err(|_| ContainerError::Spec(format!("{what} contains a NUL byte")))
}

/// Same inode as our own namespace of that kind (joining it again is useless, or refused).
fn same_ns(pid: i32, name: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    let theirs = std::fs::metadata(format!("/proc/{pid}/ns/{name}"));
    let ours = std::fs::metadata(format!("/proc/self/ns/{name}"));
    matches!((theirs, ours), (Ok(a), Ok(b)) if a.ino() == b.ino() && a.dev() == b.dev())
}

/// Where to look for the command: itself when it has a '/', else each `$PATH` entry.
fn candidates(cmd: &str, env: &[String]) -> Vec<String> {
    if cmd.contains('/') {
        return vec![cmd.to_string()];
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    path.split(':')
        .map(|d| if d.is_empty() { "." } else { d })
        .map(|d| format!("{}/{cmd}", d.trim_end_matches('/')))
        .collect()
}

fn prepare(opts: &ExecOptions, rec: &Record) -> Result<Prepared, ContainerError> {
    let pid = rec.state.pid;
    let p = &opts.process;
    let args = p.args().clone().unwrap_or_default();
    let Some(cmd) = args.first().cloned() else {
        return Err(ContainerError::Spec(
            "process.args is empty: give the command to run".into(),
        ));
    };
    let env = p.env().clone().unwrap_or_default();

    let spec_ns = rec
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    let mut ns_fds = Vec::new();
    for (kind, name, flag) in JOIN_ORDER {
        if !spec_ns.iter().any(|n| n.typ() == *kind) || same_ns(pid, name) {
            continue;
        }
        let path = format!("/proc/{pid}/ns/{name}");
        let f = File::open(&path).map_err(|e| ContainerError::io(format!("open {path}"), e))?;
        ns_fds.push((OwnedFd::from(f), *flag));
    }
    let root_path = format!("/proc/{pid}/root");
    let root =
        File::open(&root_path).map_err(|e| ContainerError::io(format!("open {root_path}"), e))?;

    let seccomp = match rec.spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        Some(profile) => {
            Some(seccomp::compile(profile).map_err(|e| ContainerError::Spec(e.to_string()))?)
        }
        None => None,
    };

    let console = if !p.terminal().unwrap_or(false) {
        None
    } else if let Some(stream) = &opts.console_stream {
        Some(
            stream
                .try_clone()
                .map_err(|e| ContainerError::io("console socket", e))?,
        )
    } else {
        let Some(sock) = &opts.console_socket else {
            return Err(ContainerError::Spec(
                "process.terminal is true: give --console-socket to receive the pty".into(),
            ));
        };
        Some(UnixStream::connect(sock).map_err(|e| {
            ContainerError::io(format!("connect to console socket {}", sock.display()), e)
        })?)
    };

    let exe_candidates = candidates(&cmd, &env)
        .iter()
        .map(|c| cstring("process.args[0]", c))
        .collect::<Result<_, _>>()?;
    let argv = args
        .iter()
        .map(|a| cstring("process.args", a))
        .collect::<Result<_, _>>()?;
    let envp = env
        .iter()
        .map(|e| cstring("process.env", e))
        .collect::<Result<_, _>>()?;
    let cwd = cstring("process.cwd", &p.cwd().to_string_lossy())?;
    let caps = security::cap_sets(p.capabilities().as_ref()).map_err(ContainerError::Spec)?;
    Ok(Prepared {
        ns_fds,
        root_fd: OwnedFd::from(root),
        seccomp,
        console,
        exe_candidates,
        argv,
        envp,
        cwd,
        cmd_name: cmd,
        caps,
    })
}

/// A pipe whose two ends are close-on-exec and numbered above `min` (so that they never
/// collide with preserved fds 3..3+N).
fn pipe_above(min: RawFd) -> Result<(OwnedFd, OwnedFd), ContainerError> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| ContainerError::sys("pipe", e))?;
    let lift = |fd: OwnedFd| -> Result<OwnedFd, ContainerError> {
        if fd.as_raw_fd() >= min {
            return Ok(fd);
        }
        // SAFETY: F_DUPFD_CLOEXEC returns a new fd we own.
        let n = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, min) };
        if n < 0 {
            return Err(ContainerError::io(
                "dup pipe",
                std::io::Error::last_os_error(),
            ));
        }
        Ok(unsafe { OwnedFd::from_raw_fd(n) })
    };
    Ok((lift(r)?, lift(w)?))
}

/// Runs a process inside container `opts.id` (see the module comment).
pub fn exec(opts: ExecOptions) -> Result<ExecOutcome, ContainerError> {
    super::validate_id(&opts.id)?;
    let rec = Record::load(&opts.state_root, &opts.id)?;
    let dir = container_dir(&opts.state_root, &opts.id);
    match rec.live_status(&dir) {
        Status::Running | Status::Created => {}
        other => {
            return Err(ContainerError::WrongState {
                id: opts.id.clone(),
                status: other.to_string(),
                op: match other {
                    Status::Paused => "exec (resume it first)".into(),
                    _ => "exec (start it first)".into(),
                },
            })
        }
    }
    let prep = prepare(&opts, &rec)?;
    let min_fd = 3 + opts.preserve_fds as RawFd;
    let (err_r, err_w) = pipe_above(min_fd)?;
    let (pid_r, pid_w) = pipe_above(min_fd)?;

    // SAFETY: tinibox's CLI is single-threaded here; the child only makes system calls and
    // small allocations before execve or _exit.
    let helper = unsafe { libc::fork() };
    if helper < 0 {
        return Err(ContainerError::io("fork", std::io::Error::last_os_error()));
    }
    if helper == 0 {
        drop(err_r);
        drop(pid_r);
        helper_child(&opts, &rec, &prep, err_w, pid_w);
    }
    drop(err_w);
    drop(pid_w);

    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(helper, &mut status, 0) };
    let mut buf = [0u8; 4];
    let got = File::from(pid_r).read(&mut buf).unwrap_or(0);
    let mut tagged = String::new();
    let _ = File::from(err_r).read_to_string(&mut tagged);
    let mut chars = tagged.chars();
    let tag = chars.next();
    let msg: String = chars.collect();
    if got != 4 {
        let detail = if msg.is_empty() {
            format!("helper exited with status {status:#x}")
        } else {
            msg
        };
        return Err(ContainerError::Init(format!("exec: {detail}")));
    }
    let pid = i32::from_ne_bytes(buf);
    if !msg.is_empty() {
        // The process reported a failure before execve and exits: reap it.
        let mut st = 0;
        // SAFETY: `pid` is our child (CLONE_PARENT).
        unsafe { libc::waitpid(pid, &mut st, 0) };
        let kind = match tag {
            Some(TAG_NOT_FOUND) => ExecFailure::NotFound,
            Some(TAG_NOT_EXECUTABLE) => ExecFailure::NotExecutable,
            _ => return Err(ContainerError::Init(format!("exec: {msg}"))),
        };
        return Err(ContainerError::Exec {
            kind,
            path: prep.cmd_name.clone(),
            detail: msg,
        });
    }
    if let Some(f) = &opts.pid_file {
        write_atomic(f, pid.to_string().as_bytes())?;
    }
    if opts.detach {
        return Ok(ExecOutcome::Detached { pid });
    }
    Ok(ExecOutcome::Exited {
        code: wait_forwarding_signals(pid),
    })
}

/// Waits for `pid`, forwarding the usual termination and job-control signals to it.
fn wait_forwarding_signals(pid: i32) -> i32 {
    use nix::sys::signal::{SigSet, SigmaskHow, Signal};
    let mut set = SigSet::empty();
    for s in crate::linux::FORWARDED_SIGNALS {
        set.add(s);
    }
    set.add(Signal::SIGWINCH);
    set.add(Signal::SIGCHLD);
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None);
    loop {
        let mut st = 0;
        // SAFETY: non-blocking wait for our child.
        let r = unsafe { libc::waitpid(pid, &mut st, libc::WNOHANG) };
        if r == pid || r < 0 {
            let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&set), None);
            if r < 0 {
                return 255;
            }
            if libc::WIFEXITED(st) {
                return libc::WEXITSTATUS(st);
            }
            return 128 + libc::WTERMSIG(st);
        }
        match set.wait() {
            Ok(Signal::SIGCHLD) | Err(_) => {}
            Ok(sig) => {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
            }
        }
    }
}

/// Tag of an error message: the command was not found.
const TAG_NOT_FOUND: char = 'N';
/// Tag of an error message: the command cannot be executed.
const TAG_NOT_EXECUTABLE: char = 'X';
/// Tag of an error message: anything else.
const TAG_OTHER: char = 'E';

/// Writes `msg` to the error pipe, tagged with its kind, and exits with status 1.
fn fail(err_w: &OwnedFd, msg: &str) -> ! {
    fail_tagged(err_w, TAG_OTHER, msg)
}

/// Writes `tag` + `msg` to the error pipe and exits.
fn fail_tagged(err_w: &OwnedFd, tag: char, msg: &str) -> ! {
    let line = format!("{tag}{msg}");
    // SAFETY: writing a buffer we own to a pipe we own, then exiting without unwinding.
    unsafe {
        libc::write(err_w.as_raw_fd(), line.as_ptr().cast(), line.len());
        libc::_exit(1)
    }
}

fn os_err() -> std::io::Error {
    std::io::Error::last_os_error()
}

/// The helper: cgroup, namespaces, root; then clones the real process and exits.
fn helper_child(
    opts: &ExecOptions,
    rec: &Record,
    prep: &Prepared,
    err_w: OwnedFd,
    pid_w: OwnedFd,
) -> ! {
    // Not dumpable: processes of the container cannot ptrace us or open our /proc files
    // while we hold host fds.
    // SAFETY: plain prctl.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    if let Err(e) = rec.cgroup.add_pid(me) {
        fail(&err_w, &format!("join cgroup: {e}"));
    }
    for (fd, flag) in &prep.ns_fds {
        // SAFETY: setns on an fd we own.
        if unsafe { libc::setns(fd.as_raw_fd(), *flag) } != 0 {
            fail(&err_w, &format!("setns({flag:#x}): {}", os_err()));
        }
    }
    // SAFETY: fchdir/chroot/chdir with valid arguments.
    unsafe {
        if libc::fchdir(prep.root_fd.as_raw_fd()) != 0
            || libc::chroot(c".".as_ptr()) != 0
            || libc::chdir(c"/".as_ptr()) != 0
        {
            fail(&err_w, &format!("enter the container's root: {}", os_err()));
        }
    }
    // SAFETY: fork-like clone (no new stack): the child continues here with a copy of memory.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (libc::CLONE_PARENT | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if pid < 0 {
        fail(&err_w, &format!("clone: {}", os_err()));
    }
    if pid == 0 {
        drop(pid_w);
        process_child(opts, prep, err_w);
    }
    let bytes = (pid as i32).to_ne_bytes();
    // SAFETY: writing 4 bytes we own to our pipe, then exiting.
    unsafe {
        libc::write(pid_w.as_raw_fd(), bytes.as_ptr().cast(), 4);
        libc::_exit(0)
    }
}

/// Opens a pty inside the container, sends the master to the console socket and makes the
/// slave the controlling terminal and stdio.
fn setup_terminal(sock: &UnixStream) -> Result<(), String> {
    use nix::fcntl::OFlag;
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .map_err(|e| format!("open /dev/ptmx: {e}"))?;
    nix::pty::grantpt(&master).map_err(|e| format!("grantpt: {e}"))?;
    nix::pty::unlockpt(&master).map_err(|e| format!("unlockpt: {e}"))?;
    let name = nix::pty::ptsname_r(&master).map_err(|e| format!("ptsname: {e}"))?;
    let slave = nix::fcntl::open(
        name.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| format!("open {name}: {e}"))?;
    let fds = [master.as_raw_fd()];
    let iov = [std::io::IoSlice::new(name.as_bytes())];
    sendmsg::<()>(
        sock.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| format!("send the pty to the console socket: {e}"))?;
    // SAFETY: setsid/ioctl/dup2/close on fds we own.
    unsafe {
        libc::setsid();
        if libc::ioctl(slave, libc::TIOCSCTTY, 0) != 0 {
            return Err(format!("set controlling terminal: {}", os_err()));
        }
        for fd in 0..3 {
            libc::dup2(slave, fd);
        }
        if slave > 2 {
            libc::close(slave);
        }
    }
    Ok(())
}

/// The process itself: terminal, cwd, limits, identity, seccomp, then execve.
fn process_child(opts: &ExecOptions, prep: &Prepared, err_w: OwnedFd) -> ! {
    let p = &opts.process;
    if let Some(sock) = &prep.console {
        if let Err(e) = setup_terminal(sock) {
            fail(&err_w, &e);
        }
    } else {
        // SAFETY: plain setsid; fails harmlessly when already a group leader.
        unsafe { libc::setsid() };
    }
    // SAFETY: chdir with a valid C string; getcwd into our buffer.
    unsafe {
        if libc::chdir(prep.cwd.as_ptr()) != 0 {
            let m = format!("chdir to cwd {:?}: {}", prep.cwd, os_err());
            fail(&err_w, &m);
        }
        // CVE-2024-21626: the cwd must be inside the container's root.
        let mut buf = [0u8; 4096];
        let r = libc::getcwd(buf.as_mut_ptr().cast(), buf.len());
        if r.is_null() || buf[0] != b'/' {
            fail(&err_w, "cwd is outside the container root");
        }
    }
    if let Err(e) = security::apply_rlimits(p) {
        fail(&err_w, &e);
    }
    if let Err(e) = security::apply_oom_score_adj(p) {
        fail(&err_w, &e);
    }
    let nnp = p.no_new_privileges().unwrap_or(false);
    if let (false, Some(f)) = (nnp, &prep.seccomp) {
        // Without no_new_privs the filter needs CAP_SYS_ADMIN: install before dropping it.
        if let Err(e) = f.install() {
            fail(&err_w, &e.to_string());
        }
    }
    // Bounding set first (needs CAP_SETPCAP), then ids with KEEPCAPS, then the final sets.
    let identity = security::drop_bounding(&prep.caps)
        .and_then(|()| security::set_user(p, false))
        .and_then(|()| security::set_caps(&prep.caps));
    if let Err(e) = identity {
        fail(&err_w, &e);
    }
    if nnp {
        if let Err(e) = security::set_no_new_privs() {
            fail(&err_w, &e);
        }
        if let Some(f) = &prep.seccomp {
            if let Err(e) = f.install() {
                fail(&err_w, &e.to_string());
            }
        }
    }
    // CVE-2024-21626: no host fd may reach the process (fds 3..3+N are passed on purpose).
    let first = 3 + opts.preserve_fds;
    // SAFETY: close_range with the CLOEXEC flag only marks fds.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };

    // Default dispositions (tinibox, a Rust program, ignores SIGPIPE) and nothing blocked.
    crate::linux::init::reset_signals();
    let mut argv: Vec<*const libc::c_char> = prep.argv.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = prep.envp.iter().map(|a| a.as_ptr()).collect();
    envp.push(std::ptr::null());
    let mut denied = false;
    for exe in &prep.exe_candidates {
        // SAFETY: NUL-terminated arrays of valid C strings.
        unsafe { libc::execve(exe.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
        match os_err().raw_os_error() {
            Some(libc::ENOENT) | Some(libc::ENOTDIR) => {}
            Some(libc::EACCES) => denied = true,
            _ => {
                let m = format!("exec: {:?}: cannot execute: {}", prep.cmd_name, os_err());
                fail_tagged(&err_w, TAG_NOT_EXECUTABLE, &m);
            }
        }
    }
    if denied {
        let m = format!("exec: {:?}: permission denied", prep.cmd_name);
        fail_tagged(&err_w, TAG_NOT_EXECUTABLE, &m);
    }
    let why = if prep.cmd_name.contains('/') {
        "no such file or directory"
    } else {
        "executable file not found in $PATH"
    };
    let m = format!("exec: {:?}: {why}", prep.cmd_name);
    fail_tagged(&err_w, TAG_NOT_FOUND, &m)
}

/// Reads a process description (`--process FILE`, `-` for stdin) as runc does.
pub fn load_process(path: &Path) -> Result<Process, ContainerError> {
    let data = if path == Path::new("-") {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| ContainerError::io("read process from stdin", e))?;
        s
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| ContainerError::io(format!("read {}", path.display()), e))?
    };
    serde_json::from_str(&data)
        .map_err(|e| ContainerError::Spec(format!("process file {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lookup_uses_the_containers_path() {
        let env = vec!["PATH=/a:/b/".to_string()];
        assert_eq!(candidates("sh", &env), vec!["/a/sh", "/b/sh"]);
        assert_eq!(candidates("./x", &env), vec!["./x"]);
        assert_eq!(candidates("ls", &[]).len(), 6);
    }
}
