//! Seccomp: OCI `linux.seccomp` profiles compiled to classic BPF in pure Rust, the filter's
//! installation, and tinibox's default profile for docker-like containers.
//!
//! Owns: `compile` (profile → [`CompiledFilter`]), [`CompiledFilter::install`], and
//! [`default_profile`]. Must not touch namespaces, capabilities or `no_new_privs`: the caller
//! (the container's init or `exec`) decides when to install, and sets `no_new_privs` itself when
//! the spec asks for it.
//!
//! Why our own BPF emitter rather than `seccompiler`: a seccompiler filter has a single match
//! action, while an OCI profile mixes actions per syscall (ALLOW, ERRNO with different errnos,
//! KILL, TRAP, LOG) and a default that applies only when no rule matched. Emulating that with
//! several stacked seccompiler filters would rely on the kernel's action precedence, which gives
//! different answers than "first matching rule, else default" (e.g. an ALLOW rule for
//! `clone` without namespace flags under an ERRNO default cannot be written as independent
//! filters whose defaults do not interfere). Also, `seccompiler::apply_filter` always sets
//! `no_new_privs`, which OCI leaves to `process.noNewPrivileges` (Docker runs with it off so
//! setuid programs keep working). One program, written by `compiler.rs` through the small
//! assembler in `bpf.rs`, keeps the semantics exact and the filter to one kernel object.

mod bpf;
mod compiler;
mod profile;

use thiserror::Error;

pub use compiler::compile;
pub use profile::default_profile;

/// Why a profile could not be compiled or installed.
#[derive(Debug, Error)]
pub enum SeccompError {
    /// The profile asks for something tinibox does not implement (names the field).
    #[error("{0}")]
    Unsupported(String),
    /// The profile has an invalid value (names the field).
    #[error("{0}")]
    Invalid(String),
    /// The compiled program is longer than the kernel accepts.
    #[error("linux.seccomp: the profile compiles to {0} BPF instructions, more than the kernel's 4096; shorten the syscall lists")]
    TooLarge(usize),
    /// A bug in the emitter.
    #[error("linux.seccomp: internal BPF error: {0}")]
    Internal(String),
    /// The kernel refused the filter.
    #[error("installing the seccomp filter: {0}")]
    Install(#[source] std::io::Error),
}

/// A compiled seccomp program, ready to install in the current process.
#[derive(Debug, Clone)]
pub struct CompiledFilter {
    program: Vec<libc::sock_filter>,
    flags: u32,
    skipped: Vec<String>,
}

impl CompiledFilter {
    /// Installs the filter on the calling thread (all threads when the profile asks for
    /// `SECCOMP_FILTER_FLAG_TSYNC`). Needs `no_new_privs` or `CAP_SYS_ADMIN`. Does not
    /// allocate, so it may run in a freshly forked child.
    pub fn install(&self) -> Result<(), SeccompError> {
        const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;
        let prog = libc::sock_fprog {
            len: self.program.len() as libc::c_ushort,
            filter: self.program.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: `prog` points at `self.program`, which outlives the call; the kernel copies it.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                SECCOMP_SET_MODE_FILTER,
                self.flags as libc::c_ulong,
                &prog as *const libc::sock_fprog,
            )
        };
        if rc < 0 {
            return Err(SeccompError::Install(std::io::Error::last_os_error()));
        }
        Ok(())
    }

    /// The BPF instructions.
    pub fn instructions(&self) -> &[libc::sock_filter] {
        &self.program
    }

