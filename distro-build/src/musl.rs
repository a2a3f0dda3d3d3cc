//! The C toolchain of the static C components (BusyBox, Dropbear, the installer's disk tools):
//! Debian's `musl-gcc` (package musl-tools, musl 1.2.3), or for a cross target Debian's cross
//! gcc with the specs file of Debian's musl for that architecture (`musl-dev:arm64`, what
//! `musl-gcc` does natively with the host's specs), and the Linux UAPI headers exported from the
//! pinned kernel source (`make headers_install`, the kernel's own documented way of giving a
//! C library its `linux/`, `asm/` and `asm-generic/` headers).
//!
//! Why musl and not glibc's static libraries: on the same BusyBox config, musl gives a
//! 968,552-byte binary and glibc 2,101,368 bytes (BENCHMARKS.md, "Footprint"); glibc's static
//! `getpwnam` and resolver also warn that they need glibc's shared NSS modules at run time,
//! which a static rootfs without glibc does not have.
//!
//! The headers are cached by the kernel source's sha256, so they are exported once per kernel.
//! musl's Debian source package is pinned in sources.lock and fetched here, so the source
//! bundle and the SBOM name the C library the programs carry.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

use crate::cache::{self, KeyBuilder};
use crate::context::Context;
use crate::debian;
use crate::error::{Error, IoContext, Result};
use crate::runner::run_logged;
use crate::sources;

/// The compiler driver for musl (Debian's musl-tools).
pub const CC: &str = "musl-gcc";

/// Version of this recipe (part of the header cache key).
const RECIPE: u32 = 1;

/// The musl toolchain: the compiler and the kernel headers folder it needs.
#[derive(Debug, Clone)]
pub struct Musl {
    /// The compiler command: [`CC`] natively, `<prefix>gcc -specs <musl-gcc.specs>` for a
    /// cross target (one string, as `make CC=` and autoconf's `CC` take it).
    pub cc: String,
    /// The target's musl files a cross build depends on (its specs and `libc.a`), for cache
    /// keys; empty natively.
    pub target_files: Vec<PathBuf>,
    /// The `include` folder holding `linux/`, `asm/` and `asm-generic/` for [`CC`].
    pub kernel_headers: PathBuf,
}

impl Musl {
    /// The flag that makes [`CC`] find the kernel headers after its own (musl's) headers.
    pub fn header_flag(&self) -> String {
        format!("-idirafter {}", self.kernel_headers.display())
    }
}

/// Checks that [`CC`] runs and exports the kernel's UAPI headers from the pinned kernel
/// source (cached by its sha256).
///
/// Errors: musl-gcc missing (names the package and scripts/install-deps.sh), the kernel
/// source's fetch errors, a failing `make headers_install` (its log named).
pub fn toolchain(ctx: &Context) -> Result<Musl> {
    // Made once per process and cache: BusyBox and the disk tools both ask for it, and each
    // call would verify the kernel package (139 MB) and musl's sources again.
    static MADE: Mutex<Vec<(PathBuf, &str, Musl)>> = Mutex::new(Vec::new());
    let mut made = MADE.lock().unwrap_or_else(|e| e.into_inner());
    let target = ctx.target.name;
    if let Some((_, _, musl)) = made
        .iter()
        .find(|(dir, name, _)| *dir == ctx.cache_dir && *name == target)
    {
        return Ok(musl.clone());
    }
    let musl = make(ctx)?;
    made.push((ctx.cache_dir.clone(), target, musl.clone()));
    Ok(musl)
}

/// The compiler command, the target's musl files and the dpkg name of the musl-dev that links
/// the programs, for `ctx`'s target. Errors: the compiler or the target's musl missing.
fn compiler(ctx: &Context) -> Result<(String, Vec<PathBuf>, String)> {
    let prefix = ctx.target.cross_compile;
    if prefix.is_empty() {
        let found = Command::new(CC).arg("-dumpversion").output();
        if !found.map(|o| o.status.success()).unwrap_or(false) {
            return Err(Error::Invalid(format!(
                "{CC} not found: the static C components are built against musl; install \
                 Debian's musl-tools (scripts/install-deps.sh does)"
            )));
        }
        // With the arm64 musl-dev installed beside it (multiarch), a bare `musl-dev` makes
        // dpkg-query print both versions run together: name the architecture.
        let package = format!("musl-dev:{}", ctx.target.debian_arch);
        return Ok((CC.to_string(), Vec::new(), package));
    }
    let gcc = format!("{prefix}gcc");
    crate::runner::require_tool(&gcc)?;
    let package = format!("musl-dev:{}", ctx.target.debian_arch);
    let specs = ctx.target.musl_specs().map(PathBuf::from).ok_or_else(|| {
        Error::Invalid(format!(
            "target {} names no musl specs file for its cross compiler",
            ctx.target.name
        ))
    })?;
    let libc = specs.with_file_name("libc.a");
    for file in [&specs, &libc] {
        if !file.is_file() {
            return Err(Error::MissingTool {
                tool: file.display().to_string(),
                package,
            });
        }
    }
    let cc = format!("{gcc} -specs {}", specs.display());
    Ok((cc, vec![specs, libc], package))
}

fn make(ctx: &Context) -> Result<Musl> {
    let (cc, target_files, musl_dev) = compiler(ctx)?;
    // musl's source package, pinned at the version of the host's musl-dev that links the
    // programs: fetched so the source bundle and the SBOM carry it.
    let lock = debian::load_lock(ctx)?;
    let (_, pinned) = debian::fetch_source(ctx, &lock, "musl")?;
    let host = Command::new("dpkg-query")
        .args(["-W", "-f", "${Version}", &musl_dev])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    if host != pinned {
        eprintln!(
            "WARNING: the host's {musl_dev} is {host:?} but sources.lock pins musl {pinned}; the \
             static programs link the host's copy (run `distro-build lock` after an upgrade)"
        );
    }
    let source = sources::linux(ctx)?;
    let mut key = KeyBuilder::new("kernel-headers", RECIPE);
    key.bytes("kernel", source.sha256.as_bytes())
        .bytes("arch", ctx.target.kernel_arch.as_bytes());
    let key = key.finish();
    let dir = match cache::lookup(ctx, "kernel-headers", &key) {
        Some(dir) => dir,
        None => {
            let log = ctx.cache_dir.join("logs/kernel-headers.log");
            let build = ctx.cache_dir.join("build/kernel-headers");
            std::fs::create_dir_all(&build).ctx(|| format!("creating {}", build.display()))?;
            cache::publish(ctx, "kernel-headers", &key, |tmp| {
                run_logged(
                    "kernel headers_install",
                    Command::new("make")
                        .arg("-C")
                        .arg(&source.tree)
                        .arg(format!("O={}", build.display()))
                        .arg(format!("ARCH={}", ctx.target.kernel_arch))
                        .arg(format!("INSTALL_HDR_PATH={}", tmp.display()))
                        .arg("headers_install"),
                    &log,
                )
            })?
        }
    };
    Ok(Musl {
        cc,
        target_files,
        kernel_headers: dir.join("include"),
    })
}
