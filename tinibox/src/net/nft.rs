//! nf_tables over netlink (`NETLINK_NETFILTER`, subsystem `NFNL_SUBSYS_NFTABLES`): the few
//! messages tinibox sends — create/delete a table, create a base chain, add a rule made of
//! expressions — framed in one batch (`NFNL_MSG_BATCH_BEGIN` … `NFNL_MSG_BATCH_END`) so the
//! kernel applies all of it or none of it.
//!
//! Encoding from the kernel's uapi header `linux/netfilter/nf_tables.h` and `nfnetlink.h`:
//! every message is `nlmsghdr` + `nfgenmsg` + attributes; integers inside nf_tables
//! attributes are big-endian. Own code because no permissively licensed Rust crate encodes
//! nf_tables (rustables is GPL-3.0, nftnl binds the GPL libnftnl, netlink-packet-netfilter
//! covers nflog and conntrack only); the socket itself is netlink-sys's.
//!
//! Owns the wire format only; which rules exist is [`super::rules`].

use std::io;

use netlink_sys::{protocols::NETLINK_NETFILTER, Socket, SocketAddr};

const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
const NFNL_MSG_BATCH_END: u16 = 0x11;
const NFT_MSG_NEWTABLE: u16 = 0;
const NFT_MSG_GETTABLE: u16 = 1;
const NFT_MSG_DELTABLE: u16 = 2;
const NFT_MSG_NEWCHAIN: u16 = 3;
const NFT_MSG_GETCHAIN: u16 = 4;
const NFT_MSG_NEWRULE: u16 = 6;
const NFT_MSG_GETRULE: u16 = 7;
const NFT_MSG_DELRULE: u16 = 8;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_DONE: u16 = 0x3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_APPEND: u16 = 0x800;
const NLM_F_CREATE: u16 = 0x400;
const NLMSG_ERROR: u16 = 0x2;
const NLA_F_NESTED: u16 = 0x8000;
/// `NFPROTO_IPV4`: the `ip` family.
pub const NFPROTO_IPV4: u8 = 2;
/// `NFPROTO_IPV6`: the `ip6` family.
pub const NFPROTO_IPV6: u8 = 10;

/// The address family of a table (and of a NAT expression's addresses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `ip` (NFPROTO_IPV4).
    Ip,
    /// `ip6` (NFPROTO_IPV6).
    Ip6,
}

impl Family {
    /// The `NFPROTO_*` number.
    pub fn number(self) -> u8 {
        match self {
            Family::Ip => NFPROTO_IPV4,
            Family::Ip6 => NFPROTO_IPV6,
        }
    }

    /// The name `nft` uses.
    pub fn name(self) -> &'static str {
        match self {
            Family::Ip => "ip",
            Family::Ip6 => "ip6",
        }
    }
}

/// Netfilter hooks (`enum nf_inet_hooks`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    /// NF_INET_PRE_ROUTING.
    Prerouting = 0,
    /// NF_INET_FORWARD.
    Forward = 2,
    /// NF_INET_LOCAL_OUT.
    Output = 3,
    /// NF_INET_POST_ROUTING.
    Postrouting = 4,
}

/// A comparison operator of the `cmp` expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// NFT_CMP_EQ.
    Eq = 0,
    /// NFT_CMP_NEQ.
    Neq = 1,
}

/// The `meta` keys used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaKey {
    /// NFT_META_IIFNAME: input interface name (16 bytes, NUL padded).
    IifName = 6,
    /// NFT_META_OIFNAME: output interface name (16 bytes, NUL padded).
    OifName = 7,
    /// NFT_META_L4PROTO: layer 4 protocol number (1 byte).
    L4Proto = 16,
}

/// Where a `payload` expression reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadBase {
    /// NFT_PAYLOAD_NETWORK_HEADER.
    Network = 1,
    /// NFT_PAYLOAD_TRANSPORT_HEADER.
    Transport = 2,
}

