//! A private registry for tests: Debian's `docker-registry` (the CNCF distribution registry)
//! on a free loopback port, optionally over TLS with a throw-away CA the test makes with
//! `openssl`, killed when dropped. Used by tests/tests/registry.rs (on the host) and
//! tests/tests/registry_boot.rs (a TiniLinux guest reaching the host's loopback at 10.0.2.2),
//! and the test image they push: an OCI layout built here, blob by blob.

use std::io::Write as _;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use crate::free_port;
use crate::{busybox_rootfs, ok, require_tool};

/// Waits up to 20 s until 127.0.0.1:`port` accepts; panics naming `what` when `child` exits
/// first or the time is up.
pub fn wait_port(port: u16, child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not listen on port {port}");
}

/// A server process listening on `port`, killed on drop.
pub struct Daemon {
    /// The process.
    pub child: Child,
    /// Its loopback port.
    pub port: u16,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts docker-registry on a free loopback port with its storage, config and log in `dir`.
/// `http_extra` is YAML added under `http:` (e.g. a `tls:` block from [`tls_block`]), `auth`
/// top-level YAML (an `auth:` block).
pub fn start_registry(dir: &Path, http_extra: &str, auth: &str) -> Daemon {
    require_tool("docker-registry");
    let port = free_port();
    let config = format!(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n{http_extra}{auth}",
        dir.join("data").display()
    );
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let path = dir.join("config.yml");
    std::fs::write(&path, config).unwrap();
    let mut child = Command::new("docker-registry")
        .arg("serve")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("registry.log")).unwrap())
        .spawn()
        .expect("start docker-registry");
    wait_port(port, &mut child, "docker-registry");
    Daemon { child, port }
}

/// Makes, in `dir`, a self-signed P-256 certificate `NAME.crt` and its key `NAME.key` for
/// `subject` (OpenSSL's `/CN=…` form), valid for two days, with `extra` arguments to
/// `openssl req` (extensions).
pub fn self_signed(dir: &Path, name: &str, subject: &str, extra: &[&str]) {
    require_tool("openssl");
    std::fs::create_dir_all(dir).unwrap();
    let (key, crt) = (format!("{name}.key"), format!("{name}.crt"));
    ok(Command::new("openssl")
        .current_dir(dir)
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &crt,
            "-days",
            "2",
            "-subj",
            subject,
        ])
        .args(extra));
}

/// Makes, in `dir`, a P-256 CA (`ca.crt`, `ca.key`) and a server certificate signed by it
/// (`server.crt`, `server.key`) valid for the subject alternative names `sans` (OpenSSL's
/// form, e.g. `IP:127.0.0.1,IP:10.0.2.2`), both valid for two days. Returns `ca.crt`'s path.
pub fn make_tls(dir: &Path, sans: &str) -> PathBuf {
    require_tool("openssl");
    std::fs::create_dir_all(dir).unwrap();
    let o = |args: &[&str]| {
        ok(Command::new("openssl").current_dir(dir).args(args));
    };
    self_signed(
        dir,
        "ca",
        "/CN=tinibox test CA",
        &[
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    o(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=tinibox test registry",
    ]);
    std::fs::write(
        dir.join("ext.cnf"),
        format!("subjectAltName={sans}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n"),
    )
    .unwrap();
    o(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    dir.join("ca.crt")
}

/// The registry's `http.tls` YAML for the server certificate [`make_tls`] made in `dir`.
pub fn tls_block(dir: &Path) -> String {
    format!(
        "  tls:\n    certificate: {}\n    key: {}\n",
        dir.join("server.crt").display(),
        dir.join("server.key").display()
    )
}

/// `sha256:HEX` of `bytes`, the OCI digest form.
pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// `bytes` gzip-compressed.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// A tar stream of one file.
pub fn file_tar(name: &str, content: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(1_700_000_000);
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, name, content.as_bytes()).unwrap();
    b.into_inner().unwrap()
}

/// A tar stream of the shared BusyBox rootfs.
pub fn busybox_tar() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    b.append_dir_all(".", busybox_rootfs()).unwrap();
    b.into_inner().unwrap()
}

/// Writes blobs into an OCI layout and returns (digest, size).
pub struct Layout {
    /// The layout's folder (it has `blobs/sha256/`).
    pub dir: PathBuf,
}

impl Layout {
    /// Stores `bytes` as a blob; returns (digest, size).
    pub fn put(&self, bytes: &[u8]) -> (String, usize) {
        let d = sha256(bytes);
        std::fs::write(self.dir.join("blobs/sha256").join(&d[7..]), bytes).unwrap();
        (d, bytes.len())
    }

    /// One image manifest for `arch` with gzip `layers` (uncompressed tars); returns its
    /// descriptor JSON with a platform.
    pub fn image(&self, arch: &str, layers: &[Vec<u8>]) -> serde_json::Value {
        let mut descs = Vec::new();
        let mut diff_ids = Vec::new();
        for tar in layers {
            let (d, s) = self.put(&gzip(tar));
            diff_ids.push(sha256(tar));
            descs.push(serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": s}));
        }
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": arch, "os": "linux",
            "config": {"Cmd": ["/bin/cat", "/marker"], "Env": ["PATH=/bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids}
        }))
        .unwrap();
        let (cd, cs) = self.put(&config);
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
            "layers": descs
        }))
        .unwrap();
        let (md, ms) = self.put(&manifest);
        serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": md, "size": ms,
            "platform": {"os": "linux", "architecture": arch}
        })
    }

    /// An index of `manifests`; returns (digest, size).
    pub fn index(&self, manifests: Vec<serde_json::Value>) -> (String, usize) {
        let index = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": manifests
        }))
        .unwrap();
        self.put(&index)
    }
}

/// The test image: an OCI layout with tag `1` = an index of linux/amd64 (BusyBox + a marker
/// layer saying `amd64`) and linux/arm64 (a marker layer only). Also returns the digest of a
/// second index that lists only linux/arm64 and s390x.
pub fn build_layout(dir: &Path) -> (String, String) {
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    let l = Layout {
        dir: dir.to_path_buf(),
    };
    let amd = l.image(
        "amd64",
        &[busybox_tar(), file_tar("marker", "amd64 image\n")],
    );
    let arm = l.image("arm64", &[file_tar("marker", "arm64 image\n")]);
    let s390 = l.image("s390x", &[file_tar("marker", "s390x image\n")]);
    let (index, size) = l.index(vec![amd, arm.clone()]);
    let (other, _) = l.index(vec![arm, s390]);
    let top = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": index, "size": size,
            "annotations": {"org.opencontainers.image.ref.name": "1"}
        }]
    });
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&top).unwrap()).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    (index, other)
}
