//! The `distro-build` binary: one subcommand per stage and `all` for the whole build.
//! Stages print what they do and how long they took; errors are one clear message.
//!
//! Exit codes: 0 success; 1 a build step failed; 2 bad usage; 3 a host tool or package is
//! missing (the message names the apt-get command); 4 a source file does not match
//! `distro-build/sources.lock`, or a pinned version has left the archive and `--locked`
//! forbids the fallback; 5 a kernel/BusyBox config lost requested options or lacks a
//! feature tinibox requires.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use distro_build::context::Context;
use distro_build::error::{Error, Result};
use distro_build::tree::RootfsTree;
use distro_build::{
    busybox, disk, initramfs, iso, kernel, oci, provenance, qemu, rootfs, runner, source_bundle,
    sources, tinibox_static,
};

#[derive(Parser)]
#[command(
    name = "distro-build",
    version,
    about = "Build TiniLinux from Debian's source packages"
)]
struct Cli {
    /// Fail instead of falling back when a version pinned in sources.lock has left Debian's
    /// archive (also TINILINUX_LOCKED=1).
    #[arg(long, global = true)]
    locked: bool,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Fetch, verify and unpack the kernel and BusyBox sources at the versions sources.lock pins.
    Sources {
        /// Also write out/source/: the Debian source packages of everything the outputs carry,
        /// and the kernel and BusyBox configs (builds the kernel and BusyBox when not cached).
        #[arg(long)]
        bundle: bool,
    },
    /// Rewrite distro-build/sources.lock from what Debian's archive has now (on purpose).
    Lock,
    /// Build the kernel (allnoconfig + kernel-configs/*.config → bzImage).
    Kernel,
    /// Build the static BusyBox.
    Busybox,
    /// Assemble the rootfs tree (BusyBox, static tinibox, skeleton) and list its size.
    Rootfs,
    /// Write the initramfs (cpio newc; zstd, or gzip/xz/none with TINILINUX_INITRAMFS_COMPRESSION).
    Initramfs,
    /// Build out/tinilinux.iso (hybrid BIOS + UEFI).
    Iso,
    /// Export the rootfs as a tarball and an OCI image (out/tinilinux-rootfs.tar, out/oci/).
    Oci,
    /// Build the disk image out/tinilinux-disk.img.
    Disk,
    /// Everything: sources, kernel, busybox, rootfs, oci, initramfs, iso, disk, then the
    /// source bundle (out/source/) and the SBOM (out/tinilinux.spdx.json).
    All,
    /// Boot out/tinilinux.iso in QEMU (TCG) on this terminal.
    Run {
        /// Boot with OVMF (UEFI) instead of SeaBIOS.
        #[arg(long)]
        uefi: bool,
    },
    /// Remove out/ and the build trees and artifacts in the cache.
    Clean {
        /// Also remove the downloaded and unpacked sources.
        #[arg(long)]
        all: bool,
    },
}

