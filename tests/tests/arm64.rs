//! The arm64 TiniLinux (`distro-build --arch arm64 all`, outputs in `out/arm64/`) boots its
//! UEFI ISO under `qemu-system-aarch64 -M virt -cpu cortex-a57` with TCG and AAVMF, driven
//! through the PL011 serial console: GRUB's arm64 EFI image starts the kernel, rcS prints the
//! banner, the kernel is an aarch64 6.1, `tinibox check` passes and containers run with PID 1
//! and their own hostname (tinibox's aarch64 seccomp filter, namespaces and pivot_root on a
//! real arm64 kernel), a memory limit OOM-kills (137) and a pids limit stops forks on cgroup v2.
//! The ISO fits the same 8 MiB budget as x86_64's.
//!
//! These tests need the arm64 outputs: CI's `./test.sh` builds them (see test.sh).

use std::path::PathBuf;
use std::time::Duration;

use tinilinux_tests::qemu::{arm64_command, Vm};

fn iso() -> PathBuf {
    tinilinux_tests::out_file("arm64/tinilinux.iso")
}

/// AAVMF and the kernel under TCG emulating another architecture: slower than x86_64 boots.
const BOOT: Duration = Duration::from_secs(600);
const CMD: Duration = Duration::from_secs(120);

fn must(vm: &mut Vm, cmdline: &str) -> String {
    vm.run_ok(cmdline, CMD).unwrap_or_else(|e| panic!("{e:#}"))
}

#[test]
fn arm64_iso_boots_with_aavmf_and_runs_containers() {
    let vars = tempfile::tempdir().unwrap();
    let cmd = arm64_command(&iso(), 512, vars.path()).unwrap();
    let mut vm = Vm::spawn("arm64-aavmf", cmd).unwrap();
    let boot_log = vm.expect("Welcome to TiniLinux", BOOT).unwrap();
    let banner = vm.expect("\n", BOOT).unwrap();
    assert!(banner.contains("(booted in "), "banner line {banner:?}");
    assert!(
        !boot_log.contains("error:"),
        "{:#}",
        vm.fail("an error was printed before the banner")
    );
    vm.prepare_shell().unwrap();

    assert_eq!(must(&mut vm, "uname -m"), "aarch64");
    let release = must(&mut vm, "uname -r");
    assert!(release.starts_with("6.1."), "uname -r = {release:?}");
    let (status, out) = vm.run("tinibox check", CMD).unwrap();
    assert_eq!(status, 0, "tinibox check failed:\n{out}");

    // Every `tinibox run` installs the default seccomp profile, compiled for the native ABI:
    // a filter for the wrong architecture would kill the container's first system call.
    let out = must(
        &mut vm,
        "tinibox run --rm tinilinux sh -c 'echo pid=$$; uname -m' 2>&1",
    );
    assert!(out.lines().any(|l| l == "pid=1"), "container PID: {out}");
    assert!(out.lines().any(|l| l == "aarch64"), "container arch: {out}");
    assert!(
        !out.contains("pivot_root is not possible"),
        "containers fell back to MS_MOVE + chroot instead of pivot_root:\n{out}"
    );
    let out = must(
        &mut vm,
        "tinibox run --rm --hostname boxed tinilinux hostname 2>&1",
    );
    assert_eq!(
        out.lines().last(),
        Some("boxed"),
        "container hostname: {out}"
    );
    assert_eq!(must(&mut vm, "hostname"), "tinilinux");

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
    let controllers = must(&mut vm, "cat /sys/fs/cgroup/cgroup.controllers");
    for controller in ["memory", "pids"] {
        assert!(
            controllers.split_whitespace().any(|c| c == controller),
            "cgroup v2 lacks {controller}: {controllers:?}"
        );
    }
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
