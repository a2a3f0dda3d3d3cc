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
//! On targets with a section ordering file ([`crate::target::Target::tinibox_order`]) it is
//! linked with GNU gold in that order, so that the code a container start runs sits in few
//! 64 KiB windows of the file ([`ORDER_RUSTFLAGS`], BENCHMARKS.md "Code layout for a container
//! start"); a changed ordering file makes cargo link again ([`relink_if_order_changed`]).
//! Cargo's own incremental logic is the cache. It checks the result really is static; it never
//! edits tinibox. [`TiniboxComponent`] installs the binary into the rootfs tree.

use std::cell::OnceCell;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cache::sha256_file;
use crate::component::Component;
use crate::context::Context;
use crate::error::{Error, IoContext, Result};
use crate::provenance::crates::Program;
use crate::runner::{run_logged_progress, Stage};
use crate::target::Target;
use crate::tree::{Entry, FileData, RootfsTree};

/// The compiler flags of the static build: the C library linked in, no PIE (see the module doc),
/// and no `.eh_frame_hdr` (`PT_GNU_EH_FRAME`): nothing unwinds (see [`UNWIND_SECTIONS`]).
pub const RUSTFLAGS: &str =
    "-C target-feature=+crt-static -C relocation-model=static -C link-arg=-Wl,--no-eh-frame-hdr";

/// What [`cargo_static`] passes to cargo so that the standard library is compiled with the
/// program (cargo's `-Zbuild-std`, from rustup's `rust-src` component) instead of linked from
/// rustup's prebuilt copy: with the program's profile (opt-level `z`, LTO, panic=abort),
/// without std's `backtrace` feature (the DWARF symboliser gimli/addr2line, which a stripped
/// panic=abort program never uses: a panic still prints its message and location) and with
/// std's `optimize_for_size` feature (its smaller sort and formatting code). Measured on the
/// x86_64 tinibox (2026-12-01, BENCHMARKS.md "The standard library built for size"):
/// 4,494,664 → 4,103,144 B. A stable toolchain accepts `-Z` flags only with
/// [`BOOTSTRAP_ENV`], as the Linux kernel's Rust build does.
pub const BUILD_STD_ARGS: &[&str] = &[
    "-Zbuild-std=std,panic_abort",
    "-Zbuild-std-features=optimize_for_size",
];

/// The variable that lets a stable rustc and cargo take the unstable `-Z` flags of
/// [`BUILD_STD_ARGS`] (set for the static build's cargo only). Cargo accepts only the value `1`,
/// and passes it on to every rustc and build script of that build: anyhow's and thiserror's
/// build scripts then probe for, and when the probe compiles use, the unstable
/// `error_generic_member_access` API (a backtrace offered through `Error::provide`), which the
/// workspace's ordinary builds (tests, clippy) do not compile. Their probes keep a toolchain
/// without that API building. A toolchain whose cargo drops `-Zbuild-std` or std's
/// `optimize_for_size` feature fails this build with cargo's message in `logs/tinibox.log`.
pub const BOOTSTRAP_ENV: (&str, &str) = ("RUSTC_BOOTSTRAP", "1");

/// `--remap-path-prefix=SYSROOT/lib/rustlib/src/rust=/rustc/COMMIT`: a standard library built
/// from `rust-src` would otherwise carry the toolchain's folder (`/root/.rustup/...`) in its
/// panic locations; remapped, they read as in rustup's prebuilt library, whatever the home
/// folder or toolchain name. `sysroot` and `commit` come from [`rust_toolchain`].
pub fn std_source_remap(sysroot: &Path, commit: &str) -> String {
    format!(
        "--remap-path-prefix={}=/rustc/{commit}",
        sysroot.join("lib/rustlib/src/rust").display()
    )
}

/// `--remap-path-prefix=DIR=/NAME` for each folder of cargo's registry sources in `dirs`
/// (`$CARGO_HOME/registry/src/index.crates.io-<hash>` → `/crates.io`: the folder's name without
/// `index.` and the hash of the index's address). The crates' panic locations would otherwise
/// carry the builder's cargo home (`/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/`,
/// 343 strings, 33.6 KB in the x86_64 tinibox of 2026-12-01), so the binary depended on who
/// built it. Sorted by folder, one flag each.
pub fn registry_source_remaps(dirs: &std::collections::BTreeSet<PathBuf>) -> Vec<String> {
    dirs.iter()
        .filter_map(|dir| {
            let name = dir.file_name()?.to_str()?;
            let name = name.strip_prefix("index.").unwrap_or(name);
            let name = match name.rsplit_once('-') {
                Some((host, hash))
                    if !host.is_empty()
                        && !hash.is_empty()
                        && hash.bytes().all(|b| b.is_ascii_hexdigit()) =>
                {
                    host
                }
                _ => name,
            };
            Some(format!("--remap-path-prefix={}=/{name}", dir.display()))
        })
        .collect()
}

