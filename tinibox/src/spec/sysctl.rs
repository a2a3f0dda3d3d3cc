//! Which `linux.sysctl` keys a container may set: only those that belong to a kernel
//! namespace the container owns, so a bundle can never change the host's value (runc's rule,
//! OCI runtime spec "Sysctl": "the runtime MUST generate an error … for sysctls that are not
//! namespaced"; issue 15 item 17).
//!
//! - IPC namespace: `kernel.msgmax`, `kernel.msgmnb`, `kernel.msgmni`, `kernel.sem`,
//!   `kernel.shmall`, `kernel.shmmax`, `kernel.shmmni`, `kernel.shm_rmid_forced`, `fs.mqueue.*`;
//! - network namespace: `net.*`;
//! - UTS namespace: `kernel.hostname`, `kernel.domainname`.
//!
//! Pure: the caller says which namespaces the container owns (new, or joined by a path that is
//! not the host's).

use oci_spec::runtime::LinuxNamespaceType;

/// The IPC sysctls under `kernel.` (the rest of the IPC namespace is `fs.mqueue.*`).
const IPC_KERNEL: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// The namespace a sysctl key belongs to, or `None` for a key that is not namespaced
/// (it would change the host).
pub fn namespace_of(key: &str) -> Option<LinuxNamespaceType> {
    if IPC_KERNEL.contains(&key) || key.starts_with("fs.mqueue.") {
        Some(LinuxNamespaceType::Ipc)
    } else if key.starts_with("net.") {
        Some(LinuxNamespaceType::Network)
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        Some(LinuxNamespaceType::Uts)
    } else {
        None
    }
}

/// Checks every key: `Err` names the first refused key, why and what to do. `owns(ns)` says
/// whether the container has its own namespace of that type.
pub fn validate<'a>(
    keys: impl IntoIterator<Item = &'a String>,
    owns: impl Fn(LinuxNamespaceType) -> bool,
) -> Result<(), String> {
    for key in keys {
        let name = |ns| match ns {
            LinuxNamespaceType::Ipc => "ipc",
            LinuxNamespaceType::Network => "network",
            _ => "uts",
        };
        match namespace_of(key) {
            None => {
                return Err(format!(
                    "linux.sysctl: {key:?} is not in a separate kernel namespace (it would \
                     change the host); only ipc (kernel.msg*, kernel.sem, kernel.shm*, \
                     fs.mqueue.*), net.* and kernel.hostname/kernel.domainname are accepted"
                ))
            }
            Some(ns) if !owns(ns) => {
                return Err(format!(
                    "linux.sysctl: {key:?} needs the container's own {} namespace: add it to \
                     linux.namespaces or remove the sysctl",
                    name(ns)
                ))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_sysctls_are_refused_and_namespaced_ones_need_their_namespace() {
        let keys = |k: &[&str]| k.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let all = |_| true;
        let e = validate(&keys(&["kernel.printk_ratelimit_burst"]), all).unwrap_err();
        assert!(e.contains("kernel.printk_ratelimit_burst"), "{e}");
        assert!(validate(&keys(&["vm.swappiness"]), all).is_err());
        assert!(validate(
            &keys(&["kernel.shmmax", "fs.mqueue.msg_max", "net.ipv4.ip_forward"]),
            all
        )
        .is_ok());
        assert!(validate(&keys(&["kernel.hostname"]), all).is_ok());
        let no_net = |t| t != LinuxNamespaceType::Network;
        let e = validate(&keys(&["net.ipv4.ip_forward"]), no_net).unwrap_err();
        assert!(e.contains("network namespace"), "{e}");
        assert!(validate(&keys(&["kernel.shmmax"]), no_net).is_ok());
    }
}
