//! The container engine through its library API (`tinibox::container`), on real BusyBox
//! bundles made from `runc spec`'s default config.json: lifecycle states, isolation, limits,
//! exec failures, clean-up after errors and after a killed creator, hooks and path safety.
//! Needs root, runc (for `runc spec`) and busybox-static; fails with a clear message otherwise.
//!
//! The container's process writes what it sees into /out, a bind mount of a host temp dir.
//! The init is a child of this test process (CLONE_PARENT), so tests `waitpid` it for the exit
//! status. Container operations are serialised (the engine forks; the harness has threads).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use serde_json::{json, Value};
use tinibox::container::{self, ContainerError, CreateOptions, Status};
use tinilinux_tests::{busybox_rootfs, require_root, require_tool};

static SERIAL: Mutex<()> = Mutex::new(());

/// A bundle in a temp dir: config.json from `runc spec`, the shared BusyBox rootfs (read-only),
/// /out bound to a host temp dir, and a private state root.
struct Bundle {
    dir: tempfile::TempDir,
    out: tempfile::TempDir,
    state: tempfile::TempDir,
    config: Value,
    id: String,
}

impl Bundle {
    fn new(name: &str, args: &[&str]) -> Bundle {
        require_root();
        require_tool("runc");
        let dir = tempfile::Builder::new()
            .prefix("tinibox-bundle-")
            .tempdir()
            .unwrap();
        let out = tempfile::Builder::new()
            .prefix("tinibox-out-")
            .tempdir()
            .unwrap();
        let state = tempfile::Builder::new()
            .prefix("tinibox-state-")
            .tempdir()
            .unwrap();
        let st = Command::new("runc")
            .arg("spec")
            .current_dir(dir.path())
            .status()
            .unwrap();
        assert!(st.success(), "runc spec failed");
        let mut config: Value =
            serde_json::from_slice(&fs::read(dir.path().join("config.json")).unwrap()).unwrap();
        config["root"]["path"] = json!(busybox_rootfs());
        config["root"]["readonly"] = json!(true);
        config["process"]["terminal"] = json!(false);
        config["process"]["args"] = json!(args);
        config["hostname"] = json!("engine-test");
        config["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/out", "type": "bind", "source": out.path(), "options": ["rbind", "rw"]
        }));
        let id = format!("core-{name}-{}", std::process::id());
        Bundle {
            dir,
            out,
            state,
            config,
            id,
        }
    }

    fn state_root(&self) -> &Path {
        self.state.path()
    }

    fn options(&self) -> CreateOptions {
        let spec: oci_spec::runtime::Spec = serde_json::from_value(self.config.clone()).unwrap();
        fs::write(self.dir.path().join("config.json"), self.config.to_string()).unwrap();
        CreateOptions::new(
            self.state.path().into(),
            self.id.clone(),
            self.dir.path().into(),
            spec,
        )
    }

    fn create(&self) -> Result<i32, ContainerError> {
        container::create(self.options()).map(|c| c.pid)
    }

    fn status(&self) -> Status {
        container::state(self.state_root(), &self.id)
            .unwrap()
            .status
    }

    fn out(&self, file: &str) -> String {
        fs::read_to_string(self.out.path().join(file)).unwrap_or_default()
    }

    /// Asserts that nothing of the container is left: state dir, cgroup dirs, mounts.
    fn assert_gone(&self) {
        assert!(
            !self.state_root().join(&self.id).exists(),
            "state dir left behind"
        );
        let groups = tinilinux_tests::cgroup_dirs_named(&self.id);
        assert!(groups.is_empty(), "cgroups left behind: {groups:?}");
        let mi = fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(
            !mi.contains(self.dir.path().to_str().unwrap()),
            "mount left behind"
        );
        assert!(
            !mi.contains(self.out.path().to_str().unwrap()),
            "mount left behind"
        );
    }
}

/// A test that fails half-way still removes its container (processes, cgroup, state).
impl Drop for Bundle {
    fn drop(&mut self) {
        if self.state_root().join(&self.id).exists() {
            let _ = container::delete(self.state_root(), &self.id, true);
        }
    }
}

fn wait(pid: i32) -> WaitStatus {
    waitpid(Pid::from_raw(pid), None).unwrap()
}

