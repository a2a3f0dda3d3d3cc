//! tinibox's firewall rules: one nf_tables table, `ip tinibox`, whose chains are flushed and
//! refilled from the records in one atomic batch each time a container joins or leaves. The
//! table and its base chains stay (deleting and re-adding base chains unregisters and
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
//! The one exception to "nothing outside that table": when the host's `ip filter` table (the
//! one iptables-nft manages) has a base chain `FORWARD` whose policy is drop (Docker sets it
//! so; so do hardened hosts), no accept of ours could let forwarded traffic pass — a drop in
//! any base chain is final — so, as Docker inserts its jumps into FORWARD, tinibox inserts at
//! its head, per bridge, the accepts Docker gives `docker0` (see [`host_accepts`]): the
//! containers' own traffic, answers to it (conntrack state established or related), and new
//! connections to published ports only — each with the comment `tinibox`. Only expressions
//! iptables-nft reads back are used (`-i/-o BRIDGE`, `-d`, `-p`/`--dport`, and the conntrack
//! state as iptables' own x_tables match, not a native `ct state`, which makes `iptables -S`
//! and Docker's own iptables calls fail with "incompatible"). The rules follow the networks (gone with
//! `network rm`, and with the last network) and go when the policy is no longer drop; the
//! host's other rules and everything else it forwards are untouched (the isolation drops of
//! the `forward` chain above still apply). A host whose FORWARD chain lives in legacy
//! iptables (x_tables) is out of reach of nf_tables messages.
//!
//! Owns which rules exist; the encoding is [`super::nft`].

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::nft::{Batch, CmpOp, Expr, Hook, MetaKey, PayloadBase};
use super::ports::PortMapping;

/// The table's name (family `ip`).
pub const TABLE: &str = "tinibox";

