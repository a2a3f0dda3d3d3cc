//! The ISO stage: bzImage + initramfs + `distro-build/grub.cfg` → a hybrid BIOS + UEFI ISO
//! made with `grub-mkimage` and `xorriso` directly (not grub-mkrescue, whose fixed 2.88 MB
//! efi.img, module folders and time-based UUID made the ISO big and not reproducible).
//! Cached by its inputs; published to `out/tinilinux.iso` through a temporary name.
//! It builds neither the kernel nor the initramfs.
//!
//! The layout, for the four ways a PC starts it:
//! - BIOS from a CD: El Torito entry `boot/grub/eltorito.img` (GRUB `i386-pc-eltorito`).
//! - BIOS from a USB stick: GRUB's `boot_hybrid.img` as MBR code, patched by xorriso to load
//!   the same El Torito image (`--grub2-mbr`, `--grub2-boot-info`).
//! - UEFI from a CD: an El Torito EFI entry pointing at a small FAT image holding
//!   `\EFI\BOOT\BOOTX64.EFI` (GRUB `x86_64-efi`), sized to fit it.
//! - UEFI from a USB stick: the same FAT image appended as a GPT EFI system partition.
//!
//! Both GRUB images have every module built in (so the ISO carries no module folders) and an
//! embedded early config that finds the medium by a marker file, `/boot/tinilinux.id`, then
//! reads `/boot/grub/grub.cfg` from it: no UUID, so nothing depends on when it was built.
//! Every date (files, volume, GPT GUIDs, FAT) comes from SOURCE_DATE_EPOCH, so two builds
//! from the same inputs give the same bytes.
//!
//! A target without BIOS (arm64) gets a UEFI-only ISO: the last two ways only, with GRUB's
//! `arm64-efi` image as `\EFI\BOOT\BOOTAA64.EFI` from Debian's pinned grub-efi-arm64-bin,
//! and its own menu (`distro-build/grub-arm64.cfg`). GRUB rather than the kernel's EFI stub as
//! BOOTAA64.EFI: the stub would need the kernel uncompressed in the FAT image (arm64 kernels
//! do not decompress themselves; the 6.1 EFI zboot wrapper is new and unknown to this GRUB),
//! its command line built in and the initramfs beside it, while GRUB unpacks `Image.xz` with
//! its `xzio` filter (0.7 MB less than the kernel's own `Image.gz`), keeps the one menu (timeout, kernel arguments a user edits at boot) the
//! PC media have, and is built by the same `grub-mkimage` call from the same pinned GRUB
//! version. It carries the disk installer's payload like the PC media (GRUB for UEFI only,
//! disk tools cross-built for arm64: [`crate::disk::disktools`]).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::boot::esp::{self, Esp};
use crate::boot::grub::{mkimage, GrubFiles, ImageSpec};
use crate::cache::{self, KeyBuilder};
use crate::context::Context;
use crate::epoch::Epoch;
use crate::error::{IoContext, Result};
use crate::runner::{run_logged, Stage};

/// Bumped whenever the ISO layout or the tools' options change.
const RECIPE: u32 = 4;

/// The GRUB modules built into both images: what grub.cfg uses (serial console, the menu,
/// the Linux loader, `sleep` to stop on the too-little-memory message, `smbios` to read the
/// machine's memory size) plus what finds the
/// medium (ISO 9660, partition tables, search by file). They must exist for both platforms
/// (i386-pc and x86_64-efi).
pub const GRUB_MODULES: &str =
    "normal linux iso9660 part_msdos part_gpt search search_fs_file serial terminal test echo sleep smbios";
/// BIOS-only module: disk access through the BIOS.
const BIOS_MODULES: &str = "biosdisk";
/// UEFI-only module: the GOP framebuffer driver, so `linux` can hand the screen over to the
/// kernel (without a video driver GRUB prints "error: no suitable video mode found").
const EFI_MODULES: &str = "efi_gop";

/// The marker file GRUB searches for to find the live medium.
pub const MARKER: &str = "boot/tinilinux.id";
/// The ISO 9660 volume id (also the label a user sees).
pub const VOLUME_ID: &str = "TINILINUX";

/// The config built into both GRUB images: find the medium by its marker, then the normal
/// mode reads `$prefix/grub.cfg` from it.
pub fn early_config() -> String {
    format!("search --no-floppy --set=root --file /{MARKER}\nset prefix=($root)/boot/grub\n")
}

/// The menu file in the repository (the target's: [`crate::target::Target::grub_cfg`]).
pub fn grub_cfg_path(ctx: &Context) -> PathBuf {
    ctx.repo_root.join(ctx.target.grub_cfg)
}

