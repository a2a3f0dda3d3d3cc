//! The cgroup v2 device filter: an eBPF program of type `BPF_PROG_TYPE_CGROUP_DEVICE` built
//! from the device rules, loaded with bpf(2) and attached to the container's cgroup directory.
//!
//! Owns the instruction encoding and the two bpf(2) calls; it does not decide the rules
//! ([`super`]). The program reads `struct bpf_cgroup_dev_ctx { u32 access_type; u32
//! major; u32 minor; }` (access_type = access << 16 | type), walks the rules from last to first
//! and returns the first match's verdict (last rule wins, like successive v1 writes); no match
//! denies.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::Rule;

/// One eBPF instruction (struct bpf_insn).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Insn {
    /// Opcode.
    pub code: u8,
    /// dst_reg (low nibble) | src_reg << 4.
    pub regs: u8,
    /// Jump offset / memory offset.
    pub off: i16,
    /// Immediate.
    pub imm: i32,
}

const LDX_MEM_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const ALU_AND_K: u8 = 0x54; // BPF_ALU | BPF_AND | BPF_K
const ALU_RSH_K: u8 = 0x74; // BPF_ALU | BPF_RSH | BPF_K
const ALU_MOV_K: u8 = 0xb4; // BPF_ALU | BPF_MOV | BPF_K
const ALU_MOV_X: u8 = 0xbc; // BPF_ALU | BPF_MOV | BPF_X
const JMP_JNE_K: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
const JMP_JEQ_K: u8 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JMP_EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

const DEV_BLOCK: i32 = 1; // BPF_DEVCG_DEV_BLOCK
const DEV_CHAR: i32 = 2; // BPF_DEVCG_DEV_CHAR
const ACC_MKNOD: i32 = 1; // BPF_DEVCG_ACC_MKNOD
const ACC_READ: i32 = 2; // BPF_DEVCG_ACC_READ
const ACC_WRITE: i32 = 4; // BPF_DEVCG_ACC_WRITE

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (dst & 0xf) | (src << 4),
        off,
        imm,
    }
}

/// Access string ("rwm" subset) → BPF_DEVCG_ACC_* mask.
pub fn access_mask(access: &str) -> i32 {
    access.chars().fold(0, |m, c| {
        m | match c {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            _ => 0,
        }
    })
}

/// Builds the filter program for `rules` (in spec order; the last matching rule wins).
pub fn program(rules: &[Rule]) -> Vec<Insn> {
    // r2 = type, r3 = access, r4 = major, r5 = minor
    let mut p = vec![
        insn(LDX_MEM_W, 2, 1, 0, 0),
        insn(ALU_AND_K, 2, 0, 0, 0xffff),
        insn(LDX_MEM_W, 3, 1, 0, 0),
        insn(ALU_RSH_K, 3, 0, 0, 16),
        insn(LDX_MEM_W, 4, 1, 4, 0),
        insn(LDX_MEM_W, 5, 1, 8, 0),
    ];
    for rule in rules.iter().rev() {
        let mut block: Vec<(Insn, bool)> = Vec::new(); // (insn, is a "skip this rule" jump)
        match rule.kind {
            'b' => block.push((insn(JMP_JNE_K, 2, 0, 0, DEV_BLOCK), true)),
            'c' => block.push((insn(JMP_JNE_K, 2, 0, 0, DEV_CHAR), true)),
            _ => {}
        }
        let mask = access_mask(&rule.access);
        if mask != ACC_MKNOD | ACC_READ | ACC_WRITE {
            block.push((insn(ALU_MOV_X, 1, 3, 0, 0), false));
            if rule.allow {
                // allow only if every requested bit is in the rule: (req & ~mask) == 0
                block.push((insn(ALU_AND_K, 1, 0, 0, !mask & 7), false));
                block.push((insn(JMP_JNE_K, 1, 0, 0, 0), true));
            } else {
                // deny if any requested bit is in the rule: (req & mask) != 0
                block.push((insn(ALU_AND_K, 1, 0, 0, mask), false));
                block.push((insn(JMP_JEQ_K, 1, 0, 0, 0), true));
            }
        }
        if let Some(major) = rule.major {
            block.push((insn(JMP_JNE_K, 4, 0, 0, major as i32), true));
        }
        if let Some(minor) = rule.minor {
            block.push((insn(JMP_JNE_K, 5, 0, 0, minor as i32), true));
        }
        block.push((insn(ALU_MOV_K, 0, 0, 0, rule.allow as i32), false));
        block.push((insn(JMP_EXIT, 0, 0, 0, 0), false));
        let len = block.len();
        // A rule with no conditions always exits: anything after it would be unreachable,
        // and the kernel's verifier refuses unreachable instructions.
        let unconditional = !block.iter().any(|(_, is_skip)| *is_skip);
        for (i, (mut ins, is_skip)) in block.into_iter().enumerate() {
            if is_skip {
                // jump to the first instruction after this block
                ins.off = (len - i - 1) as i16;
            }
            p.push(ins);
        }
        if unconditional {
            return p;
        }
    }
    p.push(insn(ALU_MOV_K, 0, 0, 0, 0));
    p.push(insn(JMP_EXIT, 0, 0, 0, 0));
    p
}

