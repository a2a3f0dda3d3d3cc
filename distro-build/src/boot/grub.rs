//! GRUB for both media: the pinned GRUB ([`GrubFiles`]), the one `grub-mkimage` call
//! ([`mkimage`]) the ISO's El Torito and EFI images and the disk's images are all made with,
//! and the disk's images themselves ([`disk_images`], made once and cached: the disk image
//! and the installer's payload carry the same files).
//!
//! The disk's images are made without grub-install (which wants root and a real block
//! device): `grub-mkimage` builds the BIOS core image and the UEFI application with every
//! module they need built in, and this module patches the BIOS images the way
//! `grub-bios-setup` does when it embeds core.img in a GPT BIOS boot partition:
//!
//! - boot.img (the MBR code, 440 bytes): the sector where core.img starts (offset 0x5c, u64
//!   LE), the boot drive 0xff ("use the drive the BIOS passed in DL", offset 0x64) and two NOPs
//!   over the floppy drive check (offset 0x66) for BIOSes that pass a wrong drive number.
//! - core.img's first sector (diskboot): its block list (the last 12 bytes of the sector:
//!   start u64, length u16, segment u16) points at the rest of core.img, which follows it
//!   contiguously in the BIOS boot partition, loaded at segment 0x820.
//!
//! Both disk images use the prefix `(,gpt3)/boot/grub`: GRUB fills in the disk it was started
//! from, so neither image names a UUID and the installer can write the same images to any
//! disk with the TiniLinux layout. grub.cfg then lives on the ext4 root ([`grub_cfg`]).
//!
//! It owns only the image files it is asked to write and its cache artifact.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cache::{self, KeyBuilder};
use crate::context::Context;
use crate::disk::layout::{BIOS_BOOT_FIRST, BIOS_BOOT_SECTORS};
use crate::error::{Error, IoContext, Result};
use crate::runner;
use crate::target::{GrubModules, GrubPlatform};

/// GRUB's prefix in both images: partition 3 of the boot disk.
pub const PREFIX: &str = "(,gpt3)/boot/grub";
/// GRUB as the outputs use it: `grub-mkimage` and the module folders of the target's
/// platforms ([`crate::target::GrubPlatform`]: on x86_64 grub-pc-bin for BIOS and, for
/// UEFI, `x86_64-efi` built from the grub2 source with `grub-patches/`
/// ([`super::grub_source`])), all from packages pinned in `sources.lock`, binary or source
/// (never from the host's /usr/lib/grub, whose version drifts with the host's updates).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrubFiles {
    /// The pinned `grub-mkimage` binary.
    pub mkimage: PathBuf,
    /// The BIOS platform (`i386-pc`) and its modules, boot.img and boot_hybrid.img; None for
    /// a target without BIOS (arm64).
    pub bios: Option<(GrubPlatform, PathBuf)>,
    /// The UEFI platform (`x86_64-efi`) and its modules.
    pub efi: (GrubPlatform, PathBuf),
}

impl GrubFiles {
    /// Fetches (or finds in the cache) and unpacks the pinned GRUB packages of `ctx.target`,
    /// and builds the platforms it takes from the pinned source (cached after the first
    /// build).
    ///
    /// Errors: as [`crate::debian::deb_file`] (a missing pin, a checksum mismatch, a version
    /// gone with `--locked`) and [`super::grub_source::modules`] (a failing build).
    pub fn pinned(ctx: &Context) -> Result<GrubFiles> {
        let with_dir = |platform: GrubPlatform| -> Result<(GrubPlatform, PathBuf)> {
            let dir = match platform.modules {
                GrubModules::Package { package, dir } => {
                    crate::debian::deb_file(ctx, package, dir)?
                }
                GrubModules::Source { platform, target } => {
                    super::grub_source::modules(ctx, platform, target)?
                }
            };
            Ok((platform, dir))
        };
        Ok(GrubFiles {
            mkimage: crate::debian::deb_file(ctx, "grub-common", "usr/bin/grub-mkimage")?,
            bios: ctx.target.grub_bios.map(with_dir).transpose()?,
            efi: with_dir(ctx.target.grub_efi)?,
        })
    }

