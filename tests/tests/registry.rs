//! Registries end to end: Debian's `docker-registry` (the CNCF distribution registry) started
//! by each test on 127.0.0.1 — without auth, with htpasswd Basic auth over TLS with a CA the
//! test makes, and behind a bearer token server the test writes (Python + python3-jwt) —
//! filled by `skopeo copy --all` with a two-platform image, then `tinibox pull`/`run`/`login`.
//! A deliberately broken registry (Python) checks the faults: wrong digest, truncated blob,
//! 404, 401, 500-then-success, a connection dropped mid-layer, a missing platform.
//!
//! Everything listens on loopback ports picked at run time; every daemon is killed on drop.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use tinilinux_tests::registry::{
    build_layout, make_tls, self_signed, start_registry, tls_block, wait_port, Daemon,
};
use tinilinux_tests::{ok, require_root, require_tool, tinibox_bin};

const PYTHON: &str = "/usr/bin/python3";

/// Starts a Python server script with `args`; it writes its port to the file given last.
fn start_python(dir: &Path, name: &str, script: &str, args: &[&str]) -> Daemon {
    let script_path = dir.join(format!("{name}.py"));
    std::fs::write(&script_path, script).unwrap();
    let port_file = dir.join(format!("{name}.port"));
    let _ = std::fs::remove_file(&port_file);
    let mut child = Command::new(PYTHON)
        .arg(&script_path)
        .args(args)
        .arg(&port_file)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join(format!("{name}.log"))).unwrap())
        .spawn()
        .expect("start python");
    let deadline = Instant::now() + Duration::from_secs(20);
    let port = loop {
        if let Ok(text) = std::fs::read_to_string(&port_file) {
            if let Ok(p) = text.trim().parse::<u16>() {
                break p;
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{name} exited early ({status}): {}",
                std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "{name} did not start");
        std::thread::sleep(Duration::from_millis(50));
    };
    wait_port(port, &mut child, name);
    Daemon { child, port }
}

