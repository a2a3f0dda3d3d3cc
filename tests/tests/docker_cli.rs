//! The container engine end to end through `tinibox run` and friends: real containers from a
//! BusyBox rootfs (Debian's busybox-static), as root. Isolation, secure defaults, limits, flags,
//! exit codes, signals, terminals, detached containers, and that nothing is left behind.
//!
//! Each test uses its own state root ([`StateRoot`]), which force-removes its containers on drop.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tinilinux_tests::{busybox_rootfs, require_root, require_tool, stderr, stdout, StateRoot};

/// `tinibox --root R run --rm ROOTFS <args>` → (exit code, stdout, stderr).
fn run_in(root: &StateRoot, flags: &[&str], cmd: &[&str]) -> (i32, String, String) {
    let out = root
        .tinibox()
        .arg("run")
        .arg("--rm")
        .args(flags)
        .arg(busybox_rootfs())
        .args(cmd)
        .stdin(Stdio::null())
        .output()
        .expect("start tinibox");
    (out.status.code().unwrap_or(-1), stdout(&out), stderr(&out))
}

/// Engine tests run one at a time: several of them compare system-wide snapshots (cgroups,
/// mounts, zombies, fds) before and after.
static SERIAL: Mutex<()> = Mutex::new(());

fn setup() -> (MutexGuard<'static, ()>, StateRoot) {
    require_root();
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    (guard, StateRoot::new())
}

/// Runs `sh -c SCRIPT` in a default container and returns trimmed stdout; must exit 0.
fn sh(root: &StateRoot, flags: &[&str], script: &str) -> String {
    let (code, out, err) = run_in(root, flags, &["sh", "-c", script]);
    assert_eq!(
        code, 0,
        "script {script:?} failed: stdout {out:?} stderr {err:?}"
    );
    out.trim().to_string()
}

/// Every cgroup folder with `tinibox` in its path (all v1 controllers and the v2 tree).
fn tinibox_cgroups() -> BTreeSet<PathBuf> {
    fn walk(dir: &Path, depth: u32, out: &mut BTreeSet<PathBuf>) {
        if depth == 0 {
            return;
        }
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    let p = e.path();
                    if p.to_string_lossy().contains("tinibox") {
                        out.insert(p.clone());
                    }
                    walk(&p, depth - 1, out);
                }
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(Path::new("/sys/fs/cgroup"), 4, &mut out);
    out
}

/// Container cgroups (64-hex ids below tinibox's parent group): the parent itself may stay.
fn container_cgroups() -> BTreeSet<PathBuf> {
    tinibox_cgroups()
        .into_iter()
        .filter(|p| {
            p.file_name()
                .map(|n| {
                    n.to_string_lossy().chars().all(|c| c.is_ascii_hexdigit()) && n.len() == 64
                })
                .unwrap_or(false)
        })
        .collect()
}

/// Mounts in the host namespace under any of `paths` (what a container of this test could
/// leave behind; other mounts on a shared machine come and go and are not ours to count).
fn mounts_under(paths: &[&Path]) -> usize {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| {
            let point = l.split(' ').nth(4).unwrap_or("");
            paths
                .iter()
                .any(|p| point.starts_with(&*p.to_string_lossy()))
        })
        .count()
}

/// Processes left behind by the runs: zombies of this test process, and processes still in a
/// tinibox container cgroup (other programs' zombies on a shared machine are not counted).
fn leftover_processes() -> Vec<String> {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter(|e| {
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            let fields: Vec<&str> = stat
                .rsplit_once(')')
                .map(|(_, r)| r.split_whitespace().collect())
                .unwrap_or_default();
            let our_zombie = fields.first() == Some(&"Z") && fields.get(1) == Some(&me.as_str());
            let cgroup = std::fs::read_to_string(e.path().join("cgroup")).unwrap_or_default();
            let in_container = cgroup.lines().any(|l| {
                l.rsplit('/')
                    .next()
                    .is_some_and(|n| n.len() == 64 && n.chars().all(|c| c.is_ascii_hexdigit()))
                    && l.contains("/tinibox/")
            });
            our_zombie || in_container
        })
        .map(|e| {
            let cmd = std::fs::read_to_string(e.path().join("cmdline")).unwrap_or_default();
            let cg = std::fs::read_to_string(e.path().join("cgroup")).unwrap_or_default();
            format!(
                "pid {} {:?} {}",
                e.file_name().to_string_lossy(),
                cmd.replace('\0', " "),
                cg.lines().next().unwrap_or("")
            )
        })
        .collect()
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// The state root holds no container and no front-door folder.
/// Runs `tinibox ARGS` every 50 ms until its stdout satisfies `done` (up to 10 s) and returns
/// that stdout; fails the test with `what` and the last output otherwise.
fn wait_for_output(
    root: &StateRoot,
    args: &[&str],
    what: &str,
    done: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = stdout(&root.tinibox().args(args).output().unwrap());
        if done(&out) {
            return out;
        }
        assert!(Instant::now() < deadline, "{what}: {out:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn assert_state_empty(root: &StateRoot) {
    let leftovers: Vec<String> = std::fs::read_dir(root.path())
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n != ".bundles")
                .collect()
        })
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "state left behind: {leftovers:?}");
    let bundles: Vec<_> = std::fs::read_dir(root.path().join(".bundles"))
        .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(bundles.is_empty(), "bundles left behind: {bundles:?}");
}

#[test]
fn command_is_pid_1() {
    let (_serial, root) = setup();
    assert_eq!(sh(&root, &[], "echo $$"), "1");
}

#[test]
fn hostname_is_isolated() {
    let (_serial, root) = setup();
    let host = nix::unistd::gethostname().unwrap();
    assert_eq!(sh(&root, &["-h", "box1"], "hostname"), "box1");
    assert_eq!(
        sh(&root, &["--hostname", "box2"], "cat /etc/hostname"),
        "box2"
    );
    let default = sh(&root, &[], "hostname");
    assert_eq!(
        default.len(),
        12,
        "default hostname is the short id: {default}"
    );
    assert_eq!(
        nix::unistd::gethostname().unwrap(),
        host,
        "host hostname changed"
    );
}

