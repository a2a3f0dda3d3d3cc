//! The arm64 TiniLinux (`distro-build --arch arm64 all`, outputs in `out/arm64/`) boots its
//! UEFI ISO under `qemu-system-aarch64 -M virt -cpu cortex-a57` with TCG and AAVMF, driven
//! through the PL011 serial console: GRUB's arm64 EFI image starts the kernel, rcS prints the
//! banner, the kernel is an aarch64 6.1, `tinibox check` passes and containers run with PID 1
//! and their own hostname (tinibox's aarch64 seccomp filter, namespaces and pivot_root on a
//! real arm64 kernel), a memory limit OOM-kills (137) and a pids limit stops forks on cgroup v2.
//! The ISO fits the same 8 MiB budget as x86_64's. The disk image
//! (`out/arm64/tinilinux-disk.img`) boots the same way from GRUB's `BOOTAA64.EFI` on its ESP,
//! with the ext4 partition typed as the arm64 root as `/`, and passes the same container checks; the
//! ISO carries the installer's payload with aarch64 disk tools.
//!
//! These tests need the arm64 outputs: CI's `./test.sh` builds them (see test.sh).

use std::path::PathBuf;
use std::time::Duration;

use tinilinux_tests::qemu::{arm64_command, arm64_disk_command, Vm};

fn iso() -> PathBuf {
    tinilinux_tests::out_file("arm64/tinilinux.iso")
}

/// AAVMF and the kernel under TCG emulating another architecture: slower than x86_64 boots.
const BOOT: Duration = Duration::from_secs(600);
const CMD: Duration = Duration::from_secs(120);

/// Waits for the banner line (with its boot time) and a shell, with no `error:` (GRUB's or
/// the kernel's) printed before the banner.
fn boot_clean(mut vm: Vm) -> Vm {
    let boot_log = vm.expect("Welcome to TiniLinux", BOOT).unwrap();
    let banner = vm.expect("\n", BOOT).unwrap();
    assert!(banner.contains("(booted in "), "banner line {banner:?}");
    assert!(
        !boot_log.contains("error:"),
        "{:#}",
        vm.fail("an error was printed before the banner")
    );
    vm.prepare_shell().unwrap();
    vm.check_clock().unwrap_or_else(|e| panic!("{e:#}"));
    vm
}

fn must(vm: &mut Vm, cmdline: &str) -> String {
    vm.run_ok(cmdline, CMD).unwrap_or_else(|e| panic!("{e:#}"))
}

/// The x86_64 boot test's container checks on the arm64 guest: the shipped image runs with
/// PID 1 and the native seccomp ABI, pivot_root (no MS_MOVE fallback), its own hostname; on
/// cgroup v2 a 64 MiB buffer in a 16 MiB container is OOM-killed (137) and `--pids-limit 4`
/// stops the fifth fork.
fn container_checks(vm: &mut Vm) {
    // Every `tinibox run` installs the default seccomp profile, compiled for the native ABI:
    // a filter for the wrong architecture would kill the container's first system call.
    let out = must(
        vm,
        "tinibox run --rm tinilinux sh -c 'echo pid=$$; uname -m' 2>&1",
    );
    assert!(out.lines().any(|l| l == "pid=1"), "container PID: {out}");
    assert!(out.lines().any(|l| l == "aarch64"), "container arch: {out}");
    assert!(
        !out.contains("pivot_root is not possible"),
        "containers fell back to MS_MOVE + chroot instead of pivot_root:\n{out}"
    );
    let out = must(
        vm,
        "tinibox run --rm --hostname boxed tinilinux hostname 2>&1",
    );
    assert_eq!(
        out.lines().last(),
        Some("boxed"),
        "container hostname: {out}"
    );
    assert_eq!(must(vm, "hostname"), "tinilinux");

    // The same resource checks as x86_64's boot test, on arm64's cgroup v2: a 64 MiB buffer
    // in a 16 MiB container is OOM-killed (137), and with at most 4 processes a fork fails.
    let (status, out) = vm
        .run(
            "tinibox run --rm -m 16m tinilinux dd if=/dev/zero of=/dev/null bs=64M count=1 2>&1",
            CMD,
        )
        .unwrap();
    assert_eq!(status, 137, "memory hog was not OOM-killed: {out}");
    let (status, out) = vm
        .run(
            "tinibox run --rm --pids-limit 4 tinilinux sh -c 'for i in 1 2 3 4 5 6; do sleep 3 & done; wait' 2>&1",
            CMD,
        )
        .unwrap();
    assert!(
        out.contains("can't fork") || out.contains("Resource temporarily unavailable"),
        "pids limit not enforced (status {status}): {out}"
    );
    let controllers = must(vm, "cat /sys/fs/cgroup/cgroup.controllers");
    for controller in ["memory", "pids"] {
        assert!(
            controllers.split_whitespace().any(|c| c == controller),
            "cgroup v2 lacks {controller}: {controllers:?}"
        );
    }
}

