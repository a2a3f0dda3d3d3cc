//! Reading and verifying apk v2 archives: a .apk package is three concatenated gzip streams
//! (1: a tar with the signature member `.SIGN.RSA[256].<key>`, 2: the control tar with
//! `.PKGINFO` and the scripts, 3: the data tar); APKINDEX.tar.gz is two (signature, then a tar
//! with `DESCRIPTION` and `APKINDEX`). The signature covers the raw (compressed) bytes of
//! stream 2. A package's identity checksum is `Q1` + base64(SHA-1 of stream 2), the `C:`
//! field of the index; `.PKGINFO`'s `datahash` is the hex SHA-256 of stream 3's raw bytes;
//! every regular file in the data tar carries the PAX record `APK-TOOLS.checksum.SHA1` (hex
//! SHA-1 of its content; a `Q1`+base64 value is accepted too).
//!
//! This module verifies everything up front and hands back the parsed parts (the data
//! stream stays compressed in memory and is streamed again to install); it never writes to
//! disk. Entry paths that are absolute or contain `..` are refused here already.

use crate::package::{self, Package};
use crate::pkginfo::{self, PkgInfo};
use crate::sign::{Keys, SignError};
use base64::Engine as _;
use sha1::{Digest, Sha1};
use sha2::Sha256;
use std::io::Read;
use std::ops::Range;

/// One gzip member: where its compressed bytes are, and its decompressed content.
#[derive(Debug)]
pub struct Stream {
    /// Byte range of the compressed member in the file.
    pub raw: Range<usize>,
    /// Decompressed bytes (a tar).
    pub content: Vec<u8>,
}

/// A reader's complaint made printable: the tar reader quotes the archive's bytes, which for
/// a damaged archive are binary. Control characters and undecodable bytes become `?`; at most
/// 120 characters are kept.
pub fn printable(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(120)
        .map(|c| {
            if c.is_control() || c == char::REPLACEMENT_CHARACTER {
                '?'
            } else {
                c
            }
        })
        .collect();
    if text.chars().nth(120).is_some() {
        out.push_str("...");
    }
    out
}

/// Why an archive was refused.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// A gzip stream is damaged or cut short.
    #[error("damaged or truncated gzip stream {index}: {source}")]
    Gzip {
        /// 1-based stream number.
        index: usize,
        /// The decoder's error.
        source: std::io::Error,
    },
    /// A tar stream is damaged.
    #[error("damaged tar in {part}: {}", printable(&.source.to_string()))]
    Tar {
        /// Which part (control, data, index).
        part: &'static str,
        /// The tar reader's error.
        source: std::io::Error,
    },
    /// Not the number of streams the format has.
    #[error("expected {expected} gzip streams, found {found} (truncated or not an apk v2 file)")]
    Layout {
        /// Streams expected.
        expected: &'static str,
        /// Streams found.
        found: usize,
    },
    /// The data stream is cut short or its compression is damaged.
    #[error("damaged or truncated data stream: {source}")]
    DataStream {
        /// The decoder's error.
        source: std::io::Error,
    },
    /// Signature problem.
    #[error("{0}")]
    Sign(#[from] SignError),
    /// The control stream's checksum is not the one the index promised.
    #[error("checksum mismatch: index says {expected}, package has {found}")]
    Checksum {
        /// From the index.
        expected: String,
        /// Computed.
        found: String,
    },
    /// The data stream's SHA-256 differs from .PKGINFO's datahash.
    #[error("data hash mismatch (datahash {expected}, data is {found}): the package is damaged, truncated or was changed")]
    DataHash {
        /// From .PKGINFO.
        expected: String,
        /// Computed.
        found: String,
    },
    /// A signed package without datahash leaves its data unprotected.
    #[error(".PKGINFO has no datahash, so the data is not covered by the signature; pass --allow-untrusted to accept it")]
    NoDataHash,
    /// A file's content differs from its recorded checksum.
    #[error("file {path}: checksum mismatch (content changed)")]
    FileChecksum {
        /// Entry path.
        path: String,
    },
    /// An entry that would land outside the root.
    #[error("entry {path:?} escapes the root (absolute path or ..)")]
    UnsafePath {
        /// Entry path (cut to 100 characters).
        path: String,
    },
    /// Device nodes, fifos and other entry kinds apk packages do not carry.
    #[error("entry {path:?}: unsupported tar entry type")]
    UnsupportedEntry {
        /// Entry path.
        path: String,
    },
    /// .PKGINFO missing.
    #[error("control stream has no .PKGINFO")]
    NoPkgInfo,
    /// .PKGINFO malformed.
    #[error("{0}")]
    PkgInfo(#[from] pkginfo::PkgInfoError),
    /// APKINDEX missing or malformed.
    #[error("index: {0}")]
    Index(String),
}

/// Splits a file into its gzip members.
pub fn split_streams(bytes: &[u8]) -> Result<Vec<Stream>, ArchiveError> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        let mut dec = flate2::bufread::GzDecoder::new(rest);
        let mut content = Vec::new();
        dec.read_to_end(&mut content)
            .map_err(|source| ArchiveError::Gzip {
                index: out.len() + 1,
                source,
            })?;
        let left = dec.into_inner().len();
        let used = rest.len() - left;
        if used == 0 {
            break;
        }
        out.push(Stream {
            raw: pos..pos + used,
            content,
        });
        pos += used;
    }
    Ok(out)
}

