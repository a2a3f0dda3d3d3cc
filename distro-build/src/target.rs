//! The machine a build is for, as data: every name that differs between architectures (the
//! kernel's `ARCH` and image, the Rust triple, GRUB's platforms and Debian packages, the
//! removable-media EFI file name, QEMU's binary, machine and firmware, GPT partition types,
//! the OCI platform, Debian's architecture and library folder) lives in one [`Target`], so a
//! second architecture is one more value here, not branches in the stages. Stages read it
//! from [`crate::context::Context::target`]; this module runs nothing.
//!
//! Sources of the values: the kernel's `Documentation/kbuild`, `rustc --print target-list`,
//! GRUB's `grub-mkimage --help` (platform names), UEFI 2.10 §3.5.1.1 (removable media boot
//! file names), the Discoverable Partitions Specification (root partition types) and the OCI
//! image spec's platform values (GOARCH).

/// One GRUB platform as `grub-mkimage` builds it, with where its modules come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrubPlatform {
    /// `grub-mkimage -O` for an image on a disk (`i386-pc`, `x86_64-efi`).
    pub format: &'static str,
    /// `grub-mkimage -O` for a CD's El Torito no-emulation image, when it differs from
    /// [`format`](Self::format) (`i386-pc-eltorito`); None when the same image serves.
    pub cdrom_format: Option<&'static str>,
    /// Where the platform's modules (`kernel.img`, `*.mod`, `moddep.lst`) come from.
    pub modules: GrubModules,
}

/// Where a GRUB platform's modules come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrubModules {
    /// Debian's binary package (pinned in sources.lock) and the modules' folder inside it.
    Package {
        /// The package, e.g. `grub-pc-bin`.
        package: &'static str,
        /// The folder inside it, e.g. `usr/lib/grub/i386-pc`.
        dir: &'static str,
    },
    /// Built from Debian's pinned grub2 source package with `grub-patches/` applied
    /// ([`crate::boot::grub_source`]): GRUB's configure `--with-platform` and `--target`.
    Source {
        /// `--with-platform`, e.g. `efi`.
        platform: &'static str,
        /// `--target`, e.g. `amd64-pe` (Debian's value for grub-efi-amd64).
        target: &'static str,
    },
}

/// GPT partition type GUIDs of the disk image (what `sgdisk --typecode` takes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionTypes {
    /// The EFI system partition (`EF00`, the same on every architecture).
    pub esp: &'static str,
    /// The root file system for this architecture (Discoverable Partitions Specification).
    pub root: &'static str,
}

