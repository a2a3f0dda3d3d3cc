//! Unit tests of the disk image: layout on disk (GPT read back by sgdisk and sfdisk), the
//! ext4 root checked by e2fsck and inspected by debugfs, the ESP read by mtools, the GRUB
//! boot code and core image at their sectors, and the installer script agreeing with the
//! layout. They use the real host tools (they fail, not skip, when one is missing).

use super::*;
use crate::tree::{Entry, FileData, RootfsTree};
use std::process::Command;

/// A context writing into `out_dir`, with the repository's lock and the user's cache (the
/// pinned GRUB and disk tools are fetched once, not once per test).
fn test_context(out_dir: std::path::PathBuf, source_date_epoch: u64) -> Context {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    Context {
        out_dir,
        epoch: crate::epoch::Epoch::from_secs(source_date_epoch),
        ..Context::from_env(&repo)
    }
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("tool runs");
    assert!(
        out.status.success(),
        "{:?} failed: {}{}",
        cmd,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A small live-like tree: static BusyBox from Debian's busybox-static, a few applets, an
/// inittab and fstab, a setuid file owned by someone else, and device nodes.
/// The pinned disk tools for `ctx` (built, or taken from its cache).
fn tools(ctx: &Context) -> disktools::DiskTools {
    disktools::DiskTools::pinned(ctx).unwrap()
}

fn small_tree() -> RootfsTree {
    let busybox = std::path::Path::new("/bin/busybox");
    assert!(
        busybox.exists(),
        "/bin/busybox is missing: apt-get install busybox-static"
    );
    let mut t = RootfsTree::new();
    t.insert(
        "bin/busybox",
        Entry::file(FileData::Host(busybox.into()), 0o755),
    )
    .unwrap();
    for a in ["sh", "ls", "mount"] {
        t.insert(format!("bin/{a}"), Entry::symlink("busybox"))
            .unwrap();
    }
    t.insert("sbin/init", Entry::symlink("../bin/busybox"))
        .unwrap();
    t.insert(
        "etc/inittab",
        Entry::file(
            FileData::Bytes(b"::sysinit:/etc/init.d/rcS\n::shutdown:/bin/umount -a -r\n".to_vec()),
            0o644,
        ),
    )
    .unwrap();
    t.insert(
        "etc/fstab",
        Entry::file(
            FileData::Bytes(
                b"# live\nrootfs / rootfs rw 0 0\nproc /proc proc defaults 0 0\n".to_vec(),
            ),
            0o644,
        ),
    )
    .unwrap();
    let mut secret = Entry::file(FileData::Bytes(b"s3cret\n".to_vec()), 0o4750);
    secret.uid = 1000;
    secret.gid = 100;
    t.insert("home/user/secret", secret).unwrap();
    t.insert("dev/console", Entry::char_device(5, 1, 0o600))
        .unwrap();
    t.insert(
        "dev/vda",
        Entry {
            kind: EntryKind::BlockDevice {
                major: 254,
                minor: 0,
            },
            mode: 0o660,
            uid: 0,
            gid: 6,
        },
    )
    .unwrap();
    t.insert(
        "run/fifo",
        Entry {
            kind: EntryKind::Fifo,
            mode: 0o600,
            uid: 0,
            gid: 0,
        },
    )
    .unwrap();
    t.insert("tmp", Entry::dir(0o1777)).unwrap();
    t
}

fn debugfs_stat(image: &std::path::Path, path: &str) -> String {
    run_ok(
        Command::new("debugfs")
            .arg("-R")
            .arg(format!("stat {path}"))
            .arg(image),
    )
}

#[test]
fn ext4_image_keeps_owners_modes_and_device_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("root.ext4");
    ext4::write_image(
        &small_tree(),
        &img,
        64 << 20,
        &layout::derived_uuid("t", "r"),
        "t",
        crate::epoch::Epoch::from_secs(0),
    )
    .unwrap();
    run_ok(Command::new("e2fsck").args(["-fn"]).arg(&img));
    let secret = debugfs_stat(&img, "/home/user/secret");
    assert!(secret.contains("Mode:  04750"), "{secret}");
    assert!(
        secret.contains("User:  1000") && secret.contains("Group:   100"),
        "{secret}"
    );
    let console = debugfs_stat(&img, "/dev/console");
    assert!(console.contains("Type: character special"), "{console}");
    assert!(
        console.contains("Device major/minor number: 05:01"),
        "{console}"
    );
    let vda = debugfs_stat(&img, "/dev/vda");
    assert!(
        vda.contains("Type: block special") && vda.contains("Group:     6"),
        "{vda}"
    );
    assert!(debugfs_stat(&img, "/run/fifo").contains("Type: FIFO"));
    assert!(debugfs_stat(&img, "/tmp").contains("Mode:  01777"));
    let link = run_ok(
        Command::new("debugfs")
            .args(["-R", "stat /sbin/init"])
            .arg(&img),
    );
    assert!(
        link.contains("Fast link dest: \"../bin/busybox\""),
        "{link}"
    );
    let uuid = run_ok(Command::new("dumpe2fs").arg("-h").arg(&img));
    assert!(uuid.contains(&layout::derived_uuid("t", "r")));
}

#[test]
fn disk_image_has_gpt_esp_ext4_and_grub_at_their_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = test_context(dir.path().join("out"), 0);
    // The layout test needs a file where the kernel goes, not a bootable one.
    let kernel = dir.path().join("bzImage");
    fs::write(&kernel, b"not a kernel: layout test").unwrap();
    let opts = Options {
        size_mib: 256,
        seed: "unit".into(),
        qcow2: false,
    };
    let built = build_with(&ctx, &kernel, &small_tree(), &tools(&ctx), &opts).unwrap();
    let img = &built.image;
    assert_eq!(img, &ctx.out_dir.join(IMAGE_NAME));
    assert_eq!(fs::metadata(img).unwrap().len(), 256 << 20);
    let leftovers: Vec<_> = fs::read_dir(&ctx.out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers,
        vec![std::ffi::OsString::from(IMAGE_NAME)],
        "no temp files left"
    );

    // GPT as sgdisk and sfdisk read it back.
    let p = run_ok(Command::new("sgdisk").arg("-p").arg(img));
    assert!(
        p.contains("EF02") && p.contains("EF00") && p.contains("8304"),
        "{p}"
    );
    let v = run_ok(Command::new("sgdisk").arg("-v").arg(img));
    assert!(v.contains("No problems found"), "{v}");
    let d = run_ok(Command::new("sfdisk").arg("-d").arg(img));
    let l = &built.layout;
    for part in l.partitions() {
        let line = format!("start={:>12}, size={:>12}", part.first, part.sectors());
        assert!(d.contains(&line), "missing {line} in\n{d}");
    }
    assert!(d.to_lowercase().contains(&l.root.guid), "{d}");

    // Root partition: extracted, checked, holding /boot and the installed fstab.
    let root = extract(img, &l.root, dir.path().join("root.part"));
    run_ok(Command::new("e2fsck").arg("-fn").arg(&root));
    let blkid = run_ok(Command::new("blkid").arg(&root));
    assert!(
        blkid.contains(&l.root_fs_uuid) && blkid.contains("TYPE=\"ext4\""),
        "{blkid}"
    );
    let ls = run_ok(
        Command::new("debugfs")
            .args(["-R", "ls -l /boot"])
            .arg(&root),
    );
    assert!(ls.contains("vmlinuz") && ls.contains("initrd.img"), "{ls}");
    let cat = |p: &str| {
        run_ok(
            Command::new("debugfs")
                .arg("-R")
                .arg(format!("cat {p}"))
                .arg(&root),
        )
    };
    assert!(cat("/boot/grub/grub.cfg").contains(&format!("root=UUID={}", l.root_fs_uuid)));
    let fstab = cat("/etc/fstab");
    assert!(
        fstab.starts_with("# TiniLinux")
            && fstab.contains(&format!("UUID={}\t/\text4", l.root_fs_uuid))
    );
    assert!(!fstab.contains("rootfs /"), "{fstab}");
    assert!(cat("/etc/inittab").contains("::shutdown:/usr/lib/tinilinux/disk-shutdown"));
    assert!(cat("/usr/sbin/tinilinux-install").starts_with("#!/bin/sh"));
    assert_eq!(
        cat("/usr/lib/tinilinux/boot/layout.env"),
        layout::installer_env(&crate::target::Target::X86_64),
        "the installed system's installer reads the disk's own layout"
    );

    // ESP: FAT32 with GRUB's UEFI application.
    let esp = extract(img, &l.esp, dir.path().join("esp.part"));
    let esp_id = run_ok(Command::new("blkid").arg(&esp));
    assert!(esp_id.contains("TYPE=\"vfat\""), "{esp_id}");
    run_ok(Command::new("fsck.vfat").arg("-n").arg(&esp));
    let listing = run_ok(
        Command::new("mdir")
            .env("MTOOLS_SKIP_CHECK", "1")
            .args(["-i"])
            .arg(&esp)
            .arg("::/EFI/BOOT"),
    );
    assert!(listing.contains("BOOTX64  EFI"), "{listing}");
    let root_listing = run_ok(
        Command::new("mtype")
            .env("MTOOLS_SKIP_CHECK", "1")
            .args(["-i"])
            .arg(&esp)
            .arg("::/startup.nsh"),
    );
    assert!(
        root_listing.contains("\\EFI\\BOOT\\BOOTX64.EFI"),
        "{root_listing}"
    );

    // BIOS: boot code in the MBR pointing at core.img, which sits at the BIOS boot partition.
    let raw = fs::read(img).unwrap();
    assert_eq!(&raw[510..512], &[0x55, 0xaa]);
    assert_eq!(raw[450], 0xee, "protective MBR partition type");
    assert_eq!(
        u64::from_le_bytes(raw[0x5c..0x64].try_into().unwrap()),
        l.bios_boot.first
    );
    let core_at = (l.bios_boot.first * 512) as usize;
    let entry = &raw[core_at + 500..core_at + 512];
    assert_eq!(
        u64::from_le_bytes(entry[0..8].try_into().unwrap()),
        l.bios_boot.first + 1
    );
    assert_eq!(u16::from_le_bytes([entry[10], entry[11]]), 0x820);
    let boot_img = fs::read(grub::GrubFiles::pinned(&ctx).unwrap().boot_img().unwrap()).unwrap();
    assert_eq!(
        &raw[0x68..0x1b8],
        &boot_img[0x68..0x1b8],
        "GRUB boot code in the MBR"
    );
}

