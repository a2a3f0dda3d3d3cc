//! OCI seccomp profile → one classic-BPF program.
//!
//! Owns the meaning of a profile: actions and their errno data, architectures, syscall name
//! lookup, argument conditions with 64-bit values, and the order rules are tried in. It emits
//! through `bpf.rs` and must not install anything (that is `mod.rs`'s job).
//!
//! A filter is compiled for one native ABI ([`Abi`]): the machine tinibox was built for
//! ([`Abi::NATIVE`]), x86_64 or aarch64. Syscall numbers come from the `syscalls` crate's
//! tables of that ABI (checked against the kernel's UAPI headers by the tests below).
//!
//! Program layout:
//! 1. check `seccomp_data.arch`: the native ABI's `AUDIT_ARCH_*` → native block; on x86_64,
//!    i386 → i386 block when the profile lists `SCMP_ARCH_X86`; anything else →
//!    `SECCOMP_RET_KILL_PROCESS` (libseccomp's "bad arch" behaviour: a filter never lets an
//!    unknown ABI through, because a deny-list written with native numbers means nothing for
//!    other numbers). On aarch64, 32-bit Arm (`SCMP_ARCH_ARM`) is such an unknown ABI: the
//!    TiniLinux arm64 kernel has no 32-bit compat layer;
//! 2. native block (x86_64 only): numbers with the x32 bit (0x40000000) are x32 calls; when
//!    the profile lists `SCMP_ARCH_X32` the bit is stripped and they go through the x86_64
//!    rules (x32 shares the x86_64 numbering), otherwise they are a bad arch. `nr == -1` is
//!    left to the default action;
//! 3. when the default action denies, numbers above every number the profile names return
//!    ENOSYS, so libcs fall back from syscalls newer than the profile (runc does the same);
//! 4. a binary search over the syscall numbers the profile names, and per syscall its rules:
//!    rules with conditions first, in profile order (all conditions of a rule must hold), then
//!    the first unconditional rule, then the default action.
//!
//! A rule whose conditions name the same argument twice is split into one rule per condition
//! (any one may match), as runc does, since "arg0 == 1 and arg0 == 2" can never hold.
//! Syscall names unknown on an architecture are skipped, as runc skips them.

use std::collections::BTreeMap;
use std::str::FromStr;

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag,
    LinuxSeccompOperator,
};

use super::bpf::{Asm, Target, JEQ, JGE, JGT};
use super::{CompiledFilter, SeccompError};

/// `AUDIT_ARCH_X86_64`.
#[cfg(any(test, target_arch = "x86_64"))]
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// `AUDIT_ARCH_I386`.
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// `AUDIT_ARCH_AARCH64` (`EM_AARCH64` 183 with the 64-bit and little-endian flags).
#[cfg(any(test, target_arch = "aarch64"))]
pub const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
/// `__X32_SYSCALL_BIT`.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// `SECCOMP_RET_KILL_THREAD`.
pub const RET_KILL_THREAD: u32 = 0x0000_0000;
/// `SECCOMP_RET_KILL_PROCESS`.
pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
/// `SECCOMP_RET_TRAP`.
pub const RET_TRAP: u32 = 0x0003_0000;
/// `SECCOMP_RET_ERRNO` (data: the errno).
pub const RET_ERRNO: u32 = 0x0005_0000;
/// `SECCOMP_RET_TRACE` (data: passed to the tracer).
pub const RET_TRACE: u32 = 0x7ff0_0000;
/// `SECCOMP_RET_LOG`.
pub const RET_LOG: u32 = 0x7ffc_0000;
/// `SECCOMP_RET_ALLOW`.
pub const RET_ALLOW: u32 = 0x7fff_0000;

const SECCOMP_FILTER_FLAG_TSYNC: u32 = 1;
const SECCOMP_FILTER_FLAG_LOG: u32 = 2;
const SECCOMP_FILTER_FLAG_SPEC_ALLOW: u32 = 4;

/// Offset of `seccomp_data.nr`.
const OFF_NR: u32 = 0;
/// Offset of `seccomp_data.arch`.
const OFF_ARCH: u32 = 4;
/// Offset of `seccomp_data.args[0]`.
const OFF_ARGS: u32 = 16;

/// Syscalls per leaf of the binary search.
const LEAF: usize = 4;

/// One rule of one syscall: all `conds` must hold for `ret` to be returned.
#[derive(Debug, Clone)]
struct Rule {
    conds: Vec<LinuxSeccompArg>,
    ret: u32,
}