#[test]
fn arm64_iso_boots_with_aavmf_and_runs_containers() {
    let vars = tempfile::tempdir().unwrap();
    let cmd = arm64_command(&iso(), 512, vars.path()).unwrap();
    let mut vm = boot_clean(Vm::spawn("arm64-aavmf", cmd).unwrap());

    assert_eq!(must(&mut vm, "uname -m"), "aarch64");
    let release = must(&mut vm, "uname -r");
    assert!(release.starts_with("6.1."), "uname -r = {release:?}");
    let (status, out) = vm.run("tinibox check", CMD).unwrap();
    assert_eq!(status, 0, "tinibox check failed:\n{out}");

    container_checks(&mut vm);
    vm.poweroff(Duration::from_secs(120)).unwrap();
}

/// The arm64 ISO's size budget is x86_64's: at most 8 MiB.
#[test]
fn arm64_iso_fits_in_8_mib() {
    let size = std::fs::metadata(iso()).unwrap().len();
    assert!(
        size <= 8 * 1024 * 1024,
        "the arm64 ISO is {size} bytes, over the 8 MiB budget"
    );
}

/// The Discoverable Partitions Specification's root partition type for arm64.
const ARM64_ROOT_TYPE: &str = "b921b045-1df0-41c3-af44-4c6f280d3fae";

/// The arm64 disk image boots with AAVMF from its ESP (GRUB's BOOTAA64.EFI), mounts the ext4
/// partition 3, typed as the arm64 root, as `/`, and runs the shipped image.
#[test]
fn arm64_disk_image_boots_with_aavmf_and_runs_the_shipped_image() {
    let disk = tinilinux_tests::out_file("arm64/tinilinux-disk.img");
    let sfdisk = std::process::Command::new("sfdisk")
        .arg("--dump")
        .arg(&disk)
        .output()
        .expect("sfdisk runs");
    let table = String::from_utf8_lossy(&sfdisk.stdout).to_lowercase();
    assert!(sfdisk.status.success(), "sfdisk --dump failed: {table}");
    let root_line = table
        .lines()
        .find(|l| l.contains("name=\"tinilinux root\""))
        .unwrap_or_else(|| panic!("no root partition in the GPT:\n{table}"));
    assert!(root_line.contains(ARM64_ROOT_TYPE), "{root_line}");

    let vars = tempfile::tempdir().unwrap();
    let cmd = arm64_disk_command(&disk, 512, vars.path()).unwrap();
    let mut vm = boot_clean(Vm::spawn("arm64-disk-aavmf", cmd).unwrap());

    assert_eq!(must(&mut vm, "uname -m"), "aarch64");
    let root = must(&mut vm, "grep ' / ' /proc/mounts");
    assert!(root.contains(" ext4 rw"), "root mount: {root}");
    // `/` is the disk's partition 3: the same device number, and the UUID the image names.
    assert_eq!(
        must(&mut vm, "mountpoint -d /"),
        must(&mut vm, "cat /sys/class/block/vda3/dev"),
        "root is not /dev/vda3: {root}"
    );
    let installed = must(&mut vm, "cat /etc/tinilinux-installed");
    let uuid = installed
        .strip_prefix("disk-image root=")
        .unwrap_or_else(|| panic!("/etc/tinilinux-installed: {installed}"));
    let blkid = must(&mut vm, "blkid /dev/vda3");
    assert!(
        blkid.contains(&format!("UUID=\"{uuid}\"")) && blkid.contains("TYPE=\"ext4\""),
        "{blkid}"
    );
    // The disk tools the early /init checks the root with run on this machine.
    let version = must(
        &mut vm,
        "/usr/lib/tinilinux/disktools/sfdisk --version 2>&1",
    );
    assert!(version.contains("util-linux"), "sfdisk: {version}");

    let out = must(&mut vm, "tinibox run --rm tinilinux echo ok 2>&1");
    assert_eq!(out.lines().last(), Some("ok"), "tinibox run: {out}");
    container_checks(&mut vm);
    vm.poweroff(Duration::from_secs(120)).unwrap();
}

