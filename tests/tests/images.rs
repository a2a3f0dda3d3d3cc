//! Images end to end: the OCI export read by real tools (skopeo, umoci, Docker, Podman), and
//! tinibox's image store (load, import, images, rmi, run) including bad and malicious input.
//!
//! Every test runs real programs; prerequisites that are missing make the test fail with a
//! clear message. Each test uses its own temporary store and output folder and cleans up the
//! daemons, containers and mounts it started.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use distro_build::context::Context;
use distro_build::oci;
use distro_build::tree::{Entry, FileData, RootfsTree};

/// The repository root (the workspace folder above `tests/`).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Fails the test with a clear line when `tool` is not installed.
fn require_tool(tool: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "{tool} is not installed: run scripts/install-deps.sh (as root)"
    );
}

fn require_root() {
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "this test needs root (namespaces, mounts, device nodes): run it as root"
    );
}

/// Runs a command, returning its output; panics when it cannot start.
fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"))
}

/// Runs a command that must succeed; returns its stdout.
fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A small rootfs tree built from Debian's busybox-static: /bin/busybox, applet links for
/// sh/echo/cat/ls/true, /etc files and the usual empty folders.
fn busybox_tree() -> RootfsTree {
    let busybox = Path::new("/bin/busybox");
    assert!(
        busybox.exists(),
        "/bin/busybox is missing: install busybox-static (scripts/install-deps.sh)"
    );
    let mut tree = RootfsTree::new();
    for dir in [
        "bin", "dev", "etc", "proc", "root", "sys", "tmp", "var", "var/lib",
    ] {
        tree.insert(dir, Entry::dir(if dir == "tmp" { 0o1777 } else { 0o755 }))
            .unwrap();
    }
    tree.insert(
        "bin/busybox",
        Entry::file(FileData::Host(busybox.to_path_buf()), 0o755),
    )
    .unwrap();
    for applet in [
        "sh", "echo", "cat", "ls", "true", "test", "touch", "rm", "mkdir",
    ] {
        tree.insert(format!("bin/{applet}"), Entry::symlink("busybox"))
            .unwrap();
    }
    tree.insert(
        "etc/passwd",
        Entry::file(
            FileData::Bytes(b"root:x:0:0:root:/root:/bin/sh\n".to_vec()),
            0o644,
        ),
    )
    .unwrap();
    tree.insert(
        "etc/group",
        Entry::file(FileData::Bytes(b"root:x:0:\n".to_vec()), 0o644),
    )
    .unwrap();
    tree.insert(
        "etc/os-release",
        Entry::file(
            FileData::Bytes(b"NAME=TiniLinux\nID=tinilinux\n".to_vec()),
            0o644,
        ),
    )
    .unwrap();
    tree.insert("dev/null", Entry::char_device(1, 3, 0o666))
        .unwrap();
    tree
}

/// A context writing into `out`, reading the repo's `oci-images/`, with a fixed clock.
fn context(out: &Path) -> Context {
    Context {
        repo_root: repo_root(),
        out_dir: out.to_path_buf(),
        cache_dir: out.join("cache"),
        source_date_epoch: 1_700_000_000,
    }
}

/// Exported images from a BusyBox tree into a shared temporary folder (built once per run).
fn exported() -> &'static (tempfile::TempDir, Vec<oci::ExportedImage>) {
    static EXPORT: OnceLock<(tempfile::TempDir, Vec<oci::ExportedImage>)> = OnceLock::new();
    EXPORT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let images = oci::export(&context(dir.path()), &busybox_tree()).expect("export");
        (dir, images)
    })
}

fn main_image() -> &'static oci::ExportedImage {
    exported()
        .1
        .iter()
        .find(|i| i.reference == "tinilinux:latest")
        .expect("tinilinux:latest exported")
}

