//! GRUB platforms built from source: Debian's pinned grub2 source package (its own patches
//! applied by `dpkg-source -x`, [`crate::sources::debian_source`]) with TiniLinux's patches
//! from `grub-patches/` applied on top, configured for one platform (`--with-platform`,
//! `--target`, Debian's values) and made as far as `grub-core`: `kernel.img`, the `*.mod`
//! modules and the `*.lst` files, the folder `grub-mkimage -d` reads. The pinned
//! `grub-mkimage` of grub-common (same source, same version) assembles the images from it.
//!
//! Why: the x86_64 UEFI loader of GRUB 2.06 cannot place the kernel in a 64 MiB machine
//! (the patches say why, and BENCHMARKS.md "Memory floor: 32 MiB with BIOS, 64 MiB with UEFI"
//! measures it); Debian 12 has no newer GRUB. Which platforms are built so is the target's choice
//! ([`crate::target::GrubModules::Source`]); the others stay Debian's binary packages.
//!
//! The build runs `autogen.sh` (Debian's patches change GRUB's Makefile definitions, as
//! Debian's own build does), then `configure` in a separate folder and `make -C grub-core`.
//! It is cached under the Debian version, the patches (names and sha256), the configure
//! flags, the versions of the C compiler, the linker and the autotools, and this recipe. What
//! configure would otherwise take from the host is pinned: no build-time font (a host with
//! unifont and freetype would build one into `font.mod` and `normal.mod`), and the compiler
//! flag variables of the caller's environment are removed. configure runs by the relative path
//! `../src/configure`, so the file names GRUB compiles in are the same in every build folder
//! and two caches give the same modules (compared byte for byte when this was written).
//!
//! It owns its build folder and its cache artifact.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cache::{self, KeyBuilder};
use crate::context::Context;
use crate::error::{Error, IoContext, Result};
use crate::kernel_patches::{self, Patch};
use crate::runner::{jobs, run_capture, run_logged, run_logged_progress, Stage};
use crate::sources;

/// Debian's source package.
pub const PACKAGE: &str = "grub2";
/// The repository folder of TiniLinux's GRUB patches (applied in name order).
pub const PATCHES_DIR: &str = "grub-patches";
/// Bumped whenever the build steps or the files kept change.
const RECIPE: u32 = 1;
/// Configure flags besides the platform and the version: nothing the boot images use is
/// turned off, only host programs (font maker, device-mapper, ZFS, XZ for MIPS images), the
/// build-time font, themes and translations, which `grub-core` does not need.
pub const CONFIGURE: &[&str] = &[
    "--disable-build-grub-mkfont",
    "--disable-nls",
    "--disable-grub-mkfont",
    "--disable-grub-themes",
    "--disable-device-mapper",
    "--disable-libzfs",
    "--disable-liblzma",
];
/// The C compiler GRUB is built with (its version goes into the cache key).
const CC: &str = "gcc";
/// Environment variables configure and make would take compiler flags from; removed so the
/// caller's environment cannot change the modules.
const FLAG_VARIABLES: &[&str] = &[
    "CFLAGS",
    "CPPFLAGS",
    "LDFLAGS",
    "TARGET_CFLAGS",
    "TARGET_CPPFLAGS",
    "TARGET_LDFLAGS",
    "TARGET_CC",
    "CC",
];
/// Tools whose version goes into the cache key (`TOOL --version`, first line).
const KEYED_TOOLS: &[&str] = &[CC, "ld", "autoreconf", "automake"];

/// TiniLinux's GRUB patches in `repo_root`/[`PATCHES_DIR`], in the order they are applied.
/// Errors: an unreadable folder or file.
pub fn patches(repo_root: &Path) -> Result<Vec<Patch>> {
    kernel_patches::read_folder(&repo_root.join(PATCHES_DIR))
}

/// The module folder of GRUB platform `platform`/`target` (`efi`/`amd64-pe`), built from
/// the pinned source with `grub-patches/` on first use and cached.
///
/// Errors: as [`sources::debian_source`] (a missing pin, a checksum mismatch); a patch that
/// does not apply; autogen, configure or make failing (the log `logs/grub-PLATFORM-TARGET.log`,
/// e.g. `logs/grub-efi-amd64-pe.log`, names the step); a build without `kernel.img` or
/// `moddep.lst` (nothing is cached then).
pub fn modules(ctx: &Context, platform: &str, target: &str) -> Result<PathBuf> {
    let (tree, version) = sources::debian_source(ctx, PACKAGE)?;
    let patches = patches(&ctx.repo_root)?;
    let name = format!("grub-{platform}-{target}");
    let stage = Stage::start(
        "grub",
        &format!("GRUB {platform} ({target}) from {PACKAGE} {version} with {PATCHES_DIR}/"),
    );
    let mut key = KeyBuilder::new("grub-source", RECIPE);
    key.bytes("version", version.as_bytes())
        .bytes("platform", platform.as_bytes())
        .bytes("target", target.as_bytes())
        .bytes("configure", CONFIGURE.join(" ").as_bytes())
        .bytes("patches", kernel_patches::stamp("", &patches).as_bytes());
    for tool in KEYED_TOOLS {
        let out = run_capture(
            &format!("{tool} --version"),
            Command::new(tool).arg("--version"),
        )?;
        key.bytes(tool, out.lines().next().unwrap_or("").as_bytes());
    }
    let key = key.finish();
    let dir = match cache::lookup(ctx, &name, &key) {
        Some(dir) => {
            stage.note(&format!("cached ({key})"));
            dir
        }
        None => {
            let log = ctx.log_path(&name);
            stage.note(&format!(
                "autogen + configure + make (log: {})",
                log.display()
            ));
            let build = Build {
                tree: &tree,
                version: &version,
                platform,
                target,
                patches: &patches,
                work: &ctx.build_dir(&name),
                log: &log,
            };
            build.compile()?;
            let dir = cache::publish(ctx, &name, &key, |tmp| build.keep(tmp))?;
            fs::remove_dir_all(build.work).ctx(|| format!("removing {}", build.work.display()))?;
            dir
        }
    };
    for needed in NEEDED {
        if !dir.join(needed).is_file() {
            return Err(Error::Invalid(format!(
                "the GRUB build in {} has no {needed}; delete that cache folder and build again",
                dir.display()
            )));
        }
    }
    stage.done(&dir.display().to_string());
    Ok(dir)
}

