//! The container's init, from the moment it is forked (in all its namespaces) until it execs
//! the container's process: root filesystem, pivot, hostname, sysctls, masked/read-only
//! paths, rlimits, keyring, terminal, user, capabilities, no_new_privs, seccomp, the close-on-
//! exec sweep, then the exec fifo and execve. Owns the ORDER of these steps; each step lives in
//! its own module. Never returns: it execs or exits, reporting failures over the sync channel
//! (before "ready") or the exec fifo (after).

use std::collections::BTreeMap;
use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

use super::sync::{Channel, ChildError, Msg};
use super::{console, devices, namespaces::Plan, rootfs, security};

/// Everything the init needs (inherited through fork; nothing is serialized).
pub struct InitArgs<'a> {
    /// The spec.
    pub spec: &'a Spec,
    /// Container id.
    pub id: &'a str,
    /// Absolute bundle path.
    pub bundle: &'a Path,
    /// Absolute rootfs path.
    pub rootfs: &'a Path,
    /// Namespace plan.
    pub plan: &'a Plan,
    /// Namespaces the init creates itself before anything else: `create` forked it directly
    /// (no stage 1) with only the pid namespace, so that the costly ones (network above all)
    /// are made here while the parent prepares the cgroup. Empty when stage 1 made them.
    pub unshare: nix::sched::CloneFlags,
    /// Channel to `create`.
    pub chan: &'a Channel,
    /// O_PATH fd of the state directory (to open the exec fifo after pivot).
    pub state_dir: &'a OwnedFd,
    /// Connected console socket when process.terminal.
    pub console: Option<RawFd>,
    /// `--no-pivot`.
    pub no_pivot: bool,
    /// `--no-new-keyring`.
    pub no_new_keyring: bool,
    /// Fds 3..3+N stay open for the container.
    pub preserve_fds: u32,
    /// Whether the parent must run hooks (a HooksPlease round trip).
    pub hooks_round_trip: bool,
    /// Run a reaper as PID 1 (annotation org.tinibox.init=true).
    pub reaper: bool,
}

/// Runs the init. Never returns.
pub fn run(a: InitArgs) -> ! {
    // SAFETY: prctl with integer arguments: no core dumps or ptrace of tinibox code in the container.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    if let Err(msg) = super::namespaces::create(a.unshare) {
        let _ = a.chan.send(&Msg::Error(ChildError::new(msg)));
        // SAFETY: leaving the forked child without running the parent's destructors.
        unsafe { libc::_exit(1) }
    }
    match setup(&a) {
        Ok(ready) => exec(a, ready),
        Err(e) => {
            let _ = a.chan.send(&Msg::Error(e));
            // SAFETY: leaving the forked child without running the parent's destructors.
            unsafe { libc::_exit(1) }
        }
    }
}

/// What setup leaves for the final exec.
struct Ready {
    path: CString,
    args: Vec<CString>,
    env: Vec<CString>,
    state_json: Option<String>,
    /// Installed right before the fifo wait (with no_new_privs; without it, already installed
    /// earlier while CAP_SYS_ADMIN was still held).
    seccomp: Option<crate::seccomp::CompiledFilter>,
}

fn cstrings(v: &[String], what: &str) -> Result<Vec<CString>, ChildError> {
    v.iter()
        .map(|s| {
            CString::new(s.as_str())
                .map_err(|_| ChildError::new(format!("{what}: {s:?} contains a NUL byte")))
        })
        .collect()
}

fn e(msg: impl Into<String>) -> ChildError {
    ChildError::new(msg)
}

