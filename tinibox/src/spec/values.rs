//! Parsers for `run` flag values: byte sizes, CPU counts, ulimits, volumes, tmpfs mounts,
//! environment entries and env files, the network mode, capability names, container names.
//!
//! Pure functions: every error names the flag and the fix. Must not build spec parts.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{Capability, PosixRlimitType};

use super::SpecError;

/// Parses a byte size like Docker: `1024`, `512k`, `64m`, `1.5g` (suffix b/k/m/g/t, optional `b`).
pub fn parse_size(flag: &str, value: &str) -> Result<i64, SpecError> {
    let bad = || {
        SpecError::flag(
            flag,
            format!("invalid size {value:?}"),
            "use a number with an optional unit b, k, m, g (e.g. 64m)",
        )
    };
    let v = value.trim().to_ascii_lowercase();
    let v = v.strip_suffix('b').filter(|s| !s.is_empty()).unwrap_or(&v);
    let (num, mult) = match v.chars().last() {
        Some('k') => (&v[..v.len() - 1], 1u64 << 10),
        Some('m') => (&v[..v.len() - 1], 1 << 20),
        Some('g') => (&v[..v.len() - 1], 1 << 30),
        Some('t') => (&v[..v.len() - 1], 1 << 40),
        Some(_) => (v, 1),
        None => return Err(bad()),
    };
    let n: f64 = num.parse().map_err(|_| bad())?;
    if !n.is_finite() || n <= 0.0 {
        return Err(bad());
    }
    let bytes = n * mult as f64;
    if bytes > i64::MAX as f64 {
        return Err(bad());
    }
    if bytes < 1.0 {
        return Err(SpecError::flag(
            flag,
            format!("{value:?} is less than one byte"),
            "give a whole number of bytes or a unit (e.g. 64m)",
        ));
    }
    Ok(bytes as i64)
}

/// The smallest memory limit `run -m` accepts: 6 MiB, Docker's minimum (a container's
/// runtime and init need that much before the command starts).
pub const MIN_MEMORY: i64 = 6 << 20;

/// Parses `-m/--memory` (see [`parse_size`]) and refuses a limit below [`MIN_MEMORY`], with
/// the minimum in the message.
pub fn parse_memory(value: &str) -> Result<i64, SpecError> {
    let bytes = parse_size("--memory", value)?;
    if bytes < MIN_MEMORY {
        return Err(SpecError::flag(
            "--memory",
            format!("{value:?} ({bytes} bytes) is below the minimum memory limit of 6 MiB"),
            "give at least 6m",
        ));
    }
    Ok(bytes)
}

/// Parses `--cpus N` into a CFS (quota, period) pair with a 100 ms period; `available` is the
/// number of CPUs tinibox may use (the upper bound).
pub fn parse_cpus(value: &str, available: usize) -> Result<(i64, u64), SpecError> {
    // Messages quote the user's text (at most 32 characters), never the float's digits.
    let shown = crate::text::ellipsize(value.trim(), 32);
    let bad = || {
        SpecError::flag(
            "--cpus",
            format!("invalid CPU count {shown:?}"),
            "use a positive number such as 0.5 or 2",
        )
    };
    let n: f64 = value.trim().parse().map_err(|_| bad())?;
    if !n.is_finite() || n <= 0.0 {
        return Err(bad());
    }
    if n < 0.01 {
        // The kernel's smallest CFS quota is 1 ms of each 100 ms period.
        return Err(SpecError::flag(
            "--cpus",
            format!("{shown} is below the minimum of 0.01 CPUs"),
            "give at least 0.01",
        ));
    }
    let cpus = available;
    if n > cpus as f64 {
        return Err(SpecError::flag(
            "--cpus",
            format!("{shown} CPUs requested but only {cpus} available"),
            format!("use a value up to {cpus}"),
        ));
    }
    let period = 100_000u64;
    let quota = (n * period as f64).round() as i64;
    Ok((quota.max(1000), period))
}

