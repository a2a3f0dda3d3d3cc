//! The cgroup v2 device filter: an eBPF program of type `BPF_PROG_TYPE_CGROUP_DEVICE` built
//! from the device rules, loaded with bpf(2) and attached to the container's cgroup directory.
//!
//! Owns the instruction encoding and the two bpf(2) calls; it does not decide the rules
//! ([`super::devices`]). The program reads `struct bpf_cgroup_dev_ctx { u32 access_type; u32
//! major; u32 minor; }` (access_type = access << 16 | type), walks the rules from last to first
//! and returns the first match's verdict (last rule wins, like successive v1 writes); no match
//! denies.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::devices::Rule;

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
    use super::super::devices::{default_allowed, rules};
    use super::*;

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
        assert!(evaluate(&p, 'c', 1, 3, "rw")); // null
        assert!(evaluate(&p, 'c', 1, 9, "r")); // urandom
        assert!(evaluate(&p, 'c', 136, 4, "rw")); // a pty
        assert!(evaluate(&p, 'c', 5, 2, "rw")); // ptmx
        assert!(!evaluate(&p, 'b', 8, 0, "r")); // the host's disk
        assert!(!evaluate(&p, 'c', 1, 1, "r")); // /dev/mem
        assert!(evaluate(&p, 'b', 8, 0, "m")); // mknod is allowed, opening is not
        assert!(!evaluate(&p, 'c', 10, 200, "rw"));
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
        assert!(!evaluate(&p, 'c', 1, 3, "rw"));
        assert!(evaluate(&p, 'c', 1, 3, "r"));
        r.push(Rule {
            allow: true,
            kind: 'a',
            major: None,
            minor: None,
            access: "rwm".into(),
        });
        let p = program(&r);
        assert!(evaluate(&p, 'b', 8, 0, "rw"));
    }
}
