//! Links, addresses and routes through rtnetlink (`NETLINK_ROUTE`), with the message types of
//! netlink-packet-route and a blocking netlink-sys socket (as netavark does): look links up,
//! make a bridge, make a veth pair whose peer lands in a container's network namespace as
//! `eth0`, set links up, add addresses and a default route, read the uplink's MTU and the
//! routes that a new subnet must not overlap.
//!
//! Owns the netlink conversation only; which links exist and why is [`super::bridge`].

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, BorrowedFd};

use netlink_packet_core::{
    parse_u32, DecodeError, Emitable, NetlinkDeserializable, NetlinkHeader, NetlinkMessage,
    NetlinkPayload, NetlinkSerializable, NlasIterator, Parseable, NLM_F_ACK, NLM_F_CREATE,
    NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST,
};
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage,
};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkHeader, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::AddressFamily;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

/// Sets a 5-second receive timeout, so a kernel that never answers cannot hang tinibox.
pub fn receive_timeout(socket: &Socket) -> io::Result<()> {
    let tv = libc::timeval {
        tv_sec: 5,
        tv_usec: 0,
    };
    // SAFETY: setsockopt on our own socket with a properly sized timeval.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            &tv as *const libc::timeval as *const libc::c_void,
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `IFLA_MTU`, the MTU attribute of a link message (linux/if_link.h; libc does not export it
/// for Linux).
const IFLA_MTU: u16 = 4;

/// The requests tinibox sends: netlink-packet-route's messages under their `RTM_*` types
/// (linux/rtnetlink.h). It stands in for the crate's `RouteNetlinkMessage`, whose emitter and
/// parser cover every rtnetlink family (traffic control, rules, neighbours, next hops...):
/// linked through that enum, they were about 100 KiB of code tinibox never runs (BENCHMARKS.md,
/// "rtnetlink: only the messages tinibox sends and reads").
#[derive(Debug)]
enum Request {
    GetLink(LinkMessage),
    NewLink(LinkMessage),
    SetLink(LinkMessage),
    DelLink(LinkMessage),
    NewAddress(AddressMessage),
    GetRoute(RouteMessage),
    NewRoute(RouteMessage),
}

impl NetlinkSerializable for Request {
    fn message_type(&self) -> u16 {
        match self {
            Request::GetLink(_) => libc::RTM_GETLINK,
            Request::NewLink(_) => libc::RTM_NEWLINK,
            Request::SetLink(_) => libc::RTM_SETLINK,
            Request::DelLink(_) => libc::RTM_DELLINK,
            Request::NewAddress(_) => libc::RTM_NEWADDR,
            Request::GetRoute(_) => libc::RTM_GETROUTE,
            Request::NewRoute(_) => libc::RTM_NEWROUTE,
        }
    }

    fn buffer_len(&self) -> usize {
        match self {
            Request::GetLink(m)
            | Request::NewLink(m)
            | Request::SetLink(m)
            | Request::DelLink(m) => m.buffer_len(),
            Request::NewAddress(m) => m.buffer_len(),
            Request::GetRoute(m) | Request::NewRoute(m) => m.buffer_len(),
        }
    }

    fn serialize(&self, buffer: &mut [u8]) {
        match self {
            Request::GetLink(m)
            | Request::NewLink(m)
            | Request::SetLink(m)
            | Request::DelLink(m) => m.emit(buffer),
            Request::NewAddress(m) => m.emit(buffer),
            Request::GetRoute(m) | Request::NewRoute(m) => m.emit(buffer),
        }
    }
}

/// What tinibox reads in the kernel's answers: a link's index and MTU (the `ifinfomsg` header
/// and the `IFLA_MTU` attribute; the other attributes are skipped unparsed, since
/// `LinkMessage`'s parser would link the parsers of every link kind), a route (netlink-packet-route's
/// `RouteMessage`), or a message of another type, ignored.
#[derive(Debug)]
enum Reply {
    Link { index: u32, mtu: Option<u32> },
    Route(RouteMessage),
    Other,
}

impl NetlinkDeserializable for Reply {
    type Error = DecodeError;

    fn deserialize(header: &NetlinkHeader, payload: &[u8]) -> Result<Self, DecodeError> {
        match header.message_type {
            libc::RTM_NEWLINK => {
                let link = LinkHeader::parse(payload)?;
                let attributes = payload.get(link.buffer_len()..).unwrap_or_default();
                let mut mtu = None;
                for nla in NlasIterator::new(attributes) {
                    let nla = nla?;
                    if nla.kind() == IFLA_MTU {
                        mtu = Some(parse_u32(nla.value())?);
                    }
                }
                Ok(Reply::Link {
                    index: link.index,
                    mtu,
                })
            }
            libc::RTM_NEWROUTE => Ok(Reply::Route(RouteMessage::parse(payload)?)),
            _ => Ok(Reply::Other),
        }
    }
}

/// An rtnetlink connection in one network namespace.
pub struct Rtnl {
    socket: Socket,
    seq: u32,
}

/// A route as far as overlap checks need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Destination network address.
    pub destination: Ipv4Addr,
    /// Prefix length (0 for the default route).
    pub prefix: u8,
    /// Output interface index (0 when none).
    pub oif: u32,
}

impl Rtnl {
    /// Opens a connection in the calling thread's network namespace.
    pub fn open() -> io::Result<Rtnl> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        receive_timeout(&socket)?;
        Ok(Rtnl { socket, seq: 0 })
    }

    /// Opens a connection in the network namespace `netns` (an open `/proc/PID/ns/net`): the
    /// calling thread enters it, makes the socket (which stays in that namespace) and returns
    /// to its own.
    pub fn open_in(netns: BorrowedFd<'_>) -> io::Result<Rtnl> {
        use nix::sched::{setns, CloneFlags};
        // The calling thread enters the namespace, makes the socket and comes back: no
        // thread to spawn (which cost up to tens of ms on a loaded host). If coming back
        // fails, the thread would stay in the container's namespace: that is fatal.
        let own = std::fs::File::open("/proc/thread-self/ns/net")?;
        setns(netns, CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
        let socket = Rtnl::open();
        if let Err(e) = setns(&own, CloneFlags::CLONE_NEWNET) {
            eprintln!("tinibox: returning to the host's network namespace: {e}");
            std::process::abort();
        }
        socket
    }

    /// Sends one request and collects the answers (a dump's messages, or nothing for an
    /// acknowledged change); a kernel error comes back as the `io::Error` of its errno.
    fn request(&mut self, message: Request, flags: u16) -> io::Result<Vec<Reply>> {
        self.seq += 1;
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = self.seq;
        let mut msg = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(message));
        msg.finalize();
        let mut buf = vec![0; msg.buffer_len()];
        msg.serialize(&mut buf);
        self.socket.send(&buf, 0)?;
        let mut out = Vec::new();
        loop {
            let (data, _) = self.socket.recv_from_full()?;
            let mut off = 0;
            while off < data.len() {
                let m = NetlinkMessage::<Reply>::deserialize(&data[off..])
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                let len = m.header.length as usize;
                if len == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "empty netlink message",
                    ));
                }
                off += (len + 3) & !3;
                if m.header.sequence_number != self.seq {
                    continue;
                }
                match m.payload {
                    NetlinkPayload::Done(_) => return Ok(out),
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(out),
                            Some(code) => Err(io::Error::from_raw_os_error(-code.get())),
                        }
                    }
                    NetlinkPayload::InnerMessage(inner) => {
                        out.push(inner);
                        if flags & NLM_F_DUMP != NLM_F_DUMP {
                            return Ok(out);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// The index of the link called `name`, if there is one.
    pub fn link_index(&mut self, name: &str) -> io::Result<Option<u32>> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        match self.request(Request::GetLink(m), 0) {
            Ok(v) => Ok(v.into_iter().find_map(|m| match m {
                Reply::Link { index, .. } => Some(index),
                _ => None,
            })),
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The index and MTU of link `name` in one request (None when there is no such link).
    pub fn link_index_mtu(&mut self, name: &str) -> io::Result<Option<(u32, Option<u32>)>> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        match self.request(Request::GetLink(m), 0) {
            Ok(v) => Ok(v.into_iter().find_map(|m| match m {
                Reply::Link { index, mtu } => Some((index, mtu)),
                _ => None,
            })),
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The MTU of link `index`.
    pub fn link_mtu(&mut self, index: u32) -> io::Result<Option<u32>> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        let v = self.request(Request::GetLink(m), 0)?;
        Ok(v.into_iter().find_map(|m| match m {
            Reply::Link { mtu, .. } => mtu,
            _ => None,
        }))
    }

    /// Creates a bridge `name` with `mtu` (EEXIST when it exists).
    pub fn add_bridge(&mut self, name: &str, mtu: u32) -> io::Result<()> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        m.attributes.push(LinkAttribute::Mtu(mtu));
        m.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Bridge,
            )]));
        self.request(Request::NewLink(m), NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK)
            .map(drop)
    }

    /// Creates a veth pair: `host` attached to bridge `controller`, its peer created directly
    /// in the network namespace `netns` under the name `peer` with the MAC address
    /// `peer_mac`; both with `mtu`, the host end already up (its `ifinfomsg` flags, as `ip
    /// link add … up`).
    pub fn add_veth(
        &mut self,
        host: &str,
        controller: u32,
        peer: &str,
        peer_mac: [u8; 6],
        netns: BorrowedFd<'_>,
        mtu: u32,
    ) -> io::Result<()> {
        let mut p = LinkMessage::default();
        p.attributes.push(LinkAttribute::IfName(peer.to_string()));
        p.attributes.push(LinkAttribute::Address(peer_mac.to_vec()));
        p.attributes.push(LinkAttribute::Mtu(mtu));
        p.attributes.push(LinkAttribute::NetNsFd(netns.as_raw_fd()));
        let mut m = LinkMessage::default();
        m.header.flags = LinkFlags::Up;
        m.header.change_mask = LinkFlags::Up;
        m.attributes.push(LinkAttribute::IfName(host.to_string()));
        m.attributes.push(LinkAttribute::Mtu(mtu));
        m.attributes.push(LinkAttribute::Controller(controller));
        m.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(p))),
        ]));
        self.request(Request::NewLink(m), NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK)
            .map(drop)
    }

    /// Sets link `index` up.
    pub fn set_up(&mut self, index: u32) -> io::Result<()> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        m.header.flags = LinkFlags::Up;
        m.header.change_mask = LinkFlags::Up;
        self.request(Request::SetLink(m), NLM_F_ACK).map(drop)
    }

    /// Deletes the link called `name`; Ok when it does not exist.
    pub fn delete_link(&mut self, name: &str) -> io::Result<()> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        match self.request(Request::DelLink(m), NLM_F_ACK) {
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(()),
            r => r.map(drop),
        }
    }

    /// Adds `address/prefix` to link `index` (EEXIST when it is there).
    pub fn add_address(&mut self, index: u32, address: Ipv4Addr, prefix: u8) -> io::Result<()> {
        let mut m = AddressMessage::default();
        m.header.family = AddressFamily::Inet;
        m.header.prefix_len = prefix;
        m.header.index = index;
        m.attributes
            .push(AddressAttribute::Local(std::net::IpAddr::V4(address)));
        m.attributes
            .push(AddressAttribute::Address(std::net::IpAddr::V4(address)));
        if prefix < 31 {
            let host_bits = u32::MAX.checked_shr(prefix as u32).unwrap_or(0);
            let broadcast = Ipv4Addr::from(u32::from(address) | host_bits);
            m.attributes.push(AddressAttribute::Broadcast(broadcast));
        }
        self.request(
            Request::NewAddress(m),
            NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
        )
        .map(drop)
    }

    /// Adds the IPv6 `address/prefix` to link `index` without duplicate address detection
    /// (`IFA_F_NODAD`, as Docker's bridge driver adds them: the address is usable at once, not
    /// tentative for a second; the IPAM record already keeps it unique on the bridge).
    pub fn add_address6(&mut self, index: u32, address: Ipv6Addr, prefix: u8) -> io::Result<()> {
        let mut m = AddressMessage::default();
        m.header.family = AddressFamily::Inet6;
        m.header.prefix_len = prefix;
        m.header.index = index;
        m.header.flags = AddressHeaderFlags::Nodad;
        m.attributes
            .push(AddressAttribute::Local(std::net::IpAddr::V6(address)));
        m.attributes
            .push(AddressAttribute::Address(std::net::IpAddr::V6(address)));
        m.attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad));
        self.request(
            Request::NewAddress(m),
            NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
        )
        .map(drop)
    }

    /// Adds the IPv6 default route through `gateway`.
    pub fn add_default_route6(&mut self, gateway: Ipv6Addr) -> io::Result<()> {
        let mut m = RouteMessage::default();
        m.header.address_family = AddressFamily::Inet6;
        m.header.table = libc::RT_TABLE_MAIN;
        m.header.protocol = RouteProtocol::Boot;
        m.header.scope = RouteScope::Universe;
        m.header.kind = RouteType::Unicast;
        m.attributes
            .push(RouteAttribute::Gateway(RouteAddress::Inet6(gateway)));
        self.request(Request::NewRoute(m), NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK)
            .map(drop)
    }

    /// The IPv6 routes of the main table with a prefix (destination, prefix length).
    pub fn routes6(&mut self) -> io::Result<Vec<(Ipv6Addr, u8)>> {
        let mut m = RouteMessage::default();
        m.header.address_family = AddressFamily::Inet6;
        let v = self.request(Request::GetRoute(m), NLM_F_DUMP)?;
        Ok(v.into_iter()
            .filter_map(|m| match m {
                Reply::Route(r) if r.header.table == libc::RT_TABLE_MAIN => {
                    let prefix = r.header.destination_prefix_length;
                    r.attributes.into_iter().find_map(|a| match a {
                        RouteAttribute::Destination(RouteAddress::Inet6(d)) => Some((d, prefix)),
                        _ => None,
                    })
                }
                _ => None,
            })
            .collect())
    }

    /// Adds the default route through `gateway`.
    pub fn add_default_route(&mut self, gateway: Ipv4Addr) -> io::Result<()> {
        let mut m = RouteMessage::default();
        m.header.address_family = AddressFamily::Inet;
        m.header.table = libc::RT_TABLE_MAIN;
        m.header.protocol = RouteProtocol::Boot;
        m.header.scope = RouteScope::Universe;
        m.header.kind = RouteType::Unicast;
        m.attributes
            .push(RouteAttribute::Gateway(RouteAddress::Inet(gateway)));
        self.request(Request::NewRoute(m), NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK)
            .map(drop)
    }

    /// The IPv4 routes of the main table.
    pub fn routes(&mut self) -> io::Result<Vec<Route>> {
        let mut m = RouteMessage::default();
        m.header.address_family = AddressFamily::Inet;
        let v = self.request(Request::GetRoute(m), NLM_F_DUMP)?;
        Ok(v.into_iter()
            .filter_map(|m| match m {
                Reply::Route(r) if r.header.table == libc::RT_TABLE_MAIN => {
                    let mut route = Route {
                        destination: Ipv4Addr::UNSPECIFIED,
                        prefix: r.header.destination_prefix_length,
                        oif: 0,
                    };
                    for a in r.attributes {
                        match a {
                            RouteAttribute::Destination(RouteAddress::Inet(d)) => {
                                route.destination = d
                            }
                            RouteAttribute::Oif(i) => route.oif = i,
                            _ => {}
                        }
                    }
                    Some(route)
                }
                _ => None,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `f` on a thread of its own in a new, empty network namespace (namespaces belong to
    /// the thread that unshares; the test's other threads stay where they are).
    fn in_new_netns<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        assert_eq!(nix::unistd::geteuid().as_raw(), 0, "this test needs root");
        std::thread::spawn(move || {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            f()
        })
        .join()
        .unwrap()
    }

    #[test]
    fn the_kernels_answers_give_a_links_index_and_mtu() {
        in_new_netns(|| {
            let mut rt = Rtnl::open().unwrap();
            // A new namespace has only lo: index 1, MTU 65536 (Linux since 3.6).
            assert_eq!(rt.link_index("lo").unwrap(), Some(1));
            assert_eq!(rt.link_index_mtu("lo").unwrap(), Some((1, Some(65536))));
            assert_eq!(rt.link_mtu(1).unwrap(), Some(65536));
            assert_eq!(rt.link_index("tbx-none0").unwrap(), None);
            assert_eq!(rt.link_index_mtu("tbx-none0").unwrap(), None);
        });
    }

    #[test]
    fn a_bridge_made_here_reads_back_with_its_mtu_and_route() {
        in_new_netns(|| {
            let mut rt = Rtnl::open().unwrap();
            rt.add_bridge("tbx-test0", 1400).unwrap();
            let e = rt.add_bridge("tbx-test0", 1400).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EEXIST));
            let (index, mtu) = rt.link_index_mtu("tbx-test0").unwrap().unwrap();
            assert!(index > 1);
            assert_eq!(mtu, Some(1400));
            rt.add_address(index, Ipv4Addr::new(10, 99, 7, 1), 24)
                .unwrap();
            rt.set_up(index).unwrap();
            let routes = rt.routes().unwrap();
            assert!(
                routes.contains(&Route {
                    destination: Ipv4Addr::new(10, 99, 7, 0),
                    prefix: 24,
                    oif: index,
                }),
                "{routes:?}"
            );
            rt.delete_link("tbx-test0").unwrap();
            assert_eq!(rt.link_index("tbx-test0").unwrap(), None);
            rt.delete_link("tbx-test0").unwrap();
        });
    }
}