#[test]
fn installer_script_matches_the_layout_and_parses() {
    let s = INSTALLER_SCRIPT;
    // The script writes the partitions from layout.env: run the generated file through a
    // real shell and compare every value with the layout distro-build writes itself.
    let target = crate::target::Target::X86_64;
    let l = Layout::new(1024, "x", &target.partition_types).unwrap();
    let env = layout::installer_env(&target);
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("layout.env"), &env).unwrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(
            ". ./layout.env && echo $BIOS_BOOT_START $BIOS_BOOT_SIZE $BIOS_BOOT_TYPE \
             $ESP_START $ESP_SIZE $ESP_TYPE $ROOT_START $ROOT_TYPE $EFI_BOOT_FILE \
             $BIOS_GRUB $SERIAL",
        )
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let expected = format!(
        "{} {} {} {} {} {} {} {} {} 1 ttyS0\n",
        l.bios_boot.first,
        l.bios_boot.sectors(),
        l.bios_boot.type_guid,
        l.esp.first,
        l.esp.sectors(),
        l.esp.type_guid,
        l.root.first,
        l.root.type_guid,
        target.efi_boot_file
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
    for var in [
        "BIOS_BOOT_START",
        "ESP_SIZE",
        "ROOT_TYPE",
        "EFI_BOOT_FILE",
        "BIOS_GRUB",
        "SERIAL",
    ] {
        assert!(s.contains(&format!("${var}")), "the script uses {var}");
    }
    assert!(
        !s.contains("BOOTX64"),
        "no architecture's file name in the script"
    );
    assert!(s.contains(&format!("MIN_MIB={}", layout::min_disk_mib())));
    for script in [INSTALLER_SCRIPT, early::INIT_SCRIPT, SHUTDOWN_SCRIPT] {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("s");
        fs::write(&f, script).unwrap();
        run_ok(Command::new("/bin/busybox").args(["sh", "-n"]).arg(&f));
    }
}

