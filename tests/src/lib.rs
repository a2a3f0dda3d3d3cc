//! Shared helpers for the end-to-end tests in `tests/tests/`: paths to the built binaries and
//! outputs, a BusyBox rootfs built from Debian's busybox-static, and root/QEMU guards.
//!
//! Each test file owns one area (engine, images, runtime clients, boot, disk) and only
//! shares what is here. Nothing in this crate mocks the system under test: a missing
//! prerequisite makes the calling test fail with a line saying what to install.

pub mod dockerd;
pub mod qemu;
pub mod registry;

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The build's output folder: `TINILINUX_OUT`, else `out/` at the repository root.
pub fn out_dir() -> PathBuf {
    std::env::var_os("TINILINUX_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("out"))
}

/// The image manifest for `architecture` (GOARCH: `amd64`, `arm64`) that the `latest` tag of
/// the OCI layout at `layout` names: the tagged manifest itself, or, when the tag names an
/// image index (out/oci/ once more than one architecture is built, see
/// distro_build::oci::platforms), the index's entry for that platform. Returns (the tagged
/// descriptor's digest, the image manifest's digest, the image manifest). Panics with the
/// layout's path when the tag or the platform is missing.
pub fn layout_image(layout: &Path, architecture: &str) -> (String, String, serde_json::Value) {
    let read = |digest: &str| -> serde_json::Value {
        let path = layout
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let index_path = layout.join("index.json");
    let index: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&index_path).unwrap_or_else(|e| panic!("{}: {e}", index_path.display())),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", index_path.display()));
    let tagged = index["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == "latest")
        .unwrap_or_else(|| panic!("{} names no `latest`", index_path.display()));
    let tag_digest = tagged["digest"].as_str().unwrap_or_default().to_string();
    let document = read(&tag_digest);
    if tagged["mediaType"] != "application/vnd.oci.image.index.v1+json" {
        return (tag_digest.clone(), tag_digest, document);
    }
    let entry = document["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["platform"]["architecture"] == architecture)
        .unwrap_or_else(|| {
            panic!(
                "{}: the index has no {architecture} image",
                layout.display()
            )
        });
    let digest = entry["digest"].as_str().unwrap_or_default().to_string();
    let manifest = read(&digest);
    (tag_digest, digest, manifest)
}

/// The output `name` of `distro-build all` (e.g. `tinilinux.iso`); panics, naming the command
/// to run, when the build has not made it.
pub fn out_file(name: &str) -> PathBuf {
    let path = out_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: run `./target/release/distro-build all` before these tests",
        path.display()
    );
    path
}

/// The repository root (the workspace folder above `tests/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The workspace's target folder (`CARGO_TARGET_DIR` if set).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}

/// The `tinibox` binary to test: `$TINIBOX_BIN` if set (used as given), else `tinibox` in the
/// target folder of the profile this test binary was built with (target/release for
/// `cargo test --release`, target/debug for `cargo test`).
///
/// Cargo builds only tinibox's library for this crate, not its binary, so the binary may be
/// missing or older than the sources; both fail the test with the build command, rather than
/// testing a stale binary. "Older" is cargo's own rule: a file of tinibox/src or
/// tinibox/Cargo.toml modified after the binary.
pub fn tinibox_bin() -> PathBuf {
    locate_tinibox().unwrap_or_else(|e| panic!("{e}"))
}

/// [`tinibox_bin`]'s answer, or the one-line reason there is no current binary.
fn locate_tinibox() -> Result<PathBuf, String> {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("TINIBOX_BIN") {
            return Ok(PathBuf::from(p));
        }
        let (dir, release) = profile_dir();
        let build = if release {
            "cargo build --release -p tinibox"
        } else {
            "cargo build -p tinibox"
        };
        let bin = dir.join("tinibox");
        let built = std::fs::metadata(&bin)
            .and_then(|m| m.modified())
            .map_err(|_| format!("{} is missing: run `{build}` first", bin.display()))?;
        let crate_dir = repo_root().join("tinibox");
        if let Some((source, _)) = newest_file(&crate_dir).filter(|(_, t)| *t > built) {
            return Err(format!(
                "{} is older than {}: run `{build}` first",
                bin.display(),
                source.display()
            ));
        }
        Ok(bin)
    })
    .clone()
}

