//! apk on the booted system: the test makes a signed Alpine (apk v2) repository with
//! `apk/tests/mkrepo.py` (independent of the Rust code) and its own RSA key, serves it with
//! `python3 -m http.server` on the host's 127.0.0.1 (a port the kernel picks), and boots
//! TiniLinux in QEMU (TCG, user network: the host's loopback is 10.0.2.2 in the guest).
//! The test's public key is typed into the guest's `/etc/apk/keys/` over the serial console
//! (as a user adds a repository's key; no `--allow-untrusted`), then `apk add -X URL PKG`
//! installs a package with a dependency, a static program (Debian's busybox-static binary
//! as `busybox-debian`) and a post-install script, and the installed program runs.
//!
//! - live ISO: the shipped configuration is there (`/etc/apk/repositories`, arch, Alpine's
//!   keys, an empty database), `apk add` installs and the program runs;
//! - disk image: the same `apk add` on the installed system, then a reboot: the package, its
//!   files and the database are still there.
//!
//! `--repositories-file /dev/null` keeps Alpine's mirrors (named in the shipped
//! `/etc/apk/repositories`) out of the test: the machine running it may have no Internet.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{json, Value};
use tinilinux_tests::qemu::{self, Firmware, Vm};
use tinilinux_tests::{out_file, repo_root};

const BOOT: Duration = Duration::from_secs(240);
const CMD: Duration = Duration::from_secs(120);
/// The name the test's public key has in the guest (and in the signatures).
const KEY_NAME: &str = "tinilinux-test.rsa.pub";
/// The program the test package installs: Debian's static BusyBox as `busybox-debian`
/// (BusyBox is the multi-call tool under any name starting with `busybox`).
const PROGRAM: &str = "busybox-debian";

