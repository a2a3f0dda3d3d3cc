//! The BusyBox component: `defconfig` + `distro-build/busybox.config` → a static BusyBox (musl,
//! see [`crate::musl`]; natively or through the target's cross gcc: [`crate::toolchain`]) and its applet list (`busybox.links`), cached under a key of the Debian version, the fragment
//! and this recipe; [`BusyBoxComponent`] fetches, builds and installs it into the rootfs
//! tree (`/bin/busybox` and the applet links).

use std::cell::OnceCell;
use std::fs;
use std::path::PathBuf;
use std::process::Command;

use crate::cache::{self, KeyBuilder};
use crate::component::Component;
use crate::context::Context;
use crate::error::{Error, IoContext, Result};
use crate::kconfig;
use crate::runner::{jobs, run_logged, run_logged_progress, Stage};
use crate::sources::{self, BusyBoxSource};
use crate::toolchain::Toolchain;
use crate::tree::{Entry, FileData, RootfsTree};

/// Bumped whenever the way BusyBox is configured or built changes.
const RECIPE: u32 = 4;

/// A built BusyBox.
#[derive(Debug, Clone)]
pub struct BusyBox {
    /// The static binary.
    pub binary: PathBuf,
    /// Applet paths relative to the root (`bin/sh`, `sbin/init`, …), one per link.
    pub applets: Vec<String>,
}

/// What dates the BusyBox build (its `--help` banner): the last commit touching these (not
/// the lock, which pins many packages; BusyBox's version is in its cache key already).
pub const EPOCH_INPUTS: &[&str] = &["distro-build/busybox.config", "distro-build/src/busybox.rs"];

/// The BusyBox config fragment of the repository.
pub fn fragment_path(ctx: &Context) -> PathBuf {
    ctx.repo_root.join("distro-build/busybox.config")
}

/// Applies fragment requests to a `.config` text: replaces existing lines, appends others.
pub fn apply(config: &str, requests: &[kconfig::Request]) -> String {
    let mut out = Vec::new();
    let mut done = std::collections::BTreeSet::new();
    for line in config.lines() {
        let name = kconfig::parse(line).into_iter().next().map(|(n, _)| n);
        match name.and_then(|n| requests.iter().find(|r| r.name == n)) {
            Some(r) => {
                out.push(
                    kconfig::render(std::slice::from_ref(r))
                        .trim_end()
                        .to_string(),
                );
                done.insert(r.name.clone());
            }
            None => out.push(line.to_string()),
        }
    }
    for r in requests.iter().filter(|r| !done.contains(&r.name)) {
        out.push(
            kconfig::render(std::slice::from_ref(r))
                .trim_end()
                .to_string(),
        );
    }
    out.join("\n") + "\n"
}

/// Builds (or takes from the cache) the static BusyBox from the fetched `source`.
pub fn build(ctx: &Context, source: &BusyBoxSource) -> Result<BusyBox> {
    let stage = Stage::start(
        "busybox",
        "static BusyBox: defconfig + distro-build/busybox.config",
    );
    let frag_path = fragment_path(ctx);
    let fragment =
        fs::read_to_string(&frag_path).ctx(|| format!("reading {}", frag_path.display()))?;
    let toolchain = Toolchain::of(ctx)?;
    let mut key = KeyBuilder::new("busybox", RECIPE);
    key.bytes("version", source.version.as_bytes());
    toolchain.key(&mut key)?;
    key.bytes("fragment", fragment.as_bytes())
        .bytes("epoch", &ctx.epoch_of(EPOCH_INPUTS).key_bytes());
    let key = key.finish();
    let dir = match cache::lookup(ctx, "busybox", &key) {
        Some(dir) => {
            stage.note(&format!("cached ({key})"));
            dir
        }
        None => compile(ctx, source, &toolchain, &fragment, &key, &stage)?,
    };
    let links = fs::read_to_string(dir.join("busybox.links"))
        .ctx(|| format!("reading {}", dir.join("busybox.links").display()))?;
    let applets: Vec<String> = links
        .lines()
        .map(|l| l.trim().trim_start_matches('/').to_string())
        .filter(|l| !l.is_empty())
        .collect();
    stage.done(&format!("{} applets", applets.len()));
    Ok(BusyBox {
        binary: dir.join("busybox"),
        applets,
    })
}

