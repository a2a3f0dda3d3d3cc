//! One registry connection: the HTTP agent (rustls, roots from `tls`), the scheme (HTTPS, or
//! HTTP for loopback/insecure registries when HTTPS does not answer), authentication
//! (anonymous, Basic, or Bearer tokens fetched from the challenge's realm for the session's
//! scopes and renewed when they expire) and retries.
//!
//! Retries: transport errors and 429/500/502/503/504 answers are retried up to 4 more times
//! after 0.25, 0.5, 1 and 2 s (or the server's `Retry-After`, at most 10 s). A 401 is answered
//! once by (re-)authenticating; a second 401 is an [`RegistryError::Unauthorized`].
//! `Authorization` is never sent along a redirect (ureq's `RedirectAuthHeaders::Never`).
//! Follows the OCI distribution spec v1.1 (`GET /v2/` as the ping) and Docker's token
//! authentication specification.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ureq::http::{Method, Request, Response, StatusCode};
use ureq::tls::{RootCerts, TlsConfig};
use ureq::{Agent, Body, SendBody};

use super::auth::{parse_challenge, parse_token, Challenge, Credentials};
use super::error::{RegistryError, Result};
use super::tls;

/// Longest manifest, index or token answer read into memory (bytes).
pub const DOCUMENT_LIMIT: u64 = 8 << 20;
const ATTEMPTS: u32 = 5;

#[derive(Default)]
struct AuthState {
    header: Option<String>,
    expires: Option<Instant>,
    challenge: Option<Challenge>,
}

/// A request body that can be sent again on a retry.
pub enum Payload<'a> {
    /// No body.
    Empty,
    /// Bytes in memory.
    Bytes(&'a [u8]),
    /// `len` bytes of a file from `offset`.
    File {
        /// The file.
        path: &'a std::path::Path,
        /// Where to start.
        offset: u64,
        /// How many bytes.
        len: u64,
    },
}

/// A connection to one registry, shared by the threads of one pull or push.
pub struct Client {
    host: String,
    base: String,
    agent: Agent,
    creds: Option<Credentials>,
    scopes: Vec<String>,
    auth: Mutex<AuthState>,
}