/// Reads the gzip member that starts at `pos` (the `index`-th, 1-based, for messages).
fn read_member(bytes: &[u8], pos: usize, index: usize) -> Result<Stream, ArchiveError> {
    let rest = &bytes[pos.min(bytes.len())..];
    let mut dec = flate2::bufread::GzDecoder::new(rest);
    let mut content = Vec::new();
    dec.read_to_end(&mut content)
        .map_err(|source| ArchiveError::Gzip { index, source })?;
    let used = rest.len() - dec.into_inner().len();
    Ok(Stream {
        raw: pos..pos + used,
        content,
    })
}

/// `Q1` + base64(SHA-1 of `bytes`): apk's checksum notation.
pub fn q1_checksum(bytes: &[u8]) -> String {
    q1_from_digest(&Sha1::digest(bytes))
}

/// `Q1` + base64 of a SHA-1 digest.
pub fn q1_from_digest(digest: &[u8]) -> String {
    format!(
        "Q1{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The signature member of a first stream, if it is one: (member name, signature bytes).
fn signature_of(stream: &Stream) -> Result<Option<(String, Vec<u8>)>, ArchiveError> {
    let tar_err = |source| ArchiveError::Tar {
        part: "signature",
        source,
    };
    let mut ar = tar::Archive::new(stream.content.as_slice());
    let mut entries = ar.entries().map_err(tar_err)?;
    let Some(first) = entries.next() else {
        return Ok(None);
    };
    let mut first = first.map_err(tar_err)?;
    let name = first
        .path()
        .map_err(tar_err)?
        .to_string_lossy()
        .into_owned();
    if !name.starts_with(".SIGN.") {
        return Ok(None);
    }
    let mut sig = Vec::new();
    first.read_to_end(&mut sig).map_err(tar_err)?;
    Ok(Some((name, sig)))
}

/// Checks the signature of a signed stream. Returns the key name, or None when unsigned and
/// `allow_untrusted`.
fn check_signature(
    sig: Option<&(String, Vec<u8>)>,
    signed: &[u8],
    keys: &Keys,
    allow_untrusted: bool,
) -> Result<Option<String>, ArchiveError> {
    match sig {
        None if allow_untrusted => Ok(None),
        None => Err(SignError::Unsigned.into()),
        Some((name, sig)) => match keys.verify(name, sig, signed) {
            Ok(k) => Ok(Some(k.to_string())),
            Err(_) if allow_untrusted => Ok(None),
            Err(e) => Err(e.into()),
        },
    }
}

/// A parsed, verified APKINDEX.tar.gz.
#[derive(Debug)]
pub struct Index {
    /// `DESCRIPTION` (e.g. `v3.20.3-0-g…`), empty if absent.
    pub description: String,
    /// The packages.
    pub packages: Vec<Package>,
    /// Name of the key that signed it (None when accepted untrusted).
    pub signed_by: Option<String>,
}

/// Verifies and parses an APKINDEX.tar.gz.
pub fn read_index(bytes: &[u8], keys: &Keys, allow_untrusted: bool) -> Result<Index, ArchiveError> {
    let streams = split_streams(bytes)?;
    let first = streams.first().ok_or(ArchiveError::Layout {
        expected: "2",
        found: 0,
    })?;
    let sig = signature_of(first)?;
    let body_from = usize::from(sig.is_some());
    if streams.len() <= body_from {
        return Err(ArchiveError::Layout {
            expected: "2",
            found: streams.len(),
        });
    }
    let signed = &bytes[streams[body_from].raw.start..];
    let signed_by = check_signature(sig.as_ref(), signed, keys, allow_untrusted)?;
    let mut description = String::new();
    let mut index_text = None;
    for s in &streams[body_from..] {
        let tar_err = |source| ArchiveError::Tar {
            part: "index",
            source,
        };
        let mut ar = tar::Archive::new(s.content.as_slice());
        for e in ar.entries().map_err(tar_err)? {
            let mut e = e.map_err(tar_err)?;
            let name = e.path().map_err(tar_err)?.to_string_lossy().into_owned();
            let mut body = String::new();
            match name.as_str() {
                "DESCRIPTION" => {
                    e.read_to_string(&mut body).map_err(tar_err)?;
                    description = body.trim().to_string();
                }
                "APKINDEX" => {
                    e.read_to_string(&mut body).map_err(tar_err)?;
                    index_text = Some(body);
                }
                _ => {}
            }
        }
    }
    let text = index_text.ok_or_else(|| ArchiveError::Index("no APKINDEX member".into()))?;
    let packages = package::parse_index(&text).map_err(|e| ArchiveError::Index(e.to_string()))?;
    Ok(Index {
        description,
        packages,
        signed_by,
    })
}

/// What a data tar entry is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// Regular file.
    File,
    /// Directory.
    Dir,
    /// Symbolic link to the given target (as stored).
    Symlink(String),
    /// Hard link to another entry of the same package (its path).
    Hardlink(String),
}

/// One entry of a package's data tar.
#[derive(Clone, Debug)]
pub struct DataEntry {
    /// Path relative to the root, no leading `./` or `/`, no trailing `/`.
    pub path: String,
    /// Kind.
    pub kind: EntryKind,
    /// Permission bits (`0o7777` at most).
    pub mode: u32,
    /// Owner user id.
    pub uid: u32,
    /// Owner group id.
    pub gid: u32,
    /// Modification time, seconds since the epoch.
    pub mtime: u64,
    /// Content size in bytes (files only).
    pub size: u64,
    /// SHA-1 of the content (files), for the installed database's `Z:`.
    pub sha1: Option<[u8; 20]>,
    /// Position of the entry in the tar stream (counting entries not listed, like `./`).
    pub ordinal: usize,
}

/// A verified .apk package.
#[derive(Debug)]
pub struct ApkPackage {
    /// .PKGINFO, with `package.checksum` set to the control checksum and `package.size`
    /// to the file size.
    pub info: PkgInfo,
    /// Scripts by type (`post-install` → content).
    pub scripts: Vec<(String, Vec<u8>)>,
    /// The whole .apk file as verified (compressed).
    pub raw: Vec<u8>,
    /// Where the data stream starts in `raw`.
    pub data_start: usize,
    /// Data entries in archive order.
    pub entries: Vec<DataEntry>,
    /// Key that signed it (None when accepted untrusted).
    pub signed_by: Option<String>,
}

/// Normalises an entry path; refuses absolute paths and `..`. Returns None for the root
/// itself (`./`).
pub fn clean_entry_path(raw: &str) -> Result<Option<String>, ArchiveError> {
    let unsafe_path = || ArchiveError::UnsafePath {
        path: raw.chars().take(100).collect(),
    };
    if raw.starts_with('/') {
        return Err(unsafe_path());
    }
    let mut parts = Vec::new();
    for c in raw.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err(unsafe_path()),
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return Ok(None);
    }
    Ok(Some(parts.join("/")))
}

