//! The partition layout of a TiniLinux disk: where the BIOS boot partition, the EFI system
//! partition and the ext4 root start and end, in 512-byte sectors, and the identifiers
//! (disk GUID, partition GUIDs, file-system UUIDs) derived reproducibly from a seed.
//!
//! It only computes numbers; it writes nothing. The installer script on the live system
//! (`rootfs-disk/installer/tinilinux-install`) uses the same fixed starts, so a change here
//! must be mirrored there (the unit tests in `disk::tests` check both agree).

use sha2::{Digest, Sha256};

use crate::target::PartitionTypes;

/// Bytes per sector on every disk TiniLinux writes.
pub const SECTOR: u64 = 512;
/// One mebibyte in sectors (the partition alignment).
pub const MIB_SECTORS: u64 = 1024 * 1024 / SECTOR;
/// First sector of the BIOS boot partition (GRUB's core.img lives here).
pub const BIOS_BOOT_FIRST: u64 = MIB_SECTORS;
/// Size of the BIOS boot partition in sectors (1 MiB).
pub const BIOS_BOOT_SECTORS: u64 = MIB_SECTORS;
/// GPT type of the BIOS boot partition (`EF02`, "Hah!IdontNeedEFI"; the same everywhere).
pub const BIOS_BOOT_TYPE: &str = "21686148-6449-6E6F-744E-656564454649";
/// First sector of the EFI system partition.
pub const ESP_FIRST: u64 = BIOS_BOOT_FIRST + BIOS_BOOT_SECTORS;
/// Size of the EFI system partition in sectors (64 MiB: comfortably above FAT32's minimum
/// cluster count with 512-byte clusters).
pub const ESP_SECTORS: u64 = 64 * MIB_SECTORS;
/// First sector of the ext4 root partition.
pub const ROOT_FIRST: u64 = ESP_FIRST + ESP_SECTORS;
/// Sectors the backup GPT (header + 128 entries) takes at the end of the disk, plus the
/// primary copy's 34 at the start.
pub const GPT_TAIL_SECTORS: u64 = 33;
/// The smallest root partition a TiniLinux disk may have, in MiB.
pub const MIN_ROOT_MIB: u64 = 64;

/// One GPT partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// 1-based partition number (as in /dev/vda1).
    pub number: u32,
    /// First sector.
    pub first: u64,
    /// Last sector (inclusive).
    pub last: u64,
    /// GPT partition type GUID (BIOS boot, EFI system, the target's Linux root: see
    /// [`crate::target::PartitionTypes`]), as `sgdisk --typecode` takes it.
    pub type_guid: &'static str,
    /// GPT partition name.
    pub name: &'static str,
    /// Unique partition GUID.
    pub guid: String,
}

impl Partition {
    /// Size in sectors.
    pub fn sectors(&self) -> u64 {
        self.last - self.first + 1
    }

    /// Byte offset of the first sector.
    pub fn offset_bytes(&self) -> u64 {
        self.first * SECTOR
    }

    /// Size in bytes.
    pub fn size_bytes(&self) -> u64 {
        self.sectors() * SECTOR
    }
}

/// The whole disk: size, GUID, three partitions and the root file system's UUID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Disk size in sectors.
    pub disk_sectors: u64,
    /// GPT disk GUID.
    pub disk_guid: String,
    /// Partition 1: BIOS boot (GRUB core.img).
    pub bios_boot: Partition,
    /// Partition 2: EFI system partition (FAT32, \EFI\BOOT\BOOTX64.EFI).
    pub esp: Partition,
    /// Partition 3: the ext4 root.
    pub root: Partition,
    /// UUID of the ext4 root file system (what `root=UUID=` names).
    pub root_fs_uuid: String,
    /// FAT volume id of the ESP (8 hex digits).
    pub esp_volume_id: String,
}

/// Why a layout cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a TiniLinux disk needs at least {min_mib} MiB, {size_mib} MiB was asked for")]
pub struct TooSmall {
    /// The size asked for, in MiB.
    pub size_mib: u64,
    /// The minimum, in MiB.
    pub min_mib: u64,
}

/// The minimum disk size in MiB (boot partitions, a 64 MiB root and the GPT tail).
pub fn min_disk_mib() -> u64 {
    ROOT_FIRST / MIB_SECTORS + MIN_ROOT_MIB + 1
}

