//! The `distro-build` binary: one subcommand per stage and `all` for the whole build. It
//! parses the command line, asks [`distro_build::pipeline::Pipeline`] for the output a
//! subcommand names, and maps errors to exit codes; the wiring of stages lives in the
//! library. Stages print what they do and how long they took; errors are one clear message.
//!
//! Exit codes: 0 success; 1 a build step failed; 2 bad usage; 3 a host tool or package is
//! missing (the message names the apt-get command); 4 a source file does not match
//! `distro-build/sources.lock`, or a pinned version has left the archive and `--locked`
//! forbids the fallback; 5 a kernel/BusyBox config lost requested options or lacks a
//! feature tinibox requires; 2 is also a `--ssh-authorized-keys` file that holds no public
//! key (or a private one).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use distro_build::context::Context;
use distro_build::error::{Error, Result};
use distro_build::pipeline::{Output, Pipeline};
use distro_build::target::Target;
use distro_build::{iso, qemu, runner};

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
    /// Bake FILE (public keys, one per line, as in ~/.ssh/id_ed25519.pub) into the live system
    /// and the disk image as root's ~/.ssh/authorized_keys; rcS then starts the SSH server
    /// (Dropbear, key login only).
    #[arg(long, global = true, value_name = "FILE")]
    ssh_authorized_keys: Option<PathBuf>,
    /// The machine to build for: x86_64 (also amd64) or arm64 (also aarch64); also
    /// TINILINUX_TARGET. Default: x86_64, whose outputs go to out/; another target's go to
    /// out/<target>/ (arm64: a UEFI-only ISO and disk image, the rootfs tarball and OCI
    /// image), and its OCI image joins out/oci/'s image index beside the others.
    #[arg(long, global = true, value_name = "ARCH")]
    arch: Option<String>,
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
    /// Push the built image (out/oci/, unchanged) to a registry: REF is HOST[:PORT]/REPO[:TAG].
    /// Credentials from `tinibox login` / `docker login`; plain HTTP only for loopback.
    Push {
        /// Where to: e.g. registry.example:5000/tinilinux:latest.
        #[arg(value_name = "REF")]
        reference: String,
    },
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
        Error::MissingTool { .. } => 3,
        Error::Checksum { .. } | Error::Unavailable(_) => 4,
        Error::Config(_) => 5,
        Error::Usage(_) => 2,
        _ => 1,
    }
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

fn relock(ctx: &Context) -> Result<()> {
    let changed = distro_build::debian::relock(ctx)?;
    if changed.is_empty() {
        eprintln!("    lock: sources.lock already pins what the archive has");
    }
    for line in changed {
        println!("{line}");
    }
    Ok(())
}

fn dispatch(cmd: Cmd, ctx: &Context, keys: Option<&Path>) -> Result<()> {
    let pipeline = || -> Result<Pipeline<'_>> {
        Ok(match keys {
            Some(path) => Pipeline::new(ctx)
                .with_authorized_keys(distro_build::ssh::read_authorized_keys(path)?),
            None => Pipeline::new(ctx),
        })
    };
    let output = match cmd {
        Cmd::Sources { bundle: false } => Output::Sources,
        Cmd::Sources { bundle: true } => Output::SourceBundle,
        Cmd::Kernel => Output::Kernel,
        Cmd::Busybox => Output::Busybox,
        Cmd::Rootfs => Output::LiveRootfs,
        Cmd::Initramfs => Output::Initramfs,
        Cmd::Iso => Output::Iso,
        Cmd::Oci => Output::Oci,
        Cmd::Disk => Output::Disk,
        Cmd::All => {
            let pipeline = pipeline()?;
            runner::check_host(&ctx.target)?;
            return pipeline.all();
        }
        Cmd::Lock => return relock(ctx),
        Cmd::Push { reference } => {
            let digest = distro_build::oci::push::push(ctx, &reference)?;
            println!("{digest}");
            return Ok(());
        }
        Cmd::Run { uefi } => return qemu::run(ctx, &iso::iso_path(ctx), uefi),
        Cmd::Clean { all } => return clean(ctx, all),
    };
    if let Some(line) = pipeline()?.make(output)? {
        println!("{line}");
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut ctx = Context::from_env(&repo_root());
    ctx.locked |= cli.locked;
    let arch = cli.arch.or_else(|| {
        std::env::var("TINILINUX_TARGET")
            .ok()
            .filter(|v| !v.is_empty())
    });
    if let Some(name) = arch {
        match Target::named(&name) {
            Ok(target) => ctx.set_target(target),
            Err(err) => {
                eprintln!("distro-build: error: {err}");
                return ExitCode::from(2);
            }
        }
    }
    let start = Instant::now();
    let result = dispatch(cli.command, &ctx, cli.ssh_authorized_keys.as_deref());
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
