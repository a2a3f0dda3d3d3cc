//! Debian packages at the exact versions `sources.lock` pins: downloaded into the cache with
//! Debian's own clients (`apt-get download PKG=VERSION` for binary packages,
//! `apt-get source --download-only PKG=VERSION` for source packages), checked against the
//! pinned sha256, and (binary packages) unpacked with `dpkg-deb -x`. Nothing is ever read from
//! the host's installed files (`/usr/src`, `/usr/lib/grub`, `/sbin`, `/usr/share/OVMF`): what
//! the outputs carry comes from the lock, whatever the host has installed.
//!
//! When a pinned version has left the archive, the build goes on with the archive's candidate
//! version and says so in one loud line (what was pinned, what was used, how to update the
//! lock); with `--locked` (or `TINILINUX_LOCKED=1`) that is an error instead. Every input used,
//! pinned or fallen back, is recorded for the build's closing summary and its SBOM
//! ([`used_inputs`]).
//!
//! Cache layout (under the cache folder): `downloads/debs/FILE.deb` (+ `FILE.deb.sha256`
//! for a fallback, whose sum no lock vouches for), `downloads/src/PKG_VERSION/` (source
//! package files), `debs/PKG_VERSION_SHA12/` (an unpacked binary package). Every download and
//! unpack goes through a temporary sibling and a rename, so an interrupted build leaves
//! nothing under a final name.
//!
//! It owns those cache folders; it builds nothing and never changes the lock file except in
//! [`relock`], which `distro-build lock` calls on purpose.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use crate::cache::{sha256_file, temp_sibling, write_atomic};
use crate::context::Context;
use crate::error::{Error, IoContext, Result};
use crate::lock::{Lock, Pin};
use crate::runner::{run_capture, run_logged};

/// Whether a pin names a binary package (`.deb`) or files of a source package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A binary package, fetched with `apt-get download`.
    Binary,
    /// A source package (.dsc, .orig, .debian), fetched with `apt-get source --download-only`.
    Source,
}

impl Kind {
    /// The kind of a package from its pins: binary when its file is a `.deb`.
    pub fn of(pins: &[&Pin]) -> Kind {
        if pins.iter().any(|p| p.file.ends_with(".deb")) {
            Kind::Binary
        } else {
            Kind::Source
        }
    }

    /// The kind one pinned file belongs to (a binary and a source package may share a name,
    /// as e2fsprogs does: their files tell them apart).
    pub fn of_file(file: &str) -> Kind {
        Kind::of(&[&Pin {
            package: String::new(),
            version: String::new(),
            file: file.to_string(),
            sha256: String::new(),
        }])
    }
}

/// The pins of `package` of one `kind` (an error naming the lock when there are none).
pub fn pins_of<'a>(lock: &'a Lock, package: &str, kind: Kind) -> Result<Vec<&'a Pin>> {
    let pins: Vec<&Pin> = lock
        .package(package)?
        .into_iter()
        .filter(|p| Kind::of_file(&p.file) == kind)
        .collect();
    if pins.is_empty() {
        let what = match kind {
            Kind::Binary => "binary package (.deb)",
            Kind::Source => "source package",
        };
        return Err(Error::Invalid(format!(
            "sources.lock pins no {what} {package}"
        )));
    }
    Ok(pins)
}

/// One input the build took from Debian's archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsedInput {
    /// Package name (binary or source).
    pub package: String,
    /// Binary or source package.
    pub kind: Kind,
    /// The version `sources.lock` pins.
    pub pinned_version: String,
    /// The version actually used (differs only after a fallback).
    pub used_version: String,
    /// Every file used, with its sha256 (lowercase hex).
    pub files: Vec<(PathBuf, String)>,
}

impl UsedInput {
    /// True when the pinned version was missing and the archive's version was used instead.
    pub fn fell_back(&self) -> bool {
        self.pinned_version != self.used_version
    }
}

static USED: Mutex<Vec<UsedInput>> = Mutex::new(Vec::new());

