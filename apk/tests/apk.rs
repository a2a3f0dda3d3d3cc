//! End-to-end tests of the `apk` binary against repositories made by `tests/mkrepo.py` (an
//! independent Python + openssl implementation of the apk v2 formats), served over HTTP by
//! `python3 -m http.server` on 127.0.0.1 (a free port the kernel picks), installing into
//! temporary roots. The packages carry Debian's static BusyBox (/bin/busybox from
//! busybox-static) and small script-only payloads. Scripts run chrooted, so these tests run
//! as root (as the project's test suite does).

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

const APK: &str = env!("CARGO_BIN_EXE_apk");

fn mkrepo_py() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mkrepo.py")
}

thread_local! {
    /// The keys folder of the test running on this thread (each test runs on its own thread
    /// and makes its own `World`).
    static KEYS: std::cell::RefCell<Option<PathBuf>> = const { std::cell::RefCell::new(None) };
}

/// Makes the test keys `test` (trusted) and `other` (not trusted) in `dir` for this thread.
fn make_keys(dir: &Path) {
    for name in ["test", "other"] {
        let st = Command::new("python3")
            .arg(mkrepo_py())
            .args(["keygen", dir.to_str().unwrap(), name])
            .status()
            .expect("python3");
        assert!(st.success(), "keygen {name}");
    }
    KEYS.with(|k| *k.borrow_mut() = Some(dir.to_path_buf()));
}

/// This thread's keys folder (see [`make_keys`]).
fn keys() -> PathBuf {
    KEYS.with(|k| k.borrow().clone())
        .expect("World::new makes the keys first")
}

/// Signing key description for the spec: private key file `who`, published as `name`.
fn key(who: &str, name: &str, hash: &str) -> Value {
    json!({"private": keys().join(format!("{who}.rsa")), "name": name, "hash": hash})
}

fn trusted() -> Value {
    key("test", "test.rsa.pub", "sha1")
}

fn busybox(version: &str) -> Value {
    json!({"name": "busybox", "version": version, "description": "BusyBox from Debian's busybox-static",
           "provides": [format!("cmd:sh={version}")], "key": key("test", "test.rsa.pub", "sha256"),
           "files": [{"path": "bin", "dir": true, "mode": 0o755},
                     {"path": "bin/busybox", "source": "/bin/busybox", "mode": 0o755},
                     {"path": "bin/sh", "symlink": "busybox"}]})
}

fn script_pkg(name: &str, version: &str, depends: &[&str], files: Value) -> Value {
    json!({"name": name, "version": version, "depends": depends, "key": trusted(), "files": files})
}

fn hello(version: &str) -> Value {
    json!({"name": "hello", "version": version, "depends": ["busybox"], "key": trusted(),
           "scripts": {"post-install": "#!/bin/sh\necho hello-post \"$1\" > /hello.marker\n",
                       "post-upgrade": "#!/bin/sh\necho \"$1 $2\" > /hello.upgraded\n",
                       "pre-deinstall": "#!/bin/sh\nrm -f /hello.marker /hello.upgraded\n"},
           "files": [{"path": "usr/bin/hello", "content": format!("#!/bin/sh\necho hello {version}\n"), "mode": 0o755},
                     {"path": "etc/hello.conf", "content": "greeting=hi\n", "mode": 0o600, "uid": 1000, "gid": 1000}]})
}

/// Writes a repository under `base/NAME/x86_64` and returns `base/NAME`.
fn build_repo(base: &Path, name: &str, packages: Vec<Value>, index_key: Value) -> PathBuf {
    let repo = base.join(name);
    let _ = fs::remove_dir_all(&repo);
    let spec = json!({"out": repo.join("x86_64"), "arch": "x86_64", "description": format!("{name} test repository"),
                      "index_key": index_key, "packages": packages});
    let spec_path = base.join(format!("{name}.json"));
    fs::write(&spec_path, spec.to_string()).unwrap();
    let out = Command::new("python3")
        .arg(mkrepo_py())
        .arg("build")
        .arg(&spec_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mkrepo: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    repo
}

/// `python3 -m http.server` on 127.0.0.1, port chosen by the kernel; killed on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let mut cmd = Command::new("python3");
        cmd.args([
            "-u",
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            "0",
            "--directory",
        ])
        .arg(dir);
        Server::spawn(cmd)
    }

    /// Runs `cmd`, which prints a line with `port N` once it listens.
    fn spawn(mut cmd: Command) -> Server {
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
        Server { child, port }
    }

    fn url(&self, repo: &str) -> String {
        format!("http://127.0.0.1:{}/{repo}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A test world: a folder with repositories, a server and a root with the trusted key.
struct World {
    dir: tempfile::TempDir,
    server: Server,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        make_keys(&dir.path().join("keys"));
        let server = Server::start(dir.path());
        let w = World { dir, server };
        fs::create_dir_all(w.root().join("etc/apk/keys")).unwrap();
        fs::copy(
            keys().join("test.rsa.pub"),
            w.root().join("etc/apk/keys/test.rsa.pub"),
        )
        .unwrap();
        w
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn repo(&self, name: &str, packages: Vec<Value>) -> String {
        build_repo(self.dir.path(), name, packages, trusted());
        self.server.url(name)
    }

    fn repo_signed(&self, name: &str, packages: Vec<Value>, index_key: Value) -> String {
        build_repo(self.dir.path(), name, packages, index_key);
        self.server.url(name)
    }

    /// Runs apk on this world's root.
    fn apk(&self, args: &[&str]) -> Output {
        self.apk_env(args, &[])
    }

    fn apk_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut c = Command::new(APK);
        // Hermetic TLS roots: the built-in ones unless a test names a bundle.
        c.env_remove("SSL_CERT_FILE");
        c.arg("--root").arg(self.root()).args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "apk failed ({:?}):\n{}",
        o.status,
        text(&o)
    );
    text(&o)
}

/// Every path under the root with what a user observes of it: kind, mode, owner, content.
fn snapshot(root: &Path, skip: &[&str]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    fn walk(root: &Path, dir: &Path, skip: &[&str], out: &mut BTreeMap<String, String>) {
        let mut entries: Vec<_> = fs::read_dir(dir).unwrap().flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if skip.contains(&rel.as_str()) {
                continue;
            }
            let m = fs::symlink_metadata(&p).unwrap();
            let owner = format!("{:o} {}:{}", m.mode() & 0o7777, m.uid(), m.gid());
            let what = if m.file_type().is_symlink() {
                format!("link -> {}", fs::read_link(&p).unwrap().display())
            } else if m.is_dir() {
                walk(root, &p, skip, out);
                format!("dir {owner}")
            } else {
                let data = fs::read(&p).unwrap();
                format!(
                    "file {owner} {} bytes {:x?}",
                    data.len(),
                    &data[..data.len().min(16)]
                )
            };
            out.insert(rel, what);
        }
    }
    walk(root, root, skip, &mut out);
    out
}