#[test]
fn fstab_and_inittab_for_the_installed_system() {
    let f = installed_fstab(
        Some("rootfs / rootfs rw 0 0\nproc /proc proc defaults 0 0\n"),
        "u-1",
    );
    assert_eq!(
        f,
        "# TiniLinux installed on a disk: the root by file-system UUID.\nUUID=u-1\t/\text4\trw,relatime\t0 1\nproc /proc proc defaults 0 0\n"
    );
    let i = installed_inittab(Some(
        "::sysinit:/etc/init.d/rcS\n::shutdown:/etc/init.d/rcK\n",
    ));
    assert_eq!(
        i,
        "::sysinit:/etc/init.d/rcS\n::shutdown:/usr/lib/tinilinux/disk-shutdown\n::shutdown:/etc/init.d/rcK\n"
    );
    assert_eq!(installed_inittab(Some(&i)), i, "idempotent");
}

#[test]
fn early_initramfs_holds_init_and_busybox() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("initrd.img");
    let t = early::tree(FileData::Host("/bin/busybox".into())).unwrap();
    crate::initramfs::write_with(
        &t,
        &out,
        crate::epoch::Epoch::from_secs(0),
        crate::initramfs::Compression::Gzip,
    )
    .unwrap();
    let list = run_ok(
        Command::new("sh")
            .arg("-c")
            .arg(format!("zcat {} | cpio -it --quiet", out.display())),
    );
    for name in [
        "init",
        "bin/busybox",
        "bin/switch_root",
        "bin/findfs",
        "dev/console",
        "mnt/root",
    ] {
        assert!(
            list.lines().any(|l| l == name),
            "{name} missing from\n{list}"
        );
    }
    let verbose = run_ok(
        Command::new("sh")
            .arg("-c")
            .arg(format!("zcat {} | cpio -itv --quiet", out.display())),
    );
    assert!(
        verbose
            .lines()
            .any(|l| l.starts_with("crw-------") && l.ends_with("dev/console")),
        "{verbose}"
    );
    assert!(
        verbose
            .lines()
            .any(|l| l.starts_with("-rwxr-xr-x") && l.ends_with(" init")),
        "{verbose}"
    );
}