/// Parses `--ulimit NAME=SOFT[:HARD]` (names as Docker: nofile, nproc, core, …).
pub fn parse_ulimit(value: &str) -> Result<(PosixRlimitType, u64, u64), SpecError> {
    let usage = "use NAME=SOFT[:HARD], e.g. nofile=1024:2048";
    let (name, limits) = value
        .split_once('=')
        .ok_or_else(|| SpecError::flag("--ulimit", format!("invalid value {value:?}"), usage))?;
    let typ = match name.trim().to_ascii_lowercase().as_str() {
        "core" => PosixRlimitType::RlimitCore,
        "cpu" => PosixRlimitType::RlimitCpu,
        "data" => PosixRlimitType::RlimitData,
        "fsize" => PosixRlimitType::RlimitFsize,
        "locks" => PosixRlimitType::RlimitLocks,
        "memlock" => PosixRlimitType::RlimitMemlock,
        "msgqueue" => PosixRlimitType::RlimitMsgqueue,
        "nice" => PosixRlimitType::RlimitNice,
        "nofile" => PosixRlimitType::RlimitNofile,
        "nproc" => PosixRlimitType::RlimitNproc,
        "rss" => PosixRlimitType::RlimitRss,
        "rtprio" => PosixRlimitType::RlimitRtprio,
        "rttime" => PosixRlimitType::RlimitRttime,
        "sigpending" => PosixRlimitType::RlimitSigpending,
        "stack" => PosixRlimitType::RlimitStack,
        "as" => PosixRlimitType::RlimitAs,
        other => {
            return Err(SpecError::flag(
                "--ulimit",
                format!("unknown limit {other:?}"),
                "use one of core, cpu, data, fsize, locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending, stack, as",
            ))
        }
    };
    let num = |s: &str| -> Result<u64, SpecError> {
        if s == "-1" || s == "unlimited" {
            return Ok(u64::MAX);
        }
        s.trim()
            .parse::<u64>()
            .map_err(|_| SpecError::flag("--ulimit", format!("invalid number {s:?}"), usage))
    };
    let (soft, hard) = match limits.split_once(':') {
        Some((s, h)) => (num(s)?, num(h)?),
        None => {
            let n = num(limits)?;
            (n, n)
        }
    };
    if soft > hard {
        return Err(SpecError::flag(
            "--ulimit",
            format!("soft limit {soft} is above hard limit {hard}"),
            "make SOFT at most HARD",
        ));
    }
    Ok((typ, soft, hard))
}

/// A parsed `-v SRC:DST[:ro|rw]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// Host path (absolute, existing).
    pub source: PathBuf,
    /// Path inside the container (absolute).
    pub destination: String,
    /// Mounted read-only.
    pub readonly: bool,
}

/// Parses `-v SRC:DST[:ro|rw]`; `exists` says whether the source exists on the host (it must).
pub fn parse_volume(value: &str, exists: impl Fn(&Path) -> bool) -> Result<Volume, SpecError> {
    let usage = "use -v /host/path:/container/path[:ro]";
    let parts: Vec<&str> = value.split(':').collect();
    let (src, dst, mode) = match parts.as_slice() {
        [s, d] => (*s, *d, None),
        [s, d, m] => (*s, *d, Some(*m)),
        _ => {
            return Err(SpecError::flag(
                "--volume",
                format!("invalid volume {value:?}"),
                usage,
            ))
        }
    };
    let readonly = match mode {
        None | Some("rw") => false,
        Some("ro") => true,
        Some(m) => {
            return Err(SpecError::flag(
                "--volume",
                format!("unknown mode {m:?} in {value:?}"),
                "use ro or rw",
            ))
        }
    };
    if !src.starts_with('/') {
        return Err(SpecError::flag(
            "--volume",
            format!("source {src:?} is not an absolute path (named volumes are not supported)"),
            usage,
        ));
    }
    if !dst.starts_with('/') || dst == "/" {
        return Err(SpecError::flag(
            "--volume",
            format!("destination {dst:?} must be an absolute path other than /"),
            usage,
        ));
    }
    if !exists(Path::new(src)) {
        return Err(SpecError::flag(
            "--volume",
            format!("source {src} does not exist"),
            "create it first or fix the path",
        ));
    }
    Ok(Volume {
        source: PathBuf::from(src),
        destination: dst.to_string(),
        readonly,
    })
}

