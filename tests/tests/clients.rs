//! tinibox driven by the real engines, as an OCI runtime: Debian's Docker (dockerd +
//! containerd + containerd-shim-runc-v2), containerd directly through `ctr`, and Podman
//! (conmon). Every test starts the daemons it needs with private state folders, runs the same
//! scenarios with `runc` and with tinibox, compares what a user sees, and stops everything at
//! the end. Needs root, dockerd, ctr, podman, runc and busybox-static.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use tinilinux_tests::{
    busybox_tar, require_root, require_tool, run, stderr, stdout, under_a_terminal,
};

/// The TiniLinux rootfs tarball that `distro-build all` writes (test.sh builds it first).
fn tinilinux_tar() -> PathBuf {
    tinilinux_tests::out_file("tinilinux-rootfs.tar")
}

/// The tinibox binary as an absolute path (engines need one).
fn tinibox() -> PathBuf {
    std::fs::canonicalize(tinilinux_tests::tinibox_bin()).unwrap()
}

/// A bridge made for the test's Docker daemon, removed on drop.
struct Bridge {
    name: String,
    gateway: String,
}

impl Bridge {
    fn new(name: &str, cidr: &str) -> Bridge {
        let _ = run(Command::new("ip").args(["link", "del", name]));
        for args in [
            vec!["link", "add", name, "type", "bridge"],
            vec!["addr", "add", cidr, "dev", name],
            vec!["link", "set", name, "up"],
        ] {
            let o = run(Command::new("ip").args(&args));
            assert!(o.status.success(), "ip {args:?}: {}", stderr(&o));
        }
        Bridge {
            name: name.to_string(),
            gateway: cidr.split('/').next().unwrap().to_string(),
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.name])
            .output();
    }
}

/// A private dockerd ([`tinilinux_tests::dockerd`]: own data root, exec root, socket and
/// containerd) with tinibox registered as the runtime `tinibox` and its own bridge; the
/// daemon stops before the bridge goes (field order).
struct Dockerd {
    daemon: tinilinux_tests::dockerd::Dockerd,
    bridge: Bridge,
}

impl std::ops::Deref for Dockerd {
    type Target = tinilinux_tests::dockerd::Dockerd;
    fn deref(&self) -> &Self::Target {
        &self.daemon
    }
}

impl Dockerd {
    fn start(bridge: &str, cidr: &str) -> Dockerd {
        require_root();
        for t in ["runc", "ip"] {
            require_tool(t);
        }
        let bridge = Bridge::new(bridge, cidr);
        let runtime = format!("tinibox={}", tinibox().display());
        let daemon = tinilinux_tests::dockerd::Dockerd::start(
            "tbx-dockerd-",
            &[
                "--add-runtime",
                &runtime,
                "--bridge",
                &bridge.name,
                "--iptables=false",
                "--ip-masq=false",
            ],
        );
        Dockerd { daemon, bridge }
    }

    /// `docker run -d --runtime RT --name NAME IMAGE CMD...`, after removing any container left
    /// with that name by an earlier run.
    fn run_detached(&self, rt: &str, name: &str, image: &str, cmd: &[&str]) {
        let _ = self.docker(&["rm", "-f", name]);
        let mut args = vec!["run", "-d", "--runtime", rt, "--name", name, image];
        args.extend_from_slice(cmd);
        self.ok(&args);
    }

    /// containerd's socket (dockerd runs its own under the exec-root).
    fn containerd_socket(&self) -> PathBuf {
        self.dir().join("exec/containerd/containerd.sock")
    }
}

/// What a user sees of one `docker` command: exit code and trimmed stdout.
fn seen(o: &Output) -> (Option<i32>, String) {
    (o.status.code(), stdout(o).trim().to_string())
}

fn import(dk: &Dockerd, tar: &Path, tag: &str) {
    dk.ok(&["import", tar.to_str().unwrap(), tag]);
}

