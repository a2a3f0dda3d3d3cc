//! Container networking for `tinibox run --network bridge|NAME` (the room DESIGN.md calls
//! `net/`): a bridge on the host per network, a veth pair per container and network with
//! `eth0` (`eth1`…) inside, an address from a locked record, outbound masquerade and
//! published ports as nf_tables rules in tinibox's own table, names of user-defined networks
//! in each member's /etc/hosts. A network with IPv6 (`network create --ipv6`, or the default
//! bridge with `ipv6 = true` in the config) also gives its bridge and each container an IPv6
//! address of its IPv6 subnet (and the container an IPv6 default route), and its members'
//! names resolve to both addresses; as Docker with `ip6tables` on (its default since 27), its
//! IPv6 traffic is masqueraded on the way out, isolated from other networks, and ports
//! published without an address are reachable on the host's IPv6 addresses too (`[::1]`
//! through [`proxy`]). IPv6 forwarding is switched on when such a bridge is made and it was
//! off.
//!
//! - [`config`]: `/etc/tinibox/config` (`bridge_subnet`).
//! - [`networks`]: user-defined networks' definitions (`network create`/`rm`).
//! - [`hosts`]: the /etc/hosts block that makes names resolve on user-defined networks.
//! - [`ports`]: `-p`/`-P` parsed and made concrete (free host ports, in-use checks).
//! - [`proxy`]: the relay of ports published on `[::1]` (the one path DNAT cannot take).
//! - [`ipam`]: the persistent, flock-guarded address record and its stale-lease test.
//! - [`rtnl`]: links, addresses, routes over rtnetlink (netlink-packet-route, netlink-sys).
//! - [`bridge`]: the bridge, sysctls and the per-container veth pair.
//! - [`nft`]: nf_tables messages over netlink; [`rules`]: the table `ip tinibox` they make.
//!
//! Entry points for the docker front door: [`attach`] once the container's init exists (its
//! network namespace is there) and before it starts; [`detach`] when it is removed or has
//! ended; [`connect`]/[`disconnect`] for `network connect/disconnect`; [`create_network`],
//! [`remove_network`], [`inspect`] for `network create/rm/inspect`. Each holds the records'
//! lock throughout and leaves the host consistent on failure.
//!
//! Lifetimes (as Docker's `docker0`): the default bridge `tinibox0`, its record and the base
//! rules of the table (masquerade) are made by the first bridged container and then kept for
//! the host's lifetime (tmpfs state, gone at reboot); a user-defined network's bridge lives
//! from `network create` to `network rm`. Everything per container — veth, lease, DNAT rules,
//! hosts lines — goes when it leaves (rm, --rm, its end, or the next command after a SIGKILL
//! of tinibox, which finds the lease stale). Keeping the bridge saves ~70 ms a run (making
//! and removing a bridge and the table; BENCHMARKS.md). Must not create containers or touch
//! their mounts.

pub mod bridge;
pub mod config;
pub mod hosts;
pub mod ipam;
pub mod networks;
pub mod nft;
pub mod ports;
pub mod proxy;
pub mod rtnl;
pub mod rules;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

pub use ipam::Member;
use ipam::{Lease, Locked, Record};
use networks::Network;
use ports::{PortMapping, PortRequest};
use rtnl::Rtnl;

/// The name of the default network (`--network bridge`) and of its record.
pub const BRIDGE_NETWORK: &str = "bridge";

/// Where the network records live: `/run/tinibox/net` (or `$TINIBOX_NET_STATE`), one place for
/// the whole host whatever `--root` a command uses, because the bridge and the nf_tables table
/// they describe are host-wide objects: two state roots must not each think they own them.
/// On tmpfs, like the kernel objects, so a reboot forgets both.
pub fn state_dir() -> std::path::PathBuf {
    std::env::var_os("TINIBOX_NET_STATE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("/run/tinibox/net"))
}

/// A networking failure: every variant is one line for the user; `run` exits 125 on each.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// Bad input: a port spec, a port in use, an overlapping subnet, a full network.
    #[error("{0}")]
    Invalid(String),
    /// The kernel lacks what bridge mode needs.
    #[error("{0}")]
    Unsupported(String),
    /// A system call or netlink request failed.
    #[error("{0}")]
    System(String),
    /// No network of that name (Docker's daemon answers "not found": its CLI exits 1).
    #[error("{0}")]
    NotFound(String),
}

/// What a container asks of its networks; stored in its front folder (`network.json`) so a
/// restart joins the same networks with the same ports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// The networks in order (`bridge` or user-defined names): the first gets `eth0`, the
    /// default route and the published ports.
    pub networks: Vec<String>,
    /// Ports to publish (`-p`, and `-P`'s ExposedPorts).
    pub ports: Vec<PortRequest>,
    /// Who the container is to its peers (name, aliases, hostname, hosts file).
    #[serde(flatten)]
    pub member: Member,
    /// `--ip`: the address asked for on the first network (a user-defined one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<Ipv4Addr>,
    /// The address the container had on each network when it last joined: taken again when
    /// still free, so a restarted container keeps its address and MAC (derived from it) and
    /// its peers' hosts lines and ARP caches stay right.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub addresses: BTreeMap<String, Ipv4Addr>,
    /// What `network connect --ip/--alias` asked for on a network it added, by network name
    /// (Docker's per-endpoint `IPAMConfig` and `Aliases`): applied now when the container
    /// runs, and at each later start.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub endpoints: BTreeMap<String, Endpoint>,
}

