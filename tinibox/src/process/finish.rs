//! `finish_and_exec`: the last steps every container process takes, the init of a new
//! container and a process started by `exec` alike, in one order:
//!
//! 1. a session of its own, with or without a terminal (without one, the caller's
//!    controlling terminal must not stay reachable: /dev/tty and TIOCSTI, CVE-2017-5226);
//!    then the terminal (process.terminal: a pty in the container, sized by
//!    process.consoleSize, its master sent to the console socket, made the controlling one);
//! 2. rlimits, and HOME from the container's /etc/passwd;
//! 3. the working directory, entered as the container's root and checked to resolve inside
//!    the container (CVE-2024-21626: a leaked host fd must not serve as the cwd), before any
//!    seccomp filter is loaded, so that a profile denying getcwd or open cannot fail or fool
//!    these steps (runc also checks before it loads seccomp where it can); when the root may
//!    not enter it (EACCES, EPERM) it is entered and checked again as the user in step 5;
//! 4. seccomp, when there is no no_new_privs (installing a filter then needs CAP_SYS_ADMIN,
//!    so before the capabilities are dropped);
//! 5. the bounding set, the user and groups, the capability sets (and the cwd of step 3
//!    when only the user may enter it);
//! 6. no_new_privs, and the command's lookup in the container's PATH (127 / 126);
//! 7. the close-on-exec sweep of every fd above 2 and the preserved ones (CVE-2024-21626);
//! 8. the caller's gate: [`Gate::ready`] (the init reports "ready"), seccomp with
//!    no_new_privs (as close to execve as possible), [`Gate::release`] (the init waits on the
//!    exec fifo and runs startContainer hooks);
//! 9. default signal dispositions, then execve (or the `--init` reaper, which forks first);
//!    a failure at any step goes to [`Gate::fail`], which reports it and exits.
//!
//! Owns that order; each step's system calls live in [`crate::linux`] and [`crate::seccomp`].

use std::ffi::CString;
use std::os::fd::RawFd;

use oci_spec::runtime::Process;

use super::channel::ChildError;
use crate::linux::{console, security};
use crate::seccomp::CompiledFilter;

/// What the last steps need; prepared before the fork that made the process, so that the
/// child only makes system calls.
pub struct Finish<'a> {
    /// The process to run (user, capabilities, rlimits, cwd, args, env, terminal).
    pub process: &'a Process,
    /// With process.terminal: the connected console socket to send the pty master to.
    pub console: Option<RawFd>,
    /// The compiled seccomp filter, if the container has one.
    pub seccomp: Option<CompiledFilter>,
    /// Fds 3..3+N stay open for the process.
    pub preserve_fds: u32,
    /// Run the `--init` reaper as PID 1, which forks the process (annotation
    /// `org.tinibox.init=true`).
    pub reaper: bool,
    /// The container's init with process.terminal: its pty slave is bind-mounted on
    /// /dev/console, as runc does (not for `exec`).
    pub console_mount: bool,
}

/// Where a finishing process reports to: the init to `create` (channel) and later `start`
/// (exec fifo); a process of `exec` to `exec` (channel).
pub trait Gate {
    /// Everything before execve is done: the init reports "ready" here.
    fn ready(&mut self) -> Result<(), ChildError>;
    /// Waits until the process may exec: the init blocks on the exec fifo here.
    fn release(&mut self) -> Result<(), ChildError>;
    /// Reports `err` to whoever waits and exits with its exit code.
    fn fail(&mut self, err: ChildError) -> !;
    /// Closes the gate's report channel in a process that will never exec (the reaper's
    /// parent side), so that the waiting side sees EOF once the process has exec'd.
    fn close(&mut self);
}