fn compile(
    ctx: &Context,
    source: &BusyBoxSource,
    toolchain: &Toolchain,
    fragment: &str,
    key: &str,
    stage: &Stage,
) -> Result<PathBuf> {
    let requests = kconfig::merge(&[("busybox.config".to_string(), fragment.to_string())])?;
    let build_dir = ctx.build_dir("busybox");
    fs::create_dir_all(&build_dir).ctx(|| format!("creating {}", build_dir.display()))?;
    let log = ctx.log_path("busybox");
    let _ = fs::remove_file(&log);
    // BusyBox's kconfig dates the build (`busybox --help`) from SOURCE_DATE_EPOCH when set, so
    // two builds give the same binary.
    let epoch = ctx.epoch_of(EPOCH_INPUTS).env_value();
    let make = |args: &[&str]| {
        let mut cmd = Command::new("make");
        cmd.arg("-C")
            .arg(&source.tree)
            .arg(format!("O={}", build_dir.display()))
            .args(toolchain.make_args())
            .args(args)
            .env("SOURCE_DATE_EPOCH", &epoch);
        cmd
    };
    run_logged("busybox defconfig", &mut make(&["defconfig"]), &log)?;
    let config_path = build_dir.join(".config");
    let config =
        fs::read_to_string(&config_path).ctx(|| format!("reading {}", config_path.display()))?;
    fs::write(&config_path, apply(&config, &requests))
        .ctx(|| format!("writing {}", config_path.display()))?;
    // Answer every new question with its default.
    run_logged(
        "busybox oldconfig",
        Command::new("sh")
            .arg("-c")
            .arg(format!(
                "yes '' | make -C '{}' O='{}' oldconfig",
                source.tree.display(),
                build_dir.display()
            ))
            .env("SOURCE_DATE_EPOCH", &epoch),
        &log,
    )?;
    let config =
        fs::read_to_string(&config_path).ctx(|| format!("reading {}", config_path.display()))?;
    let dropped = kconfig::dropped(&requests, &config);
    if !dropped.is_empty() {
        return Err(Error::Config(format!(
            "the BusyBox config dropped {} requested option(s):\n  {}\nfix distro-build/busybox.config",
            dropped.len(),
            kconfig::explain(&source.tree, &dropped)
        )));
    }
    // The build date (SOURCE_DATE_EPOCH) lands in libbb/messages.o, which make does not
    // rebuild when only that date changes: make it again in a reused tree.
    crate::runner::remove_stale(&build_dir.join("libbb/messages.o"))?;
    stage.note(&format!("make -j{} (log: {})", jobs(), log.display()));
    run_logged_progress(
        "busybox build",
        &mut make(&[&format!("-j{}", jobs()), "busybox", "busybox.links"]),
        &log,
    )?;
    cache::publish(ctx, "busybox", key, |tmp| {
        for name in ["busybox", "busybox.links", ".config"] {
            fs::copy(build_dir.join(name), tmp.join(name))
                .ctx(|| format!("copying {name} from {}", build_dir.display()))?;
        }
        Ok(())
    })
}

/// BusyBox as a rootfs component: Debian's source package, the static build, and
/// `/bin/busybox` with one symbolic link per applet.
#[derive(Debug, Default)]
pub struct BusyBoxComponent {
    source: OnceCell<BusyBoxSource>,
    built: OnceCell<BusyBox>,
}

impl BusyBoxComponent {
    /// A component that has fetched and built nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A component whose build is `busybox` (for assembling a tree from a given binary).
    pub fn prebuilt(busybox: BusyBox) -> Self {
        BusyBoxComponent {
            source: OnceCell::new(),
            built: OnceCell::from(busybox),
        }
    }

    /// The verified, unpacked source (fetched on first use).
    pub fn source(&self, ctx: &Context) -> Result<&BusyBoxSource> {
        crate::pipeline::memo(&self.source, || sources::busybox(ctx))
    }

    /// The built BusyBox (built on first use).
    pub fn built(&self, ctx: &Context) -> Result<&BusyBox> {
        crate::pipeline::memo(&self.built, || build(ctx, self.source(ctx)?))
    }
}

impl Component for BusyBoxComponent {
    fn name(&self) -> &'static str {
        "busybox"
    }

    fn fetch(&self, ctx: &Context) -> Result<()> {
        self.source(ctx).map(|_| ())
    }

    fn build(&self, ctx: &Context) -> Result<()> {
        self.built(ctx).map(|_| ())
    }

    /// `/bin/busybox` (0755) and every applet as a symbolic link to it.
    fn install(&self, ctx: &Context, tree: &mut RootfsTree) -> Result<()> {
        let busybox = self.built(ctx)?;
        tree.insert(
            "bin/busybox",
            Entry::file(FileData::Host(busybox.binary.clone()), 0o755),
        )?;
        for applet in busybox.applets.iter().filter(|a| *a != "bin/busybox") {
            tree.insert(applet, Entry::symlink("/bin/busybox"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_replaces_and_appends() {
        let requests = kconfig::merge(&[(
            "b".to_string(),
            "CONFIG_STATIC=y\n# CONFIG_TC is not set\nCONFIG_NEW=y\n".to_string(),
        )])
        .unwrap();
        let out = apply(
            "# CONFIG_STATIC is not set\nCONFIG_TC=y\nCONFIG_KEEP=y\n",
            &requests,
        );
        assert_eq!(
            out,
            "CONFIG_STATIC=y\n# CONFIG_TC is not set\nCONFIG_KEEP=y\nCONFIG_NEW=y\n"
        );
    }
}