fn setup(a: &InitArgs) -> Result<Ready, ChildError> {
    let spec = a.spec;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| e("process: missing"))?;
    security::apply_oom_score_adj(process).map_err(e)?;
    if a.plan.new_user {
        nix::unistd::setresgid(0.into(), 0.into(), 0.into()).map_err(|x| {
            e(format!(
                "become gid 0 in the user namespace (is 0 in linux.gidMappings?): {x}"
            ))
        })?;
        nix::unistd::setresuid(0.into(), 0.into(), 0.into()).map_err(|x| {
            e(format!(
                "become uid 0 in the user namespace (is 0 in linux.uidMappings?): {x}"
            ))
        })?;
    }
    if a.plan.new_net() {
        super::net::loopback_up().map_err(e)?;
    }
    if !a.plan.new_mount() {
        return Err(e(
            "linux.namespaces: tinibox needs a new mount namespace (add {\"type\":\"mount\"})",
        ));
    }
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    let root = rootfs::prepare_root(spec, a.rootfs).map_err(e)?;
    let private_cgroup_ns = a.plan.new_cgroup
        || a.plan
            .join
            .iter()
            .any(|(t, _)| *t == oci_spec::runtime::LinuxNamespaceType::Cgroup);
    let mut cgroup_dirs: Option<BTreeMap<String, PathBuf>> = None;
    let mut join_cgroup = || -> Result<BTreeMap<String, PathBuf>, String> {
        if let Some(dirs) = &cgroup_dirs {
            return Ok(dirs.clone());
        }
        let dirs = match a.chan.recv() {
            Ok(Some(Msg::CgroupJoined(dirs))) => dirs,
            Ok(Some(Msg::JoinCgroup(dirs))) => {
                join_cgroup_v1(&dirs)?;
                dirs
            }
            other => return Err(format!("sync: expected CgroupJoined, got {other:?}")),
        };
        if a.plan.new_cgroup {
            super::namespaces::create(nix::sched::CloneFlags::CLONE_NEWCGROUP)?;
        }
        cgroup_dirs = Some(dirs.clone());
        Ok(dirs)
    };
    let dev_fresh =
        rootfs::mount_all(spec, &root, a.bundle, private_cgroup_ns, &mut join_cgroup).map_err(e)?;
    // Everything after this point (hooks, exec) runs inside the container's cgroup.
    join_cgroup().map_err(e)?;
    if dev_fresh {
        devices::create(spec, &root, a.plan.has_user()).map_err(e)?;
    }
    let mut state_json = None;
    if a.hooks_round_trip {
        a.chan
            .send(&Msg::HooksPlease)
            .map_err(|x| e(format!("sync: {x}")))?;
        match a.chan.recv() {
            Ok(Some(Msg::HooksDone(s))) => state_json = Some(s),
            other => return Err(e(format!("sync: expected HooksDone, got {other:?}"))),
        }
        if let Some(h) = spec
            .hooks()
            .as_ref()
            .and_then(|h| h.create_container().as_ref())
        {
            crate::container::hooks::run_all(h, state_json.as_deref().unwrap_or("{}")).map_err(
                |x| {
                    e(format!(
                        "createContainer hook {}: {}",
                        x.path.display(),
                        x.detail
                    ))
                },
            )?;
        }
    }
    drop(root);
    rootfs::enter_root(a.rootfs, a.no_pivot).map_err(e)?;
    if a.plan.has_uts() {
        security::set_hostname(spec.hostname().as_deref(), spec.domainname().as_deref())
            .map_err(e)?;
    } else if spec.hostname().is_some() {
        return Err(e("hostname: set, but the container has no UTS namespace"));
    }
    if let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) {
        security::apply_sysctl(sysctl.iter()).map_err(e)?;
    }
    rootfs::finish(spec).map_err(e)?;
    security::apply_rlimits(process).map_err(e)?;
    if !a.no_new_keyring {
        security::new_session_keyring(a.id).map_err(e)?;
    }
    if process.terminal().unwrap_or(false) {
        let sock = a
            .console
            .ok_or_else(|| e("process.terminal: no console socket"))?;
        let size = process
            .console_size()
            .as_ref()
            .map(|b| (b.height() as u16, b.width() as u16));
        console::setup(sock, size).map_err(e)?;
        // SAFETY: the socket fd is ours and no longer needed.
        unsafe { libc::close(sock) };
    }
    let nnp = process.no_new_privileges().unwrap_or(false);
    let mut seccomp = match spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        Some(profile) => Some(crate::seccomp::compile(profile).map_err(|x| e(x.to_string()))?),
        None => None,
    };
    if !nnp {
        // Without no_new_privs installing a filter needs CAP_SYS_ADMIN: do it before the drop.
        if let Some(f) = seccomp.take() {
            f.install().map_err(|x| e(x.to_string()))?;
        }
    }
    let caps = security::cap_sets(process.capabilities().as_ref()).map_err(e)?;
    security::drop_bounding(&caps).map_err(e)?;
    security::set_user(process, false).map_err(e)?;
    security::set_caps(&caps).map_err(e)?;
    // cwd after pivot and after becoming the user: it must resolve inside the container
    // (CVE-2024-21626: no leaked host fd may serve as the working directory).
    let cwd = process.cwd();
    if !cwd.is_absolute() {
        return Err(e(format!("process.cwd {} must be absolute", cwd.display())));
    }
    nix::unistd::chdir(cwd).map_err(|x| e(format!("process.cwd {}: {x}", cwd.display())))?;
    match nix::unistd::getcwd() {
        Ok(p) if p.is_absolute() => {}
        _ => {
            return Err(e(format!(
                "process.cwd {} is outside the container",
                cwd.display()
            )))
        }
    }
    if nnp {
        security::set_no_new_privs().map_err(e)?;
    }
    let args = process.args().clone().unwrap_or_default();
    let cmd = args
        .first()
        .ok_or_else(|| e("process.args: empty; give the command to run"))?;
    let env = process.env().clone().unwrap_or_default();
    let path = security::find_command(cmd, &env).map_err(|l| ChildError {
        msg: format!("{cmd}: {}", l.reason),
        exec_code: Some(l.code),
        exec_path: Some(cmd.clone()),
    })?;
    let ready = Ready {
        path: CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| e("process.args[0] contains a NUL byte"))?,
        args: cstrings(&args, "process.args")?,
        env: cstrings(&env, "process.env")?,
        state_json,
        seccomp,
    };
    // Everything above fd 2 (+ preserved) is closed at exec (CVE-2024-21626).
    mark_cloexec_from(3 + a.preserve_fds as i32);
    Ok(ready)
}

