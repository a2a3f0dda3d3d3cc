//! Boot tests: the real `out/tinilinux.iso` (built by `distro-build all`, which CI runs
//! before `cargo test`) boots under QEMU with TCG, once with SeaBIOS and once with OVMF, and
//! is driven through its serial console like a user would: the shell comes up, the kernel is
//! 6.1, `tinibox check` passes, eth0 gets QEMU's user-network address, and containers run
//! with PID 1, their own hostname, an enforced memory limit (cgroup v2 OOM kill), a pids
//! limit and real pivot_root. The ISO also has to fit its 8 MiB budget, and the tinibox it
//! ships is the static program without unwind tables that distro-build makes.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tinilinux_tests::qemu::{Firmware, Vm};

fn iso() -> PathBuf {
    tinilinux_tests::out_file("tinilinux.iso")
}

const BOOT: Duration = Duration::from_secs(240);
const CMD: Duration = Duration::from_secs(60);

fn boot_to_shell(name: &str, firmware: Firmware) -> Vm {
    let mut vm = Vm::boot(name, &iso(), firmware).unwrap();
    let boot_log = vm.expect("Welcome to TiniLinux", BOOT).unwrap();
    let banner = vm.expect("\n", BOOT).unwrap();
    assert!(
        banner.is_ascii() && banner.contains("(booted in "),
        "banner line {banner:?}"
    );
    // GRUB and the quiet kernel print no error on the way to the banner.
    assert!(
        !boot_log.contains("error:"),
        "{:#}",
        vm.fail("an error was printed before the banner")
    );
    vm.expect("# ", BOOT).unwrap();
    vm.prepare_shell().unwrap();
    vm
}

fn must(vm: &mut Vm, cmdline: &str) -> String {
    vm.run_ok(cmdline, CMD).unwrap_or_else(|e| panic!("{e:#}"))
}

