//! Getting bytes from a repository location: `http://`, `https://` (with the `https` cargo
//! feature: ureq with rustls and the ring provider, Mozilla's roots built in, so no CA bundle
//! is needed on the target), `file://PATH` and plain paths. `SSL_CERT_FILE` (a PEM bundle)
//! replaces the built-in roots, as it does for OpenSSL. Built without `https` (TiniLinux's
//! ISO), an `https://` location is refused with a one-line error: use an `http://` mirror,
//! the signatures on indexes and packages still hold. On a terminal (and unless quiet) a progress line shows the
//! bytes received.
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

/// Trust anchors from the PEM file named by `SSL_CERT_FILE` (as OpenSSL reads it), when set
/// and readable; they replace the built-in roots. None otherwise (or when it holds no
/// certificate; a warning says so).
#[cfg(feature = "https")]
fn roots_from_env() -> Option<ureq::tls::RootCerts> {
    let path = std::env::var_os("SSL_CERT_FILE")?;
    let pem = match std::fs::read(&path) {
        Ok(p) => p,
        Err(e) => {
            eprintln!(
                "WARNING: SSL_CERT_FILE {}: {e}; using the built-in roots",
                std::path::Path::new(&path).display()
            );
            return None;
        }
    };
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        eprintln!(
            "WARNING: SSL_CERT_FILE {}: no certificate found; using the built-in roots",
            std::path::Path::new(&path).display()
        );
        return None;
    }
    Some(ureq::tls::RootCerts::new_with_certs(&certs))
}

/// A reusable downloader.
pub struct Fetcher {
    agent: ureq::Agent,
    progress: bool,
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
        #[cfg(feature = "https")]
        let config = {
            let mut tls = ureq::tls::TlsConfig::builder();
            if let Some(roots) = roots_from_env() {
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
        if cfg!(not(feature = "https")) && location.starts_with("https://") {
            return Err(net(
                &"this apk is built without TLS; use an http:// mirror \
                (indexes and packages are signed, so plain HTTP is safe for them)",
            ));
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