/// One-shot `docker run --rm` scenarios; returns what the user saw for each.
fn one_shot(dk: &Dockerd, rt: &str, image: &str) -> Vec<(String, (Option<i32>, String))> {
    let gw = dk.bridge.gateway.clone();
    let ping = format!("ping -c 1 -W 5 {gw} | grep -o '1 packets received'");
    let cases: Vec<(&str, Vec<&str>, Vec<&str>)> = vec![
        ("echo", vec![], vec!["echo", "hi"]),
        ("exit 3", vec![], vec!["sh", "-c", "exit 3"]),
        ("not found", vec![], vec!["no-such-command"]),
        ("pid 1", vec![], vec!["sh", "-c", "echo $$"]),
        (
            "network none",
            vec!["--network", "none"],
            vec![
                "sh",
                "-c",
                "ls /sys/class/net | tr '\\n' ' '; cat /sys/class/net/lo/flags",
            ],
        ),
        ("bridge ping", vec![], vec!["sh", "-c", &ping]),
        (
            "cgroup view",
            vec!["-m", "32m", "--pids-limit", "10"],
            vec![
                "sh",
                "-c",
                "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max \
                 | tr '\\n' ' '",
            ],
        ),
        (
            "oom",
            vec!["-m", "32m"],
            vec!["sh", "-c", "head -c 200m /dev/zero | tail"],
        ),
        (
            "pids limit",
            vec!["--pids-limit", "10"],
            vec![
                "sh",
                "-c",
                "(for i in $(seq 20); do sleep 2 & done) 2>/tmp/err; \
                 grep -q \"can't fork\" /tmp/err && echo limited",
            ],
        ),
        (
            "seccomp",
            vec![],
            vec![
                "sh",
                "-c",
                "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status | tr -s '\\t\\n' '  '",
            ],
        ),
        // unshare(CLONE_NEWUSER) needs no capability: only the seccomp filter refuses it, as
        // the unconfined control shows.
        ("unshare blocked", vec![], vec!["unshare", "-U", "true"]),
        (
            "unshare unconfined",
            vec!["--security-opt", "seccomp=unconfined"],
            vec!["unshare", "-U", "true"],
        ),
        ("user", vec!["-u", "1000:1000"], vec!["id", "-u"]),
        (
            "env and workdir",
            vec!["-e", "A=b", "-w", "/tmp"],
            vec!["sh", "-c", "echo $A $(pwd)"],
        ),
        ("read-only", vec!["--read-only"], vec!["touch", "/x"]),
    ];
    let mut out = Vec::new();
    for (name, opts, cmd) in cases {
        let mut full = vec!["run", "--rm", "--runtime", rt];
        full.extend(opts);
        full.push(image);
        full.extend(cmd);
        let o = dk.docker(&full);
        let mut s = seen(&o);
        if name == "not found" || name == "read-only" {
            // Docker's own error text names the runtime; keep only the code.
            s.1.clear();
        }
        out.push((name.to_string(), s));
    }
    out
}

