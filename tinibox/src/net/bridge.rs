//! The host side of a bridge network: the bridge link (made when first needed, with the
//! gateway address, the uplink's MTU and `route_localnet` on; kept for the host's lifetime
//! like Docker's `docker0`, or until `network rm` for a user-defined network), IPv4
//! forwarding (switched on only when a bridge is made and it was off), the per-container veth
//! pair whose peer is created in the container's namespace as `eth0` (`eth1`… for further
//! networks), and that interface's address and, on the first one, the default route. IPv6
//! forwarding is switched on likewise when a bridge with IPv6 is made.
//!
//! Loopback: published ports are DNAT rules, not a proxy process, also for 127.0.0.1. A packet
//! from 127.0.0.1 routed out of the bridge is dropped as martian unless the bridge has
//! `net.ipv4.conf.BRIDGE.route_localnet=1`; the postrouting masquerade of [`super::rules`]
//! then gives it the gateway's source. Chosen over Docker's userland proxy: no process per
//! port to start, supervise and clean up after a SIGKILL, and the kernel's forwarding speed.
//!
//! Owns links and sysctls; the record is [`super::ipam`], the rules [`super::rules`].

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::AsFd;

use ipnet::{Ipv4Net, Ipv6Net};

use super::rtnl::Rtnl;
use super::NetError;

/// The default bridge's name.
pub const DEFAULT_BRIDGE: &str = "tinibox0";

/// The one line for a kernel that lacks what bridge mode needs.
pub fn kernel_lacks(what: &str, e: &io::Error) -> NetError {
    NetError::Unsupported(format!(
        "--network bridge: the kernel lacks {what} ({e}) — use --network none or host, or a kernel with BRIDGE, VETH, NF_TABLES, NFT_NAT, NFT_MASQ and NFT_FIB_IPV4 (`tinibox check` lists them)"
    ))
}

/// Whether an errno says "this kernel cannot do that".
pub fn unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EOPNOTSUPP | libc::EPROTONOSUPPORT | libc::EAFNOSUPPORT)
    )
}

fn sys(what: &str) -> impl Fn(io::Error) -> NetError + '_ {
    move |e| NetError::System(format!("{what}: {e}"))
}

fn write_sysctl(path: &str, value: &str) -> io::Result<()> {
    std::fs::write(path, value)
}

/// The MTU of the link that carries the default route (1500 when there is none).
fn uplink_mtu(rt: &mut Rtnl) -> u32 {
    let oif = rt
        .routes()
        .ok()
        .and_then(|r| r.into_iter().find(|r| r.prefix == 0 && r.oif != 0))
        .map(|r| r.oif);
    oif.and_then(|i| rt.link_mtu(i).ok().flatten())
        .unwrap_or(1500)
}

/// Whether two subnets share an address.
pub fn overlaps(a: Ipv4Net, b: Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The host's route (as `DEST/PREFIX`) that `subnet` overlaps, if any (the default route
/// aside).
pub fn route_overlap(rt: &mut Rtnl, subnet: Ipv4Net) -> Result<Option<String>, NetError> {
    let routes = rt.routes().map_err(sys("reading the host's routes"))?;
    Ok(routes
        .iter()
        .find(|r| {
            r.prefix > 0
                && Ipv4Net::new(r.destination, r.prefix)
                    .map(|n| overlaps(n, subnet))
                    .unwrap_or(false)
        })
        .map(|r| format!("{}/{}", r.destination, r.prefix)))
}

/// The host's IPv6 route (as `DEST/PREFIX`) that `subnet` overlaps, if any (the default
/// route and link-local routes aside).
pub fn route6_overlap(rt: &mut Rtnl, subnet: Ipv6Net) -> Result<Option<String>, NetError> {
    let routes = rt
        .routes6()
        .map_err(sys("reading the host's IPv6 routes"))?;
    Ok(routes
        .iter()
        .filter(|(d, p)| *p > 0 && (d.segments()[0] & 0xffc0) != 0xfe80 && !d.is_multicast())
        .find(|(d, p)| {
            Ipv6Net::new(*d, *p)
                .map(|n| n.contains(&subnet.network()) || subnet.contains(&n.network()))
                .unwrap_or(false)
        })
        .map(|(d, p)| format!("{d}/{p}")))
}

/// Makes the bridge `name` with address `gateway` on `subnet` (and `v6`'s IPv6 gateway and
/// prefix length) unless it exists; returns its index and MTU.
pub fn ensure(
    rt: &mut Rtnl,
    name: &str,
    subnet: Ipv4Net,
    gateway: Ipv4Addr,
    v6: Option<(Ipv6Addr, u8)>,
) -> Result<(u32, u32), NetError> {
    // One request for both (a join's first rtnetlink round trip).
    if let Some((index, mtu)) = rt
        .link_index_mtu(name)
        .map_err(sys("looking up the bridge"))?
    {
        return Ok((index, mtu.unwrap_or(1500)));
    }
    if let Some(route) = route_overlap(rt, subnet)? {
        return Err(NetError::Invalid(format!(
            "the subnet {subnet} of bridge {name} overlaps the host's route to {route} — set another `bridge_subnet` in {} (or recreate the network with another --subnet)",
            super::config::path().display()
        )));
    }
    let mtu = uplink_mtu(rt);
    rt.add_bridge(name, mtu).map_err(|e| {
        if unsupported(&e) {
            kernel_lacks("bridge devices (CONFIG_BRIDGE)", &e)
        } else {
            NetError::System(format!("creating the bridge {name}: {e}"))
        }
    })?;
    let result = (|| {
        let index = rt
            .link_index(name)
            .map_err(sys("looking up the new bridge"))?
            .ok_or_else(|| NetError::System(format!("the new bridge {name} vanished")))?;
        rt.add_address(index, gateway, subnet.prefix_len())
            .map_err(sys("giving the bridge its address"))?;
        if let Some((gw6, prefix6)) = v6 {
            rt.add_address6(index, gw6, prefix6)
                .map_err(sys("giving the bridge its IPv6 address"))?;
        }
        write_sysctl(
            &format!("/proc/sys/net/ipv4/conf/{name}/route_localnet"),
            "1",
        )
        .map_err(sys("setting route_localnet on the bridge"))?;
        rt.set_up(index).map_err(sys("setting the bridge up"))?;
        let forward = "/proc/sys/net/ipv4/ip_forward";
        if std::fs::read_to_string(forward)
            .map(|v| v.trim() == "0")
            .unwrap_or(false)
        {
            write_sysctl(forward, "1").map_err(sys("switching on IPv4 forwarding"))?;
        }
        // As Docker with IPv6: forwarding on for every interface (a host that takes its own
        // IPv6 route from router advertisements then needs accept_ra=2 on that link).
        let forward6 = "/proc/sys/net/ipv6/conf/all/forwarding";
        if v6.is_some()
            && std::fs::read_to_string(forward6)
                .map(|v| v.trim() == "0")
                .unwrap_or(false)
        {
            write_sysctl(forward6, "1").map_err(sys("switching on IPv6 forwarding"))?;
        }
        Ok((index, mtu))
    })();
    if result.is_err() {
        let _ = rt.delete_link(name);
    }
    result
}

/// Removes the bridge (Ok when it is not there).
pub fn remove(rt: &mut Rtnl, name: &str) -> Result<(), NetError> {
    rt.delete_link(name).map_err(sys("removing the bridge"))
}

/// Where a container is plugged in: its init's pid, the interface name inside, its address
/// and prefix, and the gateway of its default route (None: no default route, for a second
/// network).
pub struct Plug<'a> {
    /// The container's init (host pid).
    pub pid: i32,
    /// The interface inside (`eth0`…).
    pub ifname: &'a str,
    /// Its address.
    pub ip: Ipv4Addr,
    /// Its MAC address ([`super::mac_for`] the address).
    pub mac: [u8; 6],
    /// The subnet's prefix length.
    pub prefix: u8,
    /// The default route's gateway, if this interface carries it.
    pub default_via: Option<Ipv4Addr>,
    /// Its IPv6 address and prefix length, on a network with IPv6.
    pub ip6: Option<(Ipv6Addr, u8)>,
    /// The IPv6 default route's gateway, if this interface carries it.
    pub default_via6: Option<Ipv6Addr>,
}

