//! Trusted keys and RSA signatures, as abuild makes them. A signed stream carries a tar
//! member named `.SIGN.RSA.<keyname>` (PKCS#1 v1.5 over the SHA-1 of the signed gzip stream)
//! or `.SIGN.RSA256.<keyname>` (the same over SHA-256). `<keyname>` is the file name of the
//! public key in the keys directory (`/etc/apk/keys/alpine-devel@lists.alpinelinux.org-
//! 6165ee59.rsa.pub`), a PEM `PUBLIC KEY` (SPKI) or `RSA PUBLIC KEY` (PKCS#1).
//!
//! This module only loads keys and checks one signature over given bytes.

use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use sha1::{Digest, Sha1};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::path::Path;

/// The trusted public keys, by file name.
#[derive(Clone, Debug, Default)]
pub struct Keys {
    keys: BTreeMap<String, RsaPublicKey>,
}

/// Why a signature was not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignError {
    /// The stream has no signature member.
    #[error("not signed (no .SIGN.RSA member); pass --allow-untrusted to accept it")]
    Unsigned,
    /// The signature names a key that is not in the keys directory.
    #[error("signed by unknown key {0:?}: put its public key in the keys directory (/etc/apk/keys or --keys-dir)")]
    UnknownKey(String),
    /// The signature does not verify with the named key.
    #[error("BAD signature (key {0:?}): the data was changed or signed with another key")]
    BadSignature(String),
    /// A signature member of a kind this implementation does not know.
    #[error("unsupported signature type {0:?} (expected .SIGN.RSA.* or .SIGN.RSA256.*)")]
    Unsupported(String),
}

/// Digest used by a signature member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashKind {
    /// `.SIGN.RSA.`: SHA-1.
    Sha1,
    /// `.SIGN.RSA256.`: SHA-256.
    Sha256,
}

/// Splits a signature member name into its digest and key name.
pub fn parse_member_name(name: &str) -> Result<(HashKind, &str), SignError> {
    if let Some(k) = name.strip_prefix(".SIGN.RSA256.") {
        Ok((HashKind::Sha256, k))
    } else if let Some(k) = name.strip_prefix(".SIGN.RSA.") {
        Ok((HashKind::Sha1, k))
    } else {
        Err(SignError::Unsupported(name.chars().take(80).collect()))
    }
}

impl Keys {
    /// Loads every key file of `dir` (a missing directory gives no keys). Files that are not
    /// RSA public keys are skipped and returned by name, so the caller can warn.
    pub fn load_dir(dir: &Path) -> std::io::Result<(Keys, Vec<String>)> {
        let mut keys = Keys::default();
        let mut skipped = Vec::new();
        let rd = match std::fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((keys, skipped)),
            Err(e) => return Err(e),
        };
        for entry in rd {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(pem) = std::fs::read_to_string(entry.path()) else {
                skipped.push(name);
                continue;
            };
            match parse_public_key(&pem) {
                Some(k) => {
                    keys.keys.insert(name, k);
                }
                None => skipped.push(name),
            }
        }
        Ok((keys, skipped))
    }

    /// Adds one key under a name (tests and embedders).
    pub fn insert(&mut self, name: &str, pem: &str) -> bool {
        match parse_public_key(pem) {
            Some(k) => {
                self.keys.insert(name.to_string(), k);
                true
            }
            None => false,
        }
    }

    /// Number of keys loaded.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when no key is loaded.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Verifies `signature` (from member `member_name`) over `signed` (the raw bytes of the
    /// signed gzip stream). Returns the key name on success.
    pub fn verify<'a>(
        &self,
        member_name: &'a str,
        signature: &[u8],
        signed: &[u8],
    ) -> Result<&'a str, SignError> {
        let (digest, key_name) = parse_member_name(member_name)?;
        let key = self
            .keys
            .get(key_name)
            .ok_or_else(|| SignError::UnknownKey(key_name.to_string()))?;
        let ok = match digest {
            HashKind::Sha1 => key.verify(
                Pkcs1v15Sign::new::<Sha1>(),
                &Sha1::digest(signed),
                signature,
            ),
            HashKind::Sha256 => key.verify(
                Pkcs1v15Sign::new::<Sha256>(),
                &Sha256::digest(signed),
                signature,
            ),
        };
        ok.map(|_| key_name)
            .map_err(|_| SignError::BadSignature(key_name.to_string()))
    }
}

/// Parses a PEM RSA public key (SPKI or PKCS#1).
fn parse_public_key(pem: &str) -> Option<RsaPublicKey> {
    RsaPublicKey::from_public_key_pem(pem.trim())
        .ok()
        .or_else(|| RsaPublicKey::from_pkcs1_pem(pem.trim()).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names() {
        assert_eq!(
            parse_member_name(".SIGN.RSA.k.rsa.pub"),
            Ok((HashKind::Sha1, "k.rsa.pub"))
        );
        assert_eq!(
            parse_member_name(".SIGN.RSA256.k.rsa.pub"),
            Ok((HashKind::Sha256, "k.rsa.pub"))
        );
        assert!(parse_member_name(".SIGN.DSA.k").is_err());
    }

    #[test]
    fn alpine_keys_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("keys");
        let (keys, skipped) = Keys::load_dir(&dir).unwrap();
        assert_eq!(keys.len(), 5, "skipped: {skipped:?}");
        assert_eq!(skipped, vec!["README.md".to_string()]);
    }

    #[test]
    fn unknown_key_is_named() {
        let keys = Keys::default();
        assert_eq!(
            keys.verify(".SIGN.RSA.who.rsa.pub", b"x", b"y"),
            Err(SignError::UnknownKey("who.rsa.pub".into()))
        );
        assert!(!Keys::default().insert("k", "not a key"));
    }
}