type Table = BTreeMap<u32, Vec<Rule>>;

/// Turns an action (and its errno, for ERRNO and TRACE) into a `SECCOMP_RET_*` value.
pub fn action_ret(action: LinuxSeccompAction, errno: Option<u32>) -> Result<u32, SeccompError> {
    let data = errno.unwrap_or(libc::EPERM as u32) & 0xffff;
    Ok(match action {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => RET_KILL_THREAD,
        LinuxSeccompAction::ScmpActKillProcess => RET_KILL_PROCESS,
        LinuxSeccompAction::ScmpActTrap => RET_TRAP,
        LinuxSeccompAction::ScmpActErrno => RET_ERRNO | data,
        LinuxSeccompAction::ScmpActTrace => RET_TRACE | data,
        LinuxSeccompAction::ScmpActLog => RET_LOG,
        LinuxSeccompAction::ScmpActAllow => RET_ALLOW,
        LinuxSeccompAction::ScmpActNotify => {
            return Err(SeccompError::Unsupported(
                "linux.seccomp: action SCMP_ACT_NOTIFY needs a seccomp agent (listenerPath), \
                 which tinibox does not support; use SCMP_ACT_ERRNO or SCMP_ACT_TRACE"
                    .into(),
            ))
        }
    })
}

/// Builds the rule table of one architecture; `lookup` maps a syscall name to its number.
fn table(
    profile: &LinuxSeccomp,
    default_ret: u32,
    lookup: &dyn Fn(&str) -> Option<u32>,
    skipped: &mut Vec<String>,
) -> Result<Table, SeccompError> {
    let mut t = Table::new();
    for group in profile.syscalls().iter().flatten() {
        let ret = action_ret(group.action(), group.errno_ret())?;
        let args = group.args().clone().unwrap_or_default();
        for a in &args {
            if a.index() > 5 {
                return Err(SeccompError::Invalid(format!(
                    "linux.seccomp: syscalls {:?}: argument index {} is out of range 0..=5",
                    group.names(),
                    a.index()
                )));
            }
        }
        let mut seen = [false; 6];
        let repeated = args
            .iter()
            .any(|a| std::mem::replace(&mut seen[a.index()], true));
        let rules: Vec<Rule> = if repeated {
            args.iter()
                .map(|a| Rule {
                    conds: vec![*a],
                    ret,
                })
                .collect()
        } else {
            vec![Rule {
                conds: args.clone(),
                ret,
            }]
        };
        for name in group.names() {
            let Some(nr) = lookup(name) else {
                if !skipped.contains(name) {
                    skipped.push(name.clone());
                }
                continue;
            };
            // An unconditional rule that only restates the default changes nothing.
            if args.is_empty() && ret == default_ret && !t.contains_key(&nr) {
                continue;
            }
            t.entry(nr).or_default().extend(rules.iter().cloned());
        }
    }
    Ok(t)
}

/// Emits one condition; falls through when it holds, jumps to `fail` when it does not.
fn emit_cond(asm: &mut Asm, c: &LinuxSeccompArg, fail: usize) {
    let lo_off = OFF_ARGS + 8 * c.index() as u32;
    let hi_off = lo_off + 4;
    let pass = asm.label();
    let (p, f) = (Target::Label(pass), Target::Label(fail));
    let split = |v: u64| ((v >> 32) as u32, v as u32);
    let (vhi, vlo) = split(c.value());
    match c.op() {
        LinuxSeccompOperator::ScmpCmpEq => {
            asm.load(hi_off);
            asm.jump(JEQ, vhi, Target::Next, f);
            asm.load(lo_off);
            asm.jump(JEQ, vlo, p, f);
        }
        LinuxSeccompOperator::ScmpCmpNe => {
            asm.load(hi_off);
            asm.jump(JEQ, vhi, Target::Next, p);
            asm.load(lo_off);
            asm.jump(JEQ, vlo, f, p);
        }
        LinuxSeccompOperator::ScmpCmpMaskedEq => {
            let (dhi, dlo) = split(c.value_two().unwrap_or(0));
            asm.load(hi_off);
            asm.and(vhi);
            asm.jump(JEQ, dhi, Target::Next, f);
            asm.load(lo_off);
            asm.and(vlo);
            asm.jump(JEQ, dlo, p, f);
        }
        LinuxSeccompOperator::ScmpCmpGt | LinuxSeccompOperator::ScmpCmpGe => {
            asm.load(hi_off);
            asm.jump(JGT, vhi, p, Target::Next);
            asm.jump(JEQ, vhi, Target::Next, f);
            asm.load(lo_off);
            let code = if c.op() == LinuxSeccompOperator::ScmpCmpGt {
                JGT
            } else {
                JGE
            };
            asm.jump(code, vlo, p, f);
        }
        LinuxSeccompOperator::ScmpCmpLt | LinuxSeccompOperator::ScmpCmpLe => {
            asm.load(hi_off);
            asm.jump(JGT, vhi, f, Target::Next);
            asm.jump(JEQ, vhi, Target::Next, p);
            asm.load(lo_off);
            let code = if c.op() == LinuxSeccompOperator::ScmpCmpLt {
                JGE
            } else {
                JGT
            };
            asm.jump(code, vlo, f, p);
        }
    }
    asm.place(pass);
}