/// One nf_tables expression; registers are the 16-byte ones (`NFT_REG_1`…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// Load `len` bytes at `offset` of a header into register `dreg`.
    Payload {
        /// Destination register.
        dreg: u32,
        /// Header.
        base: PayloadBase,
        /// Byte offset in it.
        offset: u32,
        /// Bytes.
        len: u32,
    },
    /// Load packet metadata into register `dreg`.
    Meta {
        /// Destination register.
        dreg: u32,
        /// What to load.
        key: MetaKey,
    },
    /// `reg = (reg & mask) ^ 0`, over `mask.len()` bytes.
    Mask {
        /// Register read and written.
        reg: u32,
        /// The mask.
        mask: Vec<u8>,
    },
    /// Compare register `sreg` with `data`; the rule stops on a mismatch.
    Cmp {
        /// Source register.
        sreg: u32,
        /// Operator.
        op: CmpOp,
        /// Value.
        data: Vec<u8>,
    },
    /// The route type of the destination address (`fib daddr type`) into `dreg` (u32, RTN_*).
    FibDaddrType {
        /// Destination register.
        dreg: u32,
    },
    /// Put `data` into register `dreg`.
    Immediate {
        /// Destination register.
        dreg: u32,
        /// Value.
        data: Vec<u8>,
    },
    /// Destination NAT to the address of `family` in `addr_reg` and the port in `port_reg`.
    Dnat {
        /// The address's family (the table's).
        family: Family,
        /// Register holding the address.
        addr_reg: u32,
        /// Register holding the port (big-endian u16).
        port_reg: u32,
    },
    /// Masquerade (source NAT to the outgoing interface's address).
    Masquerade,
    /// `ct state established,related` as iptables' `-m conntrack --ctstate
    /// RELATED,ESTABLISHED` writes it: the x_tables match `conntrack` revision 3 run by
    /// nft_compat (`match` expression), so iptables-nft (and Docker's iptables calls) read a
    /// chain holding it back; a native `ct` expression they cannot read.
    CtEstablishedRelated,
    /// Accept the packet.
    Accept,
    /// Drop the packet.
    Drop,
}

/// One batch under construction; its messages address tables of the family last set with
/// [`Batch::set_family`] (`ip` at first), so one batch can change an `ip` and an `ip6` table
/// together.
pub struct Batch {
    buf: Vec<u8>,
    seq: u32,
    count: u32,
    family: Family,
}