fn record(input: &UsedInput) {
    if let Ok(mut used) = USED.lock() {
        // A binary and a source package may share a name (e2fsprogs): both are recorded.
        if !used
            .iter()
            .any(|u| u.package == input.package && u.kind == input.kind)
        {
            used.push(input.clone());
        }
    }
}

/// Every Debian input this process used so far, in the order first used.
pub fn used_inputs() -> Vec<UsedInput> {
    USED.lock().map(|u| u.clone()).unwrap_or_default()
}

/// The lock file of the repository (`distro-build/sources.lock`, or `TINILINUX_LOCK`).
pub fn lock_path(ctx: &Context) -> PathBuf {
    std::env::var_os("TINILINUX_LOCK")
        .map(PathBuf::from)
        .unwrap_or_else(|| ctx.repo_root.join("distro-build/sources.lock"))
}

/// Loads the repository's lock file.
pub fn load_lock(ctx: &Context) -> Result<Lock> {
    Lock::load(&lock_path(ctx))
}

fn log_path(ctx: &Context) -> PathBuf {
    ctx.cache_dir.join("logs/sources.log")
}

/// A version usable in a file name (`1:1.35-4` → `1_1.35-4`).
fn safe(version: &str) -> String {
    version.replace(':', "_")
}

/// Checks `path` against `expected`; a mismatch is [`Error::Checksum`].
pub fn verify(path: &Path, expected: &str) -> Result<()> {
    let actual = sha256_file(path)?;
    if actual != expected {
        return Err(Error::Checksum {
            path: path.to_path_buf(),
            expected: expected.to_string(),
            actual,
        });
    }
    Ok(())
}

/// True when the archive (as apt's lists know it) has `package` at `version`.
pub fn available(package: &str, version: &str, kind: Kind) -> Result<bool> {
    match kind {
        Kind::Binary => Ok(Command::new("apt-cache")
            .args(["show", "-q"])
            .arg(format!("{package}={version}"))
            .output()
            .ctx(|| "starting apt-cache")?
            .status
            .success()),
        Kind::Source => {
            let out = Command::new("apt-cache")
                .args(["showsrc", "-q", package])
                .output()
                .ctx(|| "starting apt-cache")?;
            let text = String::from_utf8_lossy(&out.stdout);
            Ok(text
                .lines()
                .any(|l| l.strip_prefix("Version: ") == Some(version)))
        }
    }
}

/// The archive's candidate version of a binary package (`apt-cache policy`), or the highest
/// version of a source package (`apt-cache showsrc`).
pub fn candidate(package: &str, kind: Kind) -> Result<String> {
    let none = || {
        Error::Invalid(format!(
            "the archive has no {package}: run `apt-get update` (and for source packages check \
             that a deb-src entry exists; scripts/install-deps.sh adds one)"
        ))
    };
    match kind {
        Kind::Binary => {
            let text = run_capture(
                "apt-cache policy",
                Command::new("apt-cache").args(["policy", package]),
            )?;
            text.lines()
                .find_map(|l| l.trim().strip_prefix("Candidate: "))
                .filter(|v| *v != "(none)")
                .map(str::to_string)
                .ok_or_else(none)
        }
        Kind::Source => {
            let text = run_capture(
                "apt-cache showsrc",
                Command::new("apt-cache").args(["showsrc", "-q", package]),
            )?;
            let mut best: Option<String> = None;
            for v in text.lines().filter_map(|l| l.strip_prefix("Version: ")) {
                let newer = match &best {
                    None => true,
                    Some(b) => Command::new("dpkg")
                        .args(["--compare-versions", v, "gt", b])
                        .status()
                        .ctx(|| "starting dpkg --compare-versions")?
                        .success(),
                };
                if newer {
                    best = Some(v.to_string());
                }
            }
            best.ok_or_else(none)
        }
    }
}