/// Moves the calling process (single-threaded) into the cgroup v1 directories `dirs` by
/// writing "0" into their `tasks` files. A thread that moves itself skips the cgroup core's
/// global threadgroup lock (Linux 5.19+), whose write side — taken when a pid is written into
/// `cgroup.procs` — waits for an RCU grace period (10-16 ms measured on the build host).
/// Runs before pivot_root: the paths are the host's.
fn join_cgroup_v1(dirs: &BTreeMap<String, PathBuf>) -> Result<(), String> {
    for dir in dirs.values() {
        let tasks = dir.join("tasks");
        std::fs::write(&tasks, "0")
            .map_err(|x| format!("join the cgroup {}: {x}", tasks.display()))?;
    }
    Ok(())
}

/// Marks every fd >= `from` close-on-exec.
fn mark_cloexec_from(from: i32) {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC (Linux 5.11) only sets flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            from as u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if rc == 0 {
        return;
    }
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        let fds: Vec<i32> = dir
            .filter_map(|d| d.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        for fd in fds.into_iter().filter(|fd| *fd >= from) {
            // SAFETY: setting FD_CLOEXEC on an fd number; harmless if it is closed.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
    }
}

/// Reports "ready", installs seccomp, waits on the exec fifo and execs. Never returns.
fn exec(a: InitArgs, r: Ready) -> ! {
    if a.chan.send(&Msg::Ready).is_err() {
        // SAFETY: exit the child.
        unsafe { libc::_exit(1) }
    }
    // seccomp (compiled by crate::seccomp): installed last, right before the wait and exec.
    if let Some(f) = &r.seccomp {
        if let Err(x) = f.install() {
            fail_before_fifo(&a, &x.to_string());
        }
    }
    // Block until `start` opens the fifo for reading.
    let fifo = loop {
        // SAFETY: openat relative to our O_PATH state dir fd.
        let fd = unsafe {
            libc::openat(
                a.state_dir.as_raw_fd(),
                c"exec.fifo".as_ptr(),
                libc::O_WRONLY | libc::O_CLOEXEC,
            )
        };
        if fd >= 0 {
            // SAFETY: a new fd we own.
            break unsafe { OwnedFd::from_raw_fd(fd) };
        }
        if nix::errno::Errno::last() != nix::errno::Errno::EINTR {
            // SAFETY: exit the child.
            unsafe { libc::_exit(1) }
        }
    };
    let mut fifo = std::fs::File::from(fifo);
    let _ = fifo.write_all(b"0");
    if let Some(hooks) = a
        .spec
        .hooks()
        .as_ref()
        .and_then(|h| h.start_container().as_ref())
    {
        if let Err(x) =
            crate::container::hooks::run_all(hooks, r.state_json.as_deref().unwrap_or("{}"))
        {
            report_exec_failure(
                &mut fifo,
                1,
                &format!("startContainer hook {}: {}", x.path.display(), x.detail),
            );
        }
    }
    // The process starts like any exec'd program: default signal dispositions (tinibox, as a
    // Rust program, ignores SIGPIPE) and nothing blocked.
    reset_signals();
    if a.reaper {
        super::reaper::run(&mut fifo, &r.path, &r.args, &r.env);
    }
    let err = execve(&r.path, &r.args, &r.env);
    let code = if err == nix::errno::Errno::ENOENT {
        127
    } else {
        126
    };
    report_exec_failure(
        &mut fifo,
        code,
        &format!("{}: {}", r.path.to_string_lossy(), err.desc()),
    );
}

fn fail_before_fifo(a: &InitArgs, msg: &str) -> ! {
    // "Ready" was sent already: the error goes through the fifo once start opens it.
    // SAFETY: openat relative to our O_PATH state dir fd.
    let fd = unsafe {
        libc::openat(
            a.state_dir.as_raw_fd(),
            c"exec.fifo".as_ptr(),
            libc::O_WRONLY | libc::O_CLOEXEC,
        )
    };
    if fd >= 0 {
        // SAFETY: a new fd we own.
        let mut f = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        let _ = f.write_all(b"0");
        report_exec_failure(&mut f, 1, msg);
    }
    // SAFETY: exit the child.
    unsafe { libc::_exit(1) }
}

/// Sets every signal to its default disposition and unblocks all signals.
pub fn reset_signals() {
    /// The kernel's struct sigaction (x86_64): glibc's signal() refuses its reserved 32/33.
    #[repr(C)]
    struct KernelSigaction {
        handler: usize,
        flags: u64,
        restorer: usize,
        mask: u64,
    }
    let dfl = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: rt_sigaction with a valid struct and the kernel's sigset size.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                &dfl as *const KernelSigaction,
                std::ptr::null_mut::<KernelSigaction>(),
                8usize,
            )
        };
    }
    let _ = nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&nix::sys::signal::SigSet::empty()),
        None,
    );
}

