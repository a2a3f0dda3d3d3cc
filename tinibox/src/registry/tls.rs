//! Which certificates a registry's TLS connection trusts, and whether plain HTTP is allowed.
//!
//! Roots: the system CA bundle (`$SSL_CERT_FILE`, else the first of Debian's, Fedora's and
//! Alpine's/TiniLinux's bundle paths) plus every `*.crt` in the registry's `certs.d` folder —
//! Docker's convention, `CERTS_D/HOST[:PORT]/ca.crt` — where `CERTS_D` is `$TINIBOX_CERTS_D`,
//! `/etc/tinibox/certs.d` and `/etc/docker/certs.d`. With neither, Mozilla's roots built into
//! the binary are used when it was built with the `mozilla-roots` feature (the host build);
//! TiniLinux's build leaves them out because the distro ships Debian's bundle at the first
//! path, and without any roots only plain-HTTP registries can be reached. Plain HTTP is allowed only for loopback registries (`localhost`,
//! `127.0.0.0/8`, `::1`) and those listed in `$TINIBOX_INSECURE_REGISTRIES` (comma-separated
//! `HOST[:PORT]`), as Docker allows `--insecure-registry`; HTTPS is still tried first.

use std::path::PathBuf;
use std::sync::Arc;

use ureq::tls::{Certificate, PemItem, RootCerts};

const SYSTEM_BUNDLES: [&str; 4] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
    "/etc/ssl/certs/ca-bundle.crt",
];

/// The `certs.d` folders searched, most specific first.
pub fn certs_d_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = std::env::var_os("TINIBOX_CERTS_D").filter(|d| !d.is_empty()) {
        dirs.push(PathBuf::from(d));
    }
    dirs.push(PathBuf::from("/etc/tinibox/certs.d"));
    dirs.push(PathBuf::from("/etc/docker/certs.d"));
    dirs
}

fn pem_certs(bytes: &[u8], out: &mut Vec<Certificate<'static>>) {
    for item in ureq::tls::parse_pem(bytes).flatten() {
        if let PemItem::Certificate(c) = item {
            out.push(c);
        }
    }
}

/// Where this binary looks for CA certificates, for error messages.
pub const WHERE_ROOTS_ARE: &str =
    "/etc/ssl/certs/ca-certificates.crt, $SSL_CERT_FILE or /etc/tinibox/certs.d/HOST:PORT/ca.crt";

/// The root certificates for connections to `host` (`host[:port]`): the system bundle plus
/// the registry's `certs.d` files, else Mozilla's built-in roots (feature `mozilla-roots`),
/// else `None` (no certificate can be checked; see [`WHERE_ROOTS_ARE`]).
pub fn roots_for(host: &str) -> Option<RootCerts> {
    let mut certs = Vec::new();
    let system = std::env::var_os("SSL_CERT_FILE")
        .map(PathBuf::from)
        .into_iter()
        .chain(SYSTEM_BUNDLES.iter().map(PathBuf::from))
        .find(|p| p.is_file());
    if let Some(bundle) = system {
        if let Ok(bytes) = std::fs::read(bundle) {
            pem_certs(&bytes, &mut certs);
        }
    }
    for dir in certs_d_dirs() {
        let Ok(entries) = std::fs::read_dir(dir.join(host)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "crt") {
                if let Ok(bytes) = std::fs::read(&path) {
                    pem_certs(&bytes, &mut certs);
                }
            }
        }
    }
    if !certs.is_empty() {
        return Some(RootCerts::Specific(Arc::new(certs)));
    }
    if cfg!(feature = "mozilla-roots") {
        Some(RootCerts::WebPki)
    } else {
        None
    }
}

/// Whether `host` (`host[:port]`) is a loopback address or name.
pub fn is_loopback(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !h.is_empty() => h,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    if name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    name.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// Whether plain HTTP may be used for `host`.
pub fn http_allowed(host: &str) -> bool {
    if is_loopback(host) {
        return true;
    }
    std::env::var("TINIBOX_INSECURE_REGISTRIES")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .any(|h| !h.is_empty() && h == host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_rules() {
        assert!(is_loopback("localhost:5000"));
        assert!(is_loopback("127.0.0.1:41234"));
        assert!(is_loopback("127.8.9.1"));
        assert!(is_loopback("[::1]:5000"));
        assert!(!is_loopback("10.0.2.2:5000"));
        assert!(!is_loopback("registry.example"));
        assert!(!http_allowed("ghcr.io"));
    }
}