/// The UEFI image's modules for `ctx`'s target: [`EFI_MODULES`], and `xzio` where the kernel
/// is an xz file GRUB unpacks (`Image.xz`).
pub fn efi_modules(ctx: &Context) -> String {
    match ctx.target.kernel_xz {
        true => format!("{EFI_MODULES} xzio"),
        false => EFI_MODULES.to_string(),
    }
}

/// The final ISO path, `out/tinilinux.iso` (`out/<target>/tinilinux.iso` for another target).
pub fn iso_path(ctx: &Context) -> PathBuf {
    ctx.out_dir.join("tinilinux.iso")
}

/// Builds (or takes from the cache) the ISO and publishes it at [`iso_path`]. `installer` is
/// None where the target has no disk installer ([`crate::target::Target::has_disk`]).
pub fn build(
    ctx: &Context,
    bzimage: &Path,
    initramfs: &Path,
    installer: Option<&Path>,
) -> Result<PathBuf> {
    let what = match ctx.target.grub_bios {
        Some(_) => "grub-mkimage + xorriso: hybrid BIOS + UEFI ISO",
        None => "grub-mkimage + xorriso: UEFI ISO",
    };
    let stage = Stage::start("iso", what);
    let grub_cfg = grub_cfg_path(ctx);
    let grub = GrubFiles::pinned(ctx)?;
    let efi_modules = efi_modules(ctx);
    let mut key = KeyBuilder::new("iso", RECIPE);
    key.file("bzImage", bzimage)?.file("initramfs", initramfs)?;
    if let Some(installer) = installer {
        key.file("installer", installer)?;
    }
    key.file("grub.cfg", &grub_cfg)?
        .bytes("modules", GRUB_MODULES.as_bytes())
        .bytes("bios-modules", BIOS_MODULES.as_bytes())
        .bytes("efi-modules", efi_modules.as_bytes())
        .bytes("early", early_config().as_bytes())
        .bytes("epoch", &ctx.epoch.key_bytes());
    // Another pinned GRUB or a rebuilt module changes the images: rebuild then.
    grub.key_into(&mut key)?;
    let key = key.finish();
    let dir = match cache::lookup(ctx, "iso", &key) {
        Some(dir) => {
            stage.note(&format!("cached ({key})"));
            dir
        }
        None => cache::publish(ctx, "iso", &key, |tmp| {
            let log = ctx.log_path("iso");
            let _ = fs::remove_file(&log);
            write_iso(
                &Inputs {
                    bzimage,
                    initramfs,
                    installer,
                    grub_cfg: &grub_cfg,
                    grub: &grub,
                    efi_boot_file: ctx.target.efi_boot_file,
                    efi_modules: &efi_modules,
                    epoch: ctx.epoch,
                },
                tmp,
                &log,
            )
            .map(|_| ())
        })?,
    };
    let out = iso_path(ctx);
    fs::create_dir_all(&ctx.out_dir).ctx(|| format!("creating {}", ctx.out_dir.display()))?;
    cache::copy_atomic(&dir.join("tinilinux.iso"), &out)?;
    let size = fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    stage.done(&format!(
        "{} ({:.2} MiB)",
        out.display(),
        size as f64 / (1024.0 * 1024.0)
    ));
    Ok(out)
}

/// What goes on the ISO.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The kernel, copied to /boot/ under its file name (`bzImage`, `Image.gz`).
    pub bzimage: &'a Path,
    /// The initramfs, copied to /boot/initramfs.img.
    pub initramfs: &'a Path,
    /// The disk installer's payload, copied to [`crate::disk::PAYLOAD_ON_MEDIUM`] (GRUB does
    /// not load it: `tinilinux-install` reads it from the medium); None: no installer.
    pub installer: Option<&'a Path>,
    /// The GRUB menu, copied to /boot/grub/grub.cfg.
    pub grub_cfg: &'a Path,
    /// The pinned GRUB (grub-mkimage and module folders).
    pub grub: &'a GrubFiles,
    /// The removable-media file name under \EFI\BOOT\ (`BOOTX64.EFI`).
    pub efi_boot_file: &'a str,
    /// The UEFI image's modules beside [`GRUB_MODULES`] ([`efi_modules`]).
    pub efi_modules: &'a str,
    /// SOURCE_DATE_EPOCH: every date on the ISO.
    pub epoch: Epoch,
}

/// A GRUB image of the ISO: [`GRUB_MODULES`] and `extra` built in, `early` embedded, prefix
/// /boot/grub on the medium.
fn spec<'a>(
    format: &'a str,
    modules_dir: &'a Path,
    early: &'a Path,
    extra: &'a str,
) -> ImageSpec<'a> {
    ImageSpec {
        format,
        modules_dir,
        prefix: "/boot/grub",
        config: Some(early),
        modules: GRUB_MODULES
            .split_whitespace()
            .chain(extra.split_whitespace())
            .collect(),
    }
}

