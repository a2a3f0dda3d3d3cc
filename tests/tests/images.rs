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
use tinilinux_tests::dockerd::Dockerd;
use tinilinux_tests::{ok, repo_root, require_root, require_tool, run, tinibox_bin};

/// A small rootfs tree built from Debian's busybox-static: /bin/busybox, applet links for
/// sh/echo/cat/ls/true, /etc files, the usual empty folders, and a stand-in `bin/tinibox`
/// (linked from usr/bin) so that the minimal image's exclusion of tinibox is exercised.
fn busybox_tree() -> RootfsTree {
    let busybox = Path::new("/bin/busybox");
    assert!(
        busybox.exists(),
        "/bin/busybox is missing: install busybox-static (scripts/install-deps.sh)"
    );
    let mut tree = RootfsTree::new();
    for dir in [
        "bin", "dev", "etc", "proc", "root", "sbin", "sys", "tmp", "usr", "usr/bin", "usr/sbin",
        "var", "var/lib",
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
    // Absolute links, as the live rootfs has them: never followed while unpacking.
    tree.insert("usr/bin/env", Entry::symlink("/bin/busybox"))
        .unwrap();
    tree.insert("sbin/init", Entry::symlink("/bin/busybox"))
        .unwrap();
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
    tree.insert(
        "bin/tinibox",
        Entry::file(
            FileData::Bytes(b"#!/bin/sh\necho stand-in for tinibox\n".to_vec()),
            0o755,
        ),
    )
    .unwrap();
    tree.insert("usr/bin/tinibox", Entry::symlink("../../bin/tinibox"))
        .unwrap();
    tree
}

/// A context writing into `out`, reading the repo's `oci-images/`, with a fixed clock.
fn context(out: &Path) -> Context {
    Context {
        repo_root: repo_root(),
        out_dir: out.to_path_buf(),
        cache_dir: out.join("cache"),
        epoch: distro_build::epoch::Epoch::from_secs(1_700_000_000),
        target: distro_build::target::Target::X86_64,
        locked: false,
        epoch_given: true,
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
    // The second export runs in another second of the clock and reads a copy of BusyBox with
    // other timestamps: neither the build time nor the inputs' mtimes may reach the outputs.
    let copy = b.path().join("busybox-copy");
    std::fs::copy("/bin/busybox", &copy).unwrap();
    ok(Command::new("touch")
        .args(["-d", "2001-02-03 04:05:06"])
        .arg(&copy));
    let mut later_tree = tree.clone();
    later_tree.remove("bin/busybox").unwrap();
    later_tree
        .insert("bin/busybox", Entry::file(FileData::Host(copy), 0o755))
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = oci::export(&context(&b.path().join("out")), &later_tree).unwrap();
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
    // tinibox is in the input tree and in the full image, and excluded from the minimal one.
    let full = ok(Command::new("tar").args(["-tf", main_image().rootfs_tar.to_str().unwrap()]));
    for path in ["bin/tinibox", "usr/bin/tinibox"] {
        assert!(
            full.lines().any(|l| l.trim_start_matches("./") == path),
            "{path} is missing from the full image: {full}"
        );
    }
    assert!(
        !listing.contains("tinibox"),
        "tinibox is in the minimal image: {listing}"
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

// ---------------------------------------------------------------------------------------
// tinibox's image store
// ---------------------------------------------------------------------------------------

use tinibox::image::Store;

/// Runs `tinibox --store STORE args…`.
fn tinibox(store: &Path, args: &[&str]) -> Output {
    run(Command::new(tinibox_bin())
        .arg("--store")
        .arg(store)
        .args(args))
}

/// Every path below the store (except the lock) with its size, and repositories.json.
fn snapshot(store: &Path) -> (Vec<String>, Vec<u8>) {
    let mut paths = Vec::new();
    let mut stack = vec![store.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let meta = std::fs::symlink_metadata(entry.path()).unwrap();
            let rel = entry
                .path()
                .strip_prefix(store)
                .unwrap()
                .display()
                .to_string();
            if rel == "lock" {
                continue;
            }
            paths.push(format!(
                "{rel} {}",
                if meta.is_dir() { 0 } else { meta.len() }
            ));
            if meta.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    paths.sort();
    let repos = std::fs::read(store.join("repositories.json")).unwrap_or_default();
    (paths, repos)
}

/// Runs `sh -c script` chrooted into `root` (a real process in the container's root).
fn in_root(root: &Path, script: &str) -> Output {
    run(Command::new("chroot")
        .arg(root)
        .args(["/bin/sh", "-c", script]))
}

/// Asserts a failed image command: exit 125 and one line on stderr containing `needle`.
fn assert_refused(out: &Output, needle: &str) {
    assert_one_line_exit(out, 125, needle);
}

/// What Docker's daemon answers (no such image, image in use: `docker rmi` exits 1): exit 1
/// and one line naming the problem.
fn assert_daemon_error(out: &Output, needle: &str) {
    assert_one_line_exit(out, 1, needle);
}

fn assert_one_line_exit(out: &Output, code: i32, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(code),
        "expected exit {code}, got {}: {stderr}",
        out.status
    );
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "one line expected: {stderr}"
    );
    assert!(stderr.contains(needle), "stderr lacks {needle:?}: {stderr}");
}

#[test]
fn load_images_prepare_rmi_round_trip() {
    require_root();
    let image = main_image();
    let store = tempfile::tempdir().unwrap();
    let out = tinibox(store.path(), &["load", image.layout_dir.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "Loaded image: tinilinux:latest"
    );
    // The archive is the same image: loading it again adds nothing.
    let out = tinibox(
        store.path(),
        &["load", "-i", image.archive.to_str().unwrap()],
    );
    assert!(out.status.success(), "{out:?}");
    let listing = ok(Command::new(tinibox_bin())
        .arg("--store")
        .arg(store.path())
        .arg("images"));
    let short = &image.config_digest["sha256:".len().."sha256:".len() + 12];
    let rows: Vec<&str> = listing.lines().collect();
    assert_eq!(rows.len(), 2, "{listing}");
    assert!(rows[0].starts_with("REPOSITORY"), "{listing}");
    assert!(
        rows[1].starts_with("tinilinux ")
            && rows[1].contains(" latest ")
            && rows[1].contains(short),
        "{listing}"
    );
    // The image's root runs BusyBox.
    let s = Store::open(store.path()).unwrap();
    let record = s.resolve("tinilinux").unwrap();
    assert_eq!(s.resolve(short).unwrap(), record);
    let prepared = s.prepare_rootfs(&record, "roundtrip").unwrap();
    assert_eq!(prepared.config.cmd, vec!["/bin/sh".to_string()]);
    let out = in_root(
        &prepared.rootfs,
        "echo hello from $(cat /etc/os-release | head -1)",
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "hello from NAME=TiniLinux"
    );
    // In use: rmi refuses without -f.
    let out = tinibox(store.path(), &["rmi", "tinilinux"]);
    assert_daemon_error(&out, "used by container roundtrip");
    s.release_rootfs("roundtrip").unwrap();
    s.release_rootfs("roundtrip").unwrap(); // idempotent
    let out = tinibox(store.path(), &["rmi", "tinilinux:latest"]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Untagged: tinilinux:latest"), "{stdout}");
    assert!(
        stdout.contains(&format!("Deleted: {}", image.config_digest)),
        "{stdout}"
    );
    let (paths, _) = snapshot(store.path());
    assert!(
        paths
            .iter()
            .all(|p| !p.starts_with("layers/sha256/") && !p.starts_with("blobs/sha256/")),
        "layers and blobs left after rmi: {paths:?}"
    );
}

#[test]
fn two_containers_from_one_image_see_only_their_own_writes() {
    require_root();
    let store = tempfile::tempdir().unwrap();
    let s = Store::open(store.path()).unwrap();
    tinibox::image::load(&s, &main_image().layout_dir).unwrap();
    let record = s.resolve("tinilinux:latest").unwrap();
    let a = s.prepare_rootfs(&record, "writer-a").unwrap();
    let b = s.prepare_rootfs(&record, "writer-b").unwrap();
    assert_eq!(
        a.mode,
        tinibox::image::RootfsMode::Overlay,
        "overlayfs works on this host"
    );
    let out = in_root(
        &a.rootfs,
        "echo a > /tmp/mine && rm /etc/os-release && cat /tmp/mine",
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "a", "{out:?}");
    let out = in_root(
        &b.rootfs,
        "test ! -e /tmp/mine && test -e /etc/os-release && echo clean",
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "clean",
        "{out:?}"
    );
    // The image itself is untouched.
    let layer = s.layer_path(&record.diff_ids[0]);
    assert!(layer.join("etc/os-release").exists());
    assert!(!layer.join("tmp/mine").exists());
    s.release_rootfs("writer-a").unwrap();
    s.release_rootfs("writer-b").unwrap();
    assert!(!s.container_path("writer-a").exists());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(store.path().to_str().unwrap()),
        "mount left behind"
    );
}

/// A tar entry written byte by byte, so tests can build archives the tar crate would refuse.
fn raw_entry(
    builder: &mut tar::Builder<Vec<u8>>,
    name: &str,
    kind: tar::EntryType,
    link: Option<&str>,
    data: &[u8],
) {
    let mut header = tar::Header::new_old();
    {
        let old = header.as_old_mut();
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(link) = link {
            old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
    }
    header.set_entry_type(kind);
    header.set_mode(if kind == tar::EntryType::Directory {
        0o755
    } else {
        0o644
    });
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(1_700_000_000);
    header.set_size(data.len() as u64);
    header.set_cksum();
    builder.append(&header, data).unwrap();
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// Writes an OCI layout with one image made of `layers` (uncompressed tar streams) under
/// `dir`, named `name:latest`. Built with serde_json values, as any producer would.
fn write_layout(dir: &Path, name: &str, layers: &[Vec<u8>]) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let digest = sha256(bytes);
        std::fs::write(blobs.join(&digest[7..]), bytes).unwrap();
        digest
    };
    let mut layer_descs = Vec::new();
    let mut diff_ids = Vec::new();
    for tar in layers {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, tar).unwrap();
        let gz = gz.finish().unwrap();
        diff_ids.push(sha256(tar));
        layer_descs.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": put(&gz), "size": gz.len()
        }));
    }
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids}
    }))
    .unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(&config), "size": config.len()},
        "layers": layer_descs
    }))
    .unwrap();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": put(&manifest), "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": format!("{name}:latest")}
        }]
    });
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