#[test]
fn created_running_stopped_and_nothing_left() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let b = Bundle::new("life", &["sh", "-c", "read x < /out/go; echo $$ > /out/pid; hostname > /out/host; cat /proc/net/dev > /out/net; ps > /out/ps; true"]);
    // A fifo lets the test see "running" before the process ends.
    nix::unistd::mkfifo(
        &b.out.path().join("go"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let pid = b.create().unwrap();
    assert_eq!(b.status(), Status::Created);
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: PathBuf| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(b.state_root().join(&b.id)), 0o711);
    assert_eq!(mode(b.state_root().join(&b.id).join("state.json")), 0o600);
    let st = container::state(b.state_root(), &b.id).unwrap();
    assert_eq!(st.pid, pid);
    assert_eq!(st.bundle, b.dir.path());
    let json = serde_json::to_value(&st).unwrap();
    for k in [
        "ociVersion",
        "id",
        "pid",
        "status",
        "bundle",
        "rootfs",
        "created",
        "owner",
    ] {
        assert!(json.get(k).is_some(), "state JSON lacks {k}: {json}");
    }
    assert!(matches!(container::start(b.state_root(), &b.id), Ok(())));
    assert_eq!(b.status(), Status::Running);
    // The groups assert_gone looks for are found while the container exists.
    assert!(
        !tinilinux_tests::cgroup_dirs_named(&b.id).is_empty(),
        "the running container's cgroups are not found"
    );
    assert!(matches!(
        container::start(b.state_root(), &b.id),
        Err(ContainerError::WrongState { .. })
    ));
    fs::write(b.out.path().join("go"), "go\n").unwrap();
    assert_eq!(wait(pid), WaitStatus::Exited(Pid::from_raw(pid), 0));
    assert_eq!(b.status(), Status::Stopped);
    assert_eq!(
        b.out("pid").trim(),
        "1",
        "the process is PID 1 of its namespace"
    );
    assert_eq!(b.out("host").trim(), "engine-test");
    let net_text = b.out("net");
    let net: Vec<&str> = net_text
        .lines()
        .skip(2)
        .map(|l| l.split(':').next().unwrap().trim())
        .collect();
    assert_eq!(net, vec!["lo"], "only lo in the new network namespace");
    assert_eq!(
        b.out("ps").lines().filter(|l| !l.contains("PID")).count(),
        2,
        "ps sees sh and ps only:\n{}",
        b.out("ps")
    );
    let list = container::list(b.state_root()).unwrap();
    assert_eq!(list.len(), 1);
    container::delete(b.state_root(), &b.id, false).unwrap();
    b.assert_gone();
    assert!(matches!(
        container::state(b.state_root(), &b.id),
        Err(ContainerError::NotFound(_))
    ));
}

#[test]
fn security_defaults_of_runc_spec_apply() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut b = Bundle::new("sec", &["sh", "-c", "grep -E 'CapEff|CapBnd|NoNewPrivs' /proc/self/status > /out/status; wc -c < /proc/keys > /out/keys 2>&1; (echo 1 > /proc/sys/kernel/ostype) 2>/out/procsys; touch /x 2>/out/rootro; mknod /dev/sdz b 8 0 && head -c 1 /dev/sdz > /dev/null 2>/out/mknod; echo done > /out/done"]);
    b.config["process"]["capabilities"]["bounding"]
        .as_array_mut()
        .unwrap()
        .push(json!("CAP_MKNOD"));
    b.config["process"]["capabilities"]["effective"]
        .as_array_mut()
        .unwrap()
        .push(json!("CAP_MKNOD"));
    b.config["process"]["capabilities"]["permitted"]
        .as_array_mut()
        .unwrap()
        .push(json!("CAP_MKNOD"));
    let pid = b.create().unwrap();
    container::start(b.state_root(), &b.id).unwrap();
    wait(pid);
    assert_eq!(b.out("done").trim(), "done");
    let status = b.out("status");
    // runc spec: AUDIT_WRITE(29), KILL(5), NET_BIND_SERVICE(10) + MKNOD(27) added above.
    assert!(status.contains("CapEff:\t0000000028000420"), "{status}");
    assert!(status.contains("CapBnd:\t0000000028000420"), "{status}");
    assert!(status.contains("NoNewPrivs:\t1"), "{status}");
    assert_eq!(b.out("keys").trim(), "0", "masked /proc/keys reads empty");
    assert!(
        b.out("procsys").contains("Read-only file system"),
        "{}",
        b.out("procsys")
    );
    assert!(
        b.out("rootro").contains("Read-only file system"),
        "{}",
        b.out("rootro")
    );
    assert!(
        b.out("mknod").contains("Operation not permitted"),
        "block device opened: {:?}",
        b.out("mknod")
    );
    container::delete(b.state_root(), &b.id, false).unwrap();
    b.assert_gone();
}

#[test]
fn memory_limit_kills_only_the_container() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut b = Bundle::new("mem", &["tail", "/dev/zero"]);
    b.config["linux"]["resources"]["memory"] =
        json!({"limit": 16 * 1024 * 1024, "swap": 16 * 1024 * 1024});
    let pid = b.create().unwrap();
    container::start(b.state_root(), &b.id).unwrap();
    assert_eq!(
        wait(pid),
        WaitStatus::Signaled(Pid::from_raw(pid), Signal::SIGKILL, false),
        "the OOM killer ended the hog"
    );
    assert_eq!(b.status(), Status::Stopped);
    container::delete(b.state_root(), &b.id, false).unwrap();
    b.assert_gone();
}

