//! tinibox's network settings from `/etc/tinibox/config` (or the file `$TINIBOX_CONFIG`
//! names): `KEY = VALUE` lines, `#` comments. Keys read here:
//! - `bridge_subnet`: the default bridge's subnet (CIDR, IPv4; default [`DEFAULT_SUBNET`]);
//!   the bridge takes its first host address, containers the next free ones.
//!
//! A missing file means the defaults; an unknown key is ignored (other parts of tinibox may
//! read it); a bad value is an error naming the file, line and fix.

use std::path::PathBuf;

use ipnet::Ipv4Net;

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

fn subnet_from(text: &str, file: &str) -> Result<Ipv4Net, NetError> {
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim() == "bridge_subnet" {
            let value = value.trim();
            return parse_subnet(value)
                .map_err(|e| NetError::Invalid(format!("{file}:{}: bridge_subnet: {e}", n + 1)));
        }
    }
    parse_subnet(DEFAULT_SUBNET).map_err(NetError::Invalid)
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
    Ok(net)
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
}
