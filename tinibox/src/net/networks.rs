//! User-defined networks (`tinibox network create NAME`): their definitions, one JSON file a
//! network in [`dir`] (`/etc/tinibox/networks/NAME.json`, or `$TINIBOX_NETWORKS`), kept
//! across reboots like Podman's `/etc/containers/networks`; the leases live apart, in the
//! tmpfs record of [`super::ipam`], because they die with the containers.
//!
//! ```json
//! {"name":"web","id":"<64 hex>","driver":"bridge","bridge":"tb-0123456789ab",
//!  "subnet":"10.89.1.0/24","gateway":"10.89.1.1","created":"2026-11-30T09:00:00Z",
//!  "ipv6":true,"subnet6":"fd42:1::/64","gateway6":"fd42:1::1"}
//! ```
//! The default network `bridge` (and `host`, `none`) has no file: it is built from
//! `/etc/tinibox/config` ([`default_bridge`]). Owns names, subnets and the files; the bridge
//! link itself is [`super::bridge`].

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

use super::{ipam, NetError, BRIDGE_NETWORK};

/// The networks every host has: `--network bridge|host|none`.
pub const PREDEFINED: [&str; 3] = [BRIDGE_NETWORK, "host", "none"];

/// A network's definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    /// Its name (`[A-Za-z0-9][A-Za-z0-9_.-]*`, at most 64 characters).
    pub name: String,
    /// 64 hex digits (random; `bridge`'s is derived from its name).
    pub id: String,
    /// Always `bridge`.
    pub driver: String,
    /// The bridge link (`tinibox0`, or `tb-` + the id's first 12 digits).
    pub bridge: String,
    /// IPv4 subnet.
    pub subnet: Ipv4Net,
    /// The bridge's address.
    pub gateway: Ipv4Addr,
    /// Creation time, RFC 3339 (empty for `bridge`).
    #[serde(default)]
    pub created: String,
    /// `--ipv6` (Docker's `EnableIPv6`): containers get an address of `subnet6` too.
    #[serde(default)]
    pub ipv6: bool,
    /// The IPv6 subnet (with `ipv6`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet6: Option<Ipv6Net>,
    /// The bridge's IPv6 address (with `ipv6`; default the subnet's first address after its
    /// network address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway6: Option<Ipv6Addr>,
}

impl Network {
    /// An empty address record for this network.
    pub fn record(&self) -> ipam::Record {
        ipam::Record {
            subnet: self.subnet,
            gateway: Some(self.gateway),
            bridge: Some(self.bridge.clone()),
            leases: Default::default(),
            subnet6: self.subnet6.filter(|_| self.ipv6),
            gateway6: self.gateway6.filter(|_| self.ipv6),
        }
    }

    /// Whether containers on it resolve each other by name (user-defined networks only, as
    /// in Docker).
    pub fn resolves_names(&self) -> bool {
        self.name != BRIDGE_NETWORK
    }
}

/// Where the definitions live.
pub fn dir() -> PathBuf {
    std::env::var_os("TINIBOX_NETWORKS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/tinibox/networks"))
}

/// The default network `bridge`, from the config file (`bridge_subnet`, and `ipv6` with
/// `fixed-cidr-v6`: its IPv6 gateway is that subnet's `::1`).
pub fn default_bridge() -> Result<Network, NetError> {
    let subnet = super::config::bridge_subnet()?;
    let subnet6 = super::config::bridge_ipv6()?;
    Ok(Network {
        name: BRIDGE_NETWORK.to_string(),
        id: format!("{:0<64}", hex::encode(BRIDGE_NETWORK)),
        driver: "bridge".to_string(),
        bridge: super::bridge::DEFAULT_BRIDGE.to_string(),
        subnet,
        gateway: ipam::first_host(subnet),
        created: String::new(),
        ipv6: subnet6.is_some(),
        subnet6,
        gateway6: subnet6.map(|n| Ipv6Addr::from(u128::from(n.network()) + 1)),
    })
}

/// Checks a new network's name.
pub fn check_name(name: &str) -> Result<(), NetError> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        && name.chars().count() <= 64;
    if !ok {
        let shown: String = name.chars().take(64).collect();
        return Err(NetError::Invalid(format!(
            "network name {shown:?} is invalid — use letters, digits, _ . - (starting with a letter or digit, at most 64)"
        )));
    }
    if PREDEFINED.contains(&name) || name == "default" {
        return Err(NetError::Invalid(format!(
            "network name {name:?} is reserved (a pre-defined network) — pick another name"
        )));
    }
    Ok(())
}

