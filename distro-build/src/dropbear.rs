//! The SSH server as a rootfs component: Dropbear from Debian's source package (pinned in
//! `sources.lock`, Debian's patches applied), built statically against musl
//! ([`crate::musl`]) as one multi-call binary, `/usr/bin/dropbearmulti`, with its four
//! programs as symbolic links: `/usr/sbin/dropbear` (the server), `/usr/bin/dropbearkey`
//! (host keys are made at first boot by rcS, never shipped), `/usr/bin/dbclient` (the
//! client) and `/usr/bin/scp` (which the server runs for `scp` from a remote machine).
//!
//! Build options that differ from Dropbear's defaults are in
//! `distro-build/dropbear/localoptions.h` (upstream's documented place for them: INSTALL):
//! no password method in the server (keys only), no sftp-server, no FIDO key types. It is
//! configured with Dropbear's bundled LibTomCrypt and LibTomMath (Debian links the system
//! copies; a static program needs them built in), without zlib and without login records
//! (no utmp/wtmp/lastlog on TiniLinux). The build is cached by the Debian version, the
//! options file, the kernel headers and this recipe; source paths are mapped away
//! (`-ffile-prefix-map`) so two caches give the same bytes.

use std::cell::OnceCell;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cache::{self, KeyBuilder};
use crate::component::Component;
use crate::context::Context;
use crate::error::{Error, IoContext, Result};
use crate::runner::{jobs, run_logged, Stage};
use crate::sources;
use crate::toolchain::Toolchain;
use crate::tree::{Entry, FileData, RootfsTree};

/// Debian's source package.
pub const PACKAGE: &str = "dropbear";
/// Where the multi-call binary sits in a root file system (its presence marks Dropbear as a
/// component of an output).
pub const MULTI_PATH: &str = "usr/bin/dropbearmulti";
/// The programs of the multi-call binary and where each is linked in the root file system.
pub const PROGRAMS: &[(&str, &str)] = &[
    ("dropbear", "usr/sbin/dropbear"),
    ("dropbearkey", "usr/bin/dropbearkey"),
    ("dbclient", "usr/bin/dbclient"),
    ("scp", "usr/bin/scp"),
];
/// Bumped whenever the configure flags or the build steps change.
const RECIPE: u32 = 1;

/// Configure flags: the bundled LibTom libraries (built in), no zlib, no login records.
const CONFIGURE: &[&str] = &[
    "--enable-static",
    "--enable-bundled-libtom",
    "--disable-zlib",
    "--disable-lastlog",
    "--disable-utmp",
    "--disable-utmpx",
    "--disable-wtmp",
    "--disable-wtmpx",
    "--disable-pututline",
    "--disable-pututxline",
];

/// The options file of the repository (copied into the build tree as `localoptions.h`).
pub fn options_path(ctx: &Context) -> PathBuf {
    ctx.repo_root.join("distro-build/dropbear/localoptions.h")
}

/// A built Dropbear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropbear {
    /// The static multi-call binary.
    pub binary: PathBuf,
    /// The Debian version it was built from.
    pub version: String,
}

/// Builds (or takes from the cache) the static multi-call Dropbear from the unpacked
/// `source` of Debian version `version`.
///
/// Errors: as [`crate::musl::toolchain`]; a failing configure or make (logs/dropbear.log);
/// a result that is not a static executable.
pub fn build(ctx: &Context, source: &Path, version: &str) -> Result<Dropbear> {
    let toolchain = Toolchain::of(ctx)?;
    let stage = Stage::start(
        "dropbear",
        "static Dropbear: dropbear, dropbearkey, dbclient, scp in one binary",
    );
    let options_file = options_path(ctx);
    let options = fs::read(&options_file).ctx(|| format!("reading {}", options_file.display()))?;
    let mut key = KeyBuilder::new("dropbear", RECIPE);
    key.bytes("version", version.as_bytes())
        .bytes("cc", crate::musl::CC.as_bytes())
        .bytes("options", &options);
    if toolchain.is_native() {
        // The x86_64 key as before cross builds existed (its bytes in the same order).
        key.file(
            "kernel headers",
            &toolchain.musl.kernel_headers.join("linux/version.h"),
        )?;
    } else {
        toolchain.key(&mut key)?;
    }
    let key = key.finish();
    let dir = match cache::lookup(ctx, "dropbear", &key) {
        Some(dir) => {
            stage.note(&format!("cached ({key})"));
            dir
        }
        None => {
            stage.note("configure + make (log: logs/dropbear.log)");
            compile(ctx, &toolchain, source, &options, &key)?
        }
    };
    let binary = dir.join("dropbearmulti");
    if !crate::tinibox_static::is_static(&binary)? {
        return Err(Error::Invalid(format!(
            "{} is dynamically linked; the rootfs needs a static Dropbear",
            binary.display()
        )));
    }
    let size = fs::metadata(&binary).map(|m| m.len()).unwrap_or(0);
    stage.done(&format!("{} ({} KiB)", binary.display(), size / 1024));
    Ok(Dropbear {
        binary,
        version: version.to_string(),
    })
}

