//! The C toolchain of the static C components (BusyBox, Dropbear) for the build's target: the
//! host's `musl-gcc` ([`crate::musl`]) for x86_64, and for another target Debian's cross gcc
//! (`gcc-aarch64-linux-gnu`) with Debian's static cross glibc (`libc6-dev-arm64-cross`),
//! because Debian has no musl cross compiler. Static glibc costs size (a static BusyBox is
//! about twice musl's) and its `getpwnam` would look for NSS modules the rootfs does not
//! have, so BusyBox keeps its own passwd/group code (`CONFIG_USE_BB_PWD_GRP`).
//! It checks that the compiler and library are installed and runs nothing else.

use std::path::PathBuf;

use crate::cache::KeyBuilder;
use crate::context::Context;
use crate::error::{Error, Result};

/// The C toolchain of a target: the host's musl for the default target, the target's cross
/// gcc with Debian's static glibc for another.
pub enum Toolchain {
    /// `musl-gcc` and the kernel headers it needs.
    Musl(crate::musl::Musl),
    /// `<prefix>gcc` (`aarch64-linux-gnu-gcc`) and the static C library it links.
    Cross {
        /// The compiler prefix (`CROSS_COMPILE`).
        prefix: &'static str,
        /// The cross glibc's `libc.a` (Debian's `libc6-dev-<arch>-cross`).
        libc: PathBuf,
    },
}

impl Toolchain {
    /// The toolchain for `ctx`'s target. Errors: the compiler or its C library is missing
    /// (names the Debian package).
    pub fn of(ctx: &Context) -> Result<Toolchain> {
        let prefix = ctx.target.cross_compile;
        if prefix.is_empty() {
            return crate::musl::toolchain(ctx).map(Toolchain::Musl);
        }
        crate::runner::require_tool(&format!("{prefix}gcc"))?;
        let libc = ctx
            .target
            .cross_tools
            .iter()
            .find(|(file, _)| file.ends_with("/libc.a"))
            .map(|(file, package)| (PathBuf::from(file), *package));
        match libc {
            Some((file, _)) if file.is_file() => Ok(Toolchain::Cross { prefix, libc: file }),
            Some((file, package)) => Err(Error::MissingTool {
                tool: file.display().to_string(),
                package: package.to_string(),
            }),
            None => Err(Error::Invalid(format!(
                "target {} names no static C library for its cross compiler",
                ctx.target.name
            ))),
        }
    }

    /// The `make` arguments that select this compiler (the host's gcc builds kconfig's tools).
    pub fn make_args(&self) -> Vec<String> {
        match self {
            Toolchain::Musl(musl) => vec![
                format!("CC={}", crate::musl::CC),
                "HOSTCC=gcc".into(),
                format!("EXTRA_CFLAGS={}", musl.header_flag()),
            ],
            Toolchain::Cross { prefix, .. } => {
                vec![format!("CROSS_COMPILE={prefix}"), "HOSTCC=gcc".into()]
            }
        }
    }

    /// The C compiler (`musl-gcc`, `aarch64-linux-gnu-gcc`).
    pub fn cc(&self) -> String {
        match self {
            Toolchain::Musl(_) => crate::musl::CC.to_string(),
            Toolchain::Cross { prefix, .. } => format!("{prefix}gcc"),
        }
    }

    /// Extra C flags the compiler needs (musl's kernel headers); empty for a cross gcc,
    /// whose C library brings its own.
    pub fn cflags(&self) -> String {
        match self {
            Toolchain::Musl(musl) => musl.header_flag(),
            Toolchain::Cross { .. } => String::new(),
        }
    }

    /// The autoconf `--host` triplet of a cross build (`aarch64-linux-gnu`); None natively.
    pub fn host_triplet(&self) -> Option<&'static str> {
        match self {
            Toolchain::Musl(_) => None,
            Toolchain::Cross { prefix, .. } => Some(prefix.trim_end_matches('-')),
        }
    }

    /// The `strip` program for the target's binaries.
    pub fn strip(&self) -> String {
        match self {
            Toolchain::Musl(_) => "strip".to_string(),
            Toolchain::Cross { prefix, .. } => format!("{prefix}strip"),
        }
    }

    /// Adds what identifies this compiler and C library to a cache key: musl's compiler and
    /// kernel headers, or the cross prefix and the cross C library's bytes.
    pub fn key(&self, key: &mut KeyBuilder) -> Result<()> {
        match self {
            Toolchain::Musl(musl) => {
                key.bytes("cc", crate::musl::CC.as_bytes()).file(
                    "kernel headers",
                    &musl.kernel_headers.join("linux/version.h"),
                )?;
            }
            Toolchain::Cross { prefix, libc } => {
                key.bytes("cross-compile", prefix.as_bytes())
                    .file("cross libc", libc)?;
            }
        }
        Ok(())
    }
}
