//! TiniLinux on a hard drive, end to end under QEMU (TCG only), through the serial console
//! like a user: `out/tinilinux-disk.img` boots with SeaBIOS and with OVMF, its root is the ext4
//! partition mounted read-write, a file survives `reboot`, `tinibox run` works with real
//! pivot_root; `root=` naming a missing device gives the rescue shell and a clear message;
//! and from the live ISO (under OVMF, with the UEFI variables kept for the VM's whole life as a
//! user's VM keeps them), `tinilinux-install` installs onto a blank disk that then boots on its
//! own (SeaBIOS and OVMF), and refuses a mounted or too-small disk, leaving it untouched.
//!
//! Every test boots a copy of the image. The console transcript of each VM is written to
//! `target/qemu-transcripts/disk-<test>.log` (the failure message names it).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tinilinux_tests::qemu::{self, Firmware};
use tinilinux_tests::{out_file, require_qemu, require_tool};

const BANNER: &str = "Welcome to TiniLinux";
const BOOT_TIMEOUT: Duration = Duration::from_secs(240);
const CMD_TIMEOUT: Duration = Duration::from_secs(120);

/// QEMU under TCG is CPU-bound and the machine has 2 cores: one VM at a time.
fn vm_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A private copy of the disk image for one test.
fn disk_copy(dir: &Path) -> PathBuf {
    let src = out_file("tinilinux-disk.img");
    let dst = dir.join("disk.img");
    // cp keeps the image sparse.
    let st = Command::new("cp")
        .arg("--sparse=always")
        .arg(&src)
        .arg(&dst)
        .status()
        .expect("cp runs");
    assert!(st.success(), "copying {} failed", src.display());
    dst
}

fn blank_disk(dir: &Path, name: &str, mib: u64) -> PathBuf {
    let p = dir.join(name);
    let f = std::fs::File::create(&p).unwrap();
    f.set_len(mib << 20).unwrap();
    p
}

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// A QEMU VM for these tests: the shared serial-console driver ([`qemu::Vm`]) started with
/// the disk tests' machine (1 GiB, virtio NIC unless told otherwise, extra drives, and OVMF
/// variables that may persist across boots like a real VM's NVRAM). Reboots are allowed.
struct Vm {
    console: qemu::Vm,
    _firmware_dir: tempfile::TempDir,
    /// Root's password, when the serial console asks for a login (a system installed by
    /// tinilinux-install with a password).
    password: Option<String>,
}

impl Vm {
    /// Starts QEMU (TCG, 1 GiB, serial on stdio, no display) with `extra` arguments.
    fn start(name: &str, fw: Firmware, extra: &[String]) -> Vm {
        Vm::start_with_vars(name, fw, extra, None)
    }

    /// [`Vm::start`] keeping OVMF's variables in `vars` (created from OVMF_VARS.fd when
    /// missing), as a VM that keeps its NVRAM between boots does.
    fn start_with_vars(name: &str, fw: Firmware, extra: &[String], vars: Option<&Path>) -> Vm {
        let qemu_bin = require_qemu();
        let firmware_dir = tempfile::tempdir().expect("temporary folder for OVMF variables");
        let mut cmd = Command::new(qemu_bin);
        cmd.args(["-accel", "tcg", "-m", "1024", "-smp", "1"])
            .args(["-display", "none", "-monitor", "none", "-serial", "stdio"]);
        if !extra.iter().any(|a| a == "-nic") {
            cmd.args(["-nic", "user,model=virtio-net-pci"]);
        }
        if fw == Firmware::Uefi {
            let code = qemu::ovmf_code().expect("the pinned OVMF firmware");
            let vars = vars
                .map(Path::to_path_buf)
                .unwrap_or_else(|| firmware_dir.path().join("OVMF_VARS.fd"));
            if !vars.exists() {
                let template = qemu::ovmf_vars().expect("the pinned OVMF variable store");
                std::fs::copy(template, &vars).expect("copy OVMF_VARS.fd");
            }
            qemu::pflash_args(&mut cmd, &code, &vars);
        }
        cmd.args(extra);
        let console =
            qemu::Vm::spawn(&format!("disk-{name}"), cmd).unwrap_or_else(|e| panic!("{e:#}"));
        Vm {
            console,
            _firmware_dir: firmware_dir,
            password: None,
        }
    }