/// Everything a build needs to know about the machine it builds for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// The name people use and `out/<name>/` would carry (`x86_64`).
    pub name: &'static str,
    /// The kernel's `ARCH=` value.
    pub kernel_arch: &'static str,
    /// The bootable kernel image inside the kernel's build folder (`arch/x86/boot/bzImage`);
    /// its file name is also the `make` target that builds it.
    pub kernel_image: &'static str,
    /// Whether distro-build compresses that image with xz itself (arm64's `Image`, which does
    /// not decompress itself: GRUB's `xzio` unpacks it); published as `<image>.xz`.
    pub kernel_xz: bool,
    /// The compiler prefix kbuild and the C components are built with (`CROSS_COMPILE=`,
    /// Debian's `gcc-aarch64-linux-gnu` gives `aarch64-linux-gnu-`); empty for the host's own
    /// compiler.
    pub cross_compile: &'static str,
    /// What the cross build needs on the host besides the usual tools, as (program on PATH or
    /// absolute file, Debian package): the cross compiler and the target's musl (its
    /// `musl-gcc.specs`, beside its `libc.a`).
    pub cross_tools: &'static [(&'static str, &'static str)],
    /// Extra compiler flags of the kernel build (kbuild's `KCFLAGS`), part of its cache key.
    pub kernel_cflags: &'static str,
    /// The kernel config fragments, as paths under `kernel-configs/`: a folder stands for every
    /// `*.config` file directly in it, a file for itself. Fragment names in the cache key are
    /// these paths (a folder's files by their own names under `.`).
    pub kernel_fragments: &'static [&'static str],
    /// The paths (relative to the repository, git pathspecs) whose last commit dates the
    /// kernel build (its `uname -v` timestamp).
    pub kernel_epoch_inputs: &'static [&'static str],
    /// The patches of `kernel-patches/` that change this target's kernel (file names): they
    /// go into its cache key ([`crate::kernel_patches`]).
    pub kernel_patches: &'static [&'static str],
    /// The live medium's GRUB menu, relative to the repository.
    pub grub_cfg: &'static str,
    /// Whether the live medium carries the disk installer and a disk image is built (its
    /// disk tools are built with the target's musl toolchain, [`crate::toolchain`]).
    pub has_disk: bool,
    /// The serial console device the boot entries name (`ttyS0`, `ttyAMA0`) and what follows
    /// it on `console=` (`,115200`).
    pub serial_console: &'static str,
    /// The Rust target triple the static tinibox is built for: the musl one, whose static
    /// C library costs 0.7 MB less binary and 0.9 MiB less peak RSS than glibc's
    /// (BENCHMARKS.md, "Footprint"); rustup installs it (`scripts/install-deps.sh`).
    pub rust_triple: &'static str,
    /// The section ordering file (relative to the repository) the static tinibox is linked
    /// with, GNU gold's `--section-ordering-file`: the functions a container start runs, laid
    /// out together so that a start maps fewer 64 KiB windows of the binary (BENCHMARKS.md,
    /// "Code layout for a container start"; `scripts/tinibox-order.py` writes it). None
    /// links in the compiler's order (measured on x86_64 only).
    pub tinibox_order: Option<&'static str>,
    /// ELF `e_machine` of the target's executables (62 = EM_X86_64).
    pub elf_machine: u16,
    /// GRUB for BIOS firmware; None where there is no BIOS.
    pub grub_bios: Option<GrubPlatform>,
    /// GRUB for UEFI firmware.
    pub grub_efi: GrubPlatform,
    /// The removable-media boot file under `\EFI\BOOT\` (`BOOTX64.EFI`).
    pub efi_boot_file: &'static str,
    /// The QEMU system emulator, and the Debian package that provides it.
    pub qemu_binary: (&'static str, &'static str),
    /// QEMU's `-machine` value.
    pub qemu_machine: &'static str,
    /// QEMU's `-cpu` value, when the machine's default does not fit (arm64 `virt`'s default
    /// is a 32-bit Cortex-A15).
    pub qemu_cpu: Option<&'static str>,
    /// The network card model QEMU gives the guest (one the kernel has a driver for).
    pub qemu_nic_model: &'static str,
    /// Whether the live CD goes on a virtio-scsi CD-ROM (machines without IDE/AHCI, like
    /// `virt`) instead of the machine's own CD drive.
    pub qemu_scsi_cdrom: bool,
    /// The UEFI firmware QEMU boots with: (Debian package, code image inside it).
    pub uefi_firmware: (&'static str, &'static str),
    /// The disk image's GPT partition types.
    pub partition_types: PartitionTypes,
    /// The OCI image config's `architecture` (GOARCH values: `amd64`, `arm64`).
    pub oci_architecture: &'static str,
    /// Debian's architecture name (`amd64`), as in `.deb` file names.
    pub debian_arch: &'static str,
    /// Debian's multiarch library folder name (`x86_64-linux-gnu`).
    pub multiarch: &'static str,
    /// The glibc dynamic loader's file name (`ld-linux-x86-64.so.2`).
    pub dynamic_loader: &'static str,
    /// Alpine's architecture name (`/etc/apk/arch`, the repositories' folder: `x86_64`).
    pub apk_arch: &'static str,
    /// The file names (in `apk/keys/`) of Alpine's public keys that sign this architecture's
    /// indexes and packages, as Alpine's `alpine-keys` package installs them for it.
    pub apk_keys: &'static [&'static str],
}