/// Parses `--tmpfs DST[:OPT,OPT…]` into the destination and mount options.
pub fn parse_tmpfs(value: &str) -> Result<(String, Vec<String>), SpecError> {
    let (dst, opts) = match value.split_once(':') {
        Some((d, o)) => (d, o),
        None => (value, ""),
    };
    if !dst.starts_with('/') || dst == "/" {
        return Err(SpecError::flag(
            "--tmpfs",
            format!("destination {dst:?} must be an absolute path other than /"),
            "use --tmpfs /path[:size=64m,mode=1777]",
        ));
    }
    let mut options: Vec<String> = vec!["nosuid".into(), "nodev".into(), "noexec".into()];
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "exec" => options.retain(|x| x != "noexec"),
            "dev" => options.retain(|x| x != "nodev"),
            "suid" => options.retain(|x| x != "nosuid"),
            _ => options.push(o.to_string()),
        }
    }
    Ok((dst.to_string(), options))
}

/// Turns `-e KEY=VALUE` / `-e KEY` into `KEY=VALUE` (a bare KEY copies the value `lookup`
/// gives, tinibox's own; unset → dropped, as Docker does).
pub fn env_entry<'a>(
    flag: &str,
    value: &str,
    lookup: impl Fn(&str) -> Option<&'a str>,
) -> Result<Option<String>, SpecError> {
    let key = value.split('=').next().unwrap_or("");
    if key.is_empty() || key.contains(char::is_whitespace) {
        return Err(SpecError::flag(
            flag,
            format!("invalid variable {value:?}"),
            "use KEY=VALUE with a non-empty KEY without spaces",
        ));
    }
    if value.contains('=') {
        Ok(Some(value.to_string()))
    } else {
        Ok(lookup(key).map(|v| format!("{key}={v}")))
    }
}

/// Parses the text of an `--env-file`: one KEY=VALUE (or KEY, see [`env_entry`]) per line,
/// `#` comments and blank lines ignored.
pub fn parse_env_file<'a>(
    text: &str,
    lookup: impl Fn(&str) -> Option<&'a str> + Copy,
) -> Result<Vec<String>, SpecError> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(e) = env_entry("--env-file", line, lookup)? {
            out.push(e);
        }
    }
    Ok(out)
}

/// Which network the container uses, (`--network`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkMode {
    /// A private network namespace with only `lo`.
    None,
    /// The host's network namespace.
    Host,
    /// A private network namespace plugged into tinibox's bridge (`tinibox0`): `eth0`, an
    /// address, outbound NAT and published ports (see `crate::net`).
    Bridge,
    /// As `Bridge`, on a user-defined network (`--network NAME`, see `tinibox network`);
    /// the name is [`network_target`]'s.
    Named,
    /// Another container's network namespace (`--network container:NAME`); the container is
    /// [`network_target`]'s.
    Container,
}

impl NetworkMode {
    /// Whether the container gets its own interface on a bridge (ports, DNS flags).
    pub fn is_bridged(self) -> bool {
        matches!(self, NetworkMode::Bridge | NetworkMode::Named)
    }
}

/// Parses `--network`: `bridge` (or `default`), `none`, `host`, `container:NAME|ID` or the
/// name of a user-defined network (whether it exists is checked when the container joins).
pub fn network_mode(value: &str) -> Result<NetworkMode, SpecError> {
    match value {
        "none" => Ok(NetworkMode::None),
        "host" => Ok(NetworkMode::Host),
        "bridge" | "default" => Ok(NetworkMode::Bridge),
        other => {
            if let Some(target) = other.strip_prefix("container:") {
                if target.is_empty() {
                    return Err(SpecError::flag(
                        "--network",
                        "container: without a container".to_string(),
                        "use --network container:NAME (a running container's name or id)",
                    ));
                }
                return Ok(NetworkMode::Container);
            }
            let mut chars = other.chars();
            let valid = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
                && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
            if valid {
                Ok(NetworkMode::Named)
            } else {
                let shown: String = other.chars().take(64).collect();
                Err(SpecError::flag(
                    "--network",
                    format!("network {shown:?} is not a valid network name"),
                    "use --network bridge, none, host, container:NAME or a network from `tinibox network ls`",
                ))
            }
        }
    }
}

/// The network (`Named`) or container (`Container`) a `--network` value names.
pub fn network_target(value: &str) -> &str {
    value.strip_prefix("container:").unwrap_or(value)
}