#[test]
fn pids_limit_stops_a_fork_bomb() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut b = Bundle::new("pids", &["sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 2 & done 2>/out/err; echo $(jobs -p | wc -l) > /out/n"]);
    b.config["linux"]["resources"]["pids"] = json!({"limit": 5});
    let pid = b.create().unwrap();
    container::start(b.state_root(), &b.id).unwrap();
    wait(pid);
    assert!(
        b.out("err").contains("fork"),
        "no fork failure reported: {:?}",
        b.out("err")
    );
    container::delete(b.state_root(), &b.id, true).unwrap();
    b.assert_gone();
}

#[test]
fn exec_failures_are_typed_and_leave_nothing() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let b = Bundle::new("nf", &["no-such-command"]);
    let e = b.create().unwrap_err();
    assert_eq!(e.exec_exit_code(), Some(127), "{e}");
    b.assert_gone();
    let b = Bundle::new("nx", &["/etc"]);
    let e = b.create().unwrap_err();
    assert_eq!(e.exec_exit_code(), Some(126), "{e}");
    b.assert_gone();
}

#[test]
fn bad_configs_fail_clearly_and_leave_nothing() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut b = Bundle::new("badmnt", &["true"]);
    b.config["mounts"].as_array_mut().unwrap().push(json!({"destination": "/data", "type": "bind", "source": "/nonexistent/src", "options": ["rbind"]}));
    let e = b.create().unwrap_err();
    assert!(e.to_string().contains("/nonexistent/src"), "{e}");
    b.assert_gone();
    let mut b = Bundle::new("noroot", &["true"]);
    b.config["root"]["path"] = json!("/nonexistent/rootfs");
    let e = b.create().unwrap_err();
    assert!(e.to_string().contains("root.path"), "{e}");
    b.assert_gone();
    // The resource rules are checked before anything is made (spec::resources::validate).
    let mut b = Bundle::new("badswap", &["true"]);
    b.config["linux"]["resources"]["memory"] =
        json!({"limit": 64 * 1024 * 1024, "swap": 32 * 1024 * 1024});
    let e = b.create().unwrap_err();
    assert!(e.to_string().contains("memory.swap"), "{e}");
    b.assert_gone();
    let b = Bundle::new("dup", &["true"]);
    let pid = b.create().unwrap();
    assert!(matches!(b.create(), Err(ContainerError::AlreadyExists(_))));
    assert!(matches!(
        container::create(CreateOptions {
            id: "../x".into(),
            ..b.options()
        }),
        Err(ContainerError::InvalidId(_))
    ));
    // delete of a created container kills its init.
    container::delete(b.state_root(), &b.id, false).unwrap();
    assert!(matches!(
        wait(pid),
        WaitStatus::Signaled(_, Signal::SIGKILL, _)
    ));
    b.assert_gone();
}

#[test]
fn kill_and_forced_delete_of_a_running_container() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let b = Bundle::new("kill", &["sleep", "100"]);
    let pid = b.create().unwrap();
    container::start(b.state_root(), &b.id).unwrap();
    assert!(matches!(
        container::delete(b.state_root(), &b.id, false),
        Err(ContainerError::WrongState { .. })
    ));
    container::pause(b.state_root(), &b.id).unwrap();
    assert_eq!(b.status(), Status::Paused);
    container::resume(b.state_root(), &b.id).unwrap();
    assert_eq!(b.status(), Status::Running);
    container::kill(b.state_root(), &b.id, Signal::SIGKILL, false).unwrap();
    assert!(matches!(
        wait(pid),
        WaitStatus::Signaled(_, Signal::SIGKILL, _)
    ));
    assert_eq!(b.status(), Status::Stopped);
    container::delete(b.state_root(), &b.id, false).unwrap();
    b.assert_gone();

    let b = Bundle::new("force", &["sleep", "100"]);
    let pid = b.create().unwrap();
    container::start(b.state_root(), &b.id).unwrap();
    container::delete(b.state_root(), &b.id, true).unwrap();
    assert!(matches!(
        wait(pid),
        WaitStatus::Signaled(_, Signal::SIGKILL, _)
    ));
    b.assert_gone();
}