    /// Waits for `needle` on the console.
    fn expect(&mut self, needle: &str, timeout: Duration) {
        if let Err(e) = self.console.expect(needle, timeout) {
            panic!("{e:#}");
        }
    }

    /// Types `line` and Enter.
    fn send(&mut self, line: &str) {
        if let Err(e) = self.console.send(&format!("{line}\n")) {
            panic!("{e:#}");
        }
    }

    /// Waits for the banner, then makes the shell on the console ready for commands.
    fn wait_shell(&mut self) {
        self.expect(BANNER, BOOT_TIMEOUT);
        if let Some(password) = self.password.clone() {
            self.expect("login: ", BOOT_TIMEOUT);
            self.send("root");
            self.expect("Password: ", CMD_TIMEOUT);
            self.send(&password);
        }
        self.ready_shell();
    }

    /// Makes the shell at the console's prompt ready for [`Vm::sh`] (no echo, quiet kernel).
    fn ready_shell(&mut self) {
        if let Err(e) = self.console.prepare_shell() {
            panic!("{e:#}");
        }
    }

    /// Runs `cmd` in the guest shell; returns (exit status, output).
    fn sh(&mut self, cmd: &str) -> (i32, String) {
        self.console
            .run(cmd, CMD_TIMEOUT)
            .unwrap_or_else(|e| panic!("{e:#}"))
    }

    /// Runs `cmd`, which must exit 0; returns its output.
    fn ok(&mut self, cmd: &str) -> String {
        self.console
            .run_ok(cmd, CMD_TIMEOUT)
            .unwrap_or_else(|e| panic!("{e:#}"))
    }

    /// Waits for QEMU to exit by itself (after `poweroff`).
    fn wait_exit(&mut self, timeout: Duration) {
        if let Err(e) = self.console.wait_exit(timeout) {
            panic!("{e:#}");
        }
    }
}

/// The root password the installer tests give the installed system.
const ROOT_PASSWORD: &str = "install-test-7";

/// `openssl passwd -6 PASSWORD`: a SHA-512 crypt(3) hash with a random salt.
fn sha512_crypt(password: &str) -> String {
    let out = Command::new("openssl")
        .args(["passwd", "-6", password])
        .output()
        .expect("openssl runs (scripts/install-deps.sh installs it)");
    assert!(out.status.success(), "openssl passwd -6 failed");
    let hash = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(hash.starts_with("$6$"), "{hash}");
    hash
}

fn virtio_disk(path: &Path) -> Vec<String> {
    vec![
        "-drive".into(),
        format!("file={},format=raw,if=virtio", path.display()),
    ]
}