/// Writes `work/tinilinux.iso` from `inputs`, using `work` for the staging tree and the
/// GRUB images (removed afterwards) and appending tool output to `log`. Returns the ISO path.
/// It does not use the cache: [`build`] does.
pub fn write_iso(inputs: &Inputs, work: &Path, log: &Path) -> Result<PathBuf> {
    let epoch = inputs.epoch.nonzero();
    let root = work.join("root");
    let grub_dir = root.join("boot/grub");
    fs::create_dir_all(&grub_dir).ctx(|| format!("creating {}", grub_dir.display()))?;
    let copy = |from: &Path, to: PathBuf| -> Result<()> {
        fs::copy(from, &to)
            .map(|_| ())
            .ctx(|| format!("copying {} to {}", from.display(), to.display()))
    };
    let kernel_name = inputs
        .bzimage
        .file_name()
        .ok_or_else(|| crate::error::Error::Invalid("the kernel path has no file name".into()))?;
    copy(inputs.bzimage, root.join("boot").join(kernel_name))?;
    copy(inputs.initramfs, root.join("boot/initramfs.img"))?;
    if let Some(installer) = inputs.installer {
        copy(installer, root.join(crate::disk::PAYLOAD_ON_MEDIUM))?;
    }
    copy(inputs.grub_cfg, grub_dir.join("grub.cfg"))?;
    fs::write(
        root.join(MARKER),
        "TiniLinux live medium: GRUB finds the medium by this file.\n",
    )
    .ctx(|| format!("writing {MARKER}"))?;

    let early = work.join("early.cfg");
    fs::write(&early, early_config()).ctx(|| "writing GRUB's early config")?;
    if let Some((bios, bios_dir)) = &inputs.grub.bios {
        let eltorito_format = bios.cdrom_format.unwrap_or(bios.format);
        let eltorito = spec(eltorito_format, bios_dir, &early, BIOS_MODULES);
        mkimage(inputs.grub, &eltorito, &grub_dir.join("eltorito.img"), log)?;
    }
    let efi_app = work.join(inputs.efi_boot_file);
    let (efi, efi_dir) = &inputs.grub.efi;
    let efi_spec = spec(efi.format, efi_dir, &early, inputs.efi_modules);
    mkimage(inputs.grub, &efi_spec, &efi_app, log)?;
    let efi_img = work.join("efi.img");
    let app_len = fs::metadata(&efi_app)
        .ctx(|| format!("reading {}", efi_app.display()))?
        .len();
    // The El Torito EFI image and the appended GPT ESP: FAT12 just big enough for GRUB.
    let efi_image = Esp {
        size_bytes: esp::fitting_size(app_len),
        fat_bits: 12,
        cluster_sectors: None,
        label: "TINI-EFI".into(),
        volume_id: epoch.fat_volume_id(),
        files: vec![(
            format!("EFI/BOOT/{}", inputs.efi_boot_file),
            efi_app.clone(),
        )],
        epoch,
    };
    esp::write(&efi_img, &efi_image, log)?;

    set_mtimes(&root, epoch)?;
    let iso = work.join("tinilinux.iso");
    let mut xorriso = Command::new("xorriso");
    xorriso
        .args(["-as", "mkisofs", "-o"])
        .arg(&iso)
        .args(["-V", VOLUME_ID, "-r", "-graft-points"])
        // No 300 KiB of trailing zeros: the padding works around read-ahead bugs of old
        // kernels' CD drivers, and the ISO is meant to be small.
        .arg("-no-pad")
        .arg(format!("--modification-date={}", epoch.iso9660()));
    if let Some((_, bios_dir)) = &inputs.grub.bios {
        xorriso
            .arg("--grub2-mbr")
            .arg(bios_dir.join("boot_hybrid.img"))
            .args(["-partition_offset", "16", "--mbr-force-bootable"]);
    }
    xorriso
        .args(["-append_partition", "2", "0xef"])
        .arg(&efi_img)
        .arg("-appended_part_as_gpt")
        .args(["-c", "boot/boot.cat"]);
    if inputs.grub.bios.is_some() {
        xorriso
            .args(["-b", "boot/grub/eltorito.img", "-no-emul-boot"])
            .args([
                "-boot-load-size",
                "4",
                "-boot-info-table",
                "--grub2-boot-info",
            ])
            .arg("-eltorito-alt-boot");
    }
    xorriso
        .args(["-e", "--interval:appended_partition_2:all::"])
        .arg("-no-emul-boot")
        .arg(&root)
        .env("SOURCE_DATE_EPOCH", epoch.env_value());
    let what = match inputs.grub.bios {
        Some(_) => "xorriso (hybrid ISO)",
        None => "xorriso (UEFI ISO)",
    };
    run_logged(what, &mut xorriso, log)?;
    for scratch in [&efi_app, &efi_img, &early] {
        fs::remove_file(scratch).ctx(|| format!("removing {}", scratch.display()))?;
    }
    fs::remove_dir_all(&root).ctx(|| format!("removing {}", root.display()))?;
    Ok(iso)
}

