//! Build provenance as SPDX 2.3 SBOMs: `out/tinilinux.spdx.json` for the whole build, and an
//! image SBOM for each OCI image (which [`crate::oci`] stores in the image layout as an OCI 1.1
//! referrer artifact).
//!
//! The whole-build SBOM ([`write_sbom`]) lists one package per component:
//! - every Debian binary package the build used (the kernel's `linux-source-6.1`, GRUB's
//!   packages, the installer's tools and libraries), with its `.deb`'s sha256, a `pkg:deb`
//!   purl, its source package and its declared licence ([`licences`]); a package whose
//!   pinned version had left the archive says so in its comment;
//! - every Debian source package of the source bundle (`out/source/`, see
//!   [`crate::source_bundle`]), with its `.dsc`'s sha256;
//! - what distro-build compiled itself: the kernel, BusyBox and Dropbear (`GENERATED_FROM`
//!   their sources, [`COMPILED`]), x86_64's UEFI GRUB ([`GRUB_EFI`], boot media only) and the workspace's program, tinibox with apk in it ([`PROGRAMS`]);
//! - every crate of `Cargo.lock` ([`crates`]): those compiled into a program are `DEPENDS_ON`
//!   targets of it, proc macros `BUILD_DEPENDENCY_OF` it, the rest say they ship in no
//!   output;
//! - Alpine's public signing keys in `/etc/apk/keys` (`alpine-keys`), with each file's
//!   sha256 and where the copies were taken from and checked against;
//!
//! and one file per output in `out/` (the ISO, the disk images, the rootfs tarballs, the OCI
//! archives) and per file of `out/source/`, with SHA1 and SHA256. Relationships: the document
//! `DESCRIBES` every file; an output `CONTAINS` the components in it (boot media: all of
//! them; a rootfs tarball or OCI archive: those whose marker path it holds), and is a
//! `DISTRIBUTION_ARTIFACT` of each source package (distributing it means distributing them).
//!
//! What the build used is read from [`debian::used_inputs`], so a component list changes
//! with the stages, not with a list kept here. The document is byte-reproducible: `created`
//! is `SOURCE_DATE_EPOCH`, everything is sorted, and the namespace is derived from the content.

pub mod crates;
pub mod licences;
pub mod spdx;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::context::Context;
use crate::debian::{self, Kind, UsedInput};
use crate::error::{IoContext, Result};
use crate::source_bundle::Bundle;
use crate::sources::KERNEL_PACKAGE;
use crates::{Crate, Program, Role};
use spdx::{percent_encode, spdx_id, Checksum, Document, ExternalRef, File, Package, NOASSERTION};

/// The whole-build SBOM's file name in `out/`.
pub const SBOM_NAME: &str = "tinilinux.spdx.json";
/// The media type of an SPDX JSON document (IANA registration).
pub const SBOM_MEDIA_TYPE: &str = "application/spdx+json";
/// The prefix of every document namespace (`.invalid`: the project has no web site of its
/// own; the namespace only has to be a unique URI).
pub const NAMESPACE_BASE: &str = "https://tinilinux.invalid/spdx";
/// The Debian release every Debian package comes from (the purls' `distro` qualifier).
pub const DEBIAN_DISTRO: &str = "debian-12";
/// Where BusyBox sits in a root file system (its presence marks BusyBox as a component).
pub const BUSYBOX_PATH: &str = "bin/busybox";
/// The workspace's programs the rootfs carries, each built as its component builds it (apk
/// is compiled into tinibox: a workspace crate it links, see [`crate::apk_static`]).
pub const PROGRAMS: [Program; 1] = [crate::tinibox_static::PROGRAM];
/// The SPDXID of Alpine's signing keys.
const ALPINE_KEYS_ID: &str = "SPDXRef-AlpineKeys";

const KERNEL_ID: &str = "SPDXRef-Kernel";
const BUSYBOX_ID: &str = "SPDXRef-BusyBox";
const SUPPLIER_DEBIAN: &str = "Organization: Debian";
const SUPPLIER_US: &str = "Organization: TiniLinux project";

fn creators() -> Vec<String> {
    vec![
        format!("Tool: distro-build-{}", env!("CARGO_PKG_VERSION")),
        SUPPLIER_US.to_string(),
    ]
}