fn unknown(name: &str) -> NetError {
    let shown: String = name.chars().take(64).collect();
    if name == "host" || name == "none" {
        // Modes of `run --network`, listed by `network ls` but not networks tinibox makes.
        let what = if name == "host" {
            "the host's own network stack"
        } else {
            "no network at all"
        };
        return NetError::NotFound(format!(
            "network {name:?} is pre-defined ({what}): it cannot be inspected, connected or \
             disconnected — give `--network {name}` when the container is made"
        ));
    }
    NetError::NotFound(format!(
        "network {shown:?} not found — see `tinibox network ls`, or create it with `tinibox network create {shown}`"
    ))
}

/// The network `name` (`bridge` included); an error naming it when there is none.
pub fn load(name: &str) -> Result<Network, NetError> {
    if name == BRIDGE_NETWORK || name == "default" {
        return default_bridge();
    }
    if check_name(name).is_err() {
        return Err(unknown(name));
    }
    let path = dir().join(format!("{name}.json"));
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            NetError::System(format!(
                "{} is not a network definition ({e}) — fix or remove it",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(unknown(name)),
        Err(e) => Err(NetError::System(format!("reading {}: {e}", path.display()))),
    }
}

/// Every user-defined network, by name.
pub fn list() -> Result<Vec<Network>, NetError> {
    let dir = dir();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(NetError::System(format!("reading {}: {e}", dir.display()))),
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let file = entry.file_name();
        if let Some(name) = file.to_str().and_then(|n| n.strip_suffix(".json")) {
            out.push(load(name)?);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Writes a definition (temporary file, then renamed).
pub fn save(net: &Network) -> Result<(), NetError> {
    let dir = dir();
    let path = dir.join(format!("{}.json", net.name));
    let sys = |e: std::io::Error| NetError::System(format!("writing {}: {e}", path.display()));
    std::fs::create_dir_all(&dir).map_err(sys)?;
    let json = serde_json::to_vec_pretty(net).map_err(|e| sys(std::io::Error::other(e)))?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, json)
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(sys)
}

/// Removes a definition (Ok when it is not there).
pub fn delete(name: &str) -> Result<(), NetError> {
    let path = dir().join(format!("{name}.json"));
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(NetError::System(format!(
            "removing {}: {e}",
            path.display()
        ))),
        _ => Ok(()),
    }
}

/// The gateway of a new network: `--gateway` checked against the subnet, or its first host.
pub fn gateway_for(subnet: Ipv4Net, given: Option<&str>) -> Result<Ipv4Addr, NetError> {
    let Some(text) = given else {
        return Ok(ipam::first_host(subnet));
    };
    let gw: Ipv4Addr = text.parse().map_err(|_| {
        NetError::Invalid(format!(
            "--gateway {text:?} is not an IPv4 address — e.g. --gateway 10.89.1.1"
        ))
    })?;
    if !subnet.contains(&gw) || gw == subnet.network() || gw == subnet.broadcast() {
        return Err(NetError::Invalid(format!(
            "--gateway {gw} is not a host address of the subnet {subnet} — pick one between {} and {}",
            ipam::first_host(subnet),
            Ipv4Addr::from(u32::from(subnet.broadcast()) - 1)
        )));
    }
    Ok(gw)
}

/// Parses `network create`'s IPv6 `--subnet` (prefix 48 to 126, no host bits) and its
/// `--gateway` (an address of the subnet other than its network address; default the
/// subnet's `::1`).
pub fn subnet6(text: &str, gateway: Option<&str>) -> Result<(Ipv6Net, Ipv6Addr), NetError> {
    let shown: String = text.chars().take(64).collect();
    let net: Ipv6Net = text.parse().map_err(|_| {
        NetError::Invalid(format!(
            "--subnet {shown:?} is not a CIDR — write it like fd42:1::/64"
        ))
    })?;
    if !(48..=126).contains(&net.prefix_len()) {
        return Err(NetError::Invalid(format!(
            "--subnet {net}: the IPv6 prefix must be 48 to 126 — e.g. fd42:1::/64"
        )));
    }
    if net.network() != net.addr() {
        return Err(NetError::Invalid(format!(
            "--subnet {shown}: host bits are set — did you mean {}?",
            net.trunc()
        )));
    }
    // RFC 4291's ranges that are not global or unique-local unicast: the reserved ::/8 (with
    // loopback, unspecified and IPv4-mapped addresses), link-local and multicast.
    for (range, what) in [
        ("::/8", "reserved, with loopback"),
        ("fe80::/10", "link-local"),
        ("ff00::/8", "multicast"),
    ] {
        let range: Ipv6Net = range.parse().map_err(|_| NetError::Invalid(range.into()))?;
        if range.contains(&net.network()) || net.contains(&range.network()) {
            return Err(NetError::Invalid(format!(
                "--subnet {net} overlaps {range} ({what}), which a bridge must not take — use a unique-local range such as fd42:1::/64"
            )));
        }
    }
    let gw = match gateway {
        None => Ipv6Addr::from(u128::from(net.network()) + 1),
        Some(g) => {
            let shown: String = g.chars().take(64).collect();
            let gw: Ipv6Addr = g.parse().map_err(|_| {
                NetError::Invalid(format!(
                    "--gateway {shown:?} is not an IPv6 address — e.g. --gateway {}",
                    Ipv6Addr::from(u128::from(net.network()) + 1)
                ))
            })?;
            if !net.contains(&gw) || gw == net.network() {
                return Err(NetError::Invalid(format!(
                    "--gateway {gw} is not a host address of the subnet {net} — pick one in it"
                )));
            }
            gw
        }
    };
    Ok((net, gw))
}

/// The first free `10.89.N.0/24` (N = 1…255) that `taken` does not overlap (Podman's pool).
pub fn free_subnet(taken: &[Ipv4Net]) -> Result<Ipv4Net, NetError> {
    (1..=255u8)
        .filter_map(|n| Ipv4Net::new(Ipv4Addr::new(10, 89, n, 0), 24).ok())
        .find(|s| !taken.iter().any(|t| super::bridge::overlaps(*s, *t)))
        .ok_or_else(|| {
            NetError::Invalid(
                "no free subnet left in 10.89.1.0/24 … 10.89.255.0/24 — give one with --subnet"
                    .into(),
            )
        })
}

/// A new random id (64 hex digits).
pub fn new_id() -> Result<String, NetError> {
    let mut b = [0u8; 32];
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(|e| NetError::System(format!("reading /dev/urandom: {e}")))?;
    Ok(hex::encode(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check_name("web-1.a_b").is_ok());
        for bad in [
            "",
            "-x",
            "a b",
            "a/b",
            "container:x",
            "bridge",
            "host",
            "none",
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(check_name(&"a".repeat(65)).is_err());
    }

    #[test]
    fn gateways_are_host_addresses_of_the_subnet() {
        let s: Ipv4Net = "10.5.0.0/24".parse().unwrap();
        assert_eq!(gateway_for(s, None).unwrap(), Ipv4Addr::new(10, 5, 0, 1));
        assert_eq!(
            gateway_for(s, Some("10.5.0.254")).unwrap(),
            Ipv4Addr::new(10, 5, 0, 254)
        );
        for bad in ["10.5.0.0", "10.5.0.255", "10.6.0.1", "x"] {
            assert!(gateway_for(s, Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn ipv6_subnets_and_gateways_are_checked() {
        let (n, g) = subnet6("fd42:1::/64", None).unwrap();
        assert_eq!(
            (n.to_string(), g.to_string()),
            ("fd42:1::/64".into(), "fd42:1::1".into())
        );
        let (_, g) = subnet6("fd42:1::/64", Some("fd42:1::fe")).unwrap();
        assert_eq!(g.to_string(), "fd42:1::fe");
        for (s, gw) in [
            ("fd42:1::5/64", None),
            ("fd42::/16", None),
            ("x", None),
            ("fd42:1::/64", Some("fd42:2::1")),
            ("fd42:1::/64", Some("fd42:1::")),
            ("fd42:1::/64", Some("10.0.0.1")),
        ] {
            assert!(subnet6(s, gw).is_err(), "{s} {gw:?}");
        }
        for special in [
            "fe80::/64",
            "::/64",
            "::ffff:0:0/96",
            "ff02::/64",
            "febf:1::/64",
        ] {
            let e = subnet6(special, None).unwrap_err().to_string();
            assert!(e.contains("must not take"), "{special}: {e}");
        }
        assert!(subnet6("2001:db8:1::/64", None).is_ok());
    }

    #[test]
    fn a_free_subnet_avoids_the_taken_ones() {
        let taken: Vec<Ipv4Net> = vec![
            "10.89.0.0/24".parse().unwrap(),
            "10.89.1.0/25".parse().unwrap(),
        ];
        assert_eq!(free_subnet(&taken).unwrap().to_string(), "10.89.2.0/24");
        let all: Vec<Ipv4Net> = vec!["10.0.0.0/8".parse().unwrap()];
        assert!(free_subnet(&all).is_err());
    }
}
