//! tinibox's firewall rules: the nf_tables table `ip tinibox` and, while a network has IPv6,
//! `ip6 tinibox`, whose chains are flushed and refilled from the records in one atomic batch
//! each time a container joins or leaves. The tables and their base chains stay (deleting and re-adding base chains unregisters and
//! registers netfilter hooks, which waits for RCU grace periods); the table goes only when no
//! network is left. Nothing outside that table is touched, so the host's own rules and Docker's
//! (iptables-nft's `ip nat`/`ip filter` tables, or legacy iptables) stay as they are.
//!
//! The table, as `nft list table ip tinibox` shows it:
//! - `prerouting` (nat, prerouting, -100) and `output` (nat, output, -100): per published
//!   port, `fib daddr type local` (or `ip daddr HOSTIP`) `meta l4proto P th dport HOSTPORT
//!   dnat to CONTAINERIP:PORT` — from other hosts and from the host itself, 127.0.0.1
//!   included (loopback works because the bridge has `route_localnet` on, see
//!   [`super::bridge`]);
//! - `postrouting` (nat, postrouting, 100): `ip saddr SUBNET oifname != BRIDGE masquerade`
//!   (outbound traffic) and `ip saddr 127.0.0.0/8 oifname BRIDGE masquerade` (the loopback
//!   path, whose source the container could not answer);
//! - `forward` (filter, forward, 0): `iifname A oifname B drop` for every two different
//!   bridges A and B — containers on different networks cannot reach each other (Docker's
//!   DOCKER-ISOLATION chains); a container on both is the way between them, as in Docker.
//!
//! `ip6 tinibox` has the same four chains for the networks with IPv6 (Docker's `ip6tables`
//! rules, on by default since Docker 27): `ip6 saddr SUBNET6 oifname != BRIDGE masquerade`,
//! the isolation drops between their bridges, and per port published on `::` or a host IPv6
//! address a DNAT to the container's IPv6 address — for `::` only `ip6 daddr != ::1`: the
//! kernel routes no packet from `::1` to a bridge (IPv6 has no `route_localnet`; `::1` is a
//! strict-interface address), so the loopback path is a proxy ([`super::proxy`]), as in
//! Docker, whose `docker-proxy` serves `[::1]` while its DNAT rules skip `::1`.
//!
//! The one exception to "nothing outside that table": when the host's `ip filter` table (the
//! one iptables-nft manages) has a base chain `FORWARD` whose policy is drop (Docker sets it
//! so; so do hardened hosts), no accept of ours could let forwarded traffic pass — a drop in
//! any base chain is final — so, as Docker inserts its jumps into FORWARD, tinibox inserts at
//! its head, per bridge, the accepts Docker gives `docker0` (see [`host_accepts`]): the
//! containers' own traffic, answers to it (conntrack state established or related), and new
//! connections to published ports only — each with the comment `tinibox`. Only expressions
//! iptables-nft reads back are used (`-i/-o BRIDGE`, `-d`, `-p`/`--dport`, and the conntrack
//! state as iptables' own x_tables match, not a native `ct state`, which makes `iptables -S`
//! and Docker's own iptables calls fail with "incompatible"). The same is done, for the
//! networks with IPv6, in `ip6 filter FORWARD` (ip6tables-nft's). The rules follow the networks (gone with
//! `network rm`, and with the last network) and go when the policy is no longer drop; the
//! host's other rules and everything else it forwards are untouched (the isolation drops of
//! the `forward` chain above still apply). A host whose FORWARD chain lives in legacy
//! iptables (x_tables) is out of reach of nf_tables messages.
//!
//! Owns which rules exist; the encoding is [`super::nft`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

use super::nft::{Batch, CmpOp, Expr, Family, Hook, MetaKey, PayloadBase};
use super::ports::PortMapping;

/// The tables' name (families `ip` and `ip6`).
pub const TABLE: &str = "tinibox";

/// One container's place in the rules: its addresses and published ports.
pub struct Published<'a> {
    /// Its IPv4 address.
    pub ip: Ipv4Addr,
    /// Its IPv6 address, on a network with IPv6.
    pub ip6: Option<Ipv6Addr>,
    /// Its published ports (IPv4 and IPv6 host addresses).
    pub ports: &'a [PortMapping],
}