/// The folders of cargo's registry sources that hold the workspace's crates: the grandparent
/// of every registry package's manifest in `cargo metadata` (which unpacks them first, so a
/// fresh cargo home has them before the build starts). The standard library's own
/// dependencies, which `-Zbuild-std` fetches, land in the same folders.
///
/// Errors: cargo metadata failing.
pub fn registry_source_dirs(repo: &Path) -> Result<std::collections::BTreeSet<PathBuf>> {
    let meta = crate::provenance::crates::metadata(repo)?;
    let packages = meta
        .get("packages")
        .and_then(serde_json::Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    Ok(packages
        .iter()
        .filter(|p| {
            p.get("source")
                .and_then(serde_json::Value::as_str)
                .is_some_and(|s| s.starts_with("registry+") || s.starts_with("sparse+"))
        })
        .filter_map(|p| p.get("manifest_path").and_then(serde_json::Value::as_str))
        .filter_map(|m| Path::new(m).parent()?.parent().map(Path::to_path_buf))
        .collect())
}

/// The sections [`cargo_static`] removes from the linked program with `objcopy`: the DWARF
/// call-frame tables (`.eh_frame`) and the landing-pad tables (`.gcc_except_table`). They serve
/// only unwinding, and the workspace builds with `panic = "abort"` (a panic prints its message
/// and aborts; the binary is stripped, so a backtrace had no names anyway). Measured on the
/// x86_64 tinibox (2026-12-01): 661,460 of 5,146,360 B. `-C force-unwind-tables=no` does not
/// remove them: with LTO the standard library's bitcode brings LLVM's module flag for
/// asynchronous unwind tables, and the binary came out byte-identical.
pub const UNWIND_SECTIONS: &[&str] = &[".eh_frame", ".gcc_except_table"];

/// What linking in a section order adds to [`RUSTFLAGS`] (the file's path follows): Rust's v0
/// symbol names, which name a generic function's type arguments (the legacy names differ only
/// by a hash, so an ordering file could not tell instances apart), and GNU gold, whose
/// `--section-ordering-file` places the listed input sections (`.text.<symbol>`, globs
/// allowed) first, in the file's order. scripts/tinibox-order.py builds with the same flags.
pub const ORDER_RUSTFLAGS: &str = "-C symbol-mangling-version=v0 -C link-arg=-fuse-ld=gold";

/// The RUSTFLAGS of the static build: [`RUSTFLAGS`], plus [`ORDER_RUSTFLAGS`] and gold's
/// `--section-ordering-file=ORDER` when the target has an ordering file (a path relative to
/// the repository: cargo runs rustc, and rustc the linker, in the workspace root).
pub fn rustflags(order: Option<&str>) -> String {
    match order {
        None => RUSTFLAGS.to_string(),
        Some(path) => {
            format!("{RUSTFLAGS} {ORDER_RUSTFLAGS} -C link-arg=-Wl,--section-ordering-file={path}")
        }
    }
}

/// tinibox as the rootfs carries it: `/usr/bin/tinibox` with the registry client (rustls with
/// ring) but without Mozilla's roots built in, because the rootfs carries Debian's CA bundle
/// ([`crate::ca_certificates`]), and with apk compiled in (`/sbin/apk` links to it:
/// [`crate::apk_static`]). The SBOM lists the crates of `Cargo.lock` in exactly this build; the
/// standard library's own dependencies (compiled from rust-src's lock file by
/// [`BUILD_STD_ARGS`], as they were in rustup's prebuilt copy) are not listed.
pub const PROGRAM: Program = Program {
    package: "tinibox",
    path: "usr/bin/tinibox",
    cargo_args: &["--no-default-features", "--features", "registry,apk"],
};

/// Builds the static tinibox and returns the binary's path.
pub fn build(ctx: &Context) -> Result<PathBuf> {
    let stage = Stage::start("tinibox", "static tinibox (cargo, musl +crt-static)");
    let binary = cargo_static(
        ctx,
        PROGRAM.package,
        PROGRAM.package,
        PROGRAM.cargo_args,
        ctx.target.tinibox_order,
    )?;
    let size = fs::metadata(&binary).map(|m| m.len()).unwrap_or(0);
    stage.done(&format!("{} ({} KiB)", binary.display(), size / 1024));
    Ok(binary)
}

/// `cargo build --release -p PACKAGE` of this workspace for the target's triple with
/// [`rustflags`] and opt-level `z` (size matters more than speed for a copy that lands in
/// the initramfs), in `build/<package>-target` of the cache; `extra` goes to cargo (feature
/// choices), `order` is the section ordering file relative to the repository, if any. The
/// log is `logs/<package>.log`. Returns the program as shipped: `bin` without its
/// unwind tables ([`UNWIND_SECTIONS`]), written beside cargo's output as `<bin>.shipped`, checked
/// static.
///
/// Errors: cargo failing (its log named), a missing ordering file, a dynamically linked result.
pub fn cargo_static(
    ctx: &Context,
    package: &str,
    bin: &str,
    extra: &[&str],
    order: Option<&str>,
) -> Result<PathBuf> {
    let target_dir = ctx.cache_dir.join(format!("build/{package}-target"));
    let log = ctx.cache_dir.join(format!("logs/{package}.log"));
    let _ = fs::remove_file(&log);
    let triple = ctx.target.rust_triple;
    let toolchain = rust_toolchain()?;
    toolchain.require_target(triple)?;
    let registries = registry_source_dirs(&ctx.repo_root)?;
    let order_sha = match order {
        Some(path) => {
            let sha = sha256_file(&ctx.repo_root.join(path))?;
            relink_if_order_changed(&target_dir, triple, bin, &sha)?;
            Some(sha)
        }
        None => None,
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(&ctx.repo_root)
        .args(["build", "--release", "-p", package, "--target", triple])
        .args(extra)
        .args(["--config", "profile.release.opt-level=\"z\""])
        .args(BUILD_STD_ARGS)
        .arg("--target-dir")
        .arg(&target_dir)
        .env(
            "CARGO_ENCODED_RUSTFLAGS",
            encoded_rustflags(order, &toolchain, &registries),
        )
        .env(BOOTSTRAP_ENV.0, BOOTSTRAP_ENV.1)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET");
    cross_env(&mut cmd, &ctx.target);
    run_logged_progress(
        &format!("cargo build of the static {package}"),
        &mut cmd,
        &log,
    )?;
    let release = target_dir.join(triple).join("release");
    let binary = release.join(format!("{bin}.shipped"));
    remove_unwind_sections(&release.join(bin), &binary, ctx.target.cross_compile)?;
    if !is_static(&binary)? {
        return Err(Error::Invalid(format!(
            "{} is dynamically linked (has an ELF interpreter); the rootfs needs a static binary",
            binary.display()
        )));
    }
    if let Some(sha) = order_sha {
        let stamp = order_stamp(&target_dir, bin);
        fs::write(&stamp, sha).ctx(|| format!("writing {}", stamp.display()))?;
    }
    Ok(binary)
}

/// Writes `output`: `input` without [`UNWIND_SECTIONS`], by binutils' `objcopy` (the cross
/// one, `CROSS` + `objcopy`, for another target). objcopy's output depends only on its input,
/// so the result is as reproducible as the linked program.
///
/// Errors: objcopy missing (with the package to install) or failing (its stderr).
fn remove_unwind_sections(input: &Path, output: &Path, cross: &str) -> Result<()> {
    let objcopy = format!("{cross}objcopy");
    crate::runner::require_tool(&objcopy)?;
    let mut cmd = Command::new(&objcopy);
    for section in UNWIND_SECTIONS {
        cmd.arg(format!("--remove-section={section}"));
    }
    let out = cmd
        .arg(input)
        .arg(output)
        .output()
        .ctx(|| format!("running {objcopy}"))?;
    if !out.status.success() {
        return Err(Error::Invalid(format!(
            "{objcopy} could not remove the unwind tables from {}: {}",
            input.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Where [`cargo_static`] records the sha256 of the ordering file `bin` was last linked with.
fn order_stamp(target_dir: &Path, bin: &str) -> PathBuf {
    target_dir.join(format!("{bin}.order.sha256"))
}

/// Cargo does not know that the linker reads the ordering file, so when its sha256 (`sha`)
/// differs from the one recorded after the last build in `target_dir`, this removes what the
/// link of `bin` made (`<triple>/release/<bin>` and `<triple>/release/deps/<bin>-<hash>`):
/// cargo then links it again, and nothing else is rebuilt.
pub fn relink_if_order_changed(
    target_dir: &Path,
    triple: &str,
    bin: &str,
    sha: &str,
) -> Result<()> {
    let stamp = order_stamp(target_dir, bin);
    if fs::read_to_string(&stamp).is_ok_and(|old| old == sha) {
        return Ok(());
    }
    let release = target_dir.join(triple).join("release");
    let mut stale = vec![release.join(bin)];
    if let Ok(entries) = fs::read_dir(release.join("deps")) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let linked = name
                .strip_prefix(bin)
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|hash| {
                    !hash.is_empty() && hash.bytes().all(|b| b.is_ascii_hexdigit())
                });
            if linked {
                stale.push(entry.path());
            }
        }
    }
    for path in stale {
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).ctx(|| format!("removing {}", path.display()));
            }
            _ => {}
        }
    }
    let _ = fs::remove_file(&stamp);
    Ok(())
}

/// The static build's compiler flags for cargo's `CARGO_ENCODED_RUSTFLAGS` (flags separated by
/// the ASCII unit separator 0x1f, so a path with spaces stays one flag): [`rustflags`],
/// [`std_source_remap`] and the [`registry_source_remaps`] of `registries`.
pub fn encoded_rustflags(
    order: Option<&str>,
    toolchain: &RustToolchain,
    registries: &std::collections::BTreeSet<PathBuf>,
) -> String {
    let mut flags: Vec<String> = rustflags(order)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    flags.push(std_source_remap(&toolchain.sysroot, &toolchain.commit));
    flags.extend(registry_source_remaps(registries));
    flags.join("\u{1f}")
}

/// The compiler cargo runs: `$RUSTC` when set (cargo honours it), else `rustc` from `PATH`
/// (rustup's proxy, which picks the same toolchain as cargo's).
fn rustc_program() -> std::ffi::OsString {
    std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into())
}