/// What one bridge network contributes to the table.
pub struct NetworkRules<'a> {
    /// The bridge's name.
    pub bridge: &'a str,
    /// Its subnet.
    pub subnet: Ipv4Net,
    /// Each container's address and published ports.
    pub published: Vec<(Ipv4Addr, &'a [PortMapping])>,
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
    vec![
        Expr::Payload {
            dreg: R1,
            base: PayloadBase::Network,
            offset: 12,
            len: 4,
        },
        Expr::Mask {
            reg: R1,
            mask: net.netmask().octets().to_vec(),
        },
        Expr::Cmp {
            sreg: R1,
            op: CmpOp::Eq,
            data: net.network().octets().to_vec(),
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

/// `ip daddr ADDR`: the IPv4 destination address (bytes 16-19 of the IP header).
fn daddr_is(addr: Ipv4Addr) -> [Expr; 2] {
    [
        Expr::Payload {
            dreg: R1,
            base: PayloadBase::Network,
            offset: 16,
            len: 4,
        },
        Expr::Cmp {
            sreg: R1,
            op: CmpOp::Eq,
            data: addr.octets().to_vec(),
        },
    ]
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

/// The DNAT rule of one published port.
fn dnat(container: Ipv4Addr, p: &PortMapping) -> Vec<Expr> {
    let mut e = if p.host_ip.is_unspecified() {
        vec![
            Expr::FibDaddrType { dreg: R1 },
            Expr::Cmp {
                sreg: R1,
                op: CmpOp::Eq,
                data: 2u32.to_ne_bytes().to_vec(), // RTN_LOCAL, host order
            },
        ]
    } else {
        daddr_is(p.host_ip).to_vec()
    };
    e.extend(dport_is(p.protocol.number(), p.host_port));
    e.extend([
        Expr::Immediate {
            dreg: R1,
            data: container.octets().to_vec(),
        },
        Expr::Immediate {
            dreg: R2,
            data: p.container_port.to_be_bytes().to_vec(),
        },
        Expr::Dnat {
            addr_reg: R1,
            port_reg: R2,
        },
    ]);
    e
}

/// The comment of tinibox's rules in the host's FORWARD chain.
pub const TAG: &str = "tinibox";

/// The host's table and chain whose drop policy tinibox's accept rules answer.
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
fn host_accepts(n: &NetworkRules<'_>) -> Vec<Vec<Expr>> {
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
    for (ip, ports) in &n.published {
        for p in ports.iter() {
            let mut r = daddr_is(*ip).to_vec();
            r.extend(iif(CmpOp::Neq));
            r.extend(oifname(CmpOp::Eq, n.bridge));
            r.extend(dport_is(p.protocol.number(), p.container_port));
            r.push(Expr::Accept);
            rules.push(r);
        }
    }
    rules
}

/// Makes the host's `ip filter FORWARD` chain hold tinibox's accept rules for `networks` when
/// its policy is drop, and none otherwise (see the module doc). Without such a chain, or
/// when it cannot be read, there is nothing to do. `sum` keeps the digest of what was last
/// installed there, so an unchanged state costs two reads and no batch.
fn host_forward(networks: &[NetworkRules<'_>], sum: &std::path::Path) -> std::io::Result<()> {
    let Ok(Some(policy)) = super::nft::chain_policy(HOST_TABLE, HOST_CHAIN) else {
        return Ok(());
    };
    let ours = super::nft::tagged_rules(HOST_TABLE, HOST_CHAIN, TAG)?;
    let wanted: Vec<Vec<Expr>> = if policy == 0 {
        networks.iter().flat_map(host_accepts).collect()
    } else {
        Vec::new()
    };
    let mut plan = Batch::new();
    for r in &wanted {
        plan.insert_tagged_rule(HOST_TABLE, HOST_CHAIN, r, TAG);
    }
    let digest = plan.digest();
    let same = std::fs::read_to_string(sum).is_ok_and(|s| s.trim() == digest);
    if ours.len() == wanted.len() && (wanted.is_empty() || same) {
        return Ok(());
    }
    let mut b = Batch::new();
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

/// Makes the table hold exactly the rules of `networks` (deletes it when there are none), in
/// one atomic batch — skipped when the last batch installed (its digest in `sum`) was the
/// same and the table is there. Skipping matters: closing a netfilter socket after a batch
/// that deleted rules waits for nf_tables' deferred clean-up (an RCU grace period, 10-15 ms
/// on a loaded host), so a container without published ports, whose join and leave change
/// no rule, sends no batch at all.
pub fn install(networks: &[NetworkRules<'_>], sum: &std::path::Path) -> std::io::Result<()> {
    host_forward(networks, &sum.with_file_name("forward.sha256"))?;
    let mut b = Batch::new();
    b.add_table(TABLE);
    if networks.is_empty() {
        b.delete_table(TABLE);
    } else {
        b.add_chain(TABLE, "prerouting", "nat", Hook::Prerouting, -100);
        b.add_chain(TABLE, "output", "nat", Hook::Output, -100);
        b.add_chain(TABLE, "postrouting", "nat", Hook::Postrouting, 100);
        b.add_chain(TABLE, "forward", "filter", Hook::Forward, 0);
        for chain in ["prerouting", "output", "postrouting", "forward"] {
            b.flush_chain(TABLE, chain);
        }
        for a in networks {
            for other in networks.iter().filter(|o| o.bridge != a.bridge) {
                b.add_rule(TABLE, "forward", &isolate(a.bridge, other.bridge));
            }
        }
        for n in networks {
            for (ip, ports) in &n.published {
                for p in ports.iter() {
                    let rule = dnat(*ip, p);
                    b.add_rule(TABLE, "prerouting", &rule);
                    b.add_rule(TABLE, "output", &rule);
                }
            }
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
    let digest = b.digest();
    let same = std::fs::read_to_string(sum).is_ok_and(|s| s.trim() == digest);
    if same && (networks.is_empty() || super::nft::table_exists(TABLE)?) {
        return Ok(());
    }
    let _ = std::fs::remove_file(sum);
    b.commit()?;
    let _ = std::fs::write(sum, digest);
    Ok(())
}
