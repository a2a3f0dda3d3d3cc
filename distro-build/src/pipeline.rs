//! The build as a graph of outputs, each made at most once per process. [`Pipeline`] owns the
//! wiring: every stage output (sources, kernel, BusyBox, tinibox, the base and live rootfs
//! trees, the initramfs, the installer payload, the ISO, the disk image, the OCI export, the
//! source bundle, the SBOM) is a method that asks for the outputs it needs and memoizes its
//! own. A single stage (`distro-build iso`) and the whole build ([`Pipeline::all`]) go
//! through the same methods, so a dependency is written once, here.
//!
//! Stages stay in their modules (each caches its artifacts on disk by its inputs); this
//! module decides only which stage gets which input and in what order `all` asks for them.
//! It prints nothing of its own beyond the stage lines of the live-rootfs, OCI, disk,
//! source-bundle and SBOM steps.

use std::cell::OnceCell;
use std::path::{Path, PathBuf};

use crate::apk_static::ApkComponent;
use crate::busybox::{BusyBox, BusyBoxComponent};
use crate::ca_certificates::CaCertificatesComponent;
use crate::component::Component;
use crate::context::Context;
use crate::disk::disktools::DiskTools;
use crate::dropbear::DropbearComponent;
use crate::error::Result;
use crate::oci::ExportedImage;
use crate::runner::Stage;
use crate::source_bundle::Bundle;
use crate::sources::{self, KernelSource};
use crate::tinibox_static::TiniboxComponent;
use crate::tree::RootfsTree;
use crate::{disk, initramfs, iso, kernel, oci, provenance, rootfs, source_bundle};

/// The outputs a caller can ask for by name (the binary's subcommands).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// The verified, unpacked sources of the kernel and of every component.
    Sources,
    /// The kernel image.
    Kernel,
    /// The static BusyBox.
    Busybox,
    /// The static tinibox.
    Tinibox,
    /// The base rootfs tree (what the OCI images are cut from).
    Rootfs,
    /// The live rootfs tree (base + installer scripts + tinibox image store).
    LiveRootfs,
    /// `out/tinilinux-rootfs.tar`, `out/oci/` and the other images of `oci-images/`.
    Oci,
    /// The live initramfs.
    Initramfs,
    /// The disk installer's payload for the live medium.
    Installer,
    /// `out/tinilinux.iso`.
    Iso,
    /// `out/tinilinux-disk.img`.
    Disk,
    /// `out/source/`.
    SourceBundle,
    /// `out/tinilinux.spdx.json`.
    Sbom,
}

impl Output {
    /// What `distro-build all` makes, in the order it makes them.
    pub const ALL: &'static [Output] = &[
        Output::Sources,
        Output::Kernel,
        Output::Busybox,
        Output::Tinibox,
        Output::Rootfs,
        Output::Oci,
        Output::LiveRootfs,
        Output::Initramfs,
        Output::Installer,
        Output::Iso,
        Output::Disk,
        Output::SourceBundle,
        Output::Sbom,
    ];
}

/// `cell`'s value, computed by `make` the first time (a failure is not memoized).
pub(crate) fn memo<T>(cell: &OnceCell<T>, make: impl FnOnce() -> Result<T>) -> Result<&T> {
    if let Some(value) = cell.get() {
        return Ok(value);
    }
    let value = make()?;
    Ok(cell.get_or_init(|| value))
}

/// One build of `ctx`: the outputs made so far, each made on first request.
pub struct Pipeline<'c> {
    ctx: &'c Context,
    linux: OnceCell<KernelSource>,
    kernel: OnceCell<PathBuf>,
    busybox: BusyBoxComponent,
    tinibox: TiniboxComponent,
    apk: ApkComponent,
    dropbear: DropbearComponent,
    ca_certificates: CaCertificatesComponent,
    rootfs: OnceCell<RootfsTree>,
    live: OnceCell<RootfsTree>,
    oci: OnceCell<Vec<ExportedImage>>,
    initramfs: OnceCell<PathBuf>,
    installer: OnceCell<PathBuf>,
    disktools: OnceCell<DiskTools>,
    iso: OnceCell<PathBuf>,
    disk: OnceCell<PathBuf>,
    bundle: OnceCell<Bundle>,
    sbom: OnceCell<PathBuf>,
    authorized_keys: Option<String>,
}

