//! The source bundle `out/source/`: the complete corresponding source of every GPL (and
//! other) program whose bytes land in an output, as the GPL asks to ship it next to them.
//!
//! What goes in, decided from what the build actually used ([`debian::used_inputs`]), not
//! from a list kept here, so a stage that starts or stops using a package changes the bundle
//! by itself:
//! - for every binary package the outputs carry bytes from (GRUB's images and modules, the
//!   installer's tools and libraries), the Debian source package it was built from (its
//!   `Source:` control field; a binNMU such as `1.47.0-2+b2` comes from source `1.47.0-2`):
//!   the `.dsc` and every file it lists, fetched with `apt-get source --download-only
//!   SRC=VERSION` and checked against `sources.lock` ([`debian::fetch_source_at`]);
//! - every source package the build itself unpacked (BusyBox);
//! - the kernel: the `linux-source-6.1` binary package, unchanged. Its tarball is the tree
//!   the kernel is built from, with Debian's patches already applied, so together with the
//!   kernel config it *is* the complete corresponding source of the kernel we ship. Debian's
//!   `linux` source package (about 140 MB more, mostly the packaging for every flavour and
//!   architecture) would add nothing we built from; the `.deb` is kept whole, not unpacked,
//!   because its sha256 is the one `sources.lock` pins and Debian's signed archive lists;
//! - the full kernel `.config` and BusyBox `.config` the build used, and Dropbear's build
//!   options (`config/`);
//! - a `README` saying what is there, why, and what is left out (OVMF: firmware the tests
//!   boot with, never shipped in an output).
//!
//! Files are hard-linked from the download cache (copied when the cache is on another file
//! system), so the bundle costs no space. The folder is built beside `out/source` and renamed
//! into place: an interrupted build leaves the previous bundle or none, never half of one.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::cache::sha256_file;
use crate::context::Context;
use crate::debian::{self, Kind, UsedInput};
use crate::error::{IoContext, Result};
use crate::sources::KERNEL_PACKAGE;

/// Dropbear's build options in the bundle (its `localoptions.h`, see [`crate::dropbear`]).
pub const DROPBEAR_OPTIONS: &str = "config/dropbear-localoptions.h";
/// Where the kernel patches sit in the bundle (the tree is built with them applied).
pub const KERNEL_PATCHES: &str = "patches/linux";
/// Where the GRUB patches sit in the bundle (x86_64's UEFI modules are built with them).
pub const GRUB_PATCHES: &str = "patches/grub2";

/// One Debian source package in the bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcePackage {
    /// Source package name (`grub2`).
    pub name: String,
    /// Its Debian version (`2.06-13+deb12u2`).
    pub version: String,
    /// The version `sources.lock` pins (differs after a fallback).
    pub pinned_version: String,
    /// The `.dsc` file name.
    pub dsc: String,
    /// Every file (name inside the bundle, sha256), the `.dsc` included, sorted by name.
    pub files: Vec<(String, String)>,
    /// The used binary packages built from it (name), sorted; empty for BusyBox, whose
    /// source the build compiles itself.
    pub binaries: Vec<String>,
}

/// What [`write`] put into `out/source/`.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The bundle folder (`out/source`).
    pub dir: PathBuf,
    /// The Debian source packages, sorted by name.
    pub sources: Vec<SourcePackage>,
    /// The kernel's source: the `linux-source-6.1` input (its `.deb` is in the bundle).
    pub kernel: UsedInput,
    /// Every file of the bundle: (path relative to the bundle, sha256), sorted.
    pub files: Vec<(String, String)>,
}

/// The bundle folder, `out/source`.
pub fn bundle_dir(ctx: &Context) -> PathBuf {
    ctx.out_dir.join("source")
}

/// Hard-links `src` to `dest`, or copies it when a link cannot be made (another file system).
fn link_or_copy(src: &Path, dest: &Path) -> Result<()> {
    if fs::hard_link(src, dest).is_ok() {
        return Ok(());
    }
    fs::copy(src, dest)
        .map(|_| ())
        .ctx(|| format!("copying {} to {}", src.display(), dest.display()))
}

