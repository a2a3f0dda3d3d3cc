//! `distro-build disk`: TiniLinux installed on a hard drive, as a ready-to-boot disk image
//! (`out/tinilinux-disk.img`, and `out/tinilinux-disk.qcow2` when qemu-img exists), plus
//! the pieces the live system needs to install itself (`tinilinux-install`).
//!
//! Entry points for the rest of distro-build:
//! - [`build`]`(&ctx, kernel, &live_tree)` → `out/tinilinux-disk.img`: call it from
//!   `distro-build disk` and `distro-build all` with the bzImage and the live rootfs tree.
//! - [`add_installer_scripts`]`(&mut live_tree)`: puts `/usr/sbin/tinilinux-install` and the
//!   scripts it copies into the live rootfs; call it while assembling the live rootfs (before
//!   the initramfs/ISO and before [`build`]).
//! - [`installer_payload`]`(&ctx)`: the boot images the installer writes and the disk tools it
//!   runs, as a tree that goes onto the live medium at [`PAYLOAD_ON_MEDIUM`] (not into the
//!   initramfs: the live system boots without unpacking it).
//!
//! The image needs neither root nor loop devices: each partition is made as its own image
//! file (ext4 with `mkfs.ext4 -d` + `debugfs` for owners/modes/device nodes, the FAT32 ESP
//! with [`crate::boot::esp`]), `sgdisk` writes the GPT on the disk file, the partition images
//! are copied in at their offsets (sparse), GRUB's BIOS core goes into the BIOS boot
//! partition and its boot code into the protective MBR, patched as `grub-bios-setup` would
//! ([`crate::boot::grub::disk_images`], cached and shared with the installer's payload). The
//! layout is in [`layout`]. Every output is written to a temporary name and renamed, so an
//! interrupted build never leaves a half image under the final name. Errors, tool runs,
//! atomic writes and the early initramfs's cpio use the crate's ([`crate::error`],
//! [`crate::runner`], [`crate::cache`], [`crate::initramfs`]).
//!
//! This module owns `distro-build/src/disk/`, `distro-build/rootfs-disk/` and the disk
//! outputs in `out/`; it reads the live tree and never changes the live ISO's files except
//! through [`add_installer_scripts`] and [`installer_payload`].

pub mod disktools;
pub mod early;
pub mod ext4;
pub mod layout;

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::boot::esp::{self, Esp};
use crate::boot::grub::{self, DiskImages};
use crate::context::Context;
use crate::error::{Error, IoContext, Result};
use crate::initramfs::Compression;
use crate::runner;
use crate::target::Target;
use crate::tree::{Entry, EntryKind, FileData, RootfsTree};
use layout::Layout;

/// Name of the raw disk image in the output folder.
pub const IMAGE_NAME: &str = "tinilinux-disk.img";
/// Name of the qcow2 copy in the output folder.
pub const QCOW2_NAME: &str = "tinilinux-disk.qcow2";
/// Default disk size in MiB (the raw image is sparse; the root gets what the boot
/// partitions leave).
pub const DEFAULT_SIZE_MIB: u64 = 1024;
/// The installer script.
pub const INSTALLER_SCRIPT: &str = include_str!("../../rootfs-disk/installer/tinilinux-install");
/// The installed system's shutdown script.
pub const SHUTDOWN_SCRIPT: &str = include_str!("../../rootfs-disk/installed/disk-shutdown");
/// Where the boot images the installer writes live in the rootfs.
pub const BOOT_FILES_DIR: &str = "usr/lib/tinilinux/boot";
/// The installer's layout file in [`BOOT_FILES_DIR`] (see [`layout::installer_env`]).
pub const LAYOUT_ENV: &str = "layout.env";

/// What to build.
#[derive(Debug, Clone)]
pub struct Options {
    /// Disk size in MiB (`TINILINUX_DISK_MIB` overrides the default).
    pub size_mib: u64,
    /// Seed of the disk's GUIDs and the root file system's UUID.
    pub seed: String,
    /// Also write the qcow2 copy when qemu-img exists.
    pub qcow2: bool,
}

impl Options {
    /// Defaults for `ctx`: 1 GiB (or `TINILINUX_DISK_MIB`), seeded by SOURCE_DATE_EPOCH.
    pub fn for_context(ctx: &Context) -> Options {
        let size_mib = std::env::var("TINILINUX_DISK_MIB")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_SIZE_MIB);
        Options {
            size_mib,
            seed: format!("epoch-{}", ctx.epoch),
            qcow2: true,
        }
    }
}