/// A test's private world: store, Docker config dir, certs.d, state root.
struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        require_root();
        let dir = tempfile::Builder::new()
            .prefix("tinibox-registry-")
            .tempdir()
            .unwrap();
        for sub in ["store", "docker", "certs.d", "state"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        let world = World { dir };
        // Open (create) the store, so snapshots compare contents, not its creation.
        world.ok(&["images", "-q"]);
        world
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    fn tinibox(&self, args: &[&str]) -> Output {
        self.tinibox_stdin(args, None)
    }

    fn tinibox_stdin(&self, args: &[&str], input: Option<&str>) -> Output {
        self.run_tinibox(args, input, &[])
    }

    fn tinibox_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.run_tinibox(args, None, env)
    }

    fn run_tinibox(&self, args: &[&str], input: Option<&str>, env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(tinibox_bin());
        cmd.envs(env.iter().copied());
        cmd.arg("--store")
            .arg(self.path("store"))
            .arg("--root")
            .arg(self.path("state"))
            .args(args)
            .env("DOCKER_CONFIG", self.path("docker"))
            .env("TINIBOX_CERTS_D", self.path("certs.d"))
            .env_remove("TINIBOX_INSECURE_REGISTRIES")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start tinibox");
        if let Some(text) = input {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        drop(child.stdin.take());
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.tinibox(args);
        assert!(
            out.status.success(),
            "tinibox {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Every path below the store with its size, and repositories.json.
    fn snapshot(&self) -> (Vec<String>, Vec<u8>) {
        let store = self.path("store");
        let mut paths = Vec::new();
        let mut stack = vec![store.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let entry = entry.unwrap();
                let meta = std::fs::symlink_metadata(entry.path()).unwrap();
                let rel = entry
                    .path()
                    .strip_prefix(&store)
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
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts a refused command: exit 125, one line on stderr containing `needle`.
fn assert_refused(out: &Output, needle: &str) {
    assert_one_line_exit(out, 125, needle);
}

/// Asserts what Docker reports as its daemon's (or the registry's) answer: exit 1 (`docker
/// login` with a wrong password, `docker push`/`tag`/`save` of a missing image), one line.
fn assert_daemon_error(out: &Output, needle: &str) {
    assert_one_line_exit(out, 1, needle);
}

fn assert_one_line_exit(out: &Output, code: i32, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(code),
        "expected exit {code}: {stderr}"
    );
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "one line expected: {stderr}"
    );
    assert!(stderr.contains(needle), "stderr lacks {needle:?}: {stderr}");
}

fn skopeo(args: &[&str]) -> String {
    require_tool("skopeo");
    ok(Command::new("skopeo").arg("--insecure-policy").args(args))
}

/// The test layout, built once per test binary.
fn layout() -> &'static (PathBuf, String, String) {
    static LAYOUT: std::sync::OnceLock<(PathBuf, String, String)> = std::sync::OnceLock::new();
    LAYOUT.get_or_init(|| {
        let dir =
            std::env::temp_dir().join(format!("tinibox-registry-layout-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (index, other) = build_layout(&dir);
        (dir, index, other)
    })
}

fn oci_ref(tag: &str) -> String {
    format!("oci:{}:{tag}", layout().0.display())
}

fn config_arch(world: &World, reference: &str) -> String {
    let store = tinibox::image::Store::open(&world.path("store")).unwrap();
    let record = store.resolve(reference).unwrap();
    store.config(&record).unwrap().architecture().to_string()
}

#[test]
fn pull_a_multi_platform_image_without_auth_and_run_it() {
    let world = World::new();
    let reg = start_registry(&world.path("reg"), "", "");
    let name = format!("127.0.0.1:{}/test/multi", reg.port);
    skopeo(&[
        "copy",
        "--all",
        "--dest-tls-verify=false",
        &oci_ref("1"),
        &format!("docker://{name}:1"),
    ]);
    let index_digest = &layout().1;

    let out = world.ok(&["pull", &format!("{name}:1")]);
    assert!(out.contains(&format!("Digest: {index_digest}")), "{out}");
    assert!(out.contains("Downloaded newer image"), "{out}");
    assert_eq!(config_arch(&world, &format!("{name}:1")), "amd64");
    let images = world.ok(&["images", "--digests"]);
    assert!(images.contains(index_digest.as_str()), "{images}");
    let out = world.ok(&["run", "--rm", &format!("{name}:1")]);
    assert_eq!(out, "amd64 image\n");

    // Again: up to date, nothing downloaded.
    let out = world.ok(&["pull", &format!("{name}:1")]);
    assert!(out.contains("Image is up to date"), "{out}");

    // Another platform on request.
    let out = world.ok(&["pull", "--platform", "linux/arm64", &format!("{name}:1")]);
    assert!(out.contains("Downloaded newer image"), "{out}");
    assert_eq!(config_arch(&world, &format!("{name}:1")), "arm64");

    // A platform the index lacks: one line, exit 125, store unchanged.
    let before = world.snapshot();
    let out = world.tinibox(&["pull", "--platform", "linux/s390x", &format!("{name}:1")]);
    assert_refused(
        &out,
        "has no image for linux/s390x (it has linux/amd64, linux/arm64)",
    );
    assert_eq!(world.snapshot(), before);

    // run pulls what is missing (the amd64 layers are shared with tag 1's earlier pull).
    skopeo(&[
        "copy",
        "--all",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &format!("docker://{name}:1"),
        &format!("docker://{name}:2"),
    ]);
    let out = world.tinibox(&["run", "--rm", "--pull", "never", &format!("{name}:2")]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    let out = world.tinibox(&["run", "--rm", &format!("{name}:2")]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "amd64 image\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Unable to find image"));

    // By digest.
    let out = world.ok(&["pull", &format!("{name}@{index_digest}")]);
    assert!(out.contains("Digest:"), "{out}");
    let out = world.ok(&["run", "--rm", &format!("{name}@{index_digest}")]);
    assert_eq!(out, "amd64 image\n");

    // A tag that does not exist.
    let before = world.snapshot();
    let out = world.tinibox(&["pull", &format!("{name}:nope")]);
    assert_refused(&out, "not found");
    assert_eq!(world.snapshot(), before);
}

/// zstd layers (OCI `tar+zstd`), as `skopeo copy --dest-compress-format zstd` and Podman push
/// them: pulled, unpacked and run.
#[test]
fn zstd_layers_pull_and_run() {
    require_tool("zstd");
    let world = World::new();
    let reg = start_registry(&world.path("reg"), "", "");
    let name = format!("127.0.0.1:{}/test/zstd", reg.port);
    skopeo(&[
        "copy",
        "--all",
        "--dest-tls-verify=false",
        "--dest-compress-format",
        "zstd",
        &oci_ref("1"),
        &format!("docker://{name}:1"),
    ]);
    let raw = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        "--override-arch",
        "amd64",
        &format!("docker://{name}:1"),
    ]);
    let index: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let amd = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["platform"]["architecture"] == "amd64")
        .unwrap();
    let manifest = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{name}@{}", amd["digest"].as_str().unwrap()),
    ]);
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    for layer in manifest["layers"].as_array().unwrap() {
        assert_eq!(
            layer["mediaType"], "application/vnd.oci.image.layer.v1.tar+zstd",
            "{manifest}"
        );
    }
    let out = world.ok(&["pull", &format!("{name}:1")]);
    assert!(out.contains("Downloaded newer image"), "{out}");
    let out = world.ok(&["run", "--rm", &format!("{name}:1")]);
    assert_eq!(out, "amd64 image\n");
    // `run --pull always` fetches the manifest again and finds every layer in the store.
    let out = world.tinibox(&["run", "--rm", "--pull", "always", &format!("{name}:1")]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "amd64 image\n");
}

/// Writes an htpasswd file with one bcrypt entry (Python's bcrypt, as docker-registry wants).
fn htpasswd(path: &Path, user: &str, password: &str) {
    let line = ok(Command::new(PYTHON).args([
        "-c",
        "import bcrypt,sys; print(sys.argv[1] + ':' + bcrypt.hashpw(sys.argv[2].encode(), bcrypt.gensalt(5)).decode())",
        user,
        password,
    ]));
    std::fs::write(path, line).unwrap();
}