    /// Fetches what [`pinned`](Self::pinned) reads, without building anything: grub-common,
    /// the platforms' binary packages and the source package of the platforms built from
    /// source (what the source bundle and the SBOM name). Errors: as
    /// [`crate::debian::deb_file`] and [`crate::sources::debian_source`].
    pub fn fetch(ctx: &Context) -> Result<()> {
        crate::debian::deb_file(ctx, "grub-common", "usr/bin/grub-mkimage")?;
        for platform in ctx.target.grub_bios.iter().chain([&ctx.target.grub_efi]) {
            match platform.modules {
                GrubModules::Package { package, dir } => {
                    crate::debian::deb_file(ctx, package, dir)?;
                }
                GrubModules::Source { .. } => {
                    crate::sources::debian_source(ctx, super::grub_source::PACKAGE)?;
                }
            }
        }
        Ok(())
    }

    /// Adds what the images depend on to a cache key: `grub-mkimage` and every file of each
    /// platform's module folder (by name, in name order), so a rebuilt module (a changed
    /// patch) makes new images. Errors: an unreadable folder or file.
    pub fn key_into(&self, key: &mut KeyBuilder) -> Result<()> {
        key.file("grub-mkimage", &self.mkimage)?;
        for (platform, dir) in self.platforms() {
            for name in crate::debian::names_in(dir)? {
                key.file(&format!("{}/{name}", platform.format), &dir.join(&name))?;
            }
        }
        Ok(())
    }

    /// The BIOS platform and its module folder. Errors: the target has no BIOS.
    pub fn bios(&self) -> Result<&(GrubPlatform, PathBuf)> {
        self.bios.as_ref().ok_or_else(|| {
            Error::Invalid(format!(
                "GRUB {} has no BIOS platform beside it, which this output needs",
                self.efi.0.format
            ))
        })
    }

    /// The platforms present, BIOS first (the order cache keys list them in).
    pub fn platforms(&self) -> impl Iterator<Item = &(GrubPlatform, PathBuf)> {
        self.bios.iter().chain([&self.efi])
    }

    /// GRUB's MBR boot code image (`boot.img`). Errors: the target has no BIOS.
    pub fn boot_img(&self) -> Result<PathBuf> {
        Ok(self.bios()?.1.join("boot.img"))
    }
}

/// Modules both images carry (the rest is resolved by grub-mkimage from moddep.lst).
const COMMON_MODULES: &[&str] = &[
    "part_gpt",
    "part_msdos",
    "ext2",
    "normal",
    "linux",
    "configfile",
    "echo",
    "test",
    "search",
    "search_fs_uuid",
    "search_label",
    "serial",
    "terminal",
    "gzio",
    "xzio",
    "minicmd",
    "sleep",
    "ls",
    "cat",
    "halt",
    "reboot",
    // Reads the machine's memory size for the too-little-memory check (grub_cfg).
    "smbios",
];
/// BIOS-only modules.
const BIOS_MODULES: &[&str] = &["biosdisk"];
/// UEFI-only modules (`efi_uga` exists for x86 only: see [`efi_modules`]).
const EFI_MODULES: &[&str] = &["fat", "efi_gop", "efi_uga", "all_video"];

/// [`EFI_MODULES`] as the UEFI platform `format` has them: the UGA video driver, a
/// pre-GOP x86 interface, only for `x86_64-efi` and `i386-efi`.
fn efi_modules(format: &str) -> Vec<&'static str> {
    let x86 = format.starts_with("x86_64") || format.starts_with("i386");
    EFI_MODULES
        .iter()
        .copied()
        .filter(|m| x86 || *m != "efi_uga")
        .collect()
}

const KERNEL_SECTOR_OFFSET: usize = 0x5c;
const BOOT_DRIVE_OFFSET: usize = 0x64;
const DRIVE_CHECK_OFFSET: usize = 0x66;
const BPB_START: usize = 0x03;
const BPB_END: usize = 0x5a;
/// Bytes of MBR boot code (the disk signature and partition table follow).
pub const MBR_CODE_BYTES: usize = 440;
/// Segment the rest of core.img is loaded at (GRUB_BOOT_I386_PC_KERNEL_SEG + 0x20).
const CORE_SEGMENT: u16 = 0x820;

