//! The persistent, locked address record of a network: `DIR/<network>.json` (JSON, below;
//! DIR is [`super::state_dir`]) guarded by an exclusive `flock` on `DIR/lock`, held by [`Locked`] for the
//! whole of a join or leave (and of `network create`/`rm`) so that two tinibox processes never
//! hand out one address or one host port twice.
//!
//! ```json
//! {"subnet":"10.89.0.0/24","gateway":"10.89.0.1","bridge":"tinibox0",
//!  "leases":{"<container id>":{"ip":"10.89.0.2","pid":123,"netns":4026532000,
//!  "veth":"tb0123456789ab","ifname":"eth0","ports":[...],"name":"web","aliases":["web"],
//!  "hostname":"web","hosts":"/var/lib/tinibox/.bundles/<id>/hosts"}}}
//! ```
//! (`gateway` and `bridge` absent: the subnet's first host and `tinibox0`, as records written
//! before user-defined networks had them.)
//! A lease records the container's init pid and the inode of its network namespace: a lease
//! whose namespace is gone (the container ended, or tinibox was killed before cleaning up) is
//! stale and dropped by [`Record::stale`]'s caller, so a SIGKILL leaves nothing that the next
//! command does not collect.
//!
//! Owns the record's format and the address choice; no netlink here.

use std::collections::BTreeMap;
use std::fs::File;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use ipnet::{Ipv4Net, Ipv6Net};
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use super::ports::PortMapping;
use super::NetError;

/// One container's place on a network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// Its address.
    pub ip: Ipv4Addr,
    /// Its init's pid (host namespace).
    pub pid: i32,
    /// The inode of its network namespace (`/proc/PID/ns/net`).
    pub netns: u64,
    /// The host end of its veth pair.
    pub veth: String,
    /// Its IPv6 address, on a network with IPv6 (`network create --ipv6`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip6: Option<Ipv6Addr>,
    /// Its interface inside the container (`eth0`, `eth1`…).
    #[serde(default = "default_ifname")]
    pub ifname: String,
    /// Its published ports.
    #[serde(default)]
    pub ports: Vec<PortMapping>,
    /// The proxy of its ports on `[::1]`, if it has such ports ([`super::proxy`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<super::proxy::Proxy>,
    /// Who the container is to its peers (name, aliases, hostname, hosts file).
    #[serde(flatten)]
    pub member: Member,
}

/// A container as a network member sees it: the same four facts in its [`super::Request`]
/// (what it asked for) and in each [`Lease`] (what a network recorded), serialised inline in
/// both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The container's name (or short id), as `network inspect` shows it.
    #[serde(default)]
    pub name: String,
    /// The names other members of a user-defined network resolve it by (name, short id).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// The container's hostname (its own line in its /etc/hosts).
    #[serde(default)]
    pub hostname: String,
    /// The container's /etc/hosts on the host (the front folder's file), kept up to date.
    #[serde(default)]
    pub hosts: Option<PathBuf>,
    /// `--network-alias`: more names its peers resolve it by (user-defined networks only, as
    /// in Docker; inspect's `Aliases`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_aliases: Vec<String>,
}

impl Member {
    /// Every name the member answers to on a user-defined network: its aliases, then its
    /// network aliases, without repeats.
    pub fn names(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for n in self.aliases.iter().chain(&self.network_aliases) {
            if !n.is_empty() && !out.contains(n) {
                out.push(n.clone());
            }
        }
        out
    }

    /// Gives the member the name `new` in place of `old` (`rename`).
    pub fn rename(&mut self, old: &str, new: &str) {
        if self.name == old {
            self.name = new.to_string();
        }
        for a in &mut self.aliases {
            if a == old {
                *a = new.to_string();
            }
        }
    }
}

fn default_ifname() -> String {
    "eth0".to_string()
}

impl Lease {
    /// Whether the namespace the lease was made for still exists under that pid.
    pub fn is_live(&self) -> bool {
        netns_inode(self.pid) == Some(self.netns)
    }
}

/// The inode of `/proc/PID/ns/net`.
pub fn netns_inode(pid: i32) -> Option<u64> {
    std::fs::metadata(format!("/proc/{pid}/ns/net"))
        .ok()
        .map(|m| m.ino())
}