#[test]
fn basic_auth_over_tls_with_a_test_ca_and_docker_config_credentials() {
    let world = World::new();
    let tls = make_tls(&world.path("tls"), "IP:127.0.0.1");
    htpasswd(&world.path("htpasswd"), "alice", "s3cret pass");
    let http_extra = tls_block(&world.path("tls"));
    let auth = format!(
        "auth:\n  htpasswd:\n    realm: tinibox-test\n    path: {}\n",
        world.path("htpasswd").display()
    );
    let reg = start_registry(&world.path("reg"), &http_extra, &auth);
    let host = format!("127.0.0.1:{}", reg.port);
    let name = format!("{host}/private/app");
    // skopeo reads *.key in a cert dir as a client key: give it the CA alone.
    let ca_dir = world.path("ca-only");
    std::fs::create_dir_all(&ca_dir).unwrap();
    std::fs::copy(&tls, ca_dir.join("ca.crt")).unwrap();
    skopeo(&[
        "copy",
        "--all",
        "--dest-cert-dir",
        ca_dir.to_str().unwrap(),
        "--dest-creds",
        "alice:s3cret pass",
        &oci_ref("1"),
        &format!("docker://{name}:v1"),
    ]);

    // Without the CA the TLS handshake is refused (and plain HTTP is not answered).
    let out = world.tinibox(&["pull", &format!("{name}:v1")]);
    assert_refused(&out, "certs.d");

    let certs = world.path("certs.d").join(&host);
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::copy(&tls, certs.join("ca.crt")).unwrap();

    // Trusted now, but anonymous.
    let before = world.snapshot();
    let out = world.tinibox(&["pull", &format!("{name}:v1")]);
    assert_refused(&out, "authentication failed");
    assert_eq!(world.snapshot(), before);

    // A wrong password is refused and not stored.
    let out = world.tinibox_stdin(
        &["login", "-u", "alice", "--password-stdin", &host],
        Some("wrong\n"),
    );
    assert_daemon_error(&out, "authentication failed");
    assert!(!world.path("docker/config.json").exists());

    let out = world.tinibox_stdin(
        &["login", "-u", "alice", "--password-stdin", &host],
        Some("s3cret pass\n"),
    );
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("Login Succeeded"));
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(world.path("docker/config.json")).unwrap()).unwrap();
    assert!(config["auths"][&host]["auth"].is_string(), "{config}");

    world.ok(&["pull", &format!("{name}:v1")]);
    assert_eq!(
        world.ok(&["run", "--rm", &format!("{name}:v1")]),
        "amd64 image\n"
    );

    world.ok(&["logout", &host]);
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(world.path("docker/config.json")).unwrap()).unwrap();
    assert!(config["auths"].get(&host).is_none(), "{config}");

    // Credentials written by another client in Docker's format (username/password fields
    // are what some tools write; "auth" is Docker's) work too.
    std::fs::write(
        world.path("docker/config.json"),
        serde_json::to_vec(&serde_json::json!({"auths": {format!("https://{host}"): {"username": "alice", "password": "s3cret pass"}}})).unwrap(),
    )
    .unwrap();
    world.ok(&["rmi", &format!("{name}:v1")]);
    world.ok(&["pull", &format!("{name}:v1")]);
}

const TOKEN_SERVER: &str = r#"
import base64, json, secrets, sys, time, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import jwt

key_path, cert_der_path, user, password, service, issuer, port_file = sys.argv[1:8]
key = open(key_path, 'rb').read()
x5c = base64.b64encode(open(cert_der_path, 'rb').read()).decode()

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        query = urllib.parse.parse_qs(url.query)
        account = ''
        auth = self.headers.get('Authorization', '')
        if auth.startswith('Basic '):
            u, _, p = base64.b64decode(auth[6:]).decode().partition(':')
            if (u, p) != (user, password):
                self.send_response(401)
                self.end_headers()
                return
            account = u
        access = []
        for scope in query.get('scope', []):
            for one in scope.split(' '):
                typ, name, actions = one.split(':')
                access.append({'type': typ, 'name': name,
                               'actions': actions.split(',') if account else []})
        now = int(time.time())
        claims = {'iss': issuer, 'sub': account, 'aud': query.get('service', [''])[0],
                  'exp': now + 300, 'nbf': now - 10, 'iat': now,
                  'jti': secrets.token_hex(8), 'access': access}
        token = jwt.encode(claims, key, algorithm='ES256', headers={'x5c': [x5c]})
        body = json.dumps({'token': token, 'expires_in': 300}).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stderr.write((fmt % args) + '\n')

server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
open(port_file, 'w').write(str(server.server_address[1]))
server.serve_forever()
"#;

