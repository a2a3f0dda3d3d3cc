//! Remote image references with Docker's rules (the grammar of `distribution/reference`):
//! `[DOMAIN/]PATH[:TAG][@DIGEST]`.
//!
//! The first `/`-separated component is a domain when it contains `.` or `:`, is `localhost`,
//! or has an uppercase letter; otherwise the domain is `docker.io`, and a one-component path on
//! Docker Hub gets `library/` in front (`alpine` → `docker.io/library/alpine:latest`). Path
//! components are lowercase `[a-z0-9]+` joined by `.`, `_`, `__` or dashes; a tag is
//! `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`; a digest is `ALGO:HEX` (sha256/sha512 checked for
//! length). This module parses and prints only; it does no I/O.

use super::error::RegistryError;

/// Docker Hub's canonical domain in references.
pub const DOCKER_HUB: &str = "docker.io";
/// The host that serves Docker Hub's registry API.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// A parsed remote reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry domain as written (`docker.io`, `localhost:5000`, `ghcr.io`).
    pub domain: String,
    /// Repository path on that registry (`library/alpine`, `team/app`).
    pub path: String,
    /// The tag; `latest` when neither tag nor digest was given.
    pub tag: Option<String>,
    /// The digest (`sha256:…`), when given.
    pub digest: Option<String>,
}

fn invalid(text: &str, why: &str) -> RegistryError {
    RegistryError::Reference(format!("'{text}': {why}"))
}

fn valid_component(c: &str) -> bool {
    if c.is_empty() || !c.starts_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit()) {
        return false;
    }
    if !c.ends_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit()) {
        return false;
    }
    // Separators: '.', '_', '__' or any run of '-'.
    let bytes = c.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_lowercase() || b.is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !(bytes[i].is_ascii_lowercase() || bytes[i].is_ascii_digit()) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.chars().all(|s| s == '-');
        if !ok {
            return false;
        }
    }
    true
}

