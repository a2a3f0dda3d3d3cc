//! SSH into TiniLinux (issue 18): the test makes its own Ed25519 key with Debian's
//! `ssh-keygen`, builds an ISO with `--ssh-authorized-keys` (distro-build's library, the
//! same pipeline as the binary, into a temporary output folder; the cache `distro-build all`
//! filled makes this a re-pack of the initramfs and the ISO), boots it under QEMU (TCG) with
//! the user network forwarding a free host port to the guest's 22, and connects with
//! Debian's OpenSSH client:
//!
//! - `tinibox run --rm tinilinux echo ok` over SSH prints `ok`;
//! - the host key the client was shown is the one the guest made at boot in
//!   `/etc/dropbear` (the image carries none);
//! - with root's password set in the guest (over the serial console), a password login is
//!   still refused: the server offers `publickey` only;
//! - the guest's `logread` shows the key login.
//!
//! And on the shipped ISO (no key baked in): no server runs, `/etc/init.d/dropbear start`
//! refuses in one line until root has a key, then serves the key typed in over the console,
//! and `stop` ends it.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use distro_build::context::Context;
use distro_build::pipeline::Pipeline;
use distro_build::target::Target;
use tinilinux_tests::qemu::{self, Firmware, Vm};
use tinilinux_tests::{repo_root, require_tool};

const BOOT: Duration = Duration::from_secs(240);
const CMD: Duration = Duration::from_secs(60);
/// The root password the test sets in the guest, to show it does not open SSH.
const PASSWORD: &str = "tiny-secret-9";

/// A TCP port on 127.0.0.1 that was free a moment ago (the kernel's pick).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// `ssh-keygen -t ed25519` without a passphrase at `dir/id_ed25519`; returns the private key.
fn make_key(dir: &Path) -> PathBuf {
    let key = dir.join("id_ed25519");
    let out = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "tinilinux-ssh-test",
            "-f",
        ])
        .arg(&key)
        .output()
        .expect("ssh-keygen runs");
    assert!(
        out.status.success(),
        "ssh-keygen: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    key
}

/// The ISO for `target` with `public_key` baked in, built into `dir/out` with the shared cache.
fn build_iso(dir: &Path, public_key: &Path, target: Target) -> PathBuf {
    let mut ctx = Context::from_env(&repo_root());
    ctx.set_target(target);
    ctx.out_dir = dir.join("out");
    let keys = distro_build::ssh::read_authorized_keys(public_key)
        .unwrap_or_else(|e| panic!("the test's public key was refused: {e}"));
    let pipeline = Pipeline::new(&ctx).with_authorized_keys(keys);
    let iso = pipeline
        .iso()
        .unwrap_or_else(|e| panic!("building the ISO with the key: {e}"));
    iso.to_path_buf()
}