/// The database files apk rewrites even when nothing else changes.
const DB_NOISE: &[&str] = &["lib/apk/db/lock", "lib/apk/db/scripts.tar"];

fn q1(data: &[u8]) -> String {
    use base64::Engine as _;
    use sha1::Digest as _;
    format!(
        "Q1{}",
        base64::engine::general_purpose::STANDARD.encode(sha1::Sha1::digest(data))
    )
}

#[test]
fn add_installs_files_modes_owners_scripts_world_and_db_then_del_removes_exactly_that() {
    let w = World::new();
    let url = w.repo("main", vec![busybox("1.35.0-r0"), hello("1.0-r0")]);
    ok(w.apk(&["--initdb", "-X", &url, "update"]));
    let before = snapshot(&w.root(), DB_NOISE);

    let out = ok(w.apk(&["-X", &url, "add", "hello"]));
    assert!(
        out.contains("(1/2) Installing busybox (1.35.0-r0)"),
        "{out}"
    );
    assert!(out.contains("(2/2) Installing hello (1.0-r0)"), "{out}");
    let r = w.root();
    // Files, modes, owners.
    let m = fs::metadata(r.join("usr/bin/hello")).unwrap();
    assert_eq!(m.permissions().mode() & 0o7777, 0o755);
    let conf = fs::metadata(r.join("etc/hello.conf")).unwrap();
    assert_eq!(
        (conf.mode() & 0o7777, conf.uid(), conf.gid()),
        (0o600, 1000, 1000)
    );
    assert_eq!(
        fs::read_link(r.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    assert_eq!(
        fs::read(r.join("bin/busybox")).unwrap(),
        fs::read("/bin/busybox").unwrap()
    );
    // The installed program runs inside the root.
    let run = Command::new("chroot")
        .arg(&r)
        .arg("/usr/bin/hello")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout), "hello 1.0-r0\n");
    // The post-install script ran chrooted with the version argument.
    assert_eq!(
        fs::read_to_string(r.join("hello.marker")).unwrap(),
        "hello-post 1.0-r0\n"
    );
    // World and installed database.
    assert_eq!(
        fs::read_to_string(r.join("etc/apk/world")).unwrap(),
        "hello\n"
    );
    let db = fs::read_to_string(r.join("lib/apk/db/installed")).unwrap();
    let conf_sum = q1(b"greeting=hi\n");
    for want in [
        "P:hello\nV:1.0-r0\n",
        "F:usr/bin\n",
        "R:hello\na:0:0:755\n",
        &format!("R:hello.conf\na:1000:1000:600\nZ:{conf_sum}\n"),
        "P:busybox\n",
        &format!(
            "R:busybox\na:0:0:755\nZ:{}\n",
            q1(&fs::read("/bin/busybox").unwrap())
        ),
    ] {
        assert!(db.contains(want), "installed db lacks {want:?}:\n{db}");
    }
    // scripts.tar keeps the scripts under apk-tools' names.
    let tar_bytes = fs::read(r.join("lib/apk/db/scripts.tar")).unwrap();
    let mut names = Vec::new();
    for e in tar::Archive::new(tar_bytes.as_slice()).entries().unwrap() {
        names.push(e.unwrap().path().unwrap().to_string_lossy().into_owned());
    }
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("hello-1.0-r0.Q1") && n.ends_with(".post-install")),
        "{names:?}"
    );
    // Queries.
    let owner = ok(w.apk(&["info", "-W", r.join("etc/hello.conf").to_str().unwrap()]));
    assert!(owner.contains("is owned by hello-1.0-r0"), "{owner}");
    let files = ok(w.apk(&["info", "-L", "hello"]));
    assert!(files.contains("usr/bin/hello\netc/hello.conf"), "{files}");
    assert!(w.apk(&["info", "-e", "hello"]).status.success());
    assert_eq!(
        w.apk(&["info", "-e", "hello", "nope", "nada"])
            .status
            .code(),
        Some(2)
    );

    // del removes exactly what add brought (the pre-deinstall script removes its marker).
    let out = ok(w.apk(&["-X", &url, "del", "hello"]));
    assert!(out.contains("Purging hello (1.0-r0)"), "{out}");
    assert!(out.contains("Purging busybox (1.35.0-r0)"), "{out}");
    assert_eq!(snapshot(&w.root(), DB_NOISE), before);
}

#[test]
fn upgrade_replaces_a_version_and_runs_post_upgrade() {
    let w = World::new();
    let v1 = script_pkg(
        "tool",
        "1.0-r0",
        &[],
        json!([{"path": "usr/share/tool/a", "content": "a1\n"}, {"path": "usr/share/tool/b", "content": "b1\n"}]),
    );
    let url = w.repo("main", vec![busybox("1.35.0-r0"), hello("1.0-r0"), v1]);
    ok(w.apk(&["--initdb", "-X", &url, "add", "hello", "tool"]));
    let mut v2 = script_pkg(
        "tool",
        "1.1-r0",
        &[],
        json!([{"path": "usr/share/tool/a", "content": "a2\n"}, {"path": "usr/share/tool/c", "content": "c2\n"}]),
    );
    v2["depends"] = json!([]);
    w.repo("main", vec![busybox("1.35.0-r0"), hello("1.0-r1"), v2]);
    let listed = ok(w.apk(&["-U", "-X", &url, "list", "--upgradable"]));
    assert!(
        listed.contains("tool-1.1-r0 x86_64 {tool} (MIT) [upgradable from: tool-1.0-r0]"),
        "{listed}"
    );
    let out = ok(w.apk(&["-X", &url, "upgrade"]));
    assert!(out.contains("Upgrading tool (1.0-r0 -> 1.1-r0)"), "{out}");
    assert!(out.contains("Upgrading hello (1.0-r0 -> 1.0-r1)"), "{out}");
    let r = w.root();
    assert_eq!(
        fs::read_to_string(r.join("usr/share/tool/a")).unwrap(),
        "a2\n"
    );
    assert!(
        !r.join("usr/share/tool/b").exists(),
        "file of the old version removed"
    );
    assert_eq!(
        fs::read_to_string(r.join("usr/share/tool/c")).unwrap(),
        "c2\n"
    );
    assert_eq!(
        fs::read_to_string(r.join("hello.upgraded")).unwrap(),
        "1.0-r1 1.0-r0\n"
    );
    let db = fs::read_to_string(r.join("lib/apk/db/installed")).unwrap();
    assert!(
        db.contains("P:tool\nV:1.1-r0\n") && !db.contains("V:1.0-r0\n"),
        "{db}"
    );
    assert!(!db.contains("R:b\n"), "{db}");
    // Nothing left to do.
    let again = ok(w.apk(&["-X", &url, "upgrade"]));
    assert!(!again.contains("Upgrading"), "{again}");
}