#[test]
fn delete_cleans_up_after_the_creator_was_killed() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let b = Bundle::new("orphan", &["sleep", "100"]);
    let opts = b.options();
    // A separate process creates the container and is SIGKILLed right after: the init is
    // adopted elsewhere and only the state dir knows about it.
    // SAFETY: the child only calls the engine and then blocks.
    match unsafe { nix::unistd::fork() }.unwrap() {
        nix::unistd::ForkResult::Child => {
            let code = match container::create(opts) {
                Ok(_) => 0,
                Err(_) => 1,
            };
            let _ = nix::unistd::write(std::io::stdout(), b"");
            std::thread::sleep(std::time::Duration::from_secs(100));
            unsafe { libc::_exit(code) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            // Wait until the container is created, then kill the creator.
            let created = || {
                container::state(b.state_root(), &b.id)
                    .map(|s| s.status == Status::Created)
                    .unwrap_or(false)
            };
            for _ in 0..500 {
                if created() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            assert!(created(), "create did not finish");
            nix::sys::signal::kill(child, Signal::SIGKILL).unwrap();
            waitpid(child, None).unwrap();
        }
    }
    let st = container::state(b.state_root(), &b.id).unwrap();
    assert_eq!(st.status, Status::Created);
    let init = st.pid;
    assert!(
        Path::new(&format!("/proc/{init}")).exists(),
        "the init runs before delete"
    );
    container::delete(b.state_root(), &b.id, true).unwrap();
    // The init is gone: no /proc entry, or a zombie waiting for its parent to reap it (when
    // that is this test process, its status says SIGKILL). A /proc entry that cannot be read
    // is a failure, not a pass.
    match tinibox::container::state::proc_stat(init) {
        Some((state, _)) => {
            assert_eq!(state, 'Z', "the init still runs after delete --force");
            let reaped = waitpid(Pid::from_raw(init), None);
            assert!(
                matches!(
                    reaped,
                    Ok(WaitStatus::Signaled(_, Signal::SIGKILL, _))
                        | Err(nix::errno::Errno::ECHILD)
                ),
                "the init's end: {reaped:?}"
            );
        }
        None => assert!(
            !Path::new(&format!("/proc/{init}")).exists(),
            "cannot read /proc/{init}/stat"
        ),
    }
    b.assert_gone();
}

#[test]
fn hooks_see_the_state_on_stdin() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut b = Bundle::new("hooks", &["true"]);
    let log = b.out.path().join("hooks.log");
    let hook = |name: &str| json!([{"path": "/bin/sh", "args": ["sh", "-c", format!("echo {name} $(cat) >> {}", log.display())]}]);
    b.config["hooks"] = json!({"prestart": hook("prestart"), "createRuntime": hook("createRuntime"), "poststart": hook("poststart"), "poststop": hook("poststop")});
    let pid = b.create().unwrap();
    container::start(b.state_root(), &b.id).unwrap();
    wait(pid);
    container::delete(b.state_root(), &b.id, false).unwrap();
    let text = fs::read_to_string(&log).unwrap();
    let names: Vec<&str> = text.lines().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(
        names,
        ["prestart", "createRuntime", "poststart", "poststop"],
        "{text}"
    );
    assert!(
        text.lines()
            .all(|l| l.contains(&format!("\"id\":\"{}\"", b.id))),
        "{text}"
    );
    b.assert_gone();
}

#[test]
fn mount_destinations_cannot_escape_the_rootfs() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let rootfs = tinilinux_tests::writable_rootfs();
    let victim = tempfile::Builder::new()
        .prefix("tinibox-victim-")
        .tempdir()
        .unwrap();
    // /evil in the rootfs points at a host directory; the mount must land inside the rootfs.
    std::os::unix::fs::symlink(victim.path(), rootfs.path().join("evil")).unwrap();
    let mut b = Bundle::new("escape", &["true"]);
    b.config["root"]["path"] = json!(rootfs.path());
    b.config["root"]["readonly"] = json!(false);
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/evil/sub", "type": "tmpfs", "source": "tmpfs"}));
    let pid = b.create().unwrap();
    container::start(b.state_root(), &b.id).unwrap();
    wait(pid);
    container::delete(b.state_root(), &b.id, false).unwrap();
    assert!(
        !victim.path().join("sub").exists(),
        "a directory was created on the host through the symlink"
    );
    let inside: PathBuf = rootfs
        .path()
        .join(victim.path().strip_prefix("/").unwrap())
        .join("sub");
    assert!(
        inside.is_dir(),
        "the mount point was made inside the rootfs at {}",
        inside.display()
    );
    b.assert_gone();
}

/// Receives one fd sent with SCM_RIGHTS on `sock`.
fn recv_fd(sock: i32) -> std::os::fd::OwnedFd {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::FromRawFd;
    let mut buf = [0u8; 256];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([i32; 1]);
    let msg = recvmsg::<()>(sock, &mut iov, Some(&mut space), MsgFlags::empty()).unwrap();
    for c in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY: the kernel gave us this fd.
            return unsafe { std::os::fd::OwnedFd::from_raw_fd(fds[0]) };
        }
    }
    panic!("no fd received on the console socket");
}

