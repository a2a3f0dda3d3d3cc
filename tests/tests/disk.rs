//! TiniLinux on a hard drive, end to end under QEMU (TCG only), through the serial console
//! like a user: `out/tinilinux-disk.img` boots with SeaBIOS and with OVMF, its root is the ext4
//! partition mounted read-write, a file survives `reboot`, `tinibox run` works with real
//! pivot_root; `root=` naming a missing device gives the rescue shell and a clear message;
//! and from the live ISO (under OVMF, with the UEFI variables kept for the VM's whole life as a
//! user's VM keeps them), `tinilinux-install` installs onto a blank disk that then boots on its
//! own (SeaBIOS and OVMF), and refuses a mounted or too-small disk, leaving it untouched.
//!
//! Every test boots a copy of the image. The console transcript of each VM is written to
//! `target/disk-transcripts/<test>.log` (the failure message names it).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tinilinux_tests::{repo_root, require_qemu, require_tool, target_dir};

const OVMF_CODE: &str = "/usr/share/OVMF/OVMF_CODE.fd";
const OVMF_VARS: &str = "/usr/share/OVMF/OVMF_VARS.fd";
const BANNER: &str = "Welcome to TiniLinux";
const BOOT_TIMEOUT: Duration = Duration::from_secs(240);
const CMD_TIMEOUT: Duration = Duration::from_secs(120);