/// Runs steps 1-9 of the module comment. Never returns.
pub fn finish_and_exec(f: Finish, gate: &mut dyn Gate) -> ! {
    let command = match steps(&f) {
        Ok(c) => c,
        Err(e) => gate.fail(e),
    };
    if let Err(e) = gate.ready() {
        gate.fail(e);
    }
    if let (true, Some(filter)) = (no_new_privs(f.process), &f.seccomp) {
        if let Err(e) = filter.install() {
            gate.fail(ChildError::new(e.to_string()));
        }
    }
    if let Err(e) = gate.release() {
        gate.fail(e);
    }
    // The process starts like any exec'd program: default signal dispositions (tinibox, as a
    // Rust program, ignores SIGPIPE) and nothing blocked.
    reset_signals();
    if f.reaper {
        // From here on, in the reaper's child (the reaper itself never returns).
        if let Err(e) = super::reaper::fork_reaper(|| gate.close()) {
            gate.fail(e);
        }
    }
    let err = command.exec();
    gate.fail(err)
}

/// Makes the process the leader of a new session, without a controlling terminal. A process
/// that already leads its own session (setsid's EPERM with sid == pid) is left as it is.
fn new_session() -> Result<(), String> {
    if let Err(err) = nix::unistd::setsid() {
        let me = nix::unistd::getpid();
        if nix::unistd::getsid(None) != Ok(me) {
            return Err(format!(
                "setsid: {err} (the process would keep the caller's terminal)"
            ));
        }
    }
    Ok(())
}

fn no_new_privs(p: &Process) -> bool {
    p.no_new_privileges().unwrap_or(false)
}

/// Steps 1-7: everything that can still be reported before "ready".
fn steps(f: &Finish) -> Result<Command, ChildError> {
    let e = |msg: String| ChildError::new(msg);
    let p = f.process;
    if p.terminal().unwrap_or(false) {
        let sock = f
            .console
            .ok_or_else(|| ChildError::new("process.terminal: no console socket"))?;
        let size = p
            .console_size()
            .as_ref()
            .map(|b| (b.height() as u16, b.width() as u16));
        console::setup(sock, size, f.console_mount).map_err(e)?;
        // SAFETY: the socket fd is ours and no longer needed.
        unsafe { libc::close(sock) };
    } else {
        new_session().map_err(e)?;
    }
    security::apply_rlimits(p).map_err(e)?;
    let home = default_home(p);
    // As the container's root and before any filter: see step 3 of the module comment.
    let cwd_entered = enter_cwd(p, None, true)?;
    if !no_new_privs(p) {
        if let Some(filter) = &f.seccomp {
            filter.install().map_err(|x| e(x.to_string()))?;
        }
    }
    let caps = security::cap_sets(p.capabilities().as_ref()).map_err(e)?;
    security::drop_bounding(&caps).map_err(e)?;
    security::set_user(p, false).map_err(e)?;
    security::set_caps(&caps).map_err(e)?;
    if !cwd_entered {
        // Installed already (above) unless no_new_privs defers it until after these steps.
        let installed = f.seccomp.as_ref().filter(|_| !no_new_privs(p));
        enter_cwd(p, installed, false)?;
    }
    if no_new_privs(p) {
        security::set_no_new_privs().map_err(e)?;
    }
    let command = Command::resolve(p, home)?;
    mark_cloexec_from(3 + f.preserve_fds as i32);
    Ok(command)
}

/// `HOME=…` for a process.env without HOME, as runc fills it: the home of process.user.uid in
/// the container's /etc/passwd (read as the container's root, before the user changes; at
/// most 1 MiB of it), else `/`. None when the env has HOME already.
fn default_home(p: &Process) -> Option<String> {
    let env = p.env().as_deref().unwrap_or_default();
    if env.iter().any(|e| e.starts_with("HOME=")) {
        return None;
    }
    let mut text = String::new();
    if let Ok(file) = std::fs::File::open("/etc/passwd") {
        use std::io::Read;
        let _ = file.take(1 << 20).read_to_string(&mut text);
    }
    let home = crate::passwd::home_of(&text, p.user().uid());
    Some(format!("HOME={home}"))
}