/// The Rust toolchain the static build compiles with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RustToolchain {
    /// `rustc --print sysroot`.
    pub sysroot: PathBuf,
    /// The compiler's commit (`commit-hash:` of `rustc -vV`), as rustup's prebuilt standard
    /// library names its sources (`/rustc/COMMIT/library/...`).
    pub commit: String,
}

/// Asks `rustc` for its sysroot and commit, and checks that the standard library's source
/// (rustup's `rust-src` component, which [`BUILD_STD_ARGS`] compiles) is there.
///
/// Errors: rustc missing, its output unreadable, or `rust-src` missing (with the command that
/// adds it; scripts/install-deps.sh runs it).
pub fn rust_toolchain() -> Result<RustToolchain> {
    let sysroot = rustc_sysroot()?;
    let verbose = Command::new(rustc_program())
        .arg("-vV")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let commit = verbose
        .lines()
        .find_map(|l| l.strip_prefix("commit-hash: "))
        .map(str::trim)
        .filter(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| {
            Error::Invalid(
                "`rustc -vV` names no commit-hash: install Rust with rustup (a release \
                 toolchain, see scripts/install-deps.sh)"
                    .into(),
            )
        })?
        .to_string();
    let library = sysroot.join("lib/rustlib/src/rust/library/std/Cargo.toml");
    if !library.is_file() {
        return Err(Error::Invalid(format!(
            "the Rust standard library's source is missing ({} not found): run `rustup \
             component add rust-src` (scripts/install-deps.sh does); the static build compiles \
             std with the program",
            library.display()
        )));
    }
    Ok(RustToolchain { sysroot, commit })
}