/// Emits the rules of one syscall; always ends in a return.
fn emit_rules(asm: &mut Asm, rules: &[Rule], default_ret: u32) {
    for r in rules.iter().filter(|r| !r.conds.is_empty()) {
        let fail = asm.label();
        for c in &r.conds {
            emit_cond(asm, c, fail);
        }
        asm.ret(r.ret);
        asm.place(fail);
    }
    let last = rules
        .iter()
        .find(|r| r.conds.is_empty())
        .map_or(default_ret, |r| r.ret);
    asm.ret(last);
}

/// Emits a binary search over `entries` (A holds the syscall number); always ends in returns.
fn emit_tree(asm: &mut Asm, entries: &[(&u32, &Vec<Rule>)], default_ret: u32) {
    if entries.len() <= LEAF {
        for (nr, rules) in entries {
            let next = asm.label();
            asm.jump(JEQ, **nr, Target::Next, Target::Label(next));
            emit_rules(asm, rules, default_ret);
            asm.place(next);
        }
        asm.ret(default_ret);
        return;
    }
    let mid = entries.len() / 2;
    let (left, right) = (asm.label(), asm.label());
    asm.jump(JGE, *entries[mid].0, Target::Next, Target::Label(left));
    asm.goto(Target::Label(right));
    asm.place(left);
    emit_tree(asm, &entries[..mid], default_ret);
    asm.place(right);
    emit_tree(asm, &entries[mid..], default_ret);
}

/// Emits the block of one architecture, starting with A = syscall number.
fn emit_arch(asm: &mut Asm, t: &Table, default_ret: u32) {
    let denies = default_ret != RET_ALLOW && default_ret != RET_LOG;
    if let (true, Some(max)) = (denies, t.keys().next_back()) {
        let known = asm.label();
        asm.jump(JGT, *max, Target::Next, Target::Label(known));
        asm.ret(RET_ERRNO | libc::ENOSYS as u32);
        asm.place(known);
    }
    let entries: Vec<_> = t.iter().collect();
    emit_tree(asm, &entries, default_ret);
}

/// The native system call ABI a filter is compiled for.
///
/// A build carries the syscall tables of its own machine only (the other machine's tables
/// cost 20-40 KB of the static binary); the unit tests have both, to compile and check
/// filters for either kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abi {
    /// x86_64 (`AUDIT_ARCH_X86_64`), with i386 and x32 as profile-selected extras.
    #[cfg(any(test, target_arch = "x86_64"))]
    X86_64,
    /// aarch64 (`AUDIT_ARCH_AARCH64`), the asm-generic numbering.
    #[cfg(any(test, target_arch = "aarch64"))]
    Aarch64,
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("tinibox's seccomp compiler knows the x86_64 and aarch64 system call ABIs only");

impl Abi {
    /// The ABI of the machine this tinibox was built for.
    #[cfg(target_arch = "aarch64")]
    pub const NATIVE: Abi = Abi::Aarch64;
    /// The ABI of the machine this tinibox was built for.
    #[cfg(target_arch = "x86_64")]
    pub const NATIVE: Abi = Abi::X86_64;

    /// Whether this is the x86_64 ABI (which has the i386 and x32 ABIs beside it).
    fn is_x86_64(self) -> bool {
        match self {
            #[cfg(any(test, target_arch = "x86_64"))]
            Abi::X86_64 => true,
            #[cfg(any(test, target_arch = "aarch64"))]
            Abi::Aarch64 => false,
        }
    }