fn solver_repo(w: &World) -> String {
    let f = |p: &str| json!([{"path": p, "content": format!("{p}\n")}]);
    let mut greeter = script_pkg("greeter", "1.0-r0", &[], f("usr/bin/greet"));
    greeter["provides"] = json!(["cmd:greet=1.0-r0"]);
    w.repo(
        "main",
        vec![
            script_pkg("needs-missing", "1.0-r0", &["nothere>=1"], f("a")),
            script_pkg("x", "1.0-r0", &["!y"], f("x")),
            script_pkg("y", "1.0-r0", &[], f("y")),
            script_pkg("lib", "1.5-r0", &[], f("lib15")),
            script_pkg("lib", "2.0-r0", &[], f("lib20")),
            script_pkg("app-b", "1.0-r0", &["lib<2"], f("appb")),
            script_pkg("app-c", "1.0-r0", &["lib"], f("appc")),
            greeter,
            script_pkg("uses-greet", "1.0-r0", &["cmd:greet"], f("usesgreet")),
        ],
    )
}

#[test]
fn solver_explains_missing_dependency_conflict_and_version_constraint() {
    let w = World::new();
    let url = solver_repo(&w);
    ok(w.apk(&["--initdb", "-X", &url, "update"]));
    let before = snapshot(&w.root(), DB_NOISE);
    let cases: [(&[&str], &str); 3] = [
        (
            &["needs-missing"],
            "  nothere (no such package):\n    required by: needs-missing-1.0-r0[nothere>=1]",
        ),
        (&["x", "y"], "conflicts: x-1.0-r0[!y]"),
        (
            &["lib>=9"],
            "  lib:\n    breaks: world[lib>=9]\n    available: lib-1.5-r0 lib-2.0-r0",
        ),
    ];
    for (args, want) in cases {
        let mut a = vec!["-X", url.as_str(), "add"];
        a.extend(args);
        let o = w.apk(&a);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", text(&o));
        let t = text(&o);
        assert!(t.contains("ERROR: unable to select packages:"), "{t}");
        assert!(t.contains(want), "{args:?}: expected {want:?} in:\n{t}");
        assert_eq!(
            snapshot(&w.root(), DB_NOISE),
            before,
            "{args:?} changed the root"
        );
    }
}

#[test]
fn solver_picks_versions_and_providers() {
    let w = World::new();
    let url = solver_repo(&w);
    // A dependency's constraint picks the older lib; a later package then reuses it.
    let out = ok(w.apk(&["--initdb", "-X", &url, "add", "app-b", "app-c"]));
    assert!(out.contains("Installing lib (1.5-r0)"), "{out}");
    assert!(w.root().join("lib15").exists() && !w.root().join("lib20").exists());
    // A provided name (cmd:) pulls in its provider.
    let out = ok(w.apk(&["-X", &url, "add", "uses-greet"]));
    assert!(out.contains("Installing greeter (1.0-r0)"), "{out}");
    // A version pin on the command line.
    let out = ok(w.apk(&["-X", &url, "del", "app-b", "app-c"]));
    assert!(out.contains("Purging lib (1.5-r0)"), "{out}");
    let out = ok(w.apk(&["-X", &url, "add", "lib>=2"]));
    assert!(out.contains("Installing lib (2.0-r0)"), "{out}");
    assert!(fs::read_to_string(w.root().join("etc/apk/world"))
        .unwrap()
        .contains("lib>=2\n"));
    // A virtual package groups dependencies and goes away with them.
    let out = ok(w.apk(&["-X", &url, "add", "--virtual", ".build-deps", "y"]));
    assert!(out.contains("Installing y (1.0-r0)"), "{out}");
    assert!(out.contains("Installing .build-deps"), "{out}");
    let out = ok(w.apk(&["-X", &url, "del", ".build-deps"]));
    assert!(out.contains("Purging y (1.0-r0)"), "{out}");
    // --simulate changes nothing.
    let before = snapshot(&w.root(), DB_NOISE);
    let out = ok(w.apk(&["-s", "-X", &url, "add", "x"]));
    assert!(out.contains("Installing x (1.0-r0)"), "{out}");
    assert_eq!(snapshot(&w.root(), DB_NOISE), before);
}

