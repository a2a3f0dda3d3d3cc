//! The EFI system partition image: FAT32 made by `mkfs.vfat` on an image file and filled
//! with mtools (`mmd`, `mcopy`), so no mount and no root are needed. It holds
//! \EFI\BOOT\BOOTX64.EFI (GRUB, which finds its grub.cfg on the root partition by itself)
//! a short \EFI\BOOT\grub.cfg that says so, for people who look, and \startup.nsh so a UEFI
//! shell (where OVMF lands when its saved boot entries miss this disk) starts GRUB.
//!
//! It owns only the image file it is asked to write.

use crate::epoch::Epoch;
use std::path::Path;
use std::process::Command;

use crate::error::{Error, Result};
use crate::runner;

/// The UEFI shell script on the ESP's root that starts GRUB, \EFI\BOOT\`boot_file` (see
/// [`write_image`]).
pub fn startup_nsh(boot_file: &str) -> String {
    format!("@echo -off\r\necho TiniLinux: starting GRUB from the EFI system partition\r\nfs0:\r\n\\EFI\\BOOT\\{boot_file}\r\n")
}

/// Makes `image` (`size_bytes` long) a FAT32 ESP with volume id `volume_id` holding
/// `efi_app` as \EFI\BOOT\`boot_file` (the target's removable-media name, `BOOTX64.EFI`).
pub fn write_image(
    image: &Path,
    size_bytes: u64,
    volume_id: &str,
    efi_app: &Path,
    boot_file: &str,
    scratch: &Path,
    epoch: Epoch,
) -> Result<()> {
    // FAT cannot store times before 1980; mtools maps SOURCE_DATE_EPOCH onto its range, and
    // `mkfs.vfat --invariant` fixes the label's time, so the same inputs give the same bytes.
    let epoch = epoch.nonzero().env_value();
    let file = std::fs::File::create(image)
        .map_err(|e| Error::io(format!("creating {}", image.display()), e))?;
    file.set_len(size_bytes)
        .map_err(|e| Error::io(format!("sizing {}", image.display()), e))?;
    drop(file);
    runner::run_tool(
        Command::new("mkfs.vfat")
            .arg("--invariant")
            .args([
                "-F", "32", "-S", "512", "-s", "1", "-n", "TINI-ESP", "-i", volume_id,
            ])
            .arg(image),
    )?;
    let note = scratch.join("grub.cfg");
    std::fs::write(
        &note,
        format!(
            "# TiniLinux: GRUB ({boot_file}) reads its real grub.cfg from /boot/grub on partition 3.\n\
             configfile (,gpt3)/boot/grub/grub.cfg\n"
        ),
    )
    .map_err(|e| Error::io("writing the ESP note", e))?;
    // Firmware whose saved boot entries do not include this disk (say, a VM that booted the
    // live ISO before) falls back to the UEFI shell, which runs startup.nsh from the first
    // FAT file system: there it starts GRUB.
    let startup = scratch.join("startup.nsh");
    std::fs::write(&startup, startup_nsh(boot_file))
        .map_err(|e| Error::io("writing startup.nsh", e))?;
    let target = format!("{}", image.display());
    for dir in ["::/EFI", "::/EFI/BOOT"] {
        runner::run_tool(
            Command::new("mmd")
                .env("MTOOLS_SKIP_CHECK", "1")
                .env("SOURCE_DATE_EPOCH", &epoch)
                .args(["-i", &target, dir]),
        )?;
    }
    runner::run_tool(
        Command::new("mcopy")
            .env("MTOOLS_SKIP_CHECK", "1")
            .env("SOURCE_DATE_EPOCH", &epoch)
            .args(["-i", &target])
            .arg(efi_app)
            .arg(format!("::/EFI/BOOT/{boot_file}")),
    )?;
    runner::run_tool(
        Command::new("mcopy")
            .env("MTOOLS_SKIP_CHECK", "1")
            .env("SOURCE_DATE_EPOCH", &epoch)
            .args(["-i", &target])
            .arg(&startup)
            .arg("::/startup.nsh"),
    )?;
    runner::run_tool(
        Command::new("mcopy")
            .env("MTOOLS_SKIP_CHECK", "1")
            .env("SOURCE_DATE_EPOCH", &epoch)
            .args(["-i", &target])
            .arg(&note)
            .arg("::/EFI/BOOT/grub.cfg"),
    )?;
    Ok(())
}