/// What one bridge network contributes to the tables.
pub struct NetworkRules<'a> {
    /// The bridge's name.
    pub bridge: &'a str,
    /// Its subnet.
    pub subnet: Ipv4Net,
    /// Its IPv6 subnet, on a network with IPv6.
    pub subnet6: Option<Ipv6Net>,
    /// Its containers.
    pub published: Vec<Published<'a>>,
}

/// A container's address in `family` and its ports published on host addresses of that
/// family (`::1` aside: that one is the proxy's alone).
fn family_ports<'a>(
    p: &Published<'a>,
    family: Family,
) -> Option<(IpAddr, impl Iterator<Item = &'a PortMapping>)> {
    let addr = match family {
        Family::Ip => IpAddr::V4(p.ip),
        Family::Ip6 => IpAddr::V6(p.ip6?),
    };
    let ports = p.ports.iter().filter(move |m| {
        m.host_ip.is_ipv4() == (family == Family::Ip)
            && m.host_ip != IpAddr::V6(Ipv6Addr::LOCALHOST)
    });
    Some((addr, ports))
}

const R1: u32 = 1;
const R2: u32 = 2;

fn ifname(name: &str) -> Vec<u8> {
    let mut v = name.as_bytes().to_vec();
    v.resize(16, 0);
    v
}

/// `ip saddr NET` as expressions.
fn saddr_in(net: Ipv4Net) -> Vec<Expr> {
    masked(
        12,
        net.netmask().octets().to_vec(),
        net.network().octets().to_vec(),
    )
}

/// `ip6 saddr NET` as expressions (bytes 8-23 of the IPv6 header).
fn saddr6_in(net: Ipv6Net) -> Vec<Expr> {
    masked(
        8,
        net.netmask().octets().to_vec(),
        net.network().octets().to_vec(),
    )
}

/// The network-header bytes at `offset` (as many as `mask` has), masked, equal to `value`.
fn masked(offset: u32, mask: Vec<u8>, value: Vec<u8>) -> Vec<Expr> {
    vec![
        Expr::Payload {
            dreg: R1,
            base: PayloadBase::Network,
            offset,
            len: mask.len() as u32,
        },
        Expr::Mask { reg: R1, mask },
        Expr::Cmp {
            sreg: R1,
            op: CmpOp::Eq,
            data: value,
        },
    ]
}

fn oifname(op: CmpOp, name: &str) -> Vec<Expr> {
    vec![
        Expr::Meta {
            dreg: R1,
            key: MetaKey::OifName,
        },
        Expr::Cmp {
            sreg: R1,
            op,
            data: ifname(name),
        },
    ]
}

/// `iifname FROM oifname TO drop`: no forwarding from one bridge network to another.
fn isolate(from: &str, to: &str) -> Vec<Expr> {
    let mut e = vec![
        Expr::Meta {
            dreg: R1,
            key: MetaKey::IifName,
        },
        Expr::Cmp {
            sreg: R1,
            op: CmpOp::Eq,
            data: ifname(from),
        },
    ];
    e.extend(oifname(CmpOp::Eq, to));
    e.push(Expr::Drop);
    e
}

/// `ip daddr ADDR` (bytes 16-19 of the IPv4 header) or `ip6 daddr ADDR` (bytes 24-39 of
/// the IPv6 header), compared with `op`.
fn daddr_cmp(addr: IpAddr, op: CmpOp) -> [Expr; 2] {
    let (offset, data) = match addr {
        IpAddr::V4(a) => (16, a.octets().to_vec()),
        IpAddr::V6(a) => (24, a.octets().to_vec()),
    };
    [
        Expr::Payload {
            dreg: R1,
            base: PayloadBase::Network,
            offset,
            len: data.len() as u32,
        },
        Expr::Cmp { sreg: R1, op, data },
    ]
}

/// `ip daddr ADDR` / `ip6 daddr ADDR`.
fn daddr_is(addr: IpAddr) -> [Expr; 2] {
    daddr_cmp(addr, CmpOp::Eq)
}

/// `meta l4proto PROTOCOL th dport PORT`: the transport protocol (IP protocol number) and the
/// destination port (bytes 2-3 of the TCP or UDP header, network order).
fn dport_is(protocol: u8, port: u16) -> [Expr; 4] {
    [
        Expr::Meta {
            dreg: R1,
            key: MetaKey::L4Proto,
        },
        Expr::Cmp {
            sreg: R1,
            op: CmpOp::Eq,
            data: vec![protocol],
        },
        Expr::Payload {
            dreg: R1,
            base: PayloadBase::Transport,
            offset: 2,
            len: 2,
        },
        Expr::Cmp {
            sreg: R1,
            op: CmpOp::Eq,
            data: port.to_be_bytes().to_vec(),
        },
    ]
}