    /// `seccomp_data.arch` of this ABI's system calls.
    pub fn audit_arch(self) -> u32 {
        match self {
            #[cfg(any(test, target_arch = "x86_64"))]
            Abi::X86_64 => AUDIT_ARCH_X86_64,
            #[cfg(any(test, target_arch = "aarch64"))]
            Abi::Aarch64 => AUDIT_ARCH_AARCH64,
        }
    }

    /// The number of system call `name` in this ABI, None when it has no such call.
    pub fn syscall_nr(self, name: &str) -> Option<u32> {
        match self {
            #[cfg(any(test, target_arch = "x86_64"))]
            Abi::X86_64 => syscalls::x86_64::Sysno::from_str(name)
                .ok()
                .map(|s| s.id() as u32),
            // The syscalls crate's aarch64 table also lists the 32-bit ABIs' time64 calls
            // (403..=423, `clock_gettime64` …), which asm-generic/unistd.h defines only when
            // `__BITS_PER_LONG == 32`: a 64-bit kernel has no such calls.
            // It also spells two of the kernel's names its own way: `newfstatat` (79,
            // asm-generic's `__NR3264_fstatat` on 64-bit) as `fstatat`, and `sync_file_range`
            // (84; arm64 does not want the `sync_file_range2` argument order) as
            // `sync_file_range2`. Profiles use the kernel's names.
            #[cfg(any(test, target_arch = "aarch64"))]
            Abi::Aarch64 => syscalls::aarch64::Sysno::from_str(match name {
                "newfstatat" => "fstatat",
                "sync_file_range" => "sync_file_range2",
                other => other,
            })
            .ok()
            .map(|s| s.id() as u32)
            .filter(|nr| !(403..=423).contains(nr)),
        }
    }
}

/// The number of system call `name` in the i386 ABI (x86_64 kernels run it beside their own).
#[cfg(any(test, target_arch = "x86_64"))]
fn i386_nr(name: &str) -> Option<u32> {
    syscalls::x86::Sysno::from_str(name)
        .ok()
        .map(|s| s.id() as u32)
}

/// No i386 ABI beside aarch64: never called there ([`Abi::is_x86_64`] is false).
#[cfg(not(any(test, target_arch = "x86_64")))]
fn i386_nr(_name: &str) -> Option<u32> {
    None
}

/// Compiles `profile` for this machine's ABI ([`Abi::NATIVE`]; see the module comment for the
/// exact semantics).
pub fn compile(profile: &LinuxSeccomp) -> Result<CompiledFilter, SeccompError> {
    compile_for(profile, Abi::NATIVE)
}