impl Target {
    /// 64-bit PCs: BIOS and UEFI.
    pub const X86_64: Target = Target {
        name: "x86_64",
        kernel_arch: "x86_64",
        kernel_image: "arch/x86/boot/bzImage",
        kernel_xz: false,
        cross_compile: "",
        cross_tools: &[],
        kernel_cflags: crate::kernel::X86_KCFLAGS,
        // Every fragment directly in kernel-configs/ (the arm64 ones sit in their own folder).
        kernel_fragments: &["."],
        // Only the top-level fragments date this kernel, so an arm64 fragment's commit does
        // not rebuild it; recipe changes in kernel.rs bump its RECIPE instead.
        kernel_epoch_inputs: &[
            ":(glob)kernel-configs/*.config",
            "kernel-patches/mm-no-watermark-boost.patch",
            "kernel-patches/x86-kernel-image-page-align.patch",
            "kernel-patches/x86-early-dynamic-page-tables.patch",
        ],
        // Small machines (issue 20; each patch says why): 7 MiB less kernel image, and no
        // watermark boost starving the initramfs unpack. memory.config turns on their options
        // (CONFIG_X86_KERNEL_IMAGE_PAGE_ALIGN, CONFIG_PAGE_ALLOC_NO_WATERMARK_BOOST), which
        // the config check refuses to lose.
        kernel_patches: &[
            "mm-no-watermark-boost.patch",
            "x86-kernel-image-page-align.patch",
            "x86-early-dynamic-page-tables.patch",
        ],
        serial_console: "ttyS0,115200",
        grub_cfg: "distro-build/grub.cfg",
        has_disk: true,
        rust_triple: "x86_64-unknown-linux-musl",
        tinibox_order: Some("distro-build/tinibox.order"),
        elf_machine: 62,
        grub_bios: Some(GrubPlatform {
            format: "i386-pc",
            cdrom_format: Some("i386-pc-eltorito"),
            modules: GrubModules::Package {
                package: "grub-pc-bin",
                dir: "usr/lib/grub/i386-pc",
            },
        }),
        grub_efi: GrubPlatform {
            format: "x86_64-efi",
            cdrom_format: None,
            // Built from source for two fixes to the Linux loader's memory placement, which
            // let TiniLinux boot in a 64 MiB UEFI machine (grub-patches/).
            modules: GrubModules::Source {
                platform: "efi",
                target: "amd64-pe",
            },
        },
        efi_boot_file: "BOOTX64.EFI",
        qemu_binary: ("qemu-system-x86_64", "qemu-system-x86"),
        qemu_machine: "pc",
        qemu_cpu: None,
        qemu_nic_model: "e1000",
        qemu_scsi_cdrom: false,
        uefi_firmware: ("ovmf", "usr/share/OVMF/OVMF_CODE.fd"),
        partition_types: PartitionTypes {
            esp: "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
            root: "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709",
        },
        oci_architecture: "amd64",
        debian_arch: "amd64",
        multiarch: "x86_64-linux-gnu",
        dynamic_loader: "ld-linux-x86-64.so.2",
        apk_arch: "x86_64",
        apk_keys: &[
            "alpine-devel@lists.alpinelinux.org-4a6a0840.rsa.pub",
            "alpine-devel@lists.alpinelinux.org-5261cecb.rsa.pub",
            "alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub",
        ],
    };

    /// 64-bit Arm machines with UEFI (QEMU's `virt`, servers, Apple-silicon VMs): no BIOS,
    /// so GRUB only as `arm64-efi` (`BOOTAA64.EFI`), the kernel as an xz-compressed `Image`
    /// that GRUB unpacks (arm64 kernels do not decompress themselves), a PL011 serial console.
    pub const ARM64: Target = Target {
        name: "arm64",
        kernel_arch: "arm64",
        kernel_image: "arch/arm64/boot/Image",
        kernel_xz: true,
        cross_compile: "aarch64-linux-gnu-",
        cross_tools: &[
            ("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu"),
            ("aarch64-linux-gnu-objcopy", "binutils-aarch64-linux-gnu"),
            (
                "/usr/lib/aarch64-linux-musl/musl-gcc.specs",
                "musl-dev:arm64",
            ),
        ],
        kernel_cflags: "",
        kernel_fragments: &["containers.config", "ikconfig.config", "arm64"],
        kernel_epoch_inputs: &[
            "kernel-configs/containers.config",
            "kernel-configs/ikconfig.config",
            "kernel-configs/arm64",
        ],
        // The x86 patch touches only arch/x86, which an arm64 build does not compile. The mm
        // one adds an option this kernel does not set, but it still moves the lines of
        // mm/page_alloc.c, and the WARN/BUG sites there carry their line numbers: a clean
        // arm64 build from the patched tree differed from one cached before the patch
        // (Image.xz, byte 2,334,922), so it is part of this key too.
        kernel_patches: &["mm-no-watermark-boost.patch"],
        serial_console: "ttyAMA0",
        grub_cfg: "distro-build/grub-arm64.cfg",
        has_disk: true,
        rust_triple: "aarch64-unknown-linux-musl",
        tinibox_order: None,
        elf_machine: 183,
        grub_bios: None,
        grub_efi: GrubPlatform {
            format: "arm64-efi",
            cdrom_format: None,
            modules: GrubModules::Package {
                // An arm64 package: apt names it with its architecture on an amd64 host.
                package: "grub-efi-arm64-bin:arm64",
                dir: "usr/lib/grub/arm64-efi",
            },
        },
        efi_boot_file: "BOOTAA64.EFI",
        qemu_binary: ("qemu-system-aarch64", "qemu-system-arm"),
        qemu_machine: "virt",
        qemu_cpu: Some("cortex-a57"),
        qemu_nic_model: "virtio-net-pci",
        qemu_scsi_cdrom: true,
        uefi_firmware: ("qemu-efi-aarch64", "usr/share/AAVMF/AAVMF_CODE.fd"),
        partition_types: PartitionTypes {
            esp: "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
            root: "B921B045-1DF0-41C3-AF44-4C6F280D3FAE",
        },
        oci_architecture: "arm64",
        debian_arch: "arm64",
        multiarch: "aarch64-linux-gnu",
        dynamic_loader: "ld-linux-aarch64.so.1",
        apk_arch: "aarch64",
        apk_keys: &[
            "alpine-devel@lists.alpinelinux.org-58199dcc.rsa.pub",
            "alpine-devel@lists.alpinelinux.org-616ae350.rsa.pub",
        ],
    };

