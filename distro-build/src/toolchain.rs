//! The C toolchain of the static C components (BusyBox, Dropbear) for the build's target:
//! always musl ([`crate::musl`]). For x86_64 that is the host's `musl-gcc`; for another target
//! it is Debian's cross gcc (`gcc-aarch64-linux-gnu`) driven with the specs file of Debian's
//! musl for that architecture (`musl-dev:arm64`, installed beside the host's through dpkg's
//! multiarch), so every architecture links the same C library, whose source package
//! `sources.lock` pins and the source bundle carries.
//!
//! Why not the cross glibc (`libc6-dev-arm64-cross`) the first arm64 build used: its static
//! BusyBox was 1.85 MB against musl's 0.97 MB, its `getpwnam` wants NSS modules the rootfs
//! does not have, and its source (Debian's `cross-toolchain-base`) is far larger to ship
//! next to the outputs.
//! It checks that the compiler and library are installed and runs nothing else.

use crate::cache::KeyBuilder;
use crate::context::Context;
use crate::error::Result;
use crate::musl::Musl;

/// The C toolchain of a target: musl, native or through the target's cross gcc.
pub struct Toolchain {
    /// The musl compiler command and the kernel headers it needs.
    pub musl: Musl,
    /// The compiler prefix (`CROSS_COMPILE`, `aarch64-linux-gnu-`); empty natively.
    prefix: &'static str,
}

impl Toolchain {
    /// The toolchain for `ctx`'s target. Errors: as [`crate::musl::toolchain`] (the compiler
    /// or musl for the target missing: names the Debian package).
    pub fn of(ctx: &Context) -> Result<Toolchain> {
        Ok(Toolchain {
            musl: crate::musl::toolchain(ctx)?,
            prefix: ctx.target.cross_compile,
        })
    }

    /// Whether this is the host's own compiler (no cross prefix).
    pub fn is_native(&self) -> bool {
        self.prefix.is_empty()
    }

    /// The `make` arguments that select this compiler (the host's gcc builds kconfig's tools).
    pub fn make_args(&self) -> Vec<String> {
        let mut args = vec![
            format!("CC={}", self.musl.cc),
            "HOSTCC=gcc".into(),
            format!("EXTRA_CFLAGS={}", self.musl.header_flag()),
        ];
        if !self.is_native() {
            args.push(format!("CROSS_COMPILE={}", self.prefix));
        }
        args
    }

    /// The C compiler command (`musl-gcc`, `aarch64-linux-gnu-gcc -specs …/musl-gcc.specs`).
    pub fn cc(&self) -> String {
        self.musl.cc.clone()
    }

    /// Extra C flags the compiler needs (musl's kernel headers).
    pub fn cflags(&self) -> String {
        self.musl.header_flag()
    }

    /// The autoconf `--host` triplet of a cross build (`aarch64-linux-gnu`); None natively.
    pub fn host_triplet(&self) -> Option<&'static str> {
        (!self.is_native()).then(|| self.prefix.trim_end_matches('-'))
    }

    /// The `strip` program for the target's binaries.
    pub fn strip(&self) -> String {
        format!("{}strip", self.prefix)
    }

    /// Adds what identifies this compiler and C library to a cache key: natively musl-gcc and
    /// the kernel headers (the same bytes as before cross builds existed); for a cross build
    /// also the prefix, the compiler command and the target musl's specs and `libc.a`.
    pub fn key(&self, key: &mut KeyBuilder) -> Result<()> {
        if self.is_native() {
            key.bytes("cc", crate::musl::CC.as_bytes());
        } else {
            key.bytes("cross-compile", self.prefix.as_bytes())
                .bytes("cc", self.musl.cc.as_bytes());
            for file in &self.musl.target_files {
                key.file("musl", file)?;
            }
        }
        key.file(
            "kernel headers",
            &self.musl.kernel_headers.join("linux/version.h"),
        )?;
        Ok(())
    }
}