/// chdir to process.cwd, which must be absolute and resolve inside the container's root
/// (CVE-2024-21626), checked with getcwd. When getcwd fails, the error names what failed:
/// the seccomp filter in force (`seccomp`) when it denies getcwd, getcwd's own errno, or
/// a directory outside the container only when getcwd says so (ENOENT or a path that is
/// not absolute, the kernel's "(unreachable)").
///
/// With `may_defer` (the first attempt, as the container's root), a chdir refused with
/// EACCES or EPERM returns Ok(false): the caller tries again after becoming the user, who
/// may own the directory. Ok(true) once the cwd is entered and checked.
fn enter_cwd(
    p: &Process,
    seccomp: Option<&CompiledFilter>,
    may_defer: bool,
) -> Result<bool, ChildError> {
    let cwd = p.cwd();
    if !cwd.is_absolute() {
        return Err(ChildError::new(format!(
            "process.cwd {} must be absolute",
            cwd.display()
        )));
    }
    match nix::unistd::chdir(cwd) {
        Ok(()) => {}
        Err(nix::errno::Errno::EACCES | nix::errno::Errno::EPERM) if may_defer => return Ok(false),
        Err(x) => {
            return Err(ChildError::new(format!(
                "process.cwd {}: {x}",
                cwd.display()
            )))
        }
    }
    let result = nix::unistd::getcwd();
    if result.is_err() && seccomp.is_some_and(|f| f.denies(libc::SYS_getcwd)) {
        let errno = result.err().map(|x| x.to_string()).unwrap_or_default();
        return Err(ChildError::new(format!(
            "linux.seccomp denies getcwd ({errno}), which the runtime needs to check that \
             process.cwd {} (which only process.user may enter) is inside the container: \
             allow getcwd in the profile",
            cwd.display()
        )));
    }
    match result {
        Ok(now) if now.is_absolute() => Ok(true),
        Ok(_) | Err(nix::errno::Errno::ENOENT) => Err(ChildError::new(format!(
            "process.cwd {} is outside the container",
            cwd.display()
        ))),
        Err(x) => Err(ChildError::new(format!(
            "process.cwd {}: cannot check that it is inside the container: getcwd: {x}",
            cwd.display()
        ))),
    }
}

/// The command, found in the container's PATH, ready for execve.
pub struct Command {
    /// process.args[0] as given.
    name: String,
    /// The file to execute.
    path: CString,
    args: Vec<CString>,
    env: Vec<CString>,
}

impl Command {
    /// Looks process.args[0] up like execvp, in the current root with PATH from process.env;
    /// the environment is process.env plus `home` (see [`default_home`]).
    fn resolve(p: &Process, home: Option<String>) -> Result<Command, ChildError> {
        let args = p.args().clone().unwrap_or_default();
        let name = args
            .first()
            .cloned()
            .ok_or_else(|| ChildError::new("process.args: empty; give the command to run"))?;
        let mut env = p.env().clone().unwrap_or_default();
        env.extend(home);
        let path = security::find_command(&name, &env)
            .map_err(|l| ChildError::exec_failed(l.code, &name, l.reason))?;
        Ok(Command {
            path: CString::new(path.as_os_str().as_encoded_bytes())
                .map_err(|_| ChildError::new("process.args[0] contains a NUL byte"))?,
            args: cstrings(&args, "process.args")?,
            env: cstrings(&env, "process.env")?,
            name,
        })
    }

    /// execve; returns only on failure, with 127 (ENOENT) or 126 (anything else).
    pub fn exec(&self) -> ChildError {
        let err = match nix::unistd::execve(&self.path, &self.args, &self.env) {
            Err(e) => e,
            Ok(never) => match never {},
        };
        let code = if err == nix::errno::Errno::ENOENT {
            127
        } else {
            126
        };
        // The error names the command already; add the path only when PATH chose it.
        let path = self.path.to_string_lossy();
        let msg = if path == self.name {
            err.desc().to_string()
        } else {
            format!("{path}: {}", err.desc())
        };
        ChildError::exec_failed(code, &self.name, msg)
    }
}

fn cstrings(v: &[String], what: &str) -> Result<Vec<CString>, ChildError> {
    v.iter()
        .map(|s| {
            CString::new(s.as_str())
                .map_err(|_| ChildError::new(format!("{what}: {s:?} contains a NUL byte")))
        })
        .collect()
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

/// Sets every signal to its default disposition and unblocks all signals.
fn reset_signals() {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

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