/// Evaluates `prog` on a device access the way the kernel would (for tests and for `check`).
/// `kind` 'b' or 'c', `access` a subset of "rwm". Returns the program's verdict.
pub fn evaluate(prog: &[Insn], kind: char, major: u32, minor: u32, access: &str) -> bool {
    let typ = if kind == 'b' { DEV_BLOCK } else { DEV_CHAR } as u32;
    let ctx = [(access_mask(access) as u32) << 16 | typ, major, minor];
    let mut r = [0u64; 11];
    let mut pc = 0usize;
    while pc < prog.len() {
        let i = prog[pc];
        let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
        pc += 1;
        match i.code {
            LDX_MEM_W => r[dst] = ctx[(i.off / 4) as usize] as u64,
            ALU_AND_K => r[dst] = (r[dst] as u32 & i.imm as u32) as u64,
            ALU_RSH_K => r[dst] = ((r[dst] as u32) >> i.imm) as u64,
            ALU_MOV_K => r[dst] = i.imm as u32 as u64,
            ALU_MOV_X => r[dst] = r[src] as u32 as u64,
            JMP_JNE_K if r[dst] != i.imm as u32 as u64 => pc += i.off as usize,
            JMP_JEQ_K if r[dst] == i.imm as u32 as u64 => pc += i.off as usize,
            JMP_JNE_K | JMP_JEQ_K => {}
            JMP_EXIT => return r[0] == 1,
            _ => return false,
        }
    }
    false
}

#[repr(C)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

#[repr(C)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// BPF_PROG_LOAD of `prog`; with `log` the verifier writes its log there (slow: only used to
/// explain a failure).
fn load(prog: &[Insn], log: Option<&mut Vec<u8>>) -> i64 {
    let license = b"GPL\0";
    let mut name = [0u8; 16];
    name[..7].copy_from_slice(b"tinibox");
    let (log_level, log_size, log_buf) = match log {
        Some(l) => (1, l.len() as u32, l.as_mut_ptr() as u64),
        None => (0, 0, 0),
    };
    let attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: prog.len() as u32,
        insns: prog.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level,
        log_size,
        log_buf,
        kern_version: 0,
        prog_flags: 0,
        prog_name: name,
        prog_ifindex: 0,
        expected_attach_type: BPF_CGROUP_DEVICE,
    };
    // SAFETY: attr points at live buffers for the duration of the call.
    unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            &attr as *const ProgLoadAttr,
            std::mem::size_of::<ProgLoadAttr>(),
        )
    }
}

