//! tinibox under containerd's CRI plugin, the path kubelet drives (issue 15): a private
//! containerd (Debian's 1.6: its own root, state, socket and config in a temporary folder)
//! with the runtime handlers `tinibox` and `runc` (runtime_type io.containerd.runc.v2,
//! BinaryName = the runtime), a locally imported image made from the project's static
//! BusyBox (it is the sandbox image too), and a real CRI client (`cri_client.py`, the gRPC
//! stubs of the PyPI package container-runtime-interface-api). One pod goes through
//! RunPodSandbox, CreateContainer, StartContainer, ExecSync, ContainerStatus, its log file,
//! StopContainer, RemoveContainer, StopPodSandbox and RemovePodSandbox (with a second
//! container that exited by itself still in the pod, as kubelet leaves one), first with host
//! networking, then on a CNI bridge (Debian's containernetworking-plugins); the same with
//! runc. The test asserts on what the client reports and that nothing is left afterwards
//! (containers, pods, mounts, cgroups, network namespaces, veths, runtime state).
//!
//! Needs root, containerd, ctr, containerd-shim-runc-v2, runc, /usr/lib/cni and the client's
//! Python environment (`scripts/install-deps.sh` makes it; `CRI_PYTHON` overrides it).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tinilinux_tests::{busybox_rootfs, cgroup_dirs_named, require_root, require_tool, stderr};

/// The image's name in containerd (it is also the sandbox image).
const IMAGE: &str = "localhost/tinilinux/cri-busybox:1";
/// The sandbox ("pause") process: PID 1 of the pod, which exits on SIGTERM or SIGINT.
const PAUSE: &str = "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done";
/// The Debian path of the CNI plugins (containernetworking-plugins).
const CNI_BIN: &str = "/usr/lib/cni";
/// How long one run of the CRI client may take before it is killed.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(240);

/// The Python interpreter of the CRI client's environment.
fn cri_python() -> PathBuf {
    let python = std::env::var_os("CRI_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/tinilinux/cri-api/bin/python3"));
    let ok = Command::new(&python)
        .args(["-c", "import cri_api.v1.api_pb2_grpc"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "{} cannot import cri_api (PyPI container-runtime-interface-api): run scripts/install-deps.sh as root, or set CRI_PYTHON",
        python.display()
    );
    python
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Writes an OCI image archive (oci-layout, index.json naming the image for containerd,
/// one uncompressed layer) of the BusyBox rootfs, whose command is [`PAUSE`].
fn write_image_archive(path: &Path) {
    let mut layer = tar::Builder::new(Vec::new());
    layer.follow_symlinks(false);
    let root = busybox_rootfs();
    for entry in std::fs::read_dir(root).expect("read the BusyBox rootfs") {
        let entry = entry.expect("rootfs entry");
        let name = entry.file_name();
        if name == ".complete" {
            continue;
        }
        let p = entry.path();
        if entry.file_type().expect("file type").is_dir() {
            layer
                .append_dir_all(&name, &p)
                .expect("add a folder to the layer");
        } else {
            layer
                .append_path_with_name(&p, &name)
                .expect("add a file to the layer");
        }
    }
    let layer = layer.into_inner().expect("finish the layer");
    let layer_digest = sha256_hex(&layer);
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Cmd": ["/bin/sh", "-c", PAUSE],
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        },
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{layer_digest}")]},
    }))
    .expect("config JSON");
    let config_digest = sha256_hex(&config);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": format!("sha256:{config_digest}"),
            "size": config.len(),
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": format!("sha256:{layer_digest}"),
            "size": layer.len(),
        }],
    }))
    .expect("manifest JSON");
    let manifest_digest = sha256_hex(&manifest);
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{manifest_digest}"),
            "size": manifest.len(),
            "annotations": {
                "io.containerd.image.name": IMAGE,
                "org.opencontainers.image.ref.name": "1",
            },
        }],
    }))
    .expect("index JSON");

    let mut archive = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        archive
            .append_data(&mut h, name, data)
            .expect("add to the archive");
    };
    add("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    add("index.json", &index);
    add(&format!("blobs/sha256/{manifest_digest}"), &manifest);
    add(&format!("blobs/sha256/{config_digest}"), &config);
    add(&format!("blobs/sha256/{layer_digest}"), &layer);
    let bytes = archive.into_inner().expect("finish the archive");
    std::fs::write(path, bytes).expect("write the image archive");
}

