//! The CA bundle TiniLinux ships: `/etc/ssl/certs/ca-certificates.crt`, the PEM file that
//! tinibox's registry client (and any TLS program) reads to check a server's certificate.
//!
//! It is made the way Debian's `update-ca-certificates` makes the same file: every
//! certificate of the pinned `ca-certificates` binary package
//! (`/usr/share/ca-certificates/mozilla/*.crt`, Mozilla's CA list as Debian packages it),
//! in file-name order, concatenated, each ending in a newline. Debian enables all of them by
//! default (`/etc/ca-certificates.conf`), so the set is the one a fresh Debian 12 trusts. The
//! package is an input like GRUB's: fetched at its pinned version and checked against
//! `sources.lock`, so the SBOM and the source bundle list it by themselves.

use std::cell::OnceCell;
use std::fs;

use crate::component::Component;
use crate::context::Context;
use crate::debian;
use crate::error::{Error, IoContext, Result};
use crate::tree::{Entry, FileData, RootfsTree};

/// The Debian binary package the certificates come from.
pub const PACKAGE: &str = "ca-certificates";

/// The bundle's path in the rootfs (Debian's, which tinibox reads first).
pub const BUNDLE_PATH: &str = "etc/ssl/certs/ca-certificates.crt";

/// Where the certificates are inside the package.
const CERTS_DIR: &str = "usr/share/ca-certificates/mozilla";

/// The bundle as a rootfs component.
#[derive(Debug, Default)]
pub struct CaCertificatesComponent {
    bundle: OnceCell<Vec<u8>>,
}

impl CaCertificatesComponent {
    /// A component that has fetched nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The concatenated bundle (made once per process).
    ///
    /// Errors: fetching or checking the package, a package without certificates.
    pub fn bundle(&self, ctx: &Context) -> Result<&[u8]> {
        if let Some(b) = self.bundle.get() {
            return Ok(b);
        }
        let dir = debian::deb_file(ctx, PACKAGE, CERTS_DIR)?;
        let bundle = concatenate(&dir)?;
        Ok(self.bundle.get_or_init(|| bundle))
    }
}

/// Every `*.crt` of `dir`, sorted by file name, concatenated with a newline after each.
///
/// Errors: an unreadable folder or file; no certificate at all.
pub fn concatenate(dir: &std::path::Path) -> Result<Vec<u8>> {
    let mut names: Vec<_> = fs::read_dir(dir)
        .ctx(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().ends_with(".crt"))
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(Error::Invalid(format!(
            "{} holds no certificate; check ca-certificates' version in sources.lock",
            dir.display()
        )));
    }
    let mut out = Vec::new();
    for name in names {
        let path = dir.join(&name);
        let mut pem = fs::read(&path).ctx(|| format!("reading {}", path.display()))?;
        if !pem.ends_with(b"\n") {
            pem.push(b'\n');
        }
        out.extend_from_slice(&pem);
    }
    Ok(out)
}

impl Component for CaCertificatesComponent {
    fn name(&self) -> &'static str {
        "ca-certificates"
    }

    fn fetch(&self, ctx: &Context) -> Result<()> {
        debian::deb_root(ctx, PACKAGE).map(|_| ())
    }

    fn build(&self, ctx: &Context) -> Result<()> {
        self.bundle(ctx).map(|_| ())
    }

    /// `/etc/ssl/certs/ca-certificates.crt` (0644).
    fn install(&self, ctx: &Context, tree: &mut RootfsTree) -> Result<()> {
        let bundle = self.bundle(ctx)?.to_vec();
        tree.insert(BUNDLE_PATH, Entry::file(FileData::Bytes(bundle), 0o644))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificates_are_joined_in_name_order_each_ending_in_a_newline() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("b.crt"), "B").unwrap();
        fs::write(dir.path().join("a.crt"), "A\n").unwrap();
        fs::write(dir.path().join("notes.txt"), "not a certificate").unwrap();
        assert_eq!(concatenate(dir.path()).unwrap(), b"A\nB\n");
    }

    #[test]
    fn a_folder_without_certificates_is_an_error_naming_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let err = concatenate(dir.path()).unwrap_err().to_string();
        assert!(err.contains("sources.lock"), "{err}");
    }
}
