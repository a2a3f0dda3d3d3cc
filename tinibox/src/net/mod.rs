//! Container networking for `tinibox run --network bridge` (the room DESIGN.md calls `net/`):
//! a bridge on the host, a veth pair per container with `eth0` inside, an address from a
//! locked record, outbound masquerade and published ports as nf_tables rules in tinibox's own
//! table.
//!
//! - [`config`]: `/etc/tinibox/config` (`bridge_subnet`).
//! - [`ports`]: `-p`/`-P` parsed and made concrete (free host ports, in-use checks).
//! - [`ipam`]: the persistent, flock-guarded address record and its stale-lease test.
//! - [`rtnl`]: links, addresses, routes over rtnetlink (netlink-packet-route, netlink-sys).
//! - [`bridge`]: the bridge, sysctls and the per-container veth pair.
//! - [`nft`]: nf_tables messages over netlink; [`rules`]: the table `ip tinibox` they make.
//!
//! Entry points for the docker front door: [`attach`] once the container's init exists (its
//! network namespace is there) and before it starts; [`detach`] when it is removed or has
//! ended. Both hold the record's lock throughout and leave the host consistent on failure:
//! the last container to leave takes the bridge and the table with it, so the host's links
//! and rules are as before. Must not create containers or touch their mounts.

pub mod bridge;
pub mod config;
pub mod ipam;
pub mod nft;
pub mod ports;
pub mod rtnl;
pub mod rules;

use std::net::Ipv4Addr;

use ipam::{Lease, Locked, Record};
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
}

/// What a container asks of the bridge network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// Ports to publish (`-p`, and `-P`'s ExposedPorts).
    pub ports: Vec<PortRequest>,
}

/// What a container got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attached {
    /// Its address.
    pub ip: Ipv4Addr,
    /// The gateway (the bridge's address).
    pub gateway: Ipv4Addr,
    /// Its published ports with their host ports.
    pub ports: Vec<PortMapping>,
}

/// The host end of a container's veth pair: `tb` + the first 12 characters of its id.
pub fn veth_name(id: &str) -> String {
    let short: String = id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect();
    format!("tb{short}")
}

fn rtnl() -> Result<Rtnl, NetError> {
    Rtnl::open().map_err(|e| NetError::System(format!("opening a netlink socket: {e}")))
}

/// Drops stale leases and their veths (a container that ended without its `finish`, e.g.
/// after a SIGKILL of tinibox).
fn collect_stale(rt: &mut Rtnl, record: &mut Record) {
    for id in record.stale() {
        if let Some(l) = record.leases.remove(&id) {
            let _ = rt.delete_link(&l.veth);
        }
    }
}

/// Saves the record and makes the host match it: rules for every lease, or, with none left,
/// no table, no bridge and no record.
fn commit(lock: &Locked, rt: &mut Rtnl, record: &Record) -> Result<(), NetError> {
    let result = if record.leases.is_empty() {
        let _ = rules::install(&[]);
        bridge::remove(rt, bridge::DEFAULT_BRIDGE)
    } else {
        let published = record
            .leases
            .values()
            .map(|l| (l.ip, l.ports.as_slice()))
            .collect();
        rules::install(&[rules::NetworkRules {
            bridge: bridge::DEFAULT_BRIDGE,
            subnet: record.subnet,
            published,
        }])
        .map_err(|e| {
            if bridge::unsupported(&e) || e.raw_os_error() == Some(libc::ENOENT) {
                bridge::kernel_lacks(
                    "nf_tables NAT (NF_TABLES, NFT_NAT, NFT_MASQ, NFT_FIB_IPV4)",
                    &e,
                )
            } else {
                NetError::System(format!(
                    "installing the firewall rules (table ip tinibox): {e}"
                ))
            }
        })
    };
    let saved = lock.save(
        BRIDGE_NETWORK,
        (!record.leases.is_empty()).then_some(record),
    );
    result.and(saved)
}

/// Connects container `id`, whose init is `pid`, to the default bridge network with the
/// ports of `request`. On failure nothing of it is left (no veth, lease or rule).
pub fn attach(id: &str, pid: i32, request: &Request) -> Result<Attached, NetError> {
    let lock = Locked::acquire(&state_dir())?;
    let mut rt = rtnl()?;
    let mut record = match lock.load(BRIDGE_NETWORK)? {
        Some(r) => r,
        None => Record {
            subnet: config::bridge_subnet()?,
            leases: Default::default(),
        },
    };
    collect_stale(&mut rt, &mut record);
    let veth = veth_name(id);
    let result = (|| {
        let taken: Vec<PortMapping> = record
            .leases
            .values()
            .flat_map(|l| l.ports.iter().cloned())
            .collect();
        let ports = ports::resolve(&request.ports, &taken)?;
        let ip = record.allocate()?;
        let gateway = record.gateway();
        let netns = ipam::netns_inode(pid)
            .ok_or_else(|| NetError::System(format!("the container's init (pid {pid}) is gone")))?;
        let (index, mtu) = bridge::ensure(&mut rt, bridge::DEFAULT_BRIDGE, record.subnet)?;
        bridge::plug(
            &mut rt,
            index,
            mtu,
            &veth,
            pid,
            ip,
            record.subnet.prefix_len(),
            gateway,
        )?;
        record.leases.insert(
            id.to_string(),
            Lease {
                ip,
                pid,
                netns,
                veth: veth.clone(),
                ports: ports.clone(),
            },
        );
        commit(&lock, &mut rt, &record)?;
        Ok(Attached { ip, gateway, ports })
    })();
    if result.is_err() {
        record.leases.remove(id);
        let _ = rt.delete_link(&veth);
        let _ = commit(&lock, &mut rt, &record);
    }
    result
}

/// Disconnects container `id` (no error when it was not connected) and collects stale leases.
pub fn detach(id: &str) -> Result<(), NetError> {
    let dir = state_dir();
    if !dir.join(format!("{BRIDGE_NETWORK}.json")).exists() {
        return Ok(());
    }
    let lock = Locked::acquire(&dir)?;
    let Some(mut record) = lock.load(BRIDGE_NETWORK)? else {
        return Ok(());
    };
    let mut rt = rtnl()?;
    if let Some(l) = record.leases.remove(id) {
        let _ = rt.delete_link(&l.veth);
    }
    collect_stale(&mut rt, &mut record);
    commit(&lock, &mut rt, &record)
}

/// The published ports of container `id` (empty when it has none or is not connected).
pub fn ports_of(id: &str) -> Vec<PortMapping> {
    ipam::read_unlocked(&state_dir(), BRIDGE_NETWORK)
        .ok()
        .flatten()
        .and_then(|r| r.leases.get(id).map(|l| l.ports.clone()))
        .unwrap_or_default()
}