/// A detached container through its life: logs, exec, top, pause/unpause, stop, kill, rm -f.
fn detached(dk: &Dockerd, rt: &str, image: &str) -> Vec<(String, String)> {
    let mut seen = Vec::new();
    let name = format!("tbx-detached-{rt}");
    dk.run_detached(
        rt,
        &name,
        image,
        &["sh", "-c", "echo started; while true; do sleep 1; done"],
    );
    let t = Instant::now();
    let mut logs = String::new();
    while t.elapsed() < Duration::from_secs(10) {
        logs = dk.ok(&["logs", &name]);
        if logs.contains("started") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    seen.push(("logs".into(), logs.trim().to_string()));
    seen.push((
        "exec".into(),
        dk.ok(&["exec", &name, "echo", "in-exec"]).trim().into(),
    ));
    let o = dk.docker(&["exec", &name, "sh", "-c", "exit 5"]);
    seen.push(("exec status".into(), format!("{:?}", o.status.code())));
    let o = dk.docker(&["exec", &name, "no-such-command"]);
    seen.push(("exec not found".into(), format!("{:?}", o.status.code())));
    // The seccomp filter holds in an exec'd process: unshare(CLONE_NEWUSER) needs no
    // capability, so only the filter refuses it (the one-shot scenarios show it works
    // unconfined). Pushed last, to keep the positions of the other observations.
    let o = dk.docker(&["exec", &name, "unshare", "-U", "true"]);
    let exec_unshare = format!("{:?}", o.status.code());
    seen.push((
        "exec env".into(),
        dk.ok(&[
            "exec",
            "-e",
            "X=y",
            "-u",
            "1000",
            &name,
            "sh",
            "-c",
            "echo $X $(id -u)",
        ])
        .trim()
        .into(),
    ));
    let top = dk.ok(&["top", &name]);
    seen.push((
        "top".into(),
        format!(
            "has sh: {}",
            top.lines().any(|l| l.contains("sh -c echo started"))
        ),
    ));
    dk.ok(&["pause", &name]);
    seen.push((
        "paused".into(),
        dk.ok(&["inspect", "-f", "{{.State.Status}}", &name])
            .trim()
            .into(),
    ));
    dk.ok(&["unpause", &name]);
    seen.push((
        "unpaused".into(),
        dk.ok(&["inspect", "-f", "{{.State.Status}}", &name])
            .trim()
            .into(),
    ));
    // sh as PID 1 ignores SIGTERM: stop must fall back to SIGKILL after the timeout.
    dk.ok(&["stop", "-t", "1", &name]);
    seen.push((
        "stopped".into(),
        dk.ok(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            &name,
        ])
        .trim()
        .into(),
    ));
    dk.ok(&["start", &name]);
    dk.ok(&["kill", &name]);
    let t = Instant::now();
    let mut st = String::new();
    while t.elapsed() < Duration::from_secs(10) {
        st = dk.ok(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            &name,
        ]);
        if st.starts_with("exited") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    seen.push(("killed".into(), st.trim().into()));
    dk.ok(&["start", &name]);
    dk.ok(&["rm", "-f", &name]);
    let o = dk.docker(&["inspect", &name]);
    seen.push(("removed".into(), format!("{:?}", o.status.code())));
    seen.push(("exec unshare -U".into(), exec_unshare));
    seen
}