/// Runs an apt-get download of `spec` (`PKG=VERSION` or `PKG`) into a fresh temporary folder
/// beside `dest_parent` and returns that folder (the caller moves what it needs out).
fn download_into_temp(
    ctx: &Context,
    kind: Kind,
    spec: &str,
    dest_parent: &Path,
) -> Result<PathBuf> {
    fs::create_dir_all(dest_parent).ctx(|| format!("creating {}", dest_parent.display()))?;
    let tmp = temp_sibling(&dest_parent.join(format!(".fetch-{}", safe(spec))));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).ctx(|| format!("removing {}", tmp.display()))?;
    }
    fs::create_dir_all(&tmp).ctx(|| format!("creating {}", tmp.display()))?;
    let mut cmd = Command::new("apt-get");
    match kind {
        Kind::Binary => cmd.args(["download", "-q"]),
        Kind::Source => cmd.args(["source", "--download-only", "-q"]),
    };
    let what = match kind {
        Kind::Binary => format!("apt-get download {spec}"),
        Kind::Source => format!(
            "apt-get source --download-only {spec} (is there a deb-src entry? scripts/install-deps.sh adds one)"
        ),
    };
    if let Err(e) = run_logged(&what, cmd.arg(spec).current_dir(&tmp), &log_path(ctx)) {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }
    Ok(tmp)
}

