//! An SPDX 2.3 document in its JSON serialisation (SPDX specification 2.3, clause 5 and the
//! JSON schema `spdx-schema.json`): the document's creation information, packages, files and
//! relationships, with the field names the schema uses.
//!
//! [`Document::to_json`] makes the bytes reproducible: packages and files sorted by SPDXID,
//! relationships sorted and deduplicated, and the `documentNamespace` derived from the
//! sha256 of the rest of the document (so the same inputs give the same namespace, and
//! different ones a different namespace, as the specification asks).

use serde::Serialize;
use sha2::{Digest, Sha256};

/// `NOASSERTION`: the SPDX value for "not known / not stated".
pub const NOASSERTION: &str = "NOASSERTION";

/// One checksum (`algorithm` is `SHA256`, `SHA1`, …).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "camelCase")]
pub struct Checksum {
    /// The algorithm name as SPDX spells it.
    pub algorithm: String,
    /// Lowercase hex.
    pub checksum_value: String,
}

impl Checksum {
    /// A SHA256 checksum.
    pub fn sha256(hex: &str) -> Self {
        Checksum {
            algorithm: "SHA256".into(),
            checksum_value: hex.to_string(),
        }
    }

    /// A SHA1 checksum (SPDX 2.3 requires one on every file).
    pub fn sha1(hex: &str) -> Self {
        Checksum {
            algorithm: "SHA1".into(),
            checksum_value: hex.to_string(),
        }
    }
}

/// An external reference; here always a package URL (purl).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ExternalRef {
    /// `PACKAGE-MANAGER`.
    pub reference_category: String,
    /// `purl`.
    pub reference_type: String,
    /// The purl, e.g. `pkg:cargo/serde@1.0.0`.
    pub reference_locator: String,
}

impl ExternalRef {
    /// A purl reference.
    pub fn purl(locator: String) -> Self {
        ExternalRef {
            reference_category: "PACKAGE-MANAGER".into(),
            reference_type: "purl".into(),
            reference_locator: locator,
        }
    }
}

/// An SPDX package (clause 7).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Package {
    /// `SPDXRef-…`.
    #[serde(rename = "SPDXID")]
    pub spdx_id: String,
    /// Package name.
    pub name: String,
    /// Version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_info: Option<String>,
    /// The file the package came as (`grub-pc-bin_…_amd64.deb`, `busybox_….dsc`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package_file_name: Option<String>,
    /// `Organization: …` or `NOASSERTION`.
    pub supplier: String,
    /// Where it can be downloaded, or `NOASSERTION`.
    pub download_location: String,
    /// Always false: the SBOM lists packages, not every file inside them.
    pub files_analyzed: bool,
    /// The package file's checksums.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checksums: Vec<Checksum>,
    /// Where the package was built from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_info: Option<String>,
    /// `NOASSERTION` unless the licence was concluded.
    pub license_concluded: String,
    /// The licence the package declares.
    pub license_declared: String,
    /// `NOASSERTION` (copyright notices are in the packages themselves).
    pub copyright_text: String,
    /// Notes: where the licence comes from, fallbacks, what the package is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// purl.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub external_refs: Vec<ExternalRef>,
    /// `APPLICATION`, `LIBRARY`, `SOURCE`, `OPERATING-SYSTEM`, `FIRMWARE`, `CONTAINER`, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_package_purpose: Option<String>,
}

impl Package {
    /// A package with every optional field empty and every assertion `NOASSERTION`.
    pub fn new(spdx_id: String, name: &str, version: &str) -> Self {
        Package {
            spdx_id,
            name: name.to_string(),
            version_info: Some(version.to_string()),
            package_file_name: None,
            supplier: NOASSERTION.into(),
            download_location: NOASSERTION.into(),
            files_analyzed: false,
            checksums: Vec::new(),
            source_info: None,
            license_concluded: NOASSERTION.into(),
            license_declared: NOASSERTION.into(),
            copyright_text: NOASSERTION.into(),
            comment: None,
            external_refs: Vec::new(),
            primary_package_purpose: None,
        }
    }
}

/// An SPDX file (clause 8).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct File {
    /// `SPDXRef-…`.
    #[serde(rename = "SPDXID")]
    pub spdx_id: String,
    /// `./PATH` relative to the folder the document sits in.
    pub file_name: String,
    /// SHA1 (required) and SHA256.
    pub checksums: Vec<Checksum>,
    /// `NOASSERTION`.
    pub license_concluded: String,
    /// `NOASSERTION`.
    pub copyright_text: String,
    /// What the file is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// A relationship (clause 11): `spdx_element_id RELATIONSHIP related_spdx_element`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "camelCase")]
pub struct Relationship {
    /// The subject.
    pub spdx_element_id: String,
    /// `DESCRIBES`, `CONTAINS`, `GENERATED_FROM`, `DEPENDS_ON`, …
    pub relationship_type: String,
    /// The object.
    pub related_spdx_element: String,
}

impl Relationship {
    /// `a TYPE b`.
    pub fn new(a: &str, kind: &str, b: &str) -> Self {
        Relationship {
            spdx_element_id: a.to_string(),
            relationship_type: kind.to_string(),
            related_spdx_element: b.to_string(),
        }
    }
}