#[test]
fn terminal_master_goes_over_the_console_socket() {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut b = Bundle::new(
        "tty",
        &["sh", "-c", "tty; stty size; test -t 0 && echo stdin-is-tty"],
    );
    b.config["process"]["terminal"] = json!(true);
    b.config["process"]["consoleSize"] = json!({"height": 40, "width": 100});
    let sockdir = tempfile::tempdir().unwrap();
    let sock_path = sockdir.path().join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock_path).unwrap();
    let mut opts = b.options();
    opts.console_socket = Some(sock_path.clone());
    let pid = container::create(opts).unwrap();
    let pid = pid.pid;
    let (conn, _) = listener.accept().unwrap();
    let master = recv_fd(conn.as_raw_fd());
    container::start(b.state_root(), &b.id).unwrap();
    let mut out = String::new();
    let mut f = fs::File::from(master);
    let mut buf = [0u8; 4096];
    // The pty returns EIO once the slave side is closed by the exiting process.
    while let Ok(n) = f.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    wait(pid);
    assert!(out.contains("/dev/pts/0"), "{out:?}");
    assert!(out.contains("40 100"), "{out:?}");
    assert!(out.contains("stdin-is-tty"), "{out:?}");
    container::delete(b.state_root(), &b.id, false).unwrap();
    b.assert_gone();
    // terminal without a socket is refused up front.
    let b2 = Bundle::new("tty2", &["true"]);
    let mut opts = b2.options();
    opts.spec
        .process_mut()
        .as_mut()
        .unwrap()
        .set_terminal(Some(true));
    assert!(matches!(
        container::create(opts),
        Err(ContainerError::Spec(_))
    ));
    b2.assert_gone();
}

#[test]
fn user_namespace_with_id_maps() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut b = Bundle::new(
        "userns",
        &[
            "sh",
            "-c",
            "cat /proc/self/uid_map > /out/uidmap; id -u > /out/uid; echo ok > /out/done",
        ],
    );
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    // The container's root is host uid 100000: let it write /out.
    fs::set_permissions(
        b.out.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let pid = b.create().unwrap();
    // The init runs as host uid 100000.
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("Uid:") && l.contains("100000")),
        "{status}"
    );
    container::start(b.state_root(), &b.id).unwrap();
    assert_eq!(wait(pid), WaitStatus::Exited(Pid::from_raw(pid), 0));
    assert_eq!(b.out("done").trim(), "ok");
    assert_eq!(b.out("uid").trim(), "0");
    let map: Vec<String> = b
        .out("uidmap")
        .split_whitespace()
        .map(String::from)
        .collect();
    assert_eq!(map, ["0", "100000", "65536"]);
    container::delete(b.state_root(), &b.id, false).unwrap();
    b.assert_gone();
}

#[test]
fn joins_a_network_namespace_by_path() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // The first container owns a network namespace with a dummy-free "lo" that we bring up;
    // the second joins it by path and sees the same namespace inode.
    let a = Bundle::new("netns-a", &["sleep", "100"]);
    let a_pid = a.create().unwrap();
    container::start(a.state_root(), &a.id).unwrap();
    let path = format!("/proc/{a_pid}/ns/net");
    let want = fs::read_link(&path).unwrap();
    let mut b = Bundle::new(
        "netns-b",
        &["sh", "-c", "readlink /proc/self/ns/net > /out/ns"],
    );
    for ns in b.config["linux"]["namespaces"].as_array_mut().unwrap() {
        if ns["type"] == "network" {
            ns["path"] = json!(path);
        }
    }
    let b_pid = b.create().unwrap();
    container::start(b.state_root(), &b.id).unwrap();
    wait(b_pid);
    assert_eq!(b.out("ns").trim(), want.to_str().unwrap());
    container::delete(b.state_root(), &b.id, false).unwrap();
    container::delete(a.state_root(), &a.id, true).unwrap();
    wait(a_pid);
    a.assert_gone();
    b.assert_gone();
}

#[test]
fn init_annotation_runs_a_reaper_as_pid_1() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut b = Bundle::new(
        "reaper",
        &[
            "sh",
            "-c",
            "echo $$ > /out/pid; cat /proc/1/cmdline > /out/one; \
             cut -d' ' -f4 /proc/$$/stat > /out/ppid; exit 42",
        ],
    );
    b.config["annotations"] = json!({"org.tinibox.init": "true"});
    let pid = b.create().unwrap();
    container::start(b.state_root(), &b.id).unwrap();
    assert_eq!(
        wait(pid),
        WaitStatus::Exited(Pid::from_raw(pid), 42),
        "the reaper exits with the process's status"
    );
    assert_ne!(b.out("pid").trim(), "1", "the process is not PID 1");
    assert!(!b.out("pid").trim().is_empty());
    // PID 1 is another program (the reaper), and it is the process's parent.
    let one = b.out("one");
    assert!(!one.is_empty(), "PID 1's command line was not read");
    assert!(
        !one.starts_with("sh\0"),
        "PID 1 is the container's command: {one:?}"
    );
    assert_eq!(b.out("ppid").trim(), "1", "the process's parent is PID 1");
    container::delete(b.state_root(), &b.id, false).unwrap();
    b.assert_gone();
}

