//! The static tinibox stage: `cargo build --release -p tinibox` for the target's Rust
//! triple (`x86_64-unknown-linux-musl`: musl's static C library, which is smaller and needs
//! less memory than glibc's) with `+crt-static`, in its own target folder in the cache (so
//! it never fights with the workspace's normal builds over flags), optimised for size and
//! linked as a plain static executable at a fixed address (not static-pie): without
//! `-C relocation-model=static` the linker writes about 10,700 dynamic relocations (256 KiB of
//! `.rela.dyn`) that the start-up code applies to 190 KiB of `.data.rel.ro` on every run, which
//! costs 0.27 MB of file and about 0.45 MiB of peak RSS per container start (BENCHMARKS.md,
//! "Footprint"). The price is that tinibox's own code and data are not address-randomised
//! (stack, heap and mmap still are).
//! Cargo's own incremental logic is the cache. It checks the result really is static; it never
//! edits tinibox. [`TiniboxComponent`] installs the binary into the rootfs tree.

use std::cell::OnceCell;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::component::Component;
use crate::context::Context;
use crate::error::{Error, IoContext, Result};
use crate::provenance::crates::Program;
use crate::runner::{run_logged_progress, Stage};
use crate::tree::{Entry, FileData, RootfsTree};

/// The compiler flags of the static build: the C library linked in, no PIE (see the module doc).
pub const RUSTFLAGS: &str = "-C target-feature=+crt-static -C relocation-model=static";

/// tinibox as the rootfs carries it: `/usr/bin/tinibox` with the registry client (rustls with
/// ring) but without Mozilla's roots built in, because the rootfs carries Debian's CA bundle
/// ([`crate::ca_certificates`]), and with apk compiled in (`/sbin/apk` links to it:
/// [`crate::apk_static`]). The SBOM lists the crates of exactly this build.
pub const PROGRAM: Program = Program {
    package: "tinibox",
    path: "usr/bin/tinibox",
    cargo_args: &["--no-default-features", "--features", "registry,apk"],
};

/// Builds the static tinibox and returns the binary's path.
pub fn build(ctx: &Context) -> Result<PathBuf> {
    let stage = Stage::start("tinibox", "static tinibox (cargo, musl +crt-static)");
    let binary = cargo_static(ctx, PROGRAM.package, PROGRAM.package, PROGRAM.cargo_args)?;
    let size = fs::metadata(&binary).map(|m| m.len()).unwrap_or(0);
    stage.done(&format!("{} ({} KiB)", binary.display(), size / 1024));
    Ok(binary)
}

/// `cargo build --release -p PACKAGE` of this workspace for the target's triple with
/// [`RUSTFLAGS`] and opt-level `z` (size matters more than speed for a copy that lands in
/// the initramfs), in `build/<package>-target` of the cache; `extra` goes to cargo (feature
/// choices). The log is `logs/<package>.log`. Returns the binary `bin`, checked static.
///
/// Errors: cargo failing (its log named), a dynamically linked result.
pub fn cargo_static(ctx: &Context, package: &str, bin: &str, extra: &[&str]) -> Result<PathBuf> {
    let target_dir = ctx.cache_dir.join(format!("build/{package}-target"));
    let log = ctx.cache_dir.join(format!("logs/{package}.log"));
    let _ = fs::remove_file(&log);
    let triple = ctx.target.rust_triple;
    require_rust_target(triple)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(&ctx.repo_root)
        .args(["build", "--release", "-p", package, "--target", triple])
        .args(extra)
        .args(["--config", "profile.release.opt-level=\"z\""])
        .arg("--target-dir")
        .arg(&target_dir)
        .env("RUSTFLAGS", RUSTFLAGS)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET");
    cross_env(&mut cmd, triple, ctx.target.cross_compile);
    run_logged_progress(
        &format!("cargo build of the static {package}"),
        &mut cmd,
        &log,
    )?;
    let binary = target_dir.join(triple).join("release").join(bin);
    if !is_static(&binary)? {
        return Err(Error::Invalid(format!(
            "{} is dynamically linked (has an ELF interpreter); the rootfs needs a static binary",
            binary.display()
        )));
    }
    Ok(binary)
}