/// The target/PROFILE folder this test binary runs from (it lives in PROFILE/deps), and
/// whether that profile is an optimised one (release, bench or a custom profile).
fn profile_dir() -> (PathBuf, bool) {
    let exe = std::env::current_exe().expect("the test binary's own path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| target_dir().join("release"));
    let release = dir.file_name().is_some_and(|n| n != "debug");
    (dir, release)
}

/// The most recently modified file of tinibox's sources (`src/` recursively and
/// `Cargo.toml`) and its time.
fn newest_file(crate_dir: &Path) -> Option<(PathBuf, std::time::SystemTime)> {
    fn walk(p: &Path, best: &mut Option<(PathBuf, std::time::SystemTime)>) {
        let Ok(meta) = std::fs::metadata(p) else {
            return;
        };
        if meta.is_dir() {
            for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
                walk(&e.path(), best);
            }
        } else if let Ok(t) = meta.modified() {
            if best.as_ref().is_none_or(|(_, b)| t > *b) {
                *best = Some((p.to_path_buf(), t));
            }
        }
    }
    let mut best = None;
    walk(&crate_dir.join("src"), &mut best);
    walk(&crate_dir.join("Cargo.toml"), &mut best);
    best
}

/// Fails the test unless it runs as root.
pub fn require_root() {
    assert_eq!(
        nix::unistd::geteuid().as_raw(),
        0,
        "this test needs root (namespaces, cgroups, mounts): run `sudo cargo test` or as root in CI"
    );
}

/// Fails the test unless `tool` is on PATH.
pub fn require_tool(tool: &str) {
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

/// Fails the test unless QEMU (x86_64 system emulator) is installed; returns its path.
pub fn require_qemu() -> PathBuf {
    require_tool("qemu-system-x86_64");
    PathBuf::from("qemu-system-x86_64")
}

/// The statically linked BusyBox of Debian's `busybox-static`; fails the test when it is
/// missing or dynamically linked.
pub fn require_static_busybox() -> PathBuf {
    let p = PathBuf::from("/bin/busybox");
    let bytes = std::fs::read(&p).unwrap_or_else(|_| {
        panic!("/bin/busybox is missing: apt-get install busybox-static (scripts/install-deps.sh)")
    });
    let dynamic = elf_has_interpreter(&bytes);
    assert!(
        !dynamic,
        "/bin/busybox is dynamically linked: apt-get install busybox-static (it replaces busybox)"
    );
    p
}

/// Whether a 64-bit ELF file has a PT_INTERP program header (i.e. is dynamically linked).
fn elf_has_interpreter(elf: &[u8]) -> bool {
    let u16_at = |o: usize| {
        elf.get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
    };
    let u64_at = |o: usize| {
        elf.get(o..o + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize)
    };
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38))
    else {
        return true;
    };
    (0..phnum).any(|i| {
        let o = phoff + i * phentsize;
        elf.get(o..o + 4) == Some(&3u32.to_le_bytes()[..])
    })
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn build_busybox_rootfs(dest: &Path) {
    let busybox = require_static_busybox();
    for d in [
        "bin",
        "sbin",
        "usr/bin",
        "usr/sbin",
        "etc",
        "proc",
        "sys",
        "dev",
        "tmp",
        "root",
        "home/user",
        "var/log",
        "run",
    ] {
        std::fs::create_dir_all(dest.join(d)).expect("mkdir in rootfs");
    }
    std::fs::set_permissions(dest.join("tmp"), std::fs::Permissions::from_mode(0o1777))
        .expect("chmod tmp");
    std::fs::copy(&busybox, dest.join("bin/busybox")).expect("copy busybox");
    let list = Command::new(&busybox)
        .arg("--list-full")
        .output()
        .expect("busybox --list-full");
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let applet = applet.trim();
        if applet.is_empty() || applet == "bin/busybox" {
            continue;
        }
        let link = dest.join(applet);
        if link.symlink_metadata().is_err() {
            symlink("/bin/busybox", &link).expect("applet symlink");
        }
    }
    write(
        &dest.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    );
    write(
        &dest.join("etc/group"),
        "root:x:0:\ntty:x:5:\nwheel:x:10:user\nuser:x:1000:\nnogroup:x:65534:\n",
    );
    for f in ["etc/hostname", "etc/hosts", "etc/resolv.conf"] {
        write(&dest.join(f), "");
    }
    std::os::unix::fs::chown(dest.join("home/user"), Some(1000), Some(1000)).ok();
}