#[test]
fn bearer_tokens_from_a_token_server() {
    let world = World::new();
    let dir = world.path("token");
    self_signed(&dir, "signing", "/CN=token signer", &[]);
    ok(Command::new("openssl").current_dir(&dir).args([
        "x509",
        "-in",
        "signing.crt",
        "-outform",
        "der",
        "-out",
        "signing.der",
    ]));
    let token = start_python(
        &dir,
        "token-server",
        TOKEN_SERVER,
        &[
            dir.join("signing.key").to_str().unwrap(),
            dir.join("signing.der").to_str().unwrap(),
            "bob",
            "hunter2",
            "tinibox-test-registry",
            "tinibox-test-issuer",
        ],
    );
    let auth = format!(
        "auth:\n  token:\n    realm: http://127.0.0.1:{}/token\n    service: tinibox-test-registry\n    issuer: tinibox-test-issuer\n    rootcertbundle: {}\n",
        token.port,
        dir.join("signing.crt").display()
    );
    let reg = start_registry(&world.path("reg"), "", &auth);
    let host = format!("127.0.0.1:{}", reg.port);
    let name = format!("{host}/team/tok");
    skopeo(&[
        "copy",
        "--all",
        "--dest-tls-verify=false",
        "--dest-creds",
        "bob:hunter2",
        &oci_ref("1"),
        &format!("docker://{name}:1"),
    ]);

    // Anonymous tokens carry no access: refused, store unchanged.
    let before = world.snapshot();
    let out = world.tinibox(&["pull", &format!("{name}:1")]);
    assert_refused(&out, "authentication failed");
    assert_eq!(world.snapshot(), before);

    let out = world.tinibox_stdin(
        &["login", "-u", "bob", "--password-stdin", &host],
        Some("nope"),
    );
    assert_daemon_error(&out, "authentication failed");

    world.tinibox_stdin(
        &["login", "-u", "bob", "--password-stdin", &host],
        Some("hunter2"),
    );
    world.ok(&["pull", &format!("{name}:1")]);
    assert_eq!(
        world.ok(&["run", "--rm", &format!("{name}:1")]),
        "amd64 image\n"
    );
    // The token server saw tinibox ask for the pull scope of this repository.
    let log = std::fs::read_to_string(dir.join("token-server.log")).unwrap();
    assert!(
        log.contains("scope=repository%3Ateam%2Ftok%3Apull"),
        "{log}"
    );
}

const BROKEN_SERVER: &str = r#"
import json, os, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

layout, top_index, other_index, port_file = sys.argv[1:5]
blobs = os.path.join(layout, 'blobs', 'sha256')
seen = {}
lock = threading.Lock()

def blob(digest):
    return open(os.path.join(blobs, digest.split(':', 1)[1]), 'rb').read()