/// A network's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The subnet the addresses come from.
    pub subnet: Ipv4Net,
    /// The bridge's address (None: the subnet's first host).
    #[serde(default)]
    pub gateway: Option<Ipv4Addr>,
    /// The bridge's name (None: `tinibox0`).
    #[serde(default)]
    pub bridge: Option<String>,
    /// Leases by container id.
    #[serde(default)]
    pub leases: BTreeMap<String, Lease>,
    /// The IPv6 subnet, on a network with IPv6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet6: Option<Ipv6Net>,
    /// The bridge's IPv6 address, on a network with IPv6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway6: Option<Ipv6Addr>,
}

impl Record {
    /// The gateway (the bridge's address): as recorded, or the subnet's first host address.
    pub fn gateway(&self) -> Ipv4Addr {
        self.gateway.unwrap_or_else(|| first_host(self.subnet))
    }

    /// The bridge's name.
    pub fn bridge(&self) -> &str {
        self.bridge
            .as_deref()
            .unwrap_or(super::bridge::DEFAULT_BRIDGE)
    }

    /// The lowest free host address that is not the gateway.
    pub fn allocate(&self) -> Result<Ipv4Addr, NetError> {
        let gw = self.gateway();
        let first = u32::from(self.subnet.network()) + 1;
        let last = u32::from(self.subnet.broadcast());
        (first..last)
            .map(Ipv4Addr::from)
            .find(|ip| *ip != gw && self.leases.values().all(|l| l.ip != *ip))
            .ok_or_else(|| {
                NetError::Invalid(format!(
                    "network {} has no free address left ({} containers) — remove containers or give it a larger subnet",
                    self.subnet,
                    self.leases.len()
                ))
            })
    }

    /// The lowest free IPv6 address of the subnet after its first (the subnet-router anycast
    /// address) that is not the gateway (Docker's IPAM hands them out in this order too);
    /// None on a network without IPv6. Looks at the first 65,536 addresses.
    pub fn allocate6(&self) -> Result<Option<Ipv6Addr>, NetError> {
        let Some(net) = self.subnet6 else {
            return Ok(None);
        };
        let base = u128::from(net.network());
        let last = u128::from(net.broadcast());
        (1..=65_536u128)
            .map(|i| base.saturating_add(i))
            .take_while(|a| *a <= last)
            .map(Ipv6Addr::from)
            .find(|ip| Some(*ip) != self.gateway6 && self.leases.values().all(|l| l.ip6 != Some(*ip)))
            .map(Some)
            .ok_or_else(|| {
                NetError::Invalid(format!(
                    "network {net} has no free IPv6 address left — remove containers or give it a larger subnet"
                ))
            })
    }

    /// Whether `ip` is a host address of the subnet that is neither the gateway nor leased.
    pub fn is_free(&self, ip: Ipv4Addr) -> bool {
        self.subnet.contains(&ip)
            && ip != self.subnet.network()
            && ip != self.subnet.broadcast()
            && ip != self.gateway()
            && self.leases.values().all(|l| l.ip != ip)
    }

    /// `ip` for a container that asked for it (`--ip`): an error naming the problem when it is
    /// outside the subnet, the gateway or taken.
    pub fn claim(&self, ip: Ipv4Addr) -> Result<Ipv4Addr, NetError> {
        if self.is_free(ip) {
            return Ok(ip);
        }
        let why = if !self.subnet.contains(&ip) {
            format!("is not in the network's subnet {}", self.subnet)
        } else if let Some(l) = self.leases.values().find(|l| l.ip == ip) {
            let who = if l.member.name.is_empty() {
                "another container"
            } else {
                l.member.name.as_str()
            };
            format!("is already in use by {who}")
        } else {
            format!(
                "is the subnet's network, broadcast or gateway address ({})",
                self.gateway()
            )
        };
        Err(NetError::Invalid(format!(
            "--ip {ip} {why} — pick a free address of {}",
            self.subnet
        )))
    }

    /// The ids of leases whose namespace is gone.
    pub fn stale(&self) -> Vec<String> {
        self.leases
            .iter()
            .filter(|(_, l)| !l.is_live())
            .map(|(id, _)| id.clone())
            .collect()
    }
}

/// The first host address of a subnet.
pub fn first_host(net: Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(net.network()).saturating_add(1))
}

/// The exclusive lock over every network record under a state root.
pub struct Locked {
    dir: PathBuf,
    _lock: Flock<File>,
}

