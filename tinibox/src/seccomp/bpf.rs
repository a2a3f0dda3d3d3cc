//! A tiny classic-BPF assembler for seccomp programs: instructions with symbolic jump targets
//! (labels), resolved into `sock_filter` words once the whole program is laid out.
//!
//! Owns only the encoding (opcodes, offsets, the 8-bit limit of conditional jumps, the
//! 4096-instruction limit). It knows nothing about OCI profiles; `compiler.rs` decides what to
//! emit. Must not install anything.

use super::SeccompError;

/// `BPF_LD | BPF_W | BPF_ABS`: load a 32-bit word of `seccomp_data` into A.
pub const LD_W_ABS: u16 = 0x20;
/// `BPF_JMP | BPF_JA`: unconditional jump (32-bit offset).
pub const JA: u16 = 0x05;
/// `BPF_JMP | BPF_JEQ | BPF_K`.
pub const JEQ: u16 = 0x15;
/// `BPF_JMP | BPF_JGT | BPF_K` (unsigned).
pub const JGT: u16 = 0x25;
/// `BPF_JMP | BPF_JGE | BPF_K` (unsigned).
pub const JGE: u16 = 0x35;
/// `BPF_ALU | BPF_AND | BPF_K`.
pub const AND: u16 = 0x54;
/// `BPF_RET | BPF_K`.
pub const RET: u16 = 0x06;

/// The kernel's limit on the length of one classic BPF program (`BPF_MAXINSNS`).
pub const MAX_INSNS: usize = 4096;

/// Where a jump goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The next instruction (offset 0).
    Next,
    /// A label placed with [`Asm::label`].
    Label(usize),
}

#[derive(Debug, Clone, Copy)]
enum Item {
    /// A non-jump instruction.
    Stmt { code: u16, k: u32 },
    /// A conditional jump on A compared with `k`.
    Jump {
        code: u16,
        k: u32,
        jt: Target,
        jf: Target,
    },
    /// An unconditional jump.
    Always(Target),
    /// A position marker; emits nothing.
    Mark(usize),
}

/// A program under construction.
#[derive(Debug, Default)]
pub struct Asm {
    items: Vec<Item>,
    labels: usize,
}

impl Asm {
    /// Starts an empty program.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reserves a new label (placed later with [`Asm::place`]).
    pub fn label(&mut self) -> usize {
        self.labels += 1;
        self.labels - 1
    }

    /// Places `label` before the next emitted instruction.
    pub fn place(&mut self, label: usize) {
        self.items.push(Item::Mark(label));
    }

    /// Loads the 32-bit word at `offset` in `seccomp_data` into A.
    pub fn load(&mut self, offset: u32) {
        self.items.push(Item::Stmt {
            code: LD_W_ABS,
            k: offset,
        });
    }

    /// A &= `mask`.
    pub fn and(&mut self, mask: u32) {
        self.items.push(Item::Stmt { code: AND, k: mask });
    }

    /// Returns `value` to the kernel (a `SECCOMP_RET_*` action with its data).
    pub fn ret(&mut self, value: u32) {
        self.items.push(Item::Stmt {
            code: RET,
            k: value,
        });
    }

    /// Conditional jump: `code` is [`JEQ`], [`JGT`] or [`JGE`]; must land within 255 instructions.
    pub fn jump(&mut self, code: u16, k: u32, jt: Target, jf: Target) {
        self.items.push(Item::Jump { code, k, jt, jf });
    }

    /// Unconditional jump (any distance forward).
    pub fn goto(&mut self, target: Target) {
        self.items.push(Item::Always(target));
    }

    /// Resolves labels into offsets and returns the program.
    pub fn finish(self) -> Result<Vec<libc::sock_filter>, SeccompError> {
        let mut pos = vec![usize::MAX; self.labels];
        let mut n = 0usize;
        for item in &self.items {
            match item {
                Item::Mark(l) => pos[*l] = n,
                _ => n += 1,
            }
        }
        if n > MAX_INSNS {
            return Err(SeccompError::TooLarge(n));
        }
        let offset = |at: usize, t: Target, limit: usize| -> Result<u32, SeccompError> {
            let dest = match t {
                Target::Next => return Ok(0),
                Target::Label(l) => pos[l],
            };
            if dest == usize::MAX || dest <= at {
                return Err(SeccompError::Internal(format!(
                    "jump at {at} to an unplaced or backward label"
                )));
            }
            let off = dest - at - 1;
            if off > limit {
                return Err(SeccompError::Internal(format!(
                    "jump at {at} spans {off} instructions (limit {limit})"
                )));
            }
            Ok(off as u32)
        };
        let mut out = Vec::with_capacity(n);
        for item in &self.items {
            let at = out.len();
            let insn = match *item {
                Item::Mark(_) => continue,
                Item::Stmt { code, k } => libc::sock_filter {
                    code,
                    jt: 0,
                    jf: 0,
                    k,
                },
                Item::Jump { code, k, jt, jf } => libc::sock_filter {
                    code,
                    jt: offset(at, jt, 255)? as u8,
                    jf: offset(at, jf, 255)? as u8,
                    k,
                },
                Item::Always(t) => libc::sock_filter {
                    code: JA,
                    jt: 0,
                    jf: 0,
                    k: offset(at, t, u32::MAX as usize)?,
                },
            };
            out.push(insn);
        }
        Ok(out)
    }
}

/// A classic-BPF interpreter for the subset this assembler emits: runs a compiled program
/// against a `seccomp_data` (64 bytes) without installing it and returns its action (tests,
/// and [`super::CompiledFilter::denies`]). A program outside that subset, or one that runs
/// off its end, gives 0 (SECCOMP_RET_KILL_THREAD), the kernel's answer to a broken filter.
pub fn run(prog: &[libc::sock_filter], data: &[u8; 64]) -> u32 {
    let word = |off: u32| {
        let o = off as usize;
        match data.get(o..o + 4) {
            Some(b) => u32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
            None => 0,
        }
    };
    let mut a: u32 = 0;
    let mut pc = 0usize;
    loop {
        let Some(&i) = prog.get(pc) else {
            return 0;
        };
        pc += 1;
        match i.code {
            LD_W_ABS => a = word(i.k),
            AND => a &= i.k,
            RET => return i.k,
            JA => pc += i.k as usize,
            JEQ | JGT | JGE => {
                let hit = match i.code {
                    JEQ => a == i.k,
                    JGT => a > i.k,
                    _ => a >= i.k,
                };
                pc += if hit { i.jt } else { i.jf } as usize;
            }
            _ => return 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_resolve_to_forward_offsets() {
        let mut a = Asm::new();
        let yes = a.label();
        a.load(0);
        a.jump(JEQ, 7, Target::Label(yes), Target::Next);
        a.ret(1);
        a.place(yes);
        a.ret(2);
        let p = a.finish().unwrap();
        assert_eq!(p.len(), 4);
        assert_eq!((p[1].code, p[1].jt, p[1].jf, p[1].k), (JEQ, 1, 0, 7));
        let mut d = [0u8; 64];
        d[0] = 7;
        assert_eq!(run(&p, &d), 2);
        d[0] = 8;
        assert_eq!(run(&p, &d), 1);
    }

    #[test]
    fn long_conditional_jump_is_refused() {
        let mut a = Asm::new();
        let far = a.label();
        a.jump(JEQ, 0, Target::Label(far), Target::Next);
        for _ in 0..300 {
            a.ret(0);
        }
        a.place(far);
        a.ret(1);
        assert!(matches!(a.finish(), Err(SeccompError::Internal(_))));
    }
}
