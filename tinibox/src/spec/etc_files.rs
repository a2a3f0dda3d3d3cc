//! The three /etc files every container gets: hostname, hosts and resolv.conf, planned as
//! files in a directory tinibox owns (the container's front folder) and bind-mounted over the
//! rootfs's copies.
//!
//! Pure: returns what to write ([`EtcFile`]); the caller writes the files before the
//! container is created.

use std::path::{Path, PathBuf};

use super::facts::HostNetwork;

/// A file the caller writes before the container is created, bind-mounted at `destination`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcFile {
    /// The path inside the container (`/etc/hosts` …).
    pub destination: String,
    /// The file on the host (inside the directory given to [`plan`]).
    pub path: PathBuf,
    /// Its contents.
    pub contents: String,
}

/// The hostname, hosts and resolv.conf files of a container, in `dir`. With host networking
/// (`host` given), the host's /etc/hosts and resolv.conf are copied.
pub fn plan(dir: &Path, hostname: &str, host: Option<&HostNetwork>) -> Vec<EtcFile> {
    let (hosts, resolv) = match host {
        None => (
            format!(
                "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{hostname}\n"
            ),
            // No network: an empty resolver list, so lookups fail fast instead of timing out.
            String::new(),
        ),
        Some(h) => (h.hosts.clone(), h.resolv_conf.clone()),
    };
    [
        ("hostname", format!("{hostname}\n")),
        ("hosts", hosts),
        ("resolv.conf", resolv),
    ]
    .into_iter()
    .map(|(name, contents)| EtcFile {
        destination: format!("/etc/{name}"),
        path: dir.join(name),
        contents,
    })
    .collect()
}