/// `docker run -it` through a real pty (`script`).
fn interactive(dk: &Dockerd, rt: &str, image: &str) -> String {
    let host = format!("unix://{}", dk.dir().join("docker.sock").display());
    let cmd = format!(
        "DOCKER_HOST={host} docker run --rm -it --runtime {rt} {image} sh -c 'tty; echo ok-tty'"
    );
    let o = under_a_terminal(&cmd);
    let mut text = stdout(&o);
    assert!(o.status.success(), "{rt}: script: {text}{}", stderr(&o));
    // docker exec -it into a running container: the pty comes from the runtime's exec.
    let name = format!("tbx-it-{rt}");
    dk.run_detached(rt, &name, image, &["sleep", "100"]);
    let cmd = format!("DOCKER_HOST={host} docker exec -it {name} sh -c 'tty; echo ok-exec-tty'");
    let o = under_a_terminal(&cmd);
    text += &stdout(&o);
    dk.ok(&["rm", "-f", &name]);
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn docker_drives_tinibox_like_runc() {
    let dk = Dockerd::start("tbxbr0", "10.213.47.1/24");
    let work = tempfile::tempdir().unwrap();
    import(&dk, &busybox_tar(work.path()), "tbx-busybox:test");
    let info = dk.ok(&["info", "--format", "{{json .Runtimes}}"]);
    assert!(info.contains("tinibox"), "tinibox is registered: {info}");

    let runc = one_shot(&dk, "runc", "tbx-busybox:test");
    let tini = one_shot(&dk, "tinibox", "tbx-busybox:test");
    let expect: Vec<(&str, (Option<i32>, &str))> = vec![
        ("echo", (Some(0), "hi")),
        ("exit 3", (Some(3), "")),
        ("not found", (Some(127), "")),
        ("pid 1", (Some(0), "1")),
        ("network none", (Some(0), "lo 0x9")),
        ("bridge ping", (Some(0), "1 packets received")),
        ("cgroup view", (Some(0), "33554432 10")),
        ("oom", (Some(137), "")),
        ("pids limit", (Some(0), "limited")),
        ("unshare blocked", (Some(1), "")),
        ("unshare unconfined", (Some(0), "")),
        ("user", (Some(0), "1000")),
        ("env and workdir", (Some(0), "b /tmp")),
        ("read-only", (Some(1), "")),
    ];
    for (name, (code, text)) in &expect {
        let r = &runc.iter().find(|(n, _)| n == name).unwrap().1;
        assert_eq!(r.0, *code, "runc {name}: {r:?}");
        assert_eq!(r.1, *text, "runc {name}");
    }
    for ((name, r), (_, t)) in runc.iter().zip(&tini) {
        assert_eq!(r, t, "docker run scenario {name:?}: runc vs tinibox");
    }

    let r = detached(&dk, "runc", "tbx-busybox:test");
    let t = detached(&dk, "tinibox", "tbx-busybox:test");
    assert_eq!(r[0].1, "started");
    assert_eq!(r[2].1, "Some(5)");
    assert_eq!(r[5].1, "has sh: true");
    assert_eq!(r[6].1, "paused");
    assert_eq!(r[8].1, "exited 137");
    assert_eq!(
        r.last().map(|(_, v)| v.as_str()),
        Some("Some(1)"),
        "runc: exec unshare -U"
    );
    assert_eq!(r, t, "detached container: runc vs tinibox");

    let r = interactive(&dk, "runc", "tbx-busybox:test");
    let t = interactive(&dk, "tinibox", "tbx-busybox:test");
    assert!(r.contains("/dev/pts/0 ok-tty"), "runc: {r}");
    assert!(r.contains("/dev/pts/0 ok-exec-tty"), "runc: {r}");
    assert_eq!(r, t, "docker run -it: runc vs tinibox");

    // The distro's own root filesystem as a Docker image.
    import(&dk, &tinilinux_tar(), "tinilinux:test");
    for rt in ["runc", "tinibox"] {
        let o = dk.docker(&[
            "run",
            "--rm",
            "--runtime",
            rt,
            "tinilinux:test",
            "sh",
            "-c",
            "echo tinilinux-ok; exit 4",
        ]);
        assert_eq!(
            seen(&o),
            (Some(4), "tinilinux-ok".into()),
            "{rt}: {}",
            stderr(&o)
        );
    }
}

/// `docker update --memory` / `--pids-limit` of a running container started without limits:
/// what a user sees afterwards (a memory hog killed, a fork bomb stopped), runc vs tinibox.
fn update_limits(dk: &Dockerd, rt: &str, image: &str) -> Vec<String> {
    let name = format!("tbx-update-{rt}");
    dk.run_detached(rt, &name, image, &["sleep", "1000"]);
    let mut seen = Vec::new();
    // One process that allocates (dd's 200 MB buffer): with a pipeline such as head | tail the
    // writer keeps allocating while the killed reader's memory is freed, and the kernel then
    // sometimes kills a second process of the group (seen here: the init of a tinibox container).
    let hog = [
        "exec",
        &name,
        "sh",
        "-c",
        "dd if=/dev/zero of=/dev/null bs=200M count=1 2>/dev/null",
    ];
    seen.push(format!("hog before: {:?}", dk.docker(&hog).status.code()));
    dk.ok(&["update", "--memory", "32m", "--memory-swap", "32m", &name]);
    seen.push(format!("hog after: {:?}", dk.docker(&hog).status.code()));
    dk.ok(&["update", "--pids-limit", "10", &name]);
    // Read from the host, through the container's init: with a controller the container got
    // only at `update`, tinibox's in-container /sys/fs/cgroup does not show that group (a known
    // difference from runc, which makes every group at create).
    let pid = dk.ok(&["inspect", "-f", "{{.State.Pid}}", &name]);
    let cg = std::fs::read_to_string(format!("/proc/{}/cgroup", pid.trim())).unwrap();
    let file = |ctl: &str, f: &str| {
        let rel = cg
            .lines()
            .find_map(|l| {
                let mut p = l.splitn(3, ':');
                let (_, ctls, path) = (p.next()?, p.next()?, p.next()?);
                ctls.split(',').any(|c| c == ctl).then(|| path.to_string())
            })
            .unwrap();
        std::fs::read_to_string(format!("/sys/fs/cgroup/{ctl}{rel}/{f}")).unwrap_or_default()
    };
    let limits = format!(
        "{} {}",
        file("memory", "memory.limit_in_bytes").trim(),
        file("pids", "pids.max").trim()
    );
    seen.push(format!("limits of the container's groups: {}", limits));
    let o = dk.docker(&[
        "exec",
        &name,
        "sh",
        "-c",
        "for i in $(seq 30); do sleep 3 & done; wait",
    ]);
    // EAGAIN from the pids limit, whether BusyBox sh's fork or the runtime's exec was refused.
    let stopped = stderr(&o).contains("Resource temporarily unavailable");
    seen.push(format!("bomb stopped: {stopped}"));
    if !stopped {
        eprintln!("{rt}: fork bomb: {:?} {}", o.status.code(), stderr(&o));
    }
    dk.ok(&["rm", "-f", &name]);
    seen
}

#[test]
fn docker_update_sets_limits_like_runc() {
    let dk = Dockerd::start("tbxbr2", "10.213.49.1/24");
    let work = tempfile::tempdir().unwrap();
    import(&dk, &busybox_tar(work.path()), "tbx-busybox:test");
    let r = update_limits(&dk, "runc", "tbx-busybox:test");
    let t = update_limits(&dk, "tinibox", "tbx-busybox:test");
    assert_eq!(
        r,
        vec![
            "hog before: Some(0)",
            "hog after: Some(137)",
            "limits of the container's groups: 33554432 10",
            "bomb stopped: true",
        ],
        "runc"
    );
    assert_eq!(r, t, "docker update: runc vs tinibox");
}

#[test]
fn containerd_ctr_runs_tinibox_as_runc_binary() {
    require_tool("ctr");
    let dk = Dockerd::start("tbxbr1", "10.213.48.1/24");
    let work = tempfile::tempdir().unwrap();
    import(&dk, &busybox_tar(work.path()), "tbx-ctr:test");
    let archive = work.path().join("image.tar");
    dk.ok(&["save", "-o", archive.to_str().unwrap(), "tbx-ctr:test"]);
    let sock = dk.containerd_socket();
    let ctr = |args: &[&str]| {
        run(Command::new("ctr")
            .arg("--address")
            .arg(&sock)
            .args(["--namespace", "tbx-test"])
            .args(args)
            .stdin(Stdio::null()))
    };
    let o = ctr(&["images", "import", archive.to_str().unwrap()]);
    assert!(o.status.success(), "ctr images import: {}", stderr(&o));
    let image = "docker.io/library/tbx-ctr:test";
    let bin = tinibox();
    let mut results = Vec::new();
    for (rt, binary) in [
        ("runc", "runc".to_string()),
        ("tinibox", bin.display().to_string()),
    ] {
        let name = format!("tbx-ctr-{rt}");
        let o = ctr(&[
            "run",
            "--rm",
            "--runc-binary",
            &binary,
            image,
            &name,
            "sh",
            "-c",
            "echo hi-from-ctr; exit 6",
        ]);
        results.push((
            rt,
            o.status.code(),
            stdout(&o).trim().to_string(),
            stderr(&o),
        ));
        // Detached task, exec into it, kill, delete.
        let dname = format!("tbx-ctrd-{rt}");
        let o = ctr(&[
            "run",
            "-d",
            "--runc-binary",
            &binary,
            image,
            &dname,
            "sleep",
            "100",
        ]);
        assert!(o.status.success(), "{rt}: ctr run -d: {}", stderr(&o));
        let o = ctr(&["task", "exec", "--exec-id", "e1", &dname, "echo", "exec-ok"]);
        results.push((
            rt,
            o.status.code(),
            stdout(&o).trim().to_string(),
            stderr(&o),
        ));
        let o = ctr(&["task", "kill", "-s", "SIGKILL", &dname]);
        assert!(o.status.success(), "{rt}: ctr task kill: {}", stderr(&o));
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if ctr(&["task", "rm", &dname]).status.success() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let o = ctr(&["containers", "rm", &dname]);
        assert!(
            o.status.success(),
            "{rt}: ctr containers rm: {}",
            stderr(&o)
        );
    }
    assert_eq!(results[0].1, Some(6), "runc: {:?}", results[0]);
    assert_eq!(results[0].2, "hi-from-ctr");
    assert_eq!(results[1].2, "exec-ok", "runc exec: {:?}", results[1]);
    assert_eq!(
        (results[0].1, &results[0].2),
        (results[2].1, &results[2].2),
        "ctr run: runc vs tinibox ({})",
        results[2].3
    );
    assert_eq!(
        (results[1].1, &results[1].2),
        (results[3].1, &results[3].2),
        "ctr task exec: runc vs tinibox ({})",
        results[3].3
    );
}

/// Podman (conmon) with cgroupfs. This sandbox lacks CAP_SYS_RESOURCE, so Podman's default
/// nofile/nproc rlimits (above the current hard limits) cannot be set by any runtime: the
/// test passes explicit `--ulimit`s, which runc needs here too.
#[test]
fn podman_runs_tinibox_like_runc() {
    require_root();
    require_tool("podman");
    let work = tempfile::Builder::new()
        .prefix("tbx-podman-")
        .tempdir_in("/var/tmp")
        .unwrap();
    let tar = busybox_tar(work.path());
    std::fs::write(work.path().join("containers.conf"), "").unwrap();
    let podman = |rt: Option<&str>, args: &[&str]| {
        let mut c = Command::new("podman");
        // No host containers.conf; the runtime is always named (runc or tinibox): Podman
        // would pick crun when it is installed.
        c.env("CONTAINERS_CONF", work.path().join("containers.conf"))
            .arg("--root")
            .arg(work.path().join("storage"))
            .arg("--runroot")
            .arg(work.path().join("run"))
            .args(["--cgroup-manager", "cgroupfs", "--events-backend", "file"])
            .args(["--storage-driver", "overlay"]);
        if let Some(rt) = rt {
            c.args(["--runtime", rt]);
        }
        run(c.args(args).stdin(Stdio::null()))
    };
    let o = podman(
        None,
        &[
            "import",
            tar.to_str().unwrap(),
            "localhost/tbx-busybox:test",
        ],
    );
    assert!(o.status.success(), "podman import: {}", stderr(&o));
    let bin = tinibox();
    let limits = [
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=1024:1024",
    ];
    let mut seen_by = Vec::new();
    for rt in ["/usr/sbin/runc".to_string(), bin.display().to_string()] {
        let mut s = Vec::new();
        let mut args = vec!["run", "--rm", "--network", "none"];
        args.extend(limits);
        args.extend([
            "localhost/tbx-busybox:test",
            "sh",
            "-c",
            "echo hi-podman $$; exit 3",
        ]);
        let o = podman(Some(&rt), &args);
        s.push(format!("{:?} {}", o.status.code(), stdout(&o).trim()));
        let name = "tbx-podman-detached";
        let mut args = vec!["run", "-d", "--name", name, "--network", "none"];
        args.extend(limits);
        args.extend(["localhost/tbx-busybox:test", "sleep", "100"]);
        let o = podman(Some(&rt), &args);
        assert!(o.status.success(), "{rt}: podman run -d: {}", stderr(&o));
        let o = podman(
            Some(&rt),
            &["exec", name, "sh", "-c", "echo exec-ok; exit 2"],
        );
        s.push(format!("{:?} {}", o.status.code(), stdout(&o).trim()));
        let o = podman(Some(&rt), &["rm", "-f", "-t", "0", name]);
        assert!(o.status.success(), "{rt}: podman rm -f: {}", stderr(&o));
        seen_by.push((rt, s));
    }
    assert_eq!(seen_by[0].1, vec!["Some(3) hi-podman 1", "Some(2) exec-ok"]);
    assert_eq!(seen_by[0].1, seen_by[1].1, "podman: runc vs tinibox");
    let _ = podman(None, &["rmi", "-a", "-f"]);
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for m in mounts.lines().filter_map(|l| l.split_whitespace().nth(4)) {
        if m.starts_with(work.path().to_str().unwrap()) {
            let _ = Command::new("umount").args(["-l", m]).output();
        }
    }
}
