//! The disk tools TiniLinux carries for installing and checking disks: `sfdisk` (GPT, which
//! BusyBox's fdisk cannot write), `mke2fs` (real ext4, which BusyBox's mke2fs cannot make)
//! and `e2fsck`, as static programs in `/usr/lib/tinilinux/disktools/`.
//!
//! They are built here from the Debian source packages pinned in `sources.lock` (util-linux
//! and e2fsprogs, Debian's patches applied) with musl for the build's target
//! ([`crate::toolchain::Toolchain`]: the host's `musl-gcc` for x86_64, Debian's cross gcc
//! with the target's musl for arm64, configure's `--host`), with only what the
//! three programs need (no NLS, no readline or ncurses, libblkid/libuuid built in). Measured
//! against the previous payload (Debian's binaries with glibc's shared libraries and loader,
//! 5.0 MB, 1,626,804 bytes with `xz -9e`): 1.63 MB, 529,360 bytes with `xz -9e`
//! (BENCHMARKS.md, "Footprint"). Each is a plain static executable: the folder still works
//! after being copied elsewhere (the early /init copies e2fsck to /run to check the root
//! before mounting it).
//!
//! The build is cached by both source packages' versions, the toolchain (compiler, target
//! musl and kernel headers: [`Toolchain::key`]) and this recipe;
//! source paths are mapped away (`-ffile-prefix-map`) so two caches give the same bytes.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cache::{self, KeyBuilder};
use crate::context::Context;
use crate::error::{Error, IoContext, Result};
use crate::runner::{jobs, run_logged, Stage};
use crate::sources;
use crate::toolchain::Toolchain;
use crate::tree::{Entry, FileData, RootfsTree};

/// Folder in the rootfs.
pub const DIR: &str = "usr/lib/tinilinux/disktools";
/// The programs carried, each built from the source package named beside it.
pub const TOOLS: &[(&str, &str)] = &[
    ("sfdisk", "util-linux"),
    ("mke2fs", "e2fsprogs"),
    ("e2fsck", "e2fsprogs"),
];
/// Bumped whenever the configure flags or the build steps change.
const RECIPE: u32 = 2;

/// e2fsprogs' configure flags: static, no NLS, and only the libraries mke2fs and e2fsck use.
const E2FSPROGS_CONFIGURE: &[&str] = &[
    "--disable-nls",
    "--disable-shared",
    "--disable-fuse2fs",
    "--disable-defrag",
    "--disable-imager",
    "--disable-debugfs",
    "--disable-resizer",
    "--disable-e2initrd-helper",
    "--disable-uuidd",
    "--disable-tdb",
    "--enable-libuuid",
    "--enable-libblkid",
    "--without-libarchive",
];

/// util-linux's configure flags: nothing but sfdisk and the libraries it links (libfdisk,
/// libsmartcols, libblkid, libuuid), static, without readline, ncurses or NLS. `fdisks=check`
/// builds sfdisk and fdisk and skips cfdisk, which would need ncurses.
const UTIL_LINUX_CONFIGURE: &[&str] = &[
    "--disable-all-programs",
    "--enable-libblkid",
    "--enable-libuuid",
    "--enable-libfdisk",
    "--enable-libsmartcols",
    "--enable-fdisks=check",
    "--disable-shared",
    "--enable-static",
    "--disable-nls",
    "--disable-bash-completion",
    "--disable-asciidoc",
    "--disable-poman",
    "--without-readline",
    "--without-ncurses",
    "--without-ncursesw",
    "--without-tinfo",
    "--without-systemd",
    "--without-udev",
    "--without-python",
    "--without-libz",
    "--without-user",
    "--without-btrfs",
    "--without-cap-ng",
    "--without-audit",
    "--without-selinux",
];

/// The built tools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskTools {
    /// (tool name, static binary in the cache).
    pub tools: Vec<(String, PathBuf)>,
}

impl DiskTools {
    /// Fetches, unpacks and builds the pinned util-linux and e2fsprogs (or takes the build
    /// from the cache).
    ///
    /// Errors: as [`crate::sources::debian_source`] and [`crate::musl::toolchain`]; a failing
    /// configure or make (logs/disktools.log); a result that is not a static executable.
    pub fn pinned(ctx: &Context) -> Result<DiskTools> {
        let (util_linux, ul_version) = sources::debian_source(ctx, "util-linux")?;
        let (e2fsprogs, e2_version) = sources::debian_source(ctx, "e2fsprogs")?;
        let toolchain = Toolchain::of(ctx)?;
        let stage = Stage::start(
            "disktools",
            "static sfdisk, mke2fs, e2fsck (musl) from util-linux and e2fsprogs",
        );
        let mut key = KeyBuilder::new("disktools", RECIPE);
        key.bytes("util-linux", ul_version.as_bytes())
            .bytes("e2fsprogs", e2_version.as_bytes());
        // Natively the same key bytes as before cross builds existed (musl-gcc + headers).
        toolchain.key(&mut key)?;
        let key = key.finish();
        let dir = match cache::lookup(ctx, "disktools", &key) {
            Some(dir) => {
                stage.note(&format!("cached ({key})"));
                dir
            }
            None => {
                stage.note("configure + make (a few minutes; log: logs/disktools.log)");
                compile(ctx, &toolchain, &util_linux, &e2fsprogs, &key)?
            }
        };
        let tools: Vec<(String, PathBuf)> = TOOLS
            .iter()
            .map(|(tool, _)| (tool.to_string(), dir.join(tool)))
            .collect();
        for (_, bin) in &tools {
            check_machine(bin, ctx.target.elf_machine)?;
            if !crate::tinibox_static::is_static(bin)? {
                return Err(Error::Invalid(format!(
                    "{} is dynamically linked; the installer needs static disk tools",
                    bin.display()
                )));
            }
        }
        stage.done(&format!("{} tools in {}", tools.len(), dir.display()));
        Ok(DiskTools { tools })
    }
}