/// Files without which the folder is no GRUB platform for `grub-mkimage`.
const NEEDED: [&str; 2] = ["kernel.img", "moddep.lst"];

/// One build: the unpacked source, what to apply and configure, and where.
struct Build<'a> {
    tree: &'a Path,
    version: &'a str,
    platform: &'a str,
    target: &'a str,
    patches: &'a [Patch],
    /// The build folder (`src/` the patched copy, `obj/` the configured build).
    work: &'a Path,
    log: &'a Path,
}

impl Build<'_> {
    /// Copies the source, applies the patches, runs autogen, configure and make.
    fn compile(&self) -> Result<()> {
        let _ = fs::remove_file(self.log);
        if self.work.exists() {
            fs::remove_dir_all(self.work).ctx(|| format!("removing {}", self.work.display()))?;
        }
        fs::create_dir_all(self.work).ctx(|| format!("creating {}", self.work.display()))?;
        let src = self.work.join("src");
        let obj = self.work.join("obj");
        run_logged(
            "copying the grub2 source",
            Command::new("cp").arg("-a").arg(self.tree).arg(&src),
            self.log,
        )?;
        kernel_patches::apply_from(PATCHES_DIR, &src, self.patches, self.log)?;
        run_logged(
            "grub autogen.sh",
            Command::new("bash")
                .arg("autogen.sh")
                .current_dir(&src)
                .env("PYTHON", "python3"),
            self.log,
        )?;
        fs::create_dir_all(&obj).ctx(|| format!("creating {}", obj.display()))?;
        run_logged(
            "grub configure",
            // Run by a relative path: GRUB's messages and asserts carry `__FILE__` as
            // configure's path to the source makes it, and `../src/...` is the same in every
            // build folder (an absolute path would put the cache's location into the modules).
            without_flag_variables(Command::new("sh").arg("../src/configure"))
                .current_dir(&obj)
                .arg(format!("PACKAGE_VERSION={}", self.version))
                .arg(format!("PACKAGE_STRING=GRUB {}", self.version))
                .arg(format!("CC={CC}"))
                .arg(format!("TARGET_CC={CC}"))
                .arg(format!("--with-platform={}", self.platform))
                .arg(format!("--target={}", self.target))
                .args(CONFIGURE),
            self.log,
        )?;
        run_logged_progress(
            "grub make",
            without_flag_variables(&mut Command::new("make"))
                .current_dir(&obj)
                .arg(format!("-j{}", jobs()))
                .args(["-C", "grub-core"]),
            self.log,
        )
    }

    /// Copies what `grub-mkimage -d` reads (`kernel.img`, `*.mod`, `*.lst`, `modinfo.sh`)
    /// from the build's `grub-core` into `dest`.
    fn keep(&self, dest: &Path) -> Result<()> {
        let core = self.work.join("obj/grub-core");
        let mut kept = 0;
        for entry in fs::read_dir(&core).ctx(|| format!("reading {}", core.display()))? {
            let entry = entry.ctx(|| format!("reading {}", core.display()))?;
            let file = entry.file_name();
            let name = file.to_string_lossy();
            if is_kept(&name) && entry.path().is_file() {
                fs::copy(entry.path(), dest.join(&file))
                    .ctx(|| format!("copying {}", entry.path().display()))?;
                kept += 1;
            }
        }
        if kept == 0 || NEEDED.iter().any(|n| !dest.join(n).is_file()) {
            return Err(Error::Invalid(format!(
                "the GRUB build left no {} in {}; see {}",
                NEEDED.join(" or "),
                core.display(),
                self.log.display()
            )));
        }
        Ok(())
    }
}

/// `cmd` without [`FLAG_VARIABLES`] in its environment.
fn without_flag_variables(cmd: &mut Command) -> &mut Command {
    for var in FLAG_VARIABLES {
        cmd.env_remove(var);
    }
    cmd
}

/// Whether a file of the build's `grub-core` is part of the module folder: `kernel.img`,
/// the modules, the `*.lst` files (which include `kernel_syms.lst` and `syminfo.lst`, which
/// Debian's package does not ship and grub-mkimage does not read) and `modinfo.sh`; not the
/// debugger scripts, `config.h` or the intermediate files.
fn is_kept(name: &str) -> bool {
    name == "kernel.img" || name == "modinfo.sh" || name.ends_with(".mod") || name.ends_with(".lst")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_module_folder_keeps_what_grub_mkimage_reads() {
        for kept in [
            "kernel.img",
            "linux.mod",
            "moddep.lst",
            "command.lst",
            "modinfo.sh",
        ] {
            assert!(is_kept(kept), "{kept}");
        }
        for dropped in [
            "kernel.exec",
            "linux.module",
            "gdb_grub",
            "Makefile",
            "linux.marker",
        ] {
            assert!(!is_kept(dropped), "{dropped}");
        }
    }
}
