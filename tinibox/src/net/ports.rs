//! Published ports: `-p [IP:][HOSTPORT:]CONTAINERPORT[/tcp|/udp]` (IP an IPv4 address or an
//! IPv6 one in brackets, `[::1]`) and the image's ExposedPorts (`-P`, `80/tcp`) parsed into
//! [`PortRequest`]s, then made concrete ([`PortMapping`]) by picking a free host port where
//! none was given and checking that the host port is free (a test bind on the host address;
//! the kernel's DNAT does not bind it).
//!
//! A request without an address (`-p 8080:80`) publishes on every address of the host: as in
//! Docker, on `0.0.0.0` and, when the container has an IPv6 address, on `::` too — two
//! mappings with the same host port, which `port` lists as `0.0.0.0:8080` and `[::]:8080`.
//!
//! Pure parsing plus the one bind check ([`resolve`]); the rules that forward the ports are
//! [`super::rules`].

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};

use serde::{Deserialize, Serialize};

use super::NetError;

/// Transport protocol of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP (the default).
    Tcp,
    /// UDP.
    Udp,
}

impl Protocol {
    /// The IP protocol number (6, 17).
    pub fn number(self) -> u8 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        })
    }
}

/// A port to publish as the user asked for it; `host_port` None picks a free one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRequest {
    /// Host address to publish on: None for every address of the host (IPv4 and, for a
    /// container with an IPv6 address, IPv6); `0.0.0.0` for every IPv4 one, `::` for every
    /// IPv6 one.
    #[serde(default)]
    pub host_ip: Option<IpAddr>,
    /// Host port, or None for a free one.
    pub host_port: Option<u16>,
    /// Port inside the container.
    pub container_port: u16,
    /// Protocol.
    pub protocol: Protocol,
}

/// A published port as installed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    /// Host address (`0.0.0.0`, `::`: every IPv4, IPv6 address of the host).
    pub host_ip: IpAddr,
    /// Host port.
    pub host_port: u16,
    /// Port inside the container.
    pub container_port: u16,
    /// Protocol.
    pub protocol: Protocol,
}

impl PortMapping {
    /// Whether both would catch the same packets (same protocol and host port, and the same
    /// address or an unspecified one of the same family).
    pub fn clashes(&self, other: &PortMapping) -> bool {
        self.protocol == other.protocol
            && self.host_port == other.host_port
            && self.host_ip.is_ipv4() == other.host_ip.is_ipv4()
            && (self.host_ip == other.host_ip
                || self.host_ip.is_unspecified()
                || other.host_ip.is_unspecified())
    }

    /// The host side as Docker's CLI writes it: `0.0.0.0:8080`, `[::]:8080`.
    pub fn host_text(&self) -> String {
        SocketAddr::new(self.host_ip, self.host_port).to_string()
    }

    /// Whether connections to the host's IPv6 loopback address reach this port (`::` or
    /// `::1`): the kernel cannot route a packet from `::1` to a bridge (no `route_localnet`
    /// for IPv6), so those go through [`super::proxy`].
    pub fn on_ipv6_loopback(&self) -> bool {
        self.host_ip == IpAddr::V6(Ipv6Addr::UNSPECIFIED)
            || self.host_ip == IpAddr::V6(Ipv6Addr::LOCALHOST)
    }
}

impl fmt::Display for PortMapping {
    /// Docker's `tinibox port` line: `80/tcp -> 0.0.0.0:8080`, `80/tcp -> [::]:8080`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} -> {}",
            self.container_port,
            self.protocol,
            self.host_text()
        )
    }
}

fn bad(spec: &str, what: impl fmt::Display) -> NetError {
    NetError::Invalid(format!(
        "-p {spec:?}: {what} — use [IP:][HOSTPORT:]CONTAINERPORT[/tcp|/udp], e.g. -p 8080:80 or -p 127.0.0.1:5353:53/udp"
    ))
}

fn port(spec: &str, text: &str, which: &str) -> Result<u16, NetError> {
    if text.contains('-') {
        return Err(bad(spec, format!("port ranges ({text}) are not supported")));
    }
    match text.parse::<u32>() {
        Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
        Ok(n) => Err(bad(
            spec,
            format!("{which} port {n} is out of range 1-65535"),
        )),
        Err(_) => Err(bad(spec, format!("{which} port {text:?} is not a number"))),
    }
}

fn protocol(spec: &str, text: &str) -> Result<Protocol, NetError> {
    match text {
        "tcp" => Ok(Protocol::Tcp),
        "udp" => Ok(Protocol::Udp),
        other => Err(bad(spec, format!("protocol {other:?} is not tcp or udp"))),
    }
}

