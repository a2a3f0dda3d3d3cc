//! tinibox's network settings from `/etc/tinibox/config` (or the file `$TINIBOX_CONFIG`
//! names): `KEY = VALUE` lines, `#` comments. Keys read here:
//! - `bridge_subnet`: the default bridge's subnet (CIDR, IPv4; default [`DEFAULT_SUBNET`]);
//!   the bridge takes its first host address, containers the next free ones.
//! - `ipv6` (`true`/`false`, default false) and `fixed-cidr-v6` (IPv6 CIDR, prefix 48 to 126):
//!   Docker's daemon.json keys of the same names — IPv6 on the default bridge, its IPv6
//!   subnet (the bridge takes its `::1`, containers the next free addresses). `ipv6 = true`
//!   needs `fixed-cidr-v6`; `fixed-cidr-v6` alone does nothing, as in Docker. A change takes
//!   effect when no container uses the default bridge (it is then made again).
//!
//! A missing file means the defaults; an unknown key is ignored (other parts of tinibox may
//! read it); a bad value is an error naming the file, line and fix.

use std::path::PathBuf;

use ipnet::{Ipv4Net, Ipv6Net};

use super::NetError;

/// The default bridge's subnet when the config sets none.
pub const DEFAULT_SUBNET: &str = "10.89.0.0/24";

/// The config file's path.
pub fn path() -> PathBuf {
    std::env::var_os("TINIBOX_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/tinibox/config"))
}

/// The default bridge's subnet.
pub fn bridge_subnet() -> Result<Ipv4Net, NetError> {
    let path = path();
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    subnet_from(&text, &path.display().to_string())
}

/// The value of `key` and its line number (the last one given), if the file sets it.
fn value_of<'a>(text: &'a str, key: &str) -> Option<(usize, &'a str)> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with('#'))
        .filter_map(|(n, l)| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == key).then(|| (n + 1, v.trim()))
        })
        .last()
}

fn subnet_from(text: &str, file: &str) -> Result<Ipv4Net, NetError> {
    if let Some((n, value)) = value_of(text, "bridge_subnet") {
        return parse_subnet(value)
            .map_err(|e| NetError::Invalid(format!("{file}:{n}: bridge_subnet: {e}")));
    }
    parse_subnet(DEFAULT_SUBNET).map_err(NetError::Invalid)
}

/// The default bridge's IPv6 subnet: Some with `ipv6 = true` and `fixed-cidr-v6 = CIDR`, None
/// without `ipv6 = true`.
pub fn bridge_ipv6() -> Result<Option<Ipv6Net>, NetError> {
    let path = path();
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    ipv6_from(&text, &path.display().to_string())
}

fn ipv6_from(text: &str, file: &str) -> Result<Option<Ipv6Net>, NetError> {
    let on = match value_of(text, "ipv6") {
        None | Some((_, "false")) => false,
        Some((_, "true")) => true,
        Some((n, other)) => {
            let shown: String = other.chars().take(64).collect();
            return Err(NetError::Invalid(format!(
                "{file}:{n}: ipv6: {shown:?} is not true or false"
            )));
        }
    };
    if !on {
        return Ok(None);
    }
    let Some((n, value)) = value_of(text, "fixed-cidr-v6") else {
        return Err(NetError::Invalid(format!(
            "{file}: ipv6 = true needs fixed-cidr-v6 = CIDR (the default bridge's IPv6 subnet), e.g. fixed-cidr-v6 = fd42:b::/64"
        )));
    };
    let shown: String = value.chars().take(64).collect();
    let net: Ipv6Net = value.parse().map_err(|_| {
        NetError::Invalid(format!(
            "{file}:{n}: fixed-cidr-v6: {shown:?} is not an IPv6 CIDR — write it like fd42:b::/64"
        ))
    })?;
    if !(48..=126).contains(&net.prefix_len()) || net.network() != net.addr() {
        return Err(NetError::Invalid(format!(
            "{file}:{n}: fixed-cidr-v6: {shown} must be a network address with a prefix of 48 to 126 — e.g. {}/64",
            net.trunc().network()
        )));
    }
    Ok(Some(net))
}