#[test]
fn missing_kernel_is_a_clear_error_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = test_context(dir.path().join("out"), 0);
    let opts = Options {
        size_mib: 256,
        seed: "x".into(),
        qcow2: false,
    };
    let err = build_with(
        &ctx,
        &dir.path().join("nope"),
        &small_tree(),
        &tools(&ctx),
        &opts,
    )
    .unwrap_err();
    assert!(err.to_string().contains("distro-build kernel"), "{err}");
    assert!(!ctx.out_dir.join(IMAGE_NAME).exists());
    let too_small = Options {
        size_mib: 100,
        ..opts
    };
    let kernel = dir.path().join("k");
    fs::write(&kernel, b"k").unwrap();
    let err = build_with(&ctx, &kernel, &small_tree(), &tools(&ctx), &too_small).unwrap_err();
    assert!(err.to_string().contains("at least"), "{err}");
}

#[test]
fn two_builds_from_the_same_inputs_are_byte_identical() {
    two_builds_are_identical(crate::target::Target::X86_64);
}

/// The arm64 disk: the same bytes twice, GPT with the ESP holding GRUB's `BOOTAA64.EFI` and
/// the root typed as the arm64 root, no BIOS boot code in the MBR and an empty BIOS boot
/// partition, and the aarch64 disk tools in the root.
#[test]
fn arm64_disk_image_is_uefi_only_with_the_arm64_root_type_and_reproducible() {
    let target = crate::target::Target::ARM64;
    let image = two_builds_are_identical(target);
    let img = image.path();
    let dump = run_ok(Command::new("sfdisk").arg("--dump").arg(img)).to_lowercase();
    assert!(
        dump.contains(&format!(
            "type={}",
            target.partition_types.root.to_lowercase()
        )),
        "{dump}"
    );
    let raw = fs::read(img).unwrap();
    assert!(
        raw[..grub::MBR_CODE_BYTES].iter().all(|b| *b == 0),
        "BIOS boot code in an arm64 disk's MBR"
    );
    assert_eq!(raw[450], 0xee, "protective MBR partition type");
    let l = Layout::new(200, "repro", &target.partition_types).unwrap();
    let bios = &raw[l.bios_boot.offset_bytes() as usize..l.esp.offset_bytes() as usize];
    assert!(bios.iter().all(|b| *b == 0), "GRUB core.img on arm64");
    let esp = extract(img, &l.esp, image.dir.path().join("esp.part"));
    let listing = run_ok(
        Command::new("mdir")
            .env("MTOOLS_SKIP_CHECK", "1")
            .args(["-i"])
            .arg(&esp)
            .arg("::/EFI/BOOT"),
    );
    assert!(listing.contains("BOOTAA64 EFI"), "{listing}");
    let root = extract(img, &l.root, image.dir.path().join("root.part"));
    let sfdisk = image.dir.path().join("sfdisk");
    run_ok(
        Command::new("debugfs")
            .arg("-R")
            .arg(format!(
                "dump /{}/sfdisk {}",
                disktools::DIR,
                sfdisk.display()
            ))
            .arg(&root),
    );
    let elf = fs::read(&sfdisk).unwrap();
    assert_eq!(u16::from_le_bytes([elf[18], elf[19]]), target.elf_machine);
    let env = run_ok(
        Command::new("debugfs")
            .arg("-R")
            .arg(format!("cat /{BOOT_FILES_DIR}/{LAYOUT_ENV}"))
            .arg(&root),
    );
    assert!(
        env.contains("BIOS_GRUB=0") && env.contains("SERIAL=ttyAMA0"),
        "{env}"
    );
}

