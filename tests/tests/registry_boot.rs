//! `tinibox pull` inside TiniLinux (issue 16): the real `out/tinilinux.iso` boots under QEMU
//! (TCG, SeaBIOS) and pulls a two-platform image over HTTPS from Debian's `docker-registry`,
//! which the test runs on the host's loopback (QEMU's user network reaches it at 10.0.2.2).
//!
//! The registry's certificate is signed by a CA the test makes, so the check is real in both
//! directions: the first pull, trusting only the CA bundle the ISO ships
//! (`/etc/ssl/certs/ca-certificates.crt`), is refused and stores nothing; once the test CA is
//! in Docker's `certs.d` place (`/etc/tinibox/certs.d/10.0.2.2:PORT/ca.crt`), the pull picks the
//! guest's platform (linux/amd64) from the index and `tinibox run` prints that image's marker.
//! A certificate is only accepted with a right clock, so this also checks the guest's time.

use std::process::Command;
use std::time::Duration;

use tinilinux_tests::qemu::{self, Firmware, Vm};
use tinilinux_tests::registry::{build_layout, make_tls, start_registry, tls_block};
use tinilinux_tests::{ok, require_tool};

const BOOT: Duration = Duration::from_secs(240);
const CMD: Duration = Duration::from_secs(180);

fn must(vm: &mut Vm, cmdline: &str) -> String {
    vm.run_ok(cmdline, CMD).unwrap_or_else(|e| panic!("{e:#}"))
}

/// `printf` arguments that write `text` (no single quotes in it) line by line.
fn printf_lines(text: &str) -> String {
    assert!(!text.contains('\''), "the text has a single quote");
    let lines: Vec<String> = text.lines().map(|l| format!("'{l}'")).collect();
    format!("printf '%s\\n' {}", lines.join(" "))
}

#[test]
fn the_live_iso_pulls_over_tls_from_a_registry_and_runs_the_image() {
    require_tool("skopeo");
    let dir = tempfile::tempdir().unwrap();
    let path = |p: &str| dir.path().join(p);
    let ca = make_tls(&path("tls"), "IP:127.0.0.1,IP:10.0.2.2");
    let reg = start_registry(&path("reg"), &tls_block(&path("tls")), "");
    build_layout(&path("layout"));
    // skopeo reads every *.key in a cert dir as a client key: give it the CA alone.
    std::fs::create_dir_all(path("ca-only")).unwrap();
    std::fs::copy(&ca, path("ca-only/ca.crt")).unwrap();
    ok(Command::new("skopeo").args([
        "copy",
        "--all",
        "--dest-cert-dir",
        &path("ca-only").display().to_string(),
        &format!("oci:{}:1", path("layout").display()),
        &format!("docker://127.0.0.1:{}/test/multi:1", reg.port),
    ]));

    let iso = tinilinux_tests::out_file("tinilinux.iso");
    let cmd = qemu::command(&iso, Firmware::Bios, 512).unwrap();
    let mut vm = Vm::spawn("registry-pull-bios", cmd).unwrap();
    vm.expect("Welcome to TiniLinux", BOOT).unwrap();
    vm.expect("# ", BOOT).unwrap();
    vm.prepare_shell().unwrap();
    vm.wait_for_dhcp(Duration::from_secs(60)).unwrap();

    // The ISO carries Debian's bundle (well over a hundred roots), and nothing else is trusted.
    let roots: usize = must(
        &mut vm,
        "grep -c 'BEGIN CERTIFICATE' /etc/ssl/certs/ca-certificates.crt",
    )
    .trim()
    .parse()
    .expect("a count");
    assert!(
        roots > 100,
        "the shipped CA bundle has {roots} certificates"
    );
    let image = format!("10.0.2.2:{}/test/multi:1", reg.port);
    let (status, refused) = vm.run(&format!("tinibox pull {image} 2>&1"), CMD).unwrap();
    assert_eq!(
        status, 125,
        "a pull trusting only the shipped bundle: {refused}"
    );
    assert!(
        refused.lines().filter(|l| !l.trim().is_empty()).count() == 1
            && refused.contains("10.0.2.2")
            && refused.to_lowercase().contains("certificate"),
        "the refusal is one line naming the registry and its certificate: {refused}"
    );
    let images = must(&mut vm, "tinibox images");
    assert!(
        !images.contains("test/multi"),
        "a refused pull stored: {images}"
    );

    // With the test CA in certs.d the same pull works, picks linux/amd64 and runs.
    let certs_d = format!("/etc/tinibox/certs.d/10.0.2.2:{}", reg.port);
    let pem = std::fs::read_to_string(&ca).unwrap();
    must(
        &mut vm,
        &format!(
            "mkdir -p {certs_d} && {} > {certs_d}/ca.crt",
            printf_lines(&pem)
        ),
    );
    must(&mut vm, &format!("tinibox pull {image}"));
    let images = must(&mut vm, "tinibox images");
    assert!(
        images.contains("test/multi"),
        "not listed after the pull: {images}"
    );
    let out = must(&mut vm, &format!("tinibox run --rm {image}"));
    assert!(
        out.contains("amd64 image"),
        "the amd64 image's command did not run: {out}"
    );
    vm.poweroff(Duration::from_secs(60)).unwrap();
    drop(reg);
}