/// Decodes a per-file checksum value (hex, or `Q1`+base64) into a SHA-1 digest.
fn decode_file_checksum(v: &[u8]) -> Option<[u8; 20]> {
    let s = std::str::from_utf8(v).ok()?.trim();
    let bytes = match s.strip_prefix("Q1") {
        Some(b64) => base64::engine::general_purpose::STANDARD.decode(b64).ok()?,
        None => hex::decode(s).ok()?,
    };
    bytes.try_into().ok()
}

/// Verifies and parses a .apk file. `expected_checksum` is the index's `C:` for it, when the
/// package came from an index. Verification order: signature over the control stream (or the
/// index's checksum when unsigned and allowed), the control checksum, .PKGINFO, datahash,
/// each file's checksum, each entry's path.
pub fn read_package(
    bytes: &[u8],
    keys: &Keys,
    allow_untrusted: bool,
    expected_checksum: Option<&str>,
) -> Result<ApkPackage, ArchiveError> {
    if bytes.is_empty() {
        return Err(ArchiveError::Layout {
            expected: "3",
            found: 0,
        });
    }
    let first = read_member(bytes, 0, 1)?;
    let sig = signature_of(&first)?;
    let control = if sig.is_some() {
        if first.raw.end >= bytes.len() {
            return Err(ArchiveError::Layout {
                expected: "3",
                found: 1,
            });
        }
        read_member(bytes, first.raw.end, 2)?
    } else {
        first
    };
    let data_start = control.raw.end;
    if data_start >= bytes.len() {
        return Err(ArchiveError::Layout {
            expected: "3",
            found: if sig.is_some() { 2 } else { 1 },
        });
    }
    let control_raw = &bytes[control.raw.clone()];
    let checksum = q1_checksum(control_raw);
    if let Some(want) = expected_checksum {
        if want != checksum {
            return Err(ArchiveError::Checksum {
                expected: want.to_string(),
                found: checksum,
            });
        }
    }
    // A package whose control checksum matches a signed index is as trusted as the index,
    // like apk-tools; otherwise its own signature must verify.
    let signed_by = match (&sig, expected_checksum) {
        (None, Some(_)) => None,
        _ => check_signature(sig.as_ref(), control_raw, keys, allow_untrusted)?,
    };

    let mut info = None;
    let mut scripts = Vec::new();
    {
        let tar_err = |source| ArchiveError::Tar {
            part: "control",
            source,
        };
        let mut ar = tar::Archive::new(control.content.as_slice());
        for e in ar.entries().map_err(tar_err)? {
            let mut e = e.map_err(tar_err)?;
            let name = e.path().map_err(tar_err)?.to_string_lossy().into_owned();
            let mut body = Vec::new();
            e.read_to_end(&mut body).map_err(tar_err)?;
            if name == ".PKGINFO" {
                info = Some(pkginfo::parse(&String::from_utf8_lossy(&body))?);
            } else if let Some(kind) = name.strip_prefix('.') {
                if matches!(
                    kind,
                    "pre-install"
                        | "post-install"
                        | "pre-upgrade"
                        | "post-upgrade"
                        | "pre-deinstall"
                        | "post-deinstall"
                        | "trigger"
                ) {
                    scripts.push((kind.to_string(), body));
                }
            }
        }
    }
    let mut info = info.ok_or(ArchiveError::NoPkgInfo)?;
    info.package.checksum = Some(checksum);
    info.package.size = bytes.len() as u64;

    // The data stream runs from the member after the control stream to the end of the file.
    let data_raw = &bytes[data_start..];
    match &info.datahash {
        Some(want) => {
            let found = hex::encode(Sha256::digest(data_raw));
            if *want != found {
                return Err(ArchiveError::DataHash {
                    expected: want.clone(),
                    found,
                });
            }
        }
        None if !allow_untrusted => return Err(ArchiveError::NoDataHash),
        None => {}
    }
    let entries = read_data_entries(data_raw)?;
    Ok(ApkPackage {
        info,
        scripts,
        raw: bytes.to_vec(),
        data_start,
        entries,
        signed_by,
    })
}

