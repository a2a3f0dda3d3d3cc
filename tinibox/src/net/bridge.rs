//! The host side of a bridge network: the bridge link (made on the first container, with the
//! gateway address, the uplink's MTU and `route_localnet` on, and removed with the last one),
//! IPv4 forwarding (switched on only when a bridge is made and it was off), the per-container
//! veth pair whose peer is created in the container's namespace as `eth0`, and that `eth0`'s
//! address and default route.
//!
//! Loopback: published ports are DNAT rules, not a proxy process, also for 127.0.0.1. A packet
//! from 127.0.0.1 routed out of the bridge is dropped as martian unless the bridge has
//! `net.ipv4.conf.BRIDGE.route_localnet=1`; the postrouting masquerade of [`super::rules`]
//! then gives it the gateway's source. Chosen over Docker's userland proxy: no process per
//! port to start, supervise and clean up after a SIGKILL, and the kernel's forwarding speed.
//!
//! Owns links and sysctls; the record is [`super::ipam`], the rules [`super::rules`].

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::AsFd;

use ipnet::Ipv4Net;

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

/// Makes the bridge unless it exists; returns its index and MTU.
pub fn ensure(rt: &mut Rtnl, name: &str, subnet: Ipv4Net) -> Result<(u32, u32), NetError> {
    if let Some(index) = rt.link_index(name).map_err(sys("looking up the bridge"))? {
        let mtu = rt.link_mtu(index).ok().flatten().unwrap_or(1500);
        return Ok((index, mtu));
    }
    let routes = rt.routes().map_err(sys("reading the host's routes"))?;
    if let Some(r) = routes.iter().find(|r| {
        r.prefix > 0
            && Ipv4Net::new(r.destination, r.prefix)
                .map(|n| n.contains(&subnet.network()) || subnet.contains(&n.network()))
                .unwrap_or(false)
    }) {
        return Err(NetError::Invalid(format!(
            "the bridge subnet {subnet} overlaps the host's route to {}/{} — set another `bridge_subnet` in {}",
            r.destination,
            r.prefix,
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
        rt.add_address(index, super::ipam::first_host(subnet), subnet.prefix_len())
            .map_err(sys("giving the bridge its address"))?;
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

/// Plugs a container in: a veth pair `host` (on the bridge) / `eth0` (in the namespace of
/// `pid`), up, with `ip/prefix` and a default route through `gateway`.
#[allow(clippy::too_many_arguments)]
pub fn plug(
    rt: &mut Rtnl,
    bridge: u32,
    mtu: u32,
    host: &str,
    pid: i32,
    ip: Ipv4Addr,
    prefix: u8,
    gateway: Ipv4Addr,
) -> Result<(), NetError> {
    let netns = std::fs::File::open(format!("/proc/{pid}/ns/net"))
        .map_err(|e| NetError::System(format!("opening the container's network namespace: {e}")))?;
    rt.add_veth(host, bridge, "eth0", netns.as_fd(), mtu)
        .map_err(|e| {
            if unsupported(&e) {
                kernel_lacks("veth pairs (CONFIG_VETH)", &e)
            } else {
                NetError::System(format!("creating the veth pair {host}: {e}"))
            }
        })?;
    let inner = (|| {
        let index = rt
            .link_index(host)
            .map_err(sys("looking up the veth"))?
            .ok_or_else(|| NetError::System(format!("the new veth {host} vanished")))?;
        rt.set_up(index).map_err(sys("setting the veth up"))?;
        let mut c = Rtnl::open_in(netns.as_fd())
            .map_err(sys("entering the container's network namespace"))?;
        let eth0 = c
            .link_index("eth0")
            .map_err(sys("looking up eth0 in the container"))?
            .ok_or_else(|| NetError::System("eth0 did not reach the container".into()))?;
        c.add_address(eth0, ip, prefix)
            .map_err(sys("giving eth0 its address"))?;
        c.set_up(eth0).map_err(sys("setting eth0 up"))?;
        c.add_default_route(gateway)
            .map_err(sys("adding the container's default route"))
    })();
    if inner.is_err() {
        let _ = rt.delete_link(host);
    }
    inner
}
