//! HTTP authentication for registries: parsing `WWW-Authenticate` challenges (RFC 7235's
//! `scheme param="value", …`), building `Basic` credentials (RFC 7617) and reading the answer
//! of a bearer token server (Docker's token authentication: `token` or `access_token`,
//! `expires_in` in seconds, default 60, taken as 10 s to a day).
//!
//! This module parses and formats only; the requests are made by `client`.

use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::Deserialize;

/// One challenge of a `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Challenge {
    /// The scheme, lowercased (`basic`, `bearer`).
    pub scheme: String,
    /// `realm` (for bearer: the token server's URL).
    pub realm: Option<String>,
    /// `service` (bearer).
    pub service: Option<String>,
    /// `scope` (bearer).
    pub scope: Option<String>,
    /// `error` (bearer: `invalid_token`, `insufficient_scope`).
    pub error: Option<String>,
}

/// Parses the first challenge of a `WWW-Authenticate` value; `None` when it has no scheme.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, mut rest) = match header.find(char::is_whitespace) {
        Some(i) => (&header[..i], header[i..].trim_start()),
        None => (header, ""),
    };
    if scheme.is_empty() || scheme.contains('=') {
        return None;
    }
    let mut challenge = Challenge {
        scheme: scheme.to_ascii_lowercase(),
        ..Challenge::default()
    };
    while !rest.is_empty() {
        let Some(eq) = rest.find('=') else { break };
        let key = rest[..eq].trim().to_ascii_lowercase();
        rest = rest[eq + 1..].trim_start();
        let value;
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            out.push(n);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    _ => out.push(c),
                }
            }
            value = out;
            rest = &quoted[end.min(quoted.len())..];
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim().to_string();
            rest = &rest[end..];
        }
        rest = rest.trim_start().trim_start_matches(',').trim_start();
        match key.as_str() {
            "realm" => challenge.realm = Some(value),
            "service" => challenge.service = Some(value),
            "scope" => challenge.scope = Some(value),
            "error" => challenge.error = Some(value),
            _ => {}
        }
    }
    Some(challenge)
}

/// A user name and password (or identity token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password or personal access token.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, ***)", self.username)
    }
}

impl Credentials {
    /// The `Authorization` value for HTTP basic authentication.
    pub fn basic_header(&self) -> String {
        format!("Basic {}", self.encoded())
    }

    /// `base64(user:password)`, as Docker's config.json stores it.
    pub fn encoded(&self) -> String {
        base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", self.username, self.password))
    }

    /// Decodes `base64(user:password)`; `None` when malformed.
    pub fn decode(encoded: &str) -> Option<Credentials> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let (u, p) = text.split_once(':')?;
        Some(Credentials {
            username: u.to_string(),
            password: p.to_string(),
        })
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    token: Option<String>,
    access_token: Option<String>,
    expires_in: Option<u64>,
}

/// A bearer token and when it stops being valid.
#[derive(Debug, Clone)]
pub struct Token {
    /// The token.
    pub token: String,
    /// Instant after which it must be renewed (a little before the server's expiry).
    pub expires: Instant,
}

/// Reads a token server's JSON answer; `None` when it holds no token.
pub fn parse_token(body: &[u8]) -> Option<Token> {
    let answer: TokenAnswer = serde_json::from_slice(body).ok()?;
    let token = answer.token.or(answer.access_token)?;
    if token.is_empty() {
        return None;
    }
    // At most a day: a pull or push is over long before, and a server's huge number would
    // overflow the clock.
    let lifetime = answer.expires_in.unwrap_or(60).clamp(10, 86_400);
    Some(Token {
        token,
        expires: Instant::now() + Duration::from_secs(lifetime - 5),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenge() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
        )
        .unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.realm.as_deref(), Some("https://auth.example/token"));
        assert_eq!(c.service.as_deref(), Some("registry.example"));
        assert_eq!(c.scope.as_deref(), Some("repository:a/b:pull,push"));
        let c = parse_challenge(r#"Basic realm="basic-realm""#).unwrap();
        assert_eq!(c.scheme, "basic");
        let c = parse_challenge(r#"Bearer realm=x, error="invalid_token", scope="a\"b""#).unwrap();
        assert_eq!(c.realm.as_deref(), Some("x"));
        assert_eq!(c.error.as_deref(), Some("invalid_token"));
        assert_eq!(c.scope.as_deref(), Some("a\"b"));
        assert!(parse_challenge("").is_none());
    }

    #[test]
    fn credentials_round_trip() {
        let c = Credentials {
            username: "u".into(),
            password: "p:w".into(),
        };
        assert_eq!(Credentials::decode(&c.encoded()), Some(c.clone()));
        assert_eq!(c.basic_header(), "Basic dTpwOnc=");
        assert!(Credentials::decode("!!").is_none());
    }

    #[test]
    fn token_answers() {
        assert_eq!(
            parse_token(br#"{"token":"t","expires_in":300}"#)
                .unwrap()
                .token,
            "t"
        );
        assert_eq!(parse_token(br#"{"access_token":"a"}"#).unwrap().token, "a");
        assert!(parse_token(br#"{"token":""}"#).is_none());
        assert!(parse_token(b"nope").is_none());
        let huge = parse_token(br#"{"token":"t","expires_in":18446744073709551615}"#).unwrap();
        assert!(huge.expires > Instant::now() + Duration::from_secs(86_000));
    }
}