#[test]
fn whiteouts_and_opaque_directories_hide_lower_files() {
    require_root();
    use tar::EntryType::{Directory, Regular, Symlink};
    let mut lower = tar::Builder::new(Vec::new());
    raw_entry(&mut lower, "a/", Directory, None, b"");
    raw_entry(&mut lower, "a/gone", Regular, None, b"old\n");
    raw_entry(&mut lower, "a/kept", Regular, None, b"kept\n");
    raw_entry(&mut lower, "d/", Directory, None, b"");
    raw_entry(&mut lower, "d/hidden", Regular, None, b"hidden\n");
    raw_entry(&mut lower, "link", Symlink, Some("a/kept"), b"");
    raw_entry(
        &mut lower,
        "a/hard",
        tar::EntryType::Link,
        Some("a/kept"),
        b"",
    );
    let mut upper = tar::Builder::new(Vec::new());
    raw_entry(&mut upper, "a/.wh.gone", Regular, None, b"");
    raw_entry(&mut upper, "d/", Directory, None, b"");
    raw_entry(&mut upper, "d/.wh..wh..opq", Regular, None, b"");
    raw_entry(&mut upper, "d/new", Regular, None, b"new\n");
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    write_layout(
        &layout,
        "layered",
        &[lower.into_inner().unwrap(), upper.into_inner().unwrap()],
    );
    let store = tempfile::tempdir().unwrap();
    let out = tinibox(store.path(), &["load", layout.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let s = Store::open(store.path()).unwrap();
    let record = s.resolve("layered").unwrap();
    assert_eq!(record.diff_ids.len(), 2);
    let root = s.prepare_rootfs(&record, "whiteouts").unwrap().rootfs;
    let listing = |p: &str| {
        let mut names: Vec<String> = std::fs::read_dir(root.join(p))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(listing("a"), ["hard", "kept"]);
    {
        use std::os::unix::fs::MetadataExt;
        let kept = std::fs::metadata(root.join("a/kept")).unwrap();
        let hard = std::fs::metadata(root.join("a/hard")).unwrap();
        assert_eq!(
            (kept.ino(), kept.nlink()),
            (hard.ino(), 2),
            "a/hard is a hard link to a/kept"
        );
    }
    assert_eq!(listing("d"), ["new"]);
    assert_eq!(
        std::fs::read_to_string(root.join("link")).unwrap(),
        "kept\n"
    );
    s.release_rootfs("whiteouts").unwrap();
}

#[test]
fn malicious_layers_are_refused_and_nothing_lands_outside() {
    require_root();
    use tar::EntryType::{Link, Regular, Symlink};
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("pwned");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "traversal",
            {
                let mut b = tar::Builder::new(Vec::new());
                let depth = "../".repeat(12);
                raw_entry(
                    &mut b,
                    &format!(
                        "{depth}{}",
                        victim.display().to_string().trim_start_matches('/')
                    ),
                    Regular,
                    None,
                    b"x",
                );
                b.into_inner().unwrap()
            },
            "'..' would climb out of the layer",
        ),
        (
            "absolute",
            {
                let mut b = tar::Builder::new(Vec::new());
                raw_entry(&mut b, victim.to_str().unwrap(), Regular, None, b"x");
                b.into_inner().unwrap()
            },
            "absolute paths are not allowed",
        ),
        (
            "symlink",
            {
                let mut b = tar::Builder::new(Vec::new());
                raw_entry(
                    &mut b,
                    "escape",
                    Symlink,
                    Some(outside.path().to_str().unwrap()),
                    b"",
                );
                raw_entry(&mut b, "escape/pwned", Regular, None, b"x");
                b.into_inner().unwrap()
            },
            "through the symlink 'escape'",
        ),
        (
            "hardlink",
            {
                let mut b = tar::Builder::new(Vec::new());
                raw_entry(&mut b, "passwd", Link, Some("/etc/passwd"), b"");
                b.into_inner().unwrap()
            },
            "absolute paths are not allowed",
        ),
    ];
    let store = tempfile::tempdir().unwrap();
    Store::open(store.path()).unwrap();
    let before = snapshot(store.path());
    for (name, layer, needle) in cases {
        let dir = tempfile::tempdir().unwrap();
        let layout = dir.path().join(name);
        write_layout(&layout, name, &[layer]);
        let out = tinibox(store.path(), &["load", layout.to_str().unwrap()]);
        assert_refused(&out, needle);
        assert!(
            !victim.exists(),
            "{name}: a file was written outside the store"
        );
        assert_eq!(snapshot(store.path()), before, "{name}: the store changed");
    }
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
}

#[test]
fn bad_input_is_refused_with_one_line_and_the_store_unchanged() {
    require_root();
    let image = main_image();
    let work = tempfile::tempdir().unwrap();
    let copy_layout = |name: &str| {
        let dest = work.path().join(name);
        ok(Command::new("cp")
            .arg("-a")
            .arg(&image.layout_dir)
            .arg(&dest));
        dest
    };
    let blob = |layout: &Path, digest: &str| layout.join("blobs/sha256").join(&digest[7..]);
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(blob(&image.layout_dir, &image.manifest_digest)).unwrap(),
    )
    .unwrap();
    let layer_digest = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();

    let store = tempfile::tempdir().unwrap();
    // A store that already holds an image: a failed load must leave it exactly as it was.
    let minimal = exported()
        .1
        .iter()
        .find(|i| i.reference.starts_with("tinilinux-minimal"))
        .unwrap();
    assert!(tinibox(
        store.path(),
        &["load", minimal.layout_dir.to_str().unwrap()]
    )
    .status
    .success());
    let before = snapshot(store.path());

    // Corrupt blob: one byte of the layer changed.
    let corrupt = copy_layout("corrupt");
    let path = blob(&corrupt, &layer_digest);
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
    assert_refused(
        &tinibox(store.path(), &["load", corrupt.to_str().unwrap()]),
        "is corrupt",
    );
    assert_eq!(snapshot(store.path()), before);

    // Truncated archive.
    let truncated = work.path().join("truncated.tar");
    let bytes = std::fs::read(&image.archive).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    assert_refused(
        &tinibox(store.path(), &["load", truncated.to_str().unwrap()]),
        "truncated.tar",
    );
    assert_eq!(snapshot(store.path()), before);

    // Missing manifest blob.
    let missing = copy_layout("missing");
    std::fs::remove_file(blob(&missing, &image.manifest_digest)).unwrap();
    assert_refused(
        &tinibox(store.path(), &["load", missing.to_str().unwrap()]),
        "manifest",
    );
    assert_eq!(snapshot(store.path()), before);

    // Unknown media type in the index.
    let unknown = copy_layout("unknown");
    let index_path = unknown.join("index.json");
    let mut index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&index_path).unwrap()).unwrap();
    index["manifests"][0]["mediaType"] = "application/x-tinibox-unknown".into();
    std::fs::write(&index_path, serde_json::to_vec(&index).unwrap()).unwrap();
    assert_refused(
        &tinibox(store.path(), &["load", unknown.to_str().unwrap()]),
        "unknown media type 'application/x-tinibox-unknown'",
    );
    assert_eq!(snapshot(store.path()), before);

    // Not an image at all, and a path that does not exist.
    assert_refused(
        &tinibox(store.path(), &["load", work.path().to_str().unwrap()]),
        "not an OCI image layout",
    );
    assert_refused(
        &tinibox(store.path(), &["load", "/nonexistent/image.tar"]),
        "cannot open",
    );

    // A tarball that is not one.
    let garbage = work.path().join("garbage.tar");
    std::fs::write(&garbage, b"this is not a tar archive\n").unwrap();
    assert_refused(
        &tinibox(store.path(), &["import", garbage.to_str().unwrap(), "junk"]),
        "garbage.tar: not a complete tar archive",
    );
    assert_eq!(snapshot(store.path()), before);
    // Binary noise: the tar reader quotes its bytes; the line stays printable.
    let noise: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&garbage, &noise).unwrap();
    for cmd in ["load", "import"] {
        let o = tinibox(store.path(), &[cmd, garbage.to_str().unwrap()]);
        assert_refused(&o, "garbage.tar: not a complete tar archive");
        let err = String::from_utf8(o.stderr.clone()).expect("UTF-8 error line");
        assert!(
            !err.trim_end()
                .chars()
                .any(|c| c.is_control() || c == '\u{fffd}'),
            "{cmd}: {err:?}"
        );
        assert_eq!(snapshot(store.path()), before);
    }
    // xz and bzip2 (which Docker reads): named, with what to do.
    let xz = work.path().join("rootfs.tar.xz");
    let bz = work.path().join("rootfs.tar.bz2");
    std::fs::write(&xz, b"\xfd7zXZ\x00\x00\x04\xe6\xd6\xb4\x46").unwrap();
    std::fs::write(&bz, b"BZh91AY&SY").unwrap();
    for (file, name) in [(&xz, "xz"), (&bz, "bzip2")] {
        for cmd in ["load", "import"] {
            assert_refused(
                &tinibox(store.path(), &[cmd, file.to_str().unwrap()]),
                &format!("{name}-compressed, which tinibox does not read"),
            );
            assert_eq!(snapshot(store.path()), before);
        }
    }

    // Unknown image names.
    let out = tinibox(store.path(), &["rmi", "nosuchimage"]);
    assert_daemon_error(
        &out,
        "no such image 'nosuchimage' — list images with `tinibox images`",
    );
    assert_eq!(snapshot(store.path()), before);
    let s = Store::open(store.path()).unwrap();
    assert_eq!(
        s.resolve("nosuchimage:1.0").unwrap_err().to_string(),
        "no such image 'nosuchimage:1.0' — list images with `tinibox images`"
    );
}