    /// Whether the filter keeps system call `nr` (native numbering, called with all arguments
    /// 0) from running: its action is neither SCMP_ACT_ALLOW nor SCMP_ACT_LOG. Lets a caller
    /// name the profile as the cause when such a call fails after the filter is installed.
    pub fn denies(&self, nr: libc::c_long) -> bool {
        const RET_ACTION_FULL: u32 = 0xffff_0000;
        const RET_ALLOW: u32 = 0x7fff_0000;
        const RET_LOG: u32 = 0x7ffc_0000;
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&(nr as u32).to_ne_bytes());
        data[4..8].copy_from_slice(&compiler::Abi::NATIVE.audit_arch().to_ne_bytes());
        let action = bpf::run(&self.program, &data) & RET_ACTION_FULL;
        action != RET_ALLOW && action != RET_LOG
    }

    /// Syscall names of the profile that no listed architecture knows (skipped, like runc).
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Forks; the child installs `filter` and reports each probe's errno (0 = success) through
    /// a pipe. Returns the child's answers.
    fn in_child(filter: &CompiledFilter, probes: &[fn() -> i32]) -> Vec<i32> {
        let mut fds = [0; 2];
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
            let mut out: Vec<i32> = Vec::new();
            out.push(match filter.install() {
                Ok(()) => 0,
                Err(_) => -1,
            });
            for p in probes {
                out.push(p());
            }
            let bytes: Vec<u8> = out.iter().flat_map(|v| v.to_ne_bytes()).collect();
            unsafe {
                libc::write(fds[1], bytes.as_ptr().cast(), bytes.len());
                libc::_exit(0);
            }
        }
        unsafe { libc::close(fds[1]) };
        let mut buf = vec![0u8; 4 * (probes.len() + 1)];
        let n = unsafe { libc::read(fds[0], buf.as_mut_ptr().cast(), buf.len()) };
        let mut status = 0;
        unsafe {
            libc::waitpid(pid, &mut status, 0);
            libc::close(fds[0]);
        }
        assert_eq!(n as usize, buf.len(), "child died: status {status:#x}");
        let out: Vec<i32> = buf
            .chunks(4)
            .map(|c| i32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(out[0], 0, "install failed in the child");
        out[1..].to_vec()
    }

    fn errno_of(rc: libc::c_long) -> i32 {
        if rc < 0 {
            std::io::Error::last_os_error().raw_os_error().unwrap_or(-1)
        } else {
            0
        }
    }

    fn probe_mount() -> i32 {
        let t = c"tmpfs";
        let d = c"/tmp";
        errno_of(unsafe {
            libc::mount(
                t.as_ptr(),
                d.as_ptr(),
                t.as_ptr(),
                libc::MS_RDONLY,
                std::ptr::null(),
            )
        } as libc::c_long)
    }
    fn probe_unshare() -> i32 {
        errno_of(unsafe { libc::unshare(libc::CLONE_NEWUTS) } as libc::c_long)
    }
    fn probe_keyctl() -> i32 {
        // KEYCTL_GET_KEYRING_ID of the session keyring.
        errno_of(unsafe { libc::syscall(libc::SYS_keyctl, 0, -3, 0) })
    }
    fn probe_clone_newns() -> i32 {
        let flags = (libc::CLONE_NEWNS | libc::SIGCHLD) as libc::c_long;
        let rc = unsafe { libc::syscall(libc::SYS_clone, flags, 0, 0, 0, 0) };
        if rc == 0 {
            unsafe { libc::_exit(0) };
        }
        if rc > 0 {
            unsafe { libc::waitpid(rc as i32, std::ptr::null_mut(), 0) };
        }
        errno_of(rc)
    }
    fn probe_getpid() -> i32 {
        errno_of(unsafe { libc::syscall(libc::SYS_getpid) })
    }
    fn probe_fork() -> i32 {
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            unsafe { libc::_exit(0) };
        }
        if pid > 0 {
            unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        }
        errno_of(pid as libc::c_long)
    }
    fn probe_open() -> i32 {
        let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY) };
        if fd >= 0 {
            unsafe { libc::close(fd) };
        }
        errno_of(fd as libc::c_long)
    }

    #[test]
    fn default_profile_blocks_dangerous_syscalls_in_a_real_process() {
        if unsafe { libc::geteuid() } != 0 {
            panic!("this test needs root (so that mount/unshare would succeed without the filter)");
        }
        let f = compile(&default_profile()).unwrap();
        let got = in_child(
            &f,
            &[
                probe_mount,
                probe_unshare,
                probe_keyctl,
                probe_clone_newns,
                probe_getpid,
                probe_fork,
                probe_open,
            ],
        );
        assert_eq!(
            got,
            vec![libc::EPERM, libc::EPERM, libc::EPERM, libc::EPERM, 0, 0, 0]
        );
    }

    #[test]
    fn allow_list_profile_with_errno_default_in_a_real_process() {
        // Everything a forked Rust test child needs, but not mkdir/unshare.
        let p: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 13,
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["write", "read", "exit", "exit_group", "getpid", "openat",
                "open", "close", "wait4", "fork", "clone", "prctl", "seccomp", "munmap",
                "rt_sigprocmask", "mmap", "brk", "futex", "sigaltstack"],
                "action": "SCMP_ACT_ALLOW"}]
        }))
        .unwrap();
        let f = compile(&p).unwrap();
        let got = in_child(&f, &[probe_getpid, probe_open, probe_unshare]);
        assert_eq!(got, vec![0, 0, 13]);
    }

    fn probe_clone3() -> i32 {
        // A zeroed clone_args of size 64 (version 0): a plain fork if it were allowed.
        let args = [0u64; 8];
        let rc = unsafe { libc::syscall(libc::SYS_clone3, args.as_ptr(), 64usize) };
        if rc == 0 {
            unsafe { libc::_exit(0) };
        }
        if rc > 0 {
            unsafe { libc::waitpid(rc as i32, std::ptr::null_mut(), 0) };
        }
        errno_of(rc)
    }

    #[test]
    fn dockers_default_profile_compiles_and_behaves_like_under_runc() {
        // The profile dockerd 20.10 put in a container's config.json on this host.
        let p: oci_spec::runtime::LinuxSeccomp =
            serde_json::from_str(include_str!("testdata/docker-default.json")).unwrap();
        let f = compile(&p).unwrap();
        assert!(f.instructions().len() < 4096);
        let got = in_child(
            &f,
            &[
                probe_mount,
                probe_unshare,
                probe_keyctl,
                probe_clone_newns,
                probe_clone3,
                probe_getpid,
                probe_fork,
                probe_open,
            ],
        );
        let (eperm, enosys) = (libc::EPERM, libc::ENOSYS);
        assert_eq!(got, vec![eperm, eperm, eperm, eperm, enosys, 0, 0, 0]);
    }

    /// How a probe ended in a child: the value it returned, or the signal that killed it.
    #[derive(Debug, PartialEq, Eq)]
    enum Outcome {
        Returned(i64),
        Killed(i32),
    }

    /// Forks; the child installs `filter` (none: the control) and runs `probe`, which returns
    /// the raw syscall result (-errno on failure). A filter that kills shows as `Killed`.
    fn outcome(filter: Option<&CompiledFilter>, probe: fn() -> i64) -> Outcome {
        let mut fds = [0; 2];
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
            if let Some(f) = filter {
                if f.install().is_err() {
                    unsafe { libc::_exit(3) };
                }
            }
            let r = probe().to_ne_bytes();
            unsafe {
                libc::write(fds[1], r.as_ptr().cast(), r.len());
                libc::_exit(0);
            }
        }
        unsafe { libc::close(fds[1]) };
        let mut buf = [0u8; 8];
        let n = unsafe { libc::read(fds[0], buf.as_mut_ptr().cast(), buf.len()) };
        let mut status = 0;
        unsafe {
            libc::waitpid(pid, &mut status, 0);
            libc::close(fds[0]);
        }
        if libc::WIFSIGNALED(status) {
            return Outcome::Killed(libc::WTERMSIG(status));
        }
        assert_eq!(
            libc::WEXITSTATUS(status),
            0,
            "the child failed to install the filter"
        );
        assert_eq!(n, 8, "no answer from the child");
        Outcome::Returned(i64::from_ne_bytes(buf))
    }

    /// lseek(2) on /dev/null (always allowed and answering 0 without a filter) with a 64-bit
    /// offset.
    fn lseek_dev_null(offset: i64) -> i64 {
        let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY) };
        assert!(fd >= 0);
        let r = unsafe { libc::syscall(libc::SYS_lseek, fd, offset, libc::SEEK_SET) };
        let r = if r < 0 {
            -i64::from(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
        } else {
            r
        };
        unsafe { libc::close(fd) };
        r
    }

    #[test]
    fn sixty_four_bit_argument_rules_are_judged_by_the_kernel() {
        // ERRNO(EDOM) when the offset is above 4 GiB + 4: the high word decides for some
        // values, the low word for others.
        let p: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["lseek"], "action": "SCMP_ACT_ERRNO", "errnoRet": 33,
                "args": [{"index": 1, "value": 0x1_0000_0004u64, "op": "SCMP_CMP_GT"}]}]
        }))
        .unwrap();
        let f = compile(&p).unwrap();
        let edom = -i64::from(libc::EDOM);
        let cases: [(fn() -> i64, i64); 5] = [
            (|| lseek_dev_null(5), 0),                // low word above, high word below
            (|| lseek_dev_null(0xffff_ffff), 0),      // the largest 32-bit value
            (|| lseek_dev_null(0x1_0000_0004), 0),    // equal
            (|| lseek_dev_null(0x1_0000_0005), edom), // high word equal, low word above
            (|| lseek_dev_null(0x2_0000_0000), edom), // high word above, low word 0
        ];
        for (i, (probe, want)) in cases.iter().enumerate() {
            assert_eq!(outcome(None, *probe), Outcome::Returned(0), "control {i}");
            assert_eq!(
                outcome(Some(&f), *probe),
                Outcome::Returned(*want),
                "case {i}"
            );
        }
    }

    /// A raw i386 system call through `int 0x80` (IA32 emulation), no arguments.
    fn int80(nr: u64) -> i64 {
        let ret: i64;
        // SAFETY: int 0x80 with a syscall that takes no arguments; rbx is saved around it.
        unsafe {
            std::arch::asm!(
                "xchg {b}, rbx",
                "int 0x80",
                "xchg {b}, rbx",
                b = inout(reg) 0u64 => _,
                inlateout("rax") nr => ret,
                out("rcx") _, out("rdx") _,
            );
        }
        // The result is a 32-bit int in eax.
        i64::from(ret as i32)
    }

    /// i386 numbers of getpid and getppid.
    const I386_GETPID: u64 = 20;
    const I386_GETPPID: u64 = 64;

    #[test]
    fn i386_calls_through_int_0x80_are_judged_by_the_kernel() {
        let with_x86: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 33}]
        }))
        .unwrap();
        let f = compile(&with_x86).unwrap();
        let getppid: fn() -> i64 = || int80(I386_GETPPID);
        let getpid: fn() -> i64 = || int80(I386_GETPID);
        // Control: IA32 emulation answers both (a pid > 0).
        assert!(
            matches!(outcome(None, getppid), Outcome::Returned(p) if p > 0),
            "this kernel has no IA32 emulation: {:?}",
            outcome(None, getppid)
        );
        // With the filter: getppid gets EDOM through the i386 table, getpid still works.
        assert_eq!(outcome(Some(&f), getppid), Outcome::Returned(-33));
        assert!(matches!(outcome(Some(&f), getpid), Outcome::Returned(p) if p > 0));
        // A profile that does not list SCMP_ARCH_X86 kills an i386 call (bad arch).
        let native: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"]
        }))
        .unwrap();
        let f = compile(&native).unwrap();
        assert_eq!(outcome(Some(&f), getpid), Outcome::Killed(libc::SIGSYS));
    }

    #[test]
    fn x32_calls_are_judged_by_the_kernel() {
        let getppid: fn() -> i64 = || {
            let r = unsafe { libc::syscall(0x4000_0000 | libc::SYS_getppid) };
            if r < 0 {
                -i64::from(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
            } else {
                r
            }
        };
        let getpid: fn() -> i64 = || {
            let r = unsafe { libc::syscall(0x4000_0000 | libc::SYS_getpid) };
            if r < 0 {
                -i64::from(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
            } else {
                r
            }
        };
        // Control: the kernel answers an x32 call itself (a pid with the x32 ABI built in,
        // ENOSYS without it).
        let control = outcome(None, getpid);
        let x32_abi = match control {
            Outcome::Returned(p) if p > 0 => true,
            Outcome::Returned(e) if e == -i64::from(libc::ENOSYS) => false,
            other => panic!("unexpected x32 getpid without a filter: {other:?}"),
        };
        // Listed: x32 calls go through the x86_64 rules (getppid → EDOM) and the rest is
        // left to the kernel.
        let with_x32: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"],
            "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 33}]
        }))
        .unwrap();
        let f = compile(&with_x32).unwrap();
        assert_eq!(outcome(Some(&f), getppid), Outcome::Returned(-33));
        let passed = outcome(Some(&f), getpid);
        if x32_abi {
            assert!(
                matches!(passed, Outcome::Returned(p) if p > 0),
                "{passed:?}"
            );
        } else {
            assert_eq!(passed, Outcome::Returned(-i64::from(libc::ENOSYS)));
        }
        // Not listed: an x32 call is a bad arch and kills the process.
        let native: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"]
        }))
        .unwrap();
        let f = compile(&native).unwrap();
        assert_eq!(outcome(Some(&f), getpid), Outcome::Killed(libc::SIGSYS));
    }
}