#[test]
fn network_none_has_only_lo_up() {
    let (_serial, root) = setup();
    let devs = sh(
        &root,
        &["--network", "none"],
        "tail -n +3 /proc/net/dev | cut -d: -f1",
    );
    let names: Vec<&str> = devs.split_whitespace().collect();
    assert_eq!(names, vec!["lo"], "interfaces: {devs}");
    let link = sh(&root, &["--network", "none"], "ip link show lo");
    assert!(link.contains("UP"), "lo is not up: {link}");
    // --network host joins the host's network namespace and sees its interfaces. Interfaces
    // of other namespaces (a CRI pod's veth, say) leave the host's list asynchronously after
    // their namespace dies, so the container's list is checked against the host's lists read
    // just before and just after it: everything present in both must be seen, and nothing
    // that was in neither.
    let host_ns = std::fs::read_link("/proc/self/ns/net").unwrap();
    let before = host_interfaces();
    let out = sh(
        &root,
        &["--network", "host"],
        "readlink /proc/self/ns/net; tail -n +3 /proc/net/dev | cut -d: -f1",
    );
    let after = host_interfaces();
    let mut lines = out.lines();
    assert_eq!(
        lines.next().map(str::trim),
        host_ns.to_str(),
        "--network host is not the host's namespace: {out}"
    );
    let seen: BTreeSet<String> = lines.map(|l| l.trim().to_string()).collect();
    let stable: BTreeSet<String> = before.intersection(&after).cloned().collect();
    let any: BTreeSet<String> = before.union(&after).cloned().collect();
    assert!(stable.contains("lo"), "host interfaces: {stable:?}");
    assert!(
        seen.is_superset(&stable) && seen.is_subset(&any),
        "container saw {seen:?}; host had {before:?} before and {after:?} after"
    );
}

/// The names of the interfaces in this process's network namespace, from /proc/net/dev.
fn host_interfaces() -> BTreeSet<String> {
    std::fs::read_to_string("/proc/net/dev")
        .unwrap()
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(|n| n.trim().to_string())
        .collect()
}

#[test]
fn ps_sees_only_the_container() {
    let (_serial, root) = setup();
    let out = sh(&root, &[], "ps -o pid,comm | tail -n +2");
    let rows: Vec<&str> = out.lines().map(str::trim).collect();
    // sh (PID 1), ps and tail: nothing from the host.
    assert!(rows.len() <= 3, "processes visible: {out}");
    assert!(rows.iter().any(|r| r.starts_with("1 ")), "{out}");
    for r in rows {
        let pid: u32 = r.split_whitespace().next().unwrap().parse().unwrap();
        assert!(pid < 10, "host-looking pid in {r}");
    }
}

#[test]
fn masked_paths_read_empty_and_readonly_paths_refuse_writes() {
    let (_serial, root) = setup();
    for masked in [
        "/proc/kcore",
        "/proc/keys",
        "/proc/timer_list",
        "/proc/sched_debug",
    ] {
        if Path::new(masked).exists() {
            assert_eq!(
                sh(&root, &[], &format!("wc -c < {masked}")),
                "0",
                "{masked}"
            );
        }
    }
    if Path::new("/sys/firmware").exists() {
        assert_eq!(sh(&root, &[], "ls -A /sys/firmware | wc -l"), "0");
    }
    let (code, _, err) = run_in(
        &root,
        &[],
        &["sh", "-c", "echo x > /proc/sys/kernel/domainname"],
    );
    assert_ne!(code, 0, "/proc/sys is writable");
    assert!(err.contains("Read-only"), "{err}");
    // Kernels without CONFIG_MAGIC_SYSRQ have no sysrq-trigger (the write would then fail
    // for that reason alone).
    if Path::new("/proc/sysrq-trigger").exists() {
        let (code, _, err) = run_in(&root, &[], &["sh", "-c", "echo h > /proc/sysrq-trigger"]);
        assert_ne!(code, 0, "/proc/sysrq-trigger is writable: {err}");
        assert!(err.contains("Read-only file system"), "{err}");
    }
    // /sys is mounted read-only: the kernel's mount table says so, and opening an existing
    // attribute for writing fails with EROFS. (On a read-write sysfs the open succeeds and
    // the write itself fails for lack of CAP_NET_ADMIN, with another error; sysfs never
    // creates files, so `touch /sys/x` would fail either way.)
    let sys_opts = sh(
        &root,
        &[],
        "awk '$5 == \"/sys\" { print $6 }' /proc/self/mountinfo",
    );
    assert!(
        sys_opts.split(',').any(|o| o == "ro"),
        "/sys is not mounted read-only: options {sys_opts:?}"
    );
    let (code, _, err) = run_in(
        &root,
        &[],
        &["sh", "-c", "echo 65536 > /sys/class/net/lo/mtu"],
    );
    assert_ne!(code, 0, "/sys/class/net/lo/mtu is writable");
    assert!(err.contains("Read-only file system"), "{err}");
}

#[test]
fn block_device_made_with_mknod_cannot_be_opened() {
    let (_serial, root) = setup();
    let (code, out, err) = run_in(
        &root,
        &["--tmpfs", "/scratch:dev"],
        &[
            "sh",
            "-c",
            "mknod /scratch/sda b 8 0 && echo made && head -c 1 /scratch/sda",
        ],
    );
    assert!(out.contains("made"), "mknod failed: {err}");
    assert_ne!(code, 0, "the block device could be read");
    assert!(err.contains("Operation not permitted"), "{err}");
}

#[test]
fn capabilities_are_dockers_default_set() {
    let (_serial, root) = setup();
    assert_eq!(
        sh(&root, &[], "grep CapEff /proc/self/status | cut -f2"),
        "00000000a80425fb"
    );
    assert_eq!(
        sh(
            &root,
            &["--cap-drop", "ALL"],
            "grep CapEff /proc/self/status | cut -f2"
        ),
        "0000000000000000"
    );
    // NET_ADMIN is bit 12.
    assert_eq!(
        sh(
            &root,
            &["--cap-add", "NET_ADMIN"],
            "grep CapEff /proc/self/status | cut -f2"
        ),
        "00000000a80435fb"
    );
    // --privileged grants every capability tinibox holds (its bounding set).
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let all = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:\t"))
        .unwrap()
        .to_string();
    assert_eq!(
        sh(
            &root,
            &["--privileged"],
            "grep CapEff /proc/self/status | cut -f2"
        ),
        all
    );
}

#[test]
fn no_new_privs_and_seccomp() {
    let (_serial, root) = setup();
    let out = sh(
        &root,
        &[],
        "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status",
    );
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
    assert!(out.contains("Seccomp:\t2"), "{out}");
    let out = sh(
        &root,
        &["--privileged"],
        "grep -E '^Seccomp:' /proc/self/status",
    );
    assert!(out.contains("Seccomp:\t0"), "{out}");
}

