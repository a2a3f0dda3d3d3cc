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

/// What a network mode puts in the container's /etc/hosts and /etc/resolv.conf.
#[derive(Debug, Clone, Copy)]
pub enum EtcNetwork<'a> {
    /// `--network none`: localhost lines, an empty resolver list.
    None,
    /// `--network host`: the host's files.
    Host(&'a HostNetwork),
    /// `--network bridge`: localhost lines (the container's own address line is appended by
    /// the front door once the address is known) and [`bridge_resolv_conf`].
    Bridge {
        /// The host's /etc/resolv.conf.
        host_resolv_conf: &'a str,
        /// `--dns` servers (replace the host's).
        dns: &'a [String],
        /// `--dns-search` domains (replace the host's search line).
        dns_search: &'a [String],
    },
}

/// Docker's servers when the host's resolv.conf has only loopback ones.
const FALLBACK_NAMESERVERS: [&str; 2] = ["8.8.8.8", "8.8.4.4"];

/// A bridge container's resolv.conf, as Docker makes it: the host's file with loopback
/// nameservers (127.0.0.0/8, ::1: unreachable from the container's namespace) dropped, and
/// Google's public servers when none is left; `--dns` replaces every nameserver line and
/// `--dns-search` the search/domain lines (`--dns-search .`: none).
pub fn bridge_resolv_conf(host: &str, dns: &[String], dns_search: &[String]) -> String {
    let mut out = String::new();
    let mut servers = 0;
    for line in host.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => {
                let addr = words.next().unwrap_or("");
                let loopback = addr
                    .parse::<std::net::IpAddr>()
                    .map(|a| a.is_loopback())
                    .unwrap_or(false);
                if dns.is_empty() && !loopback {
                    out.push_str(line);
                    out.push('\n');
                    servers += 1;
                }
            }
            Some("search" | "domain") if !dns_search.is_empty() => {}
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    // `.` asks for no search domain at all (Docker's meaning): the host's line is dropped too.
    let search: Vec<&str> = dns_search
        .iter()
        .map(String::as_str)
        .filter(|d| *d != ".")
        .collect();
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    for d in dns {
        out.push_str(&format!("nameserver {d}\n"));
    }
    if dns.is_empty() && servers == 0 {
        for d in FALLBACK_NAMESERVERS {
            out.push_str(&format!("nameserver {d}\n"));
        }
    }
    out
}

/// The hostname, hosts and resolv.conf files of a container, in `dir`, for network `net`;
/// `extra_hosts` (`--add-host`, name and address) are added to /etc/hosts.
pub fn plan(
    dir: &Path,
    hostname: &str,
    net: EtcNetwork<'_>,
    extra_hosts: &[(String, String)],
) -> Vec<EtcFile> {
    let localhost = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
    let (mut hosts, resolv) = match net {
        EtcNetwork::None => (
            format!("{localhost}127.0.1.1\t{hostname}\n"),
            // No network: an empty resolver list, so lookups fail fast instead of timing out.
            String::new(),
        ),
        EtcNetwork::Host(h) => (h.hosts.clone(), h.resolv_conf.clone()),
        EtcNetwork::Bridge {
            host_resolv_conf,
            dns,
            dns_search,
        } => (
            localhost.to_string(),
            bridge_resolv_conf(host_resolv_conf, dns, dns_search),
        ),
    };
    for (name, addr) in extra_hosts {
        hosts.push_str(&format!("{addr}\t{name}\n"));
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bridge_resolv_conf_drops_loopback_servers_like_docker() {
        let host =
            "search example.org\nnameserver 127.0.0.53\nnameserver 192.0.2.1\noptions edns0\n";
        assert_eq!(
            bridge_resolv_conf(host, &[], &[]),
            "search example.org\nnameserver 192.0.2.1\noptions edns0\n"
        );
        assert_eq!(
            bridge_resolv_conf("nameserver 127.0.0.53\n", &[], &[]),
            "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
        assert_eq!(
            bridge_resolv_conf(host, &[], &[".".to_string()]),
            "nameserver 192.0.2.1\noptions edns0\n",
            "--dns-search . drops the search line"
        );
        let dns = ["198.51.100.1".to_string()];
        let search = ["a.test".to_string(), "b.test".to_string()];
        assert_eq!(
            bridge_resolv_conf(host, &dns, &search),
            "options edns0\nsearch a.test b.test\nnameserver 198.51.100.1\n"
        );
    }

    #[test]
    fn extra_hosts_are_added() {
        let files = plan(
            Path::new("/f"),
            "box",
            EtcNetwork::None,
            &[("db".into(), "192.0.2.9".into())],
        );
        assert!(files[1].contents.ends_with("192.0.2.9\tdb\n"));
    }
}