/// Checks of a booted installed system: ext4 root rw, the firmware, a container with real
/// pivot_root, and a file written before reboot is there after it.
fn check_installed_system(vm: &mut Vm, fw: Firmware) {
    let mounts = vm.ok("cat /proc/mounts");
    let root_line = mounts
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("/") && !l.starts_with("rootfs"))
        .unwrap_or_else(|| panic!("no / in /proc/mounts:\n{mounts}"))
        .to_string();
    let f: Vec<&str> = root_line.split_whitespace().collect();
    assert!(
        f[0].starts_with("/dev/") && f[0].ends_with('3'),
        "{root_line}"
    );
    assert_eq!(f[2], "ext4", "{root_line}");
    assert!(
        f[3].split(',').any(|o| o == "rw"),
        "root not rw: {root_line}"
    );
    // df reports the same root (issue 21: df, mount and /proc/mounts agree).
    let df = vm.ok("df -P / | tail -n 1");
    assert_eq!(
        df.split_whitespace().next(),
        Some(f[0]),
        "df -P / names another root than /proc/mounts ({root_line}): {df}"
    );
    assert_eq!(df.split_whitespace().last(), Some("/"), "{df}");
    let efi = vm.sh("test -d /sys/firmware/efi").0 == 0;
    assert_eq!(
        efi,
        fw == Firmware::Uefi,
        "booted with {fw:?} but /sys/firmware/efi says {efi}"
    );

    // Persistence across reboot.
    let token = format!("persist-{}", std::process::id());
    vm.ok(&format!("echo {token} > /root/persist.txt && sync"));
    // The tinibox image store lives on the ext4 root too (beside the container records and
    // roots, state/ and containers/, which the services started at boot change).
    let store = "find /var/lib/tinibox -type f -not -path '/var/lib/tinibox/state/*' -not -path '/var/lib/tinibox/containers/*' | sort | xargs md5sum";
    // rcS starts the services (`tinibox service up --boot`) after the shell is ready, in the
    // background; their first store access makes /var/lib/tinibox/lock. Wait for them on each
    // boot, so both snapshots are taken of a store nobody is writing.
    wait_for_boot_services(vm);
    let images_before = vm.ok(store);
    assert!(!images_before.is_empty(), "/var/lib/tinibox holds no files");
    vm.send("reboot");
    vm.wait_shell();
    assert_eq!(vm.ok("cat /root/persist.txt"), token);
    wait_for_boot_services(vm);
    assert_eq!(
        vm.ok(store),
        images_before,
        "the tinibox store changed across reboot"
    );
    let after = vm.ok("grep ' / ' /proc/mounts");
    assert!(after.contains(" ext4 rw"), "{after}");
    // A clean shutdown last time: the kernel did not have to replay a journal.
    let dmesg = vm.ok("dmesg | grep -i 'EXT4-fs' || true");
    assert!(
        !dmesg.contains("recovery complete"),
        "unclean shutdown: {dmesg}"
    );
}

