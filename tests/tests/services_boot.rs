//! TiniLinux's services as containers (issue 21), booted for real under QEMU (TCG), each test
//! once with SeaBIOS and once with OVMF (UEFI: GRUB's EFI image boots the ISO and the disk's
//! ESP, so the services' start and stop are checked on both boot paths):
//!
//! - the live ISO starts the repository's example service (`services/web.json`: BusyBox
//!   httpd from the `tinilinux` image, port 8080) at boot: the test fetches its page through a
//!   QEMU-forwarded port, finds the request in `tinibox logs web`, and at `poweroff` the
//!   console shows the service stopped by its stop signal (exit 143 = SIGTERM), not killed
//!   after its timeout (137);
//! - on the disk image (what `tinilinux-install` writes), a `run -d --restart always`
//!   container stopped by the shutdown is up again after the next boot with its log kept, an
//!   `unless-stopped` container the user stopped stays down, and the service answers again.
//!
//! Transcripts: `target/qemu-transcripts/services-*.log`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tinilinux_tests::qemu::{self, Firmware, Vm};
use tinilinux_tests::{free_port, out_file, require_tool, run, stderr, stdout};

const BOOT: Duration = Duration::from_secs(240);
const CMD: Duration = Duration::from_secs(120);
/// What the example service's page says (services/web.json).
const PAGE: &str = "TiniLinux web service: BusyBox httpd in a container on web";

/// QEMU under TCG is CPU-bound: one VM at a time.
fn vm_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn must(vm: &mut Vm, cmdline: &str) -> String {
    vm.run_ok(cmdline, CMD).unwrap_or_else(|e| panic!("{e:#}"))
}

/// Boots `cmd` and readies the serial shell.
fn boot(name: &str, cmd: Command) -> Vm {
    let mut vm = Vm::spawn(name, cmd).unwrap_or_else(|e| panic!("{e:#}"));
    vm.expect("Welcome to TiniLinux", BOOT)
        .unwrap_or_else(|e| panic!("{e:#}"));
    vm.prepare_shell().unwrap_or_else(|e| panic!("{e:#}"));
    vm
}