/// The agent for `host`, and whether it has root certificates to check a server with. Without
/// any, the agent trusts no certificate at all (every HTTPS handshake fails), which is what
/// lets a loopback or insecure registry still be reached over plain HTTP.
fn agent_for(host: &str) -> (Agent, bool) {
    let roots = tls::roots_for(host);
    let has_roots = roots.is_some();
    let tls = TlsConfig::builder()
        .root_certs(roots.unwrap_or_else(|| RootCerts::Specific(Arc::new(Vec::new()))))
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .build();
    let agent = Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .max_redirects(5)
        .timeout_connect(Some(Duration::from_secs(15)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .timeout_recv_body(None)
        .timeout_per_read(Some(Duration::from_secs(60)))
        .user_agent(concat!("tinibox/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    (agent, has_roots)
}

/// Explains a transport error in one phrase with a hint.
pub fn describe(host: &str, err: &ureq::Error) -> String {
    let text = err.to_string();
    let lower = text.to_ascii_lowercase();
    if lower.contains("unknownissuer") || lower.contains("unknown issuer") {
        format!("{text} — put the registry's CA certificate in /etc/tinibox/certs.d/{host}/ca.crt")
    } else if lower.contains("connection refused") {
        format!("{text} — is the registry running and the port right?")
    } else if matches!(err, ureq::Error::HostNotFound)
        || lower.contains("failed to lookup address")
        || lower.contains("name or service not known")
        || lower.contains("temporary failure in name resolution")
    {
        let name = host.rsplit_once(':').map_or(host, |(h, _)| h);
        if !name.contains('.')
            && name != "localhost"
            && name.chars().any(|c| c.is_ascii_uppercase())
        {
            // Docker's grammar reads a first component with an uppercase letter as a host.
            format!(
                "{text} — '{name}' was read as a registry host because it has an uppercase \
                 letter; repository names must be lowercase"
            )
        } else {
            format!(
                "{text} — the name {name} could not be resolved: check it, and the DNS \
                 servers in /etc/resolv.conf (is the network up?)"
            )
        }
    } else {
        text
    }
}

fn retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
}

fn backoff(attempt: u32, retry_after: Option<u64>) -> Duration {
    match retry_after {
        Some(s) => Duration::from_secs(s.min(10)),
        None => Duration::from_millis(250u64 << attempt.min(4)),
    }
}

impl Client {
    /// Connects to `host` (the API host, `host[:port]`) for `scopes` (Docker token scopes such
    /// as `repository:library/alpine:pull`): picks the scheme with a `GET /v2/` ping and
    /// authenticates when the ping asks for it. `creds` are used for Basic auth and token
    /// requests; without them access is anonymous.
    pub fn connect(host: &str, scopes: Vec<String>, creds: Option<Credentials>) -> Result<Client> {
        let (agent, has_roots) = agent_for(host);
        if !has_roots && !tls::http_allowed(host) {
            return Err(RegistryError::Unreachable {
                host: host.to_string(),
                problem: format!(
                    "no CA certificates to check its TLS certificate with — install a CA \
                     bundle ({})",
                    tls::WHERE_ROOTS_ARE
                ),
            });
        }
        let mut client = Client {
            host: host.to_string(),
            base: format!("https://{host}"),
            agent,
            creds,
            scopes,
            auth: Mutex::new(AuthState::default()),
        };
        let ping = client.raw(
            &Method::GET,
            &format!("{}/v2/", client.base),
            &[],
            &Payload::Empty,
        );
        let response = match ping {
            Ok(r) => r,
            Err(https_err) if tls::http_allowed(host) => {
                client.base = format!("http://{host}");
                let https_failed = || RegistryError::Unreachable {
                    host: host.to_string(),
                    problem: describe(host, &https_err),
                };
                let plain = client
                    .raw(
                        &Method::GET,
                        &format!("{}/v2/", client.base),
                        &[],
                        &Payload::Empty,
                    )
                    .map_err(|_| https_failed())?;
                // Only a registry's answer counts (a TLS server answers plain HTTP with 400).
                if !(plain.status().is_success() || plain.status() == StatusCode::UNAUTHORIZED) {
                    return Err(https_failed());
                }
                plain
            }
            Err(e) => {
                return Err(RegistryError::Unreachable {
                    host: host.to_string(),
                    problem: describe(host, &e),
                })
            }
        };
        if response.status() == StatusCode::UNAUTHORIZED {
            let challenge = challenge_of(&response);
            client.authenticate(challenge)?;
        }
        Ok(client)
    }

    /// Checks `creds` against the registry at `host` (what `login` does): the `/v2/` ping must
    /// succeed with them.
    pub fn login(host: &str, creds: Credentials) -> Result<()> {
        let client = Client::connect(host, Vec::new(), Some(creds))?;
        let mut response = client.send(Method::GET, "/v2/", &[], Payload::Empty)?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(client.unexpected("GET /v2/", &mut response))
        }
    }

    /// `host[:port]` of this registry.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `https://host` or `http://host`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends a request without auth or retries.
    fn raw(
        &self,
        method: &Method,
        url: &str,
        headers: &[(&str, String)],
        payload: &Payload,
    ) -> std::result::Result<Response<Body>, ureq::Error> {
        let mut builder = Request::builder().method(method.clone()).uri(url);
        for (k, v) in headers {
            builder = builder.header(*k, v.as_str());
        }
        match payload {
            Payload::Empty => {
                let request = builder.body(()).map_err(ureq::Error::Http)?;
                self.agent.run(request)
            }
            Payload::Bytes(b) => {
                let request = builder.body(*b).map_err(ureq::Error::Http)?;
                self.agent.run(request)
            }
            Payload::File { path, offset, len } => {
                use std::io::{Read, Seek, SeekFrom};
                let mut file = std::fs::File::open(path).map_err(ureq::Error::Io)?;
                file.seek(SeekFrom::Start(*offset))
                    .map_err(ureq::Error::Io)?;
                let mut reader = file.take(*len);
                let request = builder
                    .header("content-length", len.to_string())
                    .body(SendBody::from_reader(&mut reader))
                    .map_err(ureq::Error::Http)?;
                self.agent.run(request)
            }
        }
    }

    /// Answers a challenge: stores the `Authorization` value to send from now on.
    fn authenticate(&self, challenge: Option<Challenge>) -> Result<()> {
        let unauthorized = |problem: String| RegistryError::Unauthorized {
            host: self.host.clone(),
            problem,
        };
        let Some(challenge) = challenge else {
            return Err(unauthorized(
                "401 without a WWW-Authenticate challenge".into(),
            ));
        };
        let mut state = self
            .auth
            .lock()
            .map_err(|_| unauthorized("auth state poisoned".into()))?;
        match challenge.scheme.as_str() {
            "basic" => {
                let creds = self.creds.as_ref().ok_or_else(|| {
                    unauthorized("the registry asks for a user name and password".into())
                })?;
                state.header = Some(creds.basic_header());
                state.expires = None;
            }
            "bearer" => {
                let token = self.fetch_token(&challenge)?;
                state.header = Some(format!("Bearer {}", token.token));
                state.expires = Some(token.expires);
            }
            other => {
                return Err(unauthorized(format!(
                    "unsupported authentication scheme '{other}'"
                )))
            }
        }
        state.challenge = Some(challenge);
        Ok(())
    }

    fn fetch_token(&self, challenge: &Challenge) -> Result<super::auth::Token> {
        let unauthorized = |problem: String| RegistryError::Unauthorized {
            host: self.host.clone(),
            problem,
        };
        let realm = challenge
            .realm
            .as_deref()
            .ok_or_else(|| unauthorized("bearer challenge without a realm".into()))?;
        let realm_host = realm
            .strip_prefix("https://")
            .or_else(|| realm.strip_prefix("http://"))
            .map(|r| r.split(['/', '?']).next().unwrap_or(r))
            .ok_or_else(|| unauthorized(format!("token realm '{realm}' is not an http(s) URL")))?;
        if realm.starts_with("http://") && !tls::http_allowed(realm_host) {
            return Err(unauthorized(format!(
                "refusing to send credentials to the plain-HTTP token realm {realm}"
            )));
        }
        let mut query = Vec::new();
        if let Some(service) = &challenge.service {
            query.push(format!("service={}", encode(service)));
        }
        let mut scopes = self.scopes.clone();
        if let Some(s) = &challenge.scope {
            for one in s.split(' ') {
                if !one.is_empty() && !scopes.iter().any(|x| x == one) {
                    scopes.push(one.to_string());
                }
            }
        }
        for scope in &scopes {
            query.push(format!("scope={}", encode(scope)));
        }
        let sep = if realm.contains('?') { '&' } else { '?' };
        let url = if query.is_empty() {
            realm.to_string()
        } else {
            format!("{realm}{sep}{}", query.join("&"))
        };
        let mut headers = Vec::new();
        if let Some(c) = &self.creds {
            headers.push(("authorization", c.basic_header()));
        }
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                std::thread::sleep(backoff(attempt - 1, None));
            }
            let mut response = match self.raw(&Method::GET, &url, &headers, &Payload::Empty) {
                Ok(r) => r,
                Err(e) => {
                    last = format!("token server {realm_host}: {}", describe(realm_host, &e));
                    continue;
                }
            };
            let status = response.status();
            if retryable(status) {
                last = format!("token server answered {status}");
                continue;
            }
            if !status.is_success() {
                return Err(unauthorized(format!("the token server answered {status}")));
            }
            let body = response
                .body_mut()
                .with_config()
                .limit(DOCUMENT_LIMIT)
                .read_to_vec()
                .map_err(|e| unauthorized(format!("reading the token: {e}")))?;
            return parse_token(&body)
                .ok_or_else(|| unauthorized("the token server's answer holds no token".into()));
        }
        Err(RegistryError::Unreachable {
            host: realm_host.to_string(),
            problem: last,
        })
    }

    fn current_auth(&self) -> Option<String> {
        let (header, challenge) = {
            let state = self.auth.lock().ok()?;
            let expired = state.expires.is_some_and(|e| Instant::now() >= e);
            if !expired {
                return state.header.clone();
            }
            (state.header.clone(), state.challenge.clone())
        };
        // Renew an expired token; on failure keep the old one (the server will say).
        match self.authenticate(challenge) {
            Ok(()) => self.auth.lock().ok()?.header.clone(),
            Err(_) => header,
        }
    }

    /// Sends a request to `path` (below the base URL, or an absolute URL) with auth and
    /// retries; returns the final response whatever its status (except 401 after
    /// re-authenticating, which is an error).
    pub fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        payload: Payload,
    ) -> Result<Response<Body>> {
        let url = if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        };
        let mut reauthenticated = false;
        let mut attempt = 0;
        loop {
            let mut all: Vec<(&str, String)> = headers.to_vec();
            if let Some(a) = self.current_auth() {
                all.push(("authorization", a));
            }
            match self.raw(&method, &url, &all, &payload) {
                Ok(response) => {
                    let status = response.status();
                    if status == StatusCode::UNAUTHORIZED {
                        if reauthenticated {
                            return Err(RegistryError::Unauthorized {
                                host: self.host.clone(),
                                problem: format!("{method} {path} answered 401"),
                            });
                        }
                        reauthenticated = true;
                        self.authenticate(challenge_of(&response))?;
                        continue;
                    }
                    if retryable(status) && attempt + 1 < ATTEMPTS {
                        let after = response
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.trim().parse().ok());
                        std::thread::sleep(backoff(attempt, after));
                        attempt += 1;
                        continue;
                    }
                    return Ok(response);
                }
                Err(e) => {
                    if attempt + 1 < ATTEMPTS {
                        std::thread::sleep(backoff(attempt, None));
                        attempt += 1;
                        continue;
                    }
                    return Err(RegistryError::Unreachable {
                        host: self.host.clone(),
                        problem: describe(&self.host, &e),
                    });
                }
            }
        }
    }

    /// A protocol error for an unexpected answer, with the registry's error message if any.
    pub fn unexpected(&self, what: &str, response: &mut Response<Body>) -> RegistryError {
        let status = response.status();
        let body = response
            .body_mut()
            .with_config()
            .limit(64 << 10)
            .read_to_vec()
            .unwrap_or_default();
        let message = registry_message(&body);
        if status == StatusCode::NOT_FOUND {
            return RegistryError::NotFound {
                host: self.host.clone(),
                what: what.to_string(),
            };
        }
        if status == StatusCode::FORBIDDEN {
            return RegistryError::Unauthorized {
                host: self.host.clone(),
                problem: format!("{what}: 403 {message}").trim_end().to_string(),
            };
        }
        RegistryError::Protocol {
            host: self.host.clone(),
            problem: format!("{what}: the registry answered {status} {message}")
                .trim_end()
                .to_string(),
        }
    }
}