#[test]
fn export_is_reproducible() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let tree = busybox_tree();
    let first = oci::export(&context(a.path()), &tree).unwrap();
    let second = oci::export(&context(b.path()), &tree).unwrap();
    assert!(
        first.len() >= 2,
        "at least tinilinux and one more image are defined"
    );
    for (x, y) in first.iter().zip(&second) {
        assert_eq!(x.reference, y.reference);
        assert_eq!(x.manifest_digest, y.manifest_digest, "{}", x.reference);
        assert_eq!(
            std::fs::read(&x.archive).unwrap(),
            std::fs::read(&y.archive).unwrap(),
            "{} archive differs between two builds",
            x.reference
        );
        assert_eq!(
            std::fs::read(&x.rootfs_tar).unwrap(),
            std::fs::read(&y.rootfs_tar).unwrap()
        );
    }
    // The contract names.
    for name in [
        "tinilinux-rootfs.tar",
        "oci/index.json",
        "oci/oci-layout",
        "tinilinux-oci.tar",
    ] {
        assert!(a.path().join(name).exists(), "{name} missing");
    }
    // No temporary leftovers.
    let leftovers: Vec<_> = std::fs::read_dir(a.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    // The store inside the rootfs never leaks into the image.
    let mut with_store = tree.clone();
    oci::add_image_store(&context(a.path()), &mut with_store).unwrap();
    let third = oci::export(&context(b.path()), &with_store).unwrap();
    assert_eq!(first[0].manifest_digest, third[0].manifest_digest);
}

#[test]
fn skopeo_inspects_the_layout() {
    require_tool("skopeo");
    let image = main_image();
    let reference = format!("oci:{}:latest", image.layout_dir.display());
    let out = ok(Command::new("skopeo").args(["inspect", &reference]));
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["Digest"], image.manifest_digest.as_str());
    assert_eq!(json["Architecture"], "amd64");
    assert_eq!(json["Os"], "linux");
    assert_eq!(
        json["Labels"]["org.opencontainers.image.title"],
        "tinilinux"
    );
    let config = ok(Command::new("skopeo").args(["inspect", "--config", &reference]));
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert_eq!(config["config"]["Cmd"][0], "/bin/sh");
    assert_eq!(config["config"]["WorkingDir"], "/");
    // The archive is the same image.
    let archive = format!("oci-archive:{}", image.archive.display());
    let out = ok(Command::new("skopeo").args(["inspect", &archive]));
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["Digest"], image.manifest_digest.as_str());
    // And skopeo can convert it to another format, which re-reads every blob.
    let dest = tempfile::tempdir().unwrap();
    let docker_archive = format!(
        "docker-archive:{}:tinilinux:latest",
        dest.path().join("d.tar").display()
    );
    ok(Command::new("skopeo").args(["copy", &reference, &docker_archive]));
}

#[test]
fn umoci_unpacks_the_layout() {
    require_tool("umoci");
    require_root();
    let image = main_image();
    let bundle = tempfile::tempdir().unwrap();
    let target = bundle.path().join("bundle");
    ok(Command::new("umoci").args([
        "unpack",
        "--image",
        &format!("{}:latest", image.layout_dir.display()),
        target.to_str().unwrap(),
    ]));
    let rootfs = target.join("rootfs");
    let meta = std::fs::metadata(rootfs.join("bin/busybox")).unwrap();
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
    assert_eq!(meta.permissions().mode() & 0o7777, 0o755);
    assert_eq!(meta.len(), std::fs::metadata("/bin/busybox").unwrap().len());
    assert_eq!(
        std::fs::read_link(rootfs.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    let null = std::fs::symlink_metadata(rootfs.join("dev/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), libc::makedev(1, 3));
    assert_eq!(
        std::fs::metadata(rootfs.join("tmp"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0o1777
    );
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(target.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["process"]["args"][0], "/bin/sh");
}

#[test]
fn minimal_image_holds_only_busybox() {
    let minimal = exported()
        .1
        .iter()
        .find(|i| i.reference == "tinilinux-minimal:latest")
        .expect("tinilinux-minimal exported");
    let listing = ok(Command::new("tar").args(["-tvf", minimal.rootfs_tar.to_str().unwrap()]));
    assert!(listing.contains("bin/busybox"), "{listing}");
    assert!(listing.contains("etc/motd"), "{listing}");
    assert!(
        !listing.contains("os-release"),
        "only BusyBox and the extra files: {listing}"
    );
    // Owners are numeric root and mtimes come from SOURCE_DATE_EPOCH.
    let numeric = ok(Command::new("tar").args([
        "--numeric-owner",
        "--full-time",
        "-tvf",
        minimal.rootfs_tar.to_str().unwrap(),
    ]));
    for line in numeric.lines() {
        assert!(line.contains(" 0/0 "), "not root-owned: {line}");
        assert!(
            line.contains("2023-11-14 22:13:20"),
            "mtime not SOURCE_DATE_EPOCH: {line}"
        );
    }
}