    /// Every target distro-build knows.
    pub const ALL: &'static [Target] = &[Target::X86_64, Target::ARM64];

    /// The target called `name` (`--arch`, `TINILINUX_TARGET`): its own name, its OCI or
    /// Debian architecture or its Alpine one (`x86_64` or `amd64`; `arm64` or `aarch64`).
    /// Errors: an unknown name, listing the known ones.
    pub fn named(name: &str) -> crate::error::Result<Target> {
        Target::ALL
            .iter()
            .find(|t| [t.name, t.oci_architecture, t.debian_arch, t.apk_arch].contains(&name))
            .copied()
            .ok_or_else(|| {
                let known: Vec<&str> = Target::ALL.iter().map(|t| t.name).collect();
                crate::error::Error::Invalid(format!(
                    "unknown target {name:?}: pass --arch with one of {}",
                    known.join(", ")
                ))
            })
    }
    /// The musl specs file of the cross compiler (from [`Target::cross_tools`]): it makes
    /// Debian's cross gcc compile against the target's musl headers and link its musl, as
    /// `musl-gcc` does natively. `None` for a native target.
    pub fn musl_specs(&self) -> Option<&'static str> {
        self.cross_tools
            .iter()
            .map(|(file, _)| *file)
            .find(|file| file.ends_with("/musl-gcc.specs"))
    }

    /// Whether this is the target outputs go to `out/` for (x86_64, as before arm64 existed);
    /// every other target's outputs go to `out/<name>/`.
    pub fn is_default(&self) -> bool {
        *self == Target::default()
    }

    /// The serial console's device name alone (`ttyS0`, `ttyAMA0`).
    pub fn serial_device(&self) -> &'static str {
        self.serial_console
            .split(',')
            .next()
            .unwrap_or(self.serial_console)
    }

    /// The kernel's `make` target, the file name of [`kernel_image`](Self::kernel_image)
    /// (`bzImage`, `Image`).
    pub fn kernel_make_target(&self) -> &'static str {
        self.kernel_image
            .rsplit('/')
            .next()
            .unwrap_or(self.kernel_image)
    }

    /// The kernel file the media carry (`bzImage`, `Image.xz`).
    pub fn kernel_file(&self) -> String {
        match self.kernel_xz {
            true => format!("{}.xz", self.kernel_make_target()),
            false => self.kernel_make_target().to_string(),
        }
    }

    /// GRUB for BIOS. Errors: the target has no BIOS (the hybrid ISO and the disk's BIOS
    /// boot partition need it today).
    pub fn bios(&self) -> crate::error::Result<GrubPlatform> {
        self.grub_bios.ok_or_else(|| {
            crate::error::Error::Invalid(format!(
                "target {} has no BIOS GRUB platform, which this output needs",
                self.name
            ))
        })
    }
}

impl Default for Target {
    /// The build machine's usual target today: [`Target::X86_64`].
    fn default() -> Self {
        Target::X86_64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_found_by_name_and_unknown_names_are_refused() {
        assert_eq!(Target::named("x86_64").unwrap(), Target::X86_64);
        assert_eq!(Target::named("amd64").unwrap(), Target::X86_64);
        assert_eq!(Target::named("arm64").unwrap(), Target::ARM64);
        assert_eq!(Target::named("aarch64").unwrap(), Target::ARM64);
        assert_eq!(Target::ARM64.kernel_file(), "Image.xz");
        assert_eq!(Target::ARM64.kernel_make_target(), "Image");
        assert_eq!(Target::X86_64.kernel_file(), "bzImage");
        assert!(Target::X86_64.is_default() && !Target::ARM64.is_default());
        let err = Target::named("riscv64").unwrap_err().to_string();
        assert!(err.contains("riscv64") && err.contains("x86_64"), "{err}");
        for t in Target::ALL {
            assert!(t.efi_boot_file.ends_with(".EFI"));
            assert!(t.kernel_image.starts_with("arch/"));
            assert!(t.rust_triple.contains("linux"));
        }
    }
}