impl Locked {
    /// Takes the lock on the records in `dir` (waits for other tinibox processes).
    pub fn acquire(dir: &Path) -> Result<Locked, NetError> {
        let dir = dir.to_path_buf();
        let sys = |e: std::io::Error| {
            NetError::System(format!(
                "opening the network record in {}: {e} — check that the state root is writable (run as root)",
                dir.display()
            ))
        };
        std::fs::create_dir_all(&dir).map_err(sys)?;
        let file = File::create(dir.join("lock")).map_err(sys)?;
        let lock = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, e)| sys(std::io::Error::from(e)))?;
        Ok(Locked { dir, _lock: lock })
    }

    fn path(&self, network: &str) -> PathBuf {
        self.dir.join(format!("{network}.json"))
    }

    /// The record of `network`, if it has one.
    pub fn load(&self, network: &str) -> Result<Option<Record>, NetError> {
        load_from(&self.path(network))
    }

    /// Every record under the lock's directory, by network name.
    pub fn load_all(&self) -> Result<BTreeMap<String, Record>, NetError> {
        load_all_in(&self.dir)
    }

    /// Writes the record (to a temporary file, then renamed); removes it when `record` is None.
    /// A record whose file already holds the same bytes is not written again: every join and
    /// leave saves all records, and a write plus rename costs 0.1-0.3 ms a network on this
    /// tmpfs, for nothing when only one network changed.
    pub fn save(&self, network: &str, record: Option<&Record>) -> Result<(), NetError> {
        let path = self.path(network);
        let sys = |e: std::io::Error| NetError::System(format!("writing {}: {e}", path.display()));
        match record {
            None => match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(sys(e)),
                _ => Ok(()),
            },
            Some(r) => {
                let json =
                    serde_json::to_vec_pretty(r).map_err(|e| sys(std::io::Error::other(e)))?;
                if std::fs::read(&path).is_ok_and(|old| old == json) {
                    return Ok(());
                }
                let tmp = path.with_extension("json.tmp");
                std::fs::write(&tmp, json)
                    .and_then(|_| std::fs::rename(&tmp, &path))
                    .map_err(sys)
            }
        }
    }
}

fn load_from(path: &Path) -> Result<Option<Record>, NetError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            NetError::System(format!(
                "{} is not a network record ({e}) — remove it once no container uses the network",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(NetError::System(format!("reading {}: {e}", path.display()))),
    }
}

/// Every record in `dir` by network name, read without the lock (a snapshot: for `port`,
/// `network inspect` and the quick "anything to do?" test of a leave).
pub fn load_all_in(dir: &Path) -> Result<BTreeMap<String, Record>, NetError> {
    let mut all = BTreeMap::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(all),
        Err(e) => return Err(NetError::System(format!("reading {}: {e}", dir.display()))),
    };
    for entry in entries.flatten() {
        let file = entry.file_name();
        let Some(name) = file.to_str().and_then(|n| n.strip_suffix(".json")) else {
            continue;
        };
        if let Some(r) = load_from(&entry.path())? {
            all.insert(name.to_string(), r);
        }
    }
    Ok(all)
}