/// Maps an I/O error met while streaming the data tar: the decoder's errors (cut or damaged
/// gzip) and the tar reader's are told apart by kind as well as the data allows.
fn data_error(source: std::io::Error) -> ArchiveError {
    match source.kind() {
        std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidInput => {
            ArchiveError::DataStream { source }
        }
        _ => ArchiveError::Tar {
            part: "data",
            source,
        },
    }
}

impl ApkPackage {
    /// Streams the data tar again, calling `f` with each listed entry and a reader of its
    /// content (files only hold content), in archive order. The bytes are the ones verified
    /// by [`read_package`] (kept in memory compressed), so nothing is decompressed twice at
    /// once and the whole data is never held decompressed.
    pub fn for_each_entry(
        &self,
        mut f: impl FnMut(usize, &DataEntry, &mut dyn Read) -> std::io::Result<()>,
    ) -> Result<(), ArchiveError> {
        let dec = flate2::bufread::MultiGzDecoder::new(&self.raw[self.data_start..]);
        let mut ar = tar::Archive::new(dec);
        let mut next = 0usize;
        for (ordinal, e) in ar.entries().map_err(data_error)?.enumerate() {
            let mut e = e.map_err(data_error)?;
            let Some(entry) = self.entries.get(next) else {
                break;
            };
            if entry.ordinal != ordinal {
                continue;
            }
            f(next, entry, &mut e).map_err(data_error)?;
            next += 1;
        }
        Ok(())
    }
}

