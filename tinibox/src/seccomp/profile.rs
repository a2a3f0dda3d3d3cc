//! tinibox's default seccomp profile for docker-like containers (`tinibox run`).
//!
//! Owns the list only. A deny-list (default: allow) returning EPERM for the syscalls Docker's
//! default profile refuses to a container without extra capabilities: kernel modules, kexec,
//! keyrings, bpf, perf, mounts and namespace changes, clock and swap control, reboot, raw I/O
//! ports, obsolete and information-leaking calls. It lists the x86 and x32 ABIs too, so the
//! same names are refused through `int 0x80` and the x32 numbering. `ptrace` stays allowed,
//! as in Docker on kernels ≥ 4.8.

use oci_spec::runtime::LinuxSeccomp;

/// Syscalls refused with EPERM whatever their arguments.
const DENIED: &[&str] = &[
    "acct",
    "add_key",
    "bpf",
    "clock_adjtime",
    "clock_settime",
    "clock_settime64",
    "create_module",
    "delete_module",
    "finit_module",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "get_kernel_syms",
    "init_module",
    "ioperm",
    "iopl",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "mount",
    "mount_setattr",
    "move_mount",
    "name_to_handle_at",
    "nfsservctl",
    "open_by_handle_at",
    "open_tree",
    "perf_event_open",
    "pivot_root",
    "query_module",
    "quotactl",
    "quotactl_fd",
    "reboot",
    "request_key",
    "setns",
    "settimeofday",
    "stime",
    "swapoff",
    "swapon",
    "_sysctl",
    "sysfs",
    "syslog",
    "umount",
    "umount2",
    "unshare",
    "uselib",
    "userfaultfd",
    "ustat",
    "vhangup",
    "vm86",
    "vm86old",
];

/// Namespace flags of `clone` (Docker's mask, plus CLONE_NEWTIME), one bit each.
const CLONE_NAMESPACE_FLAGS: &[u64] = &[
    0x0000_0080, // CLONE_NEWTIME
    0x0002_0000, // CLONE_NEWNS
    0x0200_0000, // CLONE_NEWCGROUP
    0x0400_0000, // CLONE_NEWUTS
    0x0800_0000, // CLONE_NEWIPC
    0x1000_0000, // CLONE_NEWUSER
    0x2000_0000, // CLONE_NEWPID
    0x4000_0000, // CLONE_NEWNET
];

/// The default profile (see the module comment).
///
/// Every rule is written so that libseccomp (runc, crun) reads it exactly as tinibox does:
/// `clone` is refused when any one namespace bit is set (one MASKED_EQ condition per bit on
/// the same argument, which runtimes treat as "any of"), without mixing an ALLOW rule and an
/// ERRNO rule for one syscall. Unlike Docker, `personality` is not restricted: a deny-list
/// cannot say "any value but these five" portably, and the kernel already refuses the
/// dangerous personality flags to unprivileged processes.
pub fn default_profile() -> LinuxSeccomp {
    let clone_ns: Vec<serde_json::Value> = CLONE_NAMESPACE_FLAGS
        .iter()
        .map(|bit| {
            serde_json::json!({"index": 0, "value": bit, "valueTwo": bit,
                               "op": "SCMP_CMP_MASKED_EQ"})
        })
        .collect();
    let profile = serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": DENIED, "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EPERM},
            {"names": ["clone"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EPERM,
             "args": clone_ns},
            // clone3 passes its flags in memory, which BPF cannot read: ENOSYS makes libcs
            // fall back to clone, where the rule above applies (Docker does the same).
            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::ENOSYS}
        ]
    });
    // The JSON above is a constant of this file; the unit test below proves it parses.
    // Through bytes rather than `from_value`, so the seccomp types share the deserialisation
    // code that config.json's parse already links in (BENCHMARKS.md, "Footprint").
    serde_json::from_slice(profile.to_string().as_bytes())
        .unwrap_or_else(|e| unreachable!("default profile: {e}"))
}

#[cfg(test)]
mod tests {
    use super::super::compile;
    use super::*;

    #[test]
    fn default_profile_compiles_and_knows_every_name_on_some_abi() {
        let f = compile(&default_profile()).unwrap();
        assert!(f.skipped().is_empty(), "unknown names: {:?}", f.skipped());
        assert!(f.instructions().len() < 1000);
    }
}