/// Plugs a container in: a veth pair `host` (on the bridge) / `p.ifname` (in the namespace of
/// `p.pid`, with `p.mac`), up, with `p.ip/p.prefix` and, if asked, a default route: five rtnetlink
/// requests in all (the host end is made up, so it needs no lookup and no second request; a
/// peer made up in another namespace fails with ENOTCONN, so that one is set up there).
pub fn plug(
    rt: &mut Rtnl,
    bridge: u32,
    mtu: u32,
    host: &str,
    p: &Plug<'_>,
) -> Result<(), NetError> {
    let (pid, ifname) = (p.pid, p.ifname);
    let netns = std::fs::File::open(format!("/proc/{pid}/ns/net"))
        .map_err(|e| NetError::System(format!("opening the container's network namespace: {e}")))?;
    // The host end's name comes from the container's id, so a link that already has it is this
    // container's own from its previous run: its network namespace is gone, but the kernel
    // destroys such a veth pair in the background, later (a restart can come first). Delete it
    // and try once more.
    let mut added = rt.add_veth(host, bridge, ifname, p.mac, netns.as_fd(), mtu);
    if matches!(&added, Err(e) if e.raw_os_error() == Some(libc::EEXIST)) {
        rt.delete_link(host)
            .map_err(|e| NetError::System(format!("removing the stale veth {host}: {e}")))?;
        added = rt.add_veth(host, bridge, ifname, p.mac, netns.as_fd(), mtu);
    }
    added.map_err(|e| {
        if unsupported(&e) {
            kernel_lacks("veth pairs (CONFIG_VETH)", &e)
        } else {
            NetError::System(format!("creating the veth pair {host}: {e}"))
        }
    })?;
    let inner = (|| {
        let mut c = Rtnl::open_in(netns.as_fd())
            .map_err(sys("entering the container's network namespace"))?;
        let inside = c
            .link_index(ifname)
            .map_err(sys("looking up the interface in the container"))?
            .ok_or_else(|| NetError::System(format!("{ifname} did not reach the container")))?;
        c.add_address(inside, p.ip, p.prefix)
            .map_err(sys("giving the container's interface its address"))?;
        if let Some((ip6, prefix6)) = p.ip6 {
            c.add_address6(inside, ip6, prefix6)
                .map_err(sys("giving the container's interface its IPv6 address"))?;
        }
        c.set_up(inside)
            .map_err(sys("setting the container's interface up"))?;
        if let Some(gw) = p.default_via6 {
            c.add_default_route6(gw)
                .map_err(sys("adding the container's IPv6 default route"))?;
        }
        match p.default_via {
            Some(gw) => c
                .add_default_route(gw)
                .map_err(sys("adding the container's default route")),
            None => Ok(()),
        }
    })();
    if inner.is_err() {
        let _ = rt.delete_link(host);
    }
    inner
}
