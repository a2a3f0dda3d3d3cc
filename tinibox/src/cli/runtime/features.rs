//! `features`: what this runtime supports, as the runtime-spec's features JSON. Owns that command's flags and output; the work is [`crate::container`]'s.

use std::collections::BTreeMap;

use clap::Args;

use super::finish;
use crate::cli::{log, GlobalOptions};

/// Arguments of `features`.
#[derive(Debug, Args)]
pub struct FeaturesArgs {}

/// The runtime-spec "features" document of this runtime.
pub fn features_json() -> serde_json::Value {
    let caps: Vec<String> = caps::all()
        .iter()
        .map(|c| c.to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut annotations = BTreeMap::new();
    annotations.insert(
        "org.tinilinux.tinibox.version".to_string(),
        env!("CARGO_PKG_VERSION").to_string(),
    );
    annotations.insert(
        "org.tinilinux.tinibox.seccomp".to_string(),
        "pure-Rust BPF compiler".to_string(),
    );
    serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.1.0",
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer",
                  "poststart", "poststop"],
        "mountOptions": ["async", "atime", "bind", "defaults", "dev", "diratime", "dirsync",
            "exec", "iversion", "lazytime", "loud", "mand", "noatime", "nodev", "nodiratime",
            "noexec", "noiversion", "nolazytime", "nomand", "norelatime", "nostrictatime",
            "nosuid", "private", "rbind", "relatime", "remount", "ro", "rprivate", "rshared",
            "rslave", "runbindable", "rw", "shared", "silent", "slave", "strictatime", "suid",
            "sync", "unbindable"],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"],
            "capabilities": caps,
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false,
                       "rdma": false},
            "seccomp": {
                "enabled": true,
                "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",
                    "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",
                    "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"],
                "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE",
                    "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
                "archs": ["SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"],
                "knownFlags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                    "SECCOMP_FILTER_FLAG_TSYNC"],
                "supportedFlags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                    "SECCOMP_FILTER_FLAG_TSYNC"]
            },
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
            "intelRdt": {"enabled": false}
        },
        "annotations": annotations
    })
}

/// Runs `features`; returns the exit status.
pub fn features(global: &GlobalOptions, _args: FeaturesArgs) -> u8 {
    log::init(global);
    let r = (|| {
        println!("{}", serde_json::to_string_pretty(&features_json())?);
        Ok(0)
    })();
    finish(global, "features", r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_lists_seccomp_and_hooks() {
        let f = features_json();
        assert_eq!(f["linux"]["seccomp"]["enabled"], true);
        assert!(f["hooks"].as_array().unwrap().len() == 6);
        assert!(f["linux"]["capabilities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "CAP_SYS_ADMIN"));
    }
}