/// execve; returns the errno on failure.
pub fn execve(path: &CString, args: &[CString], env: &[CString]) -> nix::errno::Errno {
    match nix::unistd::execve(path, args, env) {
        Err(e) => e,
        Ok(never) => match never {},
    }
}

/// Writes `E<code>:<message>` into the fifo (read by `start`) and exits with `code`.
pub fn report_exec_failure(fifo: &mut std::fs::File, code: i32, msg: &str) -> ! {
    let _ = fifo.write_all(format!("E{code}:{msg}").as_bytes());
    // SAFETY: exit the child.
    unsafe { libc::_exit(code) }
}

/// Parses what `start` read from the fifo after the first byte: None on success, else
/// (code, message).
pub fn parse_exec_report(data: &[u8]) -> Option<(i32, String)> {
    if data.is_empty() {
        return None;
    }
    let s = String::from_utf8_lossy(data);
    let rest = s.strip_prefix('E')?;
    let (code, msg) = rest.split_once(':')?;
    Some((code.parse().unwrap_or(1), msg.to_string()))
}

/// Absolute path helper for the bundle.
pub fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|c| c.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_reports() {
        assert_eq!(parse_exec_report(b""), None);
        assert_eq!(
            parse_exec_report(b"E127:/x: No such file"),
            Some((127, "/x: No such file".into()))
        );
        assert_eq!(
            parse_exec_report(b"E126:/etc: Permission denied"),
            Some((126, "/etc: Permission denied".into()))
        );
    }

    #[test]
    fn cloexec_sweep() {
        let f = std::fs::File::open("/dev/null").unwrap();
        let fd = f.as_raw_fd();
        // SAFETY: clear then check the flag on our own fd.
        unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
        mark_cloexec_from(fd);
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
    }
}