/// Checks that the ELF file at `path` is for `machine` (`e_machine`: 62 x86_64, 183
/// aarch64). Errors: unreadable, not ELF, or built for another machine (a cache or
/// toolchain mix-up), naming both machines.
fn check_machine(path: &Path, machine: u16) -> Result<()> {
    let mut header = [0u8; 20];
    let mut file = fs::File::open(path).ctx(|| format!("opening {}", path.display()))?;
    std::io::Read::read_exact(&mut file, &mut header)
        .ctx(|| format!("reading {}", path.display()))?;
    if &header[..4] != b"\x7fELF" {
        return Err(Error::Invalid(format!(
            "{} is not an ELF file",
            path.display()
        )));
    }
    let found = u16::from_le_bytes([header[18], header[19]]);
    if found != machine {
        return Err(Error::Invalid(format!(
            "{} is built for ELF machine {found}, the target needs {machine}; delete that cache folder and build again",
            path.display()
        )));
    }
    Ok(())
}

/// Builds the three tools in fresh build folders and publishes them to the cache.
fn compile(
    ctx: &Context,
    toolchain: &Toolchain,
    util_linux: &Path,
    e2fsprogs: &Path,
    key: &str,
) -> Result<PathBuf> {
    let log = ctx.cache_dir.join("logs/disktools.log");
    let _ = fs::remove_file(&log);
    let build = ctx.cache_dir.join("build/disktools");
    if build.exists() {
        fs::remove_dir_all(&build).ctx(|| format!("removing {}", build.display()))?;
    }
    fs::create_dir_all(&build).ctx(|| format!("creating {}", build.display()))?;
    // Each package is configured in a copy (both build in their source tree); the copy's
    // path is mapped to "." in debug strings and assertions.
    let mut built = Vec::new();
    for (name, source, configure, targets) in [
        (
            "e2fsprogs",
            e2fsprogs,
            E2FSPROGS_CONFIGURE,
            &[
                (".", "libs", false),
                ("misc", "mke2fs", true),
                ("e2fsck", "e2fsck", true),
            ][..],
        ),
        (
            "util-linux",
            util_linux,
            UTIL_LINUX_CONFIGURE,
            &[(".", "sfdisk", true)][..],
        ),
    ] {
        let tree = build.join(name);
        run_logged(
            &format!("copying the {name} source"),
            Command::new("cp").arg("-a").arg(source).arg(&tree),
            &log,
        )?;
        // Debian's patches left configure.ac and m4 files newer than the generated autotools
        // files, so make would rerun aclocal/automake (not installed): mark them current.
        run_logged(
            &format!("marking the {name} autotools outputs current"),
            Command::new("find").arg(&tree).args([
                "(",
                "-name",
                "aclocal.m4",
                "-o",
                "-name",
                "configure",
                "-o",
                "-name",
                "Makefile.in",
                "-o",
                "-name",
                "config.h.in",
                ")",
                "-exec",
                "touch",
                "{}",
                "+",
            ]),
            &log,
        )?;
        let cflags = format!(
            "-Os {} -ffile-prefix-map={}=.",
            toolchain.cflags(),
            tree.display()
        );
        run_logged(
            &format!("{name} configure"),
            Command::new(tree.join("configure"))
                .current_dir(&tree)
                .args(configure)
                .args(toolchain.host_triplet().map(|t| format!("--host={t}")))
                .env("CC", toolchain.cc())
                .env("CFLAGS", &cflags)
                .env("LDFLAGS", "-static"),
            &log,
        )?;
        // (folder, make target, whether the target is a program to carry)
        for (dir, target, program) in targets {
            let mut make = Command::new("make");
            make.current_dir(tree.join(dir))
                .arg(format!("-j{}", jobs()))
                .arg(target);
            if name == "util-linux" {
                // libtool keeps -static for its own libraries only; -all-static makes the
                // program itself static (without it sfdisk was linked dynamically).
                make.arg("LDFLAGS=-all-static");
            }
            run_logged(&format!("{name} make {target}"), &mut make, &log)?;
            if *program {
                built.push((target.to_string(), tree.join(dir).join(target)));
            }
        }
    }
    let dir = cache::publish(ctx, "disktools", key, |tmp| {
        for (program, path) in &built {
            run_logged(
                &format!("strip {program}"),
                Command::new(toolchain.strip())
                    .arg("--strip-all")
                    .arg("-o")
                    .arg(tmp.join(program))
                    .arg(path),
                &log,
            )?;
        }
        Ok(())
    })?;
    fs::remove_dir_all(&build).ctx(|| format!("removing {}", build.display()))?;
    Ok(dir)
}

/// Adds the tools under [`DIR`] in `tree`.
pub fn add(tree: &mut RootfsTree, built: &DiskTools) -> Result<()> {
    for (tool, bin) in &built.tools {
        tree.insert(
            format!("{DIR}/{tool}"),
            Entry::file(FileData::Host(bin.clone()), 0o755),
        )?;
    }
    Ok(())
}