/// Files in `dir` (names only, sorted). Errors: an unreadable folder or entry.
pub fn names_in(dir: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).ctx(|| format!("reading {}", dir.display()))? {
        let entry = entry.ctx(|| format!("reading {}", dir.display()))?;
        if entry.path().is_file() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// The error (or the warning) for a pinned version the archive no longer has.
fn gone_message(package: &str, pinned: &str, used: Option<&str>) -> String {
    match used {
        Some(used) => format!(
            "WARNING: {package} {pinned} (pinned in sources.lock) is no longer in Debian's archive; \
             building with {package} {used} instead. Run `distro-build lock` to pin it on purpose, \
             or pass --locked to refuse."
        ),
        None => format!(
            "{package} {pinned} (pinned in sources.lock) is no longer in Debian's archive and \
             --locked forbids a fallback: run `distro-build lock` to pin what the archive has now \
             (then review and commit sources.lock), or build without --locked"
        ),
    }
}

/// Resolves the version to fetch: the pinned one, or (not locked) the archive's candidate
/// after a loud warning.
fn version_to_use(ctx: &Context, package: &str, pinned: &str, kind: Kind) -> Result<String> {
    if available(package, pinned, kind)? {
        return Ok(pinned.to_string());
    }
    if ctx.locked {
        return Err(Error::Unavailable(gone_message(package, pinned, None)));
    }
    let used = candidate(package, kind)?;
    eprintln!(
        "distro-build: {}",
        gone_message(package, pinned, Some(&used))
    );
    Ok(used)
}

/// Fetches the pinned `.deb` of `package` into `downloads/debs/` (or finds it there), checks
/// it, records it and returns the file with its sha256.
///
/// Errors: [`Error::Checksum`] when a cached or downloaded file differs from the pin (a
/// tampered cache entry is refused, not replaced: delete it to fetch again);
/// [`Error::Unavailable`] when the pinned version is gone and `ctx.locked`.
pub fn fetch_binary(ctx: &Context, lock: &Lock, package: &str) -> Result<(PathBuf, String)> {
    let pins = pins_of(lock, package, Kind::Binary)?;
    let pin = pins[0];
    let dir = ctx.cache_dir.join("downloads/debs");
    let pinned_file = dir.join(&pin.file);
    let (file, sha256, used_version) = if pinned_file.is_file() {
        verify(&pinned_file, &pin.sha256)?;
        (pinned_file, pin.sha256.clone(), pin.version.clone())
    } else {
        let version = version_to_use(ctx, package, &pin.version, Kind::Binary)?;
        let tmp = download_into_temp(ctx, Kind::Binary, &format!("{package}={version}"), &dir)?;
        let names = names_in(&tmp)?;
        let result = (|| {
            let [name] = names.as_slice() else {
                return Err(Error::Invalid(format!(
                    "apt-get download {package}={version} gave {} files, expected one .deb",
                    names.len()
                )));
            };
            let got = tmp.join(name);
            let dest = dir.join(name);
            if version == pin.version {
                if *name != pin.file {
                    return Err(Error::Invalid(format!(
                        "sources.lock names {} for {package} {version} but the archive's file is {name}; fix the lock line",
                        pin.file
                    )));
                }
                verify(&got, &pin.sha256)?;
                fs::rename(&got, &dest).ctx(|| format!("moving {}", dest.display()))?;
                Ok((dest, pin.sha256.clone()))
            } else {
                let sum = sha256_file(&got)?;
                write_atomic(&sidecar(&dest), format!("{sum}\n").as_bytes())?;
                fs::rename(&got, &dest).ctx(|| format!("moving {}", dest.display()))?;
                Ok((dest, sum))
            }
        })();
        let _ = fs::remove_dir_all(&tmp);
        let (file, sum) = result?;
        (file, sum, version)
    };
    record(&UsedInput {
        package: package.to_string(),
        kind: Kind::Binary,
        pinned_version: pin.version.clone(),
        used_version,
        files: vec![(file.clone(), sha256.clone())],
    });
    Ok((file, sha256))
}

/// The file recording the sha256 a fallback download had when it arrived.
fn sidecar(deb: &Path) -> PathBuf {
    let mut name = deb.as_os_str().to_owned();
    name.push(".sha256");
    PathBuf::from(name)
}

/// The folder `downloads/src/PKG_VERSION/` holding source package `package` at `version`,
/// downloaded (through a temporary folder and a rename) when missing.
fn source_dir(ctx: &Context, package: &str, version: &str) -> Result<PathBuf> {
    let root = ctx.cache_dir.join("downloads/src");
    let dir = root.join(format!("{package}_{}", safe(version)));
    if !dir.is_dir() {
        let tmp = download_into_temp(ctx, Kind::Source, &format!("{package}={version}"), &root)?;
        if let Err(e) = rename_dir_once(&tmp, &dir) {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
    }
    Ok(dir)
}

/// Every file in `dir` with its sha256 (for inputs no lock line vouches for).
fn hashed_files(dir: &Path) -> Result<Vec<(PathBuf, String)>> {
    let mut files = Vec::new();
    for name in names_in(dir)? {
        let file = dir.join(&name);
        let sum = sha256_file(&file)?;
        files.push((file, sum));
    }
    Ok(files)
}

/// Fetches the pinned files of source package `package` into `downloads/src/PKG_VERSION/`
/// (or finds them there), checks each, records them and returns the folder and the used
/// version. Errors as [`fetch_binary`].
pub fn fetch_source(ctx: &Context, lock: &Lock, package: &str) -> Result<(PathBuf, String)> {
    let pins = pins_of(lock, package, Kind::Source)?;
    let pinned = pins[0].version.clone();
    let root = ctx.cache_dir.join("downloads/src");
    let pinned_dir = root.join(format!("{package}_{}", safe(&pinned)));
    let version = if pinned_dir.is_dir() {
        pinned
    } else {
        version_to_use(ctx, package, &pinned, Kind::Source)?
    };
    let dir = source_dir(ctx, package, &version)?;
    let mut files = Vec::new();
    if version == pins[0].version {
        for pin in &pins {
            let file = dir.join(&pin.file);
            if !file.is_file() {
                return Err(Error::Invalid(format!(
                    "{} is missing from {}: delete that folder and run `distro-build sources` again",
                    pin.file,
                    dir.display()
                )));
            }
            verify(&file, &pin.sha256)?;
            files.push((file, pin.sha256.clone()));
        }
    } else {
        files = hashed_files(&dir)?;
    }
    record(&UsedInput {
        package: package.to_string(),
        kind: Kind::Source,
        pinned_version: pins[0].version.clone(),
        used_version: version.clone(),
        files,
    });
    Ok((dir, version))
}

/// Renames the finished folder `tmp` to `dest`; when another thread or process got there
/// first (the same verified content), keeps theirs and removes `tmp`.
fn rename_dir_once(tmp: &Path, dest: &Path) -> Result<()> {
    match fs::rename(tmp, dest) {
        Ok(()) => Ok(()),
        Err(_) if dest.is_dir() => {
            let _ = fs::remove_dir_all(tmp);
            Ok(())
        }
        Err(e) => Err(Error::Io {
            context: format!("renaming into {}", dest.display()),
            source: e,
        }),
    }
}

/// The version recorded for a source package sources.lock does not pin at all.
pub const UNPINNED: &str = "(not pinned)";

/// Fetches source package `package` at exactly `version` (the version a used binary package
/// was built from): through [`fetch_source`] when the lock pins that version, otherwise, after
/// one loud warning, unpinned from the archive (recorded as a fallback). With `ctx.locked`
/// a version the lock does not pin is [`Error::Unavailable`] naming what to do.
pub fn fetch_source_at(
    ctx: &Context,
    lock: &Lock,
    package: &str,
    version: &str,
) -> Result<(PathBuf, String)> {
    let pinned = lock
        .pins
        .iter()
        .find(|p| p.package == package && Kind::of_file(&p.file) == Kind::Source)
        .map(|p| p.version.clone());
    if pinned.as_deref() == Some(version) {
        return fetch_source(ctx, lock, package);
    }
    let pinned = pinned.unwrap_or_else(|| UNPINNED.to_string());
    if ctx.locked {
        return Err(Error::Unavailable(format!(
            "the outputs carry binaries built from source package {package} {version}, but \
             sources.lock pins {package} {pinned} and --locked forbids fetching anything else: \
             run `distro-build lock` (or add the {package} lines to sources.lock)"
        )));
    }
    eprintln!(
        "distro-build: WARNING: source package {package} {version} (the source of binaries the \
         outputs carry) is not what sources.lock pins ({pinned}); fetching it unchecked. Run \
         `distro-build lock` to pin it, or pass --locked to refuse."
    );
    let dir = source_dir(ctx, package, version)?;
    let files = hashed_files(&dir)?;
    record(&UsedInput {
        package: package.to_string(),
        kind: Kind::Source,
        pinned_version: pinned,
        used_version: version.to_string(),
        files,
    });
    Ok((dir, version.to_string()))
}

/// The source package a binary package was built from, from its control fields: `Source`
/// is `NAME` or `NAME (VERSION)` (a binNMU such as `1.47.0-2+b2` names its source version
/// `1.47.0-2` there); without `Source`, the package is its own source at its own version.
pub fn parse_source_field(package: &str, version: &str, source: &str) -> (String, String) {
    let source = source.trim();
    if source.is_empty() {
        return (package.to_string(), version.to_string());
    }
    match source.split_once('(') {
        Some((name, rest)) => (
            name.trim().to_string(),
            rest.trim_end_matches(')').trim().to_string(),
        ),
        None => (source.to_string(), version.to_string()),
    }
}

/// The (source package, source version) the binary package file `deb` was built from, read
/// from the .deb itself with `dpkg-deb -f` (so the answer comes from the pinned, checked
/// file, not from apt's lists).
pub fn source_of_deb(deb: &Path) -> Result<(String, String)> {
    let field = |name: &str| -> Result<String> {
        Ok(run_capture(
            &format!("dpkg-deb -f {} {name}", deb.display()),
            Command::new("dpkg-deb").arg("-f").arg(deb).arg(name),
        )?
        .trim()
        .to_string())
    };
    let package = field("Package")?;
    let version = field("Version")?;
    let source = field("Source")?;
    Ok(parse_source_field(&package, &version, &source))
}

/// Unpacks `deb` (with sha256 `sha256`) into `<cache>/debs/`, once; returns the unpacked root.
pub fn unpack_deb(ctx: &Context, deb: &Path, sha256: &str) -> Result<PathBuf> {
    let stem = deb
        .file_stem()
        .map(|s| s.to_string_lossy().replace("%3a", "_"))
        .unwrap_or_default();
    let dest = ctx
        .cache_dir
        .join("debs")
        .join(format!("{stem}_{}", &sha256[..12]));
    if dest.is_dir() {
        return Ok(dest);
    }
    let parent = ctx.cache_dir.join("debs");
    fs::create_dir_all(&parent).ctx(|| format!("creating {}", parent.display()))?;
    let tmp = temp_sibling(&dest);
    if tmp.exists() {
        fs::remove_dir_all(&tmp).ctx(|| format!("removing {}", tmp.display()))?;
    }
    let result = run_logged(
        &format!("dpkg-deb -x {}", deb.display()),
        Command::new("dpkg-deb").arg("-x").arg(deb).arg(&tmp),
        &log_path(ctx),
    )
    .and_then(|()| rename_dir_once(&tmp, &dest));
    if result.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    result.map(|()| dest)
}

/// The unpacked root of binary package `package` at its pinned version (fetching, checking
/// and unpacking it when needed). For example `deb_root(ctx, "grub-pc-bin")?.join("usr/lib/grub/i386-pc")`.
pub fn deb_root(ctx: &Context, package: &str) -> Result<PathBuf> {
    let lock = load_lock(ctx)?;
    let (deb, sha256) = fetch_binary(ctx, &lock, package)?;
    unpack_deb(ctx, &deb, &sha256)
}

/// A file inside the pinned binary package `package` (`rel` relative to its root), or an
/// error naming the package when the package does not contain it.
pub fn deb_file(ctx: &Context, package: &str, rel: &str) -> Result<PathBuf> {
    let path = deb_root(ctx, package)?.join(rel);
    if path.exists() {
        Ok(path)
    } else {
        Err(Error::Invalid(format!(
            "the pinned {package} has no /{rel}; check its version in sources.lock"
        )))
    }
}

/// The closing summary: one line per input, saying which fell back.
pub fn summary(inputs: &[UsedInput]) -> String {
    let mut text = String::new();
    for u in inputs {
        if u.fell_back() {
            text.push_str(&format!(
                "  {} {} — FELL BACK (sources.lock pins {})\n",
                u.package, u.used_version, u.pinned_version
            ));
        } else {
            text.push_str(&format!("  {} {} (pinned)\n", u.package, u.used_version));
        }
    }
    let fell = inputs.iter().filter(|u| u.fell_back()).count();
    text.push_str(&match fell {
        0 => "  every input was the pinned version\n".to_string(),
        n => format!("  {n} input(s) fell back: run `distro-build lock` to pin them on purpose\n"),
    });
    text
}

/// `distro-build lock`: rewrites the lock file from what the archive has now, keeping its
/// comments, its layout and its package list (binary packages stay binary, source stay source).
/// A source package that some pinned binary package was built from is pinned at exactly that
/// binary's source version (so the source bundle matches the binaries); any other source
/// package at the archive's newest version. Every file is downloaded and hashed; the new
/// lock is written beside the old one and renamed. Returns the lines that changed.
pub fn relock(ctx: &Context) -> Result<Vec<String>> {
    let path = lock_path(ctx);
    let text = fs::read_to_string(&path).ctx(|| format!("reading {}", path.display()))?;
    let lock =
        Lock::parse(&text).map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
    let mut packages: Vec<(&str, Kind)> = Vec::new();
    for pin in &lock.pins {
        let key = (pin.package.as_str(), Kind::of_file(&pin.file));
        if !packages.contains(&key) {
            packages.push(key);
        }
    }
    let scratch = ctx.cache_dir.join("downloads/relock");
    // Binary packages first: their files say which source versions to pin.
    let mut blocks: Vec<((&str, Kind), Vec<String>)> = Vec::new();
    let mut sources_of_binaries: Vec<(String, String)> = Vec::new();
    for pass in [Kind::Binary, Kind::Source] {
        for &(package, kind) in &packages {
            if kind != pass {
                continue;
            }
            let version = match sources_of_binaries.iter().find(|(s, _)| s == package) {
                Some((_, v)) if kind == Kind::Source => v.clone(),
                _ => candidate(package, kind)?,
            };
            let tmp = download_into_temp(ctx, kind, &format!("{package}={version}"), &scratch)?;
            let result = (|| -> Result<Vec<String>> {
                let mut out = Vec::new();
                for name in names_in(&tmp)? {
                    let file = tmp.join(&name);
                    let sum = sha256_file(&file)?;
                    if kind == Kind::Binary {
                        sources_of_binaries.push(source_of_deb(&file)?);
                    }
                    out.push(format!("{package} {version} {name} {sum}"));
                }
                Ok(out)
            })();
            let _ = fs::remove_dir_all(&tmp);
            blocks.push(((package, kind), result?));
        }
    }
    // The lock's own layout: every comment and blank line where it was, each package's new
    // lines where its first old line was.
    let mut lines = Vec::new();
    let mut body = String::new();
    let mut done: Vec<(&str, Kind)> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            body.push_str(line);
            body.push('\n');
            continue;
        }
        let mut fields = trimmed.split_whitespace();
        let package = fields.next().unwrap_or_default();
        let key = (package, Kind::of_file(fields.nth(1).unwrap_or_default()));
        if done.contains(&key) {
            continue;
        }
        done.push(key);
        if let Some((_, block)) = blocks.iter().find(|(k, _)| *k == key) {
            for l in block {
                body.push_str(l);
                body.push('\n');
                lines.push(l.clone());
            }
        }
    }
    let old: Vec<String> = lock
        .pins
        .iter()
        .map(|p| format!("{} {} {} {}", p.package, p.version, p.file, p.sha256))
        .collect();
    write_atomic(&path, body.as_bytes())?;
    Ok(lines.into_iter().filter(|l| !old.contains(l)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_corrupt_download_is_refused_with_both_sums() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        fs::write(&file, b"hello\n").unwrap();
        let good = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
        verify(&file, good).unwrap();
        fs::write(&file, b"hellO\n").unwrap();
        let err = verify(&file, good).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::Checksum { .. }));
        assert!(msg.contains(good) && msg.contains("sources.lock"), "{msg}");
    }

    #[test]
    fn the_source_field_names_the_source_package_and_version() {
        let src = |p, v, s| parse_source_field(p, v, s);
        assert_eq!(
            src("libext2fs2", "1.47.0-2+b2", "e2fsprogs (1.47.0-2)"),
            ("e2fsprogs".into(), "1.47.0-2".into())
        );
        assert_eq!(
            src("libc6", "2.36-9+deb12u14", "glibc"),
            ("glibc".into(), "2.36-9+deb12u14".into())
        );
        assert_eq!(
            src("busybox", "1:1.35.0-4", ""),
            ("busybox".into(), "1:1.35.0-4".into())
        );
    }

    #[test]
    fn kind_follows_the_pinned_file() {
        let deb = Pin {
            package: "ovmf".into(),
            version: "1".into(),
            file: "ovmf_1_all.deb".into(),
            sha256: "a".repeat(64),
        };
        let dsc = Pin {
            file: "busybox_1.dsc".into(),
            ..deb.clone()
        };
        assert_eq!(Kind::of(&[&deb]), Kind::Binary);
        assert_eq!(Kind::of(&[&dsc]), Kind::Source);
    }

    #[test]
    fn the_summary_names_every_fallback() {
        let used = |p: &str, v: &str| UsedInput {
            package: "linux-source-6.1".into(),
            kind: Kind::Binary,
            pinned_version: p.into(),
            used_version: v.into(),
            files: vec![],
        };
        let text = summary(&[used("6.1.192-2", "6.1.192-3")]);
        assert!(
            text.contains("FELL BACK (sources.lock pins 6.1.192-2)"),
            "{text}"
        );
        assert!(text.contains("1 input(s) fell back"), "{text}");
        let text = summary(&[used("6.1.192-2", "6.1.192-2")]);
        assert!(
            text.contains("every input was the pinned version"),
            "{text}"
        );
    }
}