#[test]
fn user_groups_env_and_cwd() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut b = Bundle::new("user", &["sh", "-c", "id > /out/id; grep '^Groups:' /proc/self/status > /out/groups; pwd > /out/pwd; echo $GREETING > /out/env; ls /proc/self/fd | wc -l > /out/fds"]);
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [10, 20]});
    b.config["process"]["cwd"] = json!("/out");
    b.config["process"]["env"]
        .as_array_mut()
        .unwrap()
        .push(json!("GREETING=hello-env"));
    fs::set_permissions(
        b.out.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let pid = b.create().unwrap();
    container::start(b.state_root(), &b.id).unwrap();
    assert_eq!(wait(pid), WaitStatus::Exited(Pid::from_raw(pid), 0));
    let id = b.out("id");
    assert!(id.starts_with("uid=1000"), "{id}");
    assert!(id.contains("gid=1000"), "{id}");
    // The kernel's list of supplementary groups is exactly additionalGids (the rootfs's
    // /etc/group, which also puts `user` in group 10, plays no part).
    let groups = b.out("groups");
    let groups: Vec<&str> = groups
        .trim()
        .strip_prefix("Groups:")
        .unwrap_or_else(|| panic!("no Groups line: {groups:?}"))
        .split_whitespace()
        .collect();
    assert_eq!(groups, ["10", "20"], "supplementary groups ({id})");
    assert_eq!(b.out("pwd").trim(), "/out");
    assert_eq!(b.out("env").trim(), "hello-env");
    // 0, 1, 2 and the fd `ls` opens on /proc/self/fd: nothing leaked from tinibox.
    assert_eq!(b.out("fds").trim(), "4", "leaked fds into the container");
    container::delete(b.state_root(), &b.id, false).unwrap();
    b.assert_gone();
    // A cwd that does not exist is an error at create, and nothing is left.
    let mut b = Bundle::new("badcwd", &["true"]);
    b.config["process"]["cwd"] = json!("/does/not/exist");
    let e = b.create().unwrap_err();
    assert!(e.to_string().contains("process.cwd"), "{e}");
    b.assert_gone();
}

#[test]
fn delete_cleans_up_after_the_creator_died_mid_create() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut b = Bundle::new("midcreate", &["true"]);
    // A prestart hook holds `create` in the middle (namespaces made, cgroup joined).
    let hook_pid = b.out.path().join("hook.pid");
    b.config["hooks"] = json!({"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", format!("echo $$ > {}; exec sleep 100", hook_pid.display())]}]});
    let opts = b.options();
    // SAFETY: the child only calls the engine.
    match unsafe { nix::unistd::fork() }.unwrap() {
        nix::unistd::ForkResult::Child => {
            let code = i32::from(container::create(opts).is_err());
            unsafe { libc::_exit(code) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            for _ in 0..500 {
                if !b.out("hook.pid").trim().is_empty() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            let hp: i32 = b
                .out("hook.pid")
                .trim()
                .parse()
                .expect("the hook did not start");
            nix::sys::signal::kill(child, Signal::SIGKILL).unwrap();
            waitpid(child, None).unwrap();
            let _ = nix::sys::signal::kill(Pid::from_raw(hp), Signal::SIGKILL);
        }
    }
    // The half-made container is visible and deletable.
    assert_eq!(b.status(), Status::Stopped);
    container::delete(b.state_root(), &b.id, true).unwrap();
    b.assert_gone();
}

#[test]
fn sysctl_rlimits_oom_score_and_seccomp_apply_without_pivot() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut b = Bundle::new("settings", &["sh", "-c", "cat /proc/sys/net/ipv4/ip_forward > /out/fwd; ulimit -n > /out/nofile; cat /proc/self/oom_score_adj > /out/oom; grep Seccomp: /proc/self/status > /out/seccomp; mkdir /out/blocked 2> /out/mkdir; echo done > /out/done"]);
    b.config["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    b.config["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": 321, "soft": 123}]);
    b.config["process"]["oomScoreAdj"] = json!(456);
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
    });
    let mut opts = b.options();
    opts.no_pivot = true;
    let pid = container::create(opts).unwrap().pid;
    container::start(b.state_root(), &b.id).unwrap();
    assert_eq!(wait(pid), WaitStatus::Exited(Pid::from_raw(pid), 0));
    assert_eq!(b.out("done").trim(), "done");
    assert_eq!(b.out("fwd").trim(), "1");
    assert_eq!(b.out("nofile").trim(), "123");
    assert_eq!(b.out("oom").trim(), "456");
    assert!(b.out("seccomp").contains('2'), "{}", b.out("seccomp"));
    assert!(
        b.out("mkdir").contains("Operation not permitted"),
        "{:?}",
        b.out("mkdir")
    );
    assert!(!b.out.path().join("blocked").exists());
    container::delete(b.state_root(), &b.id, false).unwrap();
    b.assert_gone();
}