#[test]
fn import_makes_a_runnable_image_from_the_rootfs_tarball() {
    require_root();
    let image = main_image();
    let store = tempfile::tempdir().unwrap();
    let out = tinibox(
        store.path(),
        &["import", image.rootfs_tar.to_str().unwrap(), "imported:v1"],
    );
    assert!(out.status.success(), "{out:?}");
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(id.starts_with("sha256:"), "{id}");
    let s = Store::open(store.path()).unwrap();
    let record = s.resolve("imported:v1").unwrap();
    assert_eq!(record.config_digest, id);
    // docker import's layer is the tarball itself: same diff_id as the exported image.
    assert_eq!(record.diff_ids, vec![image.diff_id.clone()]);
    let root = s.prepare_rootfs(&record, "imported").unwrap().rootfs;
    let out = in_root(&root, "ls /bin/busybox && echo ok");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ok"),
        "{out:?}"
    );
    s.release_rootfs("imported").unwrap();
}

/// Writes the part of `tree` below `prefix` to `dest` as real files (root-owned, modes and
/// device nodes as in the tree): what the initramfs unpacks at boot.
fn materialise(tree: &RootfsTree, prefix: &str, dest: &Path) {
    use distro_build::tree::EntryKind;
    use std::os::unix::fs::PermissionsExt;
    for (path, entry) in tree.iter() {
        if !path.starts_with(prefix) {
            continue;
        }
        let target = dest.join(path);
        match &entry.kind {
            EntryKind::Directory => std::fs::create_dir_all(&target).unwrap(),
            EntryKind::File(data) => std::fs::write(&target, data.read().unwrap()).unwrap(),
            EntryKind::Symlink(link) => std::os::unix::fs::symlink(link, &target).unwrap(),
            EntryKind::CharDevice { major, minor } => {
                let c = std::ffi::CString::new(target.to_str().unwrap()).unwrap();
                let rc = unsafe {
                    libc::mknod(
                        c.as_ptr(),
                        libc::S_IFCHR | entry.mode,
                        libc::makedev(*major, *minor),
                    )
                };
                assert_eq!(rc, 0, "mknod {}", target.display());
            }
            other => panic!("unexpected entry kind {other:?} in the store"),
        }
        std::os::unix::fs::lchown(&target, Some(entry.uid), Some(entry.gid)).unwrap();
        if !matches!(entry.kind, EntryKind::Symlink(_)) {
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(entry.mode)).unwrap();
        }
    }
}

