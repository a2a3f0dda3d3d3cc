//! Memory floor (issue 20): the real `out/tinilinux.iso` and `out/tinilinux-disk.img` boot
//! under QEMU (TCG) with the least memory TiniLinux claims — per firmware, as
//! `distro-build/grub.cfg` states it (`min_mib_bios`, `min_mib_uefi`) — and run a container
//! there; one step below it the machine stops with the one-line message naming the minimum
//! (GRUB's or the early /init's), not with GRUB's "out of memory" and a kernel panic.
//!
//! The minimums are read from grub.cfg, the file that prints them; the live /init and the
//! disk's early /init must state the same numbers, and GRUB's SMBIOS check
//! (`min_last_kib_*`) the same sizes (checked here too).

use std::time::Duration;

use tinilinux_tests::qemu::{self, Firmware, Vm};
use tinilinux_tests::{out_file, repo_root};

const BOOT: Duration = Duration::from_secs(240);
const CMD: Duration = Duration::from_secs(120);
/// "One step below" the minimum, in MiB: the step the floor was measured with
/// (BENCHMARKS.md, "Memory floor").
fn step_mib(firmware: Firmware) -> u32 {
    match firmware {
        Firmware::Bios => 4,
        Firmware::Uefi => 4,
    }
}
/// The start of the message every layer prints when memory is too small.
const MESSAGE: &str = "TiniLinux needs at least";

/// The value of `set NAME=VALUE` in distro-build/grub.cfg.
fn grub_minimum(name: &str) -> u32 {
    let path = repo_root().join("distro-build/grub.cfg");
    let text = std::fs::read_to_string(&path).unwrap();
    let prefix = format!("set {name}=");
    text.lines()
        .find_map(|l| l.trim().strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{} has no `{prefix}<MiB>` line", path.display()))
}

fn minimum(firmware: Firmware) -> u32 {
    match firmware {
        Firmware::Bios => grub_minimum("min_mib_bios"),
        Firmware::Uefi => grub_minimum("min_mib_uefi"),
    }
}

fn boot(name: &str, medium: &str, firmware: Firmware, mib: u32) -> Vm {
    let cmd = qemu::command(&out_file(medium), firmware, mib).unwrap();
    Vm::spawn(name, cmd).unwrap()
}

/// Boots `medium` with exactly the minimum for `firmware`, logs in on the serial console and
/// runs a container from the image the system ships.
fn boots_at_minimum(name: &str, medium: &str, firmware: Firmware) {
    let mib = minimum(firmware);
    let mut vm = boot(name, medium, firmware, mib);
    let log = vm.expect("Welcome to TiniLinux", BOOT).unwrap();
    assert!(
        !log.contains(MESSAGE) && !log.contains("error:"),
        "{:#}",
        vm.fail(&format!(
            "an error was printed on the way to the shell at {mib} MiB"
        ))
    );
    vm.expect("# ", BOOT).unwrap();
    vm.prepare_shell().unwrap();
    let out = vm
        .run_ok("tinibox run --rm tinilinux echo ok 2>&1", CMD)
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(
        out.lines().last(),
        Some("ok"),
        "{:#}",
        vm.fail(&format!("the container's output at {mib} MiB: {out}"))
    );
    vm.poweroff(Duration::from_secs(60)).unwrap();
}

/// Boots `medium` one step below the minimum: the machine must print the one-line message
/// naming the minimum for this firmware, and no kernel panic before it.
fn says_too_little_below_minimum(name: &str, medium: &str, firmware: Firmware) {
    let min = minimum(firmware);
    let mib = min - step_mib(firmware);
    let mut vm = boot(name, medium, firmware, mib);
    let text = vm.expect(MESSAGE, BOOT).unwrap();
    assert!(
        !text.contains("Kernel panic"),
        "{:#}",
        vm.fail(&format!(
            "the kernel panicked at {mib} MiB before the message"
        ))
    );
    let rest = vm.expect("Stopped.", Duration::from_secs(30)).unwrap();
    let firmware_name = if firmware == Firmware::Uefi {
        "UEFI"
    } else {
        "BIOS"
    };
    assert!(
        rest.contains(&format!("{min} MiB of memory with {firmware_name}")),
        "{:#}",
        vm.fail(&format!(
            "the message does not name the {firmware_name} minimum ({min} MiB): {rest:?}"
        ))
    );
}

#[test]
fn iso_boots_at_the_bios_minimum() {
    boots_at_minimum("memory-iso-bios-min", "tinilinux.iso", Firmware::Bios);
}

#[test]
fn iso_says_too_little_memory_below_the_bios_minimum() {
    says_too_little_below_minimum("memory-iso-bios-below", "tinilinux.iso", Firmware::Bios);
}

#[test]
fn iso_boots_at_the_uefi_minimum() {
    boots_at_minimum("memory-iso-uefi-min", "tinilinux.iso", Firmware::Uefi);
}

#[test]
fn iso_says_too_little_memory_below_the_uefi_minimum() {
    says_too_little_below_minimum("memory-iso-uefi-below", "tinilinux.iso", Firmware::Uefi);
}

#[test]
fn disk_image_boots_at_the_bios_minimum() {
    boots_at_minimum("memory-disk-bios-min", "tinilinux-disk.img", Firmware::Bios);
}

#[test]
fn disk_image_says_too_little_memory_below_the_bios_minimum() {
    says_too_little_below_minimum(
        "memory-disk-bios-below",
        "tinilinux-disk.img",
        Firmware::Bios,
    );
}

#[test]
fn disk_image_says_too_little_memory_below_the_uefi_minimum() {
    says_too_little_below_minimum(
        "memory-disk-uefi-below",
        "tinilinux-disk.img",
        Firmware::Uefi,
    );
}

#[test]
fn disk_image_boots_at_the_uefi_minimum() {
    boots_at_minimum("memory-disk-uefi-min", "tinilinux-disk.img", Firmware::Uefi);
}

/// The live /init and the disk's early /init state the same minimums as grub.cfg, and
/// grub.cfg's SMBIOS check compares against the same sizes.
#[test]
fn init_scripts_state_the_grub_minimums() {
    let bios = minimum(Firmware::Bios);
    let uefi = minimum(Firmware::Uefi);
    assert_eq!(grub_minimum("min_last_kib_bios"), bios * 1024 - 1);
    assert_eq!(grub_minimum("min_last_kib_uefi"), uefi * 1024 - 1);
    let expected = format!("{bios} MiB of memory with BIOS (UEFI: {uefi} MiB)");
    for file in [
        "distro-build/rootfs/init",
        "distro-build/rootfs-disk/early-init/init",
    ] {
        let text = std::fs::read_to_string(repo_root().join(file)).unwrap();
        assert!(
            text.contains(&expected),
            "{file} does not say {expected:?} like distro-build/grub.cfg"
        );
    }
}