class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def send(self, status, body=b'', ctype='application/octet-stream', headers=()):
        self.send_response(status)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)

    def first_time(self, key):
        with lock:
            n = seen.get(key, 0)
            seen[key] = n + 1
        return n == 0

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        parts = self.path.split('/')
        if self.path == '/v2/':
            return self.send(200, b'{}', 'application/json')
        # /v2/<fault>/img/{manifests,blobs}/<ref>
        if len(parts) != 6 or parts[1] != 'v2':
            return self.send(404)
        fault, kind, ref = parts[2], parts[4], parts[5]
        if fault == 'unauthorized':
            return self.send(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', 'application/json',
                             [('WWW-Authenticate', 'Basic realm="broken"')])
        if kind == 'manifests':
            if fault == 'missing':
                return self.send(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}', 'application/json')
            digest = ref if ref.startswith('sha256:') else (other_index if fault == 'noplatform' else top_index)
            body = blob(digest)
            mtype = json.loads(body).get('mediaType', 'application/vnd.oci.image.manifest.v1+json')
            return self.send(200, body, mtype, [('Docker-Content-Digest', digest)])
        body = blob(ref)
        big = len(body) > 100000
        if fault == 'flaky' and big and self.first_time(fault + ref):
            return self.send(500, b'{"errors":[{"code":"UNKNOWN"}]}', 'application/json')
        if fault == 'wrongdigest' and big:
            body = body[:-1] + bytes([body[-1] ^ 0xff])
        if fault == 'truncated' and big:
            return self.send(200, body[:len(body) // 2])
        rng = self.headers.get('Range')
        if rng and fault == 'drop':
            start = int(rng.split('=')[1].split('-')[0])
            sys.stderr.write('range request from %d\n' % start)
            part = body[start:]
            return self.send(206, part, headers=[('Content-Range', 'bytes %d-%d/%d' % (start, len(body) - 1, len(body)))])
        if fault == 'drop' and big and self.first_time(fault + ref):
            self.send_response(200)
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        return self.send(200, body)

    def log_message(self, fmt, *args):
        sys.stderr.write((fmt % args) + '\n')

server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
open(port_file, 'w').write(str(server.server_address[1]))
server.serve_forever()
"#;

#[test]
fn faults_of_a_broken_registry_leave_the_store_unchanged() {
    let world = World::new();
    let (layout_dir, index, other) = layout();
    let dir = world.path("broken");
    std::fs::create_dir_all(&dir).unwrap();
    let server = start_python(
        &dir,
        "broken",
        BROKEN_SERVER,
        &[layout_dir.to_str().unwrap(), index, other],
    );
    let image = |fault: &str| format!("127.0.0.1:{}/{fault}/img:1", server.port);

    let cases = [
        ("wrongdigest", "is corrupt: its content hashes to"),
        ("truncated", "is corrupt"),
        ("missing", "not found"),
        ("unauthorized", "authentication failed"),
        (
            "noplatform",
            "has no image for linux/amd64 (it has linux/arm64, linux/s390x)",
        ),
    ];
    let before = world.snapshot();
    for (fault, needle) in cases {
        let out = world.tinibox(&["pull", &image(fault)]);
        assert_refused(&out, needle);
        assert_eq!(world.snapshot(), before, "{fault} changed the store");
    }
    // A wrong stored password for a registry that wants one.
    let host = format!("127.0.0.1:{}", server.port);
    std::fs::write(
        world.path("docker/config.json"),
        serde_json::to_vec(
            &serde_json::json!({"auths": {host.clone(): {"auth": "d3Jvbmc6cGFzcw=="}}}),
        )
        .unwrap(),
    )
    .unwrap();
    let out = world.tinibox(&["pull", &image("unauthorized")]);
    assert_refused(&out, "authentication failed");
    assert_eq!(world.snapshot(), before);
    std::fs::remove_file(world.path("docker/config.json")).unwrap();

    // 500 then success: retried.
    world.ok(&["pull", &image("flaky")]);
    assert_eq!(world.ok(&["run", "--rm", &image("flaky")]), "amd64 image\n");
    world.ok(&["rmi", &image("flaky")]);

    // The connection drops halfway through the big layer: resumed with a Range request.
    world.ok(&["pull", &image("drop")]);
    assert_eq!(world.ok(&["run", "--rm", &image("drop")]), "amd64 image\n");
    let log = std::fs::read_to_string(dir.join("broken.log")).unwrap();
    assert!(log.contains("range request from "), "no resume seen: {log}");
    let resumed_from: u64 = log
        .lines()
        .find_map(|l| l.strip_prefix("range request from "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap();
    assert!(resumed_from > 0, "{log}");
}

/// A world with its own plain-HTTP registry holding the test index as `HOST/test/src:1`
/// (copied with `skopeo copy --all`) and pulled into the store; returns the world, the
/// registry (stopped when dropped), `HOST` and the reference.
fn world_with_pulled_src() -> (World, Daemon, String, String) {
    let world = World::new();
    let reg = start_registry(&world.path("reg"), "", "");
    let host = format!("127.0.0.1:{}", reg.port);
    let src = format!("{host}/test/src:1");
    skopeo(&[
        "copy",
        "--all",
        "--dest-tls-verify=false",
        &oci_ref("1"),
        &format!("docker://{src}"),
    ]);
    world.ok(&["pull", "-q", &src]);
    (world, reg, host, src)
}

#[test]
fn push_tag_inspect_and_save_round_trip_through_real_tools() {
    let (world, _registry, host, src) = world_with_pulled_src();

    // inspect: Docker's shape, read from the store.
    let inspected: serde_json::Value = serde_json::from_str(&world.ok(&["inspect", &src])).unwrap();
    assert_eq!(inspected[0]["Architecture"], "amd64");
    assert_eq!(inspected[0]["Os"], "linux");
    assert_eq!(inspected[0]["RepoTags"][0], src.as_str());
    assert_eq!(
        inspected[0]["RepoDigests"][0],
        format!("{host}/test/src@{}", layout().1).as_str()
    );
    assert_eq!(
        inspected[0]["RootFS"]["Layers"].as_array().unwrap().len(),
        2
    );

    // tag + push to another repository, monolithic uploads (mount attempted from test/src).
    let dst = format!("{host}/test/pushed:v2");
    world.ok(&["tag", &src, &dst]);
    let out = world.ok(&["push", &dst]);
    assert!(out.contains("v2: digest: sha256:"), "{out}");
    let remote: serde_json::Value = serde_json::from_str(&skopeo(&[
        "inspect",
        "--tls-verify=false",
        &format!("docker://{dst}"),
    ]))
    .unwrap();
    assert_eq!(remote["Architecture"], "amd64");
    assert_eq!(remote["Layers"].as_array().unwrap().len(), 2);
    // Pushing again finds every blob already there.
    let out = world.ok(&["push", &dst]);
    assert!(out.contains("Layer already exists"), "{out}");

    // Chunked uploads (PATCH with Content-Range), forced by a small chunk size.
    let chunked = format!("{host}/test/chunked:1");
    world.ok(&["tag", &src, &chunked]);
    let out = world.tinibox_env(&["push", &chunked], &[("TINIBOX_PUSH_CHUNK_SIZE", "65536")]);
    assert!(out.status.success(), "{out:?}");

    // What was pushed is pulled back into a fresh store and runs.
    let other = World::new();
    other.ok(&["pull", &chunked]);
    assert_eq!(other.ok(&["run", "--rm", &chunked]), "amd64 image\n");

    // save: an OCI archive that tinibox loads, and a docker archive skopeo reads.
    let oci_tar = world.path("saved-oci.tar");
    world.ok(&["save", "-o", oci_tar.to_str().unwrap(), &src]);
    let fresh = World::new();
    fresh.ok(&["load", "-i", oci_tar.to_str().unwrap()]);
    assert_eq!(fresh.ok(&["run", "--rm", &src]), "amd64 image\n");
    let docker_tar = world.path("saved-docker.tar");
    world.ok(&[
        "save",
        "--format",
        "docker",
        "-o",
        docker_tar.to_str().unwrap(),
        &src,
    ]);
    let archived: serde_json::Value = serde_json::from_str(&skopeo(&[
        "inspect",
        &format!("docker-archive:{}", docker_tar.display()),
    ]))
    .unwrap();
    assert_eq!(archived["Architecture"], "amd64");
    // Without -o, as `docker save IMAGE > FILE`: the same archive on standard output.
    let out = world.tinibox(&["save", "--format", "docker", &src]);
    assert!(out.status.success(), "save to stdout: {}", stderr_of(&out));
    let piped = world.path("saved-stdout.tar");
    std::fs::write(&piped, &out.stdout).unwrap();
    let archived: serde_json::Value = serde_json::from_str(&skopeo(&[
        "inspect",
        &format!("docker-archive:{}", piped.display()),
    ]))
    .unwrap();
    assert_eq!(archived["Architecture"], "amd64");
    assert_eq!(
        out.stdout.len() as u64,
        std::fs::metadata(&docker_tar).unwrap().len(),
        "stdout carries the archive `save -o` writes"
    );

    // Bad input: one line, exit 125; a missing image is the daemon's answer in Docker: 1.
    assert_refused(
        &world.tinibox(&["tag", &src, "Bad Name"]),
        "invalid reference",
    );
    assert_daemon_error(
        &world.tinibox(&["push", &format!("{host}/test/none:1")]),
        "no such image",
    );
    assert_daemon_error(
        &world.tinibox(&["tag", &format!("{host}/test/none:1"), "other:1"]),
        "no such image",
    );
    // `inspect` of an unknown name answers as Docker's does: exit 1, "No such object".
    let out = world.tinibox(&["inspect", "nope:1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("No such object: nope:1") && err.trim_end().lines().count() == 1,
        "{err}"
    );
}

/// `distro-build push` sends the built image (out/oci/) unchanged: the registry serves the
/// manifest digest of out/oci/index.json, skopeo copies back the same blobs, and tinibox pulls
/// and runs it. A missing layout or an unknown registry is one line and a non-zero exit.
#[test]
fn distro_build_push_sends_the_built_image_byte_for_byte() {
    let world = World::new();
    let layout = tinilinux_tests::out_file("oci");
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let built = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == "latest")
        .expect("out/oci has a `latest` image")["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let reg = start_registry(&world.path("reg"), "", "");
    let name = format!("127.0.0.1:{}/distro/tinilinux", reg.port);
    let distro_build = tinilinux_tests::target_dir().join("release/distro-build");
    let push = |target: &str, out_dir: &Path| {
        Command::new(&distro_build)
            .args(["push", target])
            .env("TINILINUX_OUT", out_dir)
            .env("DOCKER_CONFIG", world.path("docker"))
            .output()
            .expect("run distro-build push")
    };
    let out = push(&format!("{name}:1"), &tinilinux_tests::out_dir());
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), built);

    let raw = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{name}:1"),
    ]);
    let layout_manifest = std::fs::read(layout.join("blobs/sha256").join(&built[7..])).unwrap();
    assert_eq!(
        raw.as_bytes(),
        layout_manifest.as_slice(),
        "the registry's manifest (or index) differs"
    );
    let copy = world.path("copy");
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{name}:1"),
        &format!("oci:{}:x", copy.display()),
    ]);
    // With arm64 built too (./test.sh builds both), the tag is an image index of both
    // platforms: skopeo copies the host's image by default and every platform with --all.
    let tagged: serde_json::Value = serde_json::from_slice(&layout_manifest).unwrap();
    let platforms: Vec<&str> = tagged["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["platform"]["architecture"].as_str())
        .collect();
    assert_eq!(
        platforms,
        ["amd64", "arm64"],
        "out/oci's tag is not the index of both builds (`distro-build --arch arm64 all`, then \
         `distro-build all` or `oci`)"
    );
    let images: Vec<serde_json::Value> = match tagged["manifests"].as_array() {
        Some(platforms) => platforms
            .iter()
            .map(|m| {
                let digest = m["digest"].as_str().unwrap();
                let bytes = std::fs::read(layout.join("blobs/sha256").join(&digest[7..])).unwrap();
                serde_json::from_slice(&bytes).unwrap()
            })
            .collect(),
        None => vec![tagged.clone()],
    };
    if tagged["manifests"].is_array() {
        skopeo(&[
            "copy",
            "--all",
            "--src-tls-verify=false",
            &format!("docker://{name}:1"),
            &format!("oci:{}:all", copy.display()),
        ]);
    }
    for manifest in &images {
        for layer in manifest["layers"].as_array().unwrap() {
            let digest = layer["digest"].as_str().unwrap();
            assert!(
                copy.join("blobs/sha256").join(&digest[7..]).is_file(),
                "layer {digest} did not come back unchanged"
            );
        }
    }
    // Each platform of the index pulls by `--platform` and is the image built for it.
    for platform in tagged["manifests"].as_array().into_iter().flatten() {
        let arch = platform["platform"]["architecture"].as_str().unwrap();
        let reference = format!("{name}:1");
        world.ok(&["pull", "--platform", &format!("linux/{arch}"), &reference]);
        let inspect = world.ok(&["inspect", &reference]);
        let inspect: serde_json::Value = serde_json::from_str(&inspect).unwrap();
        assert_eq!(inspect[0]["Architecture"], arch, "{inspect}");
        world.ok(&["rmi", &reference]);
    }
    // Docker reads the same index: `docker pull --platform` of each platform from the
    // loopback registry (Docker trusts 127.0.0.0/8 over plain HTTP) gives that architecture.
    let docker = tinilinux_tests::dockerd::Dockerd::start(
        "tl-dockerd-platform-",
        &["--iptables=false", "--ip6tables=false", "--bridge=none"],
    );
    for arch in &platforms {
        let reference = format!("{name}:1");
        docker.ok(&[
            "pull",
            "-q",
            "--platform",
            &format!("linux/{arch}"),
            &reference,
        ]);
        let pulled = docker.ok(&[
            "image",
            "inspect",
            "-f",
            "{{.Os}}/{{.Architecture}}",
            &reference,
        ]);
        assert_eq!(pulled.trim(), format!("linux/{arch}"));
        docker.ok(&["rmi", &reference]);
    }
    drop(docker);
    let out = world.ok(&[
        "run",
        "--rm",
        &format!("{name}:1"),
        "echo",
        "pushed and pulled",
    ]);
    assert_eq!(out, "pushed and pulled\n");

    // No layout: one line naming what to build; nothing is sent.
    let empty = tempfile::tempdir().unwrap();
    let out = push(&format!("{name}:2"), empty.path());
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("distro-build oci"), "{err}");
    let tags = skopeo(&[
        "list-tags",
        "--tls-verify=false",
        &format!("docker://{name}"),
    ]);
    assert!(!tags.contains("\"2\""), "{tags}");
}