#[test]
fn the_rootfs_carries_its_own_image_in_the_tinibox_store() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let mut tree = busybox_tree();
    let digest = oci::add_image_store(&context(dir.path()), &mut tree).unwrap();
    assert_eq!(
        digest,
        main_image().manifest_digest,
        "the stored image is the exported one"
    );
    // Live-only additions on top of the base still store the base's image.
    let mut live = busybox_tree();
    live.insert(
        "usr/sbin/tinilinux-install",
        Entry::file(FileData::Bytes(b"#!/bin/sh\n".to_vec()), 0o755),
    )
    .unwrap();
    let live_digest =
        oci::add_image_store_of(&context(dir.path()), &busybox_tree(), &mut live).unwrap();
    assert_eq!(live_digest, main_image().manifest_digest);
    // No compressed layer blob in the store: only manifest and config.
    let blobs = tree
        .iter()
        .filter(|(p, _)| {
            p.starts_with("var/lib/tinibox/blobs/sha256") && p.components().count() == 6
        })
        .count();
    assert_eq!(blobs, 2);
    let root = dir.path().join("root");
    materialise(&tree, "var", &root);
    let store = root.join("var/lib/tinibox");
    let out = tinibox(&store, &["images"]);
    assert!(out.status.success(), "{out:?}");
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        listing
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("tinilinux ")),
        "{listing}"
    );
    let s = Store::open(&store).unwrap();
    let record = s.resolve("tinilinux:latest").unwrap();
    let prepared = s.prepare_rootfs(&record, "live").unwrap();
    let out = in_root(
        &prepared.rootfs,
        "cat /etc/os-release; test -e /var/lib/tinibox/repositories.json || echo no-store",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("NAME=TiniLinux"), "{out:?}");
    assert_eq!(
        stdout.lines().last().map(str::trim),
        Some("no-store"),
        "the image must not contain the store: {stdout}"
    );
    s.release_rootfs("live").unwrap();
}