/// One network's endpoint settings given by `network connect`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// `--ip`: the address asked for on that network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<Ipv4Addr>,
    /// `--alias`: names its peers on that network resolve it by.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

/// The file in a container's front folder that holds its [`Request`].
pub const REQUEST_FILE: &str = "network.json";

impl Request {
    /// The address asked for and the network-scoped aliases on `network`, the request's
    /// `index`th: `network connect`'s endpoint settings when it has them, else `run`'s `--ip`
    /// (first network only) and `--network-alias`.
    pub fn endpoint(&self, network: &str, index: usize) -> (Option<Ipv4Addr>, Vec<String>) {
        match self.endpoints.get(network) {
            Some(e) => (e.ip, e.aliases.clone()),
            None => (
                self.ip.filter(|_| index == 0),
                self.member.network_aliases.clone(),
            ),
        }
    }

    /// The request stored in front folder `front` (None: the container joins no bridge
    /// network, or was made before requests were stored).
    pub fn load(front: &std::path::Path) -> Option<Request> {
        std::fs::read(front.join(REQUEST_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
    }

    /// Stores the request in front folder `front` (temporary file, then renamed).
    pub fn save(&self, front: &std::path::Path) -> Result<(), NetError> {
        let path = front.join(REQUEST_FILE);
        let sys = |e: std::io::Error| NetError::System(format!("writing {}: {e}", path.display()));
        let json = serde_json::to_vec(self).map_err(|e| sys(std::io::Error::other(e)))?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, json)
            .and_then(|_| std::fs::rename(&tmp, &path))
            .map_err(sys)
    }
}

/// What a container got on one network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attached {
    /// The network's name.
    pub network: String,
    /// The interface inside.
    pub ifname: String,
    /// Its address.
    pub ip: Ipv4Addr,
    /// The gateway (the bridge's address).
    pub gateway: Ipv4Addr,
    /// Its IPv6 address, on a network with IPv6.
    pub ip6: Option<Ipv6Addr>,
    /// Its published ports with their host ports.
    pub ports: Vec<PortMapping>,
}

/// The MAC address of the interface that has `ip`: `02:42` and the address's four bytes, the
/// scheme of Docker's bridge driver, so the same address always has the same MAC (a
/// restarted container that gets its address back keeps its MAC, and its peers' ARP caches
/// stay right).
pub fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