/// A BusyBox root filesystem (static /bin/busybox, applet symlinks, /etc/passwd with root,
/// `user` (1000) and `nobody`), built once under target/ and shared read-only by the tests.
/// Tests must not write into it (use `--read-only`, volumes or tmpfs instead).
pub fn busybox_rootfs() -> &'static Path {
    static ROOTFS: OnceLock<PathBuf> = OnceLock::new();
    ROOTFS.get_or_init(|| {
        let base = target_dir().join("test-rootfs");
        let dest = base.join("busybox");
        let stamp = dest.join(".complete");
        if stamp.exists() {
            return dest;
        }
        std::fs::create_dir_all(&base).expect("create target/test-rootfs");
        let tmp = base.join(format!("busybox.tmp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        build_busybox_rootfs(&tmp);
        write(&tmp.join(".complete"), "");
        // Another test binary may have finished first: keep whichever rename wins.
        if std::fs::rename(&tmp, &dest).is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        assert!(stamp.exists(), "building the BusyBox rootfs failed");
        dest
    })
}

/// The BusyBox rootfs ([`busybox_rootfs`]) as a tarball `dir/busybox-rootfs.tar`, for
/// `docker import`, `podman import` and `tinibox import`.
pub fn busybox_tar(dir: &Path) -> PathBuf {
    let tar = dir.join("busybox-rootfs.tar");
    let o = run(Command::new("tar")
        .arg("-C")
        .arg(busybox_rootfs())
        .args(["--exclude=./.complete", "-cf"])
        .arg(&tar)
        .arg("."));
    assert!(o.status.success(), "tar: {}", stderr(&o));
    tar
}

/// A private copy of the BusyBox rootfs for a test that must write into it; removed on drop.
pub fn writable_rootfs() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("tinibox-rootfs-")
        .tempdir()
        .expect("tempdir");
    let status = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", busybox_rootfs().display()))
        .arg(dir.path())
        .status()
        .expect("cp -a");
    assert!(status.success(), "copying the BusyBox rootfs failed");
    dir
}

/// Runs a command and returns its output; panics when it cannot be started.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"))
}

/// Runs the shell command `cmd` under util-linux `script`, i.e. with a pty as its controlling
/// terminal, and returns what `script` printed (stdout with the pty's `\r` removed, stderr,
/// status). `script`'s own stdin stays open and silent until `cmd` ends: with an ended stdin
/// (`/dev/null`), `script` types an end-of-file byte into the pty, which a runtime's terminal
/// relay passes on and the container's pty may echo (`^@`) anywhere in the output.
pub fn under_a_terminal(cmd: &str) -> Output {
    require_tool("script");
    let mut child = Command::new("script")
        .args(["-qec", cmd, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start script: {e}"));
    // wait_with_output closes stdin first; keep the writer until script has ended.
    let quiet_stdin = child.stdin.take();
    let mut out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("script -qec {cmd}: {e}"));
    drop(quiet_stdin);
    out.stdout = String::from_utf8_lossy(&out.stdout)
        .replace('\r', "")
        .into_bytes();
    out
}

/// Runs a command that must succeed and returns its stdout as text.
pub fn ok(cmd: &mut Command) -> String {
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

/// The stdout of an output as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The stderr of an output as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A private tinibox state root (`--root`) for one test; on drop, every container still in
/// it is force-removed and the folder deleted.
pub struct StateRoot {
    dir: tempfile::TempDir,
}

impl StateRoot {
    /// A fresh, empty state root.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("tinibox-state-")
            .tempdir()
            .expect("tempdir for the state root");
        StateRoot { dir }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A `tinibox --root <this root>` command.
    pub fn tinibox(&self) -> Command {
        let mut c = Command::new(tinibox_bin());
        c.arg("--root").arg(self.path());
        c
    }
}

impl Default for StateRoot {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for StateRoot {
    fn drop(&mut self) {
        // No binary, no containers: and a panic here would abort a failing test.
        if locate_tinibox().is_err() {
            return;
        }
        if let Ok(out) = self.tinibox().args(["ps", "-a", "-q"]).output() {
            for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = self.tinibox().args(["rm", "-f", id]).output();
            }
        }
    }
}

/// A shell script for a live or installed TiniLinux (BusyBox, `tinibox` on PATH, as root)
/// that tells whether `tinibox run` entered the container's root with pivot_root: it mounts
/// a tmpfs holding a marker, starts a privileged container from `image`, has it lazily unmount
/// its own root, and enters its mount namespace with `nsenter`. It prints
/// `host-mount-detached` when the marker's mount is gone from the container's namespace
/// (pivot_root detached the host's mounts) and `host-mount-reachable` when it is still there
/// (MS_MOVE + chroot leaves the host's mounts under the container's root), then cleans up.
pub fn pivot_root_probe(image: &str) -> String {
    format!(
        "mkdir -p /mnt/tbx-probe && mount -t tmpfs tbx-probe /mnt/tbx-probe && \
         echo host > /mnt/tbx-probe/marker && \
         tinibox run -d --privileged --name tbx-probe {image} sleep 600 >/dev/null && \
         tinibox exec tbx-probe umount -l / && \
         pid=$(tinibox ps --format json tbx-probe | tr -d '[] ') && \
         if nsenter -t \"$pid\" -m /bin/busybox ls /mnt/tbx-probe 2>/dev/null | grep -q marker; \
         then echo host-mount-reachable; else echo host-mount-detached; fi; \
         tinibox rm -f tbx-probe >/dev/null; umount /mnt/tbx-probe; rmdir /mnt/tbx-probe"
    )
}

/// Every cgroup directory, in every cgroup (v1) and cgroup2 hierarchy mounted on this host,
/// whose name contains `needle`. The mount points come from /proc/self/mountinfo and each
/// tree is walked whole, so this finds a container's groups on v1, hybrid and pure v2 hosts
/// alike, wherever a cgroupsPath put them.
pub fn cgroup_dirs_named(needle: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, needle: &str, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                let p = e.path();
                if e.file_name().to_string_lossy().contains(needle) {
                    out.push(p.clone());
                }
                walk(&p, needle, out);
            }
        }
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut roots: Vec<PathBuf> = mountinfo
        .lines()
        .filter_map(|l| {
            let point = l.split(' ').nth(4)?;
            let fstype = l.split(" - ").nth(1)?.split(' ').next()?;
            (fstype == "cgroup" || fstype == "cgroup2").then(|| PathBuf::from(point))
        })
        .collect();
    roots.sort();
    roots.dedup();
    let mut out = Vec::new();
    for r in &roots {
        walk(r, needle, &mut out);
    }
    assert!(
        !roots.is_empty(),
        "no cgroup hierarchy is mounted: /proc/self/mountinfo lists none"
    );
    out
}