impl<'c> Pipeline<'c> {
    /// A pipeline that has made nothing yet.
    pub fn new(ctx: &'c Context) -> Self {
        Pipeline {
            ctx,
            linux: OnceCell::new(),
            kernel: OnceCell::new(),
            busybox: BusyBoxComponent::new(),
            tinibox: TiniboxComponent::new(),
            apk: ApkComponent::new(),
            dropbear: DropbearComponent::new(),
            ca_certificates: CaCertificatesComponent::new(),
            rootfs: OnceCell::new(),
            live: OnceCell::new(),
            oci: OnceCell::new(),
            initramfs: OnceCell::new(),
            installer: OnceCell::new(),
            disktools: OnceCell::new(),
            iso: OnceCell::new(),
            disk: OnceCell::new(),
            bundle: OnceCell::new(),
            sbom: OnceCell::new(),
            authorized_keys: None,
        }
    }

    /// The same pipeline with `keys` (checked by [`crate::ssh::read_authorized_keys`]) as
    /// root's authorized SSH keys in the live rootfs, hence on the ISO and the disk image
    /// (never in the OCI images).
    pub fn with_authorized_keys(mut self, keys: String) -> Self {
        self.authorized_keys = Some(keys);
        self
    }

    /// The build context.
    pub fn context(&self) -> &'c Context {
        self.ctx
    }

    /// The components of the root filesystem, in the order they are installed.
    pub fn components(&self) -> [&dyn Component; 5] {
        [
            &self.busybox,
            &self.tinibox,
            &self.apk,
            &self.dropbear,
            &self.ca_certificates,
        ]
    }

    /// The kernel's source, verified against sources.lock and unpacked.
    pub fn kernel_source(&self) -> Result<&KernelSource> {
        memo(&self.linux, || sources::linux(self.ctx))
    }

    /// Every source: the kernel's and each component's.
    pub fn sources(&self) -> Result<()> {
        self.kernel_source()?;
        for component in self.components() {
            component.fetch(self.ctx)?;
        }
        Ok(())
    }

    /// The kernel image (`bzImage`); its full `.config` sits beside it as `config`.
    pub fn kernel(&self) -> Result<&Path> {
        memo(&self.kernel, || {
            kernel::build(self.ctx, self.kernel_source()?)
        })
        .map(PathBuf::as_path)
    }

    /// The static BusyBox and its applet list.
    pub fn busybox(&self) -> Result<&BusyBox> {
        self.busybox.built(self.ctx)
    }

    /// The static tinibox binary.
    pub fn tinibox(&self) -> Result<&Path> {
        self.tinibox.built(self.ctx)
    }

    /// The base rootfs: the folders, every component, device nodes, the skeleton.
    pub fn rootfs(&self) -> Result<&RootfsTree> {
        memo(&self.rootfs, || {
            for component in self.components() {
                component.build(self.ctx)?;
            }
            rootfs::assemble(self.ctx, &self.components())
        })
    }

    /// The live rootfs as it boots: the base tree, the disk installer's scripts, the
    /// repository's services (`services/*.json`, [`crate::services`]), root's
    /// authorized SSH keys when given, and (last) the tinibox image store holding the
    /// `tinilinux` image cut from the base tree (the same image and ID as `out/oci` and
    /// Docker see).
    pub fn live_rootfs(&self) -> Result<&RootfsTree> {
        memo(&self.live, || {
            let base = self.rootfs()?;
            let stage = Stage::start(
                "rootfs",
                "live additions: disk installer scripts + tinibox image store",
            );
            let mut tree = base.clone();
            disk::add_installer_scripts(&mut tree)?;
            let services = crate::services::add(&crate::services::repo_dir(self.ctx), &mut tree)?;
            if let Some(keys) = &self.authorized_keys {
                crate::ssh::add_authorized_keys(&mut tree, keys)?;
            }
            let digest = oci::add_image_store_of(self.ctx, base, &mut tree)?;
            stage.done(&format!(
                "{} entries, services [{}], stored image {digest}",
                tree.len(),
                services.join(", ")
            ));
            Ok(tree)
        })
    }

    /// The OCI export of the base rootfs (`out/tinilinux-rootfs.tar`, `out/oci/`, the
    /// archive, and the other images of `oci-images/`).
    pub fn oci(&self) -> Result<&[ExportedImage]> {
        memo(&self.oci, || {
            let base = self.rootfs()?;
            let stage = Stage::start("oci", "rootfs tarball + OCI image layout and archive");
            let exported = oci::export(self.ctx, base)?;
            let names: Vec<String> = exported
                .iter()
                .map(|e| format!("{} {}", e.reference, e.rootfs_tar.display()))
                .collect();
            stage.done(&names.join(", "));
            Ok(exported)
        })
        .map(Vec::as_slice)
    }

    /// The live initramfs (compressed cpio of the live rootfs).
    pub fn initramfs(&self) -> Result<&Path> {
        memo(&self.initramfs, || {
            initramfs::build(self.ctx, self.live_rootfs()?)
        })
        .map(PathBuf::as_path)
    }

    /// The disk installer's payload (boot images, disk tools) as the xz cpio archive that
    /// goes onto the live medium beside the kernel.
    pub fn installer(&self) -> Result<&Path> {
        memo(&self.installer, || {
            let payload = disk::installer_payload(self.ctx, self.disktools()?)?;
            initramfs::build_archive(self.ctx, &payload, "installer", initramfs::Compression::Xz)
        })
        .map(PathBuf::as_path)
    }

    /// The installer's static disk tools (sfdisk, mke2fs, e2fsck), built from their pinned
    /// sources; the installer payload, the disk image and the source bundle share them.
    pub fn disktools(&self) -> Result<&DiskTools> {
        memo(&self.disktools, || DiskTools::pinned(self.ctx))
    }

    /// `out/tinilinux.iso`.
    pub fn iso(&self) -> Result<&Path> {
        memo(&self.iso, || {
            let (kernel, initrd) = (self.kernel()?, self.initramfs()?);
            let installer = match self.ctx.target.has_disk {
                true => Some(self.installer()?),
                false => None,
            };
            iso::build(self.ctx, kernel, initrd, installer)
        })
        .map(PathBuf::as_path)
    }

    /// `out/tinilinux-disk.img` (and the qcow2 copy).
    pub fn disk(&self) -> Result<&Path> {
        memo(&self.disk, || {
            let (kernel, live) = (self.kernel()?, self.live_rootfs()?);
            let stage = Stage::start("disk", "GPT disk image: ESP + ext4 root + GRUB");
            let image = disk::build(self.ctx, kernel, live, self.disktools()?)?;
            stage.done(&image.display().to_string());
            Ok(image)
        })
        .map(PathBuf::as_path)
    }

    /// `out/source/`: the Debian source packages of everything the outputs carry, and the
    /// kernel's and BusyBox's configs and Dropbear's options. It makes the kernel and BusyBox,
    /// fetches Dropbear's source and the pinned
    /// packages the media carry (GRUB's, the installer's tools, the CA bundle) first, so the bundle
    /// covers them whether or not the media were built in this process.
    pub fn source_bundle(&self) -> Result<&Bundle> {
        memo(&self.bundle, || {
            let (kernel, busybox) = (self.kernel()?, self.busybox()?);
            self.dropbear.fetch(self.ctx)?;
            self.ca_certificates.fetch(self.ctx)?;
            // GRUB's inputs only: the bundle needs the packages, not a GRUB build.
            crate::boot::grub::GrubFiles::fetch(self.ctx)?;
            if self.ctx.target.has_disk {
                self.disktools()?;
            }
            let stage = Stage::start(
                "source",
                "out/source/: Debian source packages of everything shipped + configs",
            );
            let kernel_config = kernel.with_file_name("config");
            let busybox_config = busybox.binary.with_file_name(".config");
            let bundle = source_bundle::write(self.ctx, &kernel_config, &busybox_config)?;
            stage.done(&format!(
                "{} ({} source packages + the kernel's, {} files)",
                bundle.dir.display(),
                bundle.sources.len(),
                bundle.files.len()
            ));
            Ok(bundle)
        })
    }

    /// `out/tinilinux.spdx.json`, describing every output: it makes them all first.
    pub fn sbom(&self) -> Result<&Path> {
        memo(&self.sbom, || {
            self.oci()?;
            self.iso()?;
            if self.ctx.target.has_disk {
                self.disk()?;
            }
            let bundle = self.source_bundle()?;
            let stage = Stage::start("sbom", "SPDX 2.3 SBOM of every output");
            let sbom = provenance::write_sbom(self.ctx, bundle)?;
            stage.done(&sbom.display().to_string());
            Ok(sbom)
        })
        .map(PathBuf::as_path)
    }

    /// Makes `output` (and what it needs); returns the line the binary prints for it on
    /// stdout, if any (a path, or the live rootfs's entry count).
    pub fn make(&self, output: Output) -> Result<Option<String>> {
        let path = |p: &Path| Some(p.display().to_string());
        Ok(match output {
            Output::Sources => self.sources().map(|_| None)?,
            Output::Kernel => path(self.kernel()?),
            Output::Busybox => path(&self.busybox()?.binary),
            Output::Tinibox => path(self.tinibox()?),
            Output::Rootfs => Some(format!("{} entries", self.rootfs()?.len())),
            Output::LiveRootfs => Some(format!("{} entries", self.live_rootfs()?.len())),
            Output::Oci => self.oci().map(|_| None)?,
            Output::Initramfs => path(self.initramfs()?),
            Output::Installer => path(self.installer()?),
            Output::Iso => path(self.iso()?),
            Output::Disk => self.disk().map(|_| None)?,
            Output::SourceBundle => self.source_bundle().map(|_| None)?,
            Output::Sbom => self.sbom().map(|_| None)?,
        })
    }

    /// Everything, in [`Output::ALL`]'s order; for a target without a disk image
    /// ([`crate::target::Target::has_disk`] false) everything but the installer and the disk
    /// image (its source bundle and SBOM then describe the ISO, the rootfs tarballs and the
    /// OCI images).
    pub fn all(&self) -> Result<()> {
        for output in Output::ALL {
            let disk_only = matches!(output, Output::Installer | Output::Disk);
            if disk_only && !self.ctx.target.has_disk {
                continue;
            }
            self.make(*output)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memo_makes_once_and_does_not_keep_failures() {
        let cell = OnceCell::new();
        let mut calls = 0;
        let failed: Result<&u32> = memo(&cell, || {
            calls += 1;
            Err(crate::error::Error::Invalid("first try fails".into()))
        });
        assert!(failed.is_err());
        assert_eq!(*memo(&cell, || Ok(7)).unwrap(), 7);
        assert_eq!(*memo(&cell, || Ok(8)).unwrap(), 7, "made twice");
        assert_eq!(calls, 1);
    }

    #[test]
    fn all_ends_with_the_sbom_and_lists_each_output_once() {
        assert_eq!(Output::ALL.last(), Some(&Output::Sbom));
        for (i, a) in Output::ALL.iter().enumerate() {
            assert!(!Output::ALL[i + 1..].contains(a), "{a:?} twice");
        }
    }
}