/// A tar stream of one file `name` of `len` pseudo-random (incompressible) bytes.
fn random_tar(name: &str, len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut data = Vec::with_capacity(len + 8);
    while data.len() < len {
        // xorshift64
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(&x.to_le_bytes());
    }
    data.truncate(len);
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(len as u64);
    h.set_mode(0o644);
    h.set_mtime(1_700_000_000);
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, name, data.as_slice()).unwrap();
    b.into_inner().unwrap()
}

/// An OCI layout in `dir` whose tag `big` is one linux/amd64 image of two uncompressed
/// 64 MiB layers of random bytes (skopeo gzips them on the way to the registry).
fn big_layout(dir: &Path) {
    use tinilinux_tests::registry::{sha256, Layout};
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    let l = Layout {
        dir: dir.to_path_buf(),
    };
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    for seed in [7, 11] {
        let tar = random_tar(&format!("big-{seed}"), 64 << 20, seed);
        let (d, s) = l.put(&tar);
        diff_ids.push(sha256(&tar));
        descs.push(serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": s}));
    }
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids}
    }))
    .unwrap();
    let (cd, cs) = l.put(&config);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
        "layers": descs
    }))
    .unwrap();
    let (md, ms) = l.put(&manifest);
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
        "annotations": {"org.opencontainers.image.ref.name": "big"}
    }]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