/// Appends one attribute (type, payload) with padding.
fn attr(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
    let len = 4 + value.len();
    out.extend_from_slice(&(len as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(value);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

fn attr_str(out: &mut Vec<u8>, kind: u16, s: &str) {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    attr(out, kind, &v);
}

fn attr_u32(out: &mut Vec<u8>, kind: u16, v: u32) {
    attr(out, kind, &v.to_be_bytes());
}

fn nested(out: &mut Vec<u8>, kind: u16, inner: impl FnOnce(&mut Vec<u8>)) {
    let mut v = Vec::new();
    inner(&mut v);
    attr(out, kind | NLA_F_NESTED, &v);
}

/// `NFTA_DATA_VALUE` nested under `kind`.
fn data(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
    nested(out, kind, |d| attr(d, 1, value));
}

fn expr_body(out: &mut Vec<u8>, e: &Expr) {
    let (name, body): (&str, Vec<u8>) = match e {
        Expr::Payload {
            dreg,
            base,
            offset,
            len,
        } => {
            let mut b = Vec::new();
            attr_u32(&mut b, 1, *dreg);
            attr_u32(&mut b, 2, *base as u32);
            attr_u32(&mut b, 3, *offset);
            attr_u32(&mut b, 4, *len);
            ("payload", b)
        }
        Expr::Meta { dreg, key } => {
            let mut b = Vec::new();
            attr_u32(&mut b, 2, *key as u32);
            attr_u32(&mut b, 1, *dreg);
            ("meta", b)
        }
        Expr::Mask { reg, mask } => {
            let mut b = Vec::new();
            attr_u32(&mut b, 1, *reg);
            attr_u32(&mut b, 2, *reg);
            attr_u32(&mut b, 3, mask.len() as u32);
            data(&mut b, 4, mask);
            data(&mut b, 5, &vec![0; mask.len()]);
            ("bitwise", b)
        }
        Expr::Cmp { sreg, op, data: d } => {
            let mut b = Vec::new();
            attr_u32(&mut b, 1, *sreg);
            attr_u32(&mut b, 2, *op as u32);
            data(&mut b, 3, d);
            ("cmp", b)
        }
        Expr::FibDaddrType { dreg } => {
            let mut b = Vec::new();
            attr_u32(&mut b, 1, *dreg);
            // NFT_FIB_RESULT_ADDRTYPE, NFTA_FIB_F_DADDR.
            attr_u32(&mut b, 2, 3);
            attr_u32(&mut b, 3, 1 << 1);
            ("fib", b)
        }
        Expr::Immediate { dreg, data: d } => {
            let mut b = Vec::new();
            attr_u32(&mut b, 1, *dreg);
            data(&mut b, 2, d);
            ("immediate", b)
        }
        Expr::Dnat {
            family,
            addr_reg,
            port_reg,
        } => {
            let mut b = Vec::new();
            attr_u32(&mut b, 1, 1); // NFT_NAT_DNAT
            attr_u32(&mut b, 2, family.number() as u32);
            attr_u32(&mut b, 3, *addr_reg);
            attr_u32(&mut b, 5, *port_reg);
            ("nat", b)
        }
        Expr::Masquerade => ("masq", Vec::new()),
        Expr::CtEstablishedRelated => {
            // struct xt_conntrack_mtinfo3 (linux/netfilter/xt_conntrack.h): eight 16-byte
            // address/mask unions, expires_min/max (u32), l4proto, four ports, match_flags,
            // invert_flags, state_mask, status_mask, four port highs (u16, host order):
            // 162 bytes, 164 with the struct's padding, XT_ALIGN'd to 168 as iptables sends it.
            let mut info = vec![0u8; 168];
            let match_flags: u16 = 1; // XT_CONNTRACK_STATE
                                      // XT_CONNTRACK_STATE_BIT(IP_CT_ESTABLISHED = 0) | …(IP_CT_RELATED = 1).
            let state_mask: u16 = (1 << 1) | (1 << 2);
            info[146..148].copy_from_slice(&match_flags.to_ne_bytes());
            info[150..152].copy_from_slice(&state_mask.to_ne_bytes());
            let mut b = Vec::new();
            attr_str(&mut b, 1, "conntrack"); // NFTA_MATCH_NAME
            attr_u32(&mut b, 2, 3); // NFTA_MATCH_REV
            attr(&mut b, 3, &info); // NFTA_MATCH_INFO
            ("match", b)
        }
        Expr::Accept | Expr::Drop => {
            // immediate to the verdict register: NFTA_DATA_VERDICT { NFTA_VERDICT_CODE
            // NF_ACCEPT (1) or NF_DROP (0) }
            let code = u32::from(*e == Expr::Accept);
            let mut b = Vec::new();
            attr_u32(&mut b, 1, 0);
            nested(&mut b, 2, |d| nested(d, 2, |v| attr_u32(v, 1, code)));
            ("immediate", b)
        }
    };
    attr_str(out, 1, name);
    if !body.is_empty() {
        attr(out, 2 | NLA_F_NESTED, &body);
    }
}

impl Batch {
    /// A new batch (the BEGIN message is written here).
    pub fn new() -> Self {
        let mut b = Batch {
            buf: Vec::new(),
            seq: 1,
            count: 0,
            family: Family::Ip,
        };
        b.message(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, 0, &[], true);
        b
    }

    fn message(&mut self, kind: u16, flags: u16, family: u8, attrs: &[u8], control: bool) {
        let len = 16 + 4 + attrs.len();
        self.buf.extend_from_slice(&(len as u32).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(&flags.to_ne_bytes());
        self.buf.extend_from_slice(&self.seq.to_ne_bytes());
        self.buf.extend_from_slice(&0u32.to_ne_bytes());
        // nfgenmsg: family, version, res_id (the subsystem for batch messages).
        self.buf.push(family);
        self.buf.push(0);
        let res_id = if control { NFNL_SUBSYS_NFTABLES } else { 0 };
        self.buf.extend_from_slice(&res_id.to_be_bytes());
        self.buf.extend_from_slice(attrs);
        self.seq += 1;
        if !control {
            self.count += 1;
        }
    }

    /// The family of the tables the next messages address.
    pub fn set_family(&mut self, family: Family) {
        self.family = family;
    }

    fn nft(&mut self, msg: u16, extra: u16, attrs: &[u8]) {
        self.message(
            (NFNL_SUBSYS_NFTABLES << 8) | msg,
            NLM_F_REQUEST | NLM_F_ACK | extra,
            self.family.number(),
            attrs,
            false,
        );
    }

    /// Creates table `name` (no error when it exists).
    pub fn add_table(&mut self, name: &str) {
        let mut a = Vec::new();
        attr_str(&mut a, 1, name);
        self.nft(NFT_MSG_NEWTABLE, NLM_F_CREATE, &a);
    }

    /// Deletes table `name` with everything in it (an error when it does not exist: add it
    /// first in the same batch).
    pub fn delete_table(&mut self, name: &str) {
        let mut a = Vec::new();
        attr_str(&mut a, 1, name);
        self.nft(NFT_MSG_DELTABLE, 0, &a);
    }

    /// Creates a base chain of `kind` (`nat` or `filter`) on `hook` at `priority`, policy
    /// accept.
    pub fn add_chain(&mut self, table: &str, name: &str, kind: &str, hook: Hook, priority: i32) {
        let mut a = Vec::new();
        attr_str(&mut a, 1, table);
        attr_str(&mut a, 3, name);
        nested(&mut a, 4, |h| {
            attr_u32(h, 1, hook as u32);
            attr_u32(h, 2, priority as u32);
        });
        attr_u32(&mut a, 5, 1); // NF_ACCEPT
        attr_str(&mut a, 7, kind);
        self.nft(NFT_MSG_NEWCHAIN, NLM_F_CREATE, &a);
    }

    /// Deletes every rule of `chain` (a DELRULE without a handle flushes the chain).
    pub fn flush_chain(&mut self, table: &str, chain: &str) {
        let mut a = Vec::new();
        attr_str(&mut a, 1, table);
        attr_str(&mut a, 2, chain);
        self.nft(NFT_MSG_DELRULE, 0, &a);
    }

    /// Appends a rule to `chain`.
    pub fn add_rule(&mut self, table: &str, chain: &str, exprs: &[Expr]) {
        let mut a = Vec::new();
        attr_str(&mut a, 1, table);
        attr_str(&mut a, 2, chain);
        nested(&mut a, 4, |list| {
            for e in exprs {
                nested(list, 1, |el| expr_body(el, e));
            }
        });
        self.nft(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, &a);
    }

    /// Inserts a rule at the head of `chain` of table `table` with `tag` as its
    /// comment (`NFTA_RULE_USERDATA` holding libnftnl's comment TLV, so `nft list` and
    /// iptables-nft show `comment "TAG"` and [`tagged_rules`] finds it again).
    pub fn insert_tagged_rule(&mut self, table: &str, chain: &str, exprs: &[Expr], tag: &str) {
        let mut a = Vec::new();
        attr_str(&mut a, 1, table);
        attr_str(&mut a, 2, chain);
        nested(&mut a, 4, |list| {
            for e in exprs {
                nested(list, 1, |el| expr_body(el, e));
            }
        });
        let mut comment = tag.as_bytes().to_vec();
        comment.push(0);
        let mut udata = vec![0u8, comment.len() as u8]; // NFTNL_UDATA_RULE_COMMENT, length
        udata.extend_from_slice(&comment);
        attr(&mut a, 7, &udata);
        self.nft(NFT_MSG_NEWRULE, NLM_F_CREATE, &a);
    }

    /// Deletes the rule with `handle` from `chain` of table `table`.
    pub fn delete_rule(&mut self, table: &str, chain: &str, handle: u64) {
        let mut a = Vec::new();
        attr_str(&mut a, 1, table);
        attr_str(&mut a, 2, chain);
        attr(&mut a, 3, &handle.to_be_bytes());
        self.nft(NFT_MSG_DELRULE, 0, &a);
    }

    /// Whether the batch holds no message besides BEGIN.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// A digest of the batch's messages (equal batches describe equal rule sets).
    pub fn digest(&self) -> String {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&self.buf))
    }

    /// Ends the batch and sends it; waits for the kernel's answer to each message. The first
    /// error is returned (the kernel then applied nothing).
    pub fn commit(mut self) -> io::Result<()> {
        self.message(NFNL_MSG_BATCH_END, NLM_F_REQUEST, 0, &[], true);
        let mut socket = Socket::new(NETLINK_NETFILTER)?;
        super::rtnl::receive_timeout(&socket)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        socket.send(&self.buf, 0)?;
        let mut pending = self.count;
        while pending > 0 {
            let (data, _) = socket.recv_from_full()?;
            let mut off = 0;
            while off + 16 <= data.len() {
                let len =
                    u32::from_ne_bytes([data[off], data[off + 1], data[off + 2], data[off + 3]])
                        as usize;
                let kind = u16::from_ne_bytes([data[off + 4], data[off + 5]]);
                if len < 16 || off + len > data.len() {
                    break;
                }
                if kind == NLMSG_ERROR && len >= 20 {
                    let code = i32::from_ne_bytes([
                        data[off + 16],
                        data[off + 17],
                        data[off + 18],
                        data[off + 19],
                    ]);
                    if code != 0 {
                        // The kernel aborted the whole batch: nothing was applied.
                        return Err(io::Error::from_raw_os_error(-code));
                    }
                    pending = pending.saturating_sub(1);
                }
                off += (len + 3) & !3;
            }
        }
        Ok(())
    }
}

/// Sends one read request (`NFT_MSG_GET*` of `family`) and returns the attributes of
/// each answer (a dump's messages, or the one object); an errno from the kernel comes back as
/// the `io::Error` (ENOENT: no such object). A read leaves the kernel nothing to clean up when
/// the socket closes.
fn get(family: Family, msg: u16, flags: u16, attrs: &[u8]) -> io::Result<Vec<Vec<u8>>> {
    let len = 16 + 4 + attrs.len();
    let mut buf = Vec::with_capacity(len);
    buf.extend_from_slice(&(len as u32).to_ne_bytes());
    buf.extend_from_slice(&((NFNL_SUBSYS_NFTABLES << 8) | msg).to_ne_bytes());
    buf.extend_from_slice(&(NLM_F_REQUEST | NLM_F_ACK | flags).to_ne_bytes());
    buf.extend_from_slice(&1u32.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes());
    buf.extend_from_slice(&[family.number(), 0, 0, 0]);
    buf.extend_from_slice(attrs);
    let mut socket = Socket::new(NETLINK_NETFILTER)?;
    super::rtnl::receive_timeout(&socket)?;
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;
    socket.send(&buf, 0)?;
    let mut out = Vec::new();
    loop {
        let (data, _) = socket.recv_from_full()?;
        let mut off = 0;
        while off + 16 <= data.len() {
            let len = u32::from_ne_bytes([data[off], data[off + 1], data[off + 2], data[off + 3]])
                as usize;
            let kind = u16::from_ne_bytes([data[off + 4], data[off + 5]]);
            if len < 16 || off + len > data.len() {
                break;
            }
            if kind == NLMSG_DONE {
                return Ok(out);
            }
            if kind == NLMSG_ERROR && len >= 20 {
                let code = i32::from_ne_bytes([
                    data[off + 16],
                    data[off + 17],
                    data[off + 18],
                    data[off + 19],
                ]);
                return match code {
                    0 => Ok(out),
                    c => Err(io::Error::from_raw_os_error(-c)),
                };
            }
            if len >= 20 {
                out.push(data[off + 20..off + len].to_vec());
                if flags & NLM_F_DUMP == 0 {
                    return Ok(out);
                }
            }
            off += (len + 3) & !3;
        }
    }
}

/// The attributes of one message as (type without flags, payload).
fn attributes(mut b: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while b.len() >= 4 {
        let len = u16::from_ne_bytes([b[0], b[1]]) as usize;
        let kind = u16::from_ne_bytes([b[2], b[3]]) & 0x3fff;
        if len < 4 || len > b.len() {
            break;
        }
        out.push((kind, &b[4..len]));
        b = &b[((len + 3) & !3).min(b.len())..];
    }
    out
}

/// Whether table `name` of `family` exists (NFT_MSG_GETTABLE).
pub fn table_exists(family: Family, name: &str) -> io::Result<bool> {
    let mut attrs = Vec::new();
    attr_str(&mut attrs, 1, name);
    match get(family, NFT_MSG_GETTABLE, 0, &attrs) {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The policy of base chain `chain` in table `table` of `family` (NF_DROP 0, NF_ACCEPT 1), or
/// None when the table or chain does not exist.
pub fn chain_policy(family: Family, table: &str, chain: &str) -> io::Result<Option<u32>> {
    let mut attrs = Vec::new();
    attr_str(&mut attrs, 1, table);
    attr_str(&mut attrs, 3, chain);
    match get(family, NFT_MSG_GETCHAIN, 0, &attrs) {
        Ok(msgs) => Ok(msgs.iter().find_map(|m| {
            attributes(m).into_iter().find_map(|(k, v)| match (k, v) {
                (5, [a, b, c, d]) => Some(u32::from_be_bytes([*a, *b, *c, *d])),
                _ => None,
            })
        })),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The handles of the rules of `chain` in table `table` of `family` whose comment is `tag`
/// (empty when the chain does not exist).
pub fn tagged_rules(family: Family, table: &str, chain: &str, tag: &str) -> io::Result<Vec<u64>> {
    let mut attrs = Vec::new();
    attr_str(&mut attrs, 1, table);
    attr_str(&mut attrs, 2, chain);
    let msgs = match get(family, NFT_MSG_GETRULE, NLM_F_DUMP, &attrs) {
        Ok(m) => m,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut comment = tag.as_bytes().to_vec();
    comment.push(0);
    let mut udata = vec![0u8, comment.len() as u8];
    udata.extend_from_slice(&comment);
    Ok(msgs
        .iter()
        .filter_map(|m| {
            let a = attributes(m);
            let in_chain = a
                .iter()
                .any(|(k, v)| *k == 2 && v.split(|b| *b == 0).next() == Some(chain.as_bytes()));
            let ours = a.iter().any(|(k, v)| *k == 7 && *v == udata.as_slice());
            let handle = a.iter().find_map(|(k, v)| match (k, v) {
                (3, h) if h.len() == 8 => {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(h);
                    Some(u64::from_be_bytes(b))
                }
                _ => None,
            });
            handle.filter(|_| in_chain && ours)
        })
        .collect())
}

impl Default for Batch {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_padded_to_four_bytes() {
        let mut v = Vec::new();
        attr_str(&mut v, 1, "nat");
        assert_eq!(v.len(), 8);
        assert_eq!(&v[0..2], &8u16.to_ne_bytes());
        attr_str(&mut v, 1, "filter");
        assert_eq!(v.len(), 8 + 12);
        assert_eq!(&v[8..10], &11u16.to_ne_bytes());
    }

    #[test]
    fn a_batch_frames_its_messages() {
        let mut b = Batch::new();
        b.add_table("t");
        assert_eq!(b.count, 1);
        // BEGIN (20 bytes) then NEWTABLE with type (10 << 8) | 0.
        assert_eq!(&b.buf[20 + 4..20 + 6], &(10u16 << 8).to_ne_bytes());
        assert_eq!(b.buf[20 + 16], NFPROTO_IPV4);
        assert_eq!(b.buf.len() % 4, 0);
        let at = b.buf.len();
        b.set_family(Family::Ip6);
        b.add_table("t");
        assert_eq!(b.buf[at + 16], NFPROTO_IPV6);
    }
}
