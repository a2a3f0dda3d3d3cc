//! Published ports: `-p [IP:][HOSTPORT:]CONTAINERPORT[/tcp|/udp]` and the image's
//! ExposedPorts (`-P`, `80/tcp`) parsed into [`PortRequest`]s, then made concrete
//! ([`PortMapping`]) by picking a free host port where none was given and checking that the
//! host port is free (a test bind on the host address; the kernel's DNAT does not bind it).
//!
//! Pure parsing plus the one bind check ([`resolve`]); the rules that forward the ports are
//! [`super::rules`].

use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, UdpSocket};

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
    /// Host address to publish on (0.0.0.0: every address of the host).
    pub host_ip: Ipv4Addr,
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
    /// Host address (0.0.0.0: every address of the host).
    pub host_ip: Ipv4Addr,
    /// Host port.
    pub host_port: u16,
    /// Port inside the container.
    pub container_port: u16,
    /// Protocol.
    pub protocol: Protocol,
}

impl PortMapping {
    /// Whether both would catch the same packets.
    pub fn clashes(&self, other: &PortMapping) -> bool {
        self.protocol == other.protocol
            && self.host_port == other.host_port
            && (self.host_ip == other.host_ip
                || self.host_ip.is_unspecified()
                || other.host_ip.is_unspecified())
    }
}

impl fmt::Display for PortMapping {
    /// Docker's `tinibox port` line: `80/tcp -> 0.0.0.0:8080`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} -> {}:{}",
            self.container_port, self.protocol, self.host_ip, self.host_port
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
    let parts: Vec<&str> = addr.split(':').collect();
    let (ip, host, cont) = match parts.as_slice() {
        [c] => (None, None, *c),
        [h, c] => (None, Some(*h), *c),
        [ip, h, c] => (Some(*ip), (!h.is_empty()).then_some(*h), *c),
        _ => {
            return Err(bad(
                spec,
                "too many colons (IPv6 host addresses are not supported)",
            ))
        }
    };
    let host_ip = match ip {
        None | Some("") => Ipv4Addr::UNSPECIFIED,
        Some(ip) => ip
            .parse()
            .map_err(|_| bad(spec, format!("{ip:?} is not an IPv4 address")))?,
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
fn try_bind(ip: Ipv4Addr, port: u16, proto: Protocol) -> std::io::Result<u16> {
    let addr = SocketAddrV4::new(ip, port);
    match proto {
        Protocol::Tcp => TcpListener::bind(addr).and_then(|l| l.local_addr()),
        Protocol::Udp => UdpSocket::bind(addr).and_then(|s| s.local_addr()),
    }
    .map(|a| a.port())
}

/// Makes the requests concrete: picks free host ports, refuses a host port that a process of
/// the host holds or that `taken` (other containers' ports) already uses.
pub fn resolve(
    requests: &[PortRequest],
    taken: &[PortMapping],
) -> Result<Vec<PortMapping>, NetError> {
    let mut out: Vec<PortMapping> = Vec::new();
    for r in requests {
        let mut tries = 0;
        let mapping = loop {
            let got = try_bind(r.host_ip, r.host_port.unwrap_or(0), r.protocol);
            let host_port = match (got, r.host_port) {
                (Ok(p), _) => p,
                (Err(e), Some(p)) => {
                    return Err(NetError::Invalid(format!(
                        "-p {}:{}:{}/{}: host port {p} is in use ({e}) — stop what holds it or pick another port",
                        r.host_ip, p, r.container_port, r.protocol
                    )))
                }
                (Err(e), None) => {
                    return Err(NetError::System(format!(
                        "finding a free host port for {}/{}: {e}",
                        r.container_port, r.protocol
                    )))
                }
            };
            let m = PortMapping {
                host_ip: r.host_ip,
                host_port,
                container_port: r.container_port,
                protocol: r.protocol,
            };
            let clash = taken.iter().chain(out.iter()).find(|t| t.clashes(&m));
            match (clash, r.host_port) {
                (None, _) => break m,
                (Some(_), None) if tries < 20 => tries += 1,
                (Some(c), _) => {
                    return Err(NetError::Invalid(format!(
                        "-p: host port {}/{} is already published ({c}) — pick another port or remove that container",
                        m.host_port, m.protocol
                    )))
                }
            }
        };
        out.push(mapping);
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
        let r = parse_publish("127.0.0.1:5353:53/udp").unwrap();
        assert_eq!(r.host_ip, Ipv4Addr::LOCALHOST);
        assert_eq!(r.protocol, Protocol::Udp);
        let r = parse_publish("80").unwrap();
        assert_eq!(r.host_port, None);
        let r = parse_publish("127.0.0.1::80").unwrap();
        assert_eq!((r.host_ip, r.host_port), (Ipv4Addr::LOCALHOST, None));
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
        ] {
            let e = parse_publish(s).unwrap_err().to_string();
            assert!(e.starts_with("-p "), "{s}: {e}");
            assert!(!e.contains('\n'));
        }
    }

    #[test]
    fn clashes_on_the_same_port_and_address_family() {
        let a = PortMapping {
            host_ip: Ipv4Addr::UNSPECIFIED,
            host_port: 80,
            container_port: 80,
            protocol: Protocol::Tcp,
        };
        let mut b = a.clone();
        b.host_ip = Ipv4Addr::LOCALHOST;
        assert!(a.clashes(&b));
        b.protocol = Protocol::Udp;
        assert!(!a.clashes(&b));
    }
}