/// A writer that only hashes and counts what it is given.
struct HashingSink(Sha1, u64);

impl std::io::Write for HashingSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        self.1 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Lists and checks the entries of a data stream (gzip'd tar), streaming: no content is kept.
fn read_data_entries(data_raw: &[u8]) -> Result<Vec<DataEntry>, ArchiveError> {
    let tar_err = data_error;
    let mut out = Vec::new();
    let mut ar = tar::Archive::new(flate2::bufread::MultiGzDecoder::new(data_raw));
    for (ordinal, e) in ar.entries().map_err(tar_err)?.enumerate() {
        let mut e = e.map_err(tar_err)?;
        let raw_path = e.path().map_err(tar_err)?.to_string_lossy().into_owned();
        let Some(path) = clean_entry_path(&raw_path)? else {
            continue;
        };
        let mut recorded = None;
        if let Some(exts) = e.pax_extensions().map_err(tar_err)? {
            for ext in exts {
                let ext = ext.map_err(tar_err)?;
                if ext.key_bytes() == b"APK-TOOLS.checksum.SHA1" {
                    recorded = decode_file_checksum(ext.value_bytes());
                }
            }
        }
        let h = e.header();
        let mode = h.mode().map_err(tar_err)? & 0o7777;
        let uid = h.uid().map_err(tar_err)? as u32;
        let gid = h.gid().map_err(tar_err)? as u32;
        let mtime = h.mtime().map_err(tar_err)?;
        let link = || -> Result<String, ArchiveError> {
            Ok(e.link_name()
                .map_err(tar_err)?
                .map(|l| l.to_string_lossy().into_owned())
                .unwrap_or_default())
        };
        let kind = match h.entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => EntryKind::File,
            tar::EntryType::Directory => EntryKind::Dir,
            tar::EntryType::Symlink => EntryKind::Symlink(link()?),
            tar::EntryType::Link => {
                let target = link()?;
                let Some(t) = clean_entry_path(&target)? else {
                    return Err(ArchiveError::UnsafePath { path: target });
                };
                EntryKind::Hardlink(t)
            }
            _ => return Err(ArchiveError::UnsupportedEntry { path }),
        };
        let mut size = 0u64;
        let mut sha1 = None;
        if kind == EntryKind::File {
            let mut hasher = HashingSink(Sha1::new(), 0);
            std::io::copy(&mut e, &mut hasher).map_err(tar_err)?;
            size = hasher.1;
            let digest: [u8; 20] = hasher.0.finalize().into();
            if let Some(want) = recorded {
                if want != digest {
                    return Err(ArchiveError::FileChecksum { path });
                }
            }
            sha1 = Some(digest);
        }
        out.push(DataEntry {
            path,
            kind,
            mode,
            uid,
            gid,
            mtime,
            size,
            sha1,
            ordinal,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn splits_concatenated_members() {
        let mut all = gz(b"first");
        let n = all.len();
        all.extend(gz(b"second"));
        let s = split_streams(&all).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].raw, 0..n);
        assert_eq!(s[1].content, b"second");
        let cut = &all[..all.len() - 3];
        assert!(matches!(
            split_streams(cut),
            Err(ArchiveError::Gzip { index: 2, .. })
        ));
    }

    #[test]
    fn entry_paths() {
        assert_eq!(
            clean_entry_path("./usr/bin/").unwrap().as_deref(),
            Some("usr/bin")
        );
        assert_eq!(clean_entry_path("./").unwrap(), None);
        assert!(clean_entry_path("/etc/passwd").is_err());
        assert!(clean_entry_path("usr/../../x").is_err());
    }

    #[test]
    fn checksum_notation() {
        // SHA-1("abc") = a9993e36…
        assert_eq!(q1_checksum(b"abc"), "Q1qZk+NkcGgWq6PiVxeFDCbJzQ2J0=");
        let d = decode_file_checksum(b"a9993e364706816aba3e25717850c26c9cd0d89d").unwrap();
        assert_eq!(q1_from_digest(&d), "Q1qZk+NkcGgWq6PiVxeFDCbJzQ2J0=");
        assert_eq!(
            decode_file_checksum(b"Q1qZk+NkcGgWq6PiVxeFDCbJzQ2J0="),
            Some(d)
        );
    }
}