/// The file `tinilinux-install` sources from its payload (`usr/lib/tinilinux/boot/layout.env`):
/// the partition starts and sizes in 512-byte sectors, `target`'s GPT type GUIDs and
/// removable-media EFI file name (`BOOTX64.EFI`), whether GRUB for BIOS is installed
/// (`BIOS_GRUB=1`; 0 on arm64, whose BIOS boot partition stays empty) and the serial
/// console's device (`SERIAL=ttyS0`), as POSIX shell assignments. Generated from the same
/// constants as [`Layout::new`], so the script and the disk image cannot disagree, and a
/// second architecture needs no script change.
pub fn installer_env(target: &crate::target::Target) -> String {
    let types = &target.partition_types;
    format!(
        "# Written by distro-build: the disk layout tinilinux-install writes (512-byte sectors).\n\
         BIOS_BOOT_START={BIOS_BOOT_FIRST}\nBIOS_BOOT_SIZE={BIOS_BOOT_SECTORS}\n\
         BIOS_BOOT_TYPE={BIOS_BOOT_TYPE}\n\
         ESP_START={ESP_FIRST}\nESP_SIZE={ESP_SECTORS}\nESP_TYPE={esp}\n\
         ROOT_START={ROOT_FIRST}\nROOT_TYPE={root}\n\
         EFI_BOOT_FILE={efi_boot_file}\nBIOS_GRUB={bios}\nSERIAL={serial}\n",
        efi_boot_file = target.efi_boot_file,
        bios = u8::from(target.grub_bios.is_some()),
        serial = target.serial_device(),
        esp = types.esp,
        root = types.root,
    )
}

/// A UUID-formatted identifier derived from `seed` and `what` (same inputs, same id).
pub fn derived_uuid(seed: &str, what: &str) -> String {
    let digest = Sha256::digest(format!("tinilinux-disk:{seed}:{what}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    // RFC 4122 version 4 / variant 1 bits, so tools accept it as a random UUID.
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

impl Layout {
    /// The layout of a disk of `size_mib` MiB with the ESP and root typed as `types` says;
    /// identifiers derived from `seed`.
    pub fn new(size_mib: u64, seed: &str, types: &PartitionTypes) -> Result<Layout, TooSmall> {
        if size_mib < min_disk_mib() {
            return Err(TooSmall {
                size_mib,
                min_mib: min_disk_mib(),
            });
        }
        let disk_sectors = size_mib * MIB_SECTORS;
        let last_usable = disk_sectors - GPT_TAIL_SECTORS - 1;
        // End the root on a MiB boundary so its size is a whole number of 4 KiB blocks.
        let root_last = (last_usable + 1) / MIB_SECTORS * MIB_SECTORS - 1;
        let part = |number, first, last, type_guid, name: &'static str| Partition {
            number,
            first,
            last,
            type_guid,
            name,
            guid: derived_uuid(seed, name),
        };
        let volume = derived_uuid(seed, "esp-volume-id");
        Ok(Layout {
            disk_sectors,
            disk_guid: derived_uuid(seed, "disk"),
            bios_boot: part(
                1,
                BIOS_BOOT_FIRST,
                BIOS_BOOT_FIRST + BIOS_BOOT_SECTORS - 1,
                BIOS_BOOT_TYPE,
                "BIOS boot",
            ),
            esp: part(
                2,
                ESP_FIRST,
                ESP_FIRST + ESP_SECTORS - 1,
                types.esp,
                "EFI system",
            ),
            root: part(3, ROOT_FIRST, root_last, types.root, "TiniLinux root"),
            root_fs_uuid: derived_uuid(seed, "root-fs"),
            esp_volume_id: volume[..8].to_string(),
        })
    }

    /// The three partitions in order.
    pub fn partitions(&self) -> [&Partition; 3] {
        [&self.bios_boot, &self.esp, &self.root]
    }

    /// Disk size in bytes.
    pub fn disk_bytes(&self) -> u64 {
        self.disk_sectors * SECTOR
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TYPES: PartitionTypes = crate::target::Target::X86_64.partition_types;

    #[test]
    fn partitions_are_aligned_ordered_and_inside_the_disk() {
        let l = Layout::new(1024, "t", &TYPES).unwrap();
        assert_eq!(l.bios_boot.first, 2048);
        assert_eq!(l.esp.first, 4096);
        assert_eq!(l.root.first, 135168);
        for p in l.partitions() {
            assert_eq!(p.first % MIB_SECTORS, 0, "partition {} unaligned", p.number);
            assert!(p.last >= p.first);
        }
        assert!(l.bios_boot.last < l.esp.first && l.esp.last < l.root.first);
        assert!(l.root.last < l.disk_sectors - GPT_TAIL_SECTORS);
        assert_eq!((l.root.last + 1) % MIB_SECTORS, 0);
        assert_eq!(l.esp.size_bytes(), 64 << 20);
    }

    #[test]
    fn too_small_disks_are_refused() {
        let err = Layout::new(100, "t", &TYPES).unwrap_err();
        assert_eq!(err.min_mib, min_disk_mib());
        assert!(err.to_string().contains("at least"));
        assert!(Layout::new(min_disk_mib(), "t", &TYPES).is_ok());
    }

    #[test]
    fn identifiers_are_reproducible_and_distinct() {
        let a = Layout::new(512, "seed", &TYPES).unwrap();
        let b = Layout::new(512, "seed", &TYPES).unwrap();
        let c = Layout::new(512, "other", &TYPES).unwrap();
        assert_eq!(a, b);
        assert_ne!(a.root_fs_uuid, c.root_fs_uuid);
        assert_ne!(a.root.guid, a.esp.guid);
        assert_eq!(a.root_fs_uuid.len(), 36);
        assert_eq!(&a.root_fs_uuid[14..15], "4");
    }
}