/// snapshot.debian.org keeps every version Debian ever published, so the location stays
/// valid after the archive moves on.
fn snapshot_url(source: &str, version: &str) -> String {
    format!(
        "https://snapshot.debian.org/package/{}/{}/",
        percent_encode(source),
        percent_encode(version)
    )
}

fn deb_purl(name: &str, version: &str, arch: &str) -> String {
    format!(
        "pkg:deb/debian/{}@{}?arch={arch}&distro={DEBIAN_DISTRO}",
        percent_encode(name),
        percent_encode(version)
    )
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn fallback_note(input: &UsedInput) -> Option<String> {
    input.fell_back().then(|| {
        format!(
            "FELL BACK: sources.lock pins {} {}, which Debian's archive no longer had; the build \
             used {} instead",
            input.package, input.pinned_version, input.used_version
        )
    })
}

fn join_notes(notes: &[Option<String>]) -> Option<String> {
    let text: Vec<&str> = notes.iter().flatten().map(String::as_str).collect();
    (!text.is_empty()).then(|| text.join("; "))
}

/// The SPDXID of a Debian binary package.
pub fn deb_id(package: &str, version: &str) -> String {
    spdx_id("Deb", &[package, version])
}

/// The SPDXID of a Debian source package.
pub fn deb_src_id(package: &str, version: &str) -> String {
    spdx_id("DebSrc", &[package, version])
}

/// The SPDXID of a crate.
pub fn crate_id(name: &str, version: &str) -> String {
    spdx_id("Crate", &[name, version])
}

/// The SPDX package of a used Debian binary package built from source `source` `source_version`.
fn debian_binary(input: &UsedInput, source: &str, source_version: &str) -> Package {
    let deb = input.files.first();
    let deb_name = deb.map(|(p, _)| file_name(p)).unwrap_or_default();
    let arch = deb_name
        .trim_end_matches(".deb")
        .rsplit('_')
        .next()
        .unwrap_or_default()
        .to_string();
    // A foreign-architecture pin (`grub-efi-arm64-bin:arm64`, apt's spelling) is the package
    // `grub-efi-arm64-bin`: the architecture goes to the purl's `arch` qualifier, as for every
    // other package.
    let name = input.package.split(':').next().unwrap_or(&input.package);
    let mut p = Package::new(
        deb_id(&input.package, &input.used_version),
        name,
        &input.used_version,
    );
    p.package_file_name = Some(deb_name);
    p.supplier = SUPPLIER_DEBIAN.into();
    p.download_location = snapshot_url(source, source_version);
    p.checksums = deb
        .map(|(_, sum)| vec![Checksum::sha256(sum)])
        .unwrap_or_default();
    p.source_info = Some(format!(
        "built by Debian from source package {source} {source_version}"
    ));
    let (licence, note) = licences::debian(name, source);
    p.license_declared = licence;
    p.comment = join_notes(&[Some(note), fallback_note(input)]);
    p.external_refs = vec![ExternalRef::purl(deb_purl(
        name,
        &input.used_version,
        &arch,
    ))];
    p.primary_package_purpose = Some(
        if input.package == KERNEL_PACKAGE {
            "SOURCE"
        } else if input.package.starts_with("lib") {
            "LIBRARY"
        } else {
            "APPLICATION"
        }
        .into(),
    );
    p
}

/// The SPDX package of a Debian source package: its `.dsc` (name, sha256) when known.
fn debian_source(
    name: &str,
    version: &str,
    dsc: Option<(&str, &str)>,
    notes: &[Option<String>],
) -> Package {
    let mut p = Package::new(deb_src_id(name, version), name, version);
    p.supplier = SUPPLIER_DEBIAN.into();
    p.download_location = snapshot_url(name, version);
    if let Some((file, sum)) = dsc {
        p.package_file_name = Some(file.to_string());
        p.checksums = vec![Checksum::sha256(sum)];
    }
    let (licence, note) = licences::debian(name, name);
    p.license_declared = licence;
    let mut all = vec![Some(note)];
    all.extend(notes.iter().cloned());
    p.comment = join_notes(&all);
    p.external_refs = vec![ExternalRef::purl(deb_purl(name, version, "source"))];
    p.primary_package_purpose = Some("SOURCE".into());
    p
}

fn crate_package(c: &Crate, triple: &str) -> Package {
    let mut p = Package::new(crate_id(&c.name, &c.version), &c.name, &c.version);
    if c.workspace {
        p.supplier = SUPPLIER_US.into();
    } else {
        p.download_location = format!(
            "https://crates.io/api/v1/crates/{}/{}/download",
            c.name, c.version
        );
        p.external_refs = vec![ExternalRef::purl(format!(
            "pkg:cargo/{}@{}",
            c.name,
            percent_encode(&c.version)
        ))];
    }
    if let Some(sum) = &c.checksum {
        p.checksums = vec![Checksum::sha256(sum)];
    }
    match &c.license {
        Some(l) => {
            p.license_declared = l.clone();
            if c.workspace {
                // Our own crates: we wrote them and their licence.
                p.license_concluded = l.clone();
            }
        }
        None => {
            p.comment = Some("the crate's manifest names no SPDX licence".into());
        }
    }
    let names = |set: &std::collections::BTreeSet<String>| {
        set.iter().cloned().collect::<Vec<_>>().join(", ")
    };
    let role = match c.role {
        Role::Program => {
            let program = PROGRAMS.iter().find(|p| p.package == c.name);
            let (path, args) = program
                .map(|p| (p.path, p.cargo_args.join(" ")))
                .unwrap_or_default();
            format!("shipped in TiniLinux as /{path} (static, {triple}, built with `{args}`)")
        }
        Role::Linked => format!("compiled into the shipped {}", names(&c.linked_into)),
        Role::BuildOnly => format!(
            "run by the compiler while building the shipped {} (a procedural macro or its \
             dependency); not in the binary",
            names(&c.built_for)
        ),
        Role::Unshipped => "in Cargo.lock but in no output (used by distro-build, the tests, a \
                            feature the static builds leave out, or other platforms)"
            .into(),
    };
    p.comment = join_notes(&[p.comment.take(), Some(role)]);
    p.primary_package_purpose = Some(
        if c.role == Role::Program {
            "APPLICATION"
        } else {
            "LIBRARY"
        }
        .into(),
    );
    p
}

/// Adds the programs of `programs` and their crates (all of `Cargo.lock` when `all_crates`,
/// else only what those programs link or build with) with their relationships; returns each
/// program's (package name, SPDXID).
fn add_crates(
    doc: &mut Document,
    crates: &[Crate],
    programs: &[&Program],
    all_crates: bool,
    triple: &str,
) -> Vec<(&'static str, String)> {
    let ids: Vec<(&'static str, String)> = programs
        .iter()
        .filter_map(|program| {
            crates
                .iter()
                .find(|c| c.role == Role::Program && c.name == program.package)
                .map(|c| (program.package, crate_id(&c.name, &c.version)))
        })
        .collect();
    let id_of = |name: &str| ids.iter().find(|(n, _)| *n == name).map(|(_, id)| id);
    for c in crates {
        let related = c.role == Role::Program && id_of(&c.name).is_some()
            || c.linked_into
                .iter()
                .chain(&c.built_for)
                .any(|n| id_of(n).is_some());
        if !all_crates && !related {
            continue;
        }
        doc.packages.push(crate_package(c, triple));
        let id = crate_id(&c.name, &c.version);
        for program in c.linked_into.iter().filter_map(|n| id_of(n)) {
            doc.relate(program, "DEPENDS_ON", &id);
        }
        for program in c.built_for.iter().filter_map(|n| id_of(n)) {
            doc.relate(&id, "BUILD_DEPENDENCY_OF", program);
        }
    }
    ids
}

/// Adds Alpine's public signing keys as the target installs them (`/etc/apk/keys`), with each
/// file's sha256 and where the copies come from; returns its SPDXID.
fn add_alpine_keys(ctx: &Context, doc: &mut Document) -> Result<String> {
    let mut sums = Vec::new();
    for key in ctx.target.apk_keys {
        let path = crate::apk_static::keys_source(ctx).join(key);
        let (_, sha256) = file_checksums(&path)?;
        sums.push(format!("{key} sha256:{sha256}"));
    }
    let mut p = Package::new(ALPINE_KEYS_ID.into(), "alpine-keys", NOASSERTION);
    p.version_info = None;
    p.supplier = "Organization: Alpine Linux".into();
    p.download_location = crate::apk_static::KEYS_ORIGIN.into();
    p.license_declared = "MIT".into();
    p.comment = Some(format!(
        "Alpine's public package-signing keys, installed in /{} for {}: {}. {}",
        crate::apk_static::KEYS_DIR,
        ctx.target.apk_arch,
        sums.join(", "),
        crate::apk_static::KEYS_CROSS_CHECK
    ));
    p.primary_package_purpose = Some("OTHER".into());
    doc.packages.push(p);
    Ok(ALPINE_KEYS_ID.into())
}

/// A source package as the SBOM names it: name, version, its `.dsc` (file name, sha256) when
/// known, and notes for its comment.
struct SourceRef {
    name: String,
    version: String,
    dsc: Option<(String, String)>,
    notes: Vec<Option<String>>,
}

/// A program distro-build compiles from a Debian source package (BusyBox, Dropbear, GRUB's
/// UEFI modules).
#[derive(Debug, Clone, Copy)]
pub struct Compiled {
    /// Its SPDXID.
    pub id: &'static str,
    /// Debian's source package (also the package name in the SBOM and the licence table key).
    pub package: &'static str,
    /// Where it sits in a root file system (its presence there marks it as a component).
    pub path: &'static str,
    /// How it was configured, for the SBOM's source information.
    pub configured: &'static str,
}

/// BusyBox as distro-build compiles it.
pub const BUSYBOX: Compiled = Compiled {
    id: BUSYBOX_ID,
    package: "busybox",
    path: BUSYBOX_PATH,
    configured:
        "defconfig + distro-build/busybox.config (full config: source/config/busybox.config)",
};

/// Dropbear as distro-build compiles it.
pub const DROPBEAR: Compiled = Compiled {
    id: "SPDXRef-Dropbear",
    package: crate::dropbear::PACKAGE,
    path: crate::dropbear::MULTI_PATH,
    configured: "its bundled LibTomCrypt/LibTomMath and distro-build/dropbear/localoptions.h \
                 (source/config/dropbear-localoptions.h), one static multi-call binary",
};

/// GRUB's x86_64 UEFI modules as distro-build compiles them (boot media only: the path is
/// never in a root file system).
pub const GRUB_EFI: Compiled = Compiled {
    id: "SPDXRef-GRUB-x86-64-efi",
    package: crate::boot::grub_source::PACKAGE,
    path: "EFI/BOOT/BOOTX64.EFI",
    configured: "TiniLinux's grub-patches/ (source/patches/grub2), configure --with-platform=efi \
                 --target=amd64-pe, make -C grub-core; the images made with grub-common's \
                 grub-mkimage",
};

/// Every program distro-build compiles from a Debian source package into a root file system,
/// in SBOM order.
pub const COMPILED: &[Compiled] = &[BUSYBOX, DROPBEAR];

/// What distro-build compiles for `target`'s boot media and root file system: [`COMPILED`],
/// and [`GRUB_EFI`] when the target builds its UEFI GRUB from source.
pub fn compiled_for(target: &crate::target::Target) -> Vec<Compiled> {
    let mut all = COMPILED.to_vec();
    if matches!(
        target.grub_efi.modules,
        crate::target::GrubModules::Source { .. }
    ) {
        all.push(GRUB_EFI);
    }
    all
}

/// `package`'s source package as the build used it, or as the lock pins it when the build
/// did not fetch it (an export from a test tree).
fn compiled_source(ctx: &Context, package: &str) -> Result<SourceRef> {
    let used = debian::used_inputs()
        .into_iter()
        .find(|u| u.kind == Kind::Source && u.package == package);
    if let Some(u) = used {
        let dsc = u
            .files
            .iter()
            .find(|(p, _)| file_name(p).ends_with(".dsc"))
            .map(|(p, s)| (file_name(p), s.clone()));
        let note = fallback_note(&u);
        return Ok(SourceRef {
            name: u.package,
            version: u.used_version,
            dsc,
            notes: vec![note],
        });
    }
    let lock = debian::load_lock(ctx)?;
    let pins = debian::pins_of(&lock, package, Kind::Source)?;
    let dsc = pins
        .iter()
        .find(|p| p.file.ends_with(".dsc"))
        .map(|p| (p.file.clone(), p.sha256.clone()));
    Ok(SourceRef {
        name: package.into(),
        version: pins[0].version.clone(),
        dsc,
        notes: vec![Some(
            "as sources.lock pins it (this build did not fetch it)".into(),
        )],
    })
}

/// Adds the program `what` distro-build compiled and its source package; returns the
/// SPDXIDs of both (the program, its source package).
fn add_compiled(ctx: &Context, doc: &mut Document, what: &Compiled) -> Result<(String, String)> {
    let SourceRef {
        name,
        version,
        dsc,
        notes,
    } = compiled_source(ctx, what.package)?;
    let src_id = deb_src_id(&name, &version);
    if !doc.has(&src_id) {
        doc.packages.push(debian_source(
            &name,
            &version,
            dsc.as_ref().map(|(f, s)| (f.as_str(), s.as_str())),
            &notes,
        ));
    }
    let mut p = Package::new(what.id.into(), what.package, &version);
    p.supplier = SUPPLIER_US.into();
    p.source_info = Some(format!(
        "compiled by distro-build from Debian source package {name} {version} with {}",
        what.configured
    ));
    let (licence, note) = licences::debian(what.package, what.package);
    p.license_declared = licence;
    p.comment = Some(note);
    p.primary_package_purpose = Some("APPLICATION".into());
    doc.packages.push(p);
    doc.relate(what.id, "GENERATED_FROM", &src_id);
    Ok((what.id.to_string(), src_id))
}

/// SHA1 and SHA256 of a file, streamed.
pub fn file_checksums(path: &Path) -> Result<(String, String)> {
    let mut file = fs::File::open(path).ctx(|| format!("opening {}", path.display()))?;
    let (mut sha1, mut sha256) = (Sha1::new(), Sha256::new());
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .ctx(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        sha1.update(&buf[..n]);
        sha256.update(&buf[..n]);
    }
    Ok((hex::encode(sha1.finalize()), hex::encode(sha256.finalize())))
}

fn spdx_file(id: String, rel: &str, path: &Path, comment: String) -> Result<File> {
    let (sha1, sha256) = file_checksums(path)?;
    Ok(File {
        spdx_id: id,
        file_name: format!("./{rel}"),
        checksums: vec![Checksum::sha1(&sha1), Checksum::sha256(&sha256)],
        license_concluded: NOASSERTION.into(),
        copyright_text: NOASSERTION.into(),
        comment: Some(comment),
    })
}

/// The paths in a rootfs tarball (without a leading `./` or `/`).
fn tar_paths(path: &Path) -> Result<Vec<String>> {
    let file = fs::File::open(path).ctx(|| format!("opening {}", path.display()))?;
    let mut archive = tar::Archive::new(file);
    let mut out = Vec::new();
    for entry in archive
        .entries()
        .ctx(|| format!("reading {}", path.display()))?
    {
        let entry = entry.ctx(|| format!("reading {}", path.display()))?;
        let p = entry.path().ctx(|| format!("reading {}", path.display()))?;
        out.push(
            p.to_string_lossy()
                .trim_start_matches("./")
                .trim_start_matches('/')
                .trim_end_matches('/')
                .to_string(),
        );
    }
    Ok(out)
}

/// The output files `out/` holds (top level, regular files, not the SBOM itself nor
/// temporary files), sorted.
pub fn output_files(ctx: &Context) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(&ctx.out_dir).ctx(|| format!("reading {}", ctx.out_dir.display()))? {
        let path = entry
            .ctx(|| format!("reading {}", ctx.out_dir.display()))?
            .path();
        let name = file_name(&path);
        if path.is_file() && !name.starts_with('.') && name != SBOM_NAME {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// What kind of output a file in `out/` is, from its name.
enum OutputKind {
    /// A boot medium (ISO, disk image): every shipped component.
    Medium,
    /// A rootfs tarball, or an OCI archive of the rootfs tarball at this path.
    Rootfs(PathBuf),
    /// Anything else.
    Other,
}

fn output_kind(path: &Path) -> OutputKind {
    let name = file_name(path);
    if name.ends_with(".iso") || name.contains("-disk.") {
        OutputKind::Medium
    } else if name.ends_with("-rootfs.tar") {
        OutputKind::Rootfs(path.to_path_buf())
    } else if let Some(stem) = name.strip_suffix("-oci.tar") {
        OutputKind::Rootfs(path.with_file_name(format!("{stem}-rootfs.tar")))
    } else {
        OutputKind::Other
    }
}

/// Writes `out/tinilinux.spdx.json` for the finished build: call it last, after every
/// output and the source bundle exist. Returns its path.
///
/// Errors: cargo metadata failing, an unreadable output, I/O errors naming the path.
pub fn write_sbom(ctx: &Context, bundle: &Bundle) -> Result<PathBuf> {
    let created = ctx.epoch.rfc3339();
    let mut doc = Document::new("tinilinux", created, creators());
    let inputs = debian::used_inputs();
    let fell = inputs.iter().filter(|u| u.fell_back()).count();
    doc.comment = Some(format!(
        "TiniLinux build outputs and their components. {} input(s) from Debian's archive, {} \
         of them fell back from the version sources.lock pins. Licences of Debian packages are \
         declared from their debian/copyright (see each package's comment), not concluded.",
        inputs.len(),
        fell
    ));

    // Debian binary packages, each with its source package.
    let mut shipped: Vec<String> = Vec::new();
    let mut source_ids: Vec<String> = Vec::new();
    for s in &bundle.sources {
        let dsc_sum = s
            .files
            .iter()
            .find(|(n, _)| *n == s.dsc)
            .map(|(_, sum)| sum.as_str())
            .unwrap_or_default();
        let note = (s.version != s.pinned_version).then(|| {
            format!(
                "FELL BACK: sources.lock pins {} {}; the build used {}",
                s.name, s.pinned_version, s.version
            )
        });
        let files_note = Some(format!(
            "files in out/source/: {}",
            s.files
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        doc.packages.push(debian_source(
            &s.name,
            &s.version,
            Some((&s.dsc, dsc_sum)),
            &[note, files_note],
        ));
        source_ids.push(deb_src_id(&s.name, &s.version));
    }
    for input in inputs.iter().filter(|u| u.kind == Kind::Binary) {
        let (src, src_version) = match bundle
            .sources
            .iter()
            .find(|s| s.binaries.contains(&input.package))
        {
            Some(s) => (s.name.clone(), s.version.clone()),
            None => (input.package.clone(), input.used_version.clone()),
        };
        doc.packages.push(debian_binary(input, &src, &src_version));
        let id = deb_id(&input.package, &input.used_version);
        if input.package == KERNEL_PACKAGE {
            source_ids.push(id);
        } else {
            doc.relate(&id, "GENERATED_FROM", &deb_src_id(&src, &src_version));
            shipped.push(id);
        }
    }

    // What distro-build compiled: the kernel, BusyBox, tinibox (+ every crate).
    let kernel_input = &bundle.kernel;
    let mut kernel = Package::new(KERNEL_ID.into(), "linux", &kernel_input.used_version);
    kernel.supplier = SUPPLIER_US.into();
    kernel.source_info = Some(format!(
        "compiled by distro-build from the tarball in Debian's {KERNEL_PACKAGE} {} with \
         kernel-patches/*.patch (source/patches/linux/) applied and allnoconfig + \
         kernel-configs/*.config (full config: source/config/linux.config)",
        kernel_input.used_version
    ));
    let (licence, note) = licences::debian("linux", "linux");
    kernel.license_declared = licence;
    kernel.comment = join_notes(&[Some(note), fallback_note(kernel_input)]);
    kernel.primary_package_purpose = Some("OPERATING-SYSTEM".into());
    doc.packages.push(kernel);
    doc.relate(
        KERNEL_ID,
        "GENERATED_FROM",
        &deb_id(KERNEL_PACKAGE, &kernel_input.used_version),
    );
    shipped.push(KERNEL_ID.into());
    let mut compiled = Vec::new();
    for what in &compiled_for(&ctx.target) {
        let (id, src) = add_compiled(ctx, &mut doc, what)?;
        shipped.push(id.clone());
        compiled.push((what.path, id, src));
    }
    let crates = crates::crates(&ctx.repo_root, &PROGRAMS, ctx.target.rust_triple)?;
    let all_programs: Vec<&Program> = PROGRAMS.iter().collect();
    let programs = add_crates(
        &mut doc,
        &crates,
        &all_programs,
        true,
        ctx.target.rust_triple,
    );
    shipped.extend(programs.iter().map(|(_, id)| id.clone()));
    let keys = add_alpine_keys(ctx, &mut doc)?;
    shipped.push(keys.clone());
    let build_tool = crates
        .iter()
        .find(|c| c.workspace && c.name == "distro-build")
        .map(|c| crate_id(&c.name, &c.version));

    // The outputs.
    for path in output_files(ctx)? {
        let name = file_name(&path);
        let id = spdx_id("File", &[&name]);
        let kind = output_kind(&path);
        let what = match kind {
            OutputKind::Medium => "boot medium",
            OutputKind::Rootfs(_) if name.ends_with("-oci.tar") => "OCI image archive",
            OutputKind::Rootfs(_) => "root file system tarball",
            OutputKind::Other => "build output",
        };
        doc.files.push(spdx_file(
            id.clone(),
            &name,
            &path,
            format!("TiniLinux {what}"),
        )?);
        doc.relate("SPDXRef-DOCUMENT", "DESCRIBES", &id);
        if let Some(tool) = &build_tool {
            doc.relate(tool, "BUILD_TOOL_OF", &id);
        }
        match kind {
            OutputKind::Medium => {
                for c in &shipped {
                    doc.relate(&id, "CONTAINS", c);
                }
                for s in &source_ids {
                    doc.relate(&id, "DISTRIBUTION_ARTIFACT", s);
                }
            }
            OutputKind::Rootfs(tarball) => {
                let paths = tar_paths(&tarball)?;
                let has = |p: &str| paths.iter().any(|x| x == p);
                for (path, program, source) in &compiled {
                    if has(path) {
                        doc.relate(&id, "CONTAINS", program);
                        doc.relate(&id, "DISTRIBUTION_ARTIFACT", source);
                    }
                }
                for (name, program) in &programs {
                    if PROGRAMS.iter().any(|p| p.package == *name && has(p.path)) {
                        doc.relate(&id, "CONTAINS", program);
                    }
                }
                if paths
                    .iter()
                    .any(|p| p.starts_with(crate::apk_static::KEYS_DIR))
                {
                    doc.relate(&id, "CONTAINS", &keys);
                }
            }
            OutputKind::Other => {}
        }
    }
    // The source bundle's files.
    for (rel, _) in &bundle.files {
        let id = spdx_id("File", &["source", rel]);
        let owner = bundle
            .sources
            .iter()
            .find(|s| s.files.iter().any(|(n, _)| n == rel))
            .map(|s| format!("file of Debian source package {} {}", s.name, s.version))
            .unwrap_or_else(|| {
                if rel.ends_with(".deb") {
                    format!("the kernel's source: Debian's {KERNEL_PACKAGE} package")
                } else if rel.starts_with("config/") {
                    "a configuration the build used".to_string()
                } else {
                    "the source bundle's README".to_string()
                }
            });
        doc.files.push(spdx_file(
            id.clone(),
            &format!("source/{rel}"),
            &bundle.dir.join(rel),
            format!("source bundle: {owner}"),
        )?);
        doc.relate("SPDXRef-DOCUMENT", "DESCRIBES", &id);
    }
    let bytes = doc
        .to_json(NAMESPACE_BASE)
        .map_err(|e| crate::error::Error::Invalid(format!("serialising the SBOM: {e}")))?;
    let path = ctx.out_dir.join(SBOM_NAME);
    crate::cache::write_atomic(&path, &bytes)?;
    Ok(path)
}

/// The SBOM of one OCI image: the image (named `reference`, its one layer `diff_id`) and the
/// components its root file system holds, judged by `has(path)` (each of [`COMPILED`] at
/// its path, each of [`PROGRAMS`] at its path with the crates it links, Alpine's keys). It names no
/// manifest digest: the manifest names it (its annotation), so it cannot name the manifest.
///
/// Errors: cargo metadata failing; a lock without BusyBox's source pin when the build did not
/// fetch it.
pub fn image_sbom(
    ctx: &Context,
    reference: &str,
    diff_id: &str,
    has: &dyn Fn(&str) -> bool,
) -> Result<Vec<u8>> {
    let created = ctx.epoch.rfc3339();
    let name = format!("{}-image", reference.replace([':', '/'], "-"));
    let mut doc = Document::new(&name, created, creators());
    let (image_name, tag) = reference.split_once(':').unwrap_or((reference, "latest"));
    let image_id = spdx_id("Image", &[image_name, tag]);
    let mut image = Package::new(image_id.clone(), image_name, tag);
    image.supplier = SUPPLIER_US.into();
    image.comment = Some(format!(
        "the OCI image {reference}, one layer with diff_id {diff_id}; its manifest names this \
         document's digest in the annotation {}",
        crate::oci::image::SBOM_ANNOTATION
    ));
    image.primary_package_purpose = Some("CONTAINER".into());
    doc.packages.push(image);
    doc.relate("SPDXRef-DOCUMENT", "DESCRIBES", &image_id);
    for what in COMPILED.iter().filter(|c| has(c.path)) {
        let (program, source) = add_compiled(ctx, &mut doc, what)?;
        doc.relate(&image_id, "CONTAINS", &program);
        doc.relate(&image_id, "DISTRIBUTION_ARTIFACT", &source);
    }
    let present: Vec<&Program> = PROGRAMS.iter().filter(|p| has(p.path)).collect();
    if !present.is_empty() {
        let crates = crates::crates(&ctx.repo_root, &PROGRAMS, ctx.target.rust_triple)?;
        for (_, program) in add_crates(&mut doc, &crates, &present, false, ctx.target.rust_triple) {
            doc.relate(&image_id, "CONTAINS", &program);
        }
    }
    if ctx
        .target
        .apk_keys
        .first()
        .is_some_and(|k| has(&format!("{}/{k}", crate::apk_static::KEYS_DIR)))
    {
        let keys = add_alpine_keys(ctx, &mut doc)?;
        doc.relate(&image_id, "CONTAINS", &keys);
    }
    doc.to_json(NAMESPACE_BASE)
        .map_err(|e| crate::error::Error::Invalid(format!("serialising the image SBOM: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(pinned: &str, used: &str) -> UsedInput {
        UsedInput {
            package: "libuuid1".into(),
            kind: Kind::Binary,
            pinned_version: pinned.into(),
            used_version: used.into(),
            files: vec![(
                PathBuf::from(format!("/c/libuuid1_{used}_amd64.deb")),
                "ab".repeat(32),
            )],
        }
    }

    #[test]
    fn a_debian_package_has_purl_checksum_source_and_licence() {
        let p = debian_binary(&input("2.38.1-5", "2.38.1-5"), "util-linux", "2.38.1-5");
        assert_eq!(
            p.external_refs[0].reference_locator,
            "pkg:deb/debian/libuuid1@2.38.1-5?arch=amd64&distro=debian-12"
        );
        assert_eq!(p.checksums, vec![Checksum::sha256(&"ab".repeat(32))]);
        assert_eq!(p.license_declared, "BSD-3-Clause");
        assert_eq!(
            p.download_location,
            "https://snapshot.debian.org/package/util-linux/2.38.1-5/"
        );
        assert!(!p.comment.unwrap_or_default().contains("FELL BACK"));
    }

    #[test]
    fn a_fallback_is_recorded_on_the_package() {
        let p = debian_binary(&input("2.38.1-5", "2.38.1-6"), "util-linux", "2.38.1-6");
        let comment = p.comment.unwrap_or_default();
        assert!(
            comment.contains("FELL BACK") && comment.contains("pins libuuid1 2.38.1-5"),
            "{comment}"
        );
        assert_eq!(p.version_info.as_deref(), Some("2.38.1-6"));
    }
}