#[test]
fn blocked_syscall_gets_eperm() {
    let (_serial, root) = setup();
    // unshare(CLONE_NEWUSER) needs no capability: only the seccomp filter refuses it.
    let (code, _, err) = run_in(&root, &[], &["unshare", "-U", "true"]);
    assert_ne!(code, 0);
    assert!(err.contains("Operation not permitted"), "{err}");
    let (code, _, err) = run_in(&root, &["--privileged"], &["unshare", "-U", "true"]);
    assert_eq!(code, 0, "without seccomp unshare works: {err}");
    let (code, _, err) = run_in(&root, &[], &["mount", "-t", "tmpfs", "none", "/mnt"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("Operation not permitted") || err.contains("permission denied"),
        "{err}"
    );
}

#[test]
fn memory_hog_is_killed_with_137() {
    let (_serial, root) = setup();
    let (code, _, err) = run_in(
        &root,
        &["-m", "32m"],
        &["sh", "-c", "head -c 300m /dev/zero | tail"],
    );
    assert_eq!(code, 137, "memory hog not OOM-killed: {err}");
    assert!(!err.contains("panicked"), "{err}");
    // tinibox and the host are fine: the next container runs.
    assert_eq!(sh(&root, &[], "echo alive"), "alive");
}

#[test]
fn fork_bomb_is_stopped_by_pids_limit() {
    let (_serial, root) = setup();
    let spawn_100 =
        "i=0; while [ $i -lt 100 ]; do sleep 30 & i=$((i+1)); done; ls /proc | grep -c '^[0-9]'";
    // Without a limit, 100 background processes start.
    let n: u32 = sh(&root, &[], spawn_100).parse().expect("a process count");
    assert!(n > 100, "only {n} processes without a limit");
    // With --pids-limit 20, fork fails and the shell gives up; tinibox returns.
    let (code, _, err) = run_in(&root, &["--pids-limit", "20"], &["sh", "-c", spawn_100]);
    assert_ne!(code, 0, "100 processes started despite --pids-limit 20");
    assert!(err.contains("can't fork"), "{err}");
    assert_eq!(sh(&root, &[], "echo alive"), "alive");
}

#[test]
fn read_only_root() {
    let (_serial, root) = setup();
    let (code, _, err) = run_in(&root, &["--read-only"], &["touch", "/newfile"]);
    assert_ne!(code, 0);
    assert!(err.contains("Read-only file system"), "{err}");
    assert_eq!(
        sh(
            &root,
            &["--read-only", "--tmpfs", "/tmp"],
            "echo hi > /tmp/f && cat /tmp/f"
        ),
        "hi"
    );
    assert!(!busybox_rootfs().join("newfile").exists());
}

#[test]
fn bind_mounts_rw_and_ro() {
    let (_serial, root) = setup();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.txt"), "from host\n").unwrap();
    let rw = format!("{}:/data", dir.path().display());
    assert_eq!(
        sh(
            &root,
            &["-v", &rw],
            "cat /data/in.txt && echo from container > /data/out.txt"
        ),
        "from host"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out.txt")).unwrap(),
        "from container\n"
    );
    let ro = format!("{}:/data:ro", dir.path().display());
    let (code, _, err) = run_in(&root, &["-v", &ro], &["sh", "-c", "echo x > /data/x"]);
    assert_ne!(code, 0);
    assert!(err.contains("Read-only file system"), "{err}");
    assert!(!dir.path().join("x").exists());
}

#[test]
fn env_env_file_workdir_user() {
    let (_serial, root) = setup();
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("env");
    std::fs::write(&env_file, "# comment\nB=from-file\nC=overridden\n").unwrap();
    let out = sh(
        &root,
        &[
            "-e",
            "A=one",
            "-e",
            "C=flag",
            "--env-file",
            env_file.to_str().unwrap(),
            "-w",
            "/tmp",
            "-u",
            "1000:10",
        ],
        "echo $A $B $C; pwd; id -u; id -g",
    );
    assert_eq!(out, "one from-file flag\n/tmp\n1000\n10");
    let out = sh(&root, &["-u", "user"], "id -u; id -g; echo $HOME");
    assert_eq!(out, "1000\n1000\n/home/user");
    let (code, _, err) = run_in(&root, &["-u", "nosuchuser"], &["true"]);
    assert_eq!(code, 125);
    assert!(
        err.contains("--user") && err.contains("nosuchuser"),
        "{err}"
    );
}

#[test]
fn exit_codes() {
    let (_serial, root) = setup();
    assert_eq!(run_in(&root, &[], &["true"]).0, 0);
    assert_eq!(run_in(&root, &[], &["false"]).0, 1);
    assert_eq!(run_in(&root, &[], &["sh", "-c", "exit 42"]).0, 42);
    let (code, _, err) = run_in(&root, &[], &["/etc/passwd"]);
    assert_eq!(code, 126, "{err}");
    let (code, _, err) = run_in(&root, &[], &["/no/such/command"]);
    assert_eq!(code, 127, "{err}");
    let (code, _, err) = run_in(&root, &[], &["nosuchcommand"]);
    assert_eq!(code, 127, "{err}");
    let (code, _, err) = run_in(&root, &["--memory", "lots"], &["true"]);
    assert_eq!(code, 125);
    assert!(err.starts_with("tinibox: --memory:"), "{err}");
    assert_eq!(err.lines().count(), 1, "one error line: {err}");
    // Issue 15 item 20: limits the kernel cannot honour are refused with the minimum named
    // (Docker: "Minimum memory limit allowed is 6MB"; --cpus from 0.01), not run unlimited
    // (-m 0.5 used to parse as 0 = no limit) or failing inside the init (-m 1).
    for (flag, value, minimum) in [
        ("-m", "0.5", "one byte"),
        ("-m", "1", "6 MiB"),
        ("-m", "5m", "6 MiB"),
        ("--cpus", "0.001", "0.01"),
    ] {
        let (code, _, err) = run_in(&root, &[flag, value], &["true"]);
        assert_eq!(code, 125, "{flag} {value}: {err}");
        assert!(err.contains(minimum), "{flag} {value}: {err}");
        assert_eq!(err.lines().count(), 1, "one error line: {err}");
    }
    assert_eq!(
        run_in(&root, &["-m", "6m"], &["true"]).0,
        0,
        "6 MiB is enough"
    );
    assert_state_empty(&root);
}

/// Issue 15: each error says a thing once and names what the user typed — a missing
/// `--process` file (its OS error not repeated), a command not in PATH (its name once, the
/// PATH searched), runc's `create --bundle` without an id (the help of `create`, not of an
/// internal name), `-u` with a number no uid can be (out of range, not "unknown user").
#[test]
fn errors_name_each_thing_once() {
    let (_serial, root) = setup();
    let o = root
        .tinibox()
        .args(["run", "-d", "--name", "msgs"])
        .arg(busybox_rootfs())
        .args(["sleep", "1000"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let tb = |args: &[&str]| {
        let o = root
            .tinibox()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (o.status.code(), stderr(&o))
    };
    let (code, err) = tb(&["exec", "--process", "/nonexist", "msgs"]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    assert!(err.contains("/nonexist"), "{err}");
    let (code, err) = tb(&["exec", "msgs", "nosuchbin"]);
    assert_eq!(code, Some(127), "{err}");
    assert_eq!(err.matches("nosuchbin").count(), 1, "{err}");
    assert!(err.contains("PATH="), "{err}");
    let bundle = tempfile::tempdir().unwrap();
    let (code, err) = tb(&["create", "--bundle", bundle.path().to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("`tinibox create --help`"), "{err}");
    assert!(!err.contains("oci-"), "{err}");
    for user in ["99999999999", "4294967295", "0:99999999999"] {
        let (code, _, err) = run_in(&root, &["-u", user], &["true"]);
        assert_eq!(code, 125, "-u {user}: {err}");
        assert!(err.contains("out of range"), "-u {user}: {err}");
        assert!(!err.contains("unknown user"), "-u {user}: {err}");
        assert_eq!(err.lines().count(), 1, "one error line: {err}");
    }
    assert!(tb(&["rm", "-f", "msgs"]).0 == Some(0));
    assert_state_empty(&root);
}

#[test]
fn bad_input_leaves_nothing_behind() {
    let (_serial, root) = setup();
    let cgroups = container_cgroups();
    let mounts = mounts_under(&[root.path(), busybox_rootfs()]);
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["run".into(), "/no/such/rootfs".into(), "true".into()],
            "rootfs",
        ),
        (
            vec![
                "run".into(),
                busybox_rootfs().display().to_string(),
                "/nope".into(),
            ],
            "not found",
        ),
        (
            vec![
                "run".into(),
                "-u".into(),
                "ghost".into(),
                busybox_rootfs().display().to_string(),
                "true".into(),
            ],
            "--user",
        ),
        (
            vec![
                "run".into(),
                "-m".into(),
                "12q".into(),
                busybox_rootfs().display().to_string(),
                "true".into(),
            ],
            "--memory",
        ),
        (
            vec![
                "run".into(),
                "--cpus".into(),
                "-1".into(),
                busybox_rootfs().display().to_string(),
                "true".into(),
            ],
            "--cpus",
        ),
        (
            vec![
                "run".into(),
                "-v".into(),
                "/no/such/source:/x".into(),
                busybox_rootfs().display().to_string(),
                "true".into(),
            ],
            "--volume",
        ),
        (
            vec![
                "run".into(),
                "--network".into(),
                "overlay".into(),
                busybox_rootfs().display().to_string(),
                "true".into(),
            ],
            "--network",
        ),
    ];
    for (args, needle) in cases {
        let out = root.tinibox().args(&args).output().unwrap();
        let err = stderr(&out);
        let code = out.status.code().unwrap_or(-1);
        assert!(code == 125 || code == 127, "{args:?}: exit {code}, {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(err.starts_with("tinibox: "), "{args:?}: {err}");
        assert_state_empty(&root);
    }
    assert_eq!(container_cgroups(), cgroups, "cgroups left behind");
    assert_eq!(
        mounts_under(&[root.path(), busybox_rootfs()]),
        mounts,
        "mounts left behind"
    );
}

#[test]
fn sigterm_to_tinibox_reaches_the_container() {
    let (_serial, root) = setup();
    use nix::sys::signal::Signal;
    for (sig, name, code) in [
        (Signal::SIGTERM, "TERM", 42),
        (Signal::SIGINT, "INT", 43),
        (Signal::SIGHUP, "HUP", 44),
    ] {
        let script = format!(
            "trap 'echo got-{name}; exit {code}' {name}; echo ready; while :; do sleep 0.1; done"
        );
        let mut child = root
            .tinibox()
            .args(["run", "--rm"])
            .arg(busybox_rootfs())
            .args(["sh", "-c", &script])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        assert_eq!(lines.next().unwrap().unwrap(), "ready");
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
        let status = child.wait().unwrap();
        assert_eq!(lines.next().unwrap().unwrap(), format!("got-{name}"));
        assert_eq!(status.code(), Some(code), "{name}");
    }
    assert_state_empty(&root);
}

#[test]
fn interactive_terminal_is_a_usable_shell() {
    let (_serial, root) = setup();
    // The outer pty gets a window size first; tinibox must pass it on to the container's pty.
    let script = format!(
        "stty rows 33 cols 99; exec {} --root {} run --rm -it {} sh",
        tinilinux_tests::tinibox_bin().display(),
        root.path().display(),
        busybox_rootfs().display()
    );
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &script]);
    let mut p = rexpect::session::spawn_command(cmd, Some(20_000)).expect("spawn tinibox in a pty");
    p.send_line("tty; echo sum=$((6*7))").unwrap();
    p.exp_string("/dev/pts/0").expect("a pty inside");
    p.exp_string("sum=42").expect("the shell answers");
    p.send_line("stty size").unwrap();
    p.exp_string("33 99").expect("the caller's window size");
    p.send_line("exit 3").unwrap();
    match p.process.wait().unwrap() {
        rexpect::process::wait::WaitStatus::Exited(_, code) => assert_eq!(code, 3),
        other => panic!("tinibox ended with {other:?}"),
    }
    assert_state_empty(&root);
}

#[test]
fn detached_logs_stop_rm() {
    let (_serial, root) = setup();
    let out = root
        .tinibox()
        .args(["run", "-d", "--name", "web"])
        .arg(busybox_rootfs())
        .args([
            "sh",
            "-c",
            "echo hello from web; trap 'echo bye; exit 0' TERM; while :; do sleep 0.1; done",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let id = stdout(&out).trim().to_string();
    assert_eq!(id.len(), 64, "a 64-hex id: {id}");
    let ps = stdout(&root.tinibox().arg("ps").output().unwrap());
    assert!(
        ps.contains(&id[..12]) && ps.contains("web") && ps.contains("Up"),
        "{ps}"
    );
    wait_for_output(&root, &["logs", "web"], "no output in logs", |l| {
        l.contains("hello from web")
    });
    let stop = root
        .tinibox()
        .args(["stop", "-t", "5", &id[..12]])
        .output()
        .unwrap();
    assert!(stop.status.success(), "{}", stderr(&stop));
    let ps = stdout(&root.tinibox().args(["ps", "-a"]).output().unwrap());
    assert!(ps.contains("Exited (0)"), "{ps}");
    let logs = stdout(&root.tinibox().args(["logs", "web"]).output().unwrap());
    assert!(logs.contains("bye"), "{logs}");
    let rm = root.tinibox().args(["rm", "web"]).output().unwrap();
    assert!(rm.status.success(), "{}", stderr(&rm));
    assert_eq!(
        stdout(&root.tinibox().args(["ps", "-a", "-q"]).output().unwrap()),
        ""
    );
    assert_state_empty(&root);
}

#[test]
fn detached_with_a_terminal_logs_what_the_terminal_shows() {
    let (_serial, root) = setup();
    let out = root
        .tinibox()
        .args(["run", "-d", "-t", "--name", "ttyd"])
        .arg(busybox_rootfs())
        .args([
            "sh",
            "-c",
            "[ -t 0 ] && [ -t 1 ] && echo on a terminal: $(tty); printf 'crlf\\n'; exit 7",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    wait_for_output(&root, &["ps", "-a"], "container did not exit 7", |ps| {
        ps.contains("Exited (7)")
    });
    let logs = stdout(&root.tinibox().args(["logs", "ttyd"]).output().unwrap());
    // A terminal turns \n into \r\n, as `docker logs` of a -t container shows.
    assert!(logs.contains("on a terminal: /dev/pts/0\r\n"), "{logs:?}");
    assert!(logs.contains("crlf\r\n"), "{logs:?}");
    let rm = root.tinibox().args(["rm", "ttyd"]).output().unwrap();
    assert!(rm.status.success(), "{}", stderr(&rm));
    assert_state_empty(&root);
}

#[test]
fn kill_and_rm_force_of_a_detached_container() {
    let (_serial, root) = setup();
    let out = root
        .tinibox()
        .args(["run", "-d", "--rm", "--name", "sleeper"])
        .arg(busybox_rootfs())
        .args(["sleep", "1000"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let rm = root.tinibox().args(["rm", "sleeper"]).output().unwrap();
    assert_eq!(
        rm.status.code(),
        Some(1),
        "rm of a running container must refuse (exit 1, as Docker's daemon errors)"
    );
    let kill = root.tinibox().args(["kill", "sleeper"]).output().unwrap();
    assert!(kill.status.success(), "{}", stderr(&kill));
    // --rm: the monitor removes it.
    wait_for_output(
        &root,
        &["ps", "-a", "-q"],
        "--rm container not removed",
        str::is_empty,
    );
    assert_state_empty(&root);

    // rm -f of a running container (no --rm): it succeeds, and the process, the container's
    // cgroups and its state are gone.
    let cgroups = container_cgroups();
    let out = root
        .tinibox()
        .args(["run", "-d", "--name", "forced"])
        .arg(busybox_rootfs())
        .args(["sleep", "1000"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let json = stdout(
        &root
            .tinibox()
            .args(["ps", "--format", "json", "forced"])
            .output()
            .unwrap(),
    );
    let pids: Vec<i32> = serde_json::from_str(json.trim()).expect("a JSON pid list");
    assert_eq!(pids.len(), 1, "{json}");
    let proc_dir = PathBuf::from(format!("/proc/{}", pids[0]));
    assert!(proc_dir.exists(), "the container's process runs");
    assert_ne!(
        container_cgroups(),
        cgroups,
        "the container has its cgroups"
    );
    let rm = root
        .tinibox()
        .args(["rm", "-f", "forced"])
        .output()
        .unwrap();
    assert!(rm.status.success(), "rm -f: {}", stderr(&rm));
    // The process is killed and reaped (by tinibox's monitor, asynchronously).
    let deadline = Instant::now() + Duration::from_secs(10);
    while proc_dir.exists() {
        assert!(
            Instant::now() < deadline,
            "the process of a force-removed container still exists"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        stdout(&root.tinibox().args(["ps", "-a", "-q"]).output().unwrap()),
        ""
    );
    assert_eq!(container_cgroups(), cgroups, "cgroup left behind");
    assert_state_empty(&root);
}

#[test]
fn rm_cleans_up_after_a_killed_tinibox() {
    let (_serial, root) = setup();
    let before = container_cgroups();
    let mut child = root
        .tinibox()
        .args(["run", "--name", "orphan"])
        .arg(busybox_rootfs())
        .args(["sh", "-c", "echo up; sleep 1000"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "up");
    child.kill().unwrap();
    child.wait().unwrap();
    let ps = stdout(&root.tinibox().args(["ps", "-a"]).output().unwrap());
    assert!(ps.contains("orphan"), "leftover not reported: {ps}");
    let rm = root
        .tinibox()
        .args(["rm", "-f", "orphan"])
        .output()
        .unwrap();
    assert!(rm.status.success(), "{}", stderr(&rm));
    assert_eq!(container_cgroups(), before, "cgroup left behind");
    assert_state_empty(&root);
}

#[test]
fn runc_ps_of_a_container() {
    let (_serial, root) = setup();
    let out = root
        .tinibox()
        .args(["run", "-d", "--rm", "--name", "pslist"])
        .arg(busybox_rootfs())
        .args(["sleep", "1000"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let json = stdout(
        &root
            .tinibox()
            .args(["ps", "--format", "json", "pslist"])
            .output()
            .unwrap(),
    );
    let pids: Vec<i32> = serde_json::from_str(json.trim()).expect("a JSON pid list");
    assert_eq!(pids.len(), 1, "{json}");
    let table = stdout(&root.tinibox().args(["ps", "pslist"]).output().unwrap());
    assert!(table.contains("sleep 1000"), "{table}");
    let k = root
        .tinibox()
        .args(["kill", "pslist", "KILL"])
        .output()
        .unwrap();
    assert!(k.status.success(), "{}", stderr(&k));
}

#[test]
fn two_hundred_runs_leave_nothing_behind() {
    let (_serial, root) = setup();
    // An image in a private store, a volume folder, and a private TMPDIR for tinibox.
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("store");
    let tar = work.path().join("rootfs.tar");
    let tarred = Command::new("tar")
        .arg("-C")
        .arg(busybox_rootfs())
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(tarred.success());
    let imp = root
        .tinibox()
        .arg("--store")
        .arg(&store)
        .arg("import")
        .arg(&tar)
        .arg("bb:many")
        .output()
        .unwrap();
    assert!(imp.status.success(), "{}", stderr(&imp));
    let volume = work.path().join("volume");
    let tmp = work.path().join("tmp");
    std::fs::create_dir(&volume).unwrap();
    std::fs::create_dir(&tmp).unwrap();
    let rootfs = busybox_rootfs().display().to_string();
    let vol = format!("{}:/data", volume.display());
    // Five kinds of run, in turn: a plain one, a bind mount, a tmpfs, an image (overlay
    // root), and a detached --rm one (removed by its monitor).
    let kinds: [Vec<&str>; 5] = [
        vec!["run", "--rm", &rootfs, "true"],
        vec![
            "run",
            "--rm",
            "-v",
            &vol,
            &rootfs,
            "sh",
            "-c",
            "echo x > /data/f",
        ],
        vec![
            "run",
            "--rm",
            "--tmpfs",
            "/scratch",
            &rootfs,
            "sh",
            "-c",
            "echo x > /scratch/f",
        ],
        vec!["run", "--rm", "bb:many", "sh", "-c", "echo x > /tmp/f"],
        vec!["run", "-d", "--rm", &rootfs, "true"],
    ];
    let tinibox = |args: &[&str]| {
        root.tinibox()
            .arg("--store")
            .arg(&store)
            .env("TMPDIR", &tmp)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let ours = [root.path(), busybox_rootfs(), work.path()];
    // One warm-up run of each kind creates tinibox's parent cgroup if it does not exist yet.
    for args in &kinds {
        let out = tinibox(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
    wait_for_output(&root, &["ps", "-a", "-q"], "warm-up left", str::is_empty);
    let cgroups = container_cgroups();
    let mounts = mounts_under(&ours);
    // This test process's own fds (its pipes to each tinibox are closed after each run).
    let fds = open_fds();
    for i in 0..200 {
        let args = &kinds[i % kinds.len()];
        let out = tinibox(args);
        assert!(out.status.success(), "run {i} {args:?}: {}", stderr(&out));
        if args.contains(&"-d") {
            wait_for_output(
                &root,
                &["ps", "-a", "-q"],
                "detached --rm container not removed",
                str::is_empty,
            );
        }
    }
    assert_eq!(container_cgroups(), cgroups, "cgroups left behind");
    assert_eq!(mounts_under(&ours), mounts, "mounts left behind");
    assert_eq!(open_fds(), fds, "fds left open");
    let left_in = |dir: &Path| -> Vec<String> {
        std::fs::read_dir(dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        left_in(&store.join("containers")),
        Vec::<String>::new(),
        "container roots left in the store"
    );
    assert_eq!(
        left_in(&store.join("tmp")),
        Vec::<String>::new(),
        "staging left in the store"
    );
    assert_eq!(left_in(&tmp), Vec::<String>::new(), "files left in TMPDIR");
    assert_eq!(
        left_in(&volume),
        vec!["f".to_string()],
        "the volume holds what the containers wrote"
    );
    let left = leftover_processes();
    assert!(
        left.is_empty(),
        "processes or zombies left behind: {left:?}"
    );
    assert_state_empty(&root);
    // Nothing of tinibox's leaks into the container either: only stdin/out/err (and ls's own).
    assert_eq!(sh(&root, &[], "ls /proc/self/fd | tr '\\n' ' '"), "0 1 2 3");
}

#[test]
fn check_reports_kernel_features() {
    require_tool("true");
    let out = Command::new(tinilinux_tests::tinibox_bin())
        .arg("check")
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(
        text.contains("CONFIG_PID_NS") && text.contains("cgroup hierarchy"),
        "{text}"
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "this host runs containers: {text}"
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config");
    std::fs::write(&cfg, "CONFIG_NAMESPACES=y\n# CONFIG_PID_NS is not set\n").unwrap();
    let out = Command::new(tinilinux_tests::tinibox_bin())
        .args(["check", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("missing"));

    // A config with every feature of the list tinibox checks against (the one source of
    // truth, which distro-build uses too) passes; the same config minus any one required
    // feature fails, and names as missing exactly the features left with none of their
    // options (that one, and any other met only by the same option: CONFIG_CGROUPS is both
    // "control groups" and the v2 freezer). A feature with alternatives (A|B) is missing only
    // when all of them are.
    let list = std::fs::read_to_string(
        tinilinux_tests::repo_root().join("tinibox/src/check/kernel-features.txt"),
    )
    .unwrap();
    let features: Vec<(&str, Vec<&str>, &str)> = list
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut f = l.splitn(3, ' ');
            let level = f.next().unwrap();
            let options = f.next().unwrap().split('|').collect();
            (level, options, f.next().unwrap_or("").trim())
        })
        .collect();
    assert!(features.len() > 20, "the feature list: {list}");
    let check = |drop: &[&str]| {
        let text: String = features
            .iter()
            .flat_map(|(_, opts, _)| opts.iter())
            .filter(|o| !drop.contains(o))
            .map(|o| format!("{o}=y\n"))
            .collect();
        std::fs::write(&cfg, text).unwrap();
        let out = Command::new(tinilinux_tests::tinibox_bin())
            .args(["check", "--config"])
            .arg(&cfg)
            .output()
            .unwrap();
        // The status word of each feature's line, by its description.
        let report = stdout(&out);
        let status: Vec<String> = features
            .iter()
            .map(|(_, _, desc)| {
                report
                    .lines()
                    .find(|l| l.starts_with("- CONFIG_") && l.trim_end().ends_with(desc))
                    .and_then(|l| l.split_whitespace().nth(2))
                    .unwrap_or_else(|| panic!("no line for {desc:?} in:\n{report}"))
                    .to_string()
            })
            .collect();
        (out.status.code(), status, report)
    };
    let (code, status, report) = check(&[]);
    assert_eq!(code, Some(0), "the full config: {report}");
    assert!(status.iter().all(|s| s == "ok"), "{report}");
    for (i, (level, options, desc)) in features.iter().enumerate() {
        if *level != "required" {
            continue;
        }
        let (code, status, report) = check(options);
        assert_eq!(code, Some(1), "without {options:?}: {report}");
        assert_eq!(status[i], "missing", "without {options:?}: {report}");
        for (j, s) in status.iter().enumerate() {
            let gone = features[j].1.iter().all(|o| options.contains(o));
            let want = if gone { "missing" } else { "ok" };
            assert_eq!(
                s, want,
                "without {options:?}, the line of {desc:?}: {report}"
            );
        }
        if options.len() > 1 {
            let (code, status, report) = check(&options[..1]);
            assert_eq!(code, Some(0), "without only {}: {report}", options[0]);
            assert_eq!(status[i], "ok", "{desc:?} has alternatives: {report}");
        }
    }
}

#[test]
fn init_reaper_is_pid_1() {
    let (_serial, root) = setup();
    let out = sh(
        &root,
        &["--init"],
        "echo $$; tr '\\0' ' ' < /proc/1/cmdline",
    );
    let mut lines = out.lines();
    assert_ne!(
        lines.next(),
        Some("1"),
        "the command must not be PID 1 with --init"
    );
    let init = lines.next().unwrap_or("");
    assert!(
        !init.starts_with("sh"),
        "PID 1 is the command, not the reaper: {init}"
    );
    // Orphans are reaped: no zombie stays after its parent exits.
    let z = sh(
        &root,
        &["--init"],
        "sh -c 'sleep 0.2 & exit 0'; sleep 0.6; grep -l '^State:.*Z' /proc/[0-9]*/status | wc -l",
    );
    assert_eq!(z, "0", "zombies in the container");
}

/// The container's cgroup folder for `controller` (v1) on the host, found by its id.
fn container_cgroup_file(id: &str, controller: &str, file: &str) -> Option<String> {
    tinibox_cgroups()
        .into_iter()
        .filter(|p| p.ends_with(id) && p.to_string_lossy().contains(&format!("/{controller}")))
        .map(|p| p.join(file))
        .find(|p| p.exists())
        .and_then(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
}

#[test]
fn resource_flags_reach_the_cgroup() {
    let (_serial, root) = setup();
    let out = root
        .tinibox()
        .args([
            "run",
            "-d",
            "--rm",
            "-m",
            "64m",
            "--memory-swap",
            "128m",
            "--pids-limit",
            "33",
            "--cpus",
            "0.5",
            "--cpu-shares",
            "512",
        ])
        .arg(busybox_rootfs())
        .args(["sleep", "1000"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let id = stdout(&out).trim().to_string();
    let v1 = Path::new("/sys/fs/cgroup/memory").is_dir();
    if v1 {
        assert_eq!(
            container_cgroup_file(&id, "memory", "memory.limit_in_bytes").as_deref(),
            Some("67108864")
        );
        assert_eq!(
            container_cgroup_file(&id, "pids", "pids.max").as_deref(),
            Some("33")
        );
        // memory + swap, where the kernel accounts swap (swapaccount).
        if let Some(memsw) = container_cgroup_file(&id, "memory", "memory.memsw.limit_in_bytes") {
            assert_eq!(memsw, "134217728");
        }
        assert_eq!(
            container_cgroup_file(&id, "cpu", "cpu.cfs_quota_us").as_deref(),
            Some("50000")
        );
        assert_eq!(
            container_cgroup_file(&id, "cpu", "cpu.shares").as_deref(),
            Some("512")
        );
    } else {
        assert_eq!(
            container_cgroup_file(&id, "", "memory.max").as_deref(),
            Some("67108864")
        );
        assert_eq!(
            container_cgroup_file(&id, "", "pids.max").as_deref(),
            Some("33")
        );
        assert_eq!(
            container_cgroup_file(&id, "", "cpu.max").as_deref(),
            Some("50000 100000")
        );
    }
    let rm = root.tinibox().args(["rm", "-f", &id]).output().unwrap();
    assert!(rm.status.success(), "{}", stderr(&rm));
    assert_state_empty(&root);
}

#[test]
fn run_an_imported_image() {
    let (_serial, root) = setup();
    let store = tempfile::tempdir().unwrap();
    let tar = store.path().join("rootfs.tar");
    let ok = Command::new("tar")
        .arg("-C")
        .arg(busybox_rootfs())
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(ok.success());
    let st = store.path().join("store");
    let imp = root
        .tinibox()
        .arg("--store")
        .arg(&st)
        .args(["import"])
        .arg(&tar)
        .arg("bb:test")
        .output()
        .unwrap();
    assert!(imp.status.success(), "{}", stderr(&imp));
    let mounts = mounts_under(&[store.path()]);
    let out = root
        .tinibox()
        .arg("--store")
        .arg(&st)
        .args([
            "run",
            "--rm",
            "-w",
            "/tmp",
            "bb:test",
            "sh",
            "-c",
            "echo hi > f; cat f; pwd",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hi\n/tmp\n");
    assert_eq!(
        mounts_under(&[store.path()]),
        mounts,
        "the image root stays mounted"
    );
    assert!(!busybox_rootfs().join("tmp/f").exists());
    assert_state_empty(&root);
}

#[test]
fn stdin_only_with_interactive() {
    let (_serial, root) = setup();
    let run = |flags: &[&str]| {
        let mut child = root
            .tinibox()
            .arg("run")
            .arg("--rm")
            .args(flags)
            .arg(busybox_rootfs())
            .arg("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        // Without -i tinibox may already have swapped its stdin for /dev/null: a broken pipe
        // here is the expected outcome, not an error.
        let _ = child.stdin.take().unwrap().write_all(b"piped in\n");
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        stdout(&out)
    };
    assert_eq!(run(&["-i"]), "piped in\n");
    assert_eq!(
        run(&[]),
        "",
        "without -i the container's stdin is /dev/null"
    );
}

#[test]
fn logs_follow_until_the_container_exits() {
    let (_serial, root) = setup();
    let out = root
        .tinibox()
        .args(["run", "-d", "--name", "talker"])
        .arg(busybox_rootfs())
        .args([
            "sh",
            "-c",
            "for i in 1 2 3; do echo line$i; sleep 0.2; done; exit 5",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let logs = root
        .tinibox()
        .args(["logs", "-f", "talker"])
        .output()
        .unwrap();
    assert!(logs.status.success(), "{}", stderr(&logs));
    assert_eq!(stdout(&logs), "line1\nline2\nline3\n");
    wait_for_output(&root, &["ps", "-a"], "exit status not recorded", |ps| {
        ps.contains("Exited (5)")
    });
    let rm = root.tinibox().args(["rm", "talker"]).output().unwrap();
    assert!(rm.status.success(), "{}", stderr(&rm));
    assert_state_empty(&root);
}

/// `--privileged` gives the container the host's device nodes (as Docker does); a default
/// container has only the standard ones.
#[test]
fn privileged_container_has_the_hosts_device_nodes() {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let (_serial, root) = setup();
    let mut blocks: Vec<(String, u64)> = std::fs::read_dir("/dev")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let m = std::fs::symlink_metadata(e.path()).ok()?;
            m.file_type()
                .is_block_device()
                .then(|| (e.file_name().to_string_lossy().into_owned(), m.rdev()))
        })
        .collect();
    blocks.sort();
    let (name, rdev) = blocks
        .iter()
        .find(|(n, _)| n == "vda")
        .or_else(|| blocks.first())
        .cloned()
        .expect("the host has no block device in /dev to compare with");
    let want = format!(
        "{:x}:{:x} block special file",
        libc::major(rdev),
        libc::minor(rdev)
    );
    let script = format!("stat -c '%t:%T %F' /dev/{name}");
    let seen = sh(&root, &["--privileged"], &script);
    assert_eq!(seen, want, "/dev/{name} in a privileged container");
    let (code, _, err) = run_in(&root, &[], &["stat", &format!("/dev/{name}")]);
    assert_ne!(code, 0, "/dev/{name} exists in a default container");
    assert!(err.contains("No such file"), "{err}");
    // The container still sets up its own console and ptmx, not the host's.
    assert_eq!(
        sh(&root, &["--privileged"], "readlink /dev/ptmx"),
        "pts/ptmx"
    );
}

/// `--entrypoint` replaces the command's first word: what runs is the entrypoint with the
/// given arguments.
#[test]
fn entrypoint_flag_runs_the_given_program() {
    let (_serial, root) = setup();
    let (code, out, err) = run_in(
        &root,
        &["--entrypoint", "/bin/echo"],
        &["from", "the", "entrypoint"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "from the entrypoint\n");
    // The process is the entrypoint itself (PID 1), with the arguments after it.
    let (code, out, err) = run_in(
        &root,
        &["--entrypoint", "/bin/busybox"],
        &["sh", "-c", "cat /proc/1/cmdline; true"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "/bin/busybox\0sh\0-c\0cat /proc/1/cmdline; true\0");
    assert_state_empty(&root);
}

/// `kill -s SIG NAME` delivers that signal: the container's trap for it runs.
#[test]
fn kill_with_a_signal_reaches_the_container() {
    let (_serial, root) = setup();
    let out = root
        .tinibox()
        .args(["run", "-d", "--name", "sigtarget"])
        .arg(busybox_rootfs())
        .args([
            "sh",
            "-c",
            "trap 'echo got-usr1; exit 9' USR1; echo ready; while :; do sleep 0.1; done",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    wait_for_output(&root, &["logs", "sigtarget"], "not ready", |l| {
        l.contains("ready")
    });
    let kill = root
        .tinibox()
        .args(["kill", "-s", "USR1", "sigtarget"])
        .output()
        .unwrap();
    assert!(kill.status.success(), "{}", stderr(&kill));
    wait_for_output(&root, &["ps", "-a"], "the trap did not end it", |ps| {
        ps.contains("Exited (9)")
    });
    let logs = stdout(&root.tinibox().args(["logs", "sigtarget"]).output().unwrap());
    assert!(logs.contains("got-usr1"), "{logs}");
    let rm = root.tinibox().args(["rm", "sigtarget"]).output().unwrap();
    assert!(rm.status.success(), "{}", stderr(&rm));
    assert_state_empty(&root);
}

/// Issue 15 items 2 and 4: `-u` computes groups and HOME as Docker (>= 20.10.18, after
/// CVE-2022-36109) documents them: the primary gid is always a supplementary group,
/// /etc/group memberships count only when no group was given, and a uid without a passwd
/// entry gets HOME=/. The BusyBox rootfs lists `user` (1000) in `wheel` (10): a file
/// `root:wheel 0640` is readable with `-u user` and refused with `-u user:user`.
#[test]
fn user_flag_sets_groups_and_home_like_docker() {
    let (_guard, root) = setup();
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "wheel only\n").unwrap();
    std::os::unix::fs::chown(&secret, Some(0), Some(10)).unwrap();
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o640)).unwrap();
    std::os::unix::fs::chown(dir.path(), Some(0), Some(0)).unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let volume = format!("{}:/data:ro", dir.path().display());
    let probe = "grep ^Groups: /proc/self/status | cut -f2; echo \"HOME=$HOME\"; \
                 cat /data/secret 2>/dev/null || echo REFUSED";
    let mut seen = Vec::new();
    for user in [
        None,
        Some("user"),
        Some("user:user"),
        Some("1000:1000"),
        Some("4242"),
    ] {
        let mut flags = vec!["-v", volume.as_str()];
        if let Some(u) = user {
            flags.extend(["-u", u]);
        }
        let (code, out, err) = run_in(&root, &flags, &["sh", "-c", probe]);
        assert_eq!(code, 0, "{user:?}: {err}");
        seen.push(out.split_whitespace().collect::<Vec<_>>().join(" "));
    }
    assert_eq!(
        seen,
        [
            "0 HOME=/root wheel only",
            "10 1000 HOME=/home/user wheel only",
            "1000 HOME=/home/user REFUSED",
            "1000 HOME=/home/user REFUSED",
            "0 HOME=/ REFUSED",
        ]
    );
}

/// A `start` that fails (the command does not exist) after `create` keeps the container as
/// Docker does: its name, image and command stay, `ps -a` shows it created or exited (never
/// as a nameless leftover), a later `start` and `start -a` fail the same way, and `rm NAME`
/// removes everything (engine state, front folder, cgroups).
#[test]
fn failed_start_after_create_keeps_the_container() {
    let (_serial, root) = setup();
    let before = container_cgroups();
    let rootfs = busybox_rootfs().to_str().unwrap().to_string();
    let created = root
        .tinibox()
        .args(["create", "--name", "fstart", &rootfs, "/nosuch"])
        .output()
        .unwrap();
    assert!(created.status.success(), "{}", stderr(&created));
    let row = || {
        let o = root
            .tinibox()
            .args([
                "ps",
                "-a",
                "--format",
                "{{.Names}}|{{.Image}}|{{.Command}}|{{.Status}}",
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o).trim().to_string()
    };
    for attach in [false, true, false] {
        let args: &[&str] = if attach {
            &["start", "-a", "fstart"]
        } else {
            &["start", "fstart"]
        };
        let o = root.tinibox().args(args).output().unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("/nosuch") && !err.contains("No such container"),
            "{args:?}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        let ps = row();
        let fields: Vec<&str> = ps.split('|').collect();
        assert_eq!(fields.len(), 4, "one container: {ps}");
        assert_eq!(
            &fields[..3],
            &["fstart", rootfs.as_str(), "\"/nosuch\""],
            "{ps}"
        );
        assert!(
            fields[3].starts_with("Exited (127)") || fields[3] == "Created",
            "{args:?}: status {ps}"
        );
    }
    let rm = root.tinibox().args(["rm", "fstart"]).output().unwrap();
    assert!(rm.status.success(), "rm by name: {}", stderr(&rm));
    assert_eq!(row(), "", "still listed after rm");
    assert_state_empty(&root);
    assert_eq!(container_cgroups(), before, "cgroup left behind");
}