/// Parses `--add-host HOST:IP` values into (name, address) pairs.
pub fn extra_hosts(values: &[String]) -> Result<Vec<(String, String)>, SpecError> {
    values
        .iter()
        .map(|v| {
            let bad = |what: &str| {
                SpecError::flag(
                    "--add-host",
                    format!("{v:?}: {what}"),
                    "write it as HOST:IP, e.g. --add-host db:192.0.2.9",
                )
            };
            let (name, addr) = v
                .split_once(':')
                .or_else(|| v.split_once('='))
                .ok_or_else(|| bad("no ':' between host and address"))?;
            if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '#') {
                return Err(bad("the host name is empty or has spaces"));
            }
            let addr = addr.trim_start_matches('[').trim_end_matches(']');
            addr.parse::<std::net::IpAddr>()
                .map_err(|_| bad("not an IP address after the host name"))?;
            Ok((name.to_string(), addr.to_string()))
        })
        .collect()
}

/// Checks one `--dns-search` domain before it goes into the container's resolv.conf
/// (resolv.conf(5): a `search` line of names separated by spaces; Docker's CLI takes the same
/// shape): `.` (no search domain), or dot-separated labels of ASCII letters, digits and `-`
/// (not at a label's ends), up to 63 characters each and 255 in all, a final dot allowed.
/// Anything else, a newline or a space above all, could add other lines to the file.
///
/// Errors: [`SpecError`] naming `--dns-search` and the value, cut to 64 characters.
pub fn dns_search_domain(value: &str) -> Result<(), SpecError> {
    let name = value.strip_suffix('.').unwrap_or(value);
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if value == "." || (value.len() <= 255 && name.split('.').all(label_ok)) {
        return Ok(());
    }
    let shown: String = value.chars().take(64).collect();
    let cut = if shown.len() < value.len() { "…" } else { "" };
    Err(SpecError::flag(
        "--dns-search",
        format!("{shown:?}{cut} is not a domain name"),
        "give a domain such as example.org (letters, digits, - and dots)",
    ))
}

/// Parses a capability name (`NET_ADMIN`, `cap_net_admin`); `None` for `ALL`.
pub fn parse_capability(flag: &str, value: &str) -> Result<Option<Capability>, SpecError> {
    let up = value.trim().to_ascii_uppercase();
    if up == "ALL" {
        return Ok(None);
    }
    let name = up.strip_prefix("CAP_").unwrap_or(&up);
    name.parse::<Capability>().map(Some).map_err(|_| {
        SpecError::flag(
            flag,
            format!("unknown capability {value:?}"),
            "use a name from capabilities(7) such as NET_ADMIN, or ALL",
        )
    })
}