/// What [`build_with`] made.
#[derive(Debug, Clone)]
pub struct Built {
    /// The raw disk image.
    pub image: PathBuf,
    /// The qcow2 copy, when qemu-img was there.
    pub qcow2: Option<PathBuf>,
    /// The layout written.
    pub layout: Layout,
}

/// Builds `out/tinilinux-disk.img` (and the qcow2 copy) from the bzImage at `kernel` and
/// the live rootfs `tree`, with default [`Options`]. This is what `distro-build disk` and
/// `distro-build all` call.
pub fn build(
    ctx: &Context,
    kernel: &Path,
    tree: &RootfsTree,
    tools: &disktools::DiskTools,
) -> Result<PathBuf> {
    Ok(build_with(ctx, kernel, tree, tools, &Options::for_context(ctx))?.image)
}

/// Checks every host tool the disk stage runs, naming the first one missing.
pub fn check_tools() -> Result<()> {
    for tool in [
        "sgdisk",
        "mkfs.ext4",
        "debugfs",
        "mkfs.vfat",
        "mmd",
        "mcopy",
        "readelf",
    ] {
        runner::require_tool(tool)?;
    }
    Ok(())
}

/// The installer's payload on the live medium, next to the kernel: a cpio archive (xz) of
/// [`add_installer_payload`]'s files that `tinilinux-install` unpacks when it runs. Kept out
/// of the initramfs, so a live boot neither carries nor unpacks it.
pub const PAYLOAD_ON_MEDIUM: &str = "boot/installer.cpio.xz";

/// Adds the installer's scripts to the live rootfs: `/usr/sbin/tinilinux-install`, the
/// early /init it packs (`/usr/lib/tinilinux/early-init/`) and the shutdown script the
/// installed system uses. Its payload (boot images and disk tools) travels on the medium:
/// see [`installer_payload`] and [`PAYLOAD_ON_MEDIUM`].
pub fn add_installer_scripts(tree: &mut RootfsTree) -> Result<()> {
    let bytes = |s: &str| FileData::Bytes(s.as_bytes().to_vec());
    tree.insert(
        "usr/sbin/tinilinux-install",
        Entry::file(bytes(INSTALLER_SCRIPT), 0o755),
    )?;
    tree.insert(
        "usr/lib/tinilinux/early-init/init",
        Entry::file(bytes(early::INIT_SCRIPT), 0o755),
    )?;
    tree.insert(
        "usr/lib/tinilinux/disk-shutdown",
        Entry::file(bytes(SHUTDOWN_SCRIPT), 0o755),
    )?;
    tree.insert(
        "usr/lib/tinilinux/early-init/applets",
        Entry::file(
            FileData::Bytes(early::APPLETS.join("\n").into_bytes()),
            0o644,
        ),
    )?;
    Ok(())
}

/// Adds the installer's payload: the boot images it writes (`/usr/lib/tinilinux/boot/`) and
/// the disk tools (sfdisk, mke2fs, e2fsck, see [`disktools`]) and the layout the script
/// reads ([`layout::installer_env`] for `target`), and the grub.cfg template for `target`.
pub fn add_installer_payload(
    tree: &mut RootfsTree,
    images: &DiskImages,
    target: &Target,
    tools: &disktools::DiskTools,
) -> Result<()> {
    let bios = images.bios.iter().flat_map(|b| [&b.mbr_code, &b.core_img]);
    for path in bios.chain([&images.efi_app]) {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        tree.insert(
            format!("{BOOT_FILES_DIR}/{name}"),
            Entry::file(FileData::Host(path.clone()), 0o644),
        )?;
    }
    let efi_name = images
        .efi_app
        .file_name()
        .unwrap_or_default()
        .to_string_lossy();
    tree.insert(
        format!("{BOOT_FILES_DIR}/startup.nsh"),
        Entry::file(
            FileData::Bytes(esp::startup_nsh(&efi_name).into_bytes()),
            0o644,
        ),
    )?;
    tree.insert(
        format!("{BOOT_FILES_DIR}/{LAYOUT_ENV}"),
        Entry::file(
            FileData::Bytes(layout::installer_env(target).into_bytes()),
            0o644,
        ),
    )?;
    tree.insert(
        format!("{BOOT_FILES_DIR}/grub.cfg.in"),
        Entry::file(
            FileData::Bytes(grub::grub_cfg("@ROOT_UUID@", 1, target).into_bytes()),
            0o644,
        ),
    )?;
    disktools::add(tree, tools)?;
    Ok(())
}