/// The arm64 ISO carries the installer's payload, whose disk tools are aarch64 executables.
#[test]
fn arm64_iso_carries_the_installer_with_aarch64_disk_tools() {
    let dir = tempfile::tempdir().unwrap();
    let payload = dir.path().join("installer.cpio.xz");
    let st = std::process::Command::new("xorriso")
        .args(["-osirrox", "on", "-indev"])
        .arg(iso())
        .args(["-extract", "/boot/installer.cpio.xz"])
        .arg(&payload)
        .output()
        .expect("xorriso runs");
    assert!(
        st.status.success(),
        "no /boot/installer.cpio.xz on the arm64 ISO: {}",
        String::from_utf8_lossy(&st.stderr)
    );
    let unpack = std::process::Command::new("sh")
        .arg("-c")
        .arg("xzcat installer.cpio.xz | cpio -idm --quiet")
        .current_dir(dir.path())
        .status()
        .expect("sh runs");
    assert!(unpack.success(), "unpacking the installer payload failed");
    let tools = dir.path().join("usr/lib/tinilinux/disktools");
    for tool in ["sfdisk", "mke2fs", "e2fsck"] {
        let bytes = std::fs::read(tools.join(tool)).unwrap_or_else(|e| panic!("{tool}: {e}"));
        assert_eq!(&bytes[..4], b"\x7fELF", "{tool} is not ELF");
        let machine = u16::from_le_bytes([bytes[18], bytes[19]]);
        assert_eq!(machine, 183, "{tool} is not an aarch64 executable");
    }
    let layout = std::fs::read_to_string(dir.path().join("usr/lib/tinilinux/boot/layout.env"))
        .expect("layout.env in the payload");
    assert!(layout.contains("EFI_BOOT_FILE=BOOTAA64.EFI"), "{layout}");
    assert!(layout.contains("BIOS_GRUB=0"), "{layout}");
    assert!(layout.to_lowercase().contains(ARM64_ROOT_TYPE), "{layout}");
}

/// `tinilinux-install` on the arm64 live ISO writes a blank virtio disk (its sfdisk and mke2fs
/// are the payload's aarch64 builds, read from the CD), and that disk then boots alone under
/// AAVMF: root is its ext4 partition 3, root's password is the one given, containers run.
#[test]
fn arm64_installer_writes_a_blank_disk_that_boots_alone() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("blank.img");
    std::fs::File::create(&disk)
        .and_then(|f| f.set_len(1024 * 1024 * 1024))
        .unwrap();
    let password = "arm64-install-test";
    let out = std::process::Command::new("openssl")
        .args(["passwd", "-6", password])
        .output()
        .expect("openssl runs (scripts/install-deps.sh installs it)");
    assert!(out.status.success(), "openssl passwd -6 failed");
    let hash = String::from_utf8_lossy(&out.stdout).trim().to_string();

    let vars = tempfile::tempdir().unwrap();
    let mut cmd = arm64_command(&iso(), 512, vars.path()).unwrap();
    cmd.arg("-drive")
        .arg(format!("file={},format=raw,if=virtio", disk.display()));
    let mut vm = Vm::spawn("arm64-install-live", cmd).unwrap();
    vm.expect("Welcome to TiniLinux", BOOT).unwrap();
    vm.prepare_shell().unwrap();
    let out = must(
        &mut vm,
        &format!("tinilinux-install --yes --root-password-hash '{hash}' /dev/vda 2>&1"),
    );
    assert!(
        out.contains("done. TiniLinux is installed on /dev/vda"),
        "{out}"
    );
    assert!(out.contains("installing GRUB (UEFI)"), "{out}");
    vm.poweroff(Duration::from_secs(120)).unwrap();

    let vars = tempfile::tempdir().unwrap();
    let cmd = arm64_disk_command(&disk, 512, vars.path()).unwrap();
    let mut vm = Vm::spawn("arm64-installed", cmd).unwrap();
    vm.expect("Welcome to TiniLinux", BOOT).unwrap();
    // The installed system asks for root's password on the serial console.
    vm.expect("login: ", BOOT).unwrap();
    vm.send("root\n").unwrap();
    vm.expect("Password: ", CMD).unwrap();
    vm.send(&format!("{password}\n")).unwrap();
    vm.prepare_shell().unwrap();
    let installed = must(&mut vm, "cat /etc/tinilinux-installed");
    assert!(installed.starts_with("installed-from-live"), "{installed}");
    assert_eq!(
        must(&mut vm, "mountpoint -d /"),
        must(&mut vm, "cat /sys/class/block/vda3/dev"),
        "root is not /dev/vda3"
    );
    let out = must(&mut vm, "tinibox run --rm tinilinux echo ok 2>&1");
    assert_eq!(out.lines().last(), Some("ok"), "tinibox run: {out}");
    vm.poweroff(Duration::from_secs(120)).unwrap();
}