/// A CNI bridge network for one test: its config file in the test's folder, an unused
/// /24, IP reservations in the test's folder; the bridge is deleted on drop.
struct CniNetwork {
    bridge: String,
    subnet_prefix: String,
}

impl CniNetwork {
    /// Writes the config into `conf_dir`. `slot` keeps concurrent tests apart.
    fn new(dir: &Path, conf_dir: &Path, slot: u8) -> CniNetwork {
        let routes = String::from_utf8_lossy(
            &Command::new("ip")
                .args(["-4", "route", "show"])
                .output()
                .expect("ip route")
                .stdout,
        )
        .into_owned();
        let third = (0..100u32)
            .map(|i| 100 + (u32::from(slot) * 50 + i) % 150)
            .find(|n| !routes.contains(&format!("10.231.{n}.")))
            .expect("a free 10.231.x.0/24");
        let bridge = format!("tbcri{}{}", slot, std::process::id() % 10000);
        let subnet_prefix = format!("10.231.{third}.");
        let conf = json!({
            "cniVersion": "1.0.0",
            "name": format!("tinilinux-cri-{slot}"),
            "plugins": [{
                "type": "bridge",
                "bridge": bridge,
                "isGateway": true,
                "ipMasq": false,
                "ipam": {
                    "type": "host-local",
                    "dataDir": dir.join("cni-ipam"),
                    "ranges": [[{"subnet": format!("{subnet_prefix}0/24")}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                },
            }],
        });
        std::fs::create_dir_all(conf_dir).expect("create the CNI conf dir");
        std::fs::write(
            conf_dir.join("10-tinilinux-cri.conflist"),
            serde_json::to_vec_pretty(&conf).expect("CNI JSON"),
        )
        .expect("write the CNI config");
        CniNetwork {
            bridge,
            subnet_prefix,
        }
    }

    /// The interfaces attached to the bridge (the pods' veths).
    fn ports(&self) -> String {
        let o = Command::new("ip")
            .args(["-o", "link", "show", "master", &self.bridge])
            .output()
            .expect("ip link");
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }
}

impl Drop for CniNetwork {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .output();
    }
}

/// A private containerd with the CRI plugin, in its own temporary folder; stopped (and its
/// leftover mounts lazily unmounted) on drop.
struct Containerd {
    child: Child,
    dir: tempfile::TempDir,
    network: Option<CniNetwork>,
}

impl Containerd {
    fn start(slot: u8) -> Containerd {
        let dir = tempfile::Builder::new()
            .prefix("tinilinux-cri-")
            .tempdir()
            .expect("tempdir");
        let d = dir.path();
        let tinibox = std::fs::canonicalize(tinilinux_tests::tinibox_bin()).expect("tinibox path");
        let network = CniNetwork::new(d, &d.join("cni-conf"), slot);
        let runtime = |name: &str, bin: &Path| {
            format!(
                r#"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{name}]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{name}.options]
  BinaryName = "{bin}"
  Root = "{root}"
"#,
                bin = bin.display(),
                root = d.join(format!("{name}-root")).display()
            )
        };
        let config = format!(
            r#"version = 2
root = "{d}/root"
state = "{d}/state"

[grpc]
  address = "{d}/containerd.sock"

[ttrpc]
  address = "{d}/containerd.sock.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{IMAGE}"
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_apparmor = true
  # Never give a pod a lower oom_score_adj than containerd's own (kubelet's sandbox default is
  # -998): lowering it needs CAP_SYS_RESOURCE, which root lacks on some CI machines.
  restrict_oom_score_adj = true
  enable_selinux = false

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "{CNI_BIN}"
  conf_dir = "{d}/cni-conf"

[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"
{tinibox_rt}{runc_rt}"#,
            d = d.display(),
            tinibox_rt = runtime("tinibox", &tinibox),
            runc_rt = runtime("runc", Path::new("/usr/sbin/runc")),
        );
        std::fs::write(d.join("config.toml"), config).expect("write config.toml");
        let log = std::fs::File::create(d.join("containerd.log")).expect("containerd.log");
        let child = Command::new("containerd")
            .arg("--config")
            .arg(d.join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup"))
            .stderr(log)
            .spawn()
            .expect("start containerd");
        let c = Containerd {
            child,
            dir,
            network: Some(network),
        };
        let t = Instant::now();
        loop {
            let o = c.ctr(&["version"]).output().expect("ctr version");
            if o.status.success() {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "containerd did not answer on its socket:\n{}",
                c.log_tail()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        c
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn socket(&self) -> PathBuf {
        self.path().join("containerd.sock")
    }

    /// `ctr --address <our socket> -n k8s.io ...`.
    fn ctr(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ctr");
        c.arg("--address")
            .arg(self.socket())
            .args(["-n", "k8s.io"])
            .args(args);
        c
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.path().join("containerd.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Imports the BusyBox image (the sandbox image and the workload's).
    fn import_image(&self) {
        let archive = self.path().join("image.tar");
        write_image_archive(&archive);
        let o = self
            .ctr(&["images", "import"])
            .arg(&archive)
            .output()
            .expect("ctr images import");
        assert!(o.status.success(), "ctr images import: {}", stderr(&o));
        let listed = self.ctr(&["images", "ls", "-q"]).output().expect("ctr ls");
        assert!(
            String::from_utf8_lossy(&listed.stdout).contains(IMAGE),
            "the imported image is not listed: {}",
            String::from_utf8_lossy(&listed.stdout)
        );
    }

    /// Runs the CRI client for one pod and returns its report.
    fn drive_pod(&self, handler: &str, network: &str, name: &str, cgroup_parent: &str) -> Value {
        let logs = self.path().join("pod-logs").join(name);
        std::fs::create_dir_all(&logs).expect("create the pod log folder");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cri_client.py");
        let out_path = self.path().join(format!("{name}.json"));
        let err_path = self.path().join(format!("{name}.err"));
        let mut child = Command::new(cri_python())
            .arg(&script)
            .arg(self.socket())
            .args([handler, network, name, cgroup_parent, IMAGE])
            .arg(&logs)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out_path).expect("client stdout"))
            .stderr(std::fs::File::create(&err_path).expect("client stderr"))
            .spawn()
            .expect("start the CRI client");
        let t = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait for the client") {
                break Some(s);
            }
            if t.elapsed() > CLIENT_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let out = std::fs::read_to_string(&out_path).unwrap_or_default();
        let err = std::fs::read_to_string(&err_path).unwrap_or_default();
        let report: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| {
            panic!(
                "the CRI client ({status:?}) printed no report ({e}):\n{out}\n{err}\ncontainerd:\n{}",
                self.log_tail()
            )
        });
        report
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // After a failed step: end what is still running, so that no shim or container
        // outlives the daemon (shims are made to survive it).
        if let Ok(o) = self.ctr(&["tasks", "ls", "-q"]).output() {
            for id in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                let _ = self.ctr(&["tasks", "delete", "--force", id]).output();
                let _ = self.ctr(&["containers", "rm", id]).output();
            }
        }
        tinilinux_tests::stop_daemon(&mut self.child, self.dir.path());
        self.network.take();
    }
}

/// Whether the log lines ([stream, tag, text]) hold a full line `text` on `stream`.
fn log_has(lines: &Value, stream: &str, text: &str) -> bool {
    lines.as_array().is_some_and(|a| {
        a.iter()
            .any(|l| l[0] == stream && l[1] == "F" && l[2] == text)
    })
}

/// The IPv4 addresses in `ip -4 addr` output (each word after "inet", without the prefix).
fn ipv4_addresses(text: &str) -> Vec<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .windows(2)
        .filter(|w| w[0] == "inet")
        .filter_map(|w| w[1].split('/').next().map(str::to_string))
        .collect()
}

/// Mount points below `dir` in this (the host's) mount namespace.
fn mounts_below(dir: &Path) -> Vec<String> {
    let prefix = dir.to_string_lossy().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(&prefix))
        .map(str::to_string)
        .collect()
}

/// The pod's parent cgroup (kubelet's pod-level group): the runtimes make it, and leave it
/// as runc does; removed, deepest first, on drop, whatever the test's outcome.
struct CgroupParent(String);

impl Drop for CgroupParent {
    fn drop(&mut self) {
        let mut dirs = cgroup_dirs_named(&self.0);
        dirs.sort_by_key(|d| std::cmp::Reverse(d.as_os_str().len()));
        for d in dirs {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// One pod's lifecycle through the CRI with `handler`, on `network` ("host" or "cni").
fn pod_lifecycle(cd: &Containerd, handler: &str, network: &str) {
    let name = format!("{handler}-{network}-{}", std::process::id());
    let parent = CgroupParent(format!("tinilinux-cri-{name}"));
    let cgroup_parent = format!("/{}", parent.0);
    let r = cd.drive_pod(handler, network, &name, &cgroup_parent);
    let ctx = format!("{handler}, {network} network; report: {r:#}");
    assert!(
        r.get("error").is_none(),
        "CRI step failed ({ctx})\ncontainerd:\n{}",
        cd.log_tail()
    );

    assert_eq!(r["pod_state"], "READY", "{ctx}");
    assert_eq!(r["pod_runtime_handler"], handler, "{ctx}");
    assert_eq!(r["state_after_create"], "CREATED", "{ctx}");
    assert_eq!(r["state_after_start"], "RUNNING", "{ctx}");

    // ExecSync: both streams and the exit code, as the process made them.
    assert_eq!(r["exec"]["exit_code"], 3, "{ctx}");
    assert_eq!(r["exec"]["stdout"], "exec-out\n", "{ctx}");
    assert_eq!(r["exec"]["stderr"], "exec-err\n", "{ctx}");
    let inside = r["exec_inside"]["stdout"].as_str().unwrap_or_default();
    assert_eq!(r["exec_inside"]["exit_code"], 0, "{ctx}");
    // The container joined the pod's PID namespace (CRI's default, NamespaceMode POD): its
    // PID 1 is the sandbox's pause process.
    assert!(
        inside.contains("sleep 3600"),
        "PID 1 is not the pause ({ctx})"
    );
    let addrs = ipv4_addresses(inside);
    if network == "cni" {
        let ip = r["pod_ip"].as_str().unwrap_or_default();
        let net = cd.network.as_ref().expect("network");
        assert!(
            ip.starts_with(&net.subnet_prefix),
            "pod IP {ip:?} is not in {}0/24 ({ctx})",
            net.subnet_prefix
        );
        assert!(addrs.iter().any(|a| a == ip), "{ip} not inside ({ctx})");
        assert_eq!(
            inside.lines().next(),
            Some(name.as_str()),
            "hostname ({ctx})"
        );
    } else {
        assert_eq!(r["pod_ip"], "", "{ctx}");
        let host = Command::new("ip")
            .args(["-4", "-o", "addr", "show"])
            .output()
            .expect("ip addr");
        let host_addrs = ipv4_addresses(&String::from_utf8_lossy(&host.stdout));
        assert!(
            addrs
                .iter()
                .any(|a| a != "127.0.0.1" && host_addrs.contains(a)),
            "the host's addresses {host_addrs:?} are not inside ({ctx})"
        );
    }

    // ContainerStatus and the container's log, as kubelet reads them.
    assert_eq!(r["status"]["state"], "RUNNING", "{ctx}");
    assert_eq!(r["status"]["name"], "work", "{ctx}");
    assert_eq!(r["status"]["started"], true, "{ctx}");
    assert!(
        r["status"]["log_path"]
            .as_str()
            .is_some_and(|p| p.ends_with("/work.log")),
        "{ctx}"
    );
    assert!(
        log_has(&r["log_before_stop"], "stdout", "hello-from-cri"),
        "{ctx}"
    );
    assert!(
        log_has(&r["log_before_stop"], "stderr", "to-stderr"),
        "{ctx}"
    );

    // StopContainer: SIGTERM reached the workload, which logged it and exited 0.
    assert_eq!(r["after_stop"]["state"], "EXITED", "{ctx}");
    assert_eq!(r["after_stop"]["exit_code"], 0, "{ctx}");
    assert_eq!(r["after_stop"]["reason"], "Completed", "{ctx}");
    assert!(
        log_has(&r["log_after_stop"], "stdout", "got-sigterm"),
        "{ctx}"
    );

    // The container that exited by itself: its code, its log, and a StopContainer on it
    // that succeeds (the runtime is asked to kill a stopped container).
    assert_eq!(r["oneshot"]["state"], "EXITED", "{ctx}");
    assert_eq!(r["oneshot"]["exit_code"], 7, "{ctx}");
    assert_eq!(r["oneshot"]["reason"], "Error", "{ctx}");
    assert!(
        log_has(&r["oneshot"]["log"], "stdout", "oneshot-done"),
        "{ctx}"
    );
    assert_eq!(r["oneshot"]["state_after_stop"], "EXITED", "{ctx}");

    // Removal: the exited container goes with its pod; nothing listed, nothing left.
    assert_eq!(r["containers_after_remove"], json!(["oneshot"]), "{ctx}");
    assert_eq!(r["pod_state_after_stop"], "NOTREADY", "{ctx}");
    assert_eq!(r["pods_after_remove"], json!([]), "{ctx}");
    assert_eq!(r["containers_after_pod_remove"], json!([]), "{ctx}");
    assert_eq!(
        r["steps"].as_array().and_then(|s| s.last()),
        Some(&json!("done"))
    );
    let pod_id = r["pod_id"].as_str().expect("pod id");
    let ctr_id = r["container_id"].as_str().expect("container id");
    assert_eq!(
        mounts_below(cd.path()),
        Vec::<String>::new(),
        "mounts left (rootfs, shm, netns) ({ctx})"
    );
    let oneshot_id = r["oneshot_id"].as_str().expect("oneshot id");
    for id in [pod_id, ctr_id, oneshot_id] {
        assert_eq!(
            cgroup_dirs_named(id),
            Vec::<PathBuf>::new(),
            "cgroups left ({ctx})"
        );
    }
    let state = cd.path().join(format!("{handler}-root/k8s.io"));
    let left: Vec<String> = std::fs::read_dir(&state)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        left,
        Vec::<String>::new(),
        "runtime state left in {} ({ctx})",
        state.display()
    );
    let netns = cd.path().join("state/io.containerd.grpc.v1.cri/netns");
    let left: Vec<PathBuf> = std::fs::read_dir(&netns)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(
        left,
        Vec::<PathBuf>::new(),
        "network namespaces left ({ctx})"
    );
    if network == "cni" {
        let net = cd.network.as_ref().expect("network");
        assert_eq!(net.ports(), "", "veths left on {} ({ctx})", net.bridge);
    }
}

fn cri_lifecycle(handler: &str, slot: u8) {
    require_root();
    for tool in ["containerd", "ctr", "containerd-shim-runc-v2", "runc"] {
        require_tool(tool);
    }
    assert!(
        Path::new(CNI_BIN).join("bridge").exists(),
        "{CNI_BIN}/bridge is missing: apt-get install containernetworking-plugins"
    );
    cri_python();
    let cd = Containerd::start(slot);
    cd.import_image();
    pod_lifecycle(&cd, handler, "host");
    pod_lifecycle(&cd, handler, "cni");
}

#[test]
fn cri_pod_lifecycle_with_tinibox() {
    cri_lifecycle("tinibox", 1);
}

#[test]
fn cri_pod_lifecycle_with_runc() {
    cri_lifecycle("runc", 2);
}