// ---------------------------------------------------------------------------------------
// Real engines: Docker (Debian's dockerd, started here) and Podman
// ---------------------------------------------------------------------------------------

/// The `tinilinux` artifacts the engines get: `out/` (or `TINILINUX_OUT`) from
/// `distro-build all`, which test.sh and CI run first. Missing artifacts fail the test: the
/// engines must be shown the distro's real outputs, not a stand-in.
struct Artifacts {
    rootfs_tar: PathBuf,
    archive: PathBuf,
    config_digest: String,
}

fn artifacts() -> Artifacts {
    let out = tinilinux_tests::out_dir();
    let (rootfs_tar, layout, archive) = oci::output_paths(&out, oci::MAIN_IMAGE);
    for p in [&rootfs_tar, &archive, &layout.join("index.json")] {
        assert!(
            p.is_file(),
            "{} is missing: build the distro first (`./target/release/distro-build all`, as test.sh does)",
            p.display()
        );
    }
    // The host's image: with arm64 built too, out/oci's tag names an index of both.
    let (_, _, manifest) = tinilinux_tests::layout_image(&layout, "amd64");
    Artifacts {
        rootfs_tar,
        archive,
        config_digest: manifest["config"]["digest"].as_str().unwrap().to_string(),
    }
}

#[test]
fn docker_imports_and_loads_the_exported_rootfs() {
    require_root();
    let art = artifacts();
    let docker = Dockerd::start(
        "tl-dockerd-",
        &["--iptables=false", "--ip6tables=false", "--bridge=none"],
    );
    // docker import of the plain rootfs tarball.
    docker.ok(&[
        "import",
        art.rootfs_tar.to_str().unwrap(),
        "tinilinux-imported:test",
    ]);
    let out = docker.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "tinilinux-imported:test",
        "/bin/sh",
        "-c",
        "echo hello from tinilinux; test -x /bin/busybox && echo busybox-ok",
    ]);
    assert_eq!(out, "hello from tinilinux\nbusybox-ok\n");
    // docker load of the OCI archive (it carries a docker-save manifest.json too).
    let loaded = docker.ok(&["load", "-i", art.archive.to_str().unwrap()]);
    assert!(loaded.contains("tinilinux:latest"), "{loaded}");
    let id = docker.ok(&[
        "image",
        "inspect",
        "--format",
        "{{.Id}}",
        "tinilinux:latest",
    ]);
    assert_eq!(
        id.trim(),
        art.config_digest,
        "Docker's image ID is the exported config digest"
    );
    let out = docker.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "tinilinux:latest",
        "echo",
        "loaded-ok",
    ]);
    assert_eq!(out, "loaded-ok\n");
    // And back: a `docker save` archive of the imported image loads into tinibox.
    let saved = tempfile::tempdir().unwrap();
    let archive = saved.path().join("saved.tar");
    docker.ok(&[
        "save",
        "-o",
        archive.to_str().unwrap(),
        "tinilinux-imported:test",
    ]);
    let store = tempfile::tempdir().unwrap();
    let out = tinibox(store.path(), &["load", "-i", archive.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "Loaded image: tinilinux-imported:test"
    );
    let docker_id = docker.ok(&[
        "image",
        "inspect",
        "--format",
        "{{.Id}}",
        "tinilinux-imported:test",
    ]);
    let record = Store::open(store.path())
        .unwrap()
        .resolve("tinilinux-imported:test")
        .unwrap();
    assert_eq!(
        record.config_digest,
        docker_id.trim(),
        "same image ID in Docker and tinibox"
    );
}