/// One `grub-mkimage` run: the image format and module folder of a platform, the prefix
/// GRUB reads its config from, an optional embedded early config, and the modules built in.
#[derive(Debug, Clone)]
pub struct ImageSpec<'a> {
    /// `-O`: `i386-pc`, `i386-pc-eltorito`, `x86_64-efi` …
    pub format: &'a str,
    /// `-d`: the platform's module folder (holds `moddep.lst`).
    pub modules_dir: &'a Path,
    /// `-p`: where GRUB looks for grub.cfg.
    pub prefix: &'a str,
    /// `-c`: a config file embedded in the image, run before the prefix's grub.cfg.
    pub config: Option<&'a Path>,
    /// The modules built in (grub-mkimage adds what they depend on).
    pub modules: Vec<&'a str>,
}

/// Runs the pinned `grub-mkimage` for `spec`, writing the image to `out` and its output to
/// `log`. Errors: the module folder lacks `moddep.lst` (a broken cache), grub-mkimage fails.
pub fn mkimage(grub: &GrubFiles, spec: &ImageSpec, out: &Path, log: &Path) -> Result<()> {
    if !spec.modules_dir.join("moddep.lst").is_file() {
        return Err(Error::Invalid(format!(
            "GRUB modules are missing from {}; delete that cache folder and build again",
            spec.modules_dir.display()
        )));
    }
    let mut cmd = Command::new(&grub.mkimage);
    cmd.args(["-O", spec.format, "-d"])
        .arg(spec.modules_dir)
        .args(["-p", spec.prefix]);
    if let Some(config) = spec.config {
        cmd.arg("-c").arg(config);
    }
    cmd.arg("-o").arg(out).args(&spec.modules);
    runner::run_logged(&format!("grub-mkimage -O {}", spec.format), &mut cmd, log)
}

/// The disk's GRUB for BIOS firmware: what goes in the protective MBR and the BIOS boot
/// partition.
#[derive(Debug, Clone)]
pub struct BiosImages {
    /// 440 bytes of MBR boot code, patched to load core.img from the BIOS boot partition.
    pub mbr_code: PathBuf,
    /// GRUB's BIOS core image, patched for the BIOS boot partition's first sector.
    pub core_img: PathBuf,
}

/// The disk's images (for the GPT disk and the installer), as [`disk_images`] makes them.
#[derive(Debug, Clone)]
pub struct DiskImages {
    /// GRUB for BIOS; None for a target without BIOS (arm64), whose disk's BIOS boot
    /// partition then stays empty.
    pub bios: Option<BiosImages>,
    /// GRUB's UEFI application, named as the target's removable-media file (`BOOTX64.EFI`,
    /// `BOOTAA64.EFI`).
    pub efi_app: PathBuf,
}

/// Bumped whenever the disk images' recipe changes.
const DISK_RECIPE: u32 = 1;

/// The disk's GRUB images for `ctx.target`, built once into the cache (keyed by the pinned
/// GRUB, the modules, the prefix and the BIOS boot partition's sector).
///
/// Errors: the pinned GRUB cannot be fetched; grub-mkimage fails; core.img does not fit the
/// BIOS boot partition.
pub fn disk_images(ctx: &Context) -> Result<DiskImages> {
    let grub = GrubFiles::pinned(ctx)?;
    let efi_name = ctx.target.efi_boot_file;
    let mut key = KeyBuilder::new("grub-disk", DISK_RECIPE);
    grub.key_into(&mut key)?;
    key.bytes("prefix", PREFIX.as_bytes())
        .bytes("common", COMMON_MODULES.join(" ").as_bytes())
        .bytes("bios", BIOS_MODULES.join(" ").as_bytes())
        .bytes("efi", efi_modules(grub.efi.0.format).join(" ").as_bytes())
        .bytes("efi-name", efi_name.as_bytes())
        .bytes("core-sector", &BIOS_BOOT_FIRST.to_le_bytes());
    let key = key.finish();
    let dir = match cache::lookup(ctx, "grub-disk", &key) {
        Some(dir) => dir,
        None => cache::publish(ctx, "grub-disk", &key, |tmp| {
            let log = ctx.cache_dir.join("logs/grub-disk.log");
            write_disk_images(&grub, tmp, efi_name, &log)
        })?,
    };
    Ok(DiskImages {
        bios: grub.bios.is_some().then(|| BiosImages {
            mbr_code: dir.join("mbr-code.bin"),
            core_img: dir.join("core.img"),
        }),
        efi_app: dir.join(efi_name),
    })
}

