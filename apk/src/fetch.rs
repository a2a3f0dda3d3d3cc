//! Getting bytes from a repository location: `http://`, `https://` (with the `tls` cargo
//! feature: ureq with rustls and the ring provider), `file://PATH` and plain paths. HTTPS
//! trusts, as OpenSSL-based tools do, the PEM bundle `$SSL_CERT_FILE` names, else the
//! system's CA bundle (Debian's and TiniLinux's `/etc/ssl/certs/ca-certificates.crt`, or
//! Fedora's or Alpine's path), else — with the `https` feature, the host build's default —
//! Mozilla's roots built in. Without `tls`, or with no certificate to trust, an `https://`
//! location is refused with a one-line error: use an `http://` mirror, the signatures on
//! indexes and packages still hold. On a terminal (and unless quiet) a progress line shows
//! the bytes received.
//!
//! This module knows URLs and bytes only, not what they contain.

use std::io::{IsTerminal, Read, Write};
use std::time::{Duration, Instant};

/// Why a download failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The server answered with an error status.
    #[error("{url}: HTTP {status}")]
    Status {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
    },
    /// Network or TLS failure.
    #[error("{url}: {message}")]
    Network {
        /// The URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// A local file could not be read.
    #[error("{path}: {source}")]
    File {
        /// The path.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

impl FetchError {
    /// True when the resource does not exist (HTTP 404, missing file).
    pub fn is_not_found(&self) -> bool {
        match self {
            FetchError::Status { status, .. } => *status == 404 || *status == 410,
            FetchError::File { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
            FetchError::Network { .. } => false,
        }
    }
}

/// The system CA bundles looked for, in order (Debian's and TiniLinux's first).
#[cfg(feature = "tls")]
const SYSTEM_BUNDLES: [&str; 4] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
    "/etc/ssl/certs/ca-bundle.crt",
];

/// The certificates of the first readable bundle among `$SSL_CERT_FILE` and
/// [`SYSTEM_BUNDLES`] that holds any (a set but unusable `SSL_CERT_FILE` gets a warning);
/// else Mozilla's built-in roots with the `https` feature; else None (HTTPS is refused).
#[cfg(feature = "tls")]
fn trusted_roots() -> Option<ureq::tls::RootCerts> {
    let from_env = std::env::var_os("SSL_CERT_FILE").map(std::path::PathBuf::from);
    let candidates = from_env
        .iter()
        .cloned()
        .chain(SYSTEM_BUNDLES.iter().map(std::path::PathBuf::from));
    for path in candidates {
        let Ok(pem) = std::fs::read(&path) else {
            if from_env.as_ref() == Some(&path) {
                eprintln!("WARNING: SSL_CERT_FILE {}: cannot read it", path.display());
            }
            continue;
        };
        let certs: Vec<_> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        if !certs.is_empty() {
            return Some(ureq::tls::RootCerts::new_with_certs(&certs));
        }
        if from_env.as_ref() == Some(&path) {
            eprintln!(
                "WARNING: SSL_CERT_FILE {}: no certificate found",
                path.display()
            );
        }
    }
    if cfg!(feature = "https") {
        Some(ureq::tls::RootCerts::WebPki)
    } else {
        None
    }
}

/// A reusable downloader.
pub struct Fetcher {
    agent: ureq::Agent,
    progress: bool,
    /// False when an `https://` location cannot be checked (no `tls`, or no certificates).
    https: bool,
}

/// Is this location remote (http or https)?
pub fn is_remote(location: &str) -> bool {
    location.starts_with("http://") || location.starts_with("https://")
}

/// The local path of a `file://` URL or a plain path.
pub fn local_path(location: &str) -> &str {
    location.strip_prefix("file://").unwrap_or(location)
}

impl Fetcher {
    /// A fetcher; `quiet` turns the progress line off (it is also off when stderr is not a
    /// terminal).
    pub fn new(quiet: bool) -> Self {
        let config = ureq::Agent::config_builder();
        #[cfg(feature = "tls")]
        let roots = trusted_roots();
        #[cfg(feature = "tls")]
        let https = roots.is_some();
        #[cfg(not(feature = "tls"))]
        let https = false;
        #[cfg(feature = "tls")]
        let config = {
            let mut tls = ureq::tls::TlsConfig::builder().unversioned_rustls_crypto_provider(
                std::sync::Arc::new(rustls::crypto::ring::default_provider()),
            );
            if let Some(roots) = roots {
                tls = tls.root_certs(roots);
            }
            config.tls_config(tls.build())
        };
        let config = config
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_body(Some(Duration::from_secs(300)))
            .user_agent(concat!("tinilinux-apk/", env!("CARGO_PKG_VERSION")))
            .build();
        Fetcher {
            agent: config.into(),
            progress: !quiet && std::io::stderr().is_terminal(),
            https,
        }
    }

    /// Reads the whole resource at `location`; `label` names it on the progress line.
    pub fn get(&self, location: &str, label: &str) -> Result<Vec<u8>, FetchError> {
        if !is_remote(location) {
            let path = local_path(location);
            return std::fs::read(path).map_err(|source| FetchError::File {
                path: path.to_string(),
                source,
            });
        }
        let net = |e: &dyn std::fmt::Display| FetchError::Network {
            url: location.to_string(),
            message: e.to_string(),
        };
        if !self.https && location.starts_with("https://") {
            let why = if cfg!(feature = "tls") {
                "no CA certificates to check the server with: install a bundle at \
                 /etc/ssl/certs/ca-certificates.crt or name one in SSL_CERT_FILE, or use an \
                 http:// mirror (indexes and packages are signed, so plain HTTP is safe for them)"
            } else {
                "this apk is built without TLS; use an http:// mirror \
                 (indexes and packages are signed, so plain HTTP is safe for them)"
            };
            return Err(net(&why));
        }
        let mut resp = match self.agent.get(location).call() {
            Ok(r) => r,
            Err(ureq::Error::StatusCode(status)) => {
                return Err(FetchError::Status {
                    url: location.to_string(),
                    status,
                })
            }
            Err(e) => return Err(net(&e)),
        };
        let total: Option<u64> = resp
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let mut reader = resp.body_mut().as_reader();
        let mut out = Vec::with_capacity(total.unwrap_or(0).min(1 << 28) as usize);
        let mut buf = vec![0u8; 64 * 1024];
        let mut last = Instant::now();
        let mut shown = false;
        loop {
            let n = reader.read(&mut buf).map_err(|e| net(&e))?;
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
            if self.progress && last.elapsed() > Duration::from_millis(100) {
                last = Instant::now();
                shown = true;
                self.show(label, out.len() as u64, total);
            }
        }
        if let Some(t) = total {
            if out.len() as u64 != t {
                return Err(net(&format!(
                    "short read: {} of {t} bytes (connection cut)",
                    out.len()
                )));
            }
        }
        if shown {
            eprint!("\r\x1b[K");
            let _ = std::io::stderr().flush();
        }
        Ok(out)
    }

    fn show(&self, label: &str, got: u64, total: Option<u64>) {
        let label: String = label.chars().take(40).collect();
        match total {
            Some(t) if t > 0 => eprint!(
                "\r\x1b[K{label}  {:>3}%  {} / {} KiB",
                got * 100 / t,
                got / 1024,
                t / 1024
            ),
            _ => eprint!("\r\x1b[K{label}  {} KiB", got / 1024),
        }
        let _ = std::io::stderr().flush();
    }
}