/// Waits until `tinibox service ls` (or `ps`, per `cmdline`) prints a line with all of `words`.
fn wait_for(vm: &mut Vm, cmdline: &str, words: &[&str], what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let out = must(vm, cmdline);
        if out.lines().any(|l| words.iter().all(|w| l.contains(w))) {
            return out;
        }
        if Instant::now() >= deadline {
            let log = must(vm, "logread | grep tinibox-services || true");
            panic!(
                "{what}: `{cmdline}` says:\n{out}\nboot log:\n{log}\n{:#}",
                vm.fail(what)
            );
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// Powers off and returns what the guest printed from the `poweroff` on.
fn poweroff(vm: &mut Vm) -> String {
    let from = vm.transcript().len();
    vm.poweroff(Duration::from_secs(120))
        .unwrap_or_else(|e| panic!("{e:#}"));
    let all = vm.transcript();
    all.get(from..).unwrap_or(&all).to_string()
}

/// The name of a transcript for `fw` (`services-live-seabios`).
fn named(base: &str, fw: Firmware) -> String {
    match fw {
        Firmware::Bios => format!("{base}-seabios"),
        Firmware::Uefi => format!("{base}-ovmf"),
    }
}

#[test]
fn the_example_service_answers_on_the_live_iso_and_stops_at_poweroff_seabios() {
    example_service_on_the_live_iso(Firmware::Bios);
}

#[test]
fn the_example_service_answers_on_the_live_iso_and_stops_at_poweroff_ovmf() {
    example_service_on_the_live_iso(Firmware::Uefi);
}

fn example_service_on_the_live_iso(fw: Firmware) {
    require_tool("curl");
    let _lock = vm_lock();
    let port = free_port();
    let cmd = qemu::command_forwarding(&out_file("tinilinux.iso"), fw, 512, port, 8080)
        .unwrap_or_else(|e| panic!("{e:#}"));
    let mut vm = boot(&named("services-live", fw), cmd);
    let listed = must(&mut vm, "tinibox service ls");
    assert!(
        listed.contains("web") && listed.contains("tinilinux"),
        "{listed}"
    );
    let t = Instant::now();
    let page = loop {
        let o = run(Command::new("curl").args([
            "-sS",
            "--max-time",
            "10",
            &format!("http://127.0.0.1:{port}/"),
        ]));
        if o.status.success() && !stdout(&o).is_empty() {
            break stdout(&o);
        }
        assert!(
            t.elapsed() < Duration::from_secs(180),
            "the web service never answered on the forwarded port: {}\n{:#}",
            stderr(&o),
            vm.fail("service at boot")
        );
        std::thread::sleep(Duration::from_secs(2));
    };
    assert_eq!(page.trim_end(), PAGE);
    wait_for(&mut vm, "tinibox service ls", &["web", "up"], "web is up");
    let logs = must(&mut vm, "tinibox logs web");
    assert!(logs.contains("response:200"), "httpd's log: {logs}");
    let booted = must(&mut vm, "logread | grep tinibox-services");
    assert!(booted.contains("web: started"), "{booted}");
    let shutdown = poweroff(&mut vm);
    assert!(
        shutdown.contains("web: stopped (exit 143)"),
        "the service was not stopped by SIGTERM at poweroff:\n{shutdown}"
    );
}

/// A private copy of the disk image (sparse).
fn disk_copy(dir: &Path) -> PathBuf {
    let dst = dir.join("disk.img");
    let st = Command::new("cp")
        .arg("--sparse=always")
        .arg(out_file("tinilinux-disk.img"))
        .arg(&dst)
        .status()
        .expect("cp runs");
    assert!(st.success(), "copying the disk image failed");
    dst
}

#[test]
fn restart_always_survives_a_reboot_of_the_disk_and_services_stop_cleanly_seabios() {
    restart_always_survives_a_reboot(Firmware::Bios);
}

#[test]
fn restart_always_survives_a_reboot_of_the_disk_and_services_stop_cleanly_ovmf() {
    restart_always_survives_a_reboot(Firmware::Uefi);
}

fn restart_always_survives_a_reboot(fw: Firmware) {
    let _lock = vm_lock();
    let dir = tempfile::tempdir().unwrap();
    let disk = disk_copy(dir.path());
    let start =
        || qemu::persistent_disk_command(&disk, fw, 512).unwrap_or_else(|e| panic!("{e:#}"));

    let mut vm = boot(&named("services-disk-1", fw), start());
    wait_for(&mut vm, "tinibox service ls", &["web", "up"], "web is up");
    // sh as PID 1 ends on SIGTERM only with a handler: it says so, so the log shows a clean stop.
    must(
        &mut vm,
        "tinibox run -d --name keeper --restart always tinilinux sh -c 'echo keeper started; trap \"echo keeper got TERM; exit 0\" TERM; while :; do sleep 1; done'",
    );
    must(
        &mut vm,
        "tinibox run -d --name idle --restart unless-stopped tinilinux sleep 100000",
    );
    must(&mut vm, "tinibox stop -t 1 idle");
    wait_for(&mut vm, "tinibox ps", &["keeper", "Up"], "keeper runs");
    let shutdown = poweroff(&mut vm);
    for line in ["web: stopped (exit 143)", "keeper: stopped (exit 0)"] {
        assert!(
            shutdown.contains(line),
            "no {line:?} at poweroff:\n{shutdown}"
        );
    }
    assert!(
        shutdown.contains("root file system is read-only"),
        "{shutdown}"
    );
    drop(vm);

    let mut vm = boot(&named("services-disk-2", fw), start());
    wait_for(
        &mut vm,
        "tinibox ps",
        &["keeper", "Up"],
        "keeper is up again after the reboot",
    );
    wait_for(
        &mut vm,
        "tinibox service ls",
        &["web", "up"],
        "web is up again",
    );
    let logs = must(&mut vm, "tinibox logs keeper");
    assert_eq!(
        logs.matches("keeper started").count(),
        2,
        "the log of both boots is kept: {logs}"
    );
    assert!(logs.contains("keeper got TERM"), "{logs}");
    assert_eq!(
        must(&mut vm, "tinibox inspect -f '{{.State.Status}}' idle").trim(),
        "exited",
        "an unless-stopped container the user stopped came back"
    );
    let t = Instant::now();
    loop {
        let (code, page) = vm
            .run("wget -qO- http://127.0.0.1:8080/", CMD)
            .unwrap_or_else(|e| panic!("{e:#}"));
        if code == 0 {
            assert_eq!(page.trim_end(), PAGE);
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "{page}\n{:#}",
            vm.fail("the service's published port after the reboot")
        );
        std::thread::sleep(Duration::from_secs(2));
    }
    let shutdown = poweroff(&mut vm);
    assert!(shutdown.contains("keeper: stopped (exit 0)"), "{shutdown}");
}