/// A MAC address as `02:42:0a:59:00:02`.
pub fn mac_text(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Checks `run`'s `--ip` and `--network-alias` against the network they apply to (Docker
/// accepts both on user-defined networks only).
pub fn addressing(
    network: &Network,
    ip: Option<&str>,
    aliases: &[String],
) -> Result<(Option<Ipv4Addr>, Vec<String>), NetError> {
    addressing_as(network, ip, aliases, "--network-alias")
}

/// [`addressing`] with the aliases' flag named `alias_flag` in errors (`network connect`
/// calls it `--alias`).
pub fn addressing_as(
    network: &Network,
    ip: Option<&str>,
    aliases: &[String],
    alias_flag: &str,
) -> Result<(Option<Ipv4Addr>, Vec<String>), NetError> {
    if !network.resolves_names() {
        if ip.is_some() {
            return Err(NetError::Invalid(
                "--ip: a chosen address is supported on user-defined networks only — create one with `tinibox network create --subnet CIDR NAME` and use --network NAME".into(),
            ));
        }
        if !aliases.is_empty() {
            return Err(NetError::Invalid(format!(
                "{alias_flag}: network-scoped aliases are supported on user-defined networks only — create one with `tinibox network create NAME` and use it"
            )));
        }
    }
    let ip = match ip {
        None => None,
        Some(text) => {
            let ip: Ipv4Addr = text.parse().map_err(|_| {
                let shown: String = text.chars().take(64).collect();
                NetError::Invalid(format!(
                    "--ip {shown:?} is not an IPv4 address — e.g. --ip {}",
                    Ipv4Addr::from(u32::from(network.gateway).saturating_add(1))
                ))
            })?;
            // Taken addresses are found at the join; outside the subnet is known now.
            network.record().claim(ip)?;
            Some(ip)
        }
    };
    for a in aliases {
        if a.is_empty() || a.chars().any(|c| c.is_whitespace() || c == '#') {
            let shown: String = a.chars().take(64).collect();
            return Err(NetError::Invalid(format!(
                "{alias_flag} {shown:?} is not a host name — use letters, digits, '.', '-' and '_'"
            )));
        }
    }
    Ok((ip, aliases.to_vec()))
}

/// The host end of a container's veth pair: `tb` + the first 12 characters of its id for
/// `eth0`; for `ethN`, `tb` + the first 13 − len(N) characters + N (15 characters, the
/// kernel's limit).
pub fn veth_name(id: &str, ifname: &str) -> String {
    let n = ifname.trim_start_matches("eth");
    let (keep, suffix) = if n == "0" || n.is_empty() {
        (12, "")
    } else {
        (13usize.saturating_sub(n.len()), n)
    };
    let short: String = id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(keep)
        .collect();
    format!("tb{short}{suffix}")
}

fn rtnl() -> Result<Rtnl, NetError> {
    Rtnl::open().map_err(|e| NetError::System(format!("opening a netlink socket: {e}")))
}

/// Every record, by network name.
type Records = BTreeMap<String, Record>;

/// Removes the veth pair of a lease that is being dropped — unless the container's network
/// namespace is already gone: the kernel then destroys the pair with the namespace, in its own
/// worker, and a `RTM_DELLINK` of ours would only wait for that work (an unregister waits
/// for RCU grace periods: 20-40 ms on the 2-core VM, most of what bridge mode added to a
/// `run --rm`; BENCHMARKS.md). A namespace kept alive by another process (a `--network
/// container:` joiner) keeps the pair until it ends, as the kernel decides.
fn release(rt: &mut Rtnl, lease: &Lease) {
    if let Some(p) = &lease.proxy {
        proxy::stop(p);
    }
    if lease.is_live() {
        let _ = rt.delete_link(&lease.veth);
    }
}

/// Drops stale leases (a container that ended without its `finish`, e.g. after a SIGKILL of
/// tinibox) and their veths; returns the networks that lost one.
fn collect_stale(rt: &mut Rtnl, records: &mut Records) -> BTreeSet<String> {
    let mut touched = BTreeSet::new();
    for (net, record) in records.iter_mut() {
        for id in record.stale() {
            if let Some(l) = record.leases.remove(&id) {
                release(rt, &l);
                touched.insert(net.clone());
            }
        }
    }
    touched
}

/// Removes every lease of `id` and its veth; returns the networks it left.
fn leave_all(rt: &mut Rtnl, records: &mut Records, id: &str) -> BTreeSet<String> {
    let mut left = BTreeSet::new();
    for (net, record) in records.iter_mut() {
        if let Some(l) = record.leases.remove(id) {
            release(rt, &l);
            left.insert(net.clone());
        }
    }
    left
}

/// Saves every record and makes the table match them (in one batch).
fn commit(lock: &Locked, records: &Records) -> Result<(), NetError> {
    let mut saved = Ok(());
    for (net, record) in records {
        if let Err(e) = lock.save(net, Some(record)) {
            saved = Err(e);
        }
    }
    let rules: Vec<rules::NetworkRules<'_>> = records
        .values()
        .map(|r| rules::NetworkRules {
            bridge: r.bridge(),
            subnet: r.subnet,
            subnet6: r.subnet6,
            published: r
                .leases
                .values()
                .map(|l| rules::Published {
                    ip: l.ip,
                    ip6: l.ip6,
                    ports: l.ports.as_slice(),
                })
                .collect(),
        })
        .collect();
    let v6 = records.values().any(|r| r.subnet6.is_some());
    rules::install(&rules, &state_dir().join("rules.sha256"))
        .map_err(|e| {
            if bridge::unsupported(&e) || e.raw_os_error() == Some(libc::ENOENT) {
                bridge::kernel_lacks(
                    if v6 {
                        "nf_tables NAT for IPv4 and IPv6 (NF_TABLES, NF_TABLES_IPV4, NF_TABLES_IPV6, NFT_NAT, NFT_MASQ, NFT_FIB_IPV4, NFT_FIB_IPV6)"
                    } else {
                        "nf_tables NAT (NF_TABLES, NFT_NAT, NFT_MASQ, NFT_FIB_IPV4)"
                    },
                    &e,
                )
            } else {
                NetError::System(format!(
                    "installing the firewall rules (tables ip/ip6 tinibox): {e}"
                ))
            }
        })
        .and(saved)
}

/// Rewrites the /etc/hosts block of `ids` and of every member of the user-defined networks
/// in `nets` (best effort: a file that cannot be written only misses names).
fn refresh_hosts(records: &Records, nets: &BTreeSet<String>, ids: &[&str]) {
    let mut who: BTreeSet<String> = ids.iter().map(|s| s.to_string()).collect();
    for net in nets {
        if net == BRIDGE_NETWORK {
            continue;
        }
        if let Some(r) = records.get(net) {
            who.extend(r.leases.keys().cloned());
        }
    }
    for id in &who {
        let mut mine: Vec<(&String, &Lease)> = records
            .iter()
            .filter_map(|(n, r)| r.leases.get(id).map(|l| (n, l)))
            .collect();
        mine.sort_by(|a, b| a.1.ifname.cmp(&b.1.ifname));
        let Some((_, first)) = mine.first() else {
            continue;
        };
        let Some(path) = &first.member.hosts else {
            continue;
        };
        let mut peers: Vec<(IpAddr, Vec<String>)> = Vec::new();
        let mut own = vec![first.member.hostname.clone()];
        for (net, lease) in &mine {
            if net.as_str() == BRIDGE_NETWORK {
                continue;
            }
            // On a user-defined network the container resolves its own names too (Docker's
            // embedded DNS answers them).
            for n in lease.member.names() {
                if !own.contains(&n) {
                    own.push(n);
                }
            }
            for (other, l) in &records[net.as_str()].leases {
                if other == id {
                    continue;
                }
                for ip in std::iter::once(IpAddr::V4(l.ip)).chain(l.ip6.map(IpAddr::V6)) {
                    if !peers.iter().any(|(p, _)| *p == ip) {
                        peers.push((ip, l.member.names()));
                    }
                }
            }
        }
        let own = own.join(" ");
        let mut lines = vec![(IpAddr::V4(first.ip), own.as_str())];
        if let Some(ip6) = first.ip6 {
            lines.push((IpAddr::V6(ip6), own.as_str()));
        }
        let block = hosts::block(&lines, &peers);
        if let Err(e) = hosts::rewrite(path, &block) {
            eprintln!("tinibox: updating {}: {e}", path.display());
        }
    }
}

/// The lowest `ethN` that `id` does not use yet.
fn next_ifname(records: &Records, id: &str) -> String {
    let used: BTreeSet<String> = records
        .values()
        .filter_map(|r| r.leases.get(id).map(|l| l.ifname.clone()))
        .collect();
    (0..)
        .map(|n| format!("eth{n}"))
        .find(|n| !used.contains(n))
        .unwrap_or_default()
}

/// Makes the default bridge follow the config (`bridge_subnet`, `ipv6`, `fixed-cidr-v6`) once
/// no container uses it: a kept record and bridge made for other settings are dropped, so the
/// join makes them again (as Docker applies daemon.json at its next start).
fn renew_default_bridge(rt: &mut Rtnl, records: &mut Records, def: &Network) {
    if def.name != BRIDGE_NETWORK {
        return;
    }
    let wanted = def.record();
    let stale = records.get(&def.name).is_some_and(|r| {
        r.leases.is_empty()
            && (r.subnet != wanted.subnet
                || r.gateway() != wanted.gateway()
                || r.subnet6 != wanted.subnet6
                || r.gateway6 != wanted.gateway6)
    });
    if stale {
        if let Some(old) = records.remove(&def.name) {
            let _ = rt.delete_link(old.bridge());
        }
    }
}

/// Plugs `id` into network `def` with `ports` published; the lease is in `records` on
/// success, nothing of it on failure (but the caller commits).
fn join(
    rt: &mut Rtnl,
    records: &mut Records,
    def: &Network,
    id: &str,
    pid: i32,
    ports: &[PortRequest],
    req: &Request,
) -> Result<Attached, NetError> {
    if records
        .get(&def.name)
        .is_some_and(|r| r.leases.contains_key(id))
    {
        return Err(NetError::Invalid(format!(
            "the container is already connected to network {} — disconnect it first",
            def.name
        )));
    }
    renew_default_bridge(rt, records, def);
    let taken: Vec<PortMapping> = records
        .values()
        .flat_map(|r| r.leases.values())
        .flat_map(|l| l.ports.iter().cloned())
        .collect();
    let ipv6 = records
        .get(&def.name)
        .map(|r| r.subnet6.is_some())
        .unwrap_or(def.ipv6 && def.subnet6.is_some());
    let ports = ports::resolve(ports, &taken, ipv6)?;
    let ifname = next_ifname(records, id);
    let first = ifname == "eth0";
    let index = req
        .networks
        .iter()
        .position(|n| *n == def.name)
        .unwrap_or(req.networks.len());
    let (asked, aliases) = req.endpoint(&def.name, index);
    let mut member = req.member.clone();
    member.network_aliases = aliases;
    let record = records
        .entry(def.name.clone())
        .or_insert_with(|| def.record());
    let ip = match (asked, req.addresses.get(&def.name)) {
        (Some(asked), _) => record.claim(asked)?,
        (None, Some(last)) if record.is_free(*last) => *last,
        _ => record.allocate()?,
    };
    let gateway = record.gateway();
    let ip6 = record.allocate6()?;
    let v6 = record.subnet6.zip(record.gateway6);
    let netns = ipam::netns_inode(pid)
        .ok_or_else(|| NetError::System(format!("the container's init (pid {pid}) is gone")))?;
    let (index, mtu) = bridge::ensure(
        rt,
        record.bridge(),
        record.subnet,
        gateway,
        v6.map(|(n, g)| (g, n.prefix_len())),
    )?;
    let veth = veth_name(id, &ifname);
    bridge::plug(
        rt,
        index,
        mtu,
        &veth,
        &bridge::Plug {
            pid,
            ifname: &ifname,
            ip,
            mac: mac_for(ip),
            prefix: record.subnet.prefix_len(),
            default_via: first.then_some(gateway),
            ip6: ip6.zip(v6.map(|(n, _)| n.prefix_len())),
            default_via6: v6.map(|(_, g)| g).filter(|_| first),
        },
    )?;
    let relay = match ip6.map(|a| proxy::forwards(a, &ports)) {
        Some(f) if !f.is_empty() => match proxy::spawn(pid, &f) {
            Ok(p) => Some(p),
            Err(e) => {
                let _ = rt.delete_link(&veth);
                return Err(e);
            }
        },
        _ => None,
    };
    record.leases.insert(
        id.to_string(),
        Lease {
            ip,
            pid,
            netns,
            veth,
            ip6,
            ifname: ifname.clone(),
            ports: ports.clone(),
            proxy: relay,
            member,
        },
    );
    Ok(Attached {
        network: def.name.clone(),
        ifname,
        ip,
        gateway,
        ip6,
        ports,
    })
}

/// The lock, a netlink socket and every record, stale leases collected.
fn open() -> Result<(Locked, Rtnl, Records, BTreeSet<String>), NetError> {
    let lock = Locked::acquire(&state_dir())?;
    let mut rt = rtnl()?;
    let mut records = lock.load_all()?;
    let touched = collect_stale(&mut rt, &mut records);
    Ok((lock, rt, records, touched))
}

/// The definitions of a request's networks (an unknown one is an error before anything is
/// made).
fn definitions(req: &Request) -> Result<Vec<Network>, NetError> {
    req.networks.iter().map(|n| networks::load(n)).collect()
}

/// Connects container `id`, whose init is `pid`, to the networks of `request` (the ports on
/// the first). On failure nothing of it is left (no veth, lease or rule).
pub fn attach(id: &str, pid: i32, request: &Request) -> Result<Vec<Attached>, NetError> {
    let defs = definitions(request)?;
    let (lock, mut rt, mut records, mut touched) = open()?;
    let result = (|| {
        let mut out = Vec::new();
        for (i, def) in defs.iter().enumerate() {
            let ports = if i == 0 { &request.ports[..] } else { &[] };
            out.push(join(&mut rt, &mut records, def, id, pid, ports, request)?);
        }
        commit(&lock, &records)?;
        Ok(out)
    })();
    match &result {
        Err(_) => {
            touched.extend(leave_all(&mut rt, &mut records, id));
            let _ = commit(&lock, &records);
        }
        Ok(joined) => {
            touched.extend(defs.iter().map(|d| d.name.clone()));
            remember(request, joined);
        }
    }
    refresh_hosts(&records, &touched, &[id]);
    result
}

/// Stores the addresses the container got in its request (the front folder is the one of its
/// hosts file), for the next start to take them again. Best effort: without them a restart
/// gets the lowest free address.
fn remember(request: &Request, joined: &[Attached]) {
    let Some(front) = request
        .member
        .hosts
        .as_deref()
        .and_then(std::path::Path::parent)
    else {
        return;
    };
    let mut stored = Request::load(front).unwrap_or_else(|| request.clone());
    let before = stored.addresses.clone();
    for a in joined {
        stored.addresses.insert(a.network.clone(), a.ip);
    }
    if stored.addresses != before {
        if let Err(e) = stored.save(front) {
            eprintln!("tinibox: {e}");
        }
    }
}

/// `rename`: the container `id`, called `old` so far, is now `new` to its peers: its leases,
/// its stored request (in `front`) and the hosts files of every member of its user-defined
/// networks.
pub fn rename(id: &str, old: &str, new: &str, front: &std::path::Path) -> Result<(), NetError> {
    if let Some(mut req) = Request::load(front) {
        req.member.rename(old, new);
        req.save(front)?;
    }
    let snapshot = ipam::load_all_in(&state_dir()).unwrap_or_default();
    if !snapshot.values().any(|r| r.leases.contains_key(id)) {
        return Ok(());
    }
    let (lock, _rt, mut records, mut touched) = open()?;
    for (net, record) in records.iter_mut() {
        if let Some(l) = record.leases.get_mut(id) {
            l.member.rename(old, new);
            touched.insert(net.clone());
        }
    }
    let result = commit(&lock, &records);
    refresh_hosts(&records, &touched, &[id]);
    result
}

/// `inspect`'s `NetworkSettings` beside `Ports` and `SandboxKey`, in the shapes of Docker's
/// Engine API: the top-level `IPAddress`, `IPPrefixLen`, `Gateway`, `MacAddress` and their IPv6
/// counterparts `GlobalIPv6Address`, `GlobalIPv6PrefixLen`, `IPv6Gateway` (those of the
/// default network `bridge`, empty otherwise, as Docker) and `Networks` with an endpoint per
/// network of the container's request (`IPAddress`, `IPPrefixLen`, `Gateway`, `MacAddress`
/// empty while it does not run, as Docker; `NetworkID`; `Aliases` null on `bridge`, the
/// `--network-alias` names and the short id on a user-defined network, `DNSNames` every name
/// its peers resolve, as Docker 26 and later; `IPAMConfig` with the `--ip` asked for).
/// `front` is the container's front folder.
pub fn settings(id: &str, front: &std::path::Path) -> serde_json::Map<String, serde_json::Value> {
    use serde_json::{json, Value};
    let mut out = serde_json::Map::new();
    for key in [
        "IPAddress",
        "Gateway",
        "MacAddress",
        "EndpointID",
        "GlobalIPv6Address",
        "IPv6Gateway",
    ] {
        out.insert(key.into(), json!(""));
    }
    out.insert("IPPrefixLen".into(), json!(0));
    out.insert("GlobalIPv6PrefixLen".into(), json!(0));
    let Some(req) = Request::load(front) else {
        out.insert("Networks".into(), json!({}));
        return out;
    };
    let records = ipam::load_all_in(&state_dir()).unwrap_or_default();
    let mut networks = serde_json::Map::new();
    for (i, name) in req.networks.iter().enumerate() {
        let lease = records
            .get(name)
            .and_then(|r| r.leases.get(id).map(|l| (r, l)))
            .filter(|(_, l)| l.is_live());
        let net_id = networks::load(name).map(|n| n.id).unwrap_or_default();
        let short: String = id.chars().take(12).collect();
        let (asked, mut a) = req.endpoint(name, i);
        let (aliases, dns_names) = if name == BRIDGE_NETWORK {
            (Value::Null, Value::Null)
        } else {
            let mut member = req.member.clone();
            member.network_aliases = a.clone();
            a.push(short);
            (json!(a), json!(member.names()))
        };
        let ipam = match asked {
            Some(ip) => json!({"IPv4Address": ip.to_string()}),
            None => Value::Null,
        };
        let (ip, prefix, gateway, mac) = match lease {
            Some((r, l)) => (
                l.ip.to_string(),
                r.subnet.prefix_len(),
                r.gateway().to_string(),
                mac_text(mac_for(l.ip)),
            ),
            None => (String::new(), 0, String::new(), String::new()),
        };
        let (ip6, prefix6, gateway6) = match lease {
            Some((r, l)) => match (l.ip6, r.subnet6, r.gateway6) {
                (Some(a), Some(n), Some(g)) => (a.to_string(), n.prefix_len(), g.to_string()),
                _ => (String::new(), 0, String::new()),
            },
            None => (String::new(), 0, String::new()),
        };
        if name == BRIDGE_NETWORK {
            out.insert("IPAddress".into(), json!(ip));
            out.insert("IPPrefixLen".into(), json!(prefix));
            out.insert("Gateway".into(), json!(gateway));
            out.insert("MacAddress".into(), json!(mac));
            out.insert("GlobalIPv6Address".into(), json!(ip6));
            out.insert("GlobalIPv6PrefixLen".into(), json!(prefix6));
            out.insert("IPv6Gateway".into(), json!(gateway6));
        }
        networks.insert(
            name.clone(),
            json!({
                "IPAMConfig": ipam,
                "Links": null,
                "Aliases": aliases,
                "NetworkID": net_id,
                "EndpointID": "",
                "Gateway": gateway,
                "IPAddress": ip,
                "IPPrefixLen": prefix,
                "IPv6Gateway": gateway6,
                "GlobalIPv6Address": ip6,
                "GlobalIPv6PrefixLen": prefix6,
                "MacAddress": mac,
                "DriverOpts": null,
                "GwPriority": 0,
                "DNSNames": dns_names,
            }),
        );
    }
    out.insert("Networks".into(), Value::Object(networks));
    out
}

/// Connects a running container to one more network (`network connect`).
pub fn connect(id: &str, pid: i32, network: &str, request: &Request) -> Result<Attached, NetError> {
    let def = networks::load(network)?;
    let (lock, mut rt, mut records, mut touched) = open()?;
    let result = join(&mut rt, &mut records, &def, id, pid, &[], request)
        .and_then(|a| commit(&lock, &records).map(|_| a));
    if result.is_err() {
        if let Some(l) = records.get_mut(&def.name).and_then(|r| r.leases.remove(id)) {
            release(&mut rt, &l);
        }
        let _ = commit(&lock, &records);
    }
    touched.insert(def.name.clone());
    refresh_hosts(&records, &touched, &[id]);
    result
}

/// Disconnects container `id` from `network` (`network disconnect`); an error when it is not
/// connected.
pub fn disconnect(id: &str, network: &str) -> Result<(), NetError> {
    let def = networks::load(network)?;
    let (lock, mut rt, mut records, mut touched) = open()?;
    let Some(l) = records.get_mut(&def.name).and_then(|r| r.leases.remove(id)) else {
        return Err(NetError::Invalid(format!(
            "the container is not connected to network {} — see `tinibox network inspect {}`",
            def.name, def.name
        )));
    };
    release(&mut rt, &l);
    let result = commit(&lock, &records);
    touched.insert(def.name.clone());
    refresh_hosts(&records, &touched, &[id]);
    result
}

/// Disconnects container `id` from every network (no error when it was on none) and collects
/// stale leases. Without anything to do (the common case of a `--network none` container) it
/// takes no lock and sends nothing.
pub fn detach(id: &str) -> Result<(), NetError> {
    let dir = state_dir();
    let snapshot = ipam::load_all_in(&dir).unwrap_or_default();
    let busy = snapshot
        .values()
        .any(|r| r.leases.contains_key(id) || !r.stale().is_empty());
    if !busy {
        return Ok(());
    }
    let (lock, mut rt, mut records, mut touched) = open()?;
    touched.extend(leave_all(&mut rt, &mut records, id));
    let result = commit(&lock, &records);
    refresh_hosts(&records, &touched, &[]);
    result
}

/// The published ports of container `id` (empty when it has none or is not connected).
pub fn ports_of(id: &str) -> Vec<PortMapping> {
    ipam::load_all_in(&state_dir())
        .unwrap_or_default()
        .values()
        .flat_map(|r| r.leases.get(id).map(|l| l.ports.clone()))
        .flatten()
        .collect()
}

/// `network create`'s addressing: the `--subnet`s and `--gateway`s (at most one IPv4 and one
/// IPv6 each, told apart by a ':') and `--ipv6`.
#[derive(Debug, Clone, Default)]
pub struct Addressing {
    /// IPv4 subnet (None: the first free 10.89.N.0/24).
    pub subnet: Option<String>,
    /// IPv4 gateway (None: the subnet's first host).
    pub gateway: Option<String>,
    /// `--ipv6`: give containers an IPv6 address of `subnet6` too.
    pub ipv6: bool,
    /// IPv6 subnet (needed with `ipv6`, as in Docker 20.10, which has no default IPv6 pool).
    pub subnet6: Option<String>,
    /// IPv6 gateway (None: the subnet's `::1`).
    pub gateway6: Option<String>,
}

impl Addressing {
    /// Sorts repeated `--subnet` and `--gateway` values by family; an error for two of one
    /// family, an IPv6 value without `--ipv6`, or `--ipv6` without an IPv6 subnet.
    pub fn new(subnets: &[String], gateways: &[String], ipv6: bool) -> Result<Self, NetError> {
        let mut a = Addressing {
            ipv6,
            ..Addressing::default()
        };
        for (flag, values, v4, v6) in [
            ("--subnet", subnets, &mut a.subnet, &mut a.subnet6),
            ("--gateway", gateways, &mut a.gateway, &mut a.gateway6),
        ] {
            for v in values {
                let slot = if v.contains(':') { &mut *v6 } else { &mut *v4 };
                if slot.is_some() {
                    return Err(NetError::Invalid(format!(
                        "{flag} is given twice for one address family — give at most one IPv4 and one IPv6 {flag}"
                    )));
                }
                *slot = Some(v.clone());
            }
        }
        if !ipv6 && (a.subnet6.is_some() || a.gateway6.is_some()) {
            return Err(NetError::Invalid(
                "an IPv6 --subnet or --gateway needs --ipv6 — add --ipv6 to give the network IPv6"
                    .into(),
            ));
        }
        if ipv6 && a.subnet6.is_none() {
            return Err(NetError::Invalid(
                "--ipv6 needs an IPv6 --subnet (there is no default IPv6 pool) — e.g. --ipv6 --subnet fd42:1::/64".into(),
            ));
        }
        if a.gateway6.is_some() && a.subnet6.is_none() {
            return Err(NetError::Invalid(
                "an IPv6 --gateway needs an IPv6 --subnet — give both".into(),
            ));
        }
        Ok(a)
    }
}

/// `network create`: a new user-defined network on `subnet` (CIDR; None: the first free
/// 10.89.N.0/24) with `gateway` (None: the subnet's first host). Its bridge is made now; on
/// any failure nothing is left.
pub fn create_network(
    name: &str,
    subnet: Option<&str>,
    gateway: Option<&str>,
) -> Result<Network, NetError> {
    create_network_with(
        name,
        &Addressing {
            subnet: subnet.map(str::to_string),
            gateway: gateway.map(str::to_string),
            ..Addressing::default()
        },
    )
}

/// [`create_network`] with IPv6 (`--ipv6 --subnet fd…/64`): the bridge gets the IPv6
/// gateway, each container an IPv6 address and default route besides its IPv4 ones. The IPv6
/// subnet must not overlap another network's or a route of the host.
pub fn create_network_with(name: &str, addressing: &Addressing) -> Result<Network, NetError> {
    let (subnet, gateway) = (addressing.subnet.as_deref(), addressing.gateway.as_deref());
    networks::check_name(name)?;
    let lock = Locked::acquire(&state_dir())?;
    if networks::load(name).is_ok() {
        return Err(NetError::Invalid(format!(
            "network {name:?} already exists — remove it first (`tinibox network rm {name}`) or pick another name"
        )));
    }
    let mut rt = rtnl()?;
    let mut records = lock.load_all()?;
    let mut known: Vec<(String, ipnet::Ipv4Net)> = networks::list()?
        .into_iter()
        .map(|n| (n.name, n.subnet))
        .collect();
    let default_subnet = match records.get(BRIDGE_NETWORK) {
        Some(r) => r.subnet,
        None => config::bridge_subnet()?,
    };
    known.push((BRIDGE_NETWORK.to_string(), default_subnet));
    let subnet = match subnet {
        Some(text) => {
            let s = config::parse_subnet(text)
                .map_err(|e| NetError::Invalid(format!("--subnet {e}")))?;
            if let Some((n, t)) = known.iter().find(|(_, t)| bridge::overlaps(s, *t)) {
                return Err(NetError::Invalid(format!(
                    "--subnet {s} overlaps network {n} ({t}) — pick another subnet"
                )));
            }
            if let Some(route) = bridge::route_overlap(&mut rt, s)? {
                return Err(NetError::Invalid(format!(
                    "--subnet {s} overlaps the host's route to {route} — pick another subnet"
                )));
            }
            s
        }
        None => {
            if gateway.is_some() {
                return Err(NetError::Invalid(
                    "--gateway needs --subnet — give both, e.g. --subnet 10.89.5.0/24 --gateway 10.89.5.1".into(),
                ));
            }
            let mut taken: Vec<ipnet::Ipv4Net> = known.iter().map(|(_, t)| *t).collect();
            for r in rt
                .routes()
                .map_err(|e| NetError::System(format!("reading the host's routes: {e}")))?
            {
                if r.prefix > 0 {
                    if let Ok(n) = ipnet::Ipv4Net::new(r.destination, r.prefix) {
                        taken.push(n);
                    }
                }
            }
            networks::free_subnet(&taken)?
        }
    };
    let gateway = networks::gateway_for(subnet, gateway)?;
    let v6 = match &addressing.subnet6 {
        Some(text) => {
            let (s6, g6) = networks::subnet6(text, addressing.gateway6.as_deref())?;
            let mut all = networks::list()?;
            all.push(networks::default_bridge()?);
            if let Some(n) = all.into_iter().find(|n| {
                n.subnet6
                    .is_some_and(|t| t.contains(&s6.network()) || s6.contains(&t.network()))
            }) {
                return Err(NetError::Invalid(format!(
                    "--subnet {s6} overlaps network {} ({}) — pick another subnet",
                    n.name,
                    n.subnet6.map(|t| t.to_string()).unwrap_or_default()
                )));
            }
            if let Some(route) = bridge::route6_overlap(&mut rt, s6)? {
                return Err(NetError::Invalid(format!(
                    "--subnet {s6} overlaps the host's route to {route} — pick another subnet"
                )));
            }
            Some((s6, g6))
        }
        None => None,
    };
    let id = networks::new_id()?;
    let net = Network {
        name: name.to_string(),
        bridge: format!("tb-{}", &id[..12]),
        id,
        driver: "bridge".to_string(),
        subnet,
        gateway,
        created: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        ipv6: v6.is_some(),
        subnet6: v6.map(|(s, _)| s),
        gateway6: v6.map(|(_, g)| g),
    };
    bridge::ensure(
        &mut rt,
        &net.bridge,
        subnet,
        gateway,
        v6.map(|(s, g)| (g, s.prefix_len())),
    )?;
    records.insert(name.to_string(), net.record());
    let result = networks::save(&net).and_then(|_| commit(&lock, &records));
    if let Err(e) = result {
        let _ = rt.delete_link(&net.bridge);
        let _ = networks::delete(name);
        let _ = lock.save(name, None);
        records.remove(name);
        let _ = commit(&lock, &records);
        return Err(e);
    }
    Ok(net)
}

/// `network rm`: removes a user-defined network that no running container uses: its bridge,
/// record, rules and definition.
pub fn remove_network(name: &str) -> Result<(), NetError> {
    if networks::PREDEFINED.contains(&name) || name == "default" {
        return Err(NetError::Invalid(format!(
            "{name} is a pre-defined network and cannot be removed"
        )));
    }
    let net = networks::load(name)?;
    let (lock, mut rt, mut records, _) = open()?;
    if let Some(r) = records.get(name) {
        if !r.leases.is_empty() {
            let users: Vec<String> = r
                .leases
                .iter()
                .map(|(id, l)| {
                    if l.member.name.is_empty() {
                        id.chars().take(12).collect()
                    } else {
                        l.member.name.clone()
                    }
                })
                .collect();
            return Err(NetError::Invalid(format!(
                "network {name} is in use by {} — remove them or `tinibox network disconnect {name} CONTAINER` first",
                users.join(", ")
            )));
        }
    }
    rt.delete_link(&net.bridge)
        .map_err(|e| NetError::System(format!("removing the bridge {}: {e}", net.bridge)))?;
    records.remove(name);
    lock.save(name, None)?;
    networks::delete(name)?;
    commit(&lock, &records)
}

/// A network and its current leases (container id → lease), for `network inspect`.
pub fn inspect(name: &str) -> Result<(Network, BTreeMap<String, Lease>), NetError> {
    let net = networks::load(name)?;
    let leases = ipam::load_all_in(&state_dir())?
        .remove(&net.name)
        .map(|r| r.leases.into_iter().filter(|(_, l)| l.is_live()).collect())
        .unwrap_or_default();
    Ok((net, leases))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mac_is_docker_s_scheme_of_the_address() {
        let mac = mac_for(Ipv4Addr::new(172, 17, 0, 2));
        assert_eq!(mac_text(mac), "02:42:ac:11:00:02");
    }

    #[test]
    fn ip_and_aliases_only_on_user_defined_networks() {
        let mut net = networks::Network {
            name: BRIDGE_NETWORK.into(),
            id: "0".repeat(64),
            driver: "bridge".into(),
            bridge: "tinibox0".into(),
            subnet: "10.89.0.0/24".parse().unwrap(),
            gateway: Ipv4Addr::new(10, 89, 0, 1),
            created: String::new(),
            ipv6: false,
            subnet6: None,
            gateway6: None,
        };
        assert!(addressing(&net, Some("10.89.0.9"), &[]).is_err());
        assert!(addressing(&net, None, &["x".into()]).is_err());
        assert_eq!(addressing(&net, None, &[]).unwrap(), (None, vec![]));
        net.name = "web".into();
        assert_eq!(
            addressing(&net, Some("10.89.0.9"), &["x".into()]).unwrap(),
            (Some(Ipv4Addr::new(10, 89, 0, 9)), vec!["x".to_string()])
        );
        for (ip, aliases) in [
            (Some("10.90.0.9"), vec![]),
            (Some("10.89.0.1"), vec![]),
            (Some("not-an-ip"), vec![]),
            (None, vec!["two words".to_string()]),
        ] {
            assert!(
                addressing(&net, ip, &aliases).is_err(),
                "{ip:?} {aliases:?}"
            );
        }
    }
}