/// The path of `file` in `pid`'s cgroup for `controller` ("memory", "pids", …), as the kernel
/// reports it: the group comes from /proc/PID/cgroup, the hierarchy's mount point from
/// /proc/self/mountinfo (a v1 hierarchy carrying that controller, else the cgroup2 one).
/// None when the process or the hierarchy is not found.
pub fn cgroup_file(pid: i32, controller: &str, file: &str) -> Option<PathBuf> {
    let groups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mounts: Vec<(String, String, String)> = mountinfo
        .lines()
        .filter_map(|l| {
            let point = l.split(' ').nth(4)?.to_string();
            let mut tail = l.split(" - ").nth(1)?.split(' ');
            let fstype = tail.next()?.to_string();
            let superopts = tail.nth(1).unwrap_or("").to_string();
            Some((point, fstype, superopts))
        })
        .collect();
    for line in groups.lines() {
        let mut f = line.splitn(3, ':');
        let (_, ctls, path) = (f.next()?, f.next()?, f.next()?);
        if ctls.split(',').any(|c| c == controller) {
            let point = mounts
                .iter()
                .find(|(_, t, o)| t == "cgroup" && o.split(',').any(|x| x == controller))?;
            return Some(
                Path::new(&point.0)
                    .join(path.trim_start_matches('/'))
                    .join(file),
            );
        }
    }
    let path = groups.lines().find_map(|l| l.strip_prefix("0::"))?;
    let point = mounts.iter().find(|(_, t, _)| t == "cgroup2")?;
    Some(
        Path::new(&point.0)
            .join(path.trim_start_matches('/'))
            .join(file),
    )
}

/// Stops a daemon a test started (dockerd, containerd): SIGTERM, up to 30 s for it to exit,
/// then SIGKILL; then lazily unmounts whatever it left mounted below `dir` (its data and
/// exec roots), deepest first, so that the folder can be removed.
pub fn stop_daemon(child: &mut std::process::Child, dir: &std::path::Path) {
    // SAFETY: signalling the daemon the test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let t = std::time::Instant::now();
    while t.elapsed() < std::time::Duration::from_secs(30) {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    unmount_below(dir);
}

/// Lazily unmounts (`umount -l`) every mount point at or below `dir` in this mount
/// namespace, deepest first, so that the folder can be removed without reaching into a
/// mounted filesystem.
pub fn unmount_below(dir: &Path) {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let prefix = dir.to_string_lossy().to_string();
    let mut points: Vec<&str> = mounts
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .filter(|m| m.starts_with(&prefix))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let _ = std::process::Command::new("umount")
            .args(["-l", p])
            .output();
    }
}

/// A loopback TCP port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
