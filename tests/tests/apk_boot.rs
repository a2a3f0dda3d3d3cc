//! apk on the booted system: the test makes a signed Alpine (apk v2) repository with
//! `apk/tests/mkrepo.py` (independent of the Rust code) and its own RSA key, serves it with
//! `python3 -m http.server` on the host's 127.0.0.1 (a port the kernel picks), and boots
//! TiniLinux in QEMU (TCG, user network: the host's loopback is 10.0.2.2 in the guest).
//! The test's public key is typed into the guest's `/etc/apk/keys/` over the serial console
//! (as a user adds a repository's key; no `--allow-untrusted`), then `apk add -X URL PKG`
//! installs a package with a dependency, a static program (Debian's busybox-static binary
//! as `busybox-debian`) and a post-install script, and the installed program runs.
//!
//! - live ISO: the shipped configuration is there (`/sbin/apk` a link to tinibox, whose apk
//!   applet it runs; `/etc/apk/repositories`, arch, Alpine's keys, an empty database); the
//!   same repository over HTTPS (python's http.server with TLS, a certificate from the test's
//!   own CA for 10.0.2.2) is refused until `SSL_CERT_FILE` names that CA, then `apk add`
//!   installs and the program runs;
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
use tinilinux_tests::registry::make_tls;
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
    /// `http` or `https`.
    scheme: &'static str,
}

impl Server {
    /// Plain HTTP (`python3 -m http.server`) for `dir`.
    fn start(dir: &Path) -> Server {
        let mut cmd = Command::new("python3");
        cmd.args(["-u", "-m", "http.server", "--bind", "127.0.0.1", "0"])
            .arg("--directory")
            .arg(dir);
        Server::spawn(cmd, "http")
    }

    /// HTTPS for `dir`, with the certificate `tls/server.crt` that [`make_tls`] made in `tls`.
    fn start_tls(dir: &Path, tls: &Path) -> Server {
        let mut cmd = Command::new("python3");
        cmd.arg("-u")
            .arg(repo_root().join("apk/tests/https_server.py"))
            .arg(dir)
            .arg(tls.join("server.crt"))
            .arg(tls.join("server.key"));
        Server::spawn(cmd, "https")
    }

    fn spawn(mut cmd: Command, scheme: &'static str) -> Server {
        let mut child = cmd
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
        Server {
            child,
            port,
            scheme,
        }
    }

    /// The repository's URL as the guest sees it (QEMU's user network: host = 10.0.2.2).
    fn guest_url(&self) -> String {
        format!("{}://10.0.2.2:{}/repo", self.scheme, self.port)
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

/// Writes the host PEM file `pem` to `guest_path` over the console (printf with its lines)
/// and checks its sha256 there.
fn type_pem(vm: &mut Vm, pem: &Path, guest_path: &str) {
    let text = fs::read_to_string(pem).unwrap();
    let escaped: String = text.lines().map(|l| format!("{l}\\n")).collect();
    must(vm, &format!("printf '{escaped}' > {guest_path}"));
    let host = Command::new("sha256sum").arg(pem).output().unwrap();
    let host = String::from_utf8_lossy(&host.stdout);
    let guest = must(vm, &format!("sha256sum {guest_path}"));
    assert_eq!(
        guest.split_whitespace().next(),
        host.split_whitespace().next(),
        "{} typed into the guest as {guest_path} differs from the host's",
        pem.display()
    );
}

/// Adds the repository's public key `key` to the guest's `/etc/apk/keys/`.
fn add_key(vm: &mut Vm, key: &Path) {
    type_pem(vm, key, &format!("/etc/apk/keys/{KEY_NAME}"));
}

/// `ENV apk add -X URL hello-apk` (ENV: variable settings before the command, or empty),
/// then the checks of what it installed.
fn add_and_run(vm: &mut Vm, env: &str, url: &str) {
    // DHCP runs in the background at boot; wait for the address before fetching.
    must(
        vm,
        "i=0; until ip -4 addr show dev eth0 | grep -q 'inet 10.0.2.15/'; do \
         i=$((i+1)); [ $i -gt 60 ] && exit 1; sleep 1; done",
    );
    let out = must(
        vm,
        &format!("{env} apk add --repositories-file /dev/null -X {url} hello-apk 2>&1"),
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
fn live_iso_apk_adds_a_signed_package_over_https_and_runs_it() {
    let _lock = vm_lock();
    let dir = tempfile::tempdir().unwrap();
    let key = make_repository(dir.path());
    let server = Server::start(dir.path());
    let tls = dir.path().join("tls");
    let ca = make_tls(&tls, "IP:10.0.2.2");
    let https = Server::start_tls(dir.path(), &tls);
    let cmd = qemu::command(&out_file("tinilinux.iso"), Firmware::Bios, 512).unwrap();
    let mut vm = Vm::spawn("apk-live", cmd).unwrap();
    boot(&mut vm);

    // What the ISO ships: apk as tinibox's applet (/sbin/apk a link to the one static
    // program), Alpine's repositories, arch and keys, empty db.
    assert_eq!(must(&mut vm, "readlink /sbin/apk"), "/usr/bin/tinibox");
    assert!(
        must(&mut vm, "apk --version").starts_with("apk "),
        "apk through the link is not apk's command line"
    );
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
    // HTTPS: the repository's certificate is signed by the test's own CA, which the system
    // bundle (Debian's, /etc/ssl/certs/ca-certificates.crt) does not hold: refused, nothing
    // installed; trusted through SSL_CERT_FILE, as OpenSSL-based tools do, it installs.
    let (status, out) = vm
        .run(
            &format!(
                "apk add --repositories-file /dev/null -X {} hello-apk 2>&1",
                https.guest_url()
            ),
            CMD,
        )
        .unwrap();
    assert_ne!(status, 0, "an untrusted HTTPS server was accepted: {out}");
    assert!(out.contains(&https.guest_url()), "{out}");
    assert_eq!(
        must(&mut vm, "apk info 2>&1"),
        "",
        "installed after refusal"
    );
    type_pem(&mut vm, &ca, "/tmp/test-ca.crt");
    add_and_run(
        &mut vm,
        "SSL_CERT_FILE=/tmp/test-ca.crt",
        &https.guest_url(),
    );
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
    add_and_run(&mut vm, "", &server.guest_url());
    must(&mut vm, "sync");
    vm.poweroff(CMD).unwrap_or_else(|e| panic!("{e:#}"));

    drop(server);
    let mut vm = disk_vm("apk-disk-2", &disk);
    boot(&mut vm);
    check_installed(&mut vm);
    assert_eq!(must(&mut vm, "cat /var/hello-apk.marker"), "installed");
    vm.poweroff(CMD).unwrap_or_else(|e| panic!("{e:#}"));
}