/// Parses an IPv4 subnet for a bridge (prefix 8 to 30, the address its network address).
pub fn parse_subnet(value: &str) -> Result<Ipv4Net, String> {
    let net: Ipv4Net = value
        .parse()
        .map_err(|_| format!("{value:?} is not an IPv4 CIDR — write it like 10.89.0.0/24"))?;
    if !(8..=30).contains(&net.prefix_len()) {
        return Err(format!(
            "{value}: the prefix must be 8 to 30 — e.g. 10.89.0.0/24"
        ));
    }
    if net.network() != net.addr() {
        return Err(format!(
            "{value}: host bits are set — did you mean {}?",
            net.trunc()
        ));
    }
    if let Some((range, what)) = special_purpose_v4(net) {
        return Err(format!(
            "{net} overlaps {range} ({what}), which a bridge must not take — use a private range such as 10.89.5.0/24"
        ));
    }
    Ok(net)
}

/// The IPv4 special-purpose ranges (RFC 6890 and the IANA registry) that would break the host
/// if a bridge took them: a route for them on a bridge takes over loopback, multicast or
/// link-local traffic, and the others are not unicast host addresses.
const SPECIAL_V4: [(&str, &str); 5] = [
    ("0.0.0.0/8", "\"this network\""),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved, with the broadcast address"),
];

/// The special-purpose range `net` overlaps and its name, if any ([`SPECIAL_V4`]).
pub fn special_purpose_v4(net: Ipv4Net) -> Option<(Ipv4Net, &'static str)> {
    SPECIAL_V4.iter().find_map(|(range, what)| {
        let range: Ipv4Net = range.parse().ok()?;
        (range.contains(&net.network()) || net.contains(&range.network())).then_some((range, *what))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_subnet_or_the_default() {
        assert_eq!(subnet_from("", "f").unwrap().to_string(), DEFAULT_SUBNET);
        let t = "# x\nother = 1\nbridge_subnet = 10.200.0.0/16\n";
        assert_eq!(subnet_from(t, "f").unwrap().to_string(), "10.200.0.0/16");
        let e = subnet_from("bridge_subnet = 10.0.0.1/24", "f").unwrap_err();
        assert!(e.to_string().starts_with("f:1: bridge_subnet:"), "{e}");
        assert!(subnet_from("bridge_subnet = 10.0.0.0/31", "f").is_err());
    }

    #[test]
    fn special_purpose_ranges_are_refused() {
        for bad in [
            "127.0.0.0/8",
            "127.1.0.0/16",
            "0.0.0.0/8",
            "169.254.0.0/16",
            "224.0.0.0/24",
            "240.0.0.0/24",
            "255.255.255.0/24",
            "169.0.0.0/8",
        ] {
            let e = parse_subnet(bad).unwrap_err();
            assert!(e.contains("must not take"), "{bad}: {e}");
        }
        for ok in [
            "10.89.0.0/24",
            "172.16.0.0/12",
            "192.168.7.0/24",
            "100.64.0.0/10",
        ] {
            assert!(parse_subnet(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn ipv6_needs_its_subnet_and_is_off_by_default() {
        assert_eq!(ipv6_from("", "f").unwrap(), None);
        assert_eq!(ipv6_from("fixed-cidr-v6 = fd42:b::/64", "f").unwrap(), None);
        assert_eq!(ipv6_from("ipv6 = false\n", "f").unwrap(), None);
        let t = "ipv6 = true\nfixed-cidr-v6 = fd42:b::/64\n";
        assert_eq!(
            ipv6_from(t, "f").unwrap().map(|n| n.to_string()),
            Some("fd42:b::/64".into())
        );
        for (bad, says) in [
            ("ipv6 = true", "needs fixed-cidr-v6"),
            ("ipv6 = yes", "f:1: ipv6:"),
            ("ipv6 = true\nfixed-cidr-v6 = x", "f:2: fixed-cidr-v6:"),
            (
                "ipv6 = true\nfixed-cidr-v6 = fd42:b::1/64",
                "network address",
            ),
            ("ipv6 = true\nfixed-cidr-v6 = fd42::/16", "48 to 126"),
        ] {
            let e = ipv6_from(bad, "f").unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
            assert!(!e.contains('\n'));
        }
    }
}