/// The source packages (name, version) the used binary packages come from, with the binary
/// packages of each, sorted by source name. The kernel package is its own source.
fn sources_of_binaries(inputs: &[UsedInput]) -> Result<Vec<(String, String, Vec<String>)>> {
    let mut out: Vec<(String, String, Vec<String>)> = Vec::new();
    for input in inputs {
        if input.kind != Kind::Binary || input.package == KERNEL_PACKAGE {
            continue;
        }
        for (deb, _) in &input.files {
            let (name, version) = debian::source_of_deb(deb)?;
            match out.iter_mut().find(|(n, v, _)| *n == name && *v == version) {
                Some((_, _, bins)) => bins.push(input.package.clone()),
                None => out.push((name, version, vec![input.package.clone()])),
            }
        }
    }
    for (_, _, bins) in &mut out {
        bins.sort();
        bins.dedup();
    }
    out.sort();
    Ok(out)
}

/// Fetches (or finds in the cache) every source package the used inputs need, and writes
/// `out/source/` with them, the kernel package, and the kernel and BusyBox configs at
/// `kernel_config` and `busybox_config`. Call it after every stage whose inputs it should
/// cover has run (it reads [`debian::used_inputs`]).
///
/// Errors: as [`debian::fetch_source_at`] (a source version the lock does not pin is an
/// error with `--locked`); [`crate::error::Error::Invalid`] when the kernel package was not
/// used; I/O errors naming the path.
pub fn write(ctx: &Context, kernel_config: &Path, busybox_config: &Path) -> Result<Bundle> {
    let lock = debian::load_lock(ctx)?;
    let inputs = debian::used_inputs();
    let kernel = inputs
        .iter()
        .find(|u| u.kind == Kind::Binary && u.package == KERNEL_PACKAGE)
        .cloned()
        .ok_or_else(|| {
            crate::error::Error::Invalid(format!(
                "the source bundle needs the kernel's source package {KERNEL_PACKAGE}: \
                 run `distro-build sources --bundle` or `distro-build all`"
            ))
        })?;
    // Source packages: those of the used binaries, then those the build unpacked itself.
    let mut wanted = sources_of_binaries(&inputs)?;
    for input in inputs.iter().filter(|u| u.kind == Kind::Source) {
        if !wanted.iter().any(|(n, _, _)| *n == input.package) {
            wanted.push((
                input.package.clone(),
                input.used_version.clone(),
                Vec::new(),
            ));
        }
    }
    wanted.sort();
    let mut sources = Vec::new();
    let mut links: Vec<(String, PathBuf)> = Vec::new();
    for (name, version, binaries) in wanted {
        let (dir, used) = debian::fetch_source_at(ctx, &lock, &name, &version)?;
        let recorded = debian::used_inputs()
            .into_iter()
            .find(|u| u.kind == Kind::Source && u.package == name && u.used_version == used);
        let pinned_version = recorded
            .as_ref()
            .map(|u| u.pinned_version.clone())
            .unwrap_or_else(|| used.clone());
        let mut files = Vec::new();
        let mut dsc = String::new();
        let entries = match recorded {
            Some(u) => u.files,
            None => Vec::new(),
        };
        for (path, sum) in entries {
            let file_name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if file_name.ends_with(".dsc") {
                dsc = file_name.clone();
            }
            links.push((file_name.clone(), path.clone()));
            files.push((file_name, sum));
        }
        if dsc.is_empty() {
            return Err(crate::error::Error::Invalid(format!(
                "source package {name} {used} in {} has no .dsc: delete that folder and build again",
                dir.display()
            )));
        }
        files.sort();
        sources.push(SourcePackage {
            name,
            version: used,
            pinned_version,
            dsc,
            files,
            binaries,
        });
    }
    for (deb, _) in &kernel.files {
        let name = deb
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        links.push((name, deb.clone()));
    }

    // The downloads' sums are known already; only the configs and the README get hashed.
    let mut known_sums: HashMap<String, String> = HashMap::new();
    for s in &sources {
        known_sums.extend(s.files.iter().cloned());
    }
    for (deb, sum) in &kernel.files {
        if let Some(name) = deb.file_name() {
            known_sums.insert(name.to_string_lossy().into_owned(), sum.clone());
        }
    }

    let dest = bundle_dir(ctx);
    fs::create_dir_all(&ctx.out_dir).ctx(|| format!("creating {}", ctx.out_dir.display()))?;
    let tmp = crate::cache::temp_sibling(&dest);
    if tmp.exists() {
        fs::remove_dir_all(&tmp).ctx(|| format!("removing {}", tmp.display()))?;
    }
    let result = (|| -> Result<Vec<(String, String)>> {
        fs::create_dir_all(tmp.join("config")).ctx(|| format!("creating {}", tmp.display()))?;
        for (name, src) in &links {
            link_or_copy(src, &tmp.join(name))?;
        }
        fs::copy(kernel_config, tmp.join("config/linux.config"))
            .ctx(|| format!("copying {}", kernel_config.display()))?;
        // TiniLinux's own kernel and GRUB patches, applied to those trees before the build.
        let kernel_patches = crate::kernel_patches::read_all(&ctx.repo_root)?;
        write_patches(&tmp.join(KERNEL_PATCHES), &kernel_patches)?;
        let grub_patches = crate::boot::grub_source::patches(&ctx.repo_root)?;
        write_patches(&tmp.join(GRUB_PATCHES), &grub_patches)?;
        fs::copy(busybox_config, tmp.join("config/busybox.config"))
            .ctx(|| format!("copying {}", busybox_config.display()))?;
        let dropbear_options = crate::dropbear::options_path(ctx);
        fs::copy(&dropbear_options, tmp.join(DROPBEAR_OPTIONS))
            .ctx(|| format!("copying {}", dropbear_options.display()))?;
        fs::write(tmp.join("README"), readme(&sources, &kernel))
            .ctx(|| format!("writing {}", tmp.join("README").display()))?;
        let mut files = Vec::new();
        for entry in walk(&tmp)? {
            let rel = entry
                .strip_prefix(&tmp)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            let known = known_sums.get(&rel).cloned();
            let sum = match known {
                Some(s) => s,
                None => sha256_file(&entry)?,
            };
            files.push((rel, sum));
        }
        files.sort();
        Ok(files)
    })();
    let files = match result {
        Ok(files) => files,
        Err(e) => {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    if dest.exists() {
        fs::remove_dir_all(&dest).ctx(|| format!("removing the old {}", dest.display()))?;
    }
    fs::rename(&tmp, &dest).ctx(|| format!("renaming into {}", dest.display()))?;
    Ok(Bundle {
        dir: dest,
        sources,
        kernel,
        files,
    })
}

/// Every regular file under `dir`, sorted.
fn walk(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).ctx(|| format!("reading {}", dir.display()))? {
        let path = entry.ctx(|| format!("reading {}", dir.display()))?.path();
        if path.is_dir() {
            out.extend(walk(&path)?);
        } else {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Writes `patches` into the folder `dir` (made only when there are patches).
fn write_patches(dir: &Path, patches: &[crate::kernel_patches::Patch]) -> Result<()> {
    if !patches.is_empty() {
        fs::create_dir_all(dir).ctx(|| format!("creating {}", dir.display()))?;
    }
    for patch in patches {
        let to = dir.join(&patch.name);
        fs::write(&to, &patch.text).ctx(|| format!("writing {}", to.display()))?;
    }
    Ok(())
}

/// The bundle's README: what each file is, and what is left out and why.
pub fn readme(sources: &[SourcePackage], kernel: &UsedInput) -> String {
    let mut text = String::from(
        "TiniLinux source bundle\n\
         =======================\n\n\
         The complete corresponding source of the programs TiniLinux's outputs (the ISO, the\n\
         disk image, the rootfs tarballs and the OCI images) carry, as Debian publishes it,\n\
         at the exact versions the build used (pinned in distro-build/sources.lock).\n\
         tinibox and the Rust crates it links are built from the TiniLinux repository and\n\
         crates.io; out/tinilinux.spdx.json lists them with their licences.\n\n\
         Debian source packages (unpack one with `dpkg-source -x NAME_VERSION.dsc`; every\n\
         file a .dsc lists is here, with the sha256 the .dsc gives):\n\n",
    );
    for s in sources {
        let from = if s.binaries.is_empty() {
            "built from source by distro-build".to_string()
        } else {
            format!("binary packages used: {}", s.binaries.join(", "))
        };
        text.push_str(&format!("  {} {} ({from})\n", s.name, s.version));
        if s.version != s.pinned_version {
            text.push_str(&format!(
                "    NOTE: sources.lock pins {}; the archive no longer had it\n",
                s.pinned_version
            ));
        }
        for (name, _) in &s.files {
            text.push_str(&format!("    {name}\n"));
        }
    }
    let deb = kernel
        .files
        .first()
        .and_then(|(p, _)| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    text.push_str(&format!(
        "\nThe Linux kernel: {deb} ({KERNEL_PACKAGE} {version}).\n\
         Its /{tarball} is the kernel tree the build compiles, with Debian's patches already\n\
         applied; with config/linux.config it is the complete corresponding source of the\n\
         kernel on the ISO and the disk. (Debian's `linux` source package is not included: it\n\
         holds the same tree before patching plus the packaging for every flavour, about\n\
         140 MB more, none of which the build uses.) To get the tree:\n\
         \n    dpkg-deb --fsys-tarfile {deb} | tar -xOf - ./{tarball} | tar -xJf -\n\n\
         then, in the tree, apply TiniLinux's own patches in name order (each opens with what it\n\
         changes and why):\n\
         \n    for p in ../{KERNEL_PATCHES}/*.patch; do patch -p1 < \"$p\"; done\n\n\
         {KERNEL_PATCHES}/*.patch  those patches (kernel-patches/ in the repository)\n\
         {GRUB_PATCHES}/*.patch  GRUB's x86_64 UEFI modules (BOOTX64.EFI) are built from grub2\n\
         \x20                      above: `dpkg-source -x`, these patches in name order\n\
         \x20                      (grub-patches/ in the repository), `PYTHON=python3 bash\n\
         \x20                      autogen.sh`, then in a folder `obj` beside the tree\n\
         \x20                      `sh ../TREE/configure PACKAGE_VERSION=VERSION\n\
         \x20                      \"PACKAGE_STRING=GRUB VERSION\" CC=gcc TARGET_CC=gcc\n\
         \x20                      --with-platform=efi --target=amd64-pe {grub_flags}`\n\
         \x20                      and `make -C grub-core` (not for arm64, whose GRUB is\n\
         \x20                      Debian's grub-efi-arm64-bin; BIOS GRUB is grub-pc-bin)\n\
         config/linux.config    the kernel's full .config (allnoconfig + kernel-configs/*.config)\n\
         config/busybox.config  BusyBox's full .config (defconfig + distro-build/busybox.config)\n\
         config/dropbear-localoptions.h  Dropbear's build options (copied into its source tree as\n\
         \x20                      localoptions.h; configured with --enable-static\n\
         \x20                      --enable-bundled-libtom --disable-zlib and no login records,\n\
         \x20                      made with MULTI=1 STATIC=1 PROGRAMS=\"dropbear dropbearkey dbclient scp\")\n\n\
         Not included: OVMF (the UEFI firmware the tests and `distro-build run --uefi` boot\n\
         with) is never part of an output, so its source is not needed here.\n",
        grub_flags = crate::boot::grub_source::CONFIGURE.join(" "),
        version = kernel.used_version,
        tarball = crate::sources::KERNEL_TARBALL_IN_DEB,
    ));
    text
}