/// The DNAT rule of one published port to `container` (an address of the table's family);
/// on `::` it skips `::1` (see the module doc).
fn dnat(container: IpAddr, p: &PortMapping) -> Vec<Expr> {
    let mut e = if p.host_ip.is_unspecified() {
        let mut e = vec![
            Expr::FibDaddrType { dreg: R1 },
            Expr::Cmp {
                sreg: R1,
                op: CmpOp::Eq,
                data: 2u32.to_ne_bytes().to_vec(), // RTN_LOCAL, host order
            },
        ];
        if p.host_ip.is_ipv6() {
            e.extend(daddr_cmp(IpAddr::V6(Ipv6Addr::LOCALHOST), CmpOp::Neq));
        }
        e
    } else {
        daddr_is(p.host_ip).to_vec()
    };
    e.extend(dport_is(p.protocol.number(), p.host_port));
    let (family, data) = match container {
        IpAddr::V4(a) => (Family::Ip, a.octets().to_vec()),
        IpAddr::V6(a) => (Family::Ip6, a.octets().to_vec()),
    };
    e.extend([
        Expr::Immediate { dreg: R1, data },
        Expr::Immediate {
            dreg: R2,
            data: p.container_port.to_be_bytes().to_vec(),
        },
        Expr::Dnat {
            family,
            addr_reg: R1,
            port_reg: R2,
        },
    ]);
    e
}

/// The comment of tinibox's rules in the host's FORWARD chain.
pub const TAG: &str = "tinibox";

/// The host's table (of each family) and chain whose drop policy tinibox's accept rules
/// answer.
const HOST_TABLE: &str = "filter";
const HOST_CHAIN: &str = "FORWARD";

/// The accept rules of one bridge network for a host FORWARD chain whose policy is drop, the
/// ones Docker puts in FORWARD (and its DOCKER chain) for `docker0`:
/// - `iifname BRIDGE accept` (`-i docker0 -j ACCEPT`): the containers' own traffic, out and
///   to each other;
/// - `oifname BRIDGE ct state related,established accept` (`-o docker0 -m conntrack
///   --ctstate RELATED,ESTABLISHED -j ACCEPT`): answers to it;
/// - per published port, `ip daddr CONTAINER iifname != BRIDGE oifname BRIDGE meta l4proto P
///   th dport CONTAINERPORT accept` (`-d CONTAINER/32 ! -i docker0 -o docker0 -p P -m P
///   --dport PORT -j ACCEPT`): the DNAT'd connections to it.
///
/// A new connection from elsewhere to a container's other ports is dropped, as in Docker.
/// `family` picks the container addresses and ports (`ip6`: the network's IPv6 ones).
fn host_accepts(n: &NetworkRules<'_>, family: Family) -> Vec<Vec<Expr>> {
    let iif = |op: CmpOp| {
        vec![
            Expr::Meta {
                dreg: R1,
                key: MetaKey::IifName,
            },
            Expr::Cmp {
                sreg: R1,
                op,
                data: ifname(n.bridge),
            },
        ]
    };
    let mut out_going = iif(CmpOp::Eq);
    out_going.push(Expr::Accept);
    let mut answers = oifname(CmpOp::Eq, n.bridge);
    answers.extend([Expr::CtEstablishedRelated, Expr::Accept]);
    let mut rules = vec![out_going, answers];
    for c in &n.published {
        let Some((ip, ports)) = family_ports(c, family) else {
            continue;
        };
        for p in ports {
            let mut r = daddr_is(ip).to_vec();
            r.extend(iif(CmpOp::Neq));
            r.extend(oifname(CmpOp::Eq, n.bridge));
            r.extend(dport_is(p.protocol.number(), p.container_port));
            r.push(Expr::Accept);
            rules.push(r);
        }
    }
    rules
}