fn valid_domain(d: &str) -> bool {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (h, Some(p)),
        _ => (d, None),
    };
    if let Some(p) = port {
        if p.is_empty() || p.len() > 5 || !p.chars().all(|c| c.is_ascii_digit()) {
            return false;
        }
    }
    if host.starts_with('[') && host.ends_with(']') {
        return host[1..host.len() - 1]
            .parse::<std::net::Ipv6Addr>()
            .is_ok();
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

fn valid_tag(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 128
        && t.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// Checks a digest `ALGO:HEX` (sha256 needs 64 hex digits, sha512 128).
pub fn valid_digest(d: &str) -> bool {
    let Some((algo, hex)) = d.split_once(':') else {
        return false;
    };
    let want = match algo {
        "sha256" => 64,
        "sha512" => 128,
        _ => return false,
    };
    hex.len() == want
        && hex
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

impl ImageRef {
    /// Parses what a user typed, with Docker's defaults.
    pub fn parse(text: &str) -> Result<ImageRef, RegistryError> {
        if text.is_empty() {
            return Err(invalid(text, "empty reference"));
        }
        if text.chars().count() > 255 + 1 + 128 + 1 + 135 {
            return Err(invalid(text, "too long"));
        }
        let (rest, digest) = match text.split_once('@') {
            Some((r, d)) => {
                if !valid_digest(d) {
                    return Err(invalid(
                        text,
                        "the digest must be sha256:<64 lowercase hex digits>",
                    ));
                }
                (r, Some(d.to_string()))
            }
            None => (text, None),
        };
        let slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match rest[slash..].rfind(':') {
            Some(i) => (&rest[..slash + i], Some(&rest[slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(t) = tag {
            if !valid_tag(t) {
                return Err(invalid(
                    text,
                    "a tag is up to 128 letters, digits, '_', '.' and '-' (not starting with '.' or '-')",
                ));
            }
        }
        let (domain, path) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.')
                    || first.contains(':')
                    || first == "localhost"
                    || first.chars().any(|c| c.is_ascii_uppercase()) =>
            {
                (first.to_string(), rest.to_string())
            }
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        let domain = if domain == "index.docker.io" {
            DOCKER_HUB.to_string()
        } else {
            domain
        };
        if !valid_domain(&domain) {
            return Err(invalid(text, "the registry must be HOST[:PORT]"));
        }
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(invalid(text, "repository names must be lowercase"));
        }
        if !path.split('/').all(valid_component) {
            return Err(invalid(
                text,
                "repository path components are lowercase letters and digits joined by '.', '_', '__' or '-'",
            ));
        }
        if domain.len() + 1 + path.len() > 255 {
            return Err(invalid(text, "the name is longer than 255 characters"));
        }
        let path = if domain == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_string()),
            (None, None) => Some("latest".to_string()),
            (None, Some(_)) => None,
        };
        Ok(ImageRef {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// The host (and port) whose `/v2/` API serves this repository.
    pub fn api_host(&self) -> &str {
        if self.domain == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.domain
        }
    }

    /// What to ask the registry for: the digest when given, otherwise the tag.
    pub fn reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// The name as Docker shows it: `alpine`, `team/app`, `localhost:5000/x`.
    pub fn familiar_name(&self) -> String {
        if self.domain == DOCKER_HUB {
            self.path
                .strip_prefix("library/")
                .filter(|p| !p.contains('/'))
                .unwrap_or(&self.path)
                .to_string()
        } else {
            format!("{}/{}", self.domain, self.path)
        }
    }

    /// The fully qualified name without tag or digest (`docker.io/library/alpine`).
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The reference as Docker prints it (`alpine:latest`, `x@sha256:…`).
    pub fn familiar(&self) -> String {
        match (&self.tag, &self.digest) {
            (Some(t), Some(d)) => format!("{}:{t}@{d}", self.familiar_name()),
            (Some(t), None) => format!("{}:{t}", self.familiar_name()),
            (None, Some(d)) => format!("{}@{d}", self.familiar_name()),
            (None, None) => self.familiar_name(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> ImageRef {
        ImageRef::parse(s).unwrap()
    }

    #[test]
    fn docker_defaults() {
        let r = p("alpine");
        assert_eq!(r.domain, "docker.io");
        assert_eq!(r.path, "library/alpine");
        assert_eq!(r.tag.as_deref(), Some("latest"));
        assert_eq!(r.api_host(), "registry-1.docker.io");
        assert_eq!(r.familiar(), "alpine:latest");
        assert_eq!(p("team/app:v1").path, "team/app");
        assert_eq!(p("docker.io/library/alpine:3").familiar(), "alpine:3");
        assert_eq!(p("index.docker.io/team/app").familiar_name(), "team/app");
    }

    #[test]
    fn domains_ports_and_digests() {
        let r = p("localhost:5000/x");
        assert_eq!(
            (r.domain.as_str(), r.path.as_str()),
            ("localhost:5000", "x")
        );
        assert_eq!(r.familiar(), "localhost:5000/x:latest");
        let r = p("localhost/x:1");
        assert_eq!(r.domain, "localhost");
        let r = p("127.0.0.1:41234/a/b-c__d.e:tag_1");
        assert_eq!(r.path, "a/b-c__d.e");
        let d = format!("sha256:{}", "a".repeat(64));
        let r = p(&format!("ghcr.io/o/i@{d}"));
        assert_eq!(r.tag, None);
        assert_eq!(r.reference(), d);
        let r = p(&format!("ghcr.io/o/i:t@{d}"));
        assert_eq!(r.tag.as_deref(), Some("t"));
        assert_eq!(r.reference(), d);
        assert_eq!(p("[::1]:5000/x").domain, "[::1]:5000");
    }

    #[test]
    fn refusals() {
        for bad in [
            "",
            "Alpine",
            "docker.io/Team/app",
            "a//b",
            "a/-b",
            "a:",
            "a:.x",
            "a@sha256:123",
            "a@md5:00",
            "host:port/x",
            "a b",
            "a/b_-c",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad} should be refused");
        }
        let long_tag = format!("a:{}", "t".repeat(129));
        assert!(ImageRef::parse(&long_tag).is_err());
    }
}