/// The first message of an OCI error body (`{"errors":[{"code","message"}]}`), cut to 200
/// characters.
fn registry_message(body: &[u8]) -> String {
    let value: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => return String::new(),
    };
    let first = &value["errors"][0];
    let text = match (first["code"].as_str(), first["message"].as_str()) {
        (Some(c), Some(m)) => format!("({c}: {m})"),
        (Some(c), None) => format!("({c})"),
        _ => String::new(),
    };
    text.chars().take(200).collect()
}

fn challenge_of(response: &Response<Body>) -> Option<Challenge> {
    response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(parse_challenge)
        .max_by_key(|c| c.scheme == "bearer")
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
pub fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_encoding_and_messages() {
        assert_eq!(
            encode("repository:a/b:pull,push"),
            "repository%3Aa%2Fb%3Apull%2Cpush"
        );
        assert_eq!(
            registry_message(
                br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#
            ),
            "(MANIFEST_UNKNOWN: manifest unknown)"
        );
        assert_eq!(registry_message(b"<html>"), "");
        assert_eq!(backoff(0, None), Duration::from_millis(250));
        assert_eq!(backoff(3, Some(100)), Duration::from_secs(10));
    }

    #[test]
    fn a_name_that_does_not_resolve_gets_a_hint() {
        let lookup = || {
            ureq::Error::Io(std::io::Error::other(
                "failed to lookup address information: Name or service not known",
            ))
        };
        let upper = describe("UPPER", &lookup());
        assert!(
            upper.contains("repository names must be lowercase"),
            "{upper}"
        );
        let hub = describe("registry-1.docker.io", &lookup());
        assert!(hub.contains("/etc/resolv.conf"), "{hub}");
    }
}