#[test]
fn bad_packages_and_indexes_are_refused_and_the_root_is_unchanged() {
    let w = World::new();
    let mut tampered = script_pkg(
        "tampered",
        "1.0-r0",
        &[],
        json!([{"path": "t", "content": "good\n"}]),
    );
    tampered["tamper"] = json!("data");
    let mut wrong_sig = script_pkg(
        "wrongsig",
        "1.0-r0",
        &[],
        json!([{"path": "w", "content": "w\n"}]),
    );
    wrong_sig["key"] = key("other", "test.rsa.pub", "sha1");
    let mut unknown = script_pkg(
        "unknownkey",
        "1.0-r0",
        &[],
        json!([{"path": "u", "content": "u\n"}]),
    );
    unknown["key"] = key("other", "stranger.rsa.pub", "sha256");
    let mut unsigned = script_pkg(
        "unsigned",
        "1.0-r0",
        &[],
        json!([{"path": "n", "content": "n\n"}]),
    );
    unsigned["key"] = Value::Null;
    let truncated = script_pkg(
        "truncated",
        "1.0-r0",
        &[],
        json!([{"path": "big", "source": "/bin/busybox"}]),
    );
    let cut_short = script_pkg(
        "cutshort",
        "1.0-r0",
        &[],
        json!([{"path": "c", "content": "c\n"}]),
    );
    let url = w.repo(
        "main",
        vec![
            tampered,
            wrong_sig,
            unknown,
            unsigned.clone(),
            truncated,
            cut_short,
        ],
    );
    // Cut in the data stream, and cut inside the first (signature) stream.
    for (file, keep) in [
        ("truncated-1.0-r0.apk", None),
        ("cutshort-1.0-r0.apk", Some(40)),
    ] {
        let path = w.dir.path().join("main/x86_64").join(file);
        let len = fs::metadata(&path).unwrap().len();
        fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(keep.unwrap_or(len / 2))
            .unwrap();
    }
    ok(w.apk(&["--initdb", "-X", &url, "update"]));
    let before = snapshot(&w.root(), DB_NOISE);
    let cases = [
        ("tampered", "data hash mismatch"),
        ("wrongsig", "BAD signature (key \"test.rsa.pub\")"),
        ("unknownkey", "signed by unknown key \"stranger.rsa.pub\""),
        ("truncated", "data hash mismatch"),
        ("cutshort", "damaged or truncated gzip stream"),
    ];
    for (name, want) in cases {
        let o = w.apk(&["-X", &url, "add", name]);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{name}: {t}");
        assert!(
            t.contains(&format!("ERROR: {name}-1.0-r0: ")),
            "{name}: {t}"
        );
        assert!(t.contains(want), "{name}: expected {want:?} in:\n{t}");
        assert_eq!(
            snapshot(&w.root(), DB_NOISE),
            before,
            "{name} changed the root"
        );
    }
    // An unsigned package file given on the command line needs --allow-untrusted.
    let file = w.dir.path().join("main/x86_64/unsigned-1.0-r0.apk");
    let o = w.apk(&["add", file.to_str().unwrap()]);
    assert!(text(&o).contains("not signed"), "{}", text(&o));
    assert_eq!(snapshot(&w.root(), DB_NOISE), before);
    ok(w.apk(&["--allow-untrusted", "add", file.to_str().unwrap()]));
    assert!(w.root().join("n").exists());

    // Indexes: wrongly signed, signed by an unknown key, unsigned.
    let pkgs = vec![script_pkg(
        "fine",
        "1.0-r0",
        &[],
        json!([{"path": "f", "content": "f\n"}]),
    )];
    let bad = w.repo_signed(
        "badindex",
        pkgs.clone(),
        key("other", "test.rsa.pub", "sha256"),
    );
    let o = w.apk(&["-X", &bad, "add", "fine"]);
    assert!(
        text(&o).contains("BAD signature (key \"test.rsa.pub\")"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("fine (no such package)"), "{}", text(&o));
    let unk = w.repo_signed(
        "unkindex",
        pkgs.clone(),
        key("other", "other.rsa.pub", "sha1"),
    );
    let o = w.apk(&["-X", &unk, "update"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("unknown key \"other.rsa.pub\""),
        "{}",
        text(&o)
    );
    let none = w.repo_signed("noindexsig", pkgs, Value::Null);
    let o = w.apk(&["-X", &none, "add", "fine"]);
    assert!(text(&o).contains("not signed"), "{}", text(&o));
    assert!(!w.root().join("f").exists());
}

#[test]
fn files_outside_the_root_or_owned_by_others_are_refused() {
    let w = World::new();
    let outside = std::env::temp_dir().join(format!("tinilinux-apk-escape-{}", std::process::id()));
    let _ = fs::remove_dir_all(&outside);
    let up = "../".repeat(40) + outside.strip_prefix("/").unwrap().to_str().unwrap();
    let url = w.repo(
        "main",
        vec![
            busybox("1.35.0-r0"),
            hello("1.0-r0"),
            script_pkg(
                "planter",
                "1.0-r0",
                &[],
                json!([{"path": "evil", "symlink": up},
                                                          {"path": "abs", "symlink": outside}]),
            ),
            script_pkg(
                "climber",
                "1.0-r0",
                &[],
                json!([{"path": "evil/owned", "content": "x\n"}]),
            ),
            script_pkg(
                "confined",
                "1.0-r0",
                &[],
                json!([{"path": "abs/inside", "content": "x\n"}]),
            ),
            script_pkg(
                "clash",
                "1.0-r0",
                &[],
                json!([{"path": "usr/bin/hello", "content": "clash\n", "mode": 0o755}]),
            ),
        ],
    );
    ok(w.apk(&["--initdb", "-X", &url, "add", "hello", "planter"]));
    let before = snapshot(&w.root(), DB_NOISE);
    let o = w.apk(&["-X", &url, "add", "climber"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("climber-1.0-r0: evil/owned: escapes the root"),
        "{}",
        text(&o)
    );
    assert!(!outside.exists(), "wrote outside the root");
    assert_eq!(snapshot(&w.root(), DB_NOISE), before);
    // An absolute symlink is followed inside the root, as the system will see it.
    fs::create_dir_all(w.root().join(outside.strip_prefix("/").unwrap())).unwrap();
    ok(w.apk(&["-X", &url, "add", "confined"]));
    assert!(w
        .root()
        .join(outside.strip_prefix("/").unwrap())
        .join("inside")
        .exists());
    assert!(!outside.exists(), "wrote outside the root");
    // Another package's file.
    let before = snapshot(&w.root(), DB_NOISE);
    let o = w.apk(&["-X", &url, "add", "clash"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("trying to overwrite usr/bin/hello owned by hello"),
        "{}",
        text(&o)
    );
    assert_eq!(snapshot(&w.root(), DB_NOISE), before);
    ok(w.apk(&["--force-overwrite", "-X", &url, "add", "clash"]));
    assert_eq!(
        fs::read_to_string(w.root().join("usr/bin/hello")).unwrap(),
        "clash\n"
    );
}

/// Paths of staging files (`.apk.*`) left anywhere in the root.
fn stray_temps(root: &Path) -> Vec<String> {
    snapshot(root, &[])
        .into_keys()
        .filter(|p| p.rsplit('/').next().is_some_and(|n| n.starts_with(".apk.")))
        .collect()
}

/// Every file the database lists exists, and nothing is staged or journaled.
fn assert_consistent(root: &Path) {
    assert!(
        stray_temps(root).is_empty(),
        "stray files: {:?}",
        stray_temps(root)
    );
    assert!(!root.join("lib/apk/db/transaction").exists());
    let db = fs::read_to_string(root.join("lib/apk/db/installed")).unwrap();
    let mut dir = String::new();
    for line in db.lines() {
        if let Some(d) = line.strip_prefix("F:") {
            dir = d.to_string();
        } else if let Some(f) = line.strip_prefix("R:") {
            let p = root.join(&dir).join(f);
            assert!(
                fs::symlink_metadata(&p).is_ok(),
                "{} listed but missing",
                p.display()
            );
        }
    }
}

#[test]
fn kill_9_during_add_then_fix_gives_a_consistent_root() {
    let w = World::new();
    let url = w.repo("main", vec![busybox("1.35.0-r0"), hello("1.0-r0")]);
    for (point, installed) in [("staged", false), ("committed", true), ("renamed", true)] {
        let _ = fs::remove_dir_all(w.root().join("lib"));
        let _ = fs::remove_dir_all(w.root().join("usr"));
        let _ = fs::remove_file(w.root().join("hello.marker"));
        let _ = fs::remove_file(w.root().join("etc/hello.conf"));
        let _ = fs::remove_file(w.root().join("etc/apk/world"));
        ok(w.apk(&["--initdb", "-X", &url, "add", "busybox"]));
        let before = snapshot(&w.root(), DB_NOISE);
        let o = w.apk_env(
            &["-X", &url, "add", "hello"],
            &[("TINILINUX_APK_CRASH_AT", point)],
        );
        assert_eq!(o.status.signal(), Some(9), "{point}: {}", text(&o));
        // Until fixed, changes are refused.
        let o = w.apk(&["-X", &url, "add", "hello"]);
        assert!(
            text(&o).contains("run `apk fix` first"),
            "{point}: {}",
            text(&o)
        );
        let out = ok(w.apk(&["-X", &url, "fix"]));
        assert_consistent(&w.root());
        let world = fs::read_to_string(w.root().join("etc/apk/world")).unwrap();
        if installed {
            assert!(
                out.contains("Interrupted transaction completed"),
                "{point}: {out}"
            );
            assert_eq!(world, "busybox\nhello\n");
            assert_eq!(
                fs::read_to_string(w.root().join("hello.marker")).unwrap(),
                "hello-post 1.0-r0\n"
            );
        } else {
            assert!(
                out.contains("Interrupted transaction undone"),
                "{point}: {out}"
            );
            assert_eq!(snapshot(&w.root(), DB_NOISE), before, "{point}");
        }
    }
}

#[test]
fn kill_9_at_arbitrary_moments_then_fix_gives_a_consistent_root() {
    let w = World::new();
    let mut pkgs = vec![busybox("1.35.0-r0")];
    let mut names = Vec::new();
    for i in 0..8 {
        let files: Vec<Value> = (0..30)
            .map(|j| json!({"path": format!("usr/share/p{i}/f{j}"), "content": format!("{j}").repeat(20000)}))
            .collect();
        pkgs.push(script_pkg(
            &format!("p{i}"),
            "1.0-r0",
            &["busybox"],
            json!(files),
        ));
        names.push(format!("p{i}"));
    }
    let url = w.repo("main", pkgs);
    ok(w.apk(&["--initdb", "-X", &url, "update"]));
    for delay_ms in [0u64, 30, 100, 300, 1000] {
        let mut args = vec![
            "--root".to_string(),
            w.root().display().to_string(),
            "-X".into(),
            url.clone(),
            "add".into(),
        ];
        args.extend(names.iter().cloned());
        let mut child = Command::new(APK)
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        let _ = child.wait();
        ok(w.apk(&["-X", &url, "fix"]));
        assert_consistent(&w.root());
        // Whatever state it reached, it is either all of the add or none of it.
        let db = fs::read_to_string(w.root().join("lib/apk/db/installed")).unwrap();
        let present = names
            .iter()
            .filter(|n| db.contains(&format!("P:{n}\n")))
            .count();
        assert!(
            present == 0 || present == names.len(),
            "partial add: {present}"
        );
        if present > 0 {
            let mut del = vec!["-X", url.as_str(), "del"];
            del.extend(names.iter().map(String::as_str));
            ok(w.apk(&del));
            assert_consistent(&w.root());
        }
    }
}

#[test]
fn local_repository_path_and_package_cache() {
    let w = World::new();
    build_repo(
        w.dir.path(),
        "local",
        vec![busybox("1.35.0-r0"), hello("1.0-r0")],
        trusted(),
    );
    let path = w.dir.path().join("local");
    let r = w.root();
    fs::create_dir_all(r.join("etc/apk")).unwrap();
    fs::write(
        r.join("etc/apk/repositories"),
        format!("# local\n{}\n", path.display()),
    )
    .unwrap();
    ok(w.apk(&["--initdb", "update"]));
    fs::create_dir_all(r.join("etc/apk/cache")).unwrap();
    // The local repository also answers as file://.
    let file_url = format!("file://{}", path.display());
    let out = ok(w.apk(&[
        "--repositories-file",
        "/dev/null",
        "-X",
        &file_url,
        "search",
        "-v",
        "hel",
    ]));
    assert!(out.contains("hello-1.0-r0 - hello"), "{out}");
    ok(w.apk(&["add", "hello"]));
    assert!(r.join("usr/bin/hello").exists());
    // Remote packages land in the cache; local ones too when the cache exists.
    let cached: Vec<String> = fs::read_dir(r.join("etc/apk/cache"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        cached
            .iter()
            .any(|n| n.starts_with("hello-1.0-r0.") && n.ends_with(".apk")),
        "{cached:?}"
    );
    ok(w.apk(&["del", "hello"]));
    let out = ok(w.apk(&["cache", "clean"]));
    assert!(out.contains("Removed 2 cached files"), "{out}");
    assert_eq!(fs::read_dir(r.join("etc/apk/cache")).unwrap().count(), 0);
}

#[test]
fn usage_errors_exit_1_with_one_line() {
    let w = World::new();
    let o = w.apk(&["add", "foo"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("no package database"), "{}", text(&o));
    let o = Command::new(APK).arg("--bogus").output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let o = w.apk(&["--initdb", "add", "bad=x.y"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("invalid version \"x.y\""), "{}", text(&o));
}

/// A small HTTPS file server (Python's http.server wrapped in TLS).
/// The HTTPS repository server (`tests/https_server.py`, shared with the boot test).
fn https_server_py() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/https_server.py")
}

fn openssl(dir: &Path, args: &[&str]) {
    let o = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "openssl {args:?}: {}", text(&o));
}

#[test]
fn https_repository_is_verified_against_the_trusted_roots() {
    let w = World::new();
    w.repo("main", vec![busybox("1.35.0-r0"), hello("1.0-r0")]);
    let d = w.dir.path();
    // A private CA and a certificate for 127.0.0.1 that it signs.
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=TiniLinux apk test CA",
        ],
    );
    openssl(
        d,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "srv.key",
            "-out",
            "srv.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    fs::write(
        d.join("ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "srv.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "srv.pem",
            "-days",
            "2",
            "-extfile",
            "ext",
        ],
    );
    let mut cmd = Command::new("python3");
    cmd.arg("-u")
        .arg(https_server_py())
        .arg(d)
        .arg(d.join("srv.pem"))
        .arg(d.join("srv.key"));
    let tls = Server::spawn(cmd);
    let url = format!("https://127.0.0.1:{}/main", tls.port);
    // Not trusted by the system's CA bundle or the built-in roots: refused, nothing installed.
    let o = w.apk(&["--initdb", "-X", &url, "add", "hello"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("{url}/x86_64/APKINDEX.tar.gz")),
        "{}",
        text(&o)
    );
    assert!(!w.root().join("usr/bin/hello").exists());
    // Trusted through SSL_CERT_FILE: installs.
    let ca = d.join("ca.pem");
    let out = ok(w.apk_env(
        &["-X", &url, "add", "hello"],
        &[("SSL_CERT_FILE", ca.to_str().unwrap())],
    ));
    assert!(out.contains("Installing hello (1.0-r0)"), "{out}");
    assert!(w.root().join("usr/bin/hello").exists());
}

#[test]
fn triggers_run_for_changed_directories() {
    let w = World::new();
    let mut cache = script_pkg(
        "fontcache",
        "1.0-r0",
        &["busybox"],
        json!([{"path": "usr/share/fonts", "dir": true}]),
    );
    cache["triggers"] = json!(["/usr/share/fonts/*"]);
    cache["scripts"] = json!({"trigger": "#!/bin/sh\necho \"$@\" >> /trigger.log\n"});
    let url = w.repo(
        "main",
        vec![
            busybox("1.35.0-r0"),
            cache,
            script_pkg(
                "font-a",
                "1.0-r0",
                &[],
                json!([{"path": "usr/share/fonts/a/a.ttf", "content": "a"}]),
            ),
            script_pkg(
                "other",
                "1.0-r0",
                &[],
                json!([{"path": "usr/share/other/o", "content": "o"}]),
            ),
        ],
    );
    ok(w.apk(&["--initdb", "-X", &url, "add", "fontcache"]));
    let triggers = fs::read_to_string(w.root().join("lib/apk/db/triggers")).unwrap();
    assert!(triggers.ends_with(" /usr/share/fonts/*\n"), "{triggers}");
    let out = ok(w.apk(&["-X", &url, "add", "font-a"]));
    assert!(out.contains("Executing fontcache-1.0-r0.trigger"), "{out}");
    ok(w.apk(&["-X", &url, "add", "other"]));
    ok(w.apk(&["-X", &url, "del", "font-a"]));
    let log = fs::read_to_string(w.root().join("trigger.log")).unwrap();
    assert_eq!(log, "/usr/share/fonts/a\n/usr/share/fonts/a\n");
}

#[test]
fn fix_reinstalls_packages_with_missing_files() {
    let w = World::new();
    let url = w.repo("main", vec![busybox("1.35.0-r0"), hello("1.0-r0")]);
    ok(w.apk(&["--initdb", "-X", &url, "add", "hello"]));
    let before = snapshot(&w.root(), DB_NOISE);
    fs::remove_file(w.root().join("usr/bin/hello")).unwrap();
    let out = ok(w.apk(&["-X", &url, "fix"]));
    assert!(out.contains("Reinstalling hello (1.0-r0)"), "{out}");
    assert!(!out.contains("busybox"), "only the broken package: {out}");
    // A reinstall runs the upgrade scripts (same version on both sides).
    assert_eq!(
        fs::read_to_string(w.root().join("hello.upgraded")).unwrap(),
        "1.0-r0 1.0-r0\n"
    );
    let mut skip = DB_NOISE.to_vec();
    skip.push("hello.upgraded");
    assert_eq!(snapshot(&w.root(), &skip), before);
    // A configuration file the user changed is kept; the packaged one lands beside it.
    fs::write(w.root().join("etc/hello.conf"), "changed\n").unwrap();
    let out = ok(w.apk(&["-X", &url, "fix", "hello"]));
    assert!(out.contains("keeping the changed /etc/hello.conf"), "{out}");
    assert_eq!(
        fs::read_to_string(w.root().join("etc/hello.conf")).unwrap(),
        "changed\n"
    );
    assert_eq!(
        fs::read_to_string(w.root().join("etc/hello.conf.apk-new")).unwrap(),
        "greeting=hi\n"
    );
    // Named packages are reinstalled even when intact.
    let out = ok(w.apk(&["-X", &url, "fix", "busybox"]));
    assert!(out.contains("Reinstalling busybox (1.35.0-r0)"), "{out}");
    let o = w.apk(&["-X", &url, "fix", "nothere"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("nothere: not installed"), "{}", text(&o));
    // Removing the package keeps the changed file, unless --purge.
    let out = ok(w.apk(&["-X", &url, "del", "hello"]));
    assert!(out.contains("keeping the changed /etc/hello.conf"), "{out}");
    assert_eq!(
        fs::read_to_string(w.root().join("etc/hello.conf")).unwrap(),
        "changed\n"
    );
    assert!(!w.root().join("usr/bin/hello").exists());
    ok(w.apk(&["-X", &url, "add", "hello"]));
    let out = ok(w.apk(&["--purge", "-X", &url, "del", "hello"]));
    assert!(!out.contains("keeping"), "{out}");
    assert!(!w.root().join("etc/hello.conf").exists());
}

#[test]
fn tagged_repository_is_used_only_for_pinned_names() {
    let w = World::new();
    let f = |p: &str| json!([{"path": p, "content": format!("{p}\n")}]);
    let main = w.repo("main", vec![script_pkg("tool", "1.0-r0", &[], f("tool1"))]);
    let edge = w.repo("edge", vec![script_pkg("tool", "2.0-r0", &[], f("tool2"))]);
    let tagged = format!("@edge {edge}");
    let out = ok(w.apk(&["--initdb", "-X", &main, "-X", &tagged, "add", "tool"]));
    assert!(out.contains("Installing tool (1.0-r0)"), "{out}");
    let out = ok(w.apk(&["-X", &main, "-X", &tagged, "add", "tool@edge"]));
    assert!(out.contains("Upgrading tool (1.0-r0 -> 2.0-r0)"), "{out}");
    assert_eq!(
        fs::read_to_string(w.root().join("etc/apk/world")).unwrap(),
        "tool@edge\n"
    );
    // The pin stays: upgrade keeps the edge version.
    let out = ok(w.apk(&["-X", &main, "-X", &tagged, "upgrade"]));
    assert!(!out.contains("tool"), "{out}");
}

#[test]
fn failing_scripts_are_reported() {
    let w = World::new();
    let mut post = script_pkg(
        "badpost",
        "1.0-r0",
        &["busybox"],
        json!([{"path": "bp", "content": "x"}]),
    );
    post["scripts"] = json!({"post-install": "#!/bin/sh\necho post output\nexit 3\n"});
    let mut pre = script_pkg(
        "badpre",
        "1.0-r0",
        &["busybox"],
        json!([{"path": "bq", "content": "x"}]),
    );
    pre["scripts"] = json!({"pre-install": "#!/bin/sh\necho pre output\nexit 4\n"});
    let url = w.repo("main", vec![busybox("1.35.0-r0"), post, pre]);
    ok(w.apk(&["--initdb", "-X", &url, "add", "busybox"]));
    // A failed post-install: installed, reported, counted in the exit status.
    let o = w.apk(&["-X", &url, "add", "badpost"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("post output"), "{}", text(&o));
    assert!(
        text(&o).contains("ERROR: badpost-1.0-r0.post-install: script exited with error 3"),
        "{}",
        text(&o)
    );
    assert!(w.root().join("bp").exists());
    // A failed pre-install: nothing changes.
    let before = snapshot(&w.root(), DB_NOISE);
    let o = w.apk(&["-X", &url, "add", "badpre"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("pre output"), "{}", text(&o));
    assert!(
        text(&o).contains("ERROR: badpre-1.0-r0.pre-install: script exited with error 4"),
        "{}",
        text(&o)
    );
    assert_eq!(snapshot(&w.root(), DB_NOISE), before);
    assert!(!w.root().join("lib/apk/db/transaction").exists());
}

/// An unsigned index (for `--allow-untrusted`) of `text` at `dir/x86_64/APKINDEX.tar.gz`.
fn unsigned_index(dir: &Path, text: &str) {
    let mut tar = tar::Builder::new(Vec::new());
    for (name, body) in [
        ("DESCRIPTION", "hand-made".as_bytes()),
        ("APKINDEX", text.as_bytes()),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, name, body).unwrap();
    }
    let tar = tar.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    fs::create_dir_all(dir.join("x86_64")).unwrap();
    fs::write(dir.join("x86_64/APKINDEX.tar.gz"), gz.finish().unwrap()).unwrap();
}

/// Input a hostile or broken source can give, each refused before anything changes and with
/// nothing outside the root touched: package names that are paths (`../evil`), `--virtual`
/// names that are not names, packages whose own entries collide (a file below a link or a
/// file of the same package, a file and a directory at one path, a name over 255 bytes: these
/// used to fail after the commit point and leave a journal `fix` could not finish), a world
/// that is not text, and journals whose paths lead out of the root or that are not text.
#[test]
fn hostile_names_entries_worlds_and_journals_change_nothing() {
    let w = World::new();
    let long = "n".repeat(300);
    let url = w.repo(
        "main",
        vec![
            busybox("1.35.0-r0"),
            hello("1.0-r0"),
            script_pkg(
                "symout",
                "1-r0",
                &[],
                json!([{"path": "opt", "dir": true}, {"path": "opt/out", "symlink": "/tmp"},
                       {"path": "opt/out/escape", "content": "x\n"}]),
            ),
            script_pkg(
                "filesub",
                "1-r0",
                &[],
                json!([{"path": "opt/z", "content": "z\n"}, {"path": "opt/z/sub", "content": "s\n"}]),
            ),
            script_pkg(
                "filedir",
                "1-r0",
                &[],
                json!([{"path": "opt/x", "content": "x\n"}, {"path": "opt/x", "dir": true}]),
            ),
            script_pkg(
                "longname",
                "1-r0",
                &[],
                json!([{"path": format!("opt/{long}"), "content": "l\n"}]),
            ),
        ],
    );
    let evil = w.repo(
        "evil",
        vec![script_pkg(
            "../evil",
            "1-r0",
            &[],
            json!([{"path": "e", "content": "e\n"}]),
        )],
    );
    ok(w.apk(&["--initdb", "-X", &url, "add", "hello"]));
    let before = snapshot(&w.root(), DB_NOISE);
    let unchanged = |what: &str| {
        assert_eq!(
            snapshot(&w.root(), DB_NOISE),
            before,
            "{what} changed the root"
        );
    };
    for (name, want) in [
        (
            "symout",
            "opt/out/escape: below /opt/out, which this transaction makes a file or link",
        ),
        (
            "filesub",
            "opt/z/sub: below /opt/z, which this transaction makes a file or link",
        ),
        (
            "filedir",
            "opt/x: a file or link of this transaction is in the way of a directory",
        ),
        ("longname", "a file name longer than 255 bytes"),
    ] {
        let o = w.apk(&["-X", &url, "add", name]);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{name}: {t}");
        assert!(t.contains(want), "{name}: expected {want:?} in:\n{t}");
        assert!(t.contains("ERROR: nothing was changed"), "{name}: {t}");
        unchanged(name);
        assert!(
            !w.root().join("lib/apk/db/transaction").exists(),
            "{name}: a journal is left"
        );
    }
    // A name that is a path: the index is refused, nothing is fetched or cached.
    fs::create_dir_all(w.root().join("etc/apk/cache")).unwrap();
    let before_cache = snapshot(&w.root(), DB_NOISE);
    let o = w.apk(&["-X", &evil, "add", "../evil"]);
    let t = text(&o);
    assert_ne!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("invalid package name \"../evil\""), "{t}");
    assert_eq!(snapshot(&w.root(), DB_NOISE), before_cache);
    fs::remove_dir(w.root().join("etc/apk/cache")).unwrap();
    // --virtual names that are no names.
    for name in ["", "bad name", "x=1", "a/b", "y@tag"] {
        let o = w.apk(&["-X", &url, "add", "-t", name, "busybox"]);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{name:?}: {t}");
        assert!(
            t.contains("ERROR: invalid virtual package name"),
            "{name:?}: {t}"
        );
        assert_eq!(t.trim().lines().count(), 1, "{t}");
        unchanged(name);
    }
    // A FILE.apk that is not there is named as a file.
    let o = w.apk(&["add", "/nonexistent/pkg.apk"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("ERROR: /nonexistent/pkg.apk: No such file"),
        "{}",
        text(&o)
    );
    // Repository locations that are none, or that apk cannot fetch from: named.
    for (x, want) in [
        ("", "-X \"\": not a repository location"),
        ("@tag", "-X \"@tag\": not a repository location"),
        (
            "ftp://host/alpine",
            "ftp://host/alpine: unsupported URL scheme ftp://",
        ),
    ] {
        let o = w.apk(&["-X", x, "add", "busybox"]);
        assert_eq!(o.status.code(), Some(1), "{x:?}: {}", text(&o));
        assert!(text(&o).contains(want), "{x:?}: {}", text(&o));
        unchanged(x);
    }
    // A checksum pin matches that package only; a tag no repository has is said.
    let o = w.apk(&["-X", &url, "-s", "add", "busybox><Q1garbage="]);
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("breaks: world[busybox><Q1garbage=]"),
        "{}",
        text(&o)
    );
    let db = fs::read_to_string(w.root().join("lib/apk/db/installed")).unwrap();
    let sum = db
        .split("\n\n")
        .find(|s| s.contains("\nP:busybox\n"))
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("C:")))
        .expect("busybox's checksum in the database");
    ok(w.apk(&["-X", &url, "-s", "add", &format!("busybox><{sum}")]));
    let o = w.apk(&["-X", &url, "-s", "add", "busybox@nosuchtag"]);
    assert!(
        text(&o).contains("WARNING: busybox@nosuchtag: no repository is tagged @nosuchtag"),
        "{}",
        text(&o)
    );
    // A world that is not text: refused, not read as empty and written over.
    let world = w.root().join("etc/apk/world");
    let saved = fs::read(&world).unwrap();
    fs::write(&world, b"busybox\n\xff\xfe\n").unwrap();
    let o = w.apk(&["-X", &url, "add", "busybox"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("/etc/apk/world: stream did not contain valid UTF-8"),
        "{}",
        text(&o)
    );
    assert_eq!(fs::read(&world).unwrap(), b"busybox\n\xff\xfe\n");
    fs::write(&world, saved).unwrap();
    // Journals from elsewhere: a path climbing out, a link leading out, binary text.
    let outside = w.dir.path().join("victim");
    fs::write(&outside, "precious\n").unwrap();
    let jdir = w.root().join("lib/apk/db/transaction");
    fs::create_dir_all(&jdir).unwrap();
    let up = format!(
        "{}victim",
        "../".repeat(40) + w.dir.path().strip_prefix("/").unwrap().to_str().unwrap() + "/"
    );
    fs::write(jdir.join("plan"), format!("state\tcommit\nremove\t{up}\n")).unwrap();
    let o = w.apk(&["fix"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("unreadable journal"), "{}", text(&o));
    assert!(outside.exists(), "fix removed a file outside the root");
    std::os::unix::fs::symlink(w.dir.path(), w.root().join("lnk")).unwrap();
    fs::write(jdir.join("plan"), "state\tcommit\nremove\tlnk/victim\n").unwrap();
    ok(w.apk(&["fix"]));
    assert!(outside.exists(), "fix followed a link out of the root");
    fs::remove_file(w.root().join("lnk")).unwrap();
    fs::create_dir_all(&jdir).unwrap();
    fs::write(jdir.join("plan"), b"state\tcommit\n\xff\xfe\n").unwrap();
    let o = w.apk(&["fix"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("unreadable journal"), "{}", text(&o));
    assert!(
        jdir.join("plan").exists(),
        "an unreadable journal was thrown away"
    );
    fs::remove_dir_all(&jdir).unwrap();
    unchanged("the journals");
}

/// A chain of 100,000 dependencies (p0 → p1 → … ) is ordered without overflowing the stack,
/// and an architecture or a command line that is not one is one line, exit 1.
#[test]
fn long_dependency_chains_and_bad_architectures() {
    let w = World::new();
    let n = 100_000;
    let mut index = String::new();
    for i in 0..n {
        index.push_str(&format!(
            "C:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=\nP:p{i}\nV:1-r0\nA:x86_64\nS:1\nI:1\nT:x\n"
        ));
        if i + 1 < n {
            index.push_str(&format!("D:p{}\n", i + 1));
        }
        index.push('\n');
    }
    let repo = w.dir.path().join("chain");
    unsigned_index(&repo, &index);
    ok(w.apk(&["--initdb", "update"]));
    let out = ok(w.apk(&[
        "--allow-untrusted",
        "-X",
        repo.to_str().unwrap(),
        "-s",
        "add",
        "p0",
    ]));
    assert!(
        out.contains(&format!("({n}/{n}) Installing p0 (1-r0)")),
        "{}",
        &out[out.len().saturating_sub(300)..]
    );
    for arch in ["", "../x", "x86_64\nfoo", "X86"] {
        let o = w.apk(&["--arch", arch, "info"]);
        assert_eq!(o.status.code(), Some(1), "{arch:?}: {}", text(&o));
        assert!(
            text(&o).starts_with("ERROR: --arch: invalid architecture"),
            "{}",
            text(&o)
        );
        assert_eq!(text(&o).trim().lines().count(), 1, "{}", text(&o));
    }
    fs::write(w.root().join("etc/apk/arch"), "a:b\nc\n").unwrap();
    let o = w.apk(&["info"]);
    assert!(
        text(&o).starts_with("ERROR: /etc/apk/arch: invalid architecture"),
        "{}",
        text(&o)
    );
    let file = w.dir.path().join("a-file");
    fs::write(&file, "x").unwrap();
    let o = Command::new(APK)
        .arg("--root")
        .arg(&file)
        .arg("info")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("not a directory"), "{}", text(&o));
    let o = w.apk(&["--bogus", "info"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o).trim(),
        "ERROR: unexpected argument '--bogus' found (see `apk --help`)"
    );
}