/// Loads `prog` and attaches it to the cgroup directory `cgroup_dir`.
pub fn attach(prog: &[Insn], cgroup_dir: &std::path::Path) -> std::io::Result<()> {
    // Without a log first: a verbose verifier log costs milliseconds on every create.
    let fd = load(prog, None);
    if fd < 0 {
        let err = std::io::Error::last_os_error();
        // Load again with a log to say why. The verifier fails the load with ENOSPC when its
        // log does not fit: leave it room.
        let mut log = vec![0u8; 1 << 20];
        let again = load(prog, Some(&mut log));
        if again >= 0 {
            // SAFETY: closing the fd bpf just returned.
            unsafe { libc::close(again as i32) };
        }
        let msg = String::from_utf8_lossy(&log);
        let msg = msg.trim_end_matches('\0').trim();
        return Err(std::io::Error::new(
            err.kind(),
            format!("load device filter: {err}; verifier: {msg}"),
        ));
    }
    // SAFETY: bpf returned a new fd that we own.
    let prog_fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let dir = std::fs::File::open(cgroup_dir)?;
    let attach = ProgAttachAttr {
        target_fd: dir.as_raw_fd() as u32,
        attach_bpf_fd: prog_fd.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        replace_bpf_fd: 0,
    };
    // SAFETY: attach is a valid attr for BPF_PROG_ATTACH.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_ATTACH,
            &attach as *const ProgAttachAttr,
            std::mem::size_of::<ProgAttachAttr>(),
        )
    };
    if rc < 0 {
        let err = std::io::Error::last_os_error();
        return Err(std::io::Error::new(
            err.kind(),
            format!("attach device filter to {}: {err}", cgroup_dir.display()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{default_allowed, rules};
    use super::*;

    /// `evaluate`, refusing (with a panic) any program that uses an instruction the
    /// evaluator does not model or can run off its end: `evaluate` answers "deny" for both,
    /// which would make every "is denied" assertion pass on a broken program.
    fn eval(prog: &[Insn], kind: char, major: u32, minor: u32, access: &str) -> bool {
        const KNOWN: [u8; 8] = [
            LDX_MEM_W, ALU_AND_K, ALU_RSH_K, ALU_MOV_K, ALU_MOV_X, JMP_JNE_K, JMP_JEQ_K, JMP_EXIT,
        ];
        for (pc, i) in prog.iter().enumerate() {
            assert!(
                KNOWN.contains(&i.code),
                "instruction {pc} has opcode {:#04x}, which the evaluator does not model",
                i.code
            );
            if i.code == JMP_JNE_K || i.code == JMP_JEQ_K {
                assert!(
                    i.off >= 0 && pc + 1 + (i.off as usize) < prog.len(),
                    "instruction {pc} jumps outside the program"
                );
            }
        }
        assert_eq!(
            prog.last().map(|i| i.code),
            Some(JMP_EXIT),
            "the program can fall off its end"
        );
        evaluate(prog, kind, major, minor, access)
    }

    #[test]
    #[should_panic(expected = "does not model")]
    fn the_test_evaluator_refuses_unknown_instructions() {
        let mut p = program(&rules(None).unwrap());
        p.insert(6, insn(0x07, 1, 0, 0, 1)); // BPF_ALU64 | BPF_ADD | BPF_K
        eval(&p, 'c', 1, 3, "r");
    }

    #[test]
    fn instruction_encoding() {
        let i = insn(LDX_MEM_W, 4, 1, 4, 0);
        assert_eq!(std::mem::size_of::<Insn>(), 8);
        assert_eq!(i.regs, 0x14);
        // Prologue + final deny for an empty rule list.
        let p = program(&[]);
        assert_eq!(p.len(), 8);
        assert_eq!(p[6], insn(ALU_MOV_K, 0, 0, 0, 0));
        assert_eq!(p[7].code, JMP_EXIT);
        // A full "c 1:3 rwm" allow rule: type, major, minor checks, then verdict + exit.
        let p = program(&[Rule {
            allow: true,
            kind: 'c',
            major: Some(1),
            minor: Some(3),
            access: "rwm".into(),
        }]);
        assert_eq!(p[6], insn(JMP_JNE_K, 2, 0, 4, DEV_CHAR));
        assert_eq!(p[7], insn(JMP_JNE_K, 4, 0, 3, 1));
        assert_eq!(p[8], insn(JMP_JNE_K, 5, 0, 2, 3));
        assert_eq!(p[9], insn(ALU_MOV_K, 0, 0, 0, 1));
        assert_eq!(p[10].code, JMP_EXIT);
    }

    #[test]
    fn default_rules_allow_only_the_default_devices() {
        let p = program(&rules(None).unwrap());
        assert!(eval(&p, 'c', 1, 3, "rw")); // null
        assert!(eval(&p, 'c', 1, 9, "r")); // urandom
        assert!(eval(&p, 'c', 136, 4, "rw")); // a pty
        assert!(eval(&p, 'c', 5, 2, "rw")); // ptmx
        assert!(!eval(&p, 'b', 8, 0, "r")); // the host's disk
        assert!(!eval(&p, 'c', 1, 1, "r")); // /dev/mem
        assert!(eval(&p, 'b', 8, 0, "m")); // mknod is allowed, opening is not
        assert!(!eval(&p, 'c', 10, 200, "rw"));
        let _ = default_allowed();
    }

    #[test]
    fn later_rules_win_and_deny_matches_any_bit() {
        let mut r = rules(None).unwrap();
        r.push(Rule {
            allow: false,
            kind: 'c',
            major: Some(1),
            minor: Some(3),
            access: "w".into(),
        });
        let p = program(&r);
        assert!(!eval(&p, 'c', 1, 3, "rw"));
        assert!(eval(&p, 'c', 1, 3, "r"));
        r.push(Rule {
            allow: true,
            kind: 'a',
            major: None,
            minor: None,
            access: "rwm".into(),
        });
        let p = program(&r);
        assert!(eval(&p, 'b', 8, 0, "rw"));
    }

    /// The cgroup2 hierarchy's mount point, from /proc/self/mountinfo.
    fn cgroup2_mount() -> Option<std::path::PathBuf> {
        let mi = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        mi.lines().find_map(|l| {
            let point = l.split(' ').nth(4)?;
            (l.split(" - ").nth(1)?.split(' ').next()? == "cgroup2").then(|| point.into())
        })
    }

    /// The kernel's verdicts: a forked child joins `cgroup`, to which `prog` is attached, and
    /// tries each (kind, major, minor, access) on device nodes made in a private tmpfs before
    /// it joined: mknod for "m", open(2) for "r", "w", "rw". EPERM is "denied"; success or any
    /// other error (a device without a driver) means the filter let it through.
    fn kernel_verdicts(
        prog: &[Insn],
        cgroup: &std::path::Path,
        cases: &[(char, u32, u32, &str)],
    ) -> Vec<bool> {
        use std::ffi::CString;
        std::fs::create_dir(cgroup).unwrap();
        attach(prog, cgroup).unwrap();
        let procs = CString::new(cgroup.join("cgroup.procs").to_str().unwrap()).unwrap();
        let nodes = tempfile::tempdir().unwrap();
        let dir = CString::new(nodes.path().to_str().unwrap()).unwrap();
        let paths: Vec<(CString, CString)> = (0..cases.len())
            .map(|i| {
                let p = nodes.path();
                (
                    CString::new(p.join(format!("n{i}")).to_str().unwrap()).unwrap(),
                    CString::new(p.join(format!("m{i}")).to_str().unwrap()).unwrap(),
                )
            })
            .collect();
        let mut fds = [0; 2];
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: the child only makes syscalls on prepared buffers and _exits.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            unsafe {
                let fail = |code| libc::_exit(code);
                if libc::unshare(libc::CLONE_NEWNS) != 0
                    || libc::mount(
                        std::ptr::null(),
                        c"/".as_ptr(),
                        std::ptr::null(),
                        libc::MS_REC | libc::MS_PRIVATE,
                        std::ptr::null(),
                    ) != 0
                    || libc::mount(
                        c"tmpfs".as_ptr(),
                        dir.as_ptr(),
                        c"tmpfs".as_ptr(),
                        0,
                        std::ptr::null(),
                    ) != 0
                {
                    fail(10);
                }
                for ((kind, major, minor, _), (node, _)) in cases.iter().zip(&paths) {
                    let t = if *kind == 'b' {
                        libc::S_IFBLK
                    } else {
                        libc::S_IFCHR
                    };
                    if libc::mknod(node.as_ptr(), t | 0o600, libc::makedev(*major, *minor)) != 0 {
                        fail(11);
                    }
                }
                let me = format!("{}\n", libc::getpid());
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
                if fd < 0 || libc::write(fd, me.as_ptr().cast(), me.len()) < 0 {
                    fail(12);
                }
                libc::close(fd);
                let mut out = vec![0u8; cases.len()];
                for (i, ((kind, major, minor, access), (node, fresh))) in
                    cases.iter().zip(&paths).enumerate()
                {
                    let rc = if *access == "m" {
                        let t = if *kind == 'b' {
                            libc::S_IFBLK
                        } else {
                            libc::S_IFCHR
                        };
                        libc::mknod(fresh.as_ptr(), t | 0o600, libc::makedev(*major, *minor))
                    } else {
                        let flags = match *access {
                            "r" => libc::O_RDONLY,
                            "w" => libc::O_WRONLY,
                            _ => libc::O_RDWR,
                        };
                        let fd = libc::open(node.as_ptr(), flags | libc::O_NONBLOCK);
                        if fd >= 0 {
                            libc::close(fd);
                        }
                        fd
                    };
                    let denied = rc < 0 && *libc::__errno_location() == libc::EPERM;
                    out[i] = u8::from(!denied);
                }
                libc::write(fds[1], out.as_ptr().cast(), out.len());
                libc::_exit(0);
            }
        }
        unsafe { libc::close(fds[1]) };
        let mut buf = vec![0u8; cases.len()];
        let n = unsafe { libc::read(fds[0], buf.as_mut_ptr().cast(), buf.len()) };
        let mut status = 0;
        unsafe {
            libc::waitpid(pid, &mut status, 0);
            libc::close(fds[0]);
        }
        let _ = std::fs::remove_dir(cgroup);
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "the probing child failed: status {status:#x} (10 tmpfs, 11 mknod, 12 join)"
        );
        assert_eq!(n as usize, cases.len());
        buf.iter().map(|b| *b == 1).collect()
    }

    #[test]
    fn the_kernel_agrees_with_the_evaluator_on_many_rules() {
        if unsafe { libc::geteuid() } != 0 {
            panic!("this test needs root (bpf, cgroups, mknod)");
        }
        let root =
            cgroup2_mount().expect("no cgroup2 hierarchy mounted (see /proc/self/mountinfo)");
        let c =
            |allow: bool, kind: char, major: Option<i64>, minor: Option<i64>, access: &str| Rule {
                allow,
                kind,
                major,
                minor,
                access: access.into(),
            };
        let mut defaults_plus = rules(None).unwrap();
        defaults_plus.push(c(false, 'c', Some(1), Some(3), "w"));
        defaults_plus.push(c(true, 'b', Some(7), None, "r"));
        let rule_sets: Vec<(&str, Vec<Rule>)> = vec![
            ("defaults", rules(None).unwrap()),
            ("defaults, null not writable, loop readable", defaults_plus),
            (
                "char major 1 read-only, all block mknod",
                vec![
                    c(false, 'a', None, None, "rwm"),
                    c(true, 'c', Some(1), None, "r"),
                    c(true, 'b', None, None, "m"),
                ],
            ),
            (
                "all allowed, then zero denied",
                vec![
                    c(true, 'a', None, None, "rwm"),
                    c(false, 'c', Some(1), Some(5), "rwm"),
                ],
            ),
            ("nothing allowed", vec![c(false, 'a', None, None, "rwm")]),
        ];
        let devices = [
            ('c', 1, 3),
            ('c', 1, 5),
            ('c', 1, 9),
            ('b', 7, 0),
            ('c', 10, 200),
        ];
        let mut cases = Vec::new();
        for (k, ma, mi) in devices {
            for a in ["m", "r", "w", "rw"] {
                cases.push((k, ma, mi, a));
            }
        }
        for (n, (name, set)) in rule_sets.iter().enumerate() {
            let prog = program(set);
            let cgroup = root.join(format!("tinibox-bpf-test-{}-{n}", std::process::id()));
            let kernel = kernel_verdicts(&prog, &cgroup, &cases);
            for (case, seen) in cases.iter().zip(&kernel) {
                let (k, ma, mi, a) = *case;
                assert_eq!(
                    eval(&prog, k, ma, mi, a),
                    *seen,
                    "{name}: {k} {ma}:{mi} {a}: evaluator vs kernel"
                );
            }
            // Every set but the last allows something, and every set denies something: both
            // answers are exercised.
            assert!(kernel.iter().any(|v| !v), "{name}: nothing denied");
            assert_eq!(kernel.iter().any(|v| *v), n != 4, "{name}");
        }
    }
}