/// Copies partition `part` of the disk image `img` to the file `to` (dd, 512-byte sectors)
/// and returns `to`.
fn extract(
    img: &std::path::Path,
    part: &layout::Partition,
    to: std::path::PathBuf,
) -> std::path::PathBuf {
    run_ok(
        Command::new("dd")
            .arg(format!("if={}", img.display()))
            .arg(format!("of={}", to.display()))
            .args([
                "bs=512",
                &format!("skip={}", part.first),
                &format!("count={}", part.sectors()),
                "status=none",
            ]),
    );
    to
}

/// A disk image built by [`two_builds_are_identical`], in its temporary folder.
struct BuiltImage {
    dir: tempfile::TempDir,
    image: std::path::PathBuf,
}

impl BuiltImage {
    fn path(&self) -> &std::path::Path {
        &self.image
    }
}

/// Builds `target`'s disk image twice from the same inputs (other output folders, other
/// wall-clock seconds) and checks the bytes are equal; returns the first image.
fn two_builds_are_identical(target: crate::target::Target) -> BuiltImage {
    let dir = tempfile::tempdir().unwrap();
    let kernel = dir.path().join("bzImage");
    fs::write(&kernel, b"not a kernel: reproducibility test").unwrap();
    let tree = small_tree();
    let mut images = Vec::new();
    let mut first = None;
    for n in 0..2 {
        let mut ctx = test_context(dir.path().join(format!("out{n}")), 1_700_000_000);
        ctx.set_target(target);
        let opts = Options {
            size_mib: 200,
            seed: "repro".into(),
            qcow2: false,
        };
        let built = build_with(&ctx, &kernel, &tree, &tools(&ctx), &opts).unwrap();
        images.push(fs::read(&built.image).unwrap());
        first.get_or_insert(built.image);
        // Different wall-clock seconds for the second build.
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    let diffs: Vec<usize> = images[0]
        .iter()
        .zip(&images[1])
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .map(|(i, _)| i)
        .take(8)
        .collect();
    assert!(
        diffs.is_empty(),
        "two {} builds differ at bytes {diffs:?} (sectors {:?})",
        target.name,
        diffs.iter().map(|d| d / 512).collect::<Vec<_>>()
    );
    BuiltImage {
        image: first.expect("two builds"),
        dir,
    }
}