/// Compiles `profile` for `abi`: [`Abi::NATIVE`] outside the unit tests, which have both ABIs
/// (see [`Abi`]) to compile filters for the other machine's kernel too.
pub fn compile_for(profile: &LinuxSeccomp, abi: Abi) -> Result<CompiledFilter, SeccompError> {
    if profile.listener_path().is_some() {
        return Err(SeccompError::Unsupported(
            "linux.seccomp.listenerPath: seccomp agents (SCMP_ACT_NOTIFY) are not supported; \
             remove listenerPath"
                .into(),
        ));
    }
    let default_ret = action_ret(profile.default_action(), profile.default_errno_ret())?;
    let archs = profile.architectures().clone().unwrap_or_default();
    let x86_64 = abi.is_x86_64();
    let with_x86 = x86_64 && archs.contains(&Arch::ScmpArchX86);
    let with_x32 = x86_64 && archs.contains(&Arch::ScmpArchX32);

    let mut flags = 0;
    for f in profile.flags().iter().flatten() {
        flags |= match f {
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => SECCOMP_FILTER_FLAG_TSYNC,
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => SECCOMP_FILTER_FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => SECCOMP_FILTER_FLAG_SPEC_ALLOW,
        };
    }

    let mut skipped = Vec::new();
    let native = table(
        profile,
        default_ret,
        &|name| abi.syscall_nr(name),
        &mut skipped,
    )?;
    let mut skipped_i386 = Vec::new();
    let i386 = if with_x86 {
        Some(table(profile, default_ret, &i386_nr, &mut skipped_i386)?)
    } else {
        None
    };
    // A name is "unknown" only if no listed architecture knows it.
    if with_x86 {
        skipped.retain(|n| skipped_i386.contains(n));
    }

    let mut asm = Asm::new();
    let (l_native, l_i386) = (asm.label(), asm.label());
    asm.load(OFF_ARCH);
    let not_native = asm.label();
    asm.jump(
        JEQ,
        abi.audit_arch(),
        Target::Next,
        Target::Label(not_native),
    );
    asm.goto(Target::Label(l_native));
    asm.place(not_native);
    if i386.is_some() {
        let not_i386 = asm.label();
        asm.jump(JEQ, AUDIT_ARCH_I386, Target::Next, Target::Label(not_i386));
        asm.goto(Target::Label(l_i386));
        asm.place(not_i386);
    }
    asm.ret(RET_KILL_PROCESS);

    asm.place(l_native);
    asm.load(OFF_NR);
    if x86_64 {
        let dispatch = asm.label();
        asm.jump(JGE, X32_SYSCALL_BIT, Target::Next, Target::Label(dispatch));
        asm.jump(JEQ, u32::MAX, Target::Label(dispatch), Target::Next);
        if with_x32 {
            asm.and(!X32_SYSCALL_BIT);
        } else {
            asm.ret(RET_KILL_PROCESS);
        }
        asm.place(dispatch);
    }
    emit_arch(&mut asm, &native, default_ret);

    if let Some(t) = &i386 {
        asm.place(l_i386);
        asm.load(OFF_NR);
        emit_arch(&mut asm, t, default_ret);
    }

    Ok(CompiledFilter {
        program: asm.finish()?,
        flags,
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::super::bpf::run;
    use super::*;

    fn data(arch: u32, nr: u32, args: [u64; 6]) -> [u8; 64] {
        let mut d = [0u8; 64];
        d[0..4].copy_from_slice(&nr.to_ne_bytes());
        d[4..8].copy_from_slice(&arch.to_ne_bytes());
        for (i, a) in args.iter().enumerate() {
            d[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_ne_bytes());
        }
        d
    }

    fn profile(json: serde_json::Value) -> LinuxSeccomp {
        serde_json::from_value(json).unwrap()
    }

    // The tests below the ABI tests are written with x86_64 numbers and compile for it.
    fn nr(name: &str) -> u32 {
        Abi::X86_64.syscall_nr(name).unwrap()
    }

    fn eval(f: &CompiledFilter, name: &str, args: [u64; 6]) -> u32 {
        run(f.instructions(), &data(AUDIT_ARCH_X86_64, nr(name), args))
    }

    fn compile(p: &LinuxSeccomp) -> Result<CompiledFilter, SeccompError> {
        compile_for(p, Abi::X86_64)
    }

    /// `name → number` of every `__NR_*` the kernel's UAPI headers define for an ABI, as the
    /// C preprocessor expands them (`cpp -dM`, then each macro expanded to its number): the
    /// host's `asm/unistd.h` for x86_64, Debian's linux-libc-dev-arm64-cross copy under
    /// /usr/aarch64-linux-gnu/include for aarch64 (asm-generic/unistd.h's numbering).
    fn header_numbers(include: Option<&str>, defines: &[&str]) -> BTreeMap<String, u32> {
        let run = |input: &str, dm: bool| -> String {
            let mut cmd = std::process::Command::new("cpp");
            cmd.args(["-P", "-x", "c"]);
            if let Some(dir) = include {
                assert!(
                    std::path::Path::new(dir).join("asm/unistd.h").is_file(),
                    "{dir}/asm/unistd.h missing: install linux-libc-dev-arm64-cross \
                     (scripts/install-deps.sh)"
                );
                cmd.args(["-nostdinc", "-isystem", dir]);
            }
            cmd.args(defines);
            if dm {
                cmd.arg("-dM");
            }
            cmd.arg("-")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped());
            let mut child = cmd
                .spawn()
                .expect("cpp (build-essential) must be installed");
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "cpp failed");
            String::from_utf8(out.stdout).unwrap()
        };
        let macros = run("#include <asm/unistd.h>\n", true);
        let names: Vec<&str> = macros
            .lines()
            .filter_map(|l| l.strip_prefix("#define __NR_"))
            .filter_map(|l| l.split_whitespace().next())
            .filter(|n| !n.contains('('))
            // Not calls: the count, and the base of the per-architecture block.
            .filter(|n| !["syscalls", "arch_specific_syscall"].contains(n))
            .collect();
        let mut probe = String::from("#include <asm/unistd.h>\n");
        for n in &names {
            probe.push_str(&format!("@@{n} __NR_{n}\n"));
        }
        let mut out = BTreeMap::new();
        for line in run(&probe, false).lines() {
            let Some(rest) = line.strip_prefix("@@") else {
                continue;
            };
            let (name, expr) = rest.split_once(' ').unwrap();
            // Values are numbers or sums of them, e.g. `(244+0)` on aarch64.
            let digits = expr.replace(['(', ')', ' '], "");
            let sum: Option<u32> = digits.split('+').map(|t| t.parse::<u32>().ok()).sum();
            if let Some(v) = sum {
                out.insert(name.to_string(), v);
            }
        }
        out
    }

    /// The names the two profiles tinibox compiles (its default and Docker's) and every name
    /// the crate's table of `abi` shares with the headers, against the headers: the same
    /// number, or (a call newer than these headers) a number above all of theirs.
    fn check_abi_against_headers(abi: Abi, headers: &BTreeMap<String, u32>, crate_names: &[&str]) {
        assert!(
            headers.len() > 250,
            "only {} syscalls in the headers",
            headers.len()
        );
        let docker: LinuxSeccomp =
            serde_json::from_str(include_str!("testdata/docker-default.json")).unwrap();
        let default = super::super::profile::default_profile();
        let mut names: Vec<String> = crate_names.iter().map(|s| s.to_string()).collect();
        for p in [&docker, &default] {
            for group in p.syscalls().iter().flatten() {
                names.extend(group.names().iter().cloned());
            }
        }
        let mut checked = 0;
        for name in &names {
            let ours = abi.syscall_nr(name);
            match headers.get(name) {
                Some(&nr) => {
                    assert_eq!(
                        ours,
                        Some(nr),
                        "{abi:?} {name}: ours {ours:?}, headers {nr}"
                    );
                    checked += 1;
                }
                None => {
                    let newest = headers.values().max().copied().unwrap_or(0);
                    assert!(
                        ours.is_none_or(|n| n > newest),
                        "{abi:?} {name}: ours {ours:?}, not in the headers (newest {newest})"
                    );
                }
            }
        }
        assert!(checked > 250, "only {checked} names compared");
    }

    #[test]
    fn aarch64_syscall_numbers_match_the_arm64_kernel_headers() {
        let headers = header_numbers(Some("/usr/aarch64-linux-gnu/include"), &["-U__x86_64__"]);
        let names: Vec<&str> = syscalls::aarch64::Sysno::iter()
            .map(|s| s.name())
            .filter(|n| headers.contains_key(*n))
            .collect();
        check_abi_against_headers(Abi::Aarch64, &headers, &names);
        // Calls that only the old ABIs have are unknown on aarch64 (skipped like runc does).
        for name in ["open", "fork", "stat", "mkdir", "epoll_wait"] {
            assert_eq!(Abi::Aarch64.syscall_nr(name), None, "{name}");
            assert!(!headers.contains_key(name), "{name} in the headers");
        }
    }

    #[test]
    fn x86_64_syscall_numbers_match_the_hosts_kernel_headers() {
        if !cfg!(target_arch = "x86_64") {
            return;
        }
        let headers = header_numbers(None, &[]);
        let names: Vec<&str> = syscalls::x86_64::Sysno::iter()
            .map(|s| s.name())
            .filter(|n| headers.contains_key(*n))
            .collect();
        check_abi_against_headers(Abi::X86_64, &headers, &names);
    }

    #[test]
    fn aarch64_filter_dispatches_by_aarch64_numbers_and_refuses_other_abis() {
        let docker: LinuxSeccomp =
            serde_json::from_str(include_str!("testdata/docker-default.json")).unwrap();
        let f = compile_for(&docker, Abi::Aarch64).unwrap();
        let nr = |n: &str| Abi::Aarch64.syscall_nr(n).unwrap();
        let call =
            |n: &str, args: [u64; 6]| run(f.instructions(), &data(AUDIT_ARCH_AARCH64, nr(n), args));
        // aarch64 numbers: openat 56, clone 220, mount 40, reboot 142, keyctl 219.
        assert_eq!(nr("openat"), 56);
        assert_eq!(call("openat", [0; 6]), RET_ALLOW);
        assert_eq!(call("getpid", [0; 6]), RET_ALLOW);
        assert_eq!(call("mount", [0; 6]), RET_ERRNO | libc::EPERM as u32);
        assert_eq!(call("reboot", [0; 6]), RET_ERRNO | libc::EPERM as u32);
        // clone with CLONE_NEWNS (0x20000) is refused, a thread-style clone is not.
        assert_eq!(
            call("clone", [0x20000, 0, 0, 0, 0, 0]),
            RET_ERRNO | libc::EPERM as u32
        );
        assert_eq!(call("clone", [0x3d0f00, 0, 0, 0, 0, 0]), RET_ALLOW);
        // x86_64 names without an aarch64 call are skipped, not errors.
        assert!(f.skipped().iter().any(|n| n == "open"), "{:?}", f.skipped());
        // The same numbers under another ABI are a bad arch.
        for arch in [AUDIT_ARCH_X86_64, AUDIT_ARCH_I386, 0x4000_0028] {
            let d = data(arch, nr("openat"), [0; 6]);
            assert_eq!(run(f.instructions(), &d), RET_KILL_PROCESS, "{arch:#x}");
        }
        // tinibox's own default profile compiles for aarch64 and refuses what it lists.
        let own = compile_for(&super::super::profile::default_profile(), Abi::Aarch64).unwrap();
        let d = data(AUDIT_ARCH_AARCH64, nr("keyctl"), [0; 6]);
        assert_eq!(run(own.instructions(), &d), RET_ERRNO | libc::EPERM as u32);
        let d = data(AUDIT_ARCH_AARCH64, nr("openat"), [0; 6]);
        assert_eq!(run(own.instructions(), &d), RET_ALLOW);
    }

    #[test]
    fn default_and_rule_actions_with_errno() {
        let p = profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
            "syscalls": [
                {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                {"names": ["reboot"], "action": "SCMP_ACT_KILL_PROCESS"},
                {"names": ["getpid"], "action": "SCMP_ACT_TRAP"},
                {"names": ["getppid"], "action": "SCMP_ACT_LOG"},
                {"names": ["no_such_syscall"], "action": "SCMP_ACT_ALLOW"}
            ]
        }));
        let f = compile(&p).unwrap();
        assert_eq!(eval(&f, "read", [0; 6]), RET_ALLOW);
        assert_eq!(eval(&f, "write", [0; 6]), RET_ALLOW);
        assert_eq!(eval(&f, "mkdir", [0; 6]), RET_ERRNO | 13);
        assert_eq!(eval(&f, "reboot", [0; 6]), RET_KILL_PROCESS);
        assert_eq!(eval(&f, "getpid", [0; 6]), RET_TRAP);
        assert_eq!(eval(&f, "getppid", [0; 6]), RET_LOG);
        assert_eq!(eval(&f, "open", [0; 6]), RET_ERRNO | 1);
        assert_eq!(f.skipped(), ["no_such_syscall".to_string()]);
        // Above every named number (reboot = 169 here): ENOSYS, for libc fallbacks.
        assert_eq!(eval(&f, "clone3", [0; 6]), RET_ERRNO | libc::ENOSYS as u32);
    }

    #[test]
    fn sixty_four_bit_comparisons() {
        let big = 0x1_0000_0005u64;
        let ops = ["EQ", "NE", "LT", "LE", "GT", "GE"];
        for (i, op) in ops.iter().enumerate() {
            let p = profile(serde_json::json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["ioctl"], "action": "SCMP_ACT_ERRNO",
                    "args": [{"index": 1, "value": big, "op": format!("SCMP_CMP_{op}")}]}]
            }));
            let f = compile(&p).unwrap();
            for v in [0u64, 5, big - 1, big, big + 1, 0x2_0000_0000, u64::MAX] {
                let want = match i {
                    0 => v == big,
                    1 => v != big,
                    2 => v < big,
                    3 => v <= big,
                    4 => v > big,
                    _ => v >= big,
                };
                let got = eval(&f, "ioctl", [0, v, 0, 0, 0, 0]) != RET_ALLOW;
                assert_eq!(got, want, "op {op} value {v:#x}");
            }
        }
    }

    #[test]
    fn masked_eq_like_dockers_clone_rule() {
        let ns_mask = 0x7e02_0000u64;
        let p = profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                "args": [{"index": 0, "value": ns_mask, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}]
        }));
        let f = compile(&p).unwrap();
        let thread_flags = (libc::CLONE_VM | libc::CLONE_THREAD | libc::SIGCHLD) as u64;
        assert_eq!(eval(&f, "clone", [thread_flags, 0, 0, 0, 0, 0]), RET_ALLOW);
        let newns = thread_flags | libc::CLONE_NEWNS as u64;
        assert_eq!(eval(&f, "clone", [newns, 0, 0, 0, 0, 0]), RET_ERRNO | 1);
        // The same rule for the i386 ABI, with i386's clone number (120).
        let d = data(AUDIT_ARCH_I386, 120, [thread_flags, 0, 0, 0, 0, 0]);
        assert_eq!(run(f.instructions(), &d), RET_ALLOW);
        let d = data(AUDIT_ARCH_I386, 120, [newns, 0, 0, 0, 0, 0]);
        assert_eq!(run(f.instructions(), &d), RET_ERRNO | 1);
        // x32 clone goes through the x86_64 rules.
        let d = data(
            AUDIT_ARCH_X86_64,
            X32_SYSCALL_BIT | nr("clone"),
            [newns, 0, 0, 0, 0, 0],
        );
        assert_eq!(run(f.instructions(), &d), RET_ERRNO | 1);
    }

    #[test]
    fn repeated_argument_means_any_of() {
        let p = profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [
                {"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
                {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}]
        }));
        let f = compile(&p).unwrap();
        assert_eq!(eval(&f, "personality", [0; 6]), RET_ALLOW);
        assert_eq!(eval(&f, "personality", [8, 0, 0, 0, 0, 0]), RET_ALLOW);
        assert_eq!(eval(&f, "personality", [9, 0, 0, 0, 0, 0]), RET_ERRNO | 1);
    }

    #[test]
    fn conditions_on_different_arguments_all_hold() {
        let p = profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 97,
                "args": [{"index": 0, "value": 16, "op": "SCMP_CMP_EQ"},
                         {"index": 2, "value": 9, "op": "SCMP_CMP_EQ"}]}]
        }));
        let f = compile(&p).unwrap();
        assert_eq!(eval(&f, "socket", [16, 3, 9, 0, 0, 0]), RET_ERRNO | 97);
        assert_eq!(eval(&f, "socket", [16, 3, 0, 0, 0, 0]), RET_ALLOW);
        assert_eq!(eval(&f, "socket", [2, 1, 9, 0, 0, 0]), RET_ALLOW);
    }

    #[test]
    fn foreign_architectures_are_refused() {
        let p = profile(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW"}));
        let f = compile(&p).unwrap();
        let arm = data(0x4000_0028, 1, [0; 6]);
        assert_eq!(run(f.instructions(), &arm), RET_KILL_PROCESS);
        let i386 = data(AUDIT_ARCH_I386, 1, [0; 6]);
        assert_eq!(run(f.instructions(), &i386), RET_KILL_PROCESS);
        let x32 = data(AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 1, [0; 6]);
        assert_eq!(run(f.instructions(), &x32), RET_KILL_PROCESS);
        let minus_one = data(AUDIT_ARCH_X86_64, u32::MAX, [0; 6]);
        assert_eq!(run(f.instructions(), &minus_one), RET_ALLOW);
    }

    #[test]
    fn notify_and_bad_index_are_clear_errors() {
        let p = profile(serde_json::json!({"defaultAction": "SCMP_ACT_NOTIFY"}));
        let e = compile(&p).unwrap_err().to_string();
        assert!(e.contains("SCMP_ACT_NOTIFY"), "{e}");
        let p = profile(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 6, "value": 0, "op": "SCMP_CMP_EQ"}]}]}));
        let e = compile(&p).unwrap_err().to_string();
        assert!(e.contains("index 6"), "{e}");
    }

    #[test]
    fn every_native_syscall_dispatches_correctly_in_a_large_allow_list() {
        let names: Vec<&str> = syscalls::x86_64::Sysno::iter().map(|s| s.name()).collect();
        let allowed: Vec<&str> = names.iter().copied().step_by(2).collect();
        let p = profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": allowed, "action": "SCMP_ACT_ALLOW"}]
        }));
        let f = compile(&p).unwrap();
        let max = allowed.iter().map(|n| nr(n)).max().unwrap();
        for (i, n) in names.iter().enumerate() {
            let want = if i % 2 == 0 {
                RET_ALLOW
            } else if nr(n) > max {
                RET_ERRNO | libc::ENOSYS as u32
            } else {
                RET_ERRNO | 1
            };
            assert_eq!(eval(&f, n, [0; 6]), want, "{n}");
        }
    }
}