/// `rustc --print sysroot`, or an error that says to install Rust.
fn rustc_sysroot() -> Result<PathBuf> {
    Command::new(rustc_program())
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .ok_or_else(|| {
            Error::Invalid(
                "rustc not found: install Rust with rustup (see scripts/install-deps.sh)".into(),
            )
        })
}

impl RustToolchain {
    /// Fails with what to run when the Rust standard library for `triple` is not installed
    /// (rustup's `rust-std` component of that target, which scripts/install-deps.sh adds; the
    /// static build still takes musl's C library and start files from it).
    pub fn require_target(&self, triple: &str) -> Result<()> {
        if self
            .sysroot
            .join("lib/rustlib")
            .join(triple)
            .join("lib")
            .is_dir()
        {
            return Ok(());
        }
        Err(Error::Invalid(format!(
            "the Rust target {triple} is not installed (its standard library is missing from \
             {}): run `rustup target add {triple}` (scripts/install-deps.sh does)",
            self.sysroot.display()
        )))
    }
}

/// Points cargo at the cross toolchain of `target` when it has one (a compiler prefix such as
/// `aarch64-linux-gnu-`): Debian's cross gcc links the binary (rustc's musl targets bring
/// their own static musl, crt files included, so gcc only links) and compiles the C inside
/// crates (ring) against the target's musl headers through its specs file
/// ([`Target::musl_specs`]: without it the cross gcc looks for glibc's headers, which only the
/// separate libc6-dev-arm64-cross package has), through cargo's and the `cc` crate's
/// per-target variables (`CARGO_TARGET_<TRIPLE>_LINKER`, `CC_<triple>`, `AR_<triple>`,
/// `CFLAGS_<triple>`).
pub fn cross_env(cmd: &mut Command, target: &Target) {
    let cross = target.cross_compile;
    if cross.is_empty() {
        return;
    }
    let triple = target.rust_triple;
    let upper = triple.to_uppercase().replace('-', "_");
    let under = triple.replace('-', "_");
    cmd.env(
        format!("CARGO_TARGET_{upper}_LINKER"),
        format!("{cross}gcc"),
    )
    .env(format!("CC_{under}"), format!("{cross}gcc"))
    .env(format!("AR_{under}"), format!("{cross}ar"));
    if let Some(specs) = target.musl_specs() {
        cmd.env(format!("CFLAGS_{under}"), format!("-specs {specs}"));
    }
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

    use crate::target::Target;

    fn repo() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
    }

    #[test]
    fn gold_and_the_order_are_passed_only_with_an_ordering_file() {
        assert_eq!(rustflags(None), RUSTFLAGS);
        let flags = rustflags(Some("distro-build/tinibox.order"));
        assert_eq!(
            flags,
            "-C target-feature=+crt-static -C relocation-model=static \
             -C link-arg=-Wl,--no-eh-frame-hdr \
             -C symbol-mangling-version=v0 -C link-arg=-fuse-ld=gold \
             -C link-arg=-Wl,--section-ordering-file=distro-build/tinibox.order"
        );
    }

    /// Section names of the ELF file at `path`, as binutils' readelf lists them.
    fn section_names(path: &Path) -> Vec<String> {
        let out = Command::new("readelf")
            .arg("-SW")
            .arg(path)
            .output()
            .unwrap();
        assert!(out.status.success(), "readelf -SW {}", path.display());
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once(']').map(|(_, rest)| rest))
            .filter_map(|rest| rest.split_whitespace().next().map(str::to_string))
            .collect()
    }

    #[test]
    fn the_shipped_program_has_no_unwind_tables_and_still_runs() {
        // A real program of this host with the tables (Debian builds C with unwind tables).
        let input = Path::new("/bin/true");
        let before = section_names(input);
        assert!(before.iter().any(|s| s == ".eh_frame"), "{before:?}");
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("true.shipped");
        remove_unwind_sections(input, &output, "").unwrap();
        let after = section_names(&output);
        for section in UNWIND_SECTIONS {
            assert!(
                !after.iter().any(|s| s == section),
                "{section} left: {after:?}"
            );
        }
        assert!(after.iter().any(|s| s == ".text"), "{after:?}");
        let status = Command::new(&output).status().unwrap();
        assert!(status.success(), "{} exited {status}", output.display());
        assert!(fs::metadata(&output).unwrap().len() < fs::metadata(input).unwrap().len());
    }

    #[test]
    fn a_missing_input_is_an_error_naming_objcopy_and_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-program");
        let err = remove_unwind_sections(&missing, &dir.path().join("out"), "")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("objcopy") && err.contains("no-such-program"),
            "{err}"
        );
        assert!(!dir.path().join("out").exists());
    }

    /// The environment `cross_env` gives a command for `target`, as (name, value) pairs.
    fn cross_vars(target: &Target) -> Vec<(String, String)> {
        let mut cmd = Command::new("true");
        cross_env(&mut cmd, target);
        cmd.get_envs()
            .map(|(k, v)| {
                let v = v
                    .map(|v| v.to_string_lossy().into_owned())
                    .unwrap_or_default();
                (k.to_string_lossy().into_owned(), v)
            })
            .collect()
    }

    #[test]
    fn the_cross_build_compiles_c_against_the_targets_musl() {
        assert!(cross_vars(&Target::X86_64).is_empty());
        let vars = cross_vars(&Target::ARM64);
        let get = |name: &str| {
            vars.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .unwrap_or_else(|| panic!("{name} not set: {vars:?}"))
        };
        assert_eq!(
            get("CC_aarch64_unknown_linux_musl"),
            "aarch64-linux-gnu-gcc"
        );
        assert_eq!(
            get("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER"),
            "aarch64-linux-gnu-gcc"
        );
        assert_eq!(
            get("CFLAGS_aarch64_unknown_linux_musl"),
            "-specs /usr/lib/aarch64-linux-musl/musl-gcc.specs"
        );
    }

    #[test]
    fn x86_64_links_with_the_committed_ordering_file_and_arm64_without() {
        let order = Target::X86_64.tinibox_order.unwrap();
        let text = fs::read_to_string(repo().join(order)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() > 100, "{order} lists {} sections", lines.len());
        // Every line names function sections, with the per-build parts globbed.
        assert!(lines
            .iter()
            .all(|l| l.starts_with(".text.") && !l.contains(' ')));
        let legacy_hash = |l: &str| {
            l.match_indices("17h").any(|(i, _)| {
                let rest = &l.as_bytes()[i + 3..];
                rest.len() > 16 && rest[..16].iter().all(u8::is_ascii_hexdigit) && rest[16] == b'E'
            })
        };
        assert!(!lines.iter().any(|l| legacy_hash(l)));
        assert_eq!(Target::ARM64.tinibox_order, None);
    }

    #[test]
    fn order_script_builds_like_distro_build() {
        let script = fs::read_to_string(repo().join("scripts/tinibox-order.py")).unwrap();
        assert!(script.contains(&format!("\nRUSTFLAGS = \"{RUSTFLAGS}\"\n")));
        let order = Target::X86_64.tinibox_order.unwrap();
        let added = rustflags(Some(order));
        let added = added.strip_prefix(RUSTFLAGS).unwrap().trim();
        assert!(script.contains(&format!("\nORDER_RUSTFLAGS = \"{added}\"")));
        assert!(script.contains(&format!("TRIPLE = \"{}\"", Target::X86_64.rust_triple)));
        let args: Vec<String> = PROGRAM
            .cargo_args
            .iter()
            .map(|a| format!("\"{a}\""))
            .collect();
        assert!(script.contains(&format!("CARGO_ARGS = [{}]", args.join(", "))));
        let build_std: Vec<String> = BUILD_STD_ARGS.iter().map(|a| format!("\"{a}\"")).collect();
        assert!(script.contains(&format!("\nBUILD_STD = [{}]\n", build_std.join(", "))));
        assert!(script.contains(&format!(
            "env[\"{}\"] = \"{}\"",
            BOOTSTRAP_ENV.0, BOOTSTRAP_ENV.1
        )));
        assert!(
            script.contains("--remap-path-prefix={sysroot}/lib/rustlib/src/rust=/rustc/{commit}")
        );
        assert!(script.contains("def registry_source_remaps("));
        assert!(script.contains("+ registry_source_remaps())"));
    }

    #[test]
    fn encoded_flags_keep_a_sysroot_with_spaces_as_one_flag() {
        let t = RustToolchain {
            sysroot: PathBuf::from("/home/a user/.rustup/toolchains/stable"),
            commit: "59807616e".into(),
        };
        let registries = [PathBuf::from(
            "/home/a user/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f",
        )]
        .into();
        let encoded = encoded_rustflags(None, &t, &registries);
        let flags: Vec<&str> = encoded.split('\u{1f}').collect();
        let plain: Vec<&str> = RUSTFLAGS.split_whitespace().collect();
        assert_eq!(flags[..plain.len()], plain[..]);
        assert_eq!(
            flags[plain.len()..],
            [
                "--remap-path-prefix=/home/a user/.rustup/toolchains/stable/lib/rustlib/src/rust=/rustc/59807616e",
                "--remap-path-prefix=/home/a user/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f=/crates.io",
            ]
        );
    }

    #[test]
    fn registry_sources_are_remapped_to_their_index_host() {
        let dirs = [
            "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f",
            "/c/registry/src/index.example.org-0a1b2c3d4e5f6071",
            "/c/registry/src/odd-name-not-hex",
            "/c/registry/src/empty-digest-",
        ]
        .map(PathBuf::from)
        .into();
        assert_eq!(
            registry_source_remaps(&dirs),
            [
                "--remap-path-prefix=/c/registry/src/empty-digest-=/empty-digest-",
                "--remap-path-prefix=/c/registry/src/index.example.org-0a1b2c3d4e5f6071=/example.org",
                "--remap-path-prefix=/c/registry/src/odd-name-not-hex=/odd-name-not-hex",
                "--remap-path-prefix=/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f=/crates.io",
            ]
        );
    }

    #[test]
    fn this_workspaces_registry_sources_are_found_and_hold_its_crates() {
        // cargo metadata of this repository: serde's folder is among them.
        let dirs = registry_source_dirs(repo()).unwrap();
        assert!(
            dirs.iter().any(|d| fs::read_dir(d)
                .unwrap()
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("serde-"))),
            "{dirs:?}"
        );
    }

    #[test]
    fn the_standard_library_sources_are_remapped_to_rustups_names() {
        let remap = std_source_remap(Path::new("/home/u/.rustup/toolchains/stable"), "59807616e");
        assert_eq!(
            remap,
            "--remap-path-prefix=/home/u/.rustup/toolchains/stable/lib/rustlib/src/rust=/rustc/59807616e"
        );
    }

    #[test]
    fn this_toolchain_has_the_standard_library_source_and_a_commit() {
        // install-deps.sh adds rust-src; the static build needs it.
        let t = rust_toolchain().unwrap();
        assert!(t.sysroot.join("lib/rustlib/src/rust/library/core").is_dir());
        assert_eq!(t.commit.len(), 40, "{t:?}");
        // install-deps.sh adds both musl targets; an unknown one is named with the fix.
        t.require_target(Target::X86_64.rust_triple).unwrap();
        t.require_target(Target::ARM64.rust_triple).unwrap();
        let e = t
            .require_target("riscv64gc-unknown-none-elf")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("rustup target add riscv64gc-unknown-none-elf"),
            "{e}"
        );
    }

    #[test]
    fn a_changed_ordering_file_removes_only_the_linked_binary() {
        let dir = tempfile::tempdir().unwrap();
        let release = dir.path().join("x86_64-unknown-linux-musl/release");
        fs::create_dir_all(release.join("deps")).unwrap();
        let linked = [
            release.join("tinibox"),
            release.join("deps/tinibox-0123456789abcdef"),
        ];
        let kept = [
            release.join("deps/tinibox-0123456789abcdef.d"),
            release.join("deps/libtinibox-0123456789abcdef.rlib"),
            release.join("deps/tinibox_helper-0123456789abcdef"),
        ];
        let create = || {
            for p in linked.iter().chain(&kept) {
                fs::write(p, b"x").unwrap();
            }
        };
        let run = |sha: &str| {
            relink_if_order_changed(dir.path(), "x86_64-unknown-linux-musl", "tinibox", sha)
                .unwrap()
        };
        // No stamp yet: the link is redone.
        create();
        run("aaaa");
        assert!(linked.iter().all(|p| !p.exists()));
        assert!(kept.iter().all(|p| p.exists()));
        // The same file as last time (the stamp cargo_static writes): nothing is removed.
        fs::write(order_stamp(dir.path(), "tinibox"), "aaaa").unwrap();
        create();
        run("aaaa");
        assert!(linked.iter().all(|p| p.exists()));
        // A changed file: removed again, and the old stamp with them.
        run("bbbb");
        assert!(linked.iter().all(|p| !p.exists()));
        assert!(kept.iter().all(|p| p.exists()));
        assert!(!order_stamp(dir.path(), "tinibox").exists());
    }

    #[test]
    fn host_shell_is_dynamic_and_busybox_static_is_static() {
        assert!(!is_static(Path::new("/bin/sh")).unwrap());
        // Debian's busybox-static package is a host prerequisite (scripts/install-deps.sh).
        assert!(is_static(Path::new("/bin/busybox")).unwrap());
    }
}