/// Checks a `--name`: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, not 64 hex digits (that is an id).
pub fn validate_name(name: &str) -> Result<(), SpecError> {
    let mut chars = name.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        && name.len() <= 128;
    if !ok {
        return Err(SpecError::flag(
            "--name",
            format!("invalid name {name:?}"),
            "use letters, digits, _ . - (starting with a letter or digit)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_search_domains_are_names_not_lines() {
        for ok in [
            "example.org",
            "example.org.",
            ".",
            "a",
            "a-b.c0",
            "svc.cluster.local",
        ] {
            assert!(dns_search_domain(ok).is_ok(), "{ok}");
        }
        let long_label = "a".repeat(64);
        let long_name = ["a"; 128].join(".") + ".a";
        for bad in [
            "a\nnameserver 6.6.6.6",
            "a b",
            "",
            "..",
            "a..b",
            "-a.org",
            "a-.org",
            "a#b",
            "é.org",
            "日本語",
            long_label.as_str(),
            long_name.as_str(),
        ] {
            let e = dns_search_domain(bad).unwrap_err().to_string();
            assert!(
                e.contains("--dns-search") && !e.contains('\n'),
                "{bad:?}: {e}"
            );
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("-m", "32m").unwrap(), 32 << 20);
        assert_eq!(parse_size("-m", "1g").unwrap(), 1 << 30);
        assert_eq!(parse_size("-m", "1.5K").unwrap(), 1536);
        assert_eq!(parse_size("-m", "4096").unwrap(), 4096);
        assert_eq!(parse_size("-m", "10mb").unwrap(), 10 << 20);
        let e = parse_size("--memory", "lots").unwrap_err().to_string();
        assert!(e.starts_with("--memory: invalid size"), "{e}");
        assert!(parse_size("-m", "-5m").is_err());
        let e = parse_size("-m", "0.5").unwrap_err().to_string();
        assert!(e.contains("less than one byte"), "{e}");
        assert_eq!(parse_memory("6m").unwrap(), 6 << 20);
        for small in ["1", "5m", "6291455"] {
            let e = parse_memory(small).unwrap_err().to_string();
            assert!(e.starts_with("--memory:") && e.contains("6 MiB"), "{e}");
        }
        let e = parse_cpus("0.001", 2).unwrap_err().to_string();
        assert!(e.contains("0.01"), "{e}");
        assert!(parse_cpus("0.01", 2).is_ok());
        assert!(parse_size("-m", "").is_err());
    }

    #[test]
    fn cpus() {
        assert_eq!(parse_cpus("0.5", 2).unwrap(), (50_000, 100_000));
        assert!(parse_cpus("0", 2).is_err());
        assert!(parse_cpus("abc", 2).is_err());
        assert!(parse_cpus("3", 2).is_err());
    }

    #[test]
    fn ulimits() {
        assert_eq!(
            parse_ulimit("nofile=1024:2048").unwrap(),
            (PosixRlimitType::RlimitNofile, 1024, 2048)
        );
        assert_eq!(
            parse_ulimit("nproc=50").unwrap(),
            (PosixRlimitType::RlimitNproc, 50, 50)
        );
        assert!(parse_ulimit("bogus=1").is_err());
        assert!(parse_ulimit("nofile=10:5").is_err());
        assert!(parse_ulimit("nofile").is_err());
    }

    #[test]
    fn volumes() {
        let yes = |_: &Path| true;
        let v = parse_volume("/tmp:/data:ro", yes).unwrap();
        assert_eq!(v.destination, "/data");
        assert!(v.readonly);
        assert!(!parse_volume("/tmp:/data", yes).unwrap().readonly);
        let e = parse_volume("/no/such/dir/xyz:/data", |_| false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not exist"), "{e}");
        assert!(parse_volume("rel:/data", yes).is_err());
        assert!(parse_volume("/tmp:rel", yes).is_err());
        assert!(parse_volume("/tmp:/data:rx", yes).is_err());
    }

    #[test]
    fn tmpfs_and_caps_and_names() {
        let (d, o) = parse_tmpfs("/scratch:size=1m,exec").unwrap();
        assert_eq!(d, "/scratch");
        assert!(o.contains(&"size=1m".to_string()) && !o.contains(&"noexec".to_string()));
        assert!(parse_tmpfs("scratch").is_err());
        assert_eq!(
            parse_capability("--cap-add", "net_admin").unwrap(),
            Some(Capability::NetAdmin)
        );
        assert_eq!(
            parse_capability("--cap-add", "CAP_SYS_ADMIN").unwrap(),
            Some(Capability::SysAdmin)
        );
        assert_eq!(parse_capability("--cap-drop", "all").unwrap(), None);
        assert!(parse_capability("--cap-add", "FLY").is_err());
        assert!(validate_name("web-1.a_b").is_ok());
        assert!(validate_name("-bad").is_err());
        assert!(validate_name("has space").is_err());
    }

    #[test]
    fn env() {
        assert_eq!(
            env_entry("-e", "B", |_| Some("2")).unwrap(),
            Some("B=2".into())
        );
        let none = |_: &str| None;
        assert_eq!(env_entry("-e", "A=1", none).unwrap(), Some("A=1".into()));
        assert_eq!(env_entry("-e", "A=", none).unwrap(), Some("A=".into()));
        assert!(env_entry("-e", "=x", none).is_err());
        assert_eq!(env_entry("-e", "B", none).unwrap(), None);
        assert_eq!(
            parse_env_file("# comment\n\nFOO=bar baz\nEMPTY=\nUNSET\n", none).unwrap(),
            vec!["FOO=bar baz".to_string(), "EMPTY=".to_string()]
        );
    }
}