/// QEMU under TCG is CPU-bound and the machine has 2 cores: one VM at a time.
fn vm_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn out_dir() -> PathBuf {
    std::env::var_os("TINILINUX_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("out"))
}

/// `out/NAME`, or a failure saying how to build it.
fn artifact(name: &str) -> PathBuf {
    let p = out_dir().join(name);
    assert!(
        p.is_file(),
        "{} is missing: build it with `cargo run --release -p distro-build -- all`",
        p.display()
    );
    p
}

/// A private copy of the disk image for one test.
fn disk_copy(dir: &Path) -> PathBuf {
    let src = artifact("tinilinux-disk.img");
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

/// Firmware for a VM.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Firmware {
    SeaBios,
    Ovmf,
}

/// A QEMU VM driven through its serial console.
struct Vm {
    child: Child,
    stdin: ChildStdin,
    out: Arc<Mutex<Vec<u8>>>,
    pos: usize,
    transcript: PathBuf,
    seq: u32,
    _dir: Option<tempfile::TempDir>,
}

impl Vm {
    /// Starts QEMU (TCG, 1 GiB, serial on stdio, no display) with `extra` arguments.
    fn start(name: &str, fw: Firmware, extra: &[String]) -> Vm {
        Vm::start_with_vars(name, fw, extra, None)
    }

    /// [`Vm::start`] keeping OVMF's variables in `vars` (created from OVMF_VARS.fd when
    /// missing), as a VM that keeps its NVRAM between boots does.
    fn start_with_vars(name: &str, fw: Firmware, extra: &[String], vars: Option<&Path>) -> Vm {
        require_qemu();
        let fw_dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("qemu-system-x86_64");
        cmd.args(["-accel", "tcg", "-m", "1024", "-smp", "1"])
            .args(["-nographic", "-monitor", "none", "-serial", "stdio"]);
        if !extra.iter().any(|a| a == "-nic") {
            cmd.args(["-nic", "user,model=virtio-net-pci"]);
        }
        if fw == Firmware::Ovmf {
            assert!(
                Path::new(OVMF_CODE).exists(),
                "{OVMF_CODE} is missing: apt-get install ovmf"
            );
            let vars = vars
                .map(Path::to_path_buf)
                .unwrap_or_else(|| fw_dir.path().join("OVMF_VARS.fd"));
            if !vars.exists() {
                std::fs::copy(OVMF_VARS, &vars).expect("copy OVMF_VARS.fd");
            }
            cmd.arg("-drive")
                .arg(format!(
                    "if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}"
                ))
                .arg("-drive")
                .arg(format!(
                    "if=pflash,format=raw,unit=1,file={}",
                    vars.display()
                ));
        }
        cmd.args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start qemu-system-x86_64");
        let stdin = child.stdin.take().unwrap();
        let out = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let out = Arc::clone(&out);
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    out.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            });
        }
        let tdir = target_dir().join("disk-transcripts");
        std::fs::create_dir_all(&tdir).unwrap();
        Vm {
            child,
            stdin,
            out,
            pos: 0,
            transcript: tdir.join(format!("{name}.log")),
            seq: 0,
            _dir: Some(fw_dir),
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap()).into_owned()
    }

    fn save(&self) {
        let _ = std::fs::write(&self.transcript, self.text());
    }

    /// Where `needle` occurs in the output after the last match (byte offset), if it does.
    fn find(&self, needle: &str) -> Option<usize> {
        let buf = self.out.lock().unwrap();
        let hay = &buf[self.pos.min(buf.len())..];
        hay.windows(needle.len())
            .position(|w| w == needle.as_bytes())
            .map(|i| self.pos + i)
    }

    /// Waits for `needle` after the last match; returns the text before it.
    fn expect(&mut self, needle: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            if let Some(at) = self.find(needle) {
                let before = {
                    let buf = self.out.lock().unwrap();
                    String::from_utf8_lossy(&buf[self.pos..at]).into_owned()
                };
                self.pos = at + needle.len();
                return before;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                self.save();
                panic!(
                    "QEMU exited ({status}) before {needle:?} appeared; transcript: {}",
                    self.transcript.display()
                );
            }
            if start.elapsed() > timeout {
                self.save();
                panic!(
                    "{needle:?} did not appear within {timeout:?}; transcript: {}",
                    self.transcript.display()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn send(&mut self, line: &str) {
        self.stdin.write_all(line.as_bytes()).unwrap();
        self.stdin.write_all(b"\n").unwrap();
        self.stdin.flush().unwrap();
    }

    /// Waits for the banner, then for a shell that answers.
    fn wait_shell(&mut self) {
        self.expect(BANNER, BOOT_TIMEOUT);
        // The serial console shell starts right after rcS; poke it until it answers.
        let start = Instant::now();
        loop {
            self.seq += 1;
            let tag = format!("READY{}", self.seq);
            self.send(&format!("echo {}\"{}\"", &tag[..2], &tag[2..]));
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut found = false;
            while Instant::now() < deadline {
                if self.find(&tag).is_some() {
                    found = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            if found {
                self.expect(&tag, Duration::from_secs(1));
                return;
            }
            assert!(
                start.elapsed() < BOOT_TIMEOUT,
                "no shell on the serial console; transcript: {}",
                {
                    self.save();
                    self.transcript.display()
                }
            );
        }
    }

    /// Runs `cmd` in the guest shell; returns (exit status, output).
    fn sh(&mut self, cmd: &str) -> (i32, String) {
        self.seq += 1;
        let n = self.seq;
        self.send(&format!(
            "echo '@@B''EGIN{n}'; {cmd}; echo \"@@E\"\"ND{n} $?\""
        ));
        self.expect(&format!("@@BEGIN{n}"), CMD_TIMEOUT);
        let out = self.expect(&format!("@@END{n} "), CMD_TIMEOUT);
        let rest = self.expect("\n", Duration::from_secs(5));
        let code = rest.trim().parse().unwrap_or(-1);
        (code, out.replace('\r', "").trim().to_string())
    }

    /// Runs `cmd`, which must exit 0; returns its output.
    fn ok(&mut self, cmd: &str) -> String {
        let (code, out) = self.sh(cmd);
        if code != 0 {
            self.save();
            panic!(
                "guest command {cmd:?} exited {code}: {out}\ntranscript: {}",
                self.transcript.display()
            );
        }
        out
    }

    /// Waits for QEMU to exit by itself (poweroff with -no-reboot).
    fn wait_exit(&mut self, timeout: Duration) {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(_)) = self.child.try_wait() {
                self.save();
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        self.save();
        panic!(
            "the VM did not power off within {timeout:?}; transcript: {}",
            self.transcript.display()
        );
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.save();
    }
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
    let efi = vm.sh("test -d /sys/firmware/efi").0 == 0;
    assert_eq!(
        efi,
        fw == Firmware::Ovmf,
        "booted with {fw:?} but /sys/firmware/efi says {efi}"
    );

    // Persistence across reboot.
    let token = format!("persist-{}", std::process::id());
    vm.ok(&format!("echo {token} > /root/persist.txt && sync"));
    // The tinibox image store lives on the ext4 root too.
    let store = "find /var/lib/tinibox -type f | sort | xargs md5sum";
    let images_before = vm.ok(store);
    assert!(!images_before.is_empty(), "/var/lib/tinibox holds no files");
    vm.send("reboot");
    vm.wait_shell();
    assert_eq!(vm.ok("cat /root/persist.txt"), token);
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

/// `tinibox run` on the installed system: PID 1 inside, real pivot_root (no fallback
/// warning). Returns the problem, if any, so a test can check every firmware first.
fn container_problem(vm: &mut Vm) -> Option<String> {
    vm.ok("rm -rf /tmp/c && mkdir -p /tmp/c/bin /tmp/c/proc /tmp/c/dev /tmp/c/sys /tmp/c/tmp && cp /bin/busybox /tmp/c/bin/ && ln -s busybox /tmp/c/bin/sh");
    let (code, out) = vm.sh("tinibox run --rm /tmp/c /bin/sh -c 'echo pid=$$' 2>&1");
    if code != 0 || !out.contains("pid=1") {
        return Some(format!("tinibox run exited {code}: {out}"));
    }
    if out.contains("pivot_root is not possible") {
        return Some(format!("tinibox fell back to MS_MOVE + chroot: {out}"));
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
        panic!("{problem}; transcript: {}", vm.transcript.display());
    }
}

#[test]
fn disk_image_boots_with_seabios() {
    boot_disk_image("disk_image_seabios", Firmware::SeaBios);
}

#[test]
fn disk_image_boots_with_ovmf() {
    boot_disk_image("disk_image_ovmf", Firmware::Ovmf);
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
    let mut vm = Vm::start("missing_root", Firmware::SeaBios, &args);
    vm.expect(
        "root device UUID=00000000-dead-4bad-8bad-000000000000 did not appear within 3s",
        BOOT_TIMEOUT,
    );
    vm.expect("starting a rescue shell", Duration::from_secs(10));
    // The rescue shell answers, and the kernel did not panic.
    let out = vm.ok("echo rescue-$((6*7)); ls /sys/class/block");
    assert!(out.contains("rescue-42"), "{out}");
    assert!(out.contains("vda3"), "{out}");
    assert!(!vm.text().contains("Kernel panic"));
}

/// Boots the live ISO with `disk` attached (plus `extra` drives) and a shell.
fn live_iso(name: &str, disks: &[&Path]) -> Vm {
    live_iso_with(name, disks, Firmware::SeaBios, None)
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
    let iso = artifact("tinilinux.iso");
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
    {
        let mut vm = live_iso_with("install_live", &[&disk], Firmware::Ovmf, Some(&nvram));
        let out = vm.ok("tinilinux-install --yes /dev/vda 2>&1");
        assert!(
            out.contains("done. TiniLinux is installed on /dev/vda"),
            "{out}"
        );
        assert!(out.contains("boot from /dev/vda"), "{out}");
        vm.send("poweroff");
        vm.wait_exit(Duration::from_secs(120));
    }
    let mut problems = Vec::new();
    for (fw, name) in [
        (Firmware::SeaBios, "installed_seabios"),
        (Firmware::Ovmf, "installed_ovmf"),
    ] {
        let mut vm = Vm::start_with_vars(name, fw, &virtio_disk(&disk), Some(&nvram));
        vm.wait_shell();
        assert!(vm
            .ok("cat /etc/tinilinux-installed")
            .starts_with("installed-from-live"));
        check_installed_system(&mut vm, fw);
        if let Some(problem) = container_problem(&mut vm) {
            problems.push(format!("{fw:?}: {problem} ({})", vm.transcript.display()));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn installer_refuses_mounted_and_too_small_disks() {
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
    // Asked to confirm and answered no: nothing written.
    let (code, out) = vm.sh("echo no | tinilinux-install --force /dev/vdb 2>&1");
    assert_eq!(code, 4, "{out}");
    vm.ok("mount /dev/vdb /mnt/used && cat /mnt/used/keep.txt && umount /mnt/used");
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
            Firmware::Ovmf,
            Some(&nvram),
            &["-nic".into(), "none".into()],
        );
    }
    let disk = disk_copy(dir.path());
    let mut args = virtio_disk(&disk);
    args.extend(["-nic".into(), "none".into()]);
    let mut vm = Vm::start_with_vars("stale_nvram_disk", Firmware::Ovmf, &args, Some(&nvram));
    vm.expect(
        "TiniLinux: starting GRUB from the EFI system partition",
        BOOT_TIMEOUT,
    );
    vm.wait_shell();
    let root = vm.ok("grep ' / ' /proc/mounts");
    assert!(root.contains(" ext4 rw"), "{root}");
}
