//! The package manager as a rootfs component: the workspace's `apk` (an Alpine-compatible
//! client, `apk/`) as an applet of the static tinibox (tinibox's `apk` cargo feature, which
//! [`crate::tinibox_static::PROGRAM`] turns on): `/sbin/apk` is a symbolic link to
//! `/usr/bin/tinibox`, which runs apk's command line when started under the name `apk`. One
//! program instead of two carries std, clap, serde, tar, flate2, sha2 and ureq once
//! (BENCHMARKS.md, "One program for tinibox and apk": 975,024 B less in the RAM-backed root).
//! With it goes what apk-tools' `apk --initdb` leaves in a root, and Alpine's configuration:
//!
//! - `/etc/apk/repositories`: Alpine's `main` and `community` of release [`ALPINE_RELEASE`]
//!   on the `dl-cdn.alpinelinux.org` mirror over `https://` (checked against the CA bundle
//!   TiniLinux ships, [`crate::ca_certificates`]; indexes and packages are RSA-signed as well);
//! - `/etc/apk/arch`: the target's Alpine architecture;
//! - `/etc/apk/keys/`: Alpine's public signing keys for that architecture (the files of
//!   `apk/keys/`, cross-checked against independent copies: `apk/keys/README.md`);
//! - the empty database: `/etc/apk/world`, `/lib/apk/db/installed`, `triggers` and
//!   `scripts.tar` as empty files, and `/var/cache/apk`, `/var/cache/misc` (apk-tools and our
//!   `apk --initdb` make the same).

use std::path::PathBuf;

use crate::component::Component;
use crate::context::Context;
use crate::error::Result;
use crate::tree::{Entry, FileData, RootfsTree};

/// The Alpine release `/etc/apk/repositories` names: 3.22 (May 2025, main supported until
/// May 2027), the newest release our apk has been written against whose mirrors serve the apk
/// v2 index and package formats with apk-tools 2 (3.23 moved Alpine to apk-tools 3).
pub const ALPINE_RELEASE: &str = "v3.22";

/// The mirror `/etc/apk/repositories` points at (Alpine's CDN, which serves HTTP and HTTPS).
pub const ALPINE_MIRROR: &str = "https://dl-cdn.alpinelinux.org/alpine";

/// Where apk sits in a root file system.
pub const APK_PATH: &str = "sbin/apk";

/// What `/sbin/apk` points at: the static tinibox, which carries apk's command line.
pub const APK_TARGET: &str = "/usr/bin/tinibox";

/// Where the copies of Alpine's keys in `apk/keys/` were taken from (the SBOM's download
/// location; details in `apk/keys/README.md`).
pub const KEYS_ORIGIN: &str =
    "git+https://github.com/alpinelinux/alpine-chroot-install.git@97e61e3";

/// How those copies were checked (the SBOM's comment on them).
pub const KEYS_CROSS_CHECK: &str = "Taken from alpine-chroot-install commit 97e61e3 (its \
    ALPINE_KEYS table) and checked against independent copies: the PEM files of \
    chainguard-dev/apko commit d1b5d5ec and the SHA-512 sums in alpinelinux/aports \
    main/alpine-keys/APKBUILD (alpine-keys 2.3); see apk/keys/README.md";

/// The folder of `/etc/apk/keys` in a root file system.
pub const KEYS_DIR: &str = "etc/apk/keys";

/// The content of `/etc/apk/repositories`: Alpine's main and community of [`ALPINE_RELEASE`].
pub fn repositories() -> String {
    ["main", "community"]
        .iter()
        .map(|r| format!("{ALPINE_MIRROR}/{ALPINE_RELEASE}/{r}\n"))
        .collect()
}

/// The folder of Alpine's public keys in this repository (`apk/keys/`).
pub fn keys_source(ctx: &Context) -> PathBuf {
    ctx.repo_root.join("apk/keys")
}

/// apk as a rootfs component: the link, the configuration and the database (nothing to
/// fetch or build: apk is compiled into tinibox).
#[derive(Debug, Default)]
pub struct ApkComponent;

impl ApkComponent {
    /// The component.
    pub fn new() -> Self {
        ApkComponent
    }
}

impl Component for ApkComponent {
    fn name(&self) -> &'static str {
        "apk"
    }

    /// Nothing: apk's source is this workspace, its crates come through cargo.
    fn fetch(&self, _ctx: &Context) -> Result<()> {
        Ok(())
    }

    /// Nothing: tinibox's build compiles apk in.
    fn build(&self, _ctx: &Context) -> Result<()> {
        Ok(())
    }

    /// `/sbin/apk` → [`APK_TARGET`], the configuration and keys (0644), the empty database.
    fn install(&self, ctx: &Context, tree: &mut RootfsTree) -> Result<()> {
        tree.insert(APK_PATH, Entry::symlink(APK_TARGET))?;
        let text = |s: String| Entry::file(FileData::Bytes(s.into_bytes()), 0o644);
        tree.insert("etc/apk/repositories", text(repositories()))?;
        tree.insert("etc/apk/arch", text(format!("{}\n", ctx.target.apk_arch)))?;
        tree.insert(KEYS_DIR, Entry::dir(0o755))?;
        for key in ctx.target.apk_keys {
            let source = keys_source(ctx).join(key);
            tree.insert(
                format!("{KEYS_DIR}/{key}"),
                Entry::file(FileData::Host(source), 0o644),
            )?;
        }
        for empty in [
            "etc/apk/world",
            "lib/apk/db/installed",
            "lib/apk/db/triggers",
            "lib/apk/db/scripts.tar",
        ] {
            tree.insert(empty, text(String::new()))?;
        }
        for dir in ["var/cache/apk", "var/cache/misc"] {
            tree.insert(dir, Entry::dir(0o755))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn installs_apk_its_configuration_keys_and_an_empty_database() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let ctx = Context::from_env(repo);
        let apk = ApkComponent::new();
        let mut tree = RootfsTree::new();
        apk.install(&ctx, &mut tree).unwrap();
        let bytes = |p: &str| match &tree.get(p).unwrap().kind {
            crate::tree::EntryKind::File(data) => data.read().unwrap(),
            other => panic!("{p} is {other:?}"),
        };
        assert!(
            matches!(&tree.get(APK_PATH).unwrap().kind,
                crate::tree::EntryKind::Symlink(t) if t == Path::new(APK_TARGET)),
            "/sbin/apk is not a link to tinibox"
        );
        assert_eq!(bytes("etc/apk/arch"), b"x86_64\n");
        let repos = String::from_utf8(bytes("etc/apk/repositories")).unwrap();
        assert_eq!(
            repos,
            "https://dl-cdn.alpinelinux.org/alpine/v3.22/main\n\
             https://dl-cdn.alpinelinux.org/alpine/v3.22/community\n"
        );
        for key in ctx.target.apk_keys {
            let pem = String::from_utf8(bytes(&format!("{KEYS_DIR}/{key}"))).unwrap();
            assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{key}");
        }
        for empty in [
            "etc/apk/world",
            "lib/apk/db/installed",
            "lib/apk/db/scripts.tar",
        ] {
            assert!(bytes(empty).is_empty(), "{empty}");
        }
        assert!(tree.get("var/cache/apk").is_some());
    }
}