/// Bytes of the files below `dir` (0 when it is gone).
fn bytes_below(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match std::fs::symlink_metadata(e.path()) {
            Ok(m) if m.is_dir() => bytes_below(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Starts `tinibox pull REF` and sends it `signal` once its download has written at least
/// 1 MiB below the store's tmp/; returns how it ended.
fn interrupt_pull(world: &World, reference: &str, signal: libc::c_int) -> std::process::ExitStatus {
    let tmp = world.path("store/tmp");
    let mut child = Command::new(tinibox_bin())
        .arg("--store")
        .arg(world.path("store"))
        .arg("--root")
        .arg(world.path("state"))
        .args(["pull", reference])
        .env("DOCKER_CONFIG", world.path("docker"))
        .env("TINIBOX_CERTS_D", world.path("certs.d"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tinibox pull");
    let deadline = Instant::now() + Duration::from_secs(300);
    while bytes_below(&tmp) < 1 << 20 {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the pull ended ({status}) before it could be interrupted");
        }
        assert!(
            Instant::now() < deadline,
            "the pull never started downloading"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    // SAFETY: kill(2) on the pid of a child this test started and has not reaped.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
    child.wait().unwrap()
}

/// What `images` lists and the files of the store, for before/after comparisons.
fn store_state(world: &World) -> (String, (Vec<String>, Vec<u8>)) {
    (
        world.ok(&["images", "--digests", "--no-trunc"]),
        world.snapshot(),
    )
}

/// An interrupted pull leaves the store as it was: SIGINT and SIGTERM remove the download
/// before tinibox exits (130, 143, as Docker's client), and the staging a SIGKILLed pull
/// leaves is removed by the next command that opens the store.
#[test]
fn interrupted_pulls_leave_the_store_as_it_was() {
    use std::os::unix::process::ExitStatusExt;
    let world = World::new();
    let reg = start_registry(&world.path("reg"), "", "");
    let host = format!("127.0.0.1:{}", reg.port);
    // Something in the store already, so "unchanged" means something.
    skopeo(&[
        "copy",
        "--all",
        "--dest-tls-verify=false",
        &oci_ref("1"),
        &format!("docker://{host}/test/small:1"),
    ]);
    world.ok(&["pull", "-q", &format!("{host}/test/small:1")]);
    let big_dir = world.path("big-layout");
    big_layout(&big_dir);
    let big = format!("{host}/test/big:1");
    skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:big", big_dir.display()),
        &format!("docker://{big}"),
    ]);
    let before = store_state(&world);
    let tmp = world.path("store/tmp");

    for (signal, code) in [(libc::SIGINT, 130), (libc::SIGTERM, 143)] {
        let status = interrupt_pull(&world, &big, signal);
        assert_eq!(status.code(), Some(code), "signal {signal}: {status}");
        let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().flatten().collect();
        assert!(left.is_empty(), "signal {signal} left {left:?}");
        assert_eq!(store_state(&world), before, "signal {signal}");
    }

    // SIGKILL cannot be caught: the staging stays until a command opens the store.
    let status = interrupt_pull(&world, &big, libc::SIGKILL);
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status}");
    assert!(bytes_below(&tmp) > 0, "a killed pull left nothing to clean");
    assert_eq!(store_state(&world), before);
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);

    // And the pull still works afterwards.
    world.ok(&["pull", "-q", &big]);
    assert!(world
        .ok(&["images"])
        .lines()
        .any(|l| l.starts_with(&format!("{host}/test/big "))));
}

/// What the newcomer of issue 16 found: `push` records the pushed digest and lists layers
/// only; `pull --platform` of a stored single-platform image of another platform is refused
/// (not "up to date"); one image ID has one size; a digest is printed `NAME@DIGEST`;
/// `inspect`'s Variant of an arm64 image is v8.
#[test]
fn push_digests_platforms_sizes_and_messages() {
    let (world, _registry, host, src) = world_with_pulled_src();

    // The same index under a second name: every layer is in the store already, and the
    // image ID keeps its size.
    let again = format!("{host}/test/again:1");
    skopeo(&[
        "copy",
        "--all",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &format!("docker://{src}"),
        &format!("docker://{again}"),
    ]);
    world.ok(&["pull", "-q", &again]);
    let size = |r: &str| world.ok(&["inspect", "-f", "{{.Size}}", r]);
    let id = |r: &str| world.ok(&["inspect", "-f", "{{.Id}}", r]);
    assert_eq!(id(&src), id(&again));
    assert_eq!(size(&src), size(&again));
    let images = world.ok(&["images"]);
    let sizes: Vec<&str> = images
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().last().unwrap())
        .collect();
    assert_eq!(sizes.len(), 2, "{images}");
    assert_eq!(sizes[0], sizes[1], "{images}");

    // push: the layers are listed (not the config), the digest is recorded.
    let dst = format!("{host}/test/pushed:v2");
    world.ok(&["tag", &src, &dst]);
    let out = world.tinibox(&["push", &dst]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let digest = stdout
        .lines()
        .find_map(|l| l.strip_prefix("v2: digest: "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no digest line: {stdout}"))
        .to_string();
    let manifest: serde_json::Value = serde_json::from_str(&skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{host}/test/pushed@{digest}"),
    ]))
    .unwrap();
    let config_digest = manifest["config"]["digest"].as_str().unwrap();
    let short = |d: &str| d.trim_start_matches("sha256:")[..12].to_string();
    assert!(!stdout.contains(&short(config_digest)), "{stdout}");
    for layer in manifest["layers"].as_array().unwrap() {
        let d = short(layer["digest"].as_str().unwrap());
        assert!(stdout.contains(&d), "layer {d} not listed: {stdout}");
    }
    // The store keeps no compressed layers and its rebuilt archives differ from the ones
    // skopeo wrote, so the pushed image has a new ID: tinibox says so and records no digest
    // on the local image, which is not the one the registry now holds.
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("new ID"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = world.ok(&["images", "--digests", "--no-trunc"]);
    let row = listed
        .lines()
        .find(|l| l.starts_with(&format!("{host}/test/pushed ")))
        .unwrap_or_else(|| panic!("{listed}"));
    assert!(
        !row.contains(&digest),
        "a digest of another image recorded: {row}"
    );

    // The image the registry now holds has layers tinibox wrote: pulled back and pushed again,
    // its rebuilt layers are the same bytes, so it keeps its ID, the push gives the same
    // manifest digest, and that digest is recorded on the local image. (The pause makes a
    // directory time taken from the clock instead of the archive differ from the first
    // unpack's: tar keeps whole seconds.)
    std::thread::sleep(std::time::Duration::from_millis(1_100));
    world.ok(&["pull", "-q", &dst]);
    let again_dst = format!("{host}/test/pushed:v3");
    world.ok(&["tag", &dst, &again_dst]);
    let out = world.tinibox(&["push", &again_dst]);
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("new ID"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("v3: digest: {digest} ")),
        "pushing the pulled-back image gave another manifest: {stdout}"
    );
    let listed = world.ok(&["images", "--digests", "--no-trunc"]);
    let row = listed
        .lines()
        .find(|l| l.starts_with(&format!("{host}/test/pushed ")) && l.contains(" v3 "))
        .unwrap_or_else(|| panic!("{listed}"));
    assert!(
        row.contains(&digest),
        "the pushed digest is not recorded: {row}"
    );

    // The registry's pushed:v2 is one linux/amd64 manifest, stored here: arm64 is refused,
    // not "up to date", and the store is unchanged.
    let before = world.snapshot();
    let out = world.tinibox(&["pull", "--platform", "linux/arm64", &dst]);
    assert_refused(&out, "has no image for linux/arm64 (it has linux/amd64)");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("up to date"));
    assert_eq!(world.snapshot(), before);

    // From an index, the requested platform is pulled and the tag points to it.
    world.ok(&["pull", "--platform", "linux/arm64", &src]);
    assert_eq!(config_arch(&world, &src), "arm64");
    assert_eq!(world.ok(&["inspect", "-f", "{{.Variant}}", &src]), "v8\n");
    let out = world.tinibox(&["run", "--rm", &src]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "The requested image's platform (linux/arm64) does not match the detected host platform (linux/amd64)"
        ),
        "{out:?}"
    );

    // A digest the registry lacks is named NAME@DIGEST.
    let zero = format!("sha256:{}", "0".repeat(64));
    let out = world.tinibox(&["pull", &format!("{host}/test/src@{zero}")]);
    assert_refused(&out, &format!("test/src@{zero}"));
}
