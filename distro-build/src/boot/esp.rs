//! EFI system partition images, for both media: FAT made by `mkfs.vfat` on an image file and
//! filled with mtools (`mmd`, `mcopy`), so no mount and no root are needed. The ISO's is a
//! small FAT12 image holding only the GRUB application (its El Torito EFI entry and appended
//! GPT partition); the disk's is a FAT32 partition that also holds a note and a UEFI shell
//! script ([`startup_nsh`]). Both are written by [`write`] from an [`Esp`] description, with
//! every date from the build's [`Epoch`], so the same inputs give the same bytes.
//!
//! It owns only the image file it is asked to write.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::epoch::Epoch;
use crate::error::{IoContext, Result};
use crate::runner::run_logged;

/// The UEFI shell script on the ESP's root that starts GRUB, \EFI\BOOT\`boot_file`: firmware
/// whose saved boot entries miss the disk (say, a VM that booted the live ISO before) falls
/// back to the UEFI shell, which runs startup.nsh from the first FAT file system.
pub fn startup_nsh(boot_file: &str) -> String {
    format!("@echo -off\r\necho TiniLinux: starting GRUB from the EFI system partition\r\nfs0:\r\n\\EFI\\BOOT\\{boot_file}\r\n")
}

/// What an ESP image holds and how its FAT is made.
#[derive(Debug, Clone)]
pub struct Esp {
    /// The image size in bytes.
    pub size_bytes: u64,
    /// FAT type: 12, 16 or 32 (`mkfs.vfat -F`).
    pub fat_bits: u8,
    /// Sectors per cluster with 512-byte sectors (`-S 512 -s N`); mkfs.vfat's choice when
    /// None.
    pub cluster_sectors: Option<u8>,
    /// The volume label (`-n`, at most 11 characters).
    pub label: String,
    /// The volume id (`-i`, 8 hex digits).
    pub volume_id: String,
    /// Files as (path inside the FAT, e.g. `EFI/BOOT/BOOTX64.EFI`; host file), copied in this
    /// order; their folders are made first.
    pub files: Vec<(String, PathBuf)>,
    /// Every date in the FAT.
    pub epoch: Epoch,
}

/// The size of a FAT image holding `content_len` bytes of files: the files, the FAT
/// structures (a few KiB), rounded up to 64 KiB.
pub fn fitting_size(content_len: u64) -> u64 {
    const SLACK: u64 = 64 * 1024;
    (content_len + 2 * SLACK).div_ceil(SLACK) * SLACK
}

/// Writes `esp` as the FAT image `image` (created or truncated), appending the tools' output
/// to `log`. Errors: I/O naming the path; mkfs.vfat or mtools missing or failing.
pub fn write(image: &Path, esp: &Esp, log: &Path) -> Result<()> {
    // FAT cannot store times before 1980; mtools maps SOURCE_DATE_EPOCH onto its range, and
    // `mkfs.vfat --invariant` fixes the label's time, so the same inputs give the same bytes.
    let epoch = esp.epoch.nonzero().env_value();
    let file = fs::File::create(image).ctx(|| format!("creating {}", image.display()))?;
    file.set_len(esp.size_bytes)
        .ctx(|| format!("sizing {}", image.display()))?;
    drop(file);
    let mut mkfs = Command::new("mkfs.vfat");
    mkfs.args(["--invariant", "-F", &esp.fat_bits.to_string()]);
    if let Some(n) = esp.cluster_sectors {
        mkfs.args(["-S", "512", "-s", &n.to_string()]);
    }
    mkfs.args(["-n", &esp.label, "-i", &esp.volume_id])
        .arg(image);
    run_logged("mkfs.vfat (EFI system partition)", &mut mkfs, log)?;

    let target = image.display().to_string();
    let mtools = |tool: &str| {
        let mut cmd = Command::new(tool);
        cmd.env("MTOOLS_SKIP_CHECK", "1")
            .env("SOURCE_DATE_EPOCH", &epoch)
            .args(["-i", &target]);
        cmd
    };
    let mut dirs: Vec<String> = Vec::new();
    for (path, _) in &esp.files {
        let mut parent = Path::new(path).parent();
        let mut chain = Vec::new();
        while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
            chain.push(format!("::/{}", p.display()));
            parent = p.parent();
        }
        for dir in chain.into_iter().rev() {
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
    }
    if !dirs.is_empty() {
        run_logged("mmd (EFI system partition)", mtools("mmd").args(&dirs), log)?;
    }
    for (path, source) in &esp.files {
        run_logged(
            "mcopy (EFI system partition)",
            mtools("mcopy").arg(source).arg(format!("::/{path}")),
            log,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitting_size_leaves_room_for_the_fat() {
        let size = fitting_size(585_728);
        assert!(size >= 585_728 + 64 * 1024);
        assert_eq!(size % (64 * 1024), 0);
        assert!(size < 1024 * 1024, "{size}");
    }

    /// The files land at their paths, read back by mtools' own `mtype`.
    #[test]
    fn writes_files_into_their_folders() {
        let dir = tempfile::tempdir().unwrap();
        let app = dir.path().join("app");
        fs::write(&app, b"not really an EFI application").unwrap();
        let nsh = dir.path().join("startup.nsh");
        fs::write(&nsh, startup_nsh("BOOTX64.EFI")).unwrap();
        let image = dir.path().join("esp.img");
        let esp = Esp {
            size_bytes: fitting_size(64 * 1024),
            fat_bits: 12,
            cluster_sectors: None,
            label: "TEST-ESP".into(),
            volume_id: Epoch::from_secs(1_700_000_000).fat_volume_id(),
            files: vec![
                ("EFI/BOOT/BOOTX64.EFI".into(), app.clone()),
                ("startup.nsh".into(), nsh),
            ],
            epoch: Epoch::from_secs(1_700_000_000),
        };
        write(&image, &esp, &dir.path().join("log")).unwrap_or_else(|e| panic!("{e}"));
        let out = Command::new("mtype")
            .env("MTOOLS_SKIP_CHECK", "1")
            .arg("-i")
            .arg(&image)
            .arg("::/EFI/BOOT/BOOTX64.EFI")
            .output()
            .expect("mtools must be installed (scripts/install-deps.sh)");
        assert_eq!(out.stdout, fs::read(&app).unwrap());
    }
}