#[test]
fn update_changes_limits_and_pids_lists_processes() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut b = Bundle::new("update", &["sh", "-c", "sleep 100 & wait"]);
    b.config["linux"]["resources"]["memory"] = json!({"limit": 64 * 1024 * 1024});
    b.config["linux"]["resources"]["pids"] = json!({"limit": 20});
    let pid = b.create().unwrap();
    container::start(b.state_root(), &b.id).unwrap();
    let rec = container::record(b.state_root(), &b.id).unwrap();
    // The limits as the kernel shows them in the init's own groups (found from
    // /proc/PID/cgroup, not from tinibox's record).
    let kernel_file = |ctl: &str, v1: &str, v2: &str| {
        let p = tinilinux_tests::cgroup_file(pid, ctl, v1)
            .unwrap_or_else(|| panic!("the init's {ctl} group is not found"));
        if p.exists() {
            p
        } else {
            p.with_file_name(v2)
        }
    };
    let limit_file = kernel_file("memory", "memory.limit_in_bytes", "memory.max");
    let pids_file = kernel_file("pids", "pids.max", "pids.max");
    let read = |p: &Path| fs::read_to_string(p).unwrap().trim().to_string();
    assert_eq!(read(&limit_file), (64 * 1024 * 1024).to_string());
    assert_eq!(read(&pids_file), "20");
    let res: oci_spec::runtime::LinuxResources = serde_json::from_value(
        json!({"memory": {"limit": 32 * 1024 * 1024}, "pids": {"limit": 10}}),
    )
    .unwrap();
    container::update(b.state_root(), &b.id, &res).unwrap();
    assert_eq!(read(&limit_file), (32 * 1024 * 1024).to_string());
    assert_eq!(read(&pids_file), "10");
    // An update that breaks the swap rule is refused and changes nothing.
    let bad: oci_spec::runtime::LinuxResources = serde_json::from_value(
        json!({"memory": {"limit": 48 * 1024 * 1024, "swap": 16 * 1024 * 1024}}),
    )
    .unwrap();
    let e = container::update(b.state_root(), &b.id, &bad).unwrap_err();
    assert!(e.to_string().contains("memory.swap"), "{e}");
    assert_eq!(read(&limit_file), (32 * 1024 * 1024).to_string());
    // sh and sleep, both in the container's cgroup; the init first.
    let mut pids = Vec::new();
    for _ in 0..100 {
        pids = container::pids(b.state_root(), &b.id).unwrap();
        if pids.len() == 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(pids.len(), 2, "{pids:?}");
    assert!(pids.contains(&pid));
    let stats = rec.cgroup.stats();
    assert_eq!(stats.pids_current, Some(2));
    assert_eq!(read(&pids_file.with_file_name("pids.current")), "2");
    assert!(stats.memory_usage.unwrap_or(0) > 0);
    container::kill(b.state_root(), &b.id, Signal::SIGKILL, true).unwrap();
    assert!(matches!(
        wait(pid),
        WaitStatus::Signaled(_, Signal::SIGKILL, _)
    ));
    container::delete(b.state_root(), &b.id, false).unwrap();
    b.assert_gone();
}

#[test]
fn the_container_sees_only_its_own_cgroup() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for private_ns in [true, false] {
        let name = if private_ns { "cgns" } else { "nocgns" };
        let mut b = Bundle::new(name, &["sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max > /out/limit 2>/dev/null; ls /sys/fs/cgroup/memory /sys/fs/cgroup > /out/ls 2>/dev/null; true"]);
        b.config["linux"]["resources"]["memory"] = json!({"limit": 48 * 1024 * 1024});
        // `runc spec` has no cgroup namespace: add one for the private case.
        if private_ns {
            b.config["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "cgroup"}));
        }
        let pid = b.create().unwrap();
        container::start(b.state_root(), &b.id).unwrap();
        wait(pid);
        assert_eq!(
            b.out("limit").trim(),
            (48 * 1024 * 1024).to_string(),
            "{name}"
        );
        assert!(
            !b.out("ls").contains("tinibox"),
            "{name}: the host's tree is visible:\n{}",
            b.out("ls")
        );
        container::delete(b.state_root(), &b.id, false).unwrap();
        b.assert_gone();
    }
}

