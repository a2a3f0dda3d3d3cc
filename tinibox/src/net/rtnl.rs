//! Links, addresses and routes through rtnetlink (`NETLINK_ROUTE`), with the message types of
//! netlink-packet-route and a blocking netlink-sys socket (as netavark does): look links up,
//! make a bridge, make a veth pair whose peer lands in a container's network namespace as
//! `eth0`, set links up, add addresses and a default route, read the uplink's MTU and the
//! routes that a new subnet must not overlap.
//!
//! Requests and answers go through two narrow types, [`Request`] (the crate's link, address and
//! route messages under their `RTM_*` types) and [`Reply`] (a link's index and MTU, or a route),
//! instead of the crate's `RouteNetlinkMessage`, whose emitter and parsers of every rtnetlink
//! family cost the static binary 294,912 B (BENCHMARKS.md, "The standard library built for size,
//! and rtnetlink narrowed"). The bytes on the wire are the crate's either way.
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

/// The requests tinibox sends: netlink-packet-route's messages under their `RTM_*` types
/// (linux/rtnetlink.h), in place of the crate's `RouteNetlinkMessage` (see the module doc).
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
/// and the `IFLA_MTU` attribute, linux/if_link.h; the other attributes are skipped unparsed,
/// since `LinkMessage`'s parser would link the parsers of every link kind), a route
/// (netlink-packet-route's `RouteMessage`), or a message of another type, ignored.
/// netlink-packet-core answers `NLMSG_DONE`, `NLMSG_ERROR`, `NLMSG_NOOP` and `NLMSG_OVERRUN`
/// before this type is asked.
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
                    if nla.kind() == libc::IFLA_MTU {
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
        Ok(self.link_index_mtu(name)?.map(|(index, _)| index))
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

    /// What iproute2's `ip ARGS` prints (run from the calling thread, so in its namespace).
    fn ip(args: &[&str]) -> String {
        let out = std::process::Command::new("ip")
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "ip {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

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

    /// `inner` as the kernel would send it, in a netlink message of sequence 7, emitted by the
    /// crate's full `RouteNetlinkMessage` (still a dependency: only this test links it).
    fn wire(inner: netlink_packet_route::RouteNetlinkMessage) -> Vec<u8> {
        let mut header = NetlinkHeader::default();
        header.sequence_number = 7;
        let mut msg = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(inner));
        msg.finalize();
        let mut buf = vec![0; msg.buffer_len()];
        msg.serialize(&mut buf);
        buf
    }

    #[test]
    fn a_link_answer_gives_its_index_and_mtu_whatever_else_it_carries() {
        use netlink_packet_route::RouteNetlinkMessage as Full;
        let mut link = LinkMessage::default();
        link.header.index = 42;
        link.attributes.push(LinkAttribute::IfName("tbx0".into()));
        link.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Bridge,
            )]));
        link.attributes.push(LinkAttribute::Mtu(1450));
        link.attributes.push(LinkAttribute::TxQueueLen(1000));
        let m = NetlinkMessage::<Reply>::deserialize(&wire(Full::NewLink(link.clone()))).unwrap();
        match m.payload {
            NetlinkPayload::InnerMessage(Reply::Link { index, mtu }) => {
                assert_eq!((index, mtu), (42, Some(1450)))
            }
            other => panic!("{other:?}"),
        }
        // Without IFLA_MTU: the index, no MTU.
        link.attributes
            .retain(|a| !matches!(a, LinkAttribute::Mtu(_)));
        let m = NetlinkMessage::<Reply>::deserialize(&wire(Full::NewLink(link))).unwrap();
        assert!(matches!(
            m.payload,
            NetlinkPayload::InnerMessage(Reply::Link {
                index: 42,
                mtu: None
            })
        ));
    }

    #[test]
    fn a_route_answer_parses_and_other_types_are_ignored() {
        use netlink_packet_route::RouteNetlinkMessage as Full;
        let mut route = RouteMessage::default();
        route.header.address_family = AddressFamily::Inet;
        route.header.destination_prefix_length = 16;
        route.header.table = libc::RT_TABLE_MAIN;
        route
            .attributes
            .push(RouteAttribute::Destination(RouteAddress::Inet(
                Ipv4Addr::new(172, 17, 0, 0),
            )));
        route.attributes.push(RouteAttribute::Oif(3));
        let m = NetlinkMessage::<Reply>::deserialize(&wire(Full::NewRoute(route.clone()))).unwrap();
        match m.payload {
            NetlinkPayload::InnerMessage(Reply::Route(r)) => assert_eq!(r, route),
            other => panic!("{other:?}"),
        }
        let m = NetlinkMessage::<Reply>::deserialize(&wire(Full::NewAddress(
            AddressMessage::default(),
        )))
        .unwrap();
        assert!(matches!(
            m.payload,
            NetlinkPayload::InnerMessage(Reply::Other)
        ));
    }

    #[test]
    fn a_truncated_link_answer_is_an_error_not_a_panic() {
        use netlink_packet_route::RouteNetlinkMessage as Full;
        let mut link = LinkMessage::default();
        link.attributes.push(LinkAttribute::Mtu(1500));
        let whole = wire(Full::NewLink(link));
        // Every cut of the payload, with the netlink header's length made to match: the
        // header (16 B), the ifinfomsg (16 B), then the attribute cut anywhere.
        for len in 16..whole.len() {
            let mut cut = whole[..len].to_vec();
            cut[..4].copy_from_slice(&(len as u32).to_ne_bytes());
            match NetlinkMessage::<Reply>::deserialize(&cut) {
                Err(_) => {}
                Ok(m) => assert!(
                    matches!(
                        m.payload,
                        NetlinkPayload::InnerMessage(Reply::Link { mtu: None, .. })
                    ),
                    "cut at {len}: {m:?}"
                ),
            }
        }
        // The whole message still parses.
        let m = NetlinkMessage::<Reply>::deserialize(&whole).unwrap();
        assert!(matches!(
            m.payload,
            NetlinkPayload::InnerMessage(Reply::Link {
                mtu: Some(1500),
                ..
            })
        ));
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

    #[test]
    fn a_veth_pair_ipv6_and_default_routes_as_the_bridge_makes_them() {
        in_new_netns(|| {
            let mut rt = Rtnl::open().unwrap();
            rt.add_bridge("tbx-br0", 1500).unwrap();
            let bridge = rt.link_index("tbx-br0").unwrap().unwrap();
            rt.set_up(bridge).unwrap();
            // The peer goes into a namespace given by fd: here this thread's own.
            let own = std::fs::File::open("/proc/thread-self/ns/net").unwrap();
            let mac = [0x02, 0x42, 0xac, 0x11, 0x00, 0x02];
            use std::os::fd::AsFd;
            rt.add_veth("tbx-veth0", bridge, "tbx-peer0", mac, own.as_fd(), 1480)
                .unwrap();
            let (peer, mtu) = rt.link_index_mtu("tbx-peer0").unwrap().unwrap();
            assert_eq!(mtu, Some(1480));
            assert_eq!(
                rt.link_index_mtu("tbx-veth0").unwrap().map(|(_, m)| m),
                Some(Some(1480))
            );
            // iproute2, forked from this thread, runs in its namespace.
            let shown = ip(&["-o", "link", "show", "tbx-peer0"]);
            assert!(shown.contains("link/ether 02:42:ac:11:00:02"), "{shown}");
            assert!(shown.contains("mtu 1480"), "{shown}");
            rt.set_up(peer).unwrap();
            rt.add_address(peer, Ipv4Addr::new(10, 98, 0, 2), 24)
                .unwrap();
            rt.add_default_route(Ipv4Addr::new(10, 98, 0, 1)).unwrap();
            let routes = rt.routes().unwrap();
            assert!(
                routes.iter().any(|r| r.prefix == 0 && r.oif == peer),
                "{routes:?}"
            );
            let v6: Ipv6Addr = "fd00:98::2".parse().unwrap();
            rt.add_address6(peer, v6, 64).unwrap();
            rt.add_default_route6("fd00:98::1".parse().unwrap())
                .unwrap();
            let routes6 = rt.routes6().unwrap();
            assert!(
                routes6.contains(&("fd00:98::".parse().unwrap(), 64)),
                "{routes6:?}"
            );
            // routes6 lists destinations only; iproute2 shows the IPv6 default route.
            let shown = ip(&["-6", "route", "show", "default"]);
            assert!(shown.contains("via fd00:98::1 dev tbx-peer0"), "{shown}");
            rt.delete_link("tbx-veth0").unwrap();
            assert_eq!(rt.link_index("tbx-peer0").unwrap(), None);
            rt.delete_link("tbx-br0").unwrap();
        });
    }
}