/// Parses one `-p` value.
pub fn parse_publish(spec: &str) -> Result<PortRequest, NetError> {
    let (addr, proto) = match spec.split_once('/') {
        Some((a, p)) => (a, protocol(spec, p)?),
        None => (spec, Protocol::Tcp),
    };
    // `[IPV6]:HOST:CONTAINER`: the brackets keep the address's colons apart.
    let (ip6, addr) = match addr.strip_prefix('[') {
        Some(rest) => {
            let (inner, after) = rest
                .split_once(']')
                .ok_or_else(|| bad(spec, "an IPv6 address needs its closing ']'"))?;
            let ip: Ipv6Addr = inner
                .parse()
                .map_err(|_| bad(spec, format!("{inner:?} is not an IPv6 address")))?;
            let after = after
                .strip_prefix(':')
                .ok_or_else(|| bad(spec, "the IPv6 address must be followed by ':HOSTPORT:'"))?;
            (Some(ip), after)
        }
        None => (None, addr),
    };
    let parts: Vec<&str> = addr.split(':').collect();
    let (ip, host, cont) = match (ip6, parts.as_slice()) {
        (None, [c]) => (None, None, *c),
        (None, [h, c]) => (None, Some(*h), *c),
        (None, [ip, h, c]) => (Some(*ip), (!h.is_empty()).then_some(*h), *c),
        (Some(_), [h, c]) => (None, (!h.is_empty()).then_some(*h), *c),
        _ => {
            return Err(bad(
                spec,
                "too many colons (write an IPv6 host address in brackets: [::1]:8080:80)",
            ))
        }
    };
    let host_ip = match (ip6, ip) {
        (Some(v6), _) => Some(IpAddr::V6(v6)),
        (None, None | Some("")) => None,
        (None, Some(ip)) => Some(IpAddr::V4(ip.parse::<Ipv4Addr>().map_err(|_| {
            bad(
                spec,
                format!("{ip:?} is not an IPv4 address (an IPv6 one goes in brackets)"),
            )
        })?)),
    };
    Ok(PortRequest {
        host_ip,
        host_port: host.map(|h| port(spec, h, "host")).transpose()?,
        container_port: port(spec, cont, "container")?,
        protocol: proto,
    })
}

/// Parses an image's ExposedPorts key (`80/tcp`, `53/udp`, `8080`) into a request for a free
/// host port (`-P`).
pub fn parse_exposed(key: &str) -> Result<PortRequest, NetError> {
    let mut r = parse_publish(key).map_err(|_| {
        NetError::Invalid(format!(
            "-P: the image exposes {key:?}, which is not PORT[/tcp|/udp] — publish its ports with -p instead"
        ))
    })?;
    r.host_port = None;
    Ok(r)
}

/// Checks that `ip:port` is free on the host by binding it for a moment.
fn try_bind(ip: IpAddr, port: u16, proto: Protocol) -> std::io::Result<u16> {
    let addr = SocketAddr::new(ip, port);
    match proto {
        Protocol::Tcp => TcpListener::bind(addr).and_then(|l| l.local_addr()),
        Protocol::Udp => UdpSocket::bind(addr).and_then(|s| s.local_addr()),
    }
    .map(|a| a.port())
}

/// The host addresses a request publishes on: its own, or `0.0.0.0` and (when the container
/// has an IPv6 address, `ipv6`) `::`. An IPv6 address for a container without one is an
/// error.
fn host_addresses(r: &PortRequest, ipv6: bool) -> Result<Vec<IpAddr>, NetError> {
    match r.host_ip {
        None if ipv6 => Ok(vec![
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        ]),
        None => Ok(vec![IpAddr::V4(Ipv4Addr::UNSPECIFIED)]),
        Some(IpAddr::V6(a)) if !ipv6 => Err(NetError::Invalid(format!(
            "-p [{a}]:…:{}/{}: the container has no IPv6 address — use a network made with `tinibox network create --ipv6`, or an IPv4 host address",
            r.container_port, r.protocol
        ))),
        Some(ip) => Ok(vec![ip]),
    }
}

/// Checks that `port` is free on every one of `ips`; returns the port (the kernel's choice
/// when `port` is 0, then checked on the other addresses too).
fn bind_all(ips: &[IpAddr], port: u16, proto: Protocol) -> std::io::Result<u16> {
    let mut port = port;
    for ip in ips {
        port = try_bind(*ip, port, proto)?;
    }
    Ok(port)
}