/// Makes the host's `ip filter FORWARD` (or `ip6 filter FORWARD`) chain hold tinibox's
/// accept rules for `networks` when its policy is drop, and none otherwise (see the module
/// doc). Without such a chain, or when it cannot be read, there is nothing to do. `sum` keeps
/// the digest of what was last installed there, so an unchanged state costs two reads and no
/// batch.
fn host_forward(
    family: Family,
    networks: &[NetworkRules<'_>],
    sum: &std::path::Path,
) -> std::io::Result<()> {
    let Ok(Some(policy)) = super::nft::chain_policy(family, HOST_TABLE, HOST_CHAIN) else {
        return Ok(());
    };
    let ours = super::nft::tagged_rules(family, HOST_TABLE, HOST_CHAIN, TAG)?;
    let wanted: Vec<Vec<Expr>> = if policy == 0 {
        networks
            .iter()
            .filter(|n| family == Family::Ip || n.subnet6.is_some())
            .flat_map(|n| host_accepts(n, family))
            .collect()
    } else {
        Vec::new()
    };
    let mut plan = Batch::new();
    plan.set_family(family);
    for r in &wanted {
        plan.insert_tagged_rule(HOST_TABLE, HOST_CHAIN, r, TAG);
    }
    let digest = plan.digest();
    let same = std::fs::read_to_string(sum).is_ok_and(|s| s.trim() == digest);
    if ours.len() == wanted.len() && (wanted.is_empty() || same) {
        return Ok(());
    }
    let mut b = Batch::new();
    b.set_family(family);
    for h in ours {
        b.delete_rule(HOST_TABLE, HOST_CHAIN, h);
    }
    for r in &wanted {
        b.insert_tagged_rule(HOST_TABLE, HOST_CHAIN, r, TAG);
    }
    let _ = std::fs::remove_file(sum);
    b.commit()?;
    let _ = std::fs::write(sum, digest);
    Ok(())
}

/// The four base chains of a table (the current family of `b`), flushed.
fn base_chains(b: &mut Batch) {
    b.add_chain(TABLE, "prerouting", "nat", Hook::Prerouting, -100);
    b.add_chain(TABLE, "output", "nat", Hook::Output, -100);
    b.add_chain(TABLE, "postrouting", "nat", Hook::Postrouting, 100);
    b.add_chain(TABLE, "forward", "filter", Hook::Forward, 0);
    for chain in ["prerouting", "output", "postrouting", "forward"] {
        b.flush_chain(TABLE, chain);
    }
}

/// The isolation drops between every two different bridges of `networks`.
fn isolation(b: &mut Batch, networks: &[&NetworkRules<'_>]) {
    for a in networks {
        for other in networks.iter().filter(|o| o.bridge != a.bridge) {
            b.add_rule(TABLE, "forward", &isolate(a.bridge, other.bridge));
        }
    }
}

/// The DNAT rules of `n`'s published ports of `family`.
fn dnats(b: &mut Batch, n: &NetworkRules<'_>, family: Family) {
    for c in &n.published {
        let Some((ip, ports)) = family_ports(c, family) else {
            continue;
        };
        for p in ports {
            let rule = dnat(ip, p);
            b.add_rule(TABLE, "prerouting", &rule);
            b.add_rule(TABLE, "output", &rule);
        }
    }
}

/// Makes the tables hold exactly the rules of `networks` (deletes `ip tinibox` when there are
/// none, `ip6 tinibox` when none has IPv6), in one atomic batch — skipped when the last batch
/// installed (its digest in `sum`) was the same and the tables are there. Skipping matters:
/// closing a netfilter socket after a batch that deleted rules waits for nf_tables' deferred
/// clean-up (an RCU grace period, 10-15 ms on a loaded host), so a container without
/// published ports, whose join and leave change no rule, sends no batch at all. The `ip6`
/// table is not touched at all on a host that never had a network with IPv6 (a file beside
/// `sum` marks that it may exist), so a kernel without IPv6 nf_tables runs IPv4 networks.
pub fn install(networks: &[NetworkRules<'_>], sum: &std::path::Path) -> std::io::Result<()> {
    host_forward(Family::Ip, networks, &sum.with_file_name("forward.sha256"))?;
    let v6: Vec<&NetworkRules<'_>> = networks.iter().filter(|n| n.subnet6.is_some()).collect();
    let mark = sum.with_file_name("ip6-table");
    let had6 = mark.exists();
    if !v6.is_empty() || had6 {
        host_forward(
            Family::Ip6,
            networks,
            &sum.with_file_name("forward6.sha256"),
        )?;
    }
    let mut b = Batch::new();
    b.add_table(TABLE);
    if networks.is_empty() {
        b.delete_table(TABLE);
    } else {
        base_chains(&mut b);
        let all: Vec<&NetworkRules<'_>> = networks.iter().collect();
        isolation(&mut b, &all);
        for n in networks {
            dnats(&mut b, n, Family::Ip);
            let mut out = saddr_in(n.subnet);
            out.extend(oifname(CmpOp::Neq, n.bridge));
            out.push(Expr::Masquerade);
            b.add_rule(TABLE, "postrouting", &out);
            let loopback = Ipv4Net::new(Ipv4Addr::new(127, 0, 0, 0), 8).unwrap_or_default();
            let mut lo = saddr_in(loopback);
            lo.extend(oifname(CmpOp::Eq, n.bridge));
            lo.push(Expr::Masquerade);
            b.add_rule(TABLE, "postrouting", &lo);
        }
    }
    if !v6.is_empty() || had6 {
        b.set_family(Family::Ip6);
        b.add_table(TABLE);
        if v6.is_empty() {
            b.delete_table(TABLE);
        } else {
            base_chains(&mut b);
            isolation(&mut b, &v6);
            for n in &v6 {
                dnats(&mut b, n, Family::Ip6);
                if let Some(subnet6) = n.subnet6 {
                    let mut out = saddr6_in(subnet6);
                    out.extend(oifname(CmpOp::Neq, n.bridge));
                    out.push(Expr::Masquerade);
                    b.add_rule(TABLE, "postrouting", &out);
                }
            }
        }
    }
    let digest = b.digest();
    let same = std::fs::read_to_string(sum).is_ok_and(|s| s.trim() == digest);
    if same
        && (networks.is_empty() || super::nft::table_exists(Family::Ip, TABLE)?)
        && (v6.is_empty() || super::nft::table_exists(Family::Ip6, TABLE)?)
    {
        return Ok(());
    }
    let _ = std::fs::remove_file(sum);
    if !v6.is_empty() {
        std::fs::write(&mark, "")?;
    }
    b.commit()?;
    if v6.is_empty() && had6 {
        let _ = std::fs::remove_file(&mark);
    }
    let _ = std::fs::write(sum, digest);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::ports::Protocol;

    fn mapping(host: &str) -> PortMapping {
        PortMapping {
            host_ip: host.parse().unwrap(),
            host_port: 8080,
            container_port: 80,
            protocol: Protocol::Tcp,
        }
    }

    #[test]
    fn each_family_gets_its_own_ports_and_ipv6_loopback_none() {
        let ports = [
            mapping("0.0.0.0"),
            mapping("::"),
            mapping("::1"),
            mapping("fd00::2"),
        ];
        let c = Published {
            ip: Ipv4Addr::new(10, 89, 0, 2),
            ip6: Some("fd42::2".parse().unwrap()),
            ports: &ports,
        };
        let (a4, p4) = family_ports(&c, Family::Ip).unwrap();
        assert_eq!(a4, IpAddr::V4(c.ip));
        assert_eq!(p4.count(), 1);
        let (a6, p6) = family_ports(&c, Family::Ip6).unwrap();
        assert_eq!(a6.to_string(), "fd42::2");
        let hosts: Vec<String> = p6.map(|m| m.host_ip.to_string()).collect();
        assert_eq!(hosts, vec!["::", "fd00::2"]);
        let v4only = Published { ip6: None, ..c };
        assert!(family_ports(&v4only, Family::Ip6).is_none());
    }

    #[test]
    fn an_ipv6_dnat_skips_loopback_and_uses_the_ipv6_header() {
        let rule = dnat("fd42::2".parse().unwrap(), &mapping("::"));
        assert!(rule.contains(&Expr::Cmp {
            sreg: R1,
            op: CmpOp::Neq,
            data: Ipv6Addr::LOCALHOST.octets().to_vec(),
        }));
        assert!(rule.contains(&Expr::Payload {
            dreg: R1,
            base: PayloadBase::Network,
            offset: 24,
            len: 16,
        }));
        assert!(matches!(
            rule.last(),
            Some(Expr::Dnat {
                family: Family::Ip6,
                ..
            })
        ));
        let v4 = dnat("10.89.0.2".parse().unwrap(), &mapping("0.0.0.0"));
        assert_eq!(
            v4.len(),
            2 + 4 + 3,
            "fib, l4proto+dport, immediates and nat"
        );
    }
}