/// Creation information (clause 6.8–6.10).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CreationInfo {
    /// RFC 3339 UTC, e.g. `2026-01-01T00:00:00Z`.
    pub created: String,
    /// `Tool: …`, `Organization: …`.
    pub creators: Vec<String>,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// A whole SPDX 2.3 document.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Document {
    /// `SPDX-2.3`.
    pub spdx_version: String,
    /// `CC0-1.0` (the licence of the document's own data, fixed by the specification).
    pub data_license: String,
    /// `SPDXRef-DOCUMENT`.
    #[serde(rename = "SPDXID")]
    pub spdx_id: String,
    /// Document name.
    pub name: String,
    /// Unique URI (see [`Document::to_json`]).
    pub document_namespace: String,
    /// Who made it and when.
    pub creation_info: CreationInfo,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Packages.
    pub packages: Vec<Package>,
    /// Files.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<File>,
    /// Relationships.
    pub relationships: Vec<Relationship>,
}

/// The SPDXID for `kind` and `parts`: `SPDXRef-KIND-PART-PART`, every character SPDX does
/// not allow in an identifier (anything but letters, digits, `.` and `-`) written `-`.
pub fn spdx_id(kind: &str, parts: &[&str]) -> String {
    let mut id = format!("SPDXRef-{kind}");
    for part in parts {
        id.push('-');
        id.extend(part.chars().map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        }));
    }
    id
}

/// Percent-encodes what a purl or URL path segment must not hold raw (`:`, `+`, `~`, `/`, …).
pub fn percent_encode(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-._".contains(c) {
                c.to_string()
            } else {
                let mut buf = [0u8; 4];
                c.encode_utf8(&mut buf)
                    .bytes()
                    .map(|b| format!("%{b:02X}"))
                    .collect()
            }
        })
        .collect()
}

impl Document {
    /// A document named `name`, created at `created` (RFC 3339) by `creators`, with no
    /// elements yet. `namespace_base` is the URI prefix the namespace is made from.
    pub fn new(name: &str, created: String, creators: Vec<String>) -> Self {
        Document {
            spdx_version: "SPDX-2.3".into(),
            data_license: "CC0-1.0".into(),
            spdx_id: "SPDXRef-DOCUMENT".into(),
            name: name.to_string(),
            document_namespace: String::new(),
            creation_info: CreationInfo {
                created,
                creators,
                comment: None,
            },
            comment: None,
            packages: Vec::new(),
            files: Vec::new(),
            relationships: Vec::new(),
        }
    }

    /// True when an element with this SPDXID exists.
    pub fn has(&self, id: &str) -> bool {
        id == self.spdx_id
            || self.packages.iter().any(|p| p.spdx_id == id)
            || self.files.iter().any(|f| f.spdx_id == id)
    }

    /// Adds `a TYPE b`.
    pub fn relate(&mut self, a: &str, kind: &str, b: &str) {
        self.relationships.push(Relationship::new(a, kind, b));
    }

    /// Sorts everything, sets `documentNamespace` to `{namespace_base}/{name}-{sha256}` (the
    /// sha256 of the document serialised without a namespace) and serialises it as indented
    /// JSON ending in a newline. The same document always gives the same bytes.
    pub fn to_json(&mut self, namespace_base: &str) -> Result<Vec<u8>, serde_json::Error> {
        self.packages.sort_by(|a, b| a.spdx_id.cmp(&b.spdx_id));
        self.files.sort_by(|a, b| a.spdx_id.cmp(&b.spdx_id));
        self.relationships.sort();
        self.relationships.dedup();
        self.document_namespace = String::new();
        let digest = hex::encode(Sha256::digest(serde_json::to_vec(self)?));
        self.document_namespace = format!("{namespace_base}/{}-{digest}", self.name);
        let mut bytes = serde_json::to_vec_pretty(self)?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_purl_parts_are_escaped() {
        assert_eq!(
            spdx_id("Deb", &["busybox", "1:1.35.0-4+deb12u1"]),
            "SPDXRef-Deb-busybox-1-1.35.0-4-deb12u1"
        );
        assert_eq!(
            percent_encode("1:1.35.0-4+deb12u1"),
            "1%3A1.35.0-4%2Bdeb12u1"
        );
    }

    #[test]
    fn the_namespace_follows_the_content_and_the_bytes_are_stable() {
        let doc = |name: &str| {
            let mut d = Document::new("t", "2026-01-01T00:00:00Z".into(), vec!["Tool: x".into()]);
            d.packages
                .push(Package::new(spdx_id("Package", &[name]), name, "1"));
            d.relate(
                "SPDXRef-DOCUMENT",
                "DESCRIBES",
                &spdx_id("Package", &[name]),
            );
            d
        };
        let a = doc("a").to_json("https://example.invalid").unwrap();
        assert_eq!(a, doc("a").to_json("https://example.invalid").unwrap());
        let b = doc("b").to_json("https://example.invalid").unwrap();
        let ns = |bytes: &[u8]| {
            let v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
            v["documentNamespace"].as_str().unwrap().to_string()
        };
        assert_ne!(ns(&a), ns(&b));
        assert!(ns(&a).starts_with("https://example.invalid/t-"));
    }
}
