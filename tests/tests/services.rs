//! `tinibox service up|down|ls` on the host (issue 21), with real containers from the BusyBox
//! rootfs in a private state root and a private services folder: a service starts, shows in
//! `ls`, keeps its log across a stop and a start, stops with its stop signal, is replaced when
//! its file changes, and bad files, names and flags give one line and their exit status; at
//! "boot" (`up --boot` after `down --all`) containers with `--restart always` or
//! `unless-stopped` come back, but not one the user stopped, and `on-failure` ones that
//! were running at shutdown. The same at a real boot:
//! `services_boot.rs`.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use tinilinux_tests::{busybox_rootfs, require_root, run, stderr, stdout, StateRoot};

/// A private services folder and state root.
struct Env {
    root: StateRoot,
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        require_root();
        Env {
            root: StateRoot::new(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn write(&self, name: &str, json: &str) {
        std::fs::write(self.dir.path().join(name), json).unwrap();
    }

    fn tinibox(&self, args: &[&str]) -> Output {
        let mut c = self.root.tinibox();
        c.env("TINIBOX_SERVICES", self.dir.path()).args(args);
        run(&mut c)
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.tinibox(args);
        assert!(
            o.status.success(),
            "tinibox {args:?}: {}{}",
            stdout(&o),
            stderr(&o)
        );
        stdout(&o)
    }

    /// Waits until `tinibox logs NAME` holds `text` `times` times.
    fn wait_log(&self, name: &str, text: &str, times: usize) -> String {
        let t = Instant::now();
        loop {
            let logs = stdout(&self.tinibox(&["logs", name]));
            if logs.matches(text).count() >= times {
                return logs;
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "{name}'s log never had {text:?} {times} times: {logs}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn status(&self, name: &str) -> String {
        self.ok(&["inspect", "-f", "{{.State.Status}}", name])
            .trim()
            .to_string()
    }
}

/// A service file for the BusyBox rootfs running `script` with sh.
fn service(rootfs: &Path, script: &str, extra: &str) -> String {
    format!(
        r#"{{"image": {}, "command": ["sh", "-c", {}], "stop_timeout": 5{extra}}}"#,
        serde_json::to_string(&rootfs.display().to_string()).unwrap(),
        serde_json::to_string(script).unwrap()
    )
}

const TICKER: &str = "echo started; trap 'echo got TERM; exit 3' TERM; while :; do sleep 0.2; done";

#[test]
fn services_start_stop_keep_their_logs_and_follow_their_files() {
    let env = Env::new();
    let rootfs = busybox_rootfs();
    env.write("tick.json", &service(rootfs, TICKER, ""));
    let up = env.ok(&["service", "up"]);
    assert!(up.starts_with("tick: started: "), "{up}");
    env.wait_log("tick", "started", 1);
    let ls = env.ok(&["service", "ls"]);
    let row = ls
        .lines()
        .find(|l| l.starts_with("tick "))
        .unwrap_or_default();
    assert!(row.ends_with(" up"), "{ls}");
    assert_eq!(env.ok(&["service", "up"]), "tick: already up\n");
    let labels = env.ok(&[
        "inspect",
        "-f",
        "{{index .Config.Labels \"org.tinilinux.service\"}}",
        "tick",
    ]);
    assert_eq!(labels.trim(), "tick");

    // Stopped with its stop signal: the trap ran and its status is the container's.
    assert_eq!(env.ok(&["service", "down"]), "tick: stopped (exit 3)\n");
    assert!(env.wait_log("tick", "got TERM", 1).contains("got TERM"));
    assert_eq!(env.status("tick"), "exited");
    let id = env.ok(&["inspect", "-f", "{{.Id}}", "tick"]);

    // Started again: the same container, its log kept.
    assert_eq!(env.ok(&["service", "up", "tick"]), "tick: started\n");
    env.wait_log("tick", "started", 2);
    assert_eq!(env.ok(&["inspect", "-f", "{{.Id}}", "tick"]), id);

    // A changed file replaces the container. With `init` the reaper is PID 1: it must not
    // hold the pipe `run -d`'s monitor reports on (`up` would wait forever), and it passes
    // the stop signal on.
    env.write(
        "tick.json",
        &service(rootfs, TICKER, r#", "env": ["V=2"], "init": true"#),
    );
    let up = env.ok(&["service", "up"]);
    assert!(up.starts_with("tick: started anew"), "{up}");
    assert_ne!(env.ok(&["inspect", "-f", "{{.Id}}", "tick"]), id);
    let env_line = env.ok(&["inspect", "-f", "{{json .Config.Env}}", "tick"]);
    assert!(env_line.contains("V=2"), "{env_line}");
    env.wait_log("tick", "started", 1);
    assert_eq!(env.ok(&["service", "down"]), "tick: stopped (exit 3)\n");
}

#[test]
fn bad_service_files_and_names_are_one_line_each() {
    let env = Env::new();
    let rootfs = busybox_rootfs();
    env.write("good.json", &service(rootfs, TICKER, ""));
    env.write("bad.json", r#"{"image": "x", "volumes": ["/a:/b"]}"#);
    env.write("noimage.json", r#"{"image": "/no/such/rootfs-dir"}"#);
    env.write("list.json", "[]");
    std::os::unix::fs::symlink("/no/such/file.json", env.dir.path().join("dangling.json")).unwrap();
    let o = env.tinibox(&["service", "up"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.lines()
            .any(|l| l.contains("bad.json") && l.contains("unknown field `volumes`")),
        "{err}"
    );
    assert!(
        err.lines()
            .any(|l| l.starts_with("tinibox: service noimage: ") && l.contains("/no/such")),
        "{err}"
    );
    // A file that is a JSON array, and a link to nothing: named, not skipped.
    for (file, why) in [
        ("list.json", "not a JSON object"),
        ("dangling.json", "No such file"),
    ] {
        assert!(
            err.lines().any(|l| l.contains(file) && l.contains(why)),
            "{file}: {err}"
        );
    }
    // The good one still started, the failed one left nothing.
    assert!(stdout(&o).contains("good: started"), "{}", stdout(&o));
    assert!(env.tinibox(&["inspect", "noimage"]).status.code() == Some(1));

    let o = env.tinibox(&["service", "up", "missing"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("no file missing.json"),
        "{}",
        stderr(&o)
    );
    let o = env.tinibox(&["service", "down", "missing"]);
    assert_eq!(o.status.code(), Some(1));
    // A folder given that does not exist is named (the default one may be absent).
    for args in [&["up"][..], &["ls"]] {
        let o = run(env
            .root
            .tinibox()
            .args(["service", "--dir", "/no/such/services"])
            .args(args));
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert_eq!(
            stderr(&o).trim(),
            "tinibox: service folder /no/such/services does not exist — give the folder of \
             the NAME.json files (--dir or $TINIBOX_SERVICES)"
        );
    }
    let o = env.tinibox(&["service", "sideways"]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));

    // A container of the same name that is not the service is not taken over.
    env.ok(&["service", "down"]);
    env.ok(&["rm", "good"]);
    let other = env
        .root
        .tinibox()
        .args(["run", "-d", "--name", "good"])
        .arg(rootfs)
        .args(["sleep", "100"])
        .output()
        .unwrap();
    assert!(other.status.success(), "{}", stderr(&other));
    let o = env.tinibox(&["service", "up", "good"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not this service"), "{}", stderr(&o));
}

#[test]
fn boot_starts_restart_policy_containers_again_but_not_user_stopped_ones() {
    let env = Env::new();
    let rootfs = busybox_rootfs();
    let run_d = |name: &str, policy: &str| {
        let o = run(env
            .root
            .tinibox()
            .args([
                "run",
                "-d",
                "--name",
                name,
                "--restart",
                policy,
                "--stop-timeout",
                "5",
            ])
            .arg(rootfs)
            .args(["sh", "-c", TICKER]));
        assert!(o.status.success(), "run {name}: {}", stderr(&o));
    };
    run_d("always", "always");
    run_d("kept", "unless-stopped");
    run_d("parked", "unless-stopped");
    run_d("once", "no");
    run_d("flaky", "on-failure:2");
    env.ok(&["stop", "parked"]);
    // An on-failure container that ended on its own before the shutdown (its one retry
    // spent): not started at boot.
    let o = run(env
        .root
        .tinibox()
        .args(["run", "-d", "--name", "spent", "--restart", "on-failure:1"])
        .arg(rootfs)
        .args(["sh", "-c", "exit 1"]));
    assert!(o.status.success(), "run spent: {}", stderr(&o));
    let t = Instant::now();
    while !(env.status("spent") == "exited"
        && env
            .ok(&["inspect", "-f", "{{.RestartCount}}", "spent"])
            .trim()
            == "1")
    {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "spent kept restarting"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Shutdown: every running container stops with its stop signal.
    let down = env.ok(&["service", "down", "--all"]);
    for name in ["always", "kept", "once", "flaky"] {
        assert!(
            down.contains(&format!("{name}: stopped (exit 3)")),
            "{down}"
        );
    }
    assert!(!down.contains("parked"), "{down}");
    // The next "boot" (a different boot id recorded in the state root).
    std::fs::write(env.root.path().join(".boot-id"), "an-earlier-boot\n").unwrap();
    let up = env.ok(&["service", "up", "--boot"]);
    assert!(up.contains("of the previous boot marked stopped"), "{up}");
    assert!(
        up.contains("always: started again (restart policy always)"),
        "{up}"
    );
    assert!(
        up.contains("kept: started again (restart policy unless-stopped)"),
        "{up}"
    );
    // on-failure: it was running at shutdown, as dockerd restarts it when it comes up.
    assert!(
        up.contains("flaky: started again (restart policy on-failure)"),
        "{up}"
    );
    assert!(
        !up.contains("parked") && !up.contains("once") && !up.contains("spent"),
        "{up}"
    );
    for name in ["always", "kept", "flaky"] {
        env.wait_log(name, "started", 2);
        assert_eq!(env.status(name), "running");
    }
    for name in ["parked", "once", "spent"] {
        assert_eq!(env.status(name), "exited");
    }
    env.ok(&["service", "down", "--all"]);
}