/// Reads a record without the lock (for `tinibox port`: a snapshot is enough).
pub fn read_unlocked(dir: &Path, network: &str) -> Result<Option<Record>, NetError> {
    load_from(&dir.join(format!("{network}.json")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(ip: &str) -> Lease {
        Lease {
            ip: ip.parse().unwrap(),
            pid: i32::MAX,
            netns: 1,
            veth: "tbx".into(),
            ip6: None,
            ifname: "eth0".into(),
            ports: vec![],
            proxy: None,
            member: Member::default(),
        }
    }

    #[test]
    fn allocates_the_lowest_free_address_after_the_gateway() {
        let mut r = Record {
            subnet: "10.1.0.0/29".parse().unwrap(),
            gateway: None,
            bridge: None,
            leases: BTreeMap::new(),
            subnet6: None,
            gateway6: None,
        };
        assert_eq!(r.gateway(), Ipv4Addr::new(10, 1, 0, 1));
        assert_eq!(r.allocate().unwrap(), Ipv4Addr::new(10, 1, 0, 2));
        r.leases.insert("a".into(), lease("10.1.0.2"));
        r.leases.insert("b".into(), lease("10.1.0.4"));
        assert_eq!(r.allocate().unwrap(), Ipv4Addr::new(10, 1, 0, 3));
        for (i, ip) in ["10.1.0.3", "10.1.0.5", "10.1.0.6"].iter().enumerate() {
            r.leases.insert(format!("c{i}"), lease(ip));
        }
        let e = r.allocate().unwrap_err().to_string();
        assert!(e.contains("no free address"), "{e}");
    }

    #[test]
    fn a_given_gateway_is_skipped() {
        let r = Record {
            subnet: "10.1.0.0/29".parse().unwrap(),
            gateway: Some(Ipv4Addr::new(10, 1, 0, 6)),
            bridge: Some("tb-x".into()),
            leases: [("a".to_string(), lease("10.1.0.1"))].into(),
            subnet6: None,
            gateway6: None,
        };
        assert_eq!(r.allocate().unwrap(), Ipv4Addr::new(10, 1, 0, 2));
        assert_eq!(r.bridge(), "tb-x");
    }

    #[test]
    fn a_claimed_address_must_be_a_free_host_address_of_the_subnet() {
        let mut r = Record {
            subnet: "10.1.0.0/24".parse().unwrap(),
            gateway: None,
            bridge: None,
            leases: BTreeMap::new(),
            subnet6: None,
            gateway6: None,
        };
        let mut taken = lease("10.1.0.7");
        taken.member.name = "web".into();
        r.leases.insert("a".into(), taken);
        assert_eq!(
            r.claim(Ipv4Addr::new(10, 1, 0, 9)).unwrap(),
            Ipv4Addr::new(10, 1, 0, 9)
        );
        let e = r.claim(Ipv4Addr::new(10, 1, 0, 7)).unwrap_err().to_string();
        assert!(e.contains("in use by web"), "{e}");
        for bad in ["10.1.0.1", "10.1.0.0", "10.1.0.255", "10.2.0.5"] {
            assert!(r.claim(bad.parse().unwrap()).is_err(), "{bad}");
            assert!(!r.is_free(bad.parse().unwrap()), "{bad}");
        }
    }

    #[test]
    fn a_member_answers_to_its_names_once_and_is_renamed() {
        let mut m = Member {
            name: "web".into(),
            aliases: vec!["web".into(), "0123456789ab".into()],
            network_aliases: vec!["www".into(), "web".into()],
            ..Member::default()
        };
        assert_eq!(m.names(), vec!["web", "0123456789ab", "www"]);
        m.rename("web", "api");
        assert_eq!(m.name, "api");
        assert_eq!(m.names(), vec!["api", "0123456789ab", "www", "web"]);
    }

    #[test]
    fn ipv6_addresses_start_after_the_gateway() {
        let mut r = Record {
            subnet: "10.1.0.0/24".parse().unwrap(),
            gateway: None,
            bridge: None,
            leases: BTreeMap::new(),
            subnet6: Some("fd42:1::/126".parse().unwrap()),
            gateway6: Some("fd42:1::1".parse().unwrap()),
        };
        assert_eq!(r.allocate6().unwrap(), Some("fd42:1::2".parse().unwrap()));
        let mut l = lease("10.1.0.2");
        l.ip6 = Some("fd42:1::2".parse().unwrap());
        r.leases.insert("a".into(), l);
        assert_eq!(r.allocate6().unwrap(), Some("fd42:1::3".parse().unwrap()));
        let mut l = lease("10.1.0.3");
        l.ip6 = Some("fd42:1::3".parse().unwrap());
        r.leases.insert("b".into(), l);
        assert!(r.allocate6().is_err());
        r.subnet6 = None;
        assert_eq!(r.allocate6().unwrap(), None);
    }

    #[test]
    fn a_lease_of_a_gone_process_is_stale() {
        let r = Record {
            subnet: "10.1.0.0/24".parse().unwrap(),
            gateway: None,
            bridge: None,
            leases: [("gone".to_string(), lease("10.1.0.2"))].into(),
            subnet6: None,
            gateway6: None,
        };
        assert_eq!(r.stale(), vec!["gone".to_string()]);
    }

    #[test]
    fn records_round_trip_under_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let l = Locked::acquire(dir.path()).unwrap();
        assert_eq!(l.load("bridge").unwrap(), None);
        let r = Record {
            subnet: "10.1.0.0/24".parse().unwrap(),
            gateway: None,
            bridge: None,
            leases: [("a".to_string(), lease("10.1.0.2"))].into(),
            subnet6: None,
            gateway6: None,
        };
        l.save("bridge", Some(&r)).unwrap();
        assert_eq!(l.load("bridge").unwrap(), Some(r));
        l.save("bridge", None).unwrap();
        assert_eq!(read_unlocked(dir.path(), "bridge").unwrap(), None);
    }
}