/// Fails with what to run when the Rust standard library for `triple` is not installed
/// (rustup's `rust-std` component of that target, which scripts/install-deps.sh adds).
pub fn require_rust_target(triple: &str) -> Result<()> {
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let Some(sysroot) = sysroot else {
        return Err(Error::Invalid(
            "rustc not found: install Rust with rustup (see scripts/install-deps.sh)".into(),
        ));
    };
    if sysroot
        .join("lib/rustlib")
        .join(triple)
        .join("lib")
        .is_dir()
    {
        return Ok(());
    }
    Err(Error::Invalid(format!(
        "the Rust target {triple} is not installed (its standard library is missing from {}): \
         run `rustup target add {triple}` (scripts/install-deps.sh does)",
        sysroot.display()
    )))
}

/// Points cargo at the cross toolchain when `cross` (a compiler prefix such as
/// `aarch64-linux-gnu-`) is not empty: Debian's cross gcc links the `triple` binary
/// (rustc's musl targets bring their own static musl, crt files included, so gcc only links)
/// and compiles the C inside crates (ring), through cargo's and the `cc` crate's
/// per-target variables.
pub fn cross_env(cmd: &mut Command, triple: &str, cross: &str) {
    if cross.is_empty() {
        return;
    }
    let upper = triple.to_uppercase().replace('-', "_");
    let under = triple.replace('-', "_");
    cmd.env(
        format!("CARGO_TARGET_{upper}_LINKER"),
        format!("{cross}gcc"),
    )
    .env(format!("CC_{under}"), format!("{cross}gcc"))
    .env(format!("AR_{under}"), format!("{cross}ar"));
}

/// True when the ELF64 file at `path` has no `PT_INTERP` program header.
pub fn is_static(path: &Path) -> Result<bool> {
    let data = fs::read(path).ctx(|| format!("reading {}", path.display()))?;
    let bad = || Error::Invalid(format!("{} is not a 64-bit ELF file", path.display()));
    if data.len() < 64 || &data[..4] != b"\x7fELF" || data[4] != 2 {
        return Err(bad());
    }
    let u16_at = |o: usize| u16::from_le_bytes([data[o], data[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(data[0x20..0x28].try_into().map_err(|_| bad())?) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    for i in 0..phnum {
        let off = phoff + i * phentsize;
        if off + 4 > data.len() {
            return Err(bad());
        }
        let p_type = u32::from_le_bytes(data[off..off + 4].try_into().map_err(|_| bad())?);
        if p_type == 3 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The static tinibox as a rootfs component: built from this workspace (nothing to fetch)
/// and installed as `/usr/bin/tinibox`.
#[derive(Debug, Default)]
pub struct TiniboxComponent {
    built: OnceCell<PathBuf>,
}

impl TiniboxComponent {
    /// A component that has built nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A component whose build is the binary at `binary` (for assembling a tree from it).
    pub fn prebuilt(binary: PathBuf) -> Self {
        TiniboxComponent {
            built: OnceCell::from(binary),
        }
    }

    /// The static binary (built on first use).
    pub fn built(&self, ctx: &Context) -> Result<&Path> {
        crate::pipeline::memo(&self.built, || build(ctx)).map(PathBuf::as_path)
    }
}

impl Component for TiniboxComponent {
    fn name(&self) -> &'static str {
        "tinibox"
    }

    /// Nothing: tinibox's source is this workspace, its crates come through cargo.
    fn fetch(&self, _ctx: &Context) -> Result<()> {
        Ok(())
    }

    fn build(&self, ctx: &Context) -> Result<()> {
        self.built(ctx).map(|_| ())
    }

    /// `/usr/bin/tinibox` (0755).
    fn install(&self, ctx: &Context, tree: &mut RootfsTree) -> Result<()> {
        let binary = self.built(ctx)?.to_path_buf();
        tree.insert(PROGRAM.path, Entry::file(FileData::Host(binary), 0o755))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_shell_is_dynamic_and_busybox_static_is_static() {
        assert!(!is_static(Path::new("/bin/sh")).unwrap());
        // Debian's busybox-static package is a host prerequisite (scripts/install-deps.sh).
        assert!(is_static(Path::new("/bin/busybox")).unwrap());
    }
}