/// QEMU under TCG is CPU-bound and the machine has 2 cores: one VM at a time.
fn vm_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn mkrepo(args: &[&str]) {
    let out = Command::new("python3")
        .arg(repo_root().join("apk/tests/mkrepo.py"))
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "mkrepo.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A signed repository in `dir/repo/x86_64` with two packages: `bbdeb` (Debian's static
/// BusyBox as `/usr/bin/busybox-debian`) and `hello-apk` (a script that runs it, depends on
/// `bbdeb`, and a post-install script leaving a marker). Returns the public key's path.
fn make_repository(dir: &Path) -> PathBuf {
    let keys = dir.join("keys");
    mkrepo(&["keygen", keys.to_str().unwrap(), "tinilinux-test"]);
    let key =
        json!({"private": keys.join("tinilinux-test.rsa"), "name": KEY_NAME, "hash": "sha256"});
    let packages: Vec<Value> = vec![
        json!({"name": "bbdeb", "version": "1.35.0-r0",
               "description": "Debian's static BusyBox, for the apk boot test",
               "provides": [format!("cmd:{PROGRAM}=1.35.0-r0")], "key": key,
               "files": [{"path": "usr/bin", "dir": true, "mode": 0o755},
                         {"path": format!("usr/bin/{PROGRAM}"), "source": "/bin/busybox", "mode": 0o755}]}),
        json!({"name": "hello-apk", "version": "1.0-r0", "description": "Says hello through bbdeb",
               "depends": ["bbdeb"], "key": key,
               "scripts": {"post-install": "#!/bin/sh\necho installed > /var/hello-apk.marker\n"},
               "files": [{"path": "usr/bin/hello-apk", "mode": 0o755,
                          "content": format!("#!/bin/sh\nexec {PROGRAM} echo hello from apk\n")}]}),
    ];
    let spec = json!({"out": dir.join("repo/x86_64"), "arch": "x86_64",
                      "description": "apk boot test repository",
                      "index_key": key, "packages": packages});
    let spec_path = dir.join("repo.json");
    fs::write(&spec_path, spec.to_string()).unwrap();
    mkrepo(&["build", spec_path.to_str().unwrap()]);
    keys.join(KEY_NAME)
}

/// `python3 -m http.server` on 127.0.0.1, port chosen by the kernel; killed on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let mut child = Command::new("python3")
            .args(["-u", "-m", "http.server", "--bind", "127.0.0.1", "0"])
            .arg("--directory")
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 http.server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        // "Serving HTTP on 127.0.0.1 port 40123 (http://127.0.0.1:40123/) ..."
        let port = line
            .split_whitespace()
            .skip_while(|w| *w != "port")
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        Server { child, port }
    }

    /// The repository's URL as the guest sees it (QEMU's user network: host = 10.0.2.2).
    fn guest_url(&self) -> String {
        format!("http://10.0.2.2:{}/repo", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn must(vm: &mut Vm, cmdline: &str) -> String {
    vm.run_ok(cmdline, CMD).unwrap_or_else(|e| panic!("{e:#}"))
}

fn boot(vm: &mut Vm) {
    vm.expect("Welcome to TiniLinux", BOOT)
        .unwrap_or_else(|e| panic!("{e:#}"));
    vm.prepare_shell().unwrap_or_else(|e| panic!("{e:#}"));
}

/// Writes the host file `key` to the guest's `/etc/apk/keys/` over the console (printf with
/// the PEM's lines) and checks its sha256 there.
fn add_key(vm: &mut Vm, key: &Path) {
    let pem = fs::read_to_string(key).unwrap();
    let escaped: String = pem.lines().map(|l| format!("{l}\\n")).collect();
    must(
        vm,
        &format!("printf '{escaped}' > /etc/apk/keys/{KEY_NAME}"),
    );
    let host = Command::new("sha256sum").arg(key).output().unwrap();
    let host = String::from_utf8_lossy(&host.stdout);
    let guest = must(vm, &format!("sha256sum /etc/apk/keys/{KEY_NAME}"));
    assert_eq!(
        guest.split_whitespace().next(),
        host.split_whitespace().next(),
        "the key typed into the guest differs from the host's"
    );
}

/// `apk add -X URL hello-apk`, then the checks of what it installed.
fn add_and_run(vm: &mut Vm, url: &str) {
    // DHCP runs in the background at boot; wait for the address before fetching.
    must(
        vm,
        "i=0; until ip -4 addr show dev eth0 | grep -q 'inet 10.0.2.15/'; do \
         i=$((i+1)); [ $i -gt 60 ] && exit 1; sleep 1; done",
    );
    let out = must(
        vm,
        &format!("apk add --repositories-file /dev/null -X {url} hello-apk 2>&1"),
    );
    assert!(out.contains("bbdeb"), "apk add output: {out}");
    assert_eq!(must(vm, "hello-apk"), "hello from apk");
    let version = must(vm, &format!("{PROGRAM} 2>&1 | head -n 1"));
    assert!(
        version.starts_with("BusyBox v") && version.contains("Debian"),
        "{PROGRAM} printed {version:?}"
    );
    assert_eq!(must(vm, "cat /var/hello-apk.marker"), "installed");
    check_installed(vm);
}

/// The database and world name both packages, and `apk info -L` lists the program.
fn check_installed(vm: &mut Vm) {
    let world = must(vm, "cat /etc/apk/world");
    assert_eq!(world.lines().collect::<Vec<_>>(), ["hello-apk"], "world");
    must(vm, "apk info -e bbdeb hello-apk");
    let files = must(vm, "apk info -L bbdeb 2>&1");
    assert!(
        files.contains(&format!("usr/bin/{PROGRAM}")),
        "apk info -L bbdeb: {files}"
    );
    assert_eq!(must(vm, "hello-apk"), "hello from apk");
}

#[test]
fn live_iso_apk_adds_a_signed_package_over_http_and_runs_it() {
    let _lock = vm_lock();
    let dir = tempfile::tempdir().unwrap();
    let key = make_repository(dir.path());
    let server = Server::start(dir.path());
    let cmd = qemu::command(&out_file("tinilinux.iso"), Firmware::Bios, 512).unwrap();
    let mut vm = Vm::spawn("apk-live", cmd).unwrap();
    boot(&mut vm);

    // What the ISO ships: the static apk, Alpine's repositories, arch and keys, empty db.
    let repos = must(&mut vm, "cat /etc/apk/repositories");
    assert!(
        repos.lines().any(|l| l.ends_with("/main"))
            && repos.lines().any(|l| l.ends_with("/community")),
        "/etc/apk/repositories: {repos}"
    );
    assert_eq!(must(&mut vm, "cat /etc/apk/arch"), "x86_64");
    let keys = must(&mut vm, "ls /etc/apk/keys");
    assert!(keys.contains("6165ee59"), "/etc/apk/keys: {keys}");
    assert_eq!(must(&mut vm, "apk info 2>&1"), "", "installed packages");

    // A package signed with a key the guest does not trust yet is refused.
    let (status, out) = vm
        .run(
            &format!(
                "apk add --repositories-file /dev/null -X {} hello-apk 2>&1",
                server.guest_url()
            ),
            CMD,
        )
        .unwrap();
    assert_ne!(status, 0, "an untrusted repository was accepted: {out}");
    assert_eq!(
        must(&mut vm, "apk info 2>&1"),
        "",
        "installed after refusal"
    );

    add_key(&mut vm, &key);
    add_and_run(&mut vm, &server.guest_url());
    vm.poweroff(CMD).unwrap_or_else(|e| panic!("{e:#}"));
}

/// QEMU on a private copy of the disk image (its writes persist across boots).
fn disk_vm(name: &str, disk: &Path) -> Vm {
    let cmd = qemu::persistent_disk_command(disk, Firmware::Bios, 512).unwrap();
    Vm::spawn(name, cmd).unwrap()
}

#[test]
fn disk_install_keeps_an_apk_package_across_a_reboot() {
    let _lock = vm_lock();
    let dir = tempfile::tempdir().unwrap();
    let key = make_repository(dir.path());
    let server = Server::start(dir.path());
    let disk = dir.path().join("disk.img");
    let st = Command::new("cp")
        .arg("--sparse=always")
        .arg(out_file("tinilinux-disk.img"))
        .arg(&disk)
        .status()
        .unwrap();
    assert!(st.success(), "copying the disk image");

    let mut vm = disk_vm("apk-disk-1", &disk);
    boot(&mut vm);
    add_key(&mut vm, &key);
    add_and_run(&mut vm, &server.guest_url());
    must(&mut vm, "sync");
    vm.poweroff(CMD).unwrap_or_else(|e| panic!("{e:#}"));

    drop(server);
    let mut vm = disk_vm("apk-disk-2", &disk);
    boot(&mut vm);
    check_installed(&mut vm);
    assert_eq!(must(&mut vm, "cat /var/hello-apk.marker"), "installed");
    vm.poweroff(CMD).unwrap_or_else(|e| panic!("{e:#}"));
}