#[test]
fn the_process_starts_with_default_signal_dispositions() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // This test process (Rust) ignores SIGPIPE; block SIGTERM too, to see that neither leaks.
    let mut set = nix::sys::signal::SigSet::empty();
    set.add(Signal::SIGTERM);
    set.thread_block().unwrap();
    let b = Bundle::new(
        "signals",
        &[
            "sh",
            "-c",
            "grep -E 'Sig(Ign|Blk)' /proc/self/status > /out/sig",
        ],
    );
    let pid = b.create().unwrap();
    set.thread_unblock().unwrap();
    container::start(b.state_root(), &b.id).unwrap();
    wait(pid);
    let sig = b.out("sig");
    assert!(sig.contains("SigBlk:\t0000000000000000"), "{sig}");
    // BusyBox's sh itself ignores SIGQUIT (0x4) for the commands it starts; nothing else.
    assert!(sig.contains("SigIgn:\t0000000000000004"), "{sig}");
    container::delete(b.state_root(), &b.id, false).unwrap();
    b.assert_gone();
}

#[test]
fn cgroup_v2_path_end_to_end_on_a_private_cgroup2_mount() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // This host is hybrid: its cgroup2 hierarchy (no controllers) is mounted over
    // /sys/fs/cgroup in a private mount namespace of a forked child, so the engine takes its
    // v2 path for real: one directory, the eBPF device filter, cgroup namespace, freeze, delete.
    let mut b = Bundle::new(
        "v2",
        &[
            "sh",
            "-c",
            "cat /proc/self/cgroup > /out/cg; head -c1 /dev/null && echo ok > /out/null; \
             mknod /dev/blk b 7 0 && (head -c1 /dev/blk) 2> /out/blk; read x < /out/go; \
             echo after > /out/after",
        ],
    );
    for set in ["bounding", "effective", "permitted"] {
        b.config["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_MKNOD"));
    }
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "cgroup"}));
    nix::unistd::mkfifo(
        &b.out.path().join("go"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let opts = b.options();
    let go = b.out.path().join("go");
    let after = b.out.path().join("after");
    let (state_root, id) = (b.state_root().to_path_buf(), b.id.clone());
    // SAFETY: the child runs the engine and exits with a code saying which step failed.
    match unsafe { nix::unistd::fork() }.unwrap() {
        nix::unistd::ForkResult::Child => {
            let step = (|| -> Result<(), i32> {
                use nix::mount::{mount, MsFlags};
                use std::io::Write;
                nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).map_err(|_| 10)?;
                mount(
                    None::<&str>,
                    "/",
                    None::<&str>,
                    MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                    None::<&str>,
                )
                .map_err(|_| 11)?;
                mount(
                    Some("cgroup2"),
                    "/sys/fs/cgroup",
                    Some("cgroup2"),
                    MsFlags::empty(),
                    None::<&str>,
                )
                .map_err(|_| 12)?;
                if tinibox::cgroups::detect() != tinibox::cgroups::Layout::V2 {
                    return Err(13);
                }
                let pid = container::create(opts).map_err(|_| 14)?.pid;
                if !Path::new(&format!("/sys/fs/cgroup/tinibox/{id}")).is_dir() {
                    return Err(15);
                }
                container::start(&state_root, &id).map_err(|_| 16)?;
                container::pause(&state_root, &id).map_err(|_| 17)?;
                if container::state(&state_root, &id).map_err(|_| 18)?.status != Status::Paused {
                    return Err(19);
                }
                // The kernel's answer: the group is frozen (not only cgroup.freeze written).
                let events = format!("/sys/fs/cgroup/tinibox/{id}/cgroup.events");
                let frozen = || {
                    fs::read_to_string(&events)
                        .map(|e| e.lines().any(|l| l == "frozen 1"))
                        .unwrap_or(false)
                };
                if !frozen() {
                    return Err(24);
                }
                // And the process does not run: "go" waits in the fifo (opened read-write, so
                // neither side blocks) and the shell does not take it while frozen.
                let fifo = fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&go)
                    .map_err(|_| 25)?;
                (&fifo).write_all(b"go\n").map_err(|_| 21)?;
                std::thread::sleep(std::time::Duration::from_millis(300));
                if after.exists() || !frozen() {
                    return Err(26);
                }
                container::resume(&state_root, &id).map_err(|_| 20)?;
                if frozen() {
                    return Err(27);
                }
                waitpid(Pid::from_raw(pid), None).map_err(|_| 22)?;
                drop(fifo);
                if !after.exists() {
                    return Err(28);
                }
                container::delete(&state_root, &id, false).map_err(|_| 23)?;
                Ok(())
            })();
            unsafe { libc::_exit(step.err().unwrap_or(0)) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            let st = waitpid(child, None).unwrap();
            assert_eq!(
                st,
                WaitStatus::Exited(child, 0),
                "the v2 run failed at step (exit code)"
            );
        }
    }
    // Hybrid host: v1 lines too; the unified line is the container's namespace root.
    assert_eq!(
        b.out("cg").lines().find(|l| l.starts_with("0::")),
        Some("0::/"),
        "the cgroup namespace is rooted at the container's group"
    );
    assert_eq!(b.out("null").trim(), "ok");
    assert!(
        b.out("blk").contains("Operation not permitted"),
        "eBPF filter: {:?}",
        b.out("blk")
    );
    b.assert_gone();
}