/// The disk's image of `platform`: the common modules and `extra`, prefix [`PREFIX`].
fn disk_spec<'a>(platform: &'a (GrubPlatform, PathBuf), extra: &[&'a str]) -> ImageSpec<'a> {
    let mut modules = COMMON_MODULES.to_vec();
    modules.extend_from_slice(extra);
    ImageSpec {
        format: platform.0.format,
        modules_dir: platform.1.as_path(),
        prefix: PREFIX,
        config: None,
        modules,
    }
}

/// Writes `efi_name` into `dir`, and `mbr-code.bin` and `core.img` when `grub` has BIOS.
fn write_disk_images(grub: &GrubFiles, dir: &Path, efi_name: &str, log: &Path) -> Result<()> {
    if grub.bios.is_some() {
        write_bios_images(grub, dir, log)?;
    }
    mkimage(
        grub,
        &disk_spec(&grub.efi, &efi_modules(grub.efi.0.format)),
        &dir.join(efi_name),
        log,
    )
}

/// Writes `mbr-code.bin` and `core.img` into `dir`. Errors: `grub` has no BIOS platform.
fn write_bios_images(grub: &GrubFiles, dir: &Path, log: &Path) -> Result<()> {
    let core_raw = dir.join("core.raw.img");
    mkimage(grub, &disk_spec(grub.bios()?, BIOS_MODULES), &core_raw, log)?;
    let mut core = fs::read(&core_raw).ctx(|| format!("reading {}", core_raw.display()))?;
    let sectors = patch_core_img(&mut core, BIOS_BOOT_FIRST)?;
    if sectors > BIOS_BOOT_SECTORS {
        return Err(Error::Invalid(format!(
            "GRUB core.img needs {sectors} sectors, the BIOS boot partition has {BIOS_BOOT_SECTORS}"
        )));
    }
    let boot_img_path = grub.boot_img()?;
    let boot_img =
        fs::read(&boot_img_path).ctx(|| format!("reading {}", boot_img_path.display()))?;
    // A GPT protective MBR has nothing in the BIOS parameter block area.
    let mbr_code = patch_boot_img(&boot_img, &[0u8; 512], BIOS_BOOT_FIRST)?;
    fs::write(dir.join("core.img"), &core).ctx(|| "writing core.img")?;
    fs::write(dir.join("mbr-code.bin"), &mbr_code).ctx(|| "writing mbr-code.bin")?;
    fs::remove_file(&core_raw).ctx(|| format!("removing {}", core_raw.display()))
}

/// Returns the 440 bytes of MBR boot code: GRUB's boot.img patched to load core.img from
/// `core_sector`, keeping the BIOS parameter block area of `current_mbr` (zeros on a GPT
/// protective MBR).
pub fn patch_boot_img(boot_img: &[u8], current_mbr: &[u8], core_sector: u64) -> Result<Vec<u8>> {
    if boot_img.len() != 512 || current_mbr.len() < 512 {
        return Err(Error::Invalid(format!(
            "GRUB boot.img must be 512 bytes (got {}); reinstall grub-pc-bin",
            boot_img.len()
        )));
    }
    let mut code = boot_img[..MBR_CODE_BYTES].to_vec();
    code[BPB_START..BPB_END].copy_from_slice(&current_mbr[BPB_START..BPB_END]);
    code[KERNEL_SECTOR_OFFSET..KERNEL_SECTOR_OFFSET + 8]
        .copy_from_slice(&core_sector.to_le_bytes());
    code[BOOT_DRIVE_OFFSET] = 0xff;
    code[DRIVE_CHECK_OFFSET] = 0x90;
    code[DRIVE_CHECK_OFFSET + 1] = 0x90;
    Ok(code)
}

/// Patches core.img (in place) for embedding at `core_sector`: its first block list entry
/// covers every following sector, and the older entries are cleared. Returns the number of
/// sectors core.img takes.
pub fn patch_core_img(core: &mut Vec<u8>, core_sector: u64) -> Result<u64> {
    if core.len() < 1024 {
        return Err(Error::Invalid(format!(
            "GRUB core.img is only {} bytes; grub-mkimage failed",
            core.len()
        )));
    }
    let sectors = core.len().div_ceil(512);
    core.resize(sectors * 512, 0);
    if sectors - 1 > u16::MAX as usize {
        return Err(Error::Invalid("GRUB core.img is too large".into()));
    }
    // Clear the block list (entries grow downwards from the end of the first sector and end
    // at an entry whose length is 0).
    let mut entry = 512 - 12;
    loop {
        let len = u16::from_le_bytes([core[entry + 8], core[entry + 9]]);
        core[entry..entry + 12].fill(0);
        if len == 0 || entry < 12 {
            break;
        }
        entry -= 12;
    }
    let first = 512 - 12;
    core[first..first + 8].copy_from_slice(&(core_sector + 1).to_le_bytes());
    core[first + 8..first + 10].copy_from_slice(&((sectors - 1) as u16).to_le_bytes());
    core[first + 10..first + 12].copy_from_slice(&CORE_SEGMENT.to_le_bytes());
    Ok(sectors as u64)
}

/// The least memory TiniLinux boots in with BIOS, in MiB: the ISO's `min_mib_bios`
/// (`distro-build/grub.cfg`; the installed system needs no more).
pub const MIN_MIB_BIOS: u32 = 32;
/// The least memory TiniLinux boots in with UEFI, in MiB: the ISO's `min_mib_uefi`.
pub const MIN_MIB_UEFI: u32 = 64;

/// The grub.cfg on the root partition for `target`: serial and screen consoles, one entry
/// booting /boot/vmlinuz with the early-boot initramfs, `root=UUID=<root_uuid>` and the
/// target's serial console. On a target without BIOS (arm64) GRUB keeps the firmware's
/// console, which UEFI on those machines already puts on the serial port (GRUB's own
/// `serial` would open the same port a second time). When GRUB cannot load or start them,
/// or SMBIOS says the machine has less than the minimum, it prints the minimum in one line
/// and stops,
/// rather than starting a kernel without its initramfs.
pub fn grub_cfg(root_uuid: &str, timeout_s: u32, target: &crate::target::Target) -> String {
    let (terminals, consoles) = match target.grub_bios {
        Some(_) => (
            "serial --unit=0 --speed=115200\n\
             terminal_input serial console\n\
             terminal_output serial console\n",
            format!("console=tty0 console={}", target.serial_console),
        ),
        None => ("", format!("console={}", target.serial_console)),
    };
    // The SMBIOS memory check (the minimums are measured on PCs): AAVMF on arm64 has no
    // type 19 structure, and GRUB prints "error:" for the failed lookup before every boot.
    let memory_check = match target.grub_bios {
        Some(_) => format!(
            "# The machine's memory from SMBIOS (type 19: the last KiB mapped); no SMBIOS, no check.\n\
             set mem_last_kib=\n\
             if smbios --type 19 --get-dword 8 --set mem_last_kib; then\n\
             \tif [ \"$grub_platform\" = efi ]; then set min_last_kib={uefi_last}; else set min_last_kib={bios_last}; fi\n\
             \tif [ -n \"$mem_last_kib\" ]; then\n\
             \t\tif [ \"$mem_last_kib\" -lt \"$min_last_kib\" ]; then too_little_memory; fi\n\
             \tfi\n\
             fi\n",
            uefi_last = MIN_MIB_UEFI * 1024 - 1,
            bios_last = MIN_MIB_BIOS * 1024 - 1,
        ),
        None => String::new(),
    };
    format!(
        "# TiniLinux on a hard drive — written by distro-build disk / tinilinux-install.\n\
         # GRUB found this file at (,gpt3)/boot/grub: partition 3 of the disk it booted from.\n\
         {terminals}\
         set timeout={timeout_s}\n\
         set default=0\n\
         if [ \"$grub_platform\" = \"efi\" ]; then insmod all_video; fi\n\
         function too_little_memory {{\n\
         \tif [ \"$grub_platform\" = efi ]; then\n\
         \t\techo \"TiniLinux needs at least {MIN_MIB_UEFI} MiB of memory with UEFI (BIOS: {MIN_MIB_BIOS} MiB). Stopped.\"\n\
         \telse\n\
         \t\techo \"TiniLinux needs at least {MIN_MIB_BIOS} MiB of memory with BIOS (UEFI: {MIN_MIB_UEFI} MiB). Stopped.\"\n\
         \tfi\n\
         \twhile [ 1 = 1 ]; do sleep 3600; done\n\
         }}\n\
         {memory_check}\
         menuentry \"TiniLinux\" {{\n\
         \tif linux /boot/vmlinuz root=UUID={root_uuid} {consoles}; then\n\
         \t\tif initrd /boot/initrd.img; then\n\
         \t\t\tboot\n\
         \t\tfi\n\
         \tfi\n\
         \ttoo_little_memory\n\
         }}\n",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_img_patch_sets_core_sector_drive_and_nops() {
        let boot: Vec<u8> = (0..512).map(|i| (i % 251) as u8).collect();
        let mut mbr = vec![0u8; 512];
        mbr[0x10] = 0xaa;
        let code = patch_boot_img(&boot, &mbr, 2048).unwrap();
        assert_eq!(code.len(), 440);
        assert_eq!(&code[0..3], &boot[0..3]);
        assert_eq!(code[0x10], 0xaa, "the BPB area comes from the current MBR");
        assert_eq!(
            u64::from_le_bytes(code[0x5c..0x64].try_into().unwrap()),
            2048
        );
        assert_eq!(code[0x64], 0xff);
        assert_eq!(&code[0x66..0x68], &[0x90, 0x90]);
        assert_eq!(&code[0x68..440], &boot[0x68..440]);
    }

    #[test]
    fn core_patch_writes_one_block_list_entry() {
        let mut core = vec![0u8; 3000];
        // An old entry as grub-mkimage leaves it: length set, start 0.
        core[512 - 12 + 8] = 5;
        core[512 - 24 + 8] = 7;
        let sectors = patch_core_img(&mut core, 2048).unwrap();
        assert_eq!(sectors, 6);
        assert_eq!(core.len(), 3072);
        let e = &core[500..512];
        assert_eq!(u64::from_le_bytes(e[0..8].try_into().unwrap()), 2049);
        assert_eq!(u16::from_le_bytes([e[8], e[9]]), 5);
        assert_eq!(u16::from_le_bytes([e[10], e[11]]), 0x820);
        assert!(core[488..500].iter().all(|b| *b == 0), "terminator entry");
    }

    #[test]
    fn grub_cfg_names_root_by_uuid_with_both_consoles() {
        let cfg = grub_cfg("1234-uuid", 1, &crate::target::Target::X86_64);
        assert!(cfg.contains("root=UUID=1234-uuid"));
        assert!(cfg.contains("console=tty0 console=ttyS0,115200;"));
        assert!(cfg.contains("terminal_output serial console"));
        assert!(cfg.contains("initrd /boot/initrd.img"));
    }

    #[test]
    fn uga_video_only_on_x86_efi() {
        assert!(efi_modules("x86_64-efi").contains(&"efi_uga"));
        let arm = efi_modules("arm64-efi");
        assert!(
            !arm.contains(&"efi_uga") && arm.contains(&"efi_gop"),
            "{arm:?}"
        );
    }

    #[test]
    fn arm64_grub_cfg_keeps_the_firmware_console_and_names_the_pl011() {
        let cfg = grub_cfg("1234-uuid", 1, &crate::target::Target::ARM64);
        assert!(
            cfg.contains("root=UUID=1234-uuid console=ttyAMA0;"),
            "{cfg}"
        );
        assert!(
            !cfg.contains("serial --unit") && !cfg.contains("ttyS0"),
            "{cfg}"
        );
    }

    /// The disk's GRUB names the same minimums as the ISO's grub.cfg.
    #[test]
    fn grub_cfg_states_the_iso_minimums() {
        let iso_cfg = include_str!("../../grub.cfg");
        assert!(iso_cfg.contains(&format!("set min_mib_bios={MIN_MIB_BIOS}\n")));
        assert!(iso_cfg.contains(&format!("set min_mib_uefi={MIN_MIB_UEFI}\n")));
        let cfg = grub_cfg("1234-uuid", 1, &crate::target::Target::X86_64);
        assert!(cfg.contains(&format!(
            "at least {MIN_MIB_BIOS} MiB of memory with BIOS (UEFI: {MIN_MIB_UEFI} MiB)"
        )));
        // The SMBIOS check compares the last KiB of memory with the same minimums.
        let bios_last = MIN_MIB_BIOS * 1024 - 1;
        let uefi_last = MIN_MIB_UEFI * 1024 - 1;
        assert!(
            cfg.contains(&format!("set min_last_kib={bios_last}")),
            "{cfg}"
        );
        assert!(
            cfg.contains(&format!("set min_last_kib={uefi_last}")),
            "{cfg}"
        );
        assert!(iso_cfg.contains(&format!("set min_last_kib_bios={bios_last}\n")));
        assert!(iso_cfg.contains(&format!("set min_last_kib_uefi={uefi_last}\n")));
    }
}