#[test]
fn podman_loads_and_runs_the_oci_archive() {
    require_root();
    require_tool("podman");
    let art = artifacts();
    let dir = tempfile::Builder::new()
        .prefix("tl-podman")
        .tempdir_in("/tmp")
        .unwrap();
    // Pinned: Podman's runtime (it picks crun when crun is installed, and crun 1.8 refuses
    // this host's hybrid cgroups) and no host containers.conf.
    std::fs::write(dir.path().join("containers.conf"), "").unwrap();
    let podman = |args: &[&str]| {
        run(Command::new("podman")
            .env("CONTAINERS_CONF", dir.path().join("containers.conf"))
            .args(["--runtime", "runc"])
            .arg("--root")
            .arg(dir.path().join("root"))
            .arg("--runroot")
            .arg(dir.path().join("runroot"))
            .args([
                "--storage-driver",
                "vfs",
                "--cgroup-manager",
                "cgroupfs",
                "--events-backend",
                "none",
            ])
            .args(args))
    };
    let out = podman(&["load", "-i", art.archive.to_str().unwrap()]);
    assert!(out.status.success(), "podman load: {out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let id = stdout
        .lines()
        .find_map(|l| {
            l.strip_prefix("Loaded image: ")
                .or_else(|| l.strip_prefix("Loaded image(s): "))
        })
        .unwrap_or_else(|| panic!("no 'Loaded image' line: {stdout}"))
        .trim()
        .to_string();
    let out = podman(&[
        "run",
        "--rm",
        "--network",
        "none",
        // Podman's default rlimits (1048576 files, many processes) exceed what this machine
        // lets even root raise to; ask for modest ones.
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=1024:1024",
        &id,
        "/bin/sh",
        "-c",
        "echo podman-ok",
    ]);
    let result = String::from_utf8_lossy(&out.stdout).into_owned();
    let _ = podman(&["rmi", "-a", "-f"]);
    let _ = run(Command::new("podman")
        .arg("--root")
        .arg(dir.path().join("root"))
        .arg("--runroot")
        .arg(dir.path().join("runroot"))
        .args(["--storage-driver", "vfs", "system", "reset", "-f"]));
    assert!(out.status.success(), "podman run: {out:?}");
    assert_eq!(result, "podman-ok\n");
}

/// Unmounts `path` (lazily) when dropped.
struct MountGuard(PathBuf);

impl Drop for MountGuard {
    fn drop(&mut self) {
        let c = std::ffi::CString::new(self.0.to_str().unwrap()).unwrap();
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
}

#[test]
fn without_overlayfs_container_roots_are_private_copies() {
    require_root();
    // A store on an overlayfs mount (like tinibox inside another container): overlayfs
    // refuses another overlayfs as its upper folder, so tinibox must copy.
    let dir = tempfile::tempdir().unwrap();
    for d in ["lower", "upper", "work", "merged"] {
        std::fs::create_dir(dir.path().join(d)).unwrap();
    }
    let merged = dir.path().join("merged");
    ok(Command::new("mount")
        .args(["-t", "overlay", "overlay", "-o"])
        .arg(format!(
            "lowerdir={},upperdir={},workdir={}",
            dir.path().join("lower").display(),
            dir.path().join("upper").display(),
            dir.path().join("work").display()
        ))
        .arg(&merged));
    let _guard = MountGuard(merged.clone());
    let store_dir = merged.join("store");
    let s = Store::open(&store_dir).unwrap();
    tinibox::image::load(&s, &main_image().layout_dir).unwrap();
    let record = s.resolve("tinilinux").unwrap();
    let a = s.prepare_rootfs(&record, "copy-a").unwrap();
    let b = s.prepare_rootfs(&record, "copy-b").unwrap();
    assert_eq!(a.mode, tinibox::image::RootfsMode::Copy);
    let out = in_root(
        &a.rootfs,
        "echo a > /tmp/mine && test -x /bin/busybox && echo ok",
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok", "{out:?}");
    let out = in_root(&b.rootfs, "test ! -e /tmp/mine && echo clean");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "clean",
        "{out:?}"
    );
    assert!(!s.layer_path(&record.diff_ids[0]).join("tmp/mine").exists());
    s.release_rootfs("copy-a").unwrap();
    s.release_rootfs("copy-b").unwrap();
    assert!(!s.container_path("copy-a").exists());
}

#[test]
fn concurrent_loads_of_one_image_give_one_record() {
    require_root();
    let image = main_image();
    let store = tempfile::tempdir().unwrap();
    let children: Vec<_> = (0..4)
        .map(|i| {
            let input = if i % 2 == 0 {
                &image.layout_dir
            } else {
                &image.archive
            };
            Command::new(tinibox_bin())
                .arg("--store")
                .arg(store.path())
                .arg("load")
                .arg(input)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    let s = Store::open(store.path()).unwrap();
    let images = s.images().unwrap();
    assert_eq!(images.len(), 1, "{images:?}");
    let (paths, _) = snapshot(store.path());
    assert!(
        !paths.iter().any(|p| p.starts_with("tmp/")),
        "staging left behind: {paths:?}"
    );
    assert_eq!(
        paths
            .iter()
            .filter(|p| p.starts_with("layers/sha256/") && p.matches('/').count() == 2)
            .count(),
        1
    );
}

#[test]
fn tinibox_run_of_a_loaded_image_honours_its_config_and_cleans_up() {
    require_root();
    let store = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let minimal = exported()
        .1
        .iter()
        .find(|i| i.reference == "tinilinux-minimal:latest")
        .unwrap();
    let out = tinibox(store.path(), &["load", minimal.archive.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let run_image = |args: &[&str]| {
        run(Command::new(tinibox_bin())
            .arg("--store")
            .arg(store.path())
            .arg("--root")
            .arg(state.path())
            .args(["run", "--rm", "--network", "none"])
            .args(args))
    };
    // Entrypoint /bin/busybox + the command given; Env PATH from the image config.
    let out = run_image(&["tinilinux-minimal", "sh", "-c", "echo $PATH; cat /etc/motd"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "/usr/sbin:/usr/bin:/sbin:/bin\ntinilinux-minimal: BusyBox only\n"
    );
    // The default Cmd (sh) reads stdin: none here, so it exits 0 at once.
    let out = run_image(&["tinilinux-minimal:latest"]);
    assert!(out.status.success(), "{out:?}");
    // With stdin (-i) that shell runs what it reads: the process is the Entrypoint plus the
    // default Cmd, `/bin/busybox sh`.
    let mut child = Command::new(tinibox_bin())
        .arg("--store")
        .arg(store.path())
        .arg("--root")
        .arg(state.path())
        .args([
            "run",
            "--rm",
            "-i",
            "--network",
            "none",
            "tinilinux-minimal",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(b"tr '\\0' ' ' < /proc/$$/cmdline; echo; exit 6\n")
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(6), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "/bin/busybox sh",
        "{out:?}"
    );
    // --rm removed the container's root (upper folder and mount).
    let containers: Vec<_> = std::fs::read_dir(store.path().join("containers"))
        .unwrap()
        .collect();
    assert!(
        containers.is_empty(),
        "container roots left: {containers:?}"
    );
    // Unknown image: exit 125, one line.
    let out = run_image(&["--pull", "never", "nosuchimage", "true"]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such image 'nosuchimage'"));
    let out = tinibox(store.path(), &["rmi", "tinilinux-minimal"]);
    assert!(out.status.success(), "{out:?}");
    assert!(Store::open(store.path())
        .unwrap()
        .images()
        .unwrap()
        .is_empty());
}

#[test]
fn rmi_force_keeps_the_layers_of_a_running_container_until_it_goes() {
    require_root();
    let store = tempfile::tempdir().unwrap();
    let s = Store::open(store.path()).unwrap();
    tinibox::image::load(&s, &main_image().layout_dir).unwrap();
    let record = s.resolve("tinilinux").unwrap();
    let root = s.prepare_rootfs(&record, "holder").unwrap().rootfs;
    let out = tinibox(store.path(), &["rmi", "-f", "tinilinux"]);
    assert!(out.status.success(), "{out:?}");
    assert!(s.images().unwrap().is_empty());
    // The container still has its root; the layer stays while it exists.
    let layer = s.layer_path(&record.diff_ids[0]);
    assert!(layer.is_dir());
    let out = in_root(&root, "echo still-here");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "still-here");
    s.release_rootfs("holder").unwrap();
    assert!(
        !layer.exists(),
        "the layer goes with the last container using it"
    );
}