/// Finds the repository root: `TINILINUX_REPO`, else the nearest parent of the current
/// folder holding `distro-build/sources.lock`, else the tree this binary was built from.
fn repo_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("TINILINUX_REPO") {
        return PathBuf::from(dir);
    }
    if let Ok(cwd) = std::env::current_dir() {
        for dir in cwd.ancestors() {
            if dir.join("distro-build/sources.lock").is_file() {
                return dir.to_path_buf();
            }
        }
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn exit_code(err: &Error) -> u8 {
    match err {
        Error::MissingTool { .. } | Error::Disk(disk::DiskError::MissingTool { .. }) => 3,
        Error::Checksum { .. } | Error::Unavailable(_) => 4,
        Error::Disk(disk::DiskError::Input(e)) => exit_code(e),
        Error::Config(_) => 5,
        _ => 1,
    }
}

/// The live rootfs as it boots: the assembled tree, the disk installer's scripts, and (last)
/// the tinibox image store holding the tinilinux image.
fn live_rootfs(ctx: &Context, base: &RootfsTree) -> Result<RootfsTree> {
    let stage = runner::Stage::start(
        "rootfs",
        "live additions: disk installer scripts + tinibox image store",
    );
    let mut tree = base.clone();
    disk::add_installer_scripts(&mut tree)?;
    // The stored image is the base rootfs, the same image (and ID) as out/oci and Docker.
    let digest = oci::add_image_store_of(ctx, base, &mut tree)?;
    stage.done(&format!("{} entries, stored image {digest}", tree.len()));
    Ok(tree)
}

/// The disk installer's payload (boot images, disk tools) as the xz cpio archive that goes
/// onto the live medium beside the kernel.
fn installer_payload(ctx: &Context) -> Result<PathBuf> {
    let payload = disk::installer_payload(ctx)?;
    initramfs::build_archive(ctx, &payload, "installer", initramfs::Compression::Xz)
}

/// OCI export of the base rootfs (`out/tinilinux-rootfs.tar`, `out/oci/`, the archive).
fn export_oci(ctx: &Context, base: &RootfsTree) -> Result<()> {
    let stage = runner::Stage::start("oci", "rootfs tarball + OCI image layout and archive");
    let exported = oci::export(ctx, base)?;
    let names: Vec<String> = exported
        .iter()
        .map(|e| format!("{} {}", e.reference, e.rootfs_tar.display()))
        .collect();
    stage.done(&names.join(", "));
    Ok(())
}

fn disk_image(ctx: &Context, bzimage: &std::path::Path, live: &RootfsTree) -> Result<()> {
    let stage = runner::Stage::start("disk", "GPT disk image: ESP + ext4 root + GRUB");
    let image = disk::build(ctx, bzimage, live)?;
    stage.done(&image.display().to_string());
    Ok(())
}

/// The kernel's and BusyBox's full `.config`, beside their build artifacts.
fn configs(bzimage: &Path, bb: &busybox::BusyBox) -> (PathBuf, PathBuf) {
    (
        bzimage.with_file_name("config"),
        bb.binary.with_file_name(".config"),
    )
}

/// `out/source/`, from the inputs this process used so far.
fn bundle(ctx: &Context, bzimage: &Path, bb: &busybox::BusyBox) -> Result<source_bundle::Bundle> {
    let stage = runner::Stage::start(
        "source",
        "out/source/: Debian source packages of everything shipped + configs",
    );
    let (kernel_config, busybox_config) = configs(bzimage, bb);
    let bundle = source_bundle::write(ctx, &kernel_config, &busybox_config)?;
    stage.done(&format!(
        "{} ({} source packages + the kernel's, {} files)",
        bundle.dir.display(),
        bundle.sources.len(),
        bundle.files.len()
    ));
    Ok(bundle)
}

/// `distro-build sources --bundle`: every stage input the outputs carry, then the bundle.
fn sources_bundle(ctx: &Context) -> Result<()> {
    let srcs = sources::fetch(ctx)?;
    let bz = kernel::build_from(ctx, &srcs)?;
    let bb = busybox::build(ctx, &srcs)?;
    // The binary packages the ISO and the disk carry (GRUB, the installer's tools).
    disk::grub::GrubFiles::pinned(ctx)?;
    disk::disktools::DiskTools::pinned(ctx)?;
    bundle(ctx, &bz, &bb).map(|_| ())
}

fn all(ctx: &Context) -> Result<()> {
    let srcs = sources::fetch(ctx)?;
    let bz = kernel::build_from(ctx, &srcs)?;
    let bb = busybox::build(ctx, &srcs)?;
    let tb = tinibox_static::build(ctx)?;
    let base = rootfs::assemble_from(ctx, &bb, &tb)?;
    export_oci(ctx, &base)?;
    let live = live_rootfs(ctx, &base)?;
    let initrd = initramfs::build(ctx, &live)?;
    let payload = installer_payload(ctx)?;
    iso::build(ctx, &bz, &initrd, &payload)?;
    disk_image(ctx, &bz, &live)?;
    let bundle = bundle(ctx, &bz, &bb)?;
    let stage = runner::Stage::start("sbom", "SPDX 2.3 SBOM of every output");
    let sbom = provenance::write_sbom(ctx, &bundle)?;
    stage.done(&sbom.display().to_string());
    Ok(())
}

fn clean(ctx: &Context, everything: bool) -> Result<()> {
    let mut doomed = vec![
        ctx.out_dir.clone(),
        ctx.cache_dir.join("artifacts"),
        ctx.cache_dir.join("build"),
        ctx.cache_dir.join("logs"),
    ];
    if everything {
        doomed.push(ctx.cache_dir.join("src"));
        doomed.push(ctx.cache_dir.join("downloads"));
    }
    for dir in doomed {
        if dir.exists() {
            eprintln!("    clean: removing {}", dir.display());
            std::fs::remove_dir_all(&dir).map_err(|source| Error::Io {
                context: format!("removing {}", dir.display()),
                source,
            })?;
        }
    }
    Ok(())
}

fn dispatch(cmd: Cmd, ctx: &Context) -> Result<()> {
    match cmd {
        Cmd::Sources { bundle: false } => sources::fetch(ctx).map(|_| ()),
        Cmd::Sources { bundle: true } => sources_bundle(ctx),
        Cmd::Kernel => kernel::build(ctx).map(|p| println!("{}", p.display())),
        Cmd::Busybox => {
            let srcs = sources::fetch(ctx)?;
            busybox::build(ctx, &srcs).map(|b| println!("{}", b.binary.display()))
        }
        Cmd::Rootfs => {
            let live = live_rootfs(ctx, &rootfs::assemble(ctx)?)?;
            println!("{} entries", live.len());
            Ok(())
        }
        Cmd::Initramfs => {
            let live = live_rootfs(ctx, &rootfs::assemble(ctx)?)?;
            initramfs::build(ctx, &live).map(|p| println!("{}", p.display()))
        }
        Cmd::Iso => {
            let bz = kernel::build(ctx)?;
            let live = live_rootfs(ctx, &rootfs::assemble(ctx)?)?;
            let initrd = initramfs::build(ctx, &live)?;
            let payload = installer_payload(ctx)?;
            iso::build(ctx, &bz, &initrd, &payload).map(|p| println!("{}", p.display()))
        }
        Cmd::Oci => export_oci(ctx, &rootfs::assemble(ctx)?),
        Cmd::Disk => {
            let bz = kernel::build(ctx)?;
            let live = live_rootfs(ctx, &rootfs::assemble(ctx)?)?;
            disk_image(ctx, &bz, &live)
        }
        Cmd::All => {
            runner::check_host(&ctx.target)?;
            all(ctx)
        }
        Cmd::Lock => {
            let changed = distro_build::debian::relock(ctx)?;
            if changed.is_empty() {
                eprintln!("    lock: sources.lock already pins what the archive has");
            }
            for line in changed {
                println!("{line}");
            }
            Ok(())
        }
        Cmd::Run { uefi } => qemu::run(ctx, &iso::iso_path(ctx), uefi),
        Cmd::Clean { all } => clean(ctx, all),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut ctx = Context::from_env(&repo_root());
    ctx.locked |= cli.locked;
    let start = Instant::now();
    let result = dispatch(cli.command, &ctx);
    let inputs = distro_build::debian::used_inputs();
    if !inputs.is_empty() {
        eprint!(
            "distro-build: inputs from Debian's archive:\n{}",
            distro_build::debian::summary(&inputs)
        );
    }
    match result {
        Ok(()) => {
            eprintln!(
                "distro-build: done in {:.1} s",
                start.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("distro-build: error: {err}");
            ExitCode::from(exit_code(&err))
        }
    }
}