/// OpenSSH's client against the guest on `port`, host keys kept in `known_hosts`, no
/// configuration file of the machine's user; `extra` options come before the destination.
fn ssh(port: u16, known_hosts: &Path, extra: &[&str], envs: &[(&str, &str)], cmd: &str) -> Output {
    let mut c = Command::new("ssh");
    c.args(["-F", "/dev/null", "-p", &port.to_string()])
        .args(["-o", "StrictHostKeyChecking=accept-new"])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
        .args(["-o", "ConnectTimeout=20", "-o", "LogLevel=ERROR"])
        .args(extra)
        .arg("root@127.0.0.1")
        .arg(cmd)
        .stdin(std::process::Stdio::null());
    for (k, v) in envs {
        c.env(k, v);
    }
    c.env_remove("SSH_AUTH_SOCK");
    c.output().expect("ssh runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn ssh_with_a_baked_key_runs_a_container_and_refuses_passwords() {
    tinilinux_tests::require_qemu();
    require_tool("ssh");
    require_tool("ssh-keygen");
    let dir = tempfile::tempdir().unwrap();
    let key = make_key(dir.path());
    let iso = build_iso(dir.path(), &key.with_extension("pub"), Target::X86_64);
    let port = free_port();
    let cmd = qemu::command_forwarding(&iso, Firmware::Bios, 512, port, 22).unwrap();
    let vm = Vm::spawn("ssh-key-login", cmd).unwrap();
    check_key_login(to_shell(vm), dir.path(), &key, port);
}

/// The same on arm64 (issue 18: Dropbear in both architectures): the arm64 ISO with the
/// test's key, under AAVMF on QEMU's `virt` machine (needs `distro-build --arch arm64 all`'s
/// cache, which ./test.sh fills).
#[test]
fn ssh_into_arm64_with_a_baked_key_runs_a_container_and_refuses_passwords() {
    require_tool("ssh");
    require_tool("ssh-keygen");
    let dir = tempfile::tempdir().unwrap();
    let key = make_key(dir.path());
    let iso = build_iso(dir.path(), &key.with_extension("pub"), Target::ARM64);
    let port = free_port();
    let vars = dir.path().join("vars");
    std::fs::create_dir(&vars).unwrap();
    let cmd = qemu::arm64_command_forwarding(&iso, 512, &vars, port, 22).unwrap();
    let vm = Vm::spawn("ssh-key-login-arm64", cmd).unwrap();
    check_key_login(to_shell(vm), dir.path(), &key, port);
}

/// The shipped ISO has no key: a user adds one on the running system and starts the server
/// with its init script (Alpine's `/etc/init.d/dropbear` shape), then stops it.
#[test]
fn ssh_with_a_key_added_on_the_live_system() {
    tinilinux_tests::require_qemu();
    require_tool("ssh");
    require_tool("ssh-keygen");
    let dir = tempfile::tempdir().unwrap();
    let key = make_key(dir.path());
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let port = free_port();
    let iso = tinilinux_tests::out_file("tinilinux.iso");
    let cmd = qemu::command_forwarding(&iso, Firmware::Bios, 512, port, 22).unwrap();
    let mut vm = to_shell(Vm::spawn("ssh-live-key", cmd).unwrap());
    let script = "/etc/init.d/dropbear";

    let (status, out) = vm.run(&format!("{script} status"), CMD).unwrap();
    assert_eq!(
        (status, out.trim()),
        (3, "dropbear: stopped"),
        "no key, no server"
    );
    let (status, out) = vm.run(&format!("{script} start 2>&1"), CMD).unwrap();
    assert_eq!(status, 1, "start without a key: {out}");
    assert!(
        out.lines().count() == 1 && out.contains("no key in /root/.ssh/authorized_keys"),
        "one line naming the missing key: {out:?}"
    );
    let (status, out) = vm.run(&format!("{script} bogus 2>&1"), CMD).unwrap();
    assert_eq!(status, 2, "usage: {out}");

    vm.run_ok(
        &format!(
            "mkdir -p /root/.ssh && echo '{}' > /root/.ssh/authorized_keys",
            public.trim()
        ),
        CMD,
    )
    .unwrap();
    let started = vm.run_ok(&format!("{script} start"), CMD).unwrap();
    assert!(started.contains("started"), "{started}");
    let mode = vm
        .run_ok("stat -c %a /root/.ssh /root/.ssh/authorized_keys", CMD)
        .unwrap();
    assert_eq!(mode.split_whitespace().collect::<Vec<_>>(), ["700", "600"]);
    check_key_login(vm, dir.path(), &key, port);
}

/// Waits for the banner and a shell that answers.
fn to_shell(mut vm: Vm) -> Vm {
    vm.expect("Welcome to TiniLinux", BOOT).unwrap();
    vm.prepare_shell().unwrap();
    vm
}

/// On `vm` at a shell (forwarding `port` to its 22): `tinibox run --rm tinilinux echo ok`
/// over SSH with `key`; the host key the client saw is the guest's own; a password login is
/// refused even with root's password set; logread shows the key login; after
/// `/etc/init.d/dropbear stop` no login gets through. Powers the guest off.
fn check_key_login(mut vm: Vm, dir: &Path, key: &Path, port: u16) {
    let known_hosts = dir.join("known_hosts");
    let key_opts = [
        "-i",
        key.to_str().unwrap(),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
    ];

    // The server is up by the banner; the forwarded port may need a moment under TCG.
    let deadline = Instant::now() + Duration::from_secs(90);
    let out = loop {
        let out = ssh(
            port,
            &known_hosts,
            &key_opts,
            &[],
            "tinibox run --rm tinilinux echo ok",
        );
        if out.status.success() || Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_secs(2));
    };
    assert!(
        out.status.success(),
        "ssh with the baked key failed ({}): {}\n{:#}",
        out.status,
        text(&out.stderr),
        vm.fail("ssh key login")
    );
    assert_eq!(text(&out.stdout).trim(), "ok", "{}", text(&out.stderr));

    // The host key the client accepted is the one the guest made at boot.
    let seen = std::fs::read_to_string(&known_hosts).unwrap();
    let guest = vm
        .run_ok(
            "dropbearkey -y -f /etc/dropbear/dropbear_ed25519_host_key | grep '^ssh-ed25519'",
            CMD,
        )
        .unwrap();
    let guest_key = guest.split_whitespace().nth(1).unwrap_or("?").to_string();
    assert!(
        seen.contains(&format!("ssh-ed25519 {guest_key}")),
        "known_hosts {seen:?} does not hold the guest's host key {guest_key}"
    );

    // Root gets a password; SSH still takes keys only. SSH_ASKPASS answers the password
    // prompt should the server offer one.
    vm.run_ok(&format!("echo 'root:{PASSWORD}' | chpasswd"), CMD)
        .unwrap();
    let askpass = dir.join("askpass");
    std::fs::write(&askpass, format!("#!/bin/sh\necho '{PASSWORD}'\n")).unwrap();
    std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = ssh(
        port,
        &known_hosts,
        &[
            "-o",
            "PubkeyAuthentication=no",
            "-o",
            "PreferredAuthentications=password,keyboard-interactive",
            "-o",
            "NumberOfPasswordPrompts=1",
        ],
        &[
            ("SSH_ASKPASS", askpass.to_str().unwrap()),
            ("SSH_ASKPASS_REQUIRE", "force"),
            ("DISPLAY", ":0"),
        ],
        "echo logged-in",
    );
    assert!(
        !out.status.success() && !text(&out.stdout).contains("logged-in"),
        "a password login was accepted: {}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains("Permission denied (publickey)"),
        "the server should offer publickey only: {}",
        text(&out.stderr)
    );

    // The login is in the system log, which logread reads.
    let log = vm.run_ok("logread | grep dropbear", CMD).unwrap();
    assert!(
        log.contains("Pubkey auth succeeded for 'root'"),
        "logread shows no key login:\n{log}"
    );

    // Stopped, the server takes no login, with the key either.
    let stopped = vm.run_ok("/etc/init.d/dropbear stop", CMD).unwrap();
    assert_eq!(stopped.trim(), "dropbear: stopped");
    let out = ssh(port, &known_hosts, &key_opts, &[], "echo logged-in");
    assert!(
        !out.status.success() && !text(&out.stdout).contains("logged-in"),
        "a login got through after stop: {}",
        text(&out.stderr)
    );
    vm.poweroff(Duration::from_secs(60)).unwrap();
}