/// Waits (up to 3 minutes) until the example service baked into the image (services/web.json)
/// is up: then rcS's `tinibox service up --boot` is done with the store.
fn wait_for_boot_services(vm: &mut Vm) {
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    loop {
        let listed = vm.ok("tinibox service ls");
        if listed
            .lines()
            .any(|l| l.contains("web") && l.contains("up"))
        {
            return;
        }
        if std::time::Instant::now() >= deadline {
            let log = vm.ok("logread | grep tinibox-services || true");
            panic!("the boot services did not come up: `tinibox service ls` says\n{listed}\nboot log:\n{log}");
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// `tinibox run` on the installed system: PID 1 inside, real pivot_root (no fallback
/// warning, and the host's mounts detached from the container's mount namespace). Returns the problem, if any, so a test can check every firmware first.
fn container_problem(vm: &mut Vm) -> Option<String> {
    vm.ok("rm -rf /tmp/c && mkdir -p /tmp/c/bin /tmp/c/proc /tmp/c/dev /tmp/c/sys /tmp/c/tmp && cp /bin/busybox /tmp/c/bin/ && ln -s busybox /tmp/c/bin/sh");
    let (code, out) = vm.sh("tinibox run --rm /tmp/c /bin/sh -c 'echo pid=$$' 2>&1");
    if code != 0 || !out.contains("pid=1") {
        return Some(format!("tinibox run exited {code}: {out}"));
    }
    if out.contains("pivot_root is not possible") {
        return Some(format!("tinibox fell back to MS_MOVE + chroot: {out}"));
    }
    // Positively (a fallback path may print nothing): the host's mounts are detached from a
    // container's mount namespace, which MS_MOVE + chroot leaves them in.
    let (code, out) = vm.sh(&tinilinux_tests::pivot_root_probe("tinilinux"));
    if code != 0 || out.lines().last() != Some("host-mount-detached") {
        return Some(format!(
            "tinibox did not use pivot_root (exit {code}): {out}"
        ));
    }
    None
}

fn boot_disk_image(name: &str, fw: Firmware) {
    let _lock = vm_lock();
    let dir = tempfile::tempdir().unwrap();
    let disk = disk_copy(dir.path());
    let mut vm = Vm::start(name, fw, &virtio_disk(&disk));
    vm.wait_shell();
    check_installed_system(&mut vm, fw);
    if let Some(problem) = container_problem(&mut vm) {
        panic!(
            "{problem}; transcript: {}",
            vm.console.save_transcript().display()
        );
    }
}

#[test]
fn disk_image_boots_with_seabios() {
    boot_disk_image("disk_image_seabios", Firmware::Bios);
}

#[test]
fn disk_image_boots_with_ovmf() {
    boot_disk_image("disk_image_ovmf", Firmware::Uefi);
}

/// Extracts a file from the image's root partition with debugfs.
fn extract_from_root(disk: &Path, file: &str, dest: &Path, dir: &Path) {
    require_tool("debugfs");
    let part = dir.join("root.part");
    if !part.exists() {
        let st = Command::new("dd")
            .arg(format!("if={}", disk.display()))
            .arg(format!("of={}", part.display()))
            .args(["bs=1M", "skip=66", "status=none"])
            .status()
            .unwrap();
        assert!(st.success());
    }
    let st = Command::new("debugfs")
        .arg("-R")
        .arg(format!("dump {file} {}", dest.display()))
        .arg(&part)
        .output()
        .unwrap();
    assert!(dest.is_file(), "debugfs could not dump {file}: {st:?}");
}

#[test]
fn missing_root_device_gives_rescue_shell() {
    let _lock = vm_lock();
    let dir = tempfile::tempdir().unwrap();
    let disk = disk_copy(dir.path());
    let kernel = dir.path().join("vmlinuz");
    let initrd = dir.path().join("initrd.img");
    extract_from_root(&disk, "/boot/vmlinuz", &kernel, dir.path());
    extract_from_root(&disk, "/boot/initrd.img", &initrd, dir.path());
    let mut args = virtio_disk(&disk);
    args.extend([
        "-kernel".into(),
        kernel.display().to_string(),
        "-initrd".into(),
        initrd.display().to_string(),
        "-append".into(),
        "root=UUID=00000000-dead-4bad-8bad-000000000000 rootdelay=3 console=ttyS0,115200".into(),
    ]);
    let mut vm = Vm::start("missing_root", Firmware::Bios, &args);
    vm.expect(
        "root device UUID=00000000-dead-4bad-8bad-000000000000 did not appear within 3s",
        BOOT_TIMEOUT,
    );
    vm.expect("starting a rescue shell", Duration::from_secs(10));
    // The rescue shell answers, and the kernel did not panic.
    vm.ready_shell();
    let out = vm.ok("echo rescue-$((6*7)); ls /sys/class/block");
    assert!(out.contains("rescue-42"), "{out}");
    assert!(out.contains("vda3"), "{out}");
    assert!(!vm.console.transcript().contains("Kernel panic"));
}

/// Boots the live ISO with `disk` attached (plus `extra` drives) and a shell.
fn live_iso(name: &str, disks: &[&Path]) -> Vm {
    live_iso_with(name, disks, Firmware::Bios, None)
}

/// [`live_iso`] with a firmware and, for OVMF, a variables file that outlives the VM.
fn live_iso_with(name: &str, disks: &[&Path], fw: Firmware, vars: Option<&Path>) -> Vm {
    live_iso_args(name, disks, fw, vars, &[])
}

/// [`live_iso_with`] with extra QEMU arguments.
fn live_iso_args(
    name: &str,
    disks: &[&Path],
    fw: Firmware,
    vars: Option<&Path>,
    extra: &[String],
) -> Vm {
    let iso = out_file("tinilinux.iso");
    let mut args: Vec<String> = extra.to_vec();
    args.extend([
        "-cdrom".into(),
        iso.display().to_string(),
        "-boot".into(),
        "d".into(),
    ]);
    for d in disks {
        args.extend(virtio_disk(d));
    }
    let mut vm = Vm::start_with_vars(name, fw, &args, vars);
    vm.wait_shell();
    vm
}

#[test]
fn installer_installs_to_a_blank_disk_that_boots_alone() {
    let _lock = vm_lock();
    let dir = tempfile::tempdir().unwrap();
    let disk = blank_disk(dir.path(), "blank.img", 1024);
    // One VM with persistent UEFI variables, as a user has: it boots the live ISO with OVMF
    // (which records the CD as its boot entry), installs, and later boots the disk alone.
    let nvram = dir.path().join("OVMF_VARS.fd");
    // Root's password on the installed system, hashed by OpenSSL (SHA-512 crypt), not by us.
    let hash = sha512_crypt(ROOT_PASSWORD);
    {
        let mut vm = live_iso_with("install_live", &[&disk], Firmware::Uefi, Some(&nvram));
        // The live system boots without the installer's payload: it is read from the medium.
        assert_eq!(vm.sh("test -e /usr/lib/tinilinux/disktools").0, 1);
        let out = vm.ok(&format!(
            "tinilinux-install --yes --root-password-hash '{hash}' /dev/vda 2>&1"
        ));
        assert!(
            out.contains("done. TiniLinux is installed on /dev/vda"),
            "{out}"
        );
        assert!(out.contains("root's password is set"), "{out}");
        assert!(out.contains("boot from /dev/vda"), "{out}");
        assert_eq!(
            vm.sh("test -e /run/tinilinux-install").0,
            1,
            "the installer left its work folder"
        );
        vm.send("poweroff");
        vm.wait_exit(Duration::from_secs(120));
    }
    let mut problems = Vec::new();
    for (fw, name) in [
        (Firmware::Bios, "installed_seabios"),
        (Firmware::Uefi, "installed_ovmf"),
    ] {
        let mut vm = Vm::start_with_vars(name, fw, &virtio_disk(&disk), Some(&nvram));
        // The serial console asks for root's password now, and takes the one hashed above.
        vm.password = Some(ROOT_PASSWORD.to_string());
        vm.wait_shell();
        assert!(vm
            .ok("cat /etc/tinilinux-installed")
            .starts_with("installed-from-live"));
        assert_eq!(
            vm.ok("grep '^root:' /etc/shadow | cut -d: -f2"),
            hash,
            "root's hash in the installed /etc/shadow"
        );
        assert_eq!(vm.ok("stat -c %a /etc/shadow"), "600");
        // The installed disk carries the disk tools it checks its root with (from the medium).
        let fsck = vm.ok("/usr/lib/tinilinux/disktools/e2fsck -V 2>&1");
        assert!(fsck.contains("e2fsck"), "{fsck}");
        check_installed_system(&mut vm, fw);
        if let Some(problem) = container_problem(&mut vm) {
            problems.push(format!(
                "{fw:?}: {problem} ({})",
                vm.console.save_transcript().display()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Root's password field in the installed root on the guest's `/dev/vda3`, and whether the
/// installed root holds an SSH host key and asks for a login on the serial console.
fn installed_root_facts(vm: &mut Vm) -> (String, bool, String) {
    vm.ok("mkdir -p /mnt/inst && mount /dev/vda3 /mnt/inst");
    let field = vm.ok("grep '^root:' /mnt/inst/etc/shadow | cut -d: -f2");
    let host_key = vm.sh("ls /mnt/inst/etc/dropbear/*_host_key").0 == 0;
    let serial = vm.ok("grep '^ttyS0::' /mnt/inst/etc/inittab");
    vm.ok("umount /mnt/inst");
    (field, host_key, serial)
}

/// The two other ways root gets its password: typed at the installer's prompt (hashed in
/// the guest; the hash is checked with OpenSSL on the host), and locked when the live root
/// has an SSH key (the installed system makes its own host key: the live one is not copied).
#[test]
fn installer_asks_for_the_root_password_or_locks_it_for_an_ssh_key() {
    let _lock = vm_lock();
    let dir = tempfile::tempdir().unwrap();
    let disk = blank_disk(dir.path(), "target.img", 512);
    let mut vm = live_iso("install_password", &[&disk]);

    // Asked on the terminal (the serial console), twice; a mismatch is asked again.
    vm.send("tinilinux-install --yes --force /dev/vda");
    vm.expect("Root password for the installed system: ", CMD_TIMEOUT);
    vm.send(ROOT_PASSWORD);
    vm.expect("Again: ", CMD_TIMEOUT);
    vm.send("something-else");
    vm.expect("the two passwords differ", CMD_TIMEOUT);
    vm.expect("Root password for the installed system: ", CMD_TIMEOUT);
    vm.send(ROOT_PASSWORD);
    vm.expect("Again: ", CMD_TIMEOUT);
    vm.send(ROOT_PASSWORD);
    vm.expect("root's password is set", BOOT_TIMEOUT);
    vm.expect("done. TiniLinux is installed on /dev/vda", BOOT_TIMEOUT);
    vm.ready_shell();
    let (field, _, serial) = installed_root_facts(&mut vm);
    let salt = field
        .strip_prefix("$6$")
        .and_then(|rest| rest.split('$').next())
        .unwrap_or_else(|| panic!("not a SHA-512 crypt hash: {field:?}"));
    let out = Command::new("openssl")
        .args(["passwd", "-6", "-salt", salt, ROOT_PASSWORD])
        .output()
        .expect("openssl runs");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        field,
        "the installed hash is not the typed password's"
    );
    assert!(serial.contains("getty"), "serial console: {serial}");

    // With root's SSH key on the live system (and a host key the live session made), no
    // prompt: password login is locked, and the host key stays behind.
    vm.ok("mkdir -p /root/.ssh /etc/dropbear && echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIN6fzPRcnhXyII6ExjxSop8rQYjw20DbIa0GZhAaoDA7 t@h' > /root/.ssh/authorized_keys && dropbearkey -t ed25519 -f /etc/dropbear/dropbear_ed25519_host_key >/dev/null 2>&1");
    let out = vm.ok("tinilinux-install --yes --force /dev/vda < /dev/null 2>&1");
    assert!(out.contains("password login is locked"), "{out}");
    let (field, host_key, _) = installed_root_facts(&mut vm);
    assert_eq!(field, "!", "root's password field with an SSH key");
    assert!(!host_key, "the live session's SSH host key was copied");
}

#[test]
fn installer_refuses_bad_disks_and_arguments_with_its_exit_codes() {
    let _lock = vm_lock();
    let dir = tempfile::tempdir().unwrap();
    let small = blank_disk(dir.path(), "small.img", 64);
    let used = blank_disk(dir.path(), "used.img", 512);
    let mut vm = live_iso("install_refusals", &[&small, &used]);
    // Too small: refused, exit 3, nothing written.
    let before = sha256(&small);
    let (code, out) = vm.sh("tinilinux-install --yes /dev/vda 2>&1");
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("too small") && out.contains("nothing was written"),
        "{out}"
    );
    // Mounted: a file system on the whole second disk, mounted → refused even with --force.
    vm.ok("mkfs.vfat /dev/vdb >/dev/null && mkdir -p /mnt/used && mount /dev/vdb /mnt/used && echo keep > /mnt/used/keep.txt && sync");
    let (code, out) = vm.sh("tinilinux-install --yes --force /dev/vdb 2>&1");
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("is mounted"), "{out}");
    assert_eq!(vm.ok("cat /mnt/used/keep.txt"), "keep");
    vm.ok("umount /mnt/used");
    // Holding data, not mounted: refused without --force.
    let (code, out) = vm.sh("tinilinux-install --yes /dev/vdb 2>&1");
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("use --force"), "{out}");
    // Root's password: a hash that is not crypt(3), a yescrypt one (TiniLinux's login cannot
    // check it), or none at all without a terminal to ask on or an SSH key: exit 2.
    for (args, says) in [
        ("--root-password-hash plain", "not a crypt(3) hash"),
        ("--root-password-hash '$y$j9T$abc$def'", "yescrypt"),
        ("", "root would have no password"),
    ] {
        let (code, out) = vm.sh(&format!(
            "tinilinux-install --yes --force {args} /dev/vdb < /dev/null 2>&1"
        ));
        assert_eq!(code, 2, "{args}: {out}");
        assert!(out.contains(says), "{args}: {out}");
    }
    // Asked to confirm and answered no: nothing written.
    let hash = sha512_crypt(ROOT_PASSWORD);
    let (code, out) = vm.sh(&format!(
        "echo no | tinilinux-install --force --root-password-hash '{hash}' /dev/vdb 2>&1"
    ));
    assert_eq!(code, 4, "{out}");
    vm.ok("mount /dev/vdb /mnt/used && cat /mnt/used/keep.txt && umount /mnt/used");
    // Usage errors: exit 2, with the usage line.
    let (code, out) = vm.sh("tinilinux-install --bogus /dev/vdb 2>&1");
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("unknown option --bogus") && out.contains("usage:"),
        "{out}"
    );
    let (code, out) = vm.sh("tinilinux-install 2>&1");
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("usage:"), "{out}");
    // A failure after the disk checks and before anything is written (the kernel named does
    // not exist): exit 1, and the disk keeps its data.
    let (code, out) =
        vm.sh("tinilinux-install --yes --force --kernel /no/such/kernel /dev/vdb 2>&1");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("cannot find the kernel"), "{out}");
    assert_eq!(
        vm.ok("mount /dev/vdb /mnt/used && cat /mnt/used/keep.txt && umount /mnt/used"),
        "keep"
    );
    drop(vm);
    assert_eq!(sha256(&small), before, "the too-small disk was modified");
}

/// A VM whose UEFI variables only know the live CD (it booted the ISO, the disk was never
/// attached) still boots the disk image once the CD is gone: OVMF falls back to its shell,
/// which runs the ESP's startup.nsh and starts GRUB. (No network card: with one, OVMF first
/// tries PXE and HTTP boot, which take minutes under TCG before the shell.)
#[test]
fn disk_image_boots_with_ovmf_whose_nvram_only_knows_the_cd() {
    let _lock = vm_lock();
    let dir = tempfile::tempdir().unwrap();
    let nvram = dir.path().join("OVMF_VARS.fd");
    {
        let _live = live_iso_args(
            "stale_nvram_live",
            &[],
            Firmware::Uefi,
            Some(&nvram),
            &["-nic".into(), "none".into()],
        );
    }
    let disk = disk_copy(dir.path());
    let mut args = virtio_disk(&disk);
    args.extend(["-nic".into(), "none".into()]);
    let mut vm = Vm::start_with_vars("stale_nvram_disk", Firmware::Uefi, &args, Some(&nvram));
    vm.expect(
        "TiniLinux: starting GRUB from the EFI system partition",
        BOOT_TIMEOUT,
    );
    vm.wait_shell();
    let root = vm.ok("grep ' / ' /proc/mounts");
    assert!(root.contains(" ext4 rw"), "{root}");
}
