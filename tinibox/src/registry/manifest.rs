//! Manifests and indexes on a registry: fetching them (`GET /v2/NAME/manifests/REF` with an
//! `Accept` for OCI manifests and indexes and Docker's schema 2 manifests and lists), checking
//! a digest reference against the bytes, and choosing an index entry by platform
//! (`os/arch[/variant]`, the host's by default; `arm64` without a variant matches `v8`).
//! Documents are parsed with oci-spec's types.

use crate::image::document::parse_document;
use oci_spec::image::{Descriptor, ImageIndex, ImageManifest};
use sha2::{Digest as _, Sha256};
use ureq::http::Method;

use super::client::{Client, Payload, DOCUMENT_LIMIT};
use super::error::{RegistryError, Result};

/// OCI image manifest media type.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index media type.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker schema 2 manifest media type.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker schema 2 manifest list media type.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// A platform `os/arch[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// Operating system (`linux`).
    pub os: String,
    /// Architecture in Go's terms (`amd64`, `arm64`, `arm`, `386`, `ppc64le`, `s390x`, `riscv64`).
    pub arch: String,
    /// Variant (`v7`, `v8`), when given.
    pub variant: Option<String>,
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl Platform {
    /// The platform this tinibox runs on.
    pub fn host() -> Platform {
        let (arch, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", None),
            "aarch64" => ("arm64", None),
            "arm" => ("arm", Some("v7")),
            "x86" => ("386", None),
            "powerpc64" => ("ppc64le", None),
            "riscv64" => ("riscv64", None),
            "s390x" => ("s390x", None),
            other => (other, None),
        };
        Platform {
            os: std::env::consts::OS.to_string(),
            arch: arch.to_string(),
            variant: variant.map(str::to_string),
        }
    }

    /// Parses `os/arch[/variant]`.
    pub fn parse(text: &str) -> std::result::Result<Platform, String> {
        let parts: Vec<&str> = text.split('/').collect();
        let ok = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        };
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(|p| ok(p)) {
            return Err(format!(
                "invalid platform '{text}': use OS/ARCH[/VARIANT], e.g. linux/arm64"
            ));
        }
        Ok(Platform {
            os: parts[0].to_string(),
            arch: match parts[1] {
                "x86_64" | "x86-64" => "amd64".to_string(),
                "aarch64" => "arm64".to_string(),
                a => a.to_string(),
            },
            variant: parts.get(2).map(|v| v.to_string()),
        })
    }

    /// Whether `os/arch[/variant]` is this platform (no variant here: any; `arm64` without a
    /// variant is `v8`).
    pub fn matches(&self, os: &str, arch: &str, variant: Option<&str>) -> bool {
        if self.os != os || self.arch != arch {
            return false;
        }
        let norm = |v: Option<&str>| match (arch, v) {
            ("arm64", None) => Some("v8".to_string()),
            (_, v) => v.map(str::to_string),
        };
        match &self.variant {
            None => true,
            Some(w) => norm(Some(w)) == norm(variant),
        }
    }
}

/// A fetched manifest or index.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The document's bytes, exactly as served.
    pub bytes: Vec<u8>,
    /// `sha256:…` of the bytes.
    pub digest: String,
    /// Its media type (from the document, else the Content-Type).
    pub media_type: String,
}

impl Fetched {
    /// Whether this is an index / manifest list.
    pub fn is_index(&self) -> bool {
        self.media_type == OCI_INDEX || self.media_type == DOCKER_LIST
    }
}