/// Configures and makes Dropbear in a fresh copy of the source, strips the binary and
/// publishes it to the cache.
fn compile(
    ctx: &Context,
    toolchain: &Toolchain,
    source: &Path,
    options: &[u8],
    key: &str,
) -> Result<PathBuf> {
    let log = ctx.log_path("dropbear");
    let _ = fs::remove_file(&log);
    let tree = ctx.build_dir("dropbear");
    if tree.exists() {
        fs::remove_dir_all(&tree).ctx(|| format!("removing {}", tree.display()))?;
    }
    if let Some(parent) = tree.parent() {
        fs::create_dir_all(parent).ctx(|| format!("creating {}", parent.display()))?;
    }
    run_logged(
        "copying the dropbear source",
        Command::new("cp").arg("-a").arg(source).arg(&tree),
        &log,
    )?;
    fs::write(tree.join("localoptions.h"), options)
        .ctx(|| format!("writing {}", tree.join("localoptions.h").display()))?;
    let cflags = format!(
        "-Os {} -ffile-prefix-map={}=.",
        toolchain.cflags(),
        tree.display()
    );
    run_logged(
        "dropbear configure",
        Command::new(tree.join("configure"))
            .current_dir(&tree)
            .args(CONFIGURE)
            .args(toolchain.host_triplet().map(|t| format!("--host={t}")))
            .env("CC", toolchain.cc())
            .env("CFLAGS", &cflags)
            .env("LDFLAGS", "-static"),
        &log,
    )?;
    let programs: Vec<&str> = PROGRAMS.iter().map(|(p, _)| *p).collect();
    run_logged(
        "dropbear make",
        Command::new("make")
            .current_dir(&tree)
            .arg(format!("-j{}", jobs()))
            .arg(format!("PROGRAMS={}", programs.join(" ")))
            .args(["MULTI=1", "STATIC=1"]),
        &log,
    )?;
    let dir = cache::publish(ctx, "dropbear", key, |tmp| {
        run_logged(
            "strip dropbearmulti",
            Command::new(toolchain.strip())
                .arg("--strip-all")
                .arg("-o")
                .arg(tmp.join("dropbearmulti"))
                .arg(tree.join("dropbearmulti")),
            &log,
        )
    })?;
    fs::remove_dir_all(&tree).ctx(|| format!("removing {}", tree.display()))?;
    Ok(dir)
}

/// Dropbear as a rootfs component.
#[derive(Debug, Default)]
pub struct DropbearComponent {
    source: OnceCell<(PathBuf, String)>,
    built: OnceCell<Dropbear>,
}

impl DropbearComponent {
    /// A component that has fetched and built nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A component whose build is `built` (for assembling a tree from a given binary).
    pub fn prebuilt(built: Dropbear) -> Self {
        DropbearComponent {
            source: OnceCell::new(),
            built: OnceCell::from(built),
        }
    }

    /// The verified, unpacked source tree and its Debian version (fetched on first use).
    pub fn source(&self, ctx: &Context) -> Result<&(PathBuf, String)> {
        crate::pipeline::memo(&self.source, || sources::debian_source(ctx, PACKAGE))
    }

    /// The built Dropbear (built on first use).
    pub fn built(&self, ctx: &Context) -> Result<&Dropbear> {
        crate::pipeline::memo(&self.built, || {
            let (tree, version) = self.source(ctx)?;
            build(ctx, tree, version)
        })
    }
}

impl Component for DropbearComponent {
    fn name(&self) -> &'static str {
        "dropbear"
    }

    fn fetch(&self, ctx: &Context) -> Result<()> {
        self.source(ctx).map(|_| ())
    }

    fn build(&self, ctx: &Context) -> Result<()> {
        self.built(ctx).map(|_| ())
    }

    /// `/usr/bin/dropbearmulti` (0755), a symbolic link per program, and `/etc/dropbear`
    /// (0700, empty: the host keys are made at first boot).
    fn install(&self, ctx: &Context, tree: &mut RootfsTree) -> Result<()> {
        let built = self.built(ctx)?;
        tree.insert(
            MULTI_PATH,
            Entry::file(FileData::Host(built.binary.clone()), 0o755),
        )?;
        for (_, link) in PROGRAMS {
            tree.insert(link, Entry::symlink(format!("/{MULTI_PATH}")))?;
        }
        tree.insert("etc/dropbear", Entry::dir(0o700))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installs_the_binary_a_link_per_program_and_no_host_key() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let ctx = Context::from_env(repo);
        let component = DropbearComponent::prebuilt(Dropbear {
            binary: PathBuf::from("/bin/true"),
            version: "2022.83-1+deb12u3".into(),
        });
        let mut tree = RootfsTree::new();
        component.install(&ctx, &mut tree).unwrap();
        assert_eq!(tree.get(MULTI_PATH).unwrap().mode, 0o755);
        for (_, link) in PROGRAMS {
            match &tree.get(link).unwrap().kind {
                crate::tree::EntryKind::Symlink(target) => {
                    assert_eq!(target, Path::new("/usr/bin/dropbearmulti"), "{link}")
                }
                other => panic!("{link} is {other:?}"),
            }
        }
        assert_eq!(tree.get("etc/dropbear").unwrap().mode, 0o700);
        let keys = tree
            .iter()
            .filter(|(p, _)| p.starts_with("etc/dropbear") && *p != Path::new("etc/dropbear"))
            .count();
        assert_eq!(keys, 0, "a host key in the image");
    }

    #[test]
    fn the_server_is_built_without_password_logins() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let ctx = Context::from_env(repo);
        let options = fs::read_to_string(options_path(&ctx)).unwrap();
        assert!(options
            .lines()
            .any(|l| l.trim() == "#define DROPBEAR_SVR_PASSWORD_AUTH 0"));
    }
}