/// Sets the modification time of `dir` and everything below it to `epoch`.
fn set_mtimes(dir: &Path, epoch: Epoch) -> Result<()> {
    let time = epoch.system_time();
    for entry in fs::read_dir(dir).ctx(|| format!("reading {}", dir.display()))? {
        let path = entry.ctx(|| format!("reading {}", dir.display()))?.path();
        if path.is_dir() {
            set_mtimes(&path, epoch)?;
        } else {
            set_mtime(&path, time)?;
        }
    }
    set_mtime(dir, time)
}

fn set_mtime(path: &Path, time: std::time::SystemTime) -> Result<()> {
    fs::File::open(path)
        .and_then(|f| f.set_modified(time))
        .ctx(|| format!("setting the date of {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
        let bz = dir.join("bzImage");
        let initrd = dir.join("initramfs.img");
        let cfg = dir.join("grub.cfg");
        fs::write(&bz, vec![0x5a; 300_000]).unwrap();
        fs::write(&initrd, b"070701 not really an archive").unwrap();
        fs::write(&cfg, "menuentry x { linux /boot/bzImage }\n").unwrap();
        fs::write(dir.join("installer"), b"installer payload").unwrap();
        (bz, initrd, cfg)
    }

    fn xorriso_report(iso: &Path, what: &str) -> String {
        let out = Command::new("xorriso")
            .args(["-indev"])
            .arg(iso)
            .args([what, "plain"])
            .output()
            .expect("xorriso must be installed (scripts/install-deps.sh)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Two builds from the same inputs, in different folders and at different times, give
    /// byte-identical ISOs, which carry both El Torito entries, the GPT ESP and the files.
    #[test]
    fn two_builds_are_byte_identical_and_hybrid() {
        let src = tempfile::tempdir().unwrap();
        let (bz, initrd, cfg) = inputs(src.path());
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let grub = GrubFiles::pinned(&Context::from_env(repo)).unwrap_or_else(|e| panic!("{e}"));
        let build = || {
            let work = tempfile::tempdir().unwrap();
            let log = work.path().join("iso.log");
            let iso = write_iso(
                &Inputs {
                    bzimage: &bz,
                    initramfs: &initrd,
                    installer: Some(&src.path().join("installer")),
                    grub_cfg: &cfg,
                    grub: &grub,
                    efi_boot_file: "BOOTX64.EFI",
                    efi_modules: EFI_MODULES,
                    epoch: Epoch::from_secs(1_700_000_000),
                },
                work.path(),
                &log,
            )
            .unwrap_or_else(|e| panic!("{e}"));
            let left: Vec<_> = fs::read_dir(work.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            assert!(
                left.iter().all(|n| n == "tinilinux.iso" || n == "iso.log"),
                "scratch files left: {left:?}"
            );
            (fs::read(&iso).unwrap(), work)
        };
        let (a, work) = build();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let (b, _) = build();
        assert!(a == b, "two ISOs from the same inputs differ");

        let iso = work.path().join("tinilinux.iso");
        let el_torito = xorriso_report(&iso, "-report_el_torito");
        assert!(el_torito.contains("BIOS"), "{el_torito}");
        assert!(el_torito.contains("UEFI"), "{el_torito}");
        let system_area = xorriso_report(&iso, "-report_system_area");
        assert!(system_area.contains("GPT"), "{system_area}");
        assert!(
            system_area.contains("C12A7328-F81F-11D2-BA4B-00A0C93EC93B")
                || system_area.to_lowercase().contains("efi system partition")
                || system_area.contains("28732ac11ff8d211ba4b00a0c93ec93b"),
            "no EFI system partition in the GPT:\n{system_area}"
        );
        let out = Command::new("xorriso")
            .args(["-indev"])
            .arg(&iso)
            .args(["-find", "/", "-type", "f"])
            .output()
            .unwrap();
        let files = String::from_utf8_lossy(&out.stdout);
        for f in [
            "/boot/bzImage",
            "/boot/initramfs.img",
            "/boot/grub/grub.cfg",
            "/boot/grub/eltorito.img",
            "/boot/tinilinux.id",
            "/boot/installer.cpio.xz",
        ] {
            assert!(files.contains(f), "{f} missing:\n{files}");
        }
        assert!(!files.contains("x86_64-efi/"), "module folders on the ISO");
    }
}