/// Makes the requests concrete: picks free host ports, refuses a host port that a process of
/// the host holds or that `taken` (other containers' ports) already uses. `ipv6`: the
/// container has an IPv6 address (a request without an address then publishes on `::` too).
pub fn resolve(
    requests: &[PortRequest],
    taken: &[PortMapping],
    ipv6: bool,
) -> Result<Vec<PortMapping>, NetError> {
    let mut out: Vec<PortMapping> = Vec::new();
    for r in requests {
        let ips = host_addresses(r, ipv6)?;
        let mut tries = 0;
        let shown = match r.host_ip {
            Some(IpAddr::V6(ip)) => format!("[{ip}]:"),
            Some(IpAddr::V4(ip)) => format!("{ip}:"),
            None => String::new(),
        };
        let mappings = loop {
            let got = bind_all(&ips, r.host_port.unwrap_or(0), r.protocol);
            let host_port = match (got, r.host_port) {
                (Ok(p), _) => p,
                (Err(e), Some(p)) => {
                    return Err(NetError::Invalid(format!(
                        "-p {shown}{p}:{}/{}: host port {p} is in use ({e}) — stop what holds it or pick another port",
                        r.container_port, r.protocol
                    )))
                }
                (Err(_), None) if tries < 20 => {
                    // A free IPv4 port that is taken on IPv6: try another.
                    tries += 1;
                    continue;
                }
                (Err(e), None) => {
                    return Err(NetError::System(format!(
                        "finding a free host port for {}/{}: {e}",
                        r.container_port, r.protocol
                    )))
                }
            };
            let ms: Vec<PortMapping> = ips
                .iter()
                .map(|ip| PortMapping {
                    host_ip: *ip,
                    host_port,
                    container_port: r.container_port,
                    protocol: r.protocol,
                })
                .collect();
            let clash = taken
                .iter()
                .chain(out.iter())
                .find(|t| ms.iter().any(|m| t.clashes(m)));
            match (clash, r.host_port) {
                (None, _) => break ms,
                (Some(_), None) if tries < 20 => tries += 1,
                (Some(c), _) => {
                    return Err(NetError::Invalid(format!(
                        "-p: host port {host_port}/{} is already published ({c}) — pick another port or remove that container",
                        r.protocol
                    )))
                }
            }
        };
        out.extend(mappings);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_forms() {
        let r = parse_publish("8080:80").unwrap();
        assert_eq!((r.host_port, r.container_port), (Some(8080), 80));
        assert_eq!(r.protocol, Protocol::Tcp);
        assert_eq!(r.host_ip, None);
        let r = parse_publish("127.0.0.1:5353:53/udp").unwrap();
        assert_eq!(r.host_ip, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        assert_eq!(r.protocol, Protocol::Udp);
        let r = parse_publish("80").unwrap();
        assert_eq!(r.host_port, None);
        let r = parse_publish("127.0.0.1::80").unwrap();
        assert_eq!(
            (r.host_ip, r.host_port),
            (Some(IpAddr::V4(Ipv4Addr::LOCALHOST)), None)
        );
        let r = parse_publish("[::1]:8080:80/udp").unwrap();
        assert_eq!(
            (r.host_ip, r.host_port, r.protocol),
            (
                Some(IpAddr::V6(Ipv6Addr::LOCALHOST)),
                Some(8080),
                Protocol::Udp
            )
        );
        let r = parse_publish("[::]::80").unwrap();
        assert_eq!(
            (r.host_ip, r.host_port),
            (Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED)), None)
        );
        let r = parse_publish("0.0.0.0:8080:80").unwrap();
        assert_eq!(r.host_ip, Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)));
    }

    #[test]
    fn stored_requests_of_older_versions_still_load() {
        let r: PortRequest = serde_json::from_str(
            r#"{"host_ip":"0.0.0.0","host_port":8080,"container_port":80,"protocol":"tcp"}"#,
        )
        .unwrap();
        assert_eq!(r.host_ip, Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)));
    }

    #[test]
    fn an_unaddressed_request_publishes_on_both_families_for_an_ipv6_container() {
        let r = parse_publish("80").unwrap();
        let both = resolve(std::slice::from_ref(&r), &[], true).unwrap();
        assert_eq!(both.len(), 2);
        assert_eq!(both[0].host_port, both[1].host_port);
        assert_eq!(both[1].host_text(), format!("[::]:{}", both[1].host_port));
        assert_eq!(resolve(&[r], &[], false).unwrap().len(), 1);
        let v6 = parse_publish("[::1]::80").unwrap();
        let e = resolve(&[v6], &[], false).unwrap_err().to_string();
        assert!(e.contains("no IPv6 address"), "{e}");
    }

    #[test]
    fn refuses_bad_specs_with_one_line() {
        for s in [
            "",
            "80:",
            "0:80",
            "70000:80",
            "x:80",
            "80/sctp",
            "1-2:80",
            "a:b:c:d",
            "1.2.3:80:80",
            "::1:80:80",
            "[::1:80:80",
            "[x]:80:80",
            "[::1]80:80",
            "[::1]:1:2:3",
        ] {
            let e = parse_publish(s).unwrap_err().to_string();
            assert!(e.starts_with("-p "), "{s}: {e}");
            assert!(!e.contains('\n'));
        }
    }

    #[test]
    fn clashes_on_the_same_port_and_address_family() {
        let a = PortMapping {
            host_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            host_port: 80,
            container_port: 80,
            protocol: Protocol::Tcp,
        };
        let mut b = a.clone();
        b.host_ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        assert!(a.clashes(&b));
        b.host_ip = IpAddr::V6(Ipv6Addr::LOCALHOST);
        assert!(!a.clashes(&b), "another family");
        let mut c = b.clone();
        c.host_ip = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
        assert!(b.clashes(&c));
        b.protocol = Protocol::Udp;
        assert!(!c.clashes(&b));
    }
}