/// The installer's payload as a tree of its own (for [`PAYLOAD_ON_MEDIUM`]), with the boot
/// images built (or taken from the cache) first.
pub fn installer_payload(ctx: &Context, tools: &disktools::DiskTools) -> Result<RootfsTree> {
    check_tools()?;
    let images = grub::disk_images(ctx)?;
    let mut tree = RootfsTree::new();
    add_installer_payload(&mut tree, &images, &ctx.target, tools)?;
    Ok(tree)
}

/// The fstab of an installed system: the live fstab without a `/` line, with the root by
/// UUID first.
pub fn installed_fstab(live_fstab: Option<&str>, root_uuid: &str) -> String {
    let mut out = format!(
        "# TiniLinux installed on a disk: the root by file-system UUID.\n\
         UUID={root_uuid}\t/\text4\trw,relatime\t0 1\n"
    );
    for line in live_fstab.unwrap_or_default().lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() >= 2 && !fields[0].starts_with('#') && fields[1] == "/" {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The inittab of an installed system: the live one with the disk shutdown script as the
/// first shutdown action (BusyBox init runs them in order on reboot and poweroff).
pub fn installed_inittab(live_inittab: Option<&str>) -> String {
    let hook = "::shutdown:/usr/lib/tinilinux/disk-shutdown\n";
    let live = live_inittab.unwrap_or("::sysinit:/etc/init.d/rcS\n::askfirst:-/bin/sh\n");
    if live.contains("/usr/lib/tinilinux/disk-shutdown") {
        return live.to_string();
    }
    let mut out = String::new();
    let mut added = false;
    for line in live.lines() {
        if !added && line.contains(":shutdown:") {
            out.push_str(hook);
            added = true;
        }
        out.push_str(line);
        out.push('\n');
    }
    if !added {
        out.push_str(hook);
    }
    out
}

fn text_of(tree: &RootfsTree, path: &str) -> Result<Option<String>> {
    match tree.get(path) {
        Some(Entry {
            kind: EntryKind::File(data),
            ..
        }) => Ok(Some(String::from_utf8_lossy(&data.read()?).into_owned())),
        _ => Ok(None),
    }
}

/// The installed system's tree: the live tree plus /boot (kernel, early initramfs, GRUB
/// config for `target`), the fstab with the root's UUID, the shutdown hook and the disk tools.
pub fn installed_tree(
    target: &Target,
    live: &RootfsTree,
    kernel: &Path,
    initrd: &Path,
    layout: &Layout,
    images: &DiskImages,
    tools: &disktools::DiskTools,
) -> Result<RootfsTree> {
    let mut t = live.clone();
    // The live tree carries the installer's scripts, not its payload: the disk carries both
    // (its early /init checks the root with the disk tools).
    if t.get("usr/sbin/tinilinux-install").is_none() {
        add_installer_scripts(&mut t)?;
    }
    if t.get(disktools::DIR).is_none() {
        add_installer_payload(&mut t, images, target, tools)?;
    }
    t.insert("boot", Entry::dir(0o755))?;
    t.insert(
        "boot/vmlinuz",
        Entry::file(FileData::Host(kernel.to_path_buf()), 0o644),
    )?;
    t.insert(
        "boot/initrd.img",
        Entry::file(FileData::Host(initrd.to_path_buf()), 0o644),
    )?;
    t.insert(
        "boot/grub/grub.cfg",
        Entry::file(
            FileData::Bytes(grub::grub_cfg(&layout.root_fs_uuid, 1, target).into_bytes()),
            0o644,
        ),
    )?;
    let fstab = installed_fstab(text_of(live, "etc/fstab")?.as_deref(), &layout.root_fs_uuid);
    t.insert(
        "etc/fstab",
        Entry::file(FileData::Bytes(fstab.into_bytes()), 0o644),
    )?;
    let inittab = installed_inittab(text_of(live, "etc/inittab")?.as_deref());
    t.insert(
        "etc/inittab",
        Entry::file(FileData::Bytes(inittab.into_bytes()), 0o644),
    )?;
    t.insert(
        "etc/tinilinux-installed",
        Entry::file(
            FileData::Bytes(format!("disk-image root={}\n", layout.root_fs_uuid).into_bytes()),
            0o644,
        ),
    )?;
    t.insert("var/lib/tinibox", Entry::dir(0o700))?;
    Ok(t)
}

/// Builds the disk image with explicit [`Options`].
pub fn build_with(
    ctx: &Context,
    kernel: &Path,
    tree: &RootfsTree,
    tools: &disktools::DiskTools,
    opts: &Options,
) -> Result<Built> {
    check_tools()?;
    if !kernel.is_file() {
        return Err(Error::Invalid(format!(
            "kernel {} not found; run `distro-build kernel` first",
            kernel.display()
        )));
    }
    let layout = Layout::new(opts.size_mib, &opts.seed, &ctx.target.partition_types)?;
    fs::create_dir_all(&ctx.out_dir)
        .map_err(|e| Error::io(format!("creating {}", ctx.out_dir.display()), e))?;
    let work = tempfile::Builder::new()
        .prefix(".tinilinux-disk-")
        .tempdir_in(&ctx.out_dir)
        .map_err(|e| Error::io("creating the disk work folder", e))?;
    let w = work.path();

    let images = grub::disk_images(ctx)?;
    let initrd = w.join("initrd.img");
    let early_tree = early::tree(early::busybox_of(tree)?)?;
    crate::initramfs::write_with(&early_tree, &initrd, ctx.epoch, Compression::Gzip)?;
    let installed = installed_tree(&ctx.target, tree, kernel, &initrd, &layout, &images, tools)?;

    let root_img = w.join("root.ext4");
    ext4::write_image(
        &installed,
        &root_img,
        layout.root.size_bytes(),
        &layout.root_fs_uuid,
        "tinilinux-root",
        ctx.epoch,
    )?;
    let esp_img = w.join("esp.vfat");
    write_esp(ctx, &esp_img, &layout, &images, w)?;

    let disk_tmp = w.join(IMAGE_NAME);
    assemble(&disk_tmp, &layout, &images, &esp_img, &root_img)?;
    let image = ctx.out_dir.join(IMAGE_NAME);
    rename(&disk_tmp, &image)?;

    let mut qcow2 = None;
    if opts.qcow2 && runner::which("qemu-img").is_some() {
        let tmp = w.join(QCOW2_NAME);
        runner::run_tool(
            Command::new("qemu-img")
                .args(["convert", "-f", "raw", "-O", "qcow2", "-c"])
                .arg(&image)
                .arg(&tmp),
        )?;
        let dest = ctx.out_dir.join(QCOW2_NAME);
        rename(&tmp, &dest)?;
        qcow2 = Some(dest);
    }
    Ok(Built {
        image,
        qcow2,
        layout,
    })
}

/// Writes the ESP partition image `image`: FAT32 holding GRUB as \EFI\BOOT\BOOTX64.EFI
/// (which finds its grub.cfg on the root partition by itself), a short \EFI\BOOT\grub.cfg
/// that says so, for people who look, and \startup.nsh for the UEFI shell
/// ([`esp::startup_nsh`]). `scratch` holds the two small files.
fn write_esp(
    ctx: &Context,
    image: &Path,
    layout: &Layout,
    images: &DiskImages,
    scratch: &Path,
) -> Result<()> {
    let boot_file = ctx.target.efi_boot_file;
    let note = scratch.join("grub.cfg");
    fs::write(
        &note,
        format!(
            "# TiniLinux: GRUB ({boot_file}) reads its real grub.cfg from /boot/grub on partition 3.\n\
             configfile (,gpt3)/boot/grub/grub.cfg\n"
        ),
    )
    .ctx(|| "writing the ESP note")?;
    let startup = scratch.join("startup.nsh");
    fs::write(&startup, esp::startup_nsh(boot_file)).ctx(|| "writing startup.nsh")?;
    let spec = Esp {
        size_bytes: layout.esp.size_bytes(),
        fat_bits: 32,
        cluster_sectors: Some(1),
        label: "TINI-ESP".into(),
        volume_id: layout.esp_volume_id.clone(),
        files: vec![
            (format!("EFI/BOOT/{boot_file}"), images.efi_app.clone()),
            ("startup.nsh".into(), startup),
            ("EFI/BOOT/grub.cfg".into(), note),
        ],
        epoch: ctx.epoch,
    };
    esp::write(image, &spec, &ctx.cache_dir.join("logs/disk.log"))
}

/// Writes the disk file `disk`: GPT, partition images at their offsets, GRUB for BIOS when
/// the target has it (on arm64 the BIOS boot partition stays empty: the same partition
/// numbers on every architecture keep GRUB's prefix `(,gpt3)` and the installer's layout).
pub fn assemble(
    disk: &Path,
    layout: &Layout,
    images: &DiskImages,
    esp_img: &Path,
    root_img: &Path,
) -> Result<()> {
    let file =
        fs::File::create(disk).map_err(|e| Error::io(format!("creating {}", disk.display()), e))?;
    file.set_len(layout.disk_bytes())
        .map_err(|e| Error::io(format!("sizing {}", disk.display()), e))?;
    drop(file);

    let mut cmd = Command::new("sgdisk");
    cmd.arg("--clear")
        .arg(format!("--disk-guid={}", layout.disk_guid));
    for p in layout.partitions() {
        cmd.arg(format!("--new={}:{}:{}", p.number, p.first, p.last))
            .arg(format!("--typecode={}:{}", p.number, p.type_guid))
            .arg(format!("--change-name={}:{}", p.number, p.name))
            .arg(format!("--partition-guid={}:{}", p.number, p.guid));
    }
    cmd.arg(disk);
    runner::run_tool(&mut cmd)?;

    let mut out = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(disk)
        .map_err(|e| Error::io(format!("opening {}", disk.display()), e))?;
    copy_sparse(
        esp_img,
        &mut out,
        layout.esp.offset_bytes(),
        layout.esp.size_bytes(),
    )?;
    copy_sparse(
        root_img,
        &mut out,
        layout.root.offset_bytes(),
        layout.root.size_bytes(),
    )?;
    let io = |e| Error::io(format!("writing {}", disk.display()), e);
    if let Some(bios) = &images.bios {
        copy_sparse(
            &bios.core_img,
            &mut out,
            layout.bios_boot.offset_bytes(),
            layout.bios_boot.size_bytes(),
        )?;
        let code = fs::read(&bios.mbr_code)
            .map_err(|e| Error::io(format!("reading {}", bios.mbr_code.display()), e))?;
        out.seek(SeekFrom::Start(0)).map_err(io)?;
        out.write_all(&code[..grub::MBR_CODE_BYTES]).map_err(io)?;
    }
    out.sync_all().map_err(io)?;
    Ok(())
}

/// Copies `src` into `out` at `offset`, skipping all-zero blocks (the target is a fresh
/// sparse file, so they read back as zeros). Refuses a source larger than `max`.
pub fn copy_sparse(src: &Path, out: &mut fs::File, offset: u64, max: u64) -> Result<()> {
    let mut input =
        fs::File::open(src).map_err(|e| Error::io(format!("opening {}", src.display()), e))?;
    let len = input
        .metadata()
        .map_err(|e| Error::io(format!("reading {}", src.display()), e))?
        .len();
    if len > max {
        return Err(Error::Invalid(format!(
            "{} is {len} bytes, more than its partition's {max}",
            src.display()
        )));
    }
    let mut buf = vec![0u8; 1 << 20];
    let mut pos = 0u64;
    loop {
        let n = input
            .read(&mut buf)
            .map_err(|e| Error::io(format!("reading {}", src.display()), e))?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        for (i, block) in chunk.chunks(4096).enumerate() {
            if block.iter().all(|b| *b == 0) {
                continue;
            }
            let at = offset + pos + (i * 4096) as u64;
            out.seek(SeekFrom::Start(at))
                .and_then(|_| out.write_all(block))
                .map_err(|e| Error::io("writing the disk image", e))?;
        }
        pos += n as u64;
    }
    Ok(())
}

/// Renames `from` to `to` (the last step of an atomic publication).
fn rename(from: &Path, to: &Path) -> Result<()> {
    fs::rename(from, to).ctx(|| format!("renaming {} to {}", from.display(), to.display()))
}

#[cfg(test)]
mod tests;