/// Everything a user checks on a fresh boot; shared by the BIOS and UEFI tests.
fn check_live_system(vm: &mut Vm) {
    let release = must(vm, "uname -r");
    assert!(release.starts_with("6.1."), "uname -r = {release:?}");
    vm.check_clock().unwrap_or_else(|e| panic!("{e:#}"));

    let (status, out) = vm.run("tinibox check", CMD).unwrap();
    assert_eq!(
        status,
        0,
        "tinibox check failed:\n{out}\n{}",
        vm.fail("tinibox check")
    );

    // DHCP runs in the background at boot; give it a little while.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let addr = must(vm, "ip -4 addr show dev eth0");
        if addr.contains("inet 10.0.2.15/") {
            break;
        }
        if Instant::now() > deadline {
            panic!(
                "{:#}",
                vm.fail(&format!("eth0 got no DHCP address:\n{addr}"))
            );
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let resolv = must(vm, "cat /etc/resolv.conf");
    assert!(
        resolv.contains("nameserver 10.0.2.3"),
        "resolv.conf: {resolv}"
    );
    check_rough_edges(vm);
}

/// What a new user meets first (issue 21): the root in `df`, `mount` and /proc/mounts alike,
/// `logread`, the boot banner on the screen's console (tty1's text, read back from
/// /dev/vcs1) and console text the screen's font can draw (ASCII).
fn check_rough_edges(vm: &mut Vm) {
    // df -P /: one file system line, mounted on /, with a size, named as /proc/mounts names it.
    let df = must(vm, "df -P / | tail -n 1");
    let f: Vec<&str> = df.split_whitespace().collect();
    assert_eq!(f.len(), 6, "df -P /: {df:?}");
    assert_eq!(f[5], "/", "df -P /: {df:?}");
    let blocks: u64 = f[1].parse().unwrap_or_else(|_| panic!("df -P /: {df:?}"));
    let used: u64 = f[2].parse().unwrap_or_else(|_| panic!("df -P /: {df:?}"));
    assert!(blocks > 0 && used > 0, "df -P /: {df:?}");
    let mounts = must(vm, "cat /proc/mounts");
    assert!(
        mounts
            .lines()
            .any(|l| l.split_whitespace().take(2).eq([f[0], "/"])),
        "df names {} for /, /proc/mounts does not:\n{mounts}",
        f[0]
    );
    let mount = must(vm, "mount");
    assert!(
        mount
            .lines()
            .any(|l| l.starts_with(&format!("{} on / ", f[0]))),
        "mount does not list {} on /:\n{mount}",
        f[0]
    );
    // logread reads syslogd's ring buffer; the same messages reach /var/log/messages.
    // The kernel's earliest lines may leave its small log buffer before klogd starts on a
    // slow boot, so the test writes its own line and looks for it beside the kernel's.
    must(vm, "logger -t boottest hello-from-the-test");
    let log = must(vm, "logread");
    assert!(
        log.contains("kernel: ") && log.contains("boottest: hello-from-the-test"),
        "logread shows no kernel message or not the test's line:\n{log}"
    );
    // The follower copies the ring to the file line by line: give it a moment under load.
    let deadline = Instant::now() + Duration::from_secs(60);
    // The guest greps its own file: the whole file over a loaded serial line can arrive cut.
    loop {
        let (_, found) = vm
            .run(
                "grep -c 'boottest: hello-from-the-test' /var/log/messages",
                CMD,
            )
            .unwrap();
        if found.trim().parse::<u32>().is_ok_and(|n| n >= 1) {
            break;
        }
        if Instant::now() >= deadline {
            let (_, head) = vm.run("head -5 /var/log/messages", CMD).unwrap();
            panic!("/var/log/messages lacks the test's line; it starts:\n{head}");
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    // The banner with its boot time is on the screen (tty1) too, not only on the serial line.
    let screen = must(vm, "cat /dev/vcs1 | tr -s ' '");
    assert!(
        screen.contains("Welcome to TiniLinux 6.1.") && screen.contains("(booted in "),
        "tty1 shows no banner: {screen:?}"
    );
    // MOTD and issue in ASCII only: tr deletes tab, newline, CR and printable ASCII, and
    // counts what is left (the banner was checked on the serial line).
    for file in ["/etc/motd", "/etc/issue"] {
        let left = must(vm, &format!(r"tr -d '\11\12\15\40-\176' < {file} | wc -c"));
        assert_eq!(left.trim(), "0", "{file} has non-ASCII bytes");
    }
}

/// The image the live system ships in its own tinibox store.
const IMAGE: &str = "tinilinux";
/// A plain directory root for the pivot_root check: a copy of the live BusyBox userland.
const CTR: &str = "/tmp/ctr";

fn check_containers(vm: &mut Vm) {
    must(
        vm,
        &format!("mkdir -p {CTR}/proc {CTR}/dev {CTR}/sys {CTR}/tmp && cp -a /bin /sbin /usr /etc {CTR}/"),
    );
    let out = must(
        vm,
        &format!("tinibox run --rm {IMAGE} sh -c 'echo pid=$$' 2>&1"),
    );
    assert!(out.lines().any(|l| l == "pid=1"), "container PID: {out}");
    assert!(
        !out.contains("pivot_root is not possible"),
        "containers fell back to MS_MOVE + chroot instead of pivot_root:\n{out}"
    );

    let out = must(
        vm,
        &format!("tinibox run --rm --hostname boxed {IMAGE} hostname 2>&1"),
    );
    assert_eq!(
        out.lines().last(),
        Some("boxed"),
        "container hostname: {out}"
    );
    assert_eq!(
        must(vm, "hostname"),
        "tinilinux",
        "the host's hostname changed"
    );

    // A 64 MiB buffer filled by dd in a 16 MiB container: the cgroup v2 OOM killer ends it.
    let (status, out) = vm
        .run(
            &format!(
                "tinibox run --rm -m 16m {IMAGE} dd if=/dev/zero of=/dev/null bs=64M count=1 2>&1"
            ),
            CMD,
        )
        .unwrap();
    assert_eq!(status, 137, "memory hog was not OOM-killed: {out}");

    // With at most 4 processes, the fifth fork fails.
    let (status, out) = vm
        .run(
            &format!("tinibox run --rm --pids-limit 4 {IMAGE} sh -c 'for i in 1 2 3 4 5 6; do sleep 3 & done; wait' 2>&1"),
            CMD,
        )
        .unwrap();
    assert!(
        out.contains("can't fork") || out.contains("Resource temporarily unavailable"),
        "pids limit not enforced (status {status}): {out}"
    );

    // Real pivot_root: the live system's root must allow it (the initramfs itself does not),
    // checked with BusyBox's own pivot_root in a private mount namespace …
    let pivot = must(
        vm,
        &format!(
            "unshare -m sh -c 'mount --make-rprivate / && mount --bind {CTR} {CTR} && cd {CTR} && mkdir -p .old && pivot_root . .old && echo pivoted-$(ls /.old/etc/hostname)' 2>&1"
        ),
    );
    assert_eq!(
        pivot.lines().last(),
        Some("pivoted-/.old/etc/hostname"),
        "pivot_root on the live root: {pivot}"
    );
    // … and tinibox did not fall back to MS_MOVE + chroot.
    let out = must(
        vm,
        &format!("tinibox run --rm {IMAGE} ls /proc/1/root/ 2>&1"),
    );
    assert!(
        !out.contains("pivot_root is not possible"),
        "tinibox fell back to MS_MOVE + chroot:\n{out}"
    );
    // … and, positively (a fallback path may print nothing): the host's mounts are detached
    // from a container's mount namespace, which MS_MOVE + chroot leaves them in.
    let probe = must(vm, &tinilinux_tests::pivot_root_probe(IMAGE));
    assert_eq!(
        probe.lines().last(),
        Some("host-mount-detached"),
        "tinibox did not use pivot_root: {probe}"
    );
    // No container left behind (the services started at boot are not the test's).
    let ps = must(vm, "tinibox ps -a --format '{{.Names}}\t{{.Labels}}' 2>&1");
    let left: Vec<&str> = ps
        .lines()
        .filter(|l| !l.contains("org.tinilinux.service="))
        .collect();
    assert!(left.is_empty(), "containers left behind:\n{ps}");
}

/// Docker's `stats`, `pause` and `unpause` on TiniLinux's own cgroup v2 (the test hosts have
/// hybrid cgroups, so only a boot reaches these code paths): the memory and process figures
/// come from the container's cgroup, and `pause` freezes it (cgroup.events says `frozen 1`).
fn check_stats_and_pause_on_cgroup_v2(vm: &mut Vm) {
    must(
        vm,
        &format!("tinibox run -d --name v2 {IMAGE} sleep 300 >/dev/null"),
    );
    let stats = must(
        vm,
        "tinibox stats --no-stream --format '{{.Name}}|{{.MemUsage}}|{{.PIDs}}' v2",
    );
    let fields: Vec<&str> = stats.trim().split('|').collect();
    assert_eq!(fields.len(), 3, "stats: {stats}");
    assert_eq!(fields[0], "v2", "stats: {stats}");
    assert_eq!(
        fields[2], "1",
        "one process (sleep) in the container: {stats}"
    );
    assert!(
        !fields[1].starts_with("0B /"),
        "no memory use read from the cgroup: {stats}"
    );
    let events = "cat /sys/fs/cgroup$(sed -n 's/^0:://p' /proc/$(tinibox inspect -f '{{.State.Pid}}' v2)/cgroup)/cgroup.events";
    must(vm, "tinibox pause v2");
    assert_eq!(
        must(vm, "tinibox inspect -f '{{.State.Status}}' v2").trim(),
        "paused"
    );
    assert!(
        must(vm, events).contains("frozen 1"),
        "pause did not freeze the cgroup"
    );
    must(vm, "tinibox unpause v2");
    assert_eq!(
        must(vm, "tinibox inspect -f '{{.State.Status}}' v2").trim(),
        "running"
    );
    assert!(
        must(vm, events).contains("frozen 0"),
        "unpause did not thaw the cgroup"
    );
    must(vm, "tinibox rm -f v2 >/dev/null");
}

#[test]
fn iso_boots_with_seabios_and_runs_containers() {
    let mut vm = boot_to_shell("boot-seabios", Firmware::Bios);
    check_live_system(&mut vm);
    check_containers(&mut vm);
    check_stats_and_pause_on_cgroup_v2(&mut vm);
    vm.poweroff(Duration::from_secs(60)).unwrap();
}

#[test]
fn iso_boots_with_ovmf_and_runs_containers() {
    let mut vm = boot_to_shell("boot-ovmf", Firmware::Uefi);
    check_live_system(&mut vm);
    check_containers(&mut vm);
    vm.poweroff(Duration::from_secs(60)).unwrap();
}

/// The ISO's size budget: at most 8 MiB (BENCHMARKS.md lists where the bytes go).
#[test]
fn iso_fits_in_8_mib() {
    let iso = iso();
    let size = std::fs::metadata(&iso).unwrap().len();
    assert!(
        size <= 8 * 1024 * 1024,
        "{} is {size} bytes, over the 8 MiB budget ({} bytes too many)",
        iso.display(),
        size - 8 * 1024 * 1024
    );
}

/// The tinibox of the outputs (`usr/bin/tinibox` of out/tinilinux-rootfs.tar, the same rootfs
/// as the ISO's) is what `tinibox_static::cargo_static` ships: static, without the unwind
/// tables (`.eh_frame`, `.gcc_except_table`, the `PT_GNU_EH_FRAME` header), and it runs.
#[test]
fn the_shipped_tinibox_is_static_without_unwind_tables() {
    use std::process::Command;
    let rootfs = tinilinux_tests::out_file("tinilinux-rootfs.tar");
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("tar")
        .arg("-xf")
        .arg(&rootfs)
        .arg("-C")
        .arg(dir.path())
        .arg("usr/bin/tinibox")
        .output()
        .unwrap();
    assert!(out.status.success(), "tar: {out:?}");
    let binary = dir.path().join("usr/bin/tinibox");
    let readelf = |flag: &str| {
        let out = Command::new("readelf")
            .args(["-W", flag])
            .arg(&binary)
            .output()
            .unwrap();
        assert!(out.status.success(), "readelf {flag}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let sections = readelf("-S");
    assert!(sections.contains(" .text "), "{sections}");
    for gone in [" .eh_frame ", " .eh_frame_hdr ", " .gcc_except_table "] {
        assert!(
            !sections.contains(gone),
            "{gone} is still there:\n{sections}"
        );
    }
    let headers = readelf("-l");
    assert!(headers.contains("LOAD"), "{headers}");
    assert!(!headers.contains("INTERP"), "not static:\n{headers}");
    assert!(!headers.contains("GNU_EH_FRAME"), "{headers}");
    let version = Command::new(&binary).arg("--version").output().unwrap();
    assert!(version.status.success(), "{version:?}");
    assert!(
        String::from_utf8_lossy(&version.stdout).starts_with("tinibox "),
        "{version:?}"
    );
}