/// `sha256:HEX` of bytes.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Fetches `reference` (tag or digest) of repository `path`.
pub fn fetch(client: &Client, path: &str, reference: &str) -> Result<Fetched> {
    let accept = [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST].join(", ");
    // `NAME:TAG`, or `NAME@DIGEST` for a digest (a digest holds a ':' itself).
    let sep = if reference.contains(':') { '@' } else { ':' };
    let what = format!("manifest {path}{sep}{reference}");
    let mut response = client.send(
        Method::GET,
        &format!("/v2/{path}/manifests/{reference}"),
        &[("accept", accept)],
        Payload::Empty,
    )?;
    if !response.status().is_success() {
        return Err(client.unexpected(&what, &mut response));
    }
    let header_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or(v).trim().to_string())
        .unwrap_or_default();
    let bytes = response
        .body_mut()
        .with_config()
        .limit(DOCUMENT_LIMIT)
        .read_to_vec()
        .map_err(|e| RegistryError::Protocol {
            host: client.host().to_string(),
            problem: format!("reading {what}: {e}"),
        })?;
    let digest = sha256_digest(&bytes);
    if reference.contains(':') && reference != digest {
        return Err(RegistryError::Corrupt {
            host: client.host().to_string(),
            digest: reference.to_string(),
            problem: format!("the manifest served hashes to {digest}"),
        });
    }
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| RegistryError::Protocol {
            host: client.host().to_string(),
            problem: format!("{what} is not JSON: {e}"),
        })?;
    let media_type = match value["mediaType"].as_str() {
        Some(m) => m.to_string(),
        None if value.get("manifests").is_some() => OCI_INDEX.to_string(),
        None if value.get("layers").is_some() => OCI_MANIFEST.to_string(),
        None => header_type,
    };
    if ![OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST].contains(&media_type.as_str()) {
        return Err(RegistryError::Protocol {
            host: client.host().to_string(),
            problem: format!(
                "{what} has media type '{media_type}': tinibox pulls OCI and Docker schema 2 images"
            ),
        });
    }
    Ok(Fetched {
        bytes,
        digest,
        media_type,
    })
}

/// Parses an index and picks the entry for `wanted`; the error lists what the index has.
pub fn select(
    index_bytes: &[u8],
    wanted: &Platform,
    image: &str,
    host: &str,
) -> Result<Descriptor> {
    let index = parse_document::<ImageIndex>(index_bytes).map_err(|e| RegistryError::Protocol {
        host: host.to_string(),
        problem: format!("the index of {image} is not valid: {e}"),
    })?;
    let mut available = Vec::new();
    for desc in index.manifests() {
        let Some(p) = desc.platform() else { continue };
        let (os, arch) = (p.os().to_string(), p.architecture().to_string());
        let variant = p.variant().as_deref();
        if os == "unknown" {
            continue; // attestation manifests
        }
        if wanted.matches(&os, &arch, variant) {
            return Ok(desc.clone());
        }
        available.push(match variant {
            Some(v) => format!("{os}/{arch}/{v}"),
            None => format!("{os}/{arch}"),
        });
    }
    Err(RegistryError::NoPlatform {
        image: image.to_string(),
        wanted: wanted.to_string(),
        available: if available.is_empty() {
            "no platforms".into()
        } else {
            available.join(", ")
        },
    })
}

/// Parses an image manifest.
pub fn parse_manifest(bytes: &[u8], image: &str, host: &str) -> Result<ImageManifest> {
    parse_document::<ImageManifest>(bytes).map_err(|e| RegistryError::Protocol {
        host: host.to_string(),
        problem: format!("the manifest of {image} is not valid: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
      {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":1,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
      {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:2222222222222222222222222222222222222222222222222222222222222222","size":1,"platform":{"os":"linux","architecture":"amd64"}},
      {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:3333333333333333333333333333333333333333333333333333333333333333","size":1,"platform":{"os":"unknown","architecture":"unknown"}}]}"#;

    #[test]
    fn platform_selection() {
        let amd = select(
            INDEX.as_bytes(),
            &Platform::parse("linux/amd64").unwrap(),
            "x",
            "h",
        )
        .unwrap();
        assert!(amd.digest().to_string().ends_with("2222"));
        let arm = select(
            INDEX.as_bytes(),
            &Platform::parse("linux/arm64").unwrap(),
            "x",
            "h",
        )
        .unwrap();
        assert!(arm.digest().to_string().ends_with("1111"));
        let err = select(
            INDEX.as_bytes(),
            &Platform::parse("linux/s390x").unwrap(),
            "x",
            "h",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("linux/arm64/v8, linux/amd64"), "{err}");
        assert!(Platform::parse("linux").is_err());
        assert_eq!(
            Platform::parse("linux/arm/v7").unwrap().to_string(),
            "linux/arm/v7"
        );
    }
}
