//! Repositories: `/etc/apk/repositories` (one location per line, `#` comments, an optional
//! `@tag ` prefix), their indexes at `LOCATION/ARCH/APKINDEX.tar.gz`, their packages at
//! `LOCATION/ARCH/NAME-VERSION.apk`, and the cache: remote indexes are kept as
//! `/var/cache/apk/APKINDEX.<8 hex of SHA-1(index url)>.tar.gz` (re-verified at every read;
//! refreshed by `apk update`), packages are kept in `/etc/apk/cache` when that directory (or
//! symlink) exists, as `NAME-VERSION.<8 hex of the checksum>.apk`, as apk-tools does.
//!
//! This module finds and verifies indexes and package files; it does not install.

use crate::archive::{self, Index};
use crate::fetch::{self, Fetcher};
use crate::package::Package;
use crate::sign::Keys;
use base64::Engine as _;
use sha1::{Digest, Sha1};
use std::path::{Path, PathBuf};

/// Index cache folder, relative to the root.
pub const INDEX_CACHE: &str = "var/cache/apk";
/// Package cache link/folder, relative to the root.
pub const PACKAGE_CACHE: &str = "etc/apk/cache";
/// Default repositories file, relative to the root.
pub const REPOSITORIES: &str = "etc/apk/repositories";

/// One repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repository {
    /// Base location (URL or path), without a trailing slash.
    pub location: String,
    /// `@tag` (packages from tagged repositories are only chosen when asked with `name@tag`).
    pub tag: Option<String>,
}

impl Repository {
    /// A repository from a location string (`@tag URL` or `URL`).
    pub fn parse(line: &str) -> Option<Self> {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let (tag, loc) = match line.strip_prefix('@') {
            Some(rest) => {
                let (t, l) = rest.split_once(char::is_whitespace)?;
                (Some(t.to_string()), l.trim())
            }
            None => (None, line),
        };
        Some(Repository {
            location: loc.trim_end_matches('/').to_string(),
            tag,
        })
    }

    /// Checks the location's scheme: `http://`, `https://`, `file://` or none (a folder).
    /// Errors: one sentence naming the location.
    pub fn check(&self) -> Result<(), String> {
        if let Some((scheme, _)) = self.location.split_once("://") {
            if !matches!(scheme, "http" | "https" | "file") {
                return Err(format!(
                    "{}: unsupported URL scheme {scheme}:// (http, https, file, or a folder)",
                    self.location
                ));
            }
        }
        Ok(())
    }

    /// URL (or path) of this repository's index for `arch`.
    pub fn index_url(&self, arch: &str) -> String {
        format!("{}/{arch}/APKINDEX.tar.gz", self.location)
    }

    /// URL (or path) of a package file.
    pub fn package_url(&self, arch: &str, pkg: &Package) -> String {
        format!("{}/{arch}/{}-{}.apk", self.location, pkg.name, pkg.version)
    }
}

/// Reads a repositories file; a missing file gives no repositories.
pub fn read_repositories(path: &Path) -> std::io::Result<Vec<Repository>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text.lines().filter_map(Repository::parse).collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Cache file name of a remote index.
pub fn cache_index_name(index_url: &str) -> String {
    let h = Sha1::digest(index_url.as_bytes());
    format!("APKINDEX.{}.tar.gz", hex::encode(&h[..4]))
}

/// Cache file name of a package.
pub fn cache_package_name(pkg: &Package) -> String {
    let hex8 = pkg
        .checksum
        .as_deref()
        .and_then(|c| c.strip_prefix("Q1"))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .map(|d| hex::encode(&d[..d.len().min(4)]))
        .unwrap_or_else(|| "00000000".into());
    format!("{}-{}.{hex8}.apk", pkg.name, pkg.version)
}

/// Options for loading indexes.
#[derive(Clone, Copy, Debug, Default)]
pub struct LoadOptions {
    /// Accept unsigned or wrongly signed indexes.
    pub allow_untrusted: bool,
    /// Neither read nor write the cache.
    pub no_cache: bool,
    /// Fetch remote indexes even when cached (`apk update`).
    pub refresh: bool,
}

/// A repository and its index (or why it could not be loaded).
pub struct Loaded {
    /// The repository.
    pub repo: Repository,
    /// The verified index, or the error message.
    pub index: Result<Index, String>,
}

/// Loads and verifies every repository's index.
pub fn load_indexes(
    root: &Path,
    repos: &[Repository],
    arch: &str,
    keys: &Keys,
    fetcher: &Fetcher,
    opts: LoadOptions,
) -> Vec<Loaded> {
    repos
        .iter()
        .map(|r| Loaded {
            repo: r.clone(),
            index: load_one(root, r, arch, keys, fetcher, opts),
        })
        .collect()
}

fn load_one(
    root: &Path,
    repo: &Repository,
    arch: &str,
    keys: &Keys,
    fetcher: &Fetcher,
    opts: LoadOptions,
) -> Result<Index, String> {
    let url = repo.index_url(arch);
    let cache_dir = root.join(INDEX_CACHE);
    let cached = cache_dir.join(cache_index_name(&url));
    let remote = fetch::is_remote(&url);
    let bytes = if remote && !opts.no_cache && !opts.refresh && cached.is_file() {
        std::fs::read(&cached).map_err(|e| format!("{}: {e}", cached.display()))?
    } else {
        let b = fetcher.get(&url, "APKINDEX").map_err(|e| e.to_string())?;
        if remote && !opts.no_cache && cache_dir.is_dir() {
            // Verify before caching, so a bad index never lands in the cache.
            archive::read_index(&b, keys, opts.allow_untrusted)
                .map_err(|e| format!("{url}: {e}"))?;
            let _ = crate::fsroot::atomic_write(&cached, &b, 0o644);
        }
        b
    };
    archive::read_index(&bytes, keys, opts.allow_untrusted).map_err(|e| format!("{url}: {e}"))
}

/// Where a downloaded package is cached, if the package cache is enabled.
pub fn package_cache_path(root: &Path, pkg: &Package, no_cache: bool) -> Option<PathBuf> {
    let dir = root.join(PACKAGE_CACHE);
    (!no_cache && dir.is_dir()).then(|| dir.join(cache_package_name(pkg)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_repository_lines() {
        assert_eq!(
            Repository::parse("https://dl-cdn.alpinelinux.org/alpine/v3.20/main/"),
            Some(Repository {
                location: "https://dl-cdn.alpinelinux.org/alpine/v3.20/main".into(),
                tag: None
            })
        );
        assert_eq!(
            Repository::parse("@edge http://x/edge/main").map(|r| r.tag),
            Some(Some("edge".into()))
        );
        assert_eq!(Repository::parse("# comment"), None);
        assert_eq!(Repository::parse("   "), None);
        let r = Repository::parse("/srv/repo").unwrap();
        assert_eq!(r.index_url("x86_64"), "/srv/repo/x86_64/APKINDEX.tar.gz");
    }

    #[test]
    fn cache_names() {
        let p = Package {
            name: "a".into(),
            version: "1-r0".into(),
            checksum: Some("Q1qZk+NkcGgWq6PiVxeFDCbJzQ2J0=".into()),
            ..Default::default()
        };
        assert_eq!(cache_package_name(&p), "a-1-r0.a9993e36.apk");
        assert!(cache_index_name("http://x/x86_64/APKINDEX.tar.gz").starts_with("APKINDEX."));
    }
}
