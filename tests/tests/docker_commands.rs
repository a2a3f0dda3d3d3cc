//! Docker's everyday commands, the same scenario under Docker (Debian's docker.io, a private
//! dockerd started by the test) and under tinibox, comparing what a user sees: exit codes,
//! output, the JSON keys scripts read, `ps` columns. Both sides run the same BusyBox image
//! (`docker import` / `tinibox import` of one tarball, tagged `bbx`) with the same command
//! lines. Needs root, dockerd and busybox-static.
//!
//! Durations in `ps` ("Up 3 seconds", "Exited (0) Less than a second ago") depend on when the
//! command runs, so they are replaced by `T` before comparing.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;
use tinilinux_tests::dockerd::Dockerd;
use tinilinux_tests::{busybox_tar, require_root, require_tool, run, stderr, stdout, StateRoot};

/// One dockerd at a time from this file (each test starts its own).
static SERIAL: Mutex<()> = Mutex::new(());

/// tinibox with its own state root and image store.
struct Tinibox {
    root: StateRoot,
    store: tempfile::TempDir,
}

impl Tinibox {
    fn command(&self) -> Command {
        let mut c = self.root.tinibox();
        c.arg("--store").arg(self.store.path());
        c
    }
}

/// The two sides of every comparison.
enum Side {
    Docker(Dockerd),
    Tinibox(Tinibox),
}

impl Side {
    fn name(&self) -> &'static str {
        match self {
            Side::Docker(_) => "docker",
            Side::Tinibox(_) => "tinibox",
        }
    }

    /// The side's command line (stdin not set).
    fn command(&self) -> Command {
        match self {
            Side::Docker(d) => d.command(),
            Side::Tinibox(t) => t.command(),
        }
    }

    fn cmd(&self, args: &[&str]) -> Output {
        run(self.command().args(args).stdin(Stdio::null()))
    }

    /// (exit code, trimmed stdout).
    fn seen(&self, args: &[&str]) -> (Option<i32>, String) {
        let o = self.cmd(args);
        (o.status.code(), stdout(&o).trim().to_string())
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.cmd(args);
        assert!(
            o.status.success(),
            "{} {args:?}: {}{}",
            self.name(),
            stdout(&o),
            stderr(&o)
        );
        stdout(&o).trim().to_string()
    }

    /// `inspect NAME` parsed: the first object of the array.
    fn inspect(&self, name: &str) -> Value {
        let text = self.ok(&["inspect", name]);
        let v: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: inspect is not JSON ({e}): {text}", self.name()));
        v[0].clone()
    }

    /// Polls `inspect -f TEMPLATE NAME` until `done` holds (up to 30 s).
    fn wait_for(&self, name: &str, template: &str, done: impl Fn(&str) -> bool) -> String {
        let t = Instant::now();
        loop {
            let (_, out) = self.seen(&["inspect", "-f", template, name]);
            if done(&out) {
                return out;
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "{}: {name} {template}: still {out:?}",
                self.name()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Both sides with the image `bbx` imported; the guard keeps dockerds from overlapping.
fn sides() -> (MutexGuard<'static, ()>, tempfile::TempDir, Vec<Side>) {
    require_root();
    for t in ["dockerd", "docker", "tar"] {
        require_tool(t);
    }
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let work = tempfile::tempdir().unwrap();
    let tar = busybox_tar(work.path());
    let tar = tar.to_str().unwrap();
    let docker = Side::Docker(Dockerd::start(
        "tbx-dcmd-",
        &["--bridge", "none", "--iptables=false", "--ip-masq=false"],
    ));
    let tinibox = Side::Tinibox(Tinibox {
        root: StateRoot::new(),
        store: tempfile::tempdir().unwrap(),
    });
    for s in [&docker, &tinibox] {
        s.ok(&["import", tar, "bbx:latest"]);
    }
    (guard, work, vec![docker, tinibox])
}

/// `ps` durations replaced by `T` ("Up 3 seconds" → "Up T").
fn timeless(s: &str) -> String {
    let mut out = s.to_string();
    for pat in ["Less than a second", "About a minute", "About an hour"] {
        out = out.replace(pat, "T");
    }
    let words: Vec<String> = out.split(' ').map(str::to_string).collect();
    let mut res = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let unit = words.get(i + 1).map(|w| w.trim_end_matches(','));
        let is_unit = matches!(
            unit,
            Some("second" | "seconds" | "minute" | "minutes" | "hour" | "hours")
        );
        if words[i].parse::<u64>().is_ok() && is_unit {
            res.push("T".to_string());
            i += 2;
        } else {
            res.push(words[i].clone());
            i += 1;
        }
    }
    res.join(" ")
}

/// A JSON value at a dotted path (`State.Pid`).
fn at<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, k| v.get(k))
}

#[test]
fn exec_in_the_docker_form_matches_docker() {
    let (_g, work, sides) = sides();
    let env_file = work.path().join("env");
    std::fs::write(&env_file, "# comment\nB=2\n").unwrap();
    let env_file = env_file.to_str().unwrap();
    let mut seen: Vec<Vec<(Option<i32>, String)>> = Vec::new();
    for s in &sides {
        s.ok(&[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "web",
            "bbx",
            "sleep",
            "1000",
        ]);
        let mut got = vec![
            s.seen(&["exec", "web", "echo", "hi"]),
            s.seen(&["exec", "web", "sh", "-c", "exit 5"]),
            s.seen(&["exec", "-u", "nobody", "web", "id"]),
            s.seen(&["exec", "-u", "nobody:root", "web", "id", "-g"]),
            s.seen(&["exec", "-w", "/tmp", "web", "pwd"]),
            s.seen(&["exec", "--workdir", "/etc", "web", "pwd"]),
            s.seen(&[
                "exec",
                "-e",
                "A=1",
                "--env-file",
                env_file,
                "web",
                "sh",
                "-c",
                "echo $A $B",
            ]),
            s.seen(&["exec", "nosuch", "true"]),
            s.seen(&["exec", "--bogus", "web", "true"]),
            s.seen(&["exec", "-d", "web", "sh", "-c", "echo detached > /tmp/d"]),
        ];
        // A detached exec runs on its own: its file appears.
        let t = Instant::now();
        while s.seen(&["exec", "web", "cat", "/tmp/d"]).1 != "detached" {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "{}: exec -d",
                s.name()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // stdin reaches the process only with -i.
        for flags in [&[][..], &["-i"][..]] {
            let mut args = vec!["exec"];
            args.extend_from_slice(flags);
            args.extend_from_slice(&["web", "cat"]);
            let mut child = s
                .command()
                .args(&args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            // Without -i the exec may be over before the write: a closed pipe is fine then.
            let _ = child.stdin.take().unwrap().write_all(b"typed\n");
            let o = child.wait_with_output().unwrap();
            got.push((o.status.code(), stdout(&o).trim().to_string()));
        }
        // A command that is not there: 127 for tinibox (as `run`); Docker 20.10 says 126.
        let (code, _) = s.seen(&["exec", "web", "no-such-command"]);
        match s {
            Side::Tinibox(_) => assert_eq!(code, Some(127)),
            Side::Docker(_) => assert!(matches!(code, Some(126 | 127)), "{code:?}"),
        }
        if let Side::Tinibox(_) = s {
            // --privileged: every capability tinibox itself has (Docker 20.10 on this host
            // fails the same exec asking for capabilities the host lacks).
            let own = std::fs::read_to_string("/proc/self/status").unwrap();
            let own = own.lines().find(|l| l.starts_with("CapEff")).unwrap();
            let (code, caps) = s.seen(&[
                "exec",
                "--privileged",
                "web",
                "grep",
                "CapEff",
                "/proc/self/status",
            ]);
            assert_eq!((code, caps.as_str()), (Some(0), own));
            let (_, plain) = s.seen(&["exec", "web", "grep", "CapEff", "/proc/self/status"]);
            assert_ne!(plain, own, "without --privileged: Docker's default set");
        }
        let o = s.cmd(&["exec", "-u", "mallory", "web", "id"]);
        assert_ne!(o.status.code(), Some(0), "{}: unknown user", s.name());
        let said = format!("{}{}", stdout(&o), stderr(&o));
        assert!(said.contains("mallory"), "{}: {said}", s.name());
        seen.push(got);
    }
    assert_eq!(seen[0], seen[1], "docker (left) and tinibox (right) differ");
    assert_eq!(seen[1][0], (Some(0), "hi".into()));
    assert_eq!(seen[1][10], (Some(0), String::new()), "no stdin without -i");
    assert_eq!(seen[1][11], (Some(0), "typed".into()), "stdin with -i");
}

/// `-it` with stdin that is not a terminal (here /dev/null, as in a script or a pipe): Docker
/// refuses at once with "the input device is not a TTY" and exit 1, for `run` and `exec`;
/// tinibox must too, rather than wait on a terminal nobody types into, and make nothing.
#[test]
fn interactive_tty_without_a_terminal_is_refused_like_docker() {
    let (_g, _work, sides) = sides();
    let mut seen = Vec::new();
    for s in &sides {
        s.ok(&["run", "-d", "--name", "nt", "bbx", "sleep", "1000"]);
        let before = s.ok(&["ps", "-a", "-q"]);
        let run = s.cmd(&["run", "-it", "--name", "nt2", "bbx", "sh"]);
        let exec = s.cmd(&["exec", "-it", "nt", "sh"]);
        for (what, o) in [("run -it", &run), ("exec -it", &exec)] {
            assert!(
                stderr(o).contains("the input device is not a TTY"),
                "{} {what}: {}",
                s.name(),
                stderr(o)
            );
        }
        let after = s.ok(&["ps", "-a", "-q"]);
        assert_eq!(before, after, "{}: run -it made a container", s.name());
        // -i alone still pipes input.
        let piped = s.seen(&["exec", "-i", "nt", "echo", "piped"]);
        seen.push((run.status.code(), exec.status.code(), piped));
        s.ok(&["rm", "-f", "nt"]);
    }
    assert_eq!(seen[0], seen[1], "docker (left) and tinibox (right) differ");
    assert_eq!(seen[1].0, Some(1));
}

#[test]
fn exec_it_is_a_shell_on_a_real_terminal() {
    let (_g, _work, sides) = sides();
    for s in &sides {
        s.ok(&[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "web",
            "bbx",
            "sleep",
            "1000",
        ]);
        // The outer pty gets a window size; exec -it must pass it on.
        let line = {
            let c = s.command();
            let env: Vec<String> = c
                .get_envs()
                .filter_map(|(k, v)| Some(format!("{}={}", k.to_str()?, v?.to_str()?)))
                .collect();
            let args: Vec<String> = c
                .get_args()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            format!(
                "stty rows 31 cols 97; exec env {} {} {} exec -it web sh",
                env.join(" "),
                c.get_program().to_string_lossy(),
                args.join(" ")
            )
        };
        let mut cmd = Command::new("sh");
        cmd.args(["-c", &line]);
        let mut p = rexpect::session::spawn_command(cmd, Some(20_000)).expect("spawn in a pty");
        // Type only once the shell prompts: input typed before the client has put the
        // terminal in raw mode can be flushed away with the mode change.
        p.exp_string("# ").expect("a shell prompt");
        p.send_line("tty; echo sum=$((6*7)); stty size").unwrap();
        p.exp_string("/dev/pts/").expect("a terminal inside");
        p.exp_string("sum=42").expect("the shell answers");
        p.exp_string("31 97").expect("the caller's window size");
        p.send_line("exit 3").unwrap();
        match p.process.wait().unwrap() {
            rexpect::process::wait::WaitStatus::Exited(_, code) => {
                assert_eq!(code, 3, "{}", s.name())
            }
            other => panic!("{}: exec -it ended with {other:?}", s.name()),
        }
    }
}

#[test]
fn inspect_and_ps_match_docker() {
    let (_g, _work, sides) = sides();
    let mut seen = Vec::new();
    for s in &sides {
        s.ok(&[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "web",
            "-l",
            "tier=front",
            "--label",
            "team",
            "bbx",
            "sleep",
            "1000",
        ]);
        let (code, _) = s.seen(&[
            "run",
            "--network",
            "none",
            "--name",
            "done",
            "bbx",
            "sh",
            "-c",
            "exit 3",
        ]);
        assert_eq!(code, Some(3));
        let web = s.inspect("web");
        let done = s.inspect("done");
        // The keys scripts read are there, with Docker's types.
        for key in [
            "Id",
            "Created",
            "Path",
            "Args",
            "State.Status",
            "State.Running",
            "State.Paused",
            "State.Restarting",
            "State.Pid",
            "State.ExitCode",
            "State.StartedAt",
            "State.FinishedAt",
            "Name",
            "RestartCount",
            "Image",
            "Config.Image",
            "Config.Cmd",
            "Config.Env",
            "Config.Labels",
            "Config.Hostname",
            "Config.WorkingDir",
            "HostConfig.NetworkMode",
            "HostConfig.RestartPolicy.Name",
            "HostConfig.AutoRemove",
            "HostConfig.Privileged",
            "HostConfig.Memory",
            "Mounts",
        ] {
            for (n, v) in [("web", &web), ("done", &done)] {
                assert!(
                    at(v, key).is_some(),
                    "{}: inspect {n} has no {key}: {v}",
                    s.name()
                );
            }
        }
        let pid = at(&web, "State.Pid").and_then(Value::as_i64).unwrap();
        assert!(
            Path::new(&format!("/proc/{pid}")).exists(),
            "{}: pid {pid}",
            s.name()
        );
        assert_eq!(
            std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap(),
            "sleep\u{0}1000\u{0}"
        );
        assert_ne!(
            at(&done, "State.FinishedAt").unwrap(),
            "0001-01-01T00:00:00Z"
        );
        assert_eq!(
            at(&web, "State.FinishedAt").unwrap(),
            "0001-01-01T00:00:00Z"
        );
        if let Side::Tinibox(_) = s {
            // tinibox shows the environment the process has; Docker's imported image has none
            // of its own (null), and its PATH is added at run time.
            let env = at(&web, "Config.Env").unwrap().as_array().unwrap();
            assert!(
                env.iter().any(|e| e.as_str().unwrap().starts_with("PATH=")),
                "{env:?}"
            );
        }
        let same: Vec<Value> = [
            "Path",
            "Args",
            "State.Status",
            "State.Running",
            "State.Paused",
            "State.ExitCode",
            "Name",
            "RestartCount",
            "Config.Cmd",
            "Config.Labels",
            "Config.Image",
            "HostConfig.NetworkMode",
            "HostConfig.RestartPolicy",
            "HostConfig.AutoRemove",
        ]
        .iter()
        .flat_map(|k| [at(&web, k).cloned(), at(&done, k).cloned()])
        .map(|v| v.unwrap_or(Value::Null))
        .collect();
        let template = r#"{{.State.Status}} {{.State.ExitCode}} {{.Name}} {{json .Config.Cmd}} {{index .Config.Labels "tier"}} {{.Config.Labels}} {{join .Args ","}} {{.State.Running}}"#;
        let ps = |args: &[&str]| {
            let mut a = vec!["ps"];
            a.extend_from_slice(args);
            let (code, out) = s.seen(&a);
            (code, timeless(&out))
        };
        let header = s.ok(&["ps"]).lines().next().unwrap_or("").to_string();
        seen.push((
            same,
            s.seen(&["inspect", "-f", template, "web", "done"]),
            s.seen(&["inspect", "nosuch"]).0,
            s.seen(&["inspect", "-f", "{{.Bogus}}", "web"]).0,
            header
                .split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(String::from)
                .collect::<Vec<_>>(),
            vec![
                ps(&[
                    "--format",
                    "{{.Names}}|{{.Image}}|{{.Command}}|{{.State}}|{{.Status}}",
                ]),
                ps(&[
                    "-a",
                    "--format",
                    "{{.Names}}|{{.Image}}|{{.Command}}|{{.State}}|{{.Status}}",
                ]),
                ps(&["-a", "--filter", "status=exited", "--format", "{{.Names}}"]),
                ps(&["--filter", "status=exited", "--format", "{{.Names}}"]),
                ps(&[
                    "-a",
                    "--filter",
                    "label=tier=front",
                    "--format",
                    "{{.Names}}",
                ]),
                ps(&["-a", "--filter", "label=team", "--format", "{{.Names}}"]),
                ps(&["-a", "--filter", "name=do", "--format", "{{.Names}}"]),
                ps(&["-a", "--filter", "ancestor=bbx", "--format", "{{.Names}}"]),
                ps(&["-a", "--filter", "exited=3", "--format", "{{.Names}}"]),
                ps(&[
                    "-a",
                    "--filter",
                    "status=running",
                    "--filter",
                    "status=exited",
                    "--format",
                    "{{.Names}}",
                ]),
                ps(&["-a", "--format", "table {{.Names}}\t{{.Status}}"]),
                ps(&["--filter", "status=bogus"]),
                ps(&["--filter", "colour=red"]),
            ],
            s.ok(&["ps", "-q"]).len(),
            s.ok(&["ps", "-aq", "--no-trunc"])
                .lines()
                .map(str::len)
                .collect::<Vec<_>>(),
        ));
    }
    assert_eq!(seen[0], seen[1], "docker (left) and tinibox (right) differ");
    assert_eq!(
        seen[1].4,
        [
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES"
        ]
    );
    assert_eq!(seen[1].5[0].1, "web|bbx|\"sleep 1000\"|running|Up T");
}

#[test]
fn wait_pause_rename_top_restart_prune_match_docker() {
    let (_g, _work, sides) = sides();
    let mut seen = Vec::new();
    for s in &sides {
        let mut got: Vec<(Option<i32>, String)> = Vec::new();
        s.ok(&[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "w1",
            "bbx",
            "sh",
            "-c",
            "sleep 1; exit 4",
        ]);
        got.push(s.seen(&["wait", "w1"]));
        s.ok(&[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "web",
            "bbx",
            "sleep",
            "1000",
        ]);
        got.push(s.seen(&["pause", "web"]));
        got.push(s.seen(&["ps", "--format", "{{.Names}} {{.State}}"]));
        let (_, status) = s.seen(&["ps", "--format", "{{.Status}}"]);
        got.push((None, timeless(&status)));
        got.push(
            s.seen(&["exec", "web", "true"])
                .0
                .map(|c| (Some(c), String::new()))
                .unwrap(),
        );
        got.push(s.seen(&["unpause", "web"]));
        got.push(
            s.seen(&["unpause", "web"])
                .0
                .map(|c| (Some(c), String::new()))
                .unwrap(),
        );
        got.push(s.seen(&["rename", "web", "web2"]));
        got.push(
            s.seen(&["rename", "nosuch", "x"])
                .0
                .map(|c| (Some(c), String::new()))
                .unwrap(),
        );
        got.push(s.seen(&["inspect", "-f", "{{.Name}}", "web2"]));
        let top = s.ok(&["top", "web2"]);
        assert!(
            top.lines().next().unwrap().contains("PID"),
            "{}: {top}",
            s.name()
        );
        assert!(
            top.lines().any(|l| l.ends_with("sleep 1000")),
            "{}: {top}",
            s.name()
        );
        let before = s.inspect("web2");
        got.push(s.seen(&["restart", "-t", "1", "web2"]));
        let after = s.inspect("web2");
        assert_ne!(
            at(&before, "State.Pid"),
            at(&after, "State.Pid"),
            "{}",
            s.name()
        );
        assert_ne!(
            at(&before, "State.StartedAt"),
            at(&after, "State.StartedAt")
        );
        assert_eq!(
            at(&before, "Created"),
            at(&after, "Created"),
            "{}",
            s.name()
        );
        got.push(s.seen(&["inspect", "-f", "{{.State.Status}}", "web2"]));
        got.push(s.seen(&["stop", "-t", "1", "web2"]));
        got.push(s.seen(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            "web2",
        ]));
        for missing in [
            &["wait", "nosuch"][..],
            &["top", "nosuch"],
            &["unpause", "nosuch"],
            &["restart", "nosuch"],
        ] {
            got.push((s.seen(missing).0, missing[0].to_string()));
        }
        let pruned = s.ok(&["container", "prune", "-f"]);
        let mut ids: Vec<&str> = pruned.lines().filter(|l| l.len() == 64).collect();
        ids.sort();
        assert_eq!(ids.len(), 2, "{}: {pruned}", s.name());
        assert!(pruned.starts_with("Deleted Containers:"), "{pruned}");
        assert!(pruned.contains("Total reclaimed space:"), "{pruned}");
        got.push(s.seen(&["ps", "-aq"]));
        seen.push(got);
    }
    assert_eq!(seen[0], seen[1], "docker (left) and tinibox (right) differ");
    assert_eq!(seen[1][0], (Some(0), "4".into()));
}

#[test]
fn restart_policies_match_docker() {
    let (_g, _work, sides) = sides();
    let mut seen = Vec::new();
    for s in &sides {
        let mut got: Vec<(Option<i32>, String)> = Vec::new();
        // on-failure:2 restarts exactly twice: three runs in all.
        s.ok(&[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "f2",
            "--restart",
            "on-failure:2",
            "bbx",
            "sh",
            "-c",
            "echo run; exit 3",
        ]);
        s.wait_for("f2", "{{.State.Status}} {{.RestartCount}}", |o| {
            o == "exited 2"
        });
        std::thread::sleep(Duration::from_millis(500));
        got.push(s.seen(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}",
            "f2",
        ]));
        let policy = at(&s.inspect("f2"), "HostConfig.RestartPolicy").cloned();
        got.push((None, policy.map(|p| p.to_string()).unwrap_or_default()));
        got.push(s.seen(&["logs", "f2"]));
        // on-failure does not restart a clean exit.
        s.ok(&[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "f0",
            "--restart",
            "on-failure",
            "bbx",
            "true",
        ]);
        s.wait_for("f0", "{{.State.Status}}", |o| o == "exited");
        got.push(s.seen(&["inspect", "-f", "{{.RestartCount}}", "f0"]));
        // always: kill -9 of the container's init from the host brings it back.
        s.ok(&[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "al",
            "--restart",
            "always",
            "bbx",
            "sleep",
            "1000",
        ]);
        let pid: i32 = s
            .ok(&["inspect", "-f", "{{.State.Pid}}", "al"])
            .parse()
            .unwrap();
        // SAFETY: killing the container's init, a process this test started.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
        let again = s.wait_for("al", "{{.State.Status}} {{.State.Pid}}", |o| {
            o.starts_with("running ") && o != format!("running {pid}")
        });
        let new_pid: i32 = again.split(' ').nth(1).unwrap().parse().unwrap();
        assert_eq!(
            std::fs::read_to_string(format!("/proc/{new_pid}/cmdline")).unwrap(),
            "sleep\u{0}1000\u{0}"
        );
        got.push(s.seen(&["inspect", "-f", "{{.RestartCount}}", "al"]));
        // A container stopped by the user stays down.
        got.push(s.seen(&["stop", "-t", "1", "al"]));
        std::thread::sleep(Duration::from_secs(1));
        got.push(s.seen(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            "al",
        ]));
        // Bad policies.
        got.push((
            s.seen(&["run", "--rm", "--restart", "always", "bbx", "true"])
                .0,
            String::new(),
        ));
        got.push((
            s.seen(&["run", "-d", "--restart", "bogus", "bbx", "true"])
                .0,
            String::new(),
        ));
        got.push((
            s.seen(&["run", "-d", "--restart", "always:3", "bbx", "true"])
                .0,
            String::new(),
        ));
        seen.push(got);
    }
    assert_eq!(seen[0], seen[1], "docker (left) and tinibox (right) differ");
    assert_eq!(seen[1][0].1, "exited 2 3");
    assert_eq!(
        seen[1][1].1,
        r#"{"MaximumRetryCount":2,"Name":"on-failure"}"#
    );
    assert_eq!(seen[1][2].1, "run\nrun\nrun");
    if let Side::Tinibox(t) = &sides[1] {
        // Refused runs left nothing behind.
        let bundles = std::fs::read_dir(t.root.path().join(".bundles"))
            .unwrap()
            .count();
        assert_eq!(bundles, 3, "only f2, f0 and al have front folders");
    }
}

#[test]
fn cp_and_logs_tail_match_docker() {
    let (_g, work, sides) = sides();
    let w = work.path();
    std::fs::write(w.join("in"), "from the host\n").unwrap();
    std::fs::create_dir_all(w.join("tree/deep")).unwrap();
    std::fs::write(w.join("tree/deep/x"), "x\n").unwrap();
    let mut seen = Vec::new();
    for s in &sides {
        let host = w.join(s.name());
        let victim = w.join(format!("{}-victim", s.name()));
        std::fs::create_dir_all(&host).unwrap();
        std::fs::create_dir_all(&victim).unwrap();
        // Links in the container pointing at a host folder: relative (climbing out with ..)
        // and absolute.
        let script = format!(
            "for i in 1 2 3 4 5; do echo line$i; done; mkdir -p /data/sub; echo hello > /data/sub/f; \
             ln -s /etc/passwd /data/link; ln -s ../../../../../../../../..{v} /tmp/up; \
             ln -s {v} /tmp/abs; echo ready; sleep 1000",
            v = victim.display()
        );
        s.ok(&[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "web",
            "bbx",
            "sh",
            "-c",
            &script,
        ]);
        let t = Instant::now();
        while !s.seen(&["logs", "web"]).1.contains("ready") {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "{}: no output",
                s.name()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let h = |p: &str| host.join(p).to_str().unwrap().to_string();
        let mut got = vec![
            s.seen(&["logs", "--tail", "2", "web"]),
            s.seen(&["logs", "-n", "1", "web"]),
            s.seen(&["cp", "web:/data/sub/f", &h("f1")]),
            s.seen(&["cp", "web:/data", &h("d")]),
            s.seen(&["cp", "web:/data", &h("d")]),
            s.seen(&["cp", w.join("in").to_str().unwrap(), "web:/tmp/in"]),
            s.seen(&["cp", w.join("tree").to_str().unwrap(), "web:/tmp/"]),
            s.seen(&["exec", "web", "sh", "-c", "cat /tmp/in /tmp/tree/deep/x"]),
            s.seen(&["cp", "nosuch:/x", &h("x")])
                .0
                .map(|c| (Some(c), String::new()))
                .unwrap(),
            s.seen(&["cp", "web:/no/such/file", &h("x")])
                .0
                .map(|c| (Some(c), String::new()))
                .unwrap(),
        ];
        let read = |p: &str| {
            std::fs::read_to_string(host.join(p)).unwrap_or_else(|e| {
                let o = run(Command::new("find").arg(&host).arg("-ls"));
                panic!("{}: {p}: {e}; the host folder:\n{}", s.name(), stdout(&o))
            })
        };
        // The whole root: /proc and /sys come as empty folders (the kernel's view is not the
        // container's files), the rest as files.
        let whole = s.seen(&["cp", "web:/", &h("root")]).0;
        let entries = |p: &str| {
            std::fs::read_dir(host.join(p))
                .map(|d| d.count().to_string())
                .unwrap_or_else(|e| e.to_string())
        };
        got.push((
            whole,
            format!(
                "proc: {}, sys: {}, f: {}",
                entries("root/proc"),
                entries("root/sys"),
                read("root/data/sub/f").trim()
            ),
        ));
        got.push((None, read("f1")));
        got.push((None, read("d/sub/f")));
        got.push((None, read("d/data/sub/f")));
        got.push((
            None,
            std::fs::read_link(host.join("d/link"))
                .map(|l| l.display().to_string())
                .unwrap_or_default(),
        ));
        // Writing through a link that leads out of the container never reaches the host.
        for dst in [
            "web:/tmp/up/x",
            "web:/tmp/abs/x",
            "web:/tmp/up",
            "web:/tmp/abs",
        ] {
            let o = s.cmd(&["cp", w.join("in").to_str().unwrap(), dst]);
            if let Side::Tinibox(_) = s {
                assert_eq!(o.status.code(), Some(1), "{dst}: {}", stderr(&o));
                assert!(stderr(&o).contains("refused"), "{dst}: {}", stderr(&o));
                assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
            }
            let left: Vec<_> = std::fs::read_dir(&victim)
                .unwrap()
                .flatten()
                .map(|e| e.path())
                .collect();
            assert!(
                left.is_empty(),
                "{}: cp {dst} wrote on the host: {left:?}",
                s.name()
            );
        }
        seen.push(got);
    }
    assert_eq!(seen[0], seen[1], "docker (left) and tinibox (right) differ");
    assert_eq!(seen[1][0], (Some(0), "line5\nready".into()));
    assert_eq!(seen[1][7], (Some(0), "from the host\nx".into()));
    assert_eq!(seen[1][10], (Some(0), "proc: 0, sys: 0, f: hello".into()));
}

/// Polls `args` on side `s` until its stdout satisfies `done` (up to 30 s); returns it.
fn poll(s: &Side, args: &[&str], done: impl Fn(&str) -> bool) -> String {
    let t = Instant::now();
    loop {
        let (_, out) = s.seen(args);
        if done(&out) {
            return out;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "{}: {args:?}: still {out:?}",
            s.name()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The cells of a `stats`/`system df` table row (columns are 3+ spaces apart).
fn cells(line: &str) -> Vec<String> {
    line.split("   ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn stats_matches_docker() {
    let (_g, _work, sides) = sides();
    let mut seen = Vec::new();
    for s in &sides {
        // The private dockerd has no bridge (`--bridge none`), while tinibox's default is
        // bridge: both ask for no network, so NET I/O is 0B / 0B on both sides.
        s.ok(&[
            "run",
            "-d",
            "--name",
            "st",
            "--network",
            "none",
            "-m",
            "64m",
            "bbx",
            "sleep",
            "1000",
        ]);
        s.ok(&[
            "run",
            "-d",
            "--name",
            "busy",
            "bbx",
            "sh",
            "-c",
            "while :; do :; done",
        ]);
        let table = s.ok(&["stats", "--no-stream", "st"]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 2, "{}: {table}", s.name());
        let row = cells(lines[1]);
        assert_eq!(row.len(), 8, "{}: {row:?}", s.name());
        assert!(row[2].ends_with('%') && row[4].ends_with('%'), "{row:?}");
        let busy = s.ok(&["stats", "--no-stream", "--format", "{{.CPUPerc}}", "busy"]);
        let cpu: f64 = busy.trim_end_matches('%').parse().unwrap();
        assert!(cpu > 1.0, "{}: a busy loop at {busy}", s.name());
        let json: Value =
            serde_json::from_str(&s.ok(&["stats", "--no-stream", "--format", "json", "st"]))
                .unwrap();
        let mut keys: Vec<String> = json.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        // Docker's json also has Windows' NetIO-like fields; ours must be among its keys.
        seen.push((
            lines[0].to_string(),
            row[1].clone(),
            row[3].split(" / ").nth(1).map(str::to_string),
            row[5].clone(),
            row[7].clone(),
            s.ok(&[
                "stats",
                "--no-stream",
                "--format",
                "{{.Name}} {{.PIDs}} {{.NetIO}}",
                "st",
            ]),
            s.seen(&["stats", "--no-stream", "nosuch"]).0,
            keys,
        ));
        s.ok(&["rm", "-f", "st", "busy"]);
    }
    let (d, t) = (&seen[0], &seen[1]);
    assert_eq!(
        (&d.0, &d.1, &d.2, &d.3, &d.4, &d.5, &d.6),
        (&t.0, &t.1, &t.2, &t.3, &t.4, &t.5, &t.6),
        "docker (left) and tinibox (right) differ"
    );
    for k in &t.7 {
        assert!(
            d.7.contains(k),
            "tinibox's key {k} is not Docker's: {:?}",
            d.7
        );
    }
    assert_eq!(t.2.as_deref(), Some("64MiB"));
    assert_eq!(t.5, "st 1 0B / 0B");
}

#[test]
fn system_df_and_image_prune_match_docker() {
    let (_g, work, sides) = sides();
    // Two small images of their own: one tagged, one imported without a name (dangling).
    let small_tar = |name: &str| {
        let dir = work.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("note"), format!("the {name} layer\n")).unwrap();
        let tar = work.path().join(format!("{name}.tar"));
        let o = run(Command::new("tar")
            .arg("-C")
            .arg(&dir)
            .arg("-cf")
            .arg(&tar)
            .arg("."));
        assert!(o.status.success(), "{}", stderr(&o));
        tar.to_str().unwrap().to_string()
    };
    let (spare, dangling_tar) = (small_tar("spare"), small_tar("dangling"));
    let mut seen = Vec::new();
    for s in &sides {
        s.ok(&["import", &spare, "spare:1"]);
        s.ok(&["import", &dangling_tar]);
        s.ok(&["run", "-d", "--name", "uu", "bbx", "sleep", "1000"]);
        let df = s.ok(&["system", "df"]);
        let counts = s.ok(&[
            "system",
            "df",
            "--format",
            "{{.Type}} {{.TotalCount}} {{.Active}}",
        ]);
        let prune_lines = |out: &str| {
            let lines: Vec<String> = out.lines().map(str::to_string).collect();
            let untagged: Vec<String> = lines
                .iter()
                .filter(|l| l.starts_with("untagged:"))
                .cloned()
                .collect();
            // Docker also lists each layer it deleted; tinibox lists the image: "some".
            let deleted = lines.iter().any(|l| l.starts_with("deleted:"));
            let last = lines.last().cloned().unwrap_or_default();
            (
                lines.first().cloned(),
                untagged,
                deleted,
                last.starts_with("Total reclaimed space: ") && !last.ends_with(" 0B"),
            )
        };
        let dangling = prune_lines(&s.ok(&["image", "prune", "-f"]));
        let nothing = s.ok(&["image", "prune", "-f"]);
        // A stopped container still holds its image.
        s.ok(&["kill", "uu"]);
        s.wait_for("uu", "{{.State.Status}}", |o| o == "exited");
        let unused = prune_lines(&s.ok(&["image", "prune", "-a", "-f"]));
        let left: Vec<String> = s
            .ok(&["images"])
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(":"))
            .collect();
        s.ok(&["rm", "uu"]);
        let df_after = s.ok(&[
            "system",
            "df",
            "--format",
            "{{.Type}} {{.TotalCount}} {{.Active}}",
        ]);
        seen.push((
            df.lines().next().map(str::to_string),
            cells(df.lines().nth(3).unwrap_or_default()),
            counts,
            dangling,
            nothing,
            unused,
            left,
            df_after,
        ));
    }
    assert_eq!(seen[0], seen[1], "docker (left) and tinibox (right) differ");
    let t = &seen[1];
    assert_eq!(
        t.2,
        "Images 3 1\nContainers 1 1\nLocal Volumes 0 0\nBuild Cache 0 0"
    );
    assert!(t.3 .2, "the dangling image is deleted");
    assert_eq!(t.4, "Total reclaimed space: 0B");
    assert_eq!(t.5 .1, ["untagged: spare:1"]);
    assert_eq!(t.6, ["bbx:latest"]);
}

#[test]
fn logs_since_timestamps_and_rotation_match_docker() {
    let (_g, _work, sides) = sides();
    let mut seen = Vec::new();
    for s in &sides {
        s.ok(&[
            "run",
            "-d",
            "--name",
            "lg",
            "bbx",
            "sh",
            "-c",
            "echo early; sleep 1; echo late; echo oops >&2; sleep 1000",
        ]);
        poll(s, &["logs", "lg"], |o| o.contains("late"));
        let stamped = s.ok(&["logs", "-t", "lg"]);
        let mut times = Vec::new();
        let mut texts = Vec::new();
        for l in stamped.lines() {
            let (time, text) = l.split_once(' ').unwrap();
            // RFC 3339, UTC, nanoseconds.
            assert!(
                time.len() == 30 && time.ends_with('Z') && time.as_bytes()[19] == b'.',
                "{}: {time}",
                s.name()
            );
            times.push(time.to_string());
            texts.push(text.to_string());
        }
        let o = s.cmd(&["logs", "lg"]);
        let streams = (stdout(&o), stderr(&o));
        let since_late = s.seen(&["logs", "--since", &times[1], "lg"]);
        let until_early = s.seen(&["logs", "--until", &times[0], "lg"]);
        let future = s.seen(&["logs", "--since", "2099-01-01T00:00:00Z", "lg"]);
        let an_hour = s.seen(&["logs", "--since", "1h", "lg"]);
        let bad = s.seen(&["logs", "--since", "yesterday", "lg"]).0;
        s.ok(&["rm", "-f", "lg"]);

        // A chatty container with rotation: bounded files, the newest lines readable.
        s.ok(&[
            "run",
            "-d",
            "--name",
            "chat",
            "--log-opt",
            "max-size=10k",
            "--log-opt",
            "max-file=2",
            "bbx",
            "sh",
            "-c",
            "i=0; while [ $i -lt 3000 ]; do echo \"line $i\"; i=$((i+1)); done; echo done",
        ]);
        s.wait_for("chat", "{{.State.Status}}", |o| o == "exited");
        let log_path = s.ok(&["inspect", "-f", "{{.LogPath}}", "chat"]);
        let dir = Path::new(&log_path).parent().unwrap().to_path_buf();
        let base = Path::new(&log_path)
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let files: Vec<u64> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_str().unwrap().starts_with(&base))
            .map(|e| e.metadata().unwrap().len())
            .collect();
        assert!(
            files.len() == 2 && files.iter().all(|n| *n <= 10 * 1024),
            "{}: log files {files:?}",
            s.name()
        );
        let all = s.ok(&["logs", "chat"]);
        let lines: Vec<&str> = all.lines().collect();
        assert!(lines.len() < 3001, "{}: nothing rotated away", s.name());
        let first: usize = lines[0].trim_start_matches("line ").parse().unwrap();
        assert!(first > 0);
        // Nothing lost inside what is kept: the lines run on to the end.
        assert_eq!(lines.len(), 3000 - first + 1, "{}", s.name());
        let tail = s.ok(&["logs", "--tail", "2", "chat"]);
        s.ok(&["rm", "chat"]);

        // Bad options: Docker's exit code, nothing left behind.
        let mut bad_opts = Vec::new();
        for opt in ["max-size=abc", "colour=blue", "max-file=0"] {
            let o = s.cmd(&["run", "-d", "--log-opt", opt, "bbx", "true"]);
            if let Side::Tinibox(_) = s {
                assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
            }
            bad_opts.push(o.status.code());
        }
        // Docker keeps the containers it could not start; tinibox makes none.
        if let Side::Tinibox(_) = s {
            assert_eq!(s.ok(&["ps", "-aq"]), "", "a refused run left a container");
        }
        seen.push((
            texts,
            streams,
            since_late,
            until_early,
            future,
            an_hour,
            bad,
            tail,
            bad_opts,
        ));
    }
    assert_eq!(seen[0], seen[1], "docker (left) and tinibox (right) differ");
    let t = &seen[1];
    assert_eq!(t.0, ["early", "late"]);
    assert_eq!(t.1, ("early\nlate\n".to_string(), "oops\n".to_string()));
    assert_eq!(t.2, (Some(0), "late".into()));
    assert_eq!(t.3, (Some(0), "early".into()));
    assert_eq!(t.4, (Some(0), String::new()));
    assert_eq!(t.7, "line 2999\ndone");
}

#[test]
fn run_flags_and_health_checks_match_docker() {
    let (_g, _work, sides) = sides();
    let parent = format!("tbx-cgp-{}", std::process::id());
    let mut seen = Vec::new();
    for s in &sides {
        let run_sh = |flags: &[&str], script: &str| {
            let mut a = vec!["run", "--rm"];
            a.extend_from_slice(flags);
            a.extend(["bbx", "sh", "-c", script]);
            s.seen(&a)
        };
        let mut got = vec![
            run_sh(
                &[
                    "--sysctl",
                    "kernel.shmmax=12345",
                    "--sysctl",
                    "net.ipv4.ip_forward=1",
                ],
                "cat /proc/sys/kernel/shmmax /proc/sys/net/ipv4/ip_forward",
            ),
            run_sh(
                &["--shm-size", "2m"],
                "df -k /dev/shm | tail -1 | awk '{print $2}'",
            ),
            run_sh(&["--group-add", "29", "--group-add", "wheel"], "id -G"),
            run_sh(
                &["--device", "/dev/null:/dev/mynull:rw"],
                "echo x > /dev/mynull && echo written; stat -c %t:%T /dev/mynull",
            ),
            run_sh(
                &["--device", "/dev/zero:/dev/z:r"],
                "head -c 3 /dev/z | wc -c; (echo x > /dev/z) 2>/dev/null || echo refused",
            ),
        ];
        // --cgroup-parent: the container's group is /PARENT/<id> in every hierarchy.
        let id = s.ok(&[
            "run",
            "-d",
            "--cgroup-parent",
            &parent,
            "bbx",
            "sleep",
            "1000",
        ]);
        let pid = s.ok(&["inspect", "-f", "{{.State.Pid}}", &id]);
        let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        let memory = cg
            .lines()
            .find(|l| l.contains(":memory:") || l.starts_with("0::"))
            .unwrap()
            .to_string();
        got.push((
            None,
            memory.ends_with(&format!("/{parent}/{id}")).to_string(),
        ));
        s.ok(&["rm", "-f", &id]);

        // Health: healthy once the check passes, unhealthy once it fails `retries` times.
        s.ok(&[
            "run",
            "-d",
            "--name",
            "hc",
            "--health-cmd",
            "test -e /tmp/ok",
            "--health-interval",
            "1s",
            "--health-retries",
            "1",
            "bbx",
            "sh",
            "-c",
            "touch /tmp/ok; sleep 1000",
        ]);
        s.wait_for("hc", "{{.State.Health.Status}}", |o| o == "healthy");
        got.push((None, timeless(&s.ok(&["ps", "--format", "{{.Status}}"]))));
        s.ok(&["exec", "hc", "rm", "/tmp/ok"]);
        s.wait_for("hc", "{{.State.Health.Status}}", |o| o == "unhealthy");
        got.push((None, timeless(&s.ok(&["ps", "--format", "{{.Status}}"]))));
        let health = s.inspect("hc");
        let log0 = &health["State"]["Health"]["Log"][0];
        let mut keys: Vec<&String> = log0.as_object().unwrap().keys().collect();
        keys.sort();
        got.push((None, format!("{keys:?}")));
        got.push((None, health["Config"]["Healthcheck"].to_string()));
        s.ok(&["rm", "-f", "hc"]);
        s.ok(&[
            "run",
            "-d",
            "--name",
            "nh",
            "--no-healthcheck",
            "bbx",
            "sleep",
            "1000",
        ]);
        got.push((None, s.inspect("nh")["Config"]["Healthcheck"].to_string()));
        s.ok(&["rm", "-f", "nh"]);

        // Bad input: one line, Docker's exit code, nothing left behind.
        for bad in [
            &["--sysctl", "vm.swappiness=1"][..],
            &["--shm-size", "lots"],
            &["--health-interval", "soon", "--health-cmd", "true"],
            &["--health-retries", "-1", "--health-cmd", "true"],
            &["--no-healthcheck", "--health-cmd", "true"],
        ] {
            let mut a = vec!["run", "-d"];
            a.extend_from_slice(bad);
            a.extend(["bbx", "true"]);
            let o = s.cmd(&a);
            if let Side::Tinibox(_) = s {
                assert_eq!(stderr(&o).lines().count(), 1, "{bad:?}: {}", stderr(&o));
            }
            got.push((o.status.code(), String::new()));
        }
        got.push((None, s.ok(&["ps", "-aq"])));
        // A missing --device: Docker answers 127 from its runtime and keeps the created
        // container; tinibox refuses the flag itself (125) and makes nothing.
        if let Side::Tinibox(_) = s {
            let o = s.cmd(&[
                "run",
                "-d",
                "--device",
                "/nonexistent-device",
                "bbx",
                "true",
            ]);
            assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
            assert!(stderr(&o).contains("/nonexistent-device"), "{}", stderr(&o));
            assert_eq!(s.ok(&["ps", "-aq"]), "");
        }
        seen.push(got);
    }
    for dir in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let _ = std::fs::remove_dir(dir.path().join(&parent));
    }
    let _ = std::fs::remove_dir(Path::new("/sys/fs/cgroup").join(&parent));
    assert_eq!(seen[0], seen[1], "docker (left) and tinibox (right) differ");
    let t = &seen[1];
    assert_eq!(t[0], (Some(0), "12345\n1".into()));
    assert_eq!(t[1], (Some(0), "2048".into()));
    assert_eq!(t[3], (Some(0), "written\n1:3".into()));
    assert_eq!(t[4], (Some(0), "3".into()));
    assert_eq!(t[5].1, "true");
    assert_eq!(t[6].1, "Up T (healthy)");
    assert_eq!(t[7].1, "Up T (unhealthy)");
}

/// `seen` with the given text on stdin: (exit code, trimmed stdout).
fn seen_with_input(s: &Side, args: &[&str], input: &str) -> (Option<i32>, String) {
    let mut child = s
        .command()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    (o.status.code(), stdout(&o).trim().to_string())
}

/// Issue 21/16: Docker's `create [run's flags] IMAGE [CMD]` (prints the id, state
/// `created`, no process), and `start [-a] [-i] NAME` of a created or exited container; `ps
/// -a` shows "Created", `rm` of a created container works, `restart` starts it, `wait`
/// waits for its start and end.
#[test]
fn create_and_start_match_docker() {
    let (_g, _work, sides) = sides();
    let mut seen = Vec::new();
    for s in &sides {
        let mut got: Vec<(Option<i32>, String)> = Vec::new();
        let (code, id) = s.seen(&[
            "create",
            "--network",
            "none",
            "--name",
            "c1",
            "bbx",
            "sh",
            "-c",
            "echo hello; exit 3",
        ]);
        assert_eq!(code, Some(0), "{}: create", s.name());
        assert!(
            id.len() == 64 && id.chars().all(|c| c.is_ascii_hexdigit()),
            "{}: create printed {id:?}",
            s.name()
        );
        got.push(s.seen(&["ps", "-a", "--format", "{{.Names}} {{.Status}} {{.State}}"]));
        got.push(s.seen(&["ps", "-q"]));
        got.push(s.seen(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.Running}} {{.State.Pid}} {{.State.ExitCode}} {{.State.StartedAt}}",
            "c1",
        ]));
        got.push(s.seen(&[
            "ps",
            "-a",
            "--filter",
            "status=created",
            "--format",
            "{{.Names}}",
        ]));
        // A created container is not running: `wait` answers at once.
        got.push(s.seen(&["wait", "c1"]));
        got.push(s.seen(&["start", "-a", "c1"]));
        got.push(s.seen(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            "c1",
        ]));
        // An exited container starts again, detached.
        got.push(s.seen(&["start", "c1"]));
        s.wait_for("c1", "{{.State.Status}} {{.State.StartedAt}}", |o| {
            o.starts_with("exited") && !o.contains("0001-01-01")
        });
        got.push(s.seen(&["wait", "c1"]));
        got.push(s.seen(&["logs", "c1"]));
        // rm of a created container, restart of one.
        s.ok(&[
            "create",
            "--network",
            "none",
            "--name",
            "c2",
            "bbx",
            "sleep",
            "100",
        ]);
        got.push(s.seen(&["rm", "c2"]));
        s.ok(&[
            "create",
            "--network",
            "none",
            "--name",
            "c3",
            "bbx",
            "sleep",
            "100",
        ]);
        got.push(s.seen(&["restart", "-t", "1", "c3"]));
        got.push(s.seen(&["inspect", "-f", "{{.State.Status}}", "c3"]));
        // start of a running container: nothing to do, the name printed.
        got.push(s.seen(&["start", "c3"]));
        got.push(s.seen(&["rm", "-f", "c3"]));
        // -i: `start -ai` feeds our stdin to a container created with -i.
        s.ok(&[
            "create",
            "-i",
            "--network",
            "none",
            "--name",
            "c4",
            "bbx",
            "cat",
        ]);
        got.push(seen_with_input(s, &["start", "-ai", "c4"], "piped\n"));
        // Environment, workdir and the image's default command come from create's flags.
        s.ok(&[
            "create",
            "--network",
            "none",
            "--name",
            "c5",
            "-e",
            "A=1",
            "-w",
            "/tmp",
            "bbx",
            "sh",
            "-c",
            "echo $A $(pwd)",
        ]);
        got.push(s.seen(&["start", "-a", "c5"]));
        // Refusals: a bad flag (the CLI's, 125), a name taken, an image that is not there with
        // --pull never, starting a missing container (1).
        for args in [
            &["create", "--bogus-flag", "bbx"][..],
            &["create", "--name", "c5", "bbx", "true"],
            &["create", "--pull", "never", "nosuchimage:1", "true"],
            &["start", "nosuch"],
            &["start", "-a", "c4", "c5"],
        ] {
            let o = s.cmd(args);
            got.push((o.status.code(), String::new()));
            assert!(o.stdout.is_empty(), "{} {args:?}: {}", s.name(), stdout(&o));
        }
        got.push(s.seen(&["ps", "-a", "--format", "{{.Names}} {{.State}}"]));
        s.ok(&["rm", "-f", "c1", "c4", "c5"]);
        seen.push(got);
    }
    assert_eq!(seen[0], seen[1], "docker (left) and tinibox (right) differ");
    assert_eq!(seen[1][0], (Some(0), "c1 Created created".into()));
    assert_eq!(seen[1][5], (Some(3), "hello".into()));
    assert_eq!(seen[1][9], (Some(0), "hello\nhello".into()));
    assert_eq!(seen[1][15], (Some(0), "piped".into()));
}

/// Issue 21: one answer for a container that does not exist — Docker prints `No such
/// container: X` (`No such object: X` for inspect) and exits 1 for every command (`rm -f`
/// says it and exits 0); tinibox says the same words and exits the same way.
#[test]
fn missing_containers_are_refused_like_docker() {
    let (_g, work, sides) = sides();
    let x = work.path().join("x");
    let x = x.to_str().unwrap();
    let mut seen = Vec::new();
    for s in &sides {
        let mut got = Vec::new();
        for args in [
            &["inspect", "nosuch"][..],
            &["logs", "nosuch"],
            &["stop", "nosuch"],
            &["kill", "nosuch"],
            &["rm", "nosuch"],
            &["rm", "-f", "nosuch"],
            &["start", "nosuch"],
            &["restart", "nosuch"],
            &["wait", "nosuch"],
            &["top", "nosuch"],
            &["pause", "nosuch"],
            &["unpause", "nosuch"],
            &["port", "nosuch"],
            &["exec", "nosuch", "true"],
            &["cp", "nosuch:/etc/hostname", x],
            &["stats", "--no-stream", "nosuch"],
            &["rename", "nosuch", "other"],
        ] {
            let o = s.cmd(args);
            let err = stderr(&o);
            let needle = if args[0] == "inspect" {
                "No such object: nosuch"
            } else {
                "No such container: nosuch"
            };
            assert!(err.contains(needle), "{} {args:?}: {err}", s.name());
            got.push((args.join(" "), o.status.code()));
        }
        seen.push(got);
    }
    assert_eq!(seen[0], seen[1], "docker (left) and tinibox (right) differ");
    // Every command exits 1, except `rm -f`: it says so, but there is nothing to remove.
    assert!(
        seen[1]
            .iter()
            .all(|(a, c)| *c == Some(if a.starts_with("rm -f") { 0 } else { 1 })),
        "{:?}",
        seen[1]
    );
}

/// Issue 21: a container whose init the memory cgroup's OOM killer killed shows `Exited
/// (137)` and `State.OOMKilled` true (`-m 8m`, `tail /dev/zero` keeps growing its buffer);
/// one that exited or was killed by the user shows false.
#[test]
fn oom_killed_matches_docker() {
    let (_g, _work, sides) = sides();
    let mut seen = Vec::new();
    for s in &sides {
        let mut got = Vec::new();
        let limited = ["--network", "none", "-m", "8m", "--memory-swap", "8m"];
        let run = |name: &str, cmd: &[&str]| {
            let mut args = vec!["run", "-d", "--name", name];
            args.extend(limited);
            args.push("bbx");
            args.extend(cmd);
            s.ok(&args);
        };
        run("oom", &["tail", "/dev/zero"]);
        run("fine", &["sh", "-c", "exit 3"]);
        run("killed", &["sleep", "1000"]);
        got.push(s.seen(&["wait", "oom", "fine"]));
        s.ok(&["kill", "killed"]);
        got.push(s.seen(&["wait", "killed"]));
        for name in ["oom", "fine", "killed"] {
            got.push(s.seen(&[
                "inspect",
                "-f",
                "{{.State.Status}} {{.State.ExitCode}} {{.State.OOMKilled}}",
                name,
            ]));
        }
        let (_, status) = s.seen(&[
            "ps",
            "-a",
            "--filter",
            "name=oom",
            "--format",
            "{{.Status}}",
        ]);
        got.push((None, timeless(&status)));
        s.ok(&["rm", "-f", "oom", "fine", "killed"]);
        seen.push(got);
    }
    assert_eq!(seen[0], seen[1], "docker (left) and tinibox (right) differ");
    assert_eq!(seen[1][2], (Some(0), "exited 137 true".into()));
    assert_eq!(seen[1][4], (Some(0), "exited 137 false".into()));
}

/// Issue 21: `cp NAME:PATH -` writes a tar stream of the file or tree to stdout, `cp -
/// NAME:PATH` unpacks one from stdin into a directory of the container, as Docker's; a
/// stream never writes through a link out of the container.
#[test]
fn cp_tar_streams_match_docker() {
    let (_g, work, sides) = sides();
    let w = work.path();
    std::fs::create_dir_all(w.join("src/tree/deep")).unwrap();
    std::fs::write(w.join("src/tree/deep/x"), "x from the host\n").unwrap();
    std::os::unix::fs::symlink("deep/x", w.join("src/tree/lnk")).unwrap();
    let tar_of = |dir: &str| {
        let o = run(Command::new("tar")
            .arg("-C")
            .arg(w.join("src"))
            .args(["-cf", "-", dir]));
        assert!(o.status.success());
        o.stdout
    };
    let tree = tar_of("tree");
    let listing = |data: &[u8]| {
        let mut c = Command::new("tar")
            .args(["-tf", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(data).unwrap();
        let o = c.wait_with_output().unwrap();
        let mut names: Vec<String> = stdout(&o)
            .lines()
            .map(|l| l.trim_end_matches('/').to_string())
            .collect();
        names.sort();
        names.join(" ")
    };
    let mut seen = Vec::new();
    for s in &sides {
        let victim = w.join(format!("{}-victim", s.name()));
        std::fs::create_dir_all(&victim).unwrap();
        let mut got = Vec::new();
        let script = format!(
            "mkdir -p /data/sub; echo hello > /data/sub/f; ln -s /etc/passwd /data/link; \
             ln -s {v} /tmp/abs; echo ready; sleep 1000",
            v = victim.display()
        );
        s.ok(&[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "web",
            "bbx",
            "sh",
            "-c",
            &script,
        ]);
        poll(s, &["logs", "web"], |o| o.contains("ready"));
        // Out: a tree and a single file.
        let o = s.cmd(&["cp", "web:/data", "-"]);
        got.push((o.status.code(), listing(&o.stdout)));
        let o = s.cmd(&["cp", "web:/data/sub/f", "-"]);
        got.push((o.status.code(), listing(&o.stdout)));
        let o = s.cmd(&["cp", "web:/no/such", "-"]);
        got.push((o.status.code(), String::new()));
        // In: a tree with a symlink, into a directory.
        let put = |dst: &str, data: &[u8]| {
            let mut c = s
                .command()
                .args(["cp", "-", dst])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            // A refusal may come before the stream is read: a closed pipe is no failure here.
            let _ = c.stdin.take().unwrap().write_all(data);
            let o = c.wait_with_output().unwrap();
            (o.status.code(), stdout(&o).trim().to_string())
        };
        got.push(put("web:/tmp", &tree));
        got.push(s.seen(&[
            "exec",
            "web",
            "sh",
            "-c",
            "cat /tmp/tree/deep/x; readlink /tmp/tree/lnk",
        ]));
        // Refused: a destination that is missing, one that is a file.
        got.push(
            put("web:/tmp/nonexistent", &tree)
                .0
                .map(|c| (Some(c), String::new()))
                .unwrap(),
        );
        got.push(
            put("web:/data/sub/f", &tree)
                .0
                .map(|c| (Some(c), String::new()))
                .unwrap(),
        );
        // A destination that is a link out of the container: the host's folder stays empty.
        let _ = put("web:/tmp/abs", &tree);
        let left: Vec<_> = std::fs::read_dir(&victim)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        assert!(
            left.is_empty(),
            "{}: cp - wrote on the host: {left:?}",
            s.name()
        );
        s.ok(&["rm", "-f", "web"]);
        seen.push(got);
    }
    assert_eq!(seen[0], seen[1], "docker (left) and tinibox (right) differ");
    assert_eq!(
        seen[1][0],
        (Some(0), "data data/link data/sub data/sub/f".into())
    );
    assert_eq!(seen[1][4], (Some(0), "x from the host\ndeep/x".into()));
}

/// Issue 21: `top NAME PS-OPTIONS` passes the options to ps (rows picked by the PID
/// column; without one it fails, as Docker), and `ps --filter health=…` picks containers by
/// their health (`none`: no check).
#[test]
fn top_options_and_health_filter_match_docker() {
    let (_g, _work, sides) = sides();
    let mut seen = Vec::new();
    for s in &sides {
        let mut got: Vec<(Option<i32>, String)> = Vec::new();
        let base = ["run", "-d", "--network", "none"];
        let run = |extra: &[&str]| {
            let mut a = base.to_vec();
            a.extend(extra);
            a.extend(["bbx", "sleep", "1000"]);
            s.ok(&a);
        };
        run(&["--name", "web"]);
        run(&[
            "--name",
            "hok",
            "--health-cmd",
            "true",
            "--health-interval",
            "1s",
        ]);
        run(&[
            "--name",
            "hbad",
            "--health-cmd",
            "false",
            "--health-interval",
            "1s",
            "--health-retries",
            "1",
        ]);
        run(&[
            "--name",
            "hwait",
            "--health-cmd",
            "true",
            "--health-interval",
            "1h",
        ]);
        // Columns the caller asked for; the PIDs differ between the sides, the rest not.
        let (code, top) = s.seen(&["top", "web", "-o", "pid,comm,args"]);
        let rows: Vec<String> = top
            .lines()
            .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
            .collect();
        got.push((code, rows.join("\n")));
        got.push((s.seen(&["top", "web", "-o", "comm"]).0, String::new()));
        s.wait_for("hok", "{{.State.Health.Status}}", |o| o == "healthy");
        s.wait_for("hbad", "{{.State.Health.Status}}", |o| o == "unhealthy");
        for h in ["healthy", "unhealthy", "starting", "none"] {
            let filter = format!("health={h}");
            got.push(s.seen(&["ps", "--filter", &filter, "--format", "{{.Names}}"]));
        }
        got.push((s.seen(&["ps", "--filter", "health=sick"]).0, String::new()));
        s.ok(&["rm", "-f", "web", "hok", "hbad", "hwait"]);
        seen.push(got);
    }
    assert_eq!(seen[0], seen[1], "docker (left) and tinibox (right) differ");
    assert_eq!(
        seen[1][0],
        (Some(0), "COMMAND COMMAND\nsleep sleep 1000".into())
    );
    assert_eq!(seen[1][2], (Some(0), "hok".into()));
}

/// Issue 21: the image's own HEALTHCHECK (its config's `Healthcheck`) runs when the run
/// flags give none; `--no-healthcheck` turns it off; a `--health-cmd` keeps the image's
/// timing. The image is made by `docker import --change HEALTHCHECK …` and reaches tinibox
/// through `docker save` (Docker's config document, as a registry would serve it).
#[test]
fn image_healthcheck_matches_docker() {
    let (_g, work, sides) = sides();
    let archive = work.path().join("bbxhc.tar");
    let archive = archive.to_str().unwrap();
    let tar = busybox_tar(work.path());
    sides[0].ok(&[
        "import",
        "--change",
        r#"HEALTHCHECK --interval=1s --retries=1 CMD ["test", "-e", "/tmp/ok"]"#,
        tar.to_str().unwrap(),
        "bbxhc:latest",
    ]);
    sides[0].ok(&["save", "-o", archive, "bbxhc:latest"]);
    sides[1].ok(&["load", "-i", archive]);
    let mut seen = Vec::new();
    for s in &sides {
        let mut got: Vec<(Option<i32>, String)> = Vec::new();
        let run = |name: &str, extra: &[&str]| {
            let mut a = vec!["run", "-d", "--network", "none", "--name", name];
            a.extend(extra);
            a.extend(["bbxhc", "sleep", "1000"]);
            s.ok(&a);
        };
        run("hc", &[]);
        run("nohc", &["--no-healthcheck"]);
        run("mine", &["--health-cmd", "exit 0"]);
        let json = "{{json .Config.Healthcheck}}";
        for name in ["hc", "nohc", "mine"] {
            // Parsed: Docker writes the keys in its struct's order, tinibox sorted.
            let (code, text) = s.seen(&["inspect", "-f", json, name]);
            let v: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} {name}: {e}: {text}", s.name()));
            got.push((code, v.to_string()));
        }
        got.push((
            None,
            s.wait_for("hc", "{{.State.Health.Status}}", |o| o == "unhealthy"),
        ));
        s.ok(&["exec", "hc", "touch", "/tmp/ok"]);
        got.push((
            None,
            s.wait_for("hc", "{{.State.Health.Status}}", |o| o == "healthy"),
        ));
        got.push((
            None,
            s.wait_for("mine", "{{.State.Health.Status}}", |o| o == "healthy"),
        ));
        let (_, status) = s.seen(&["ps", "--filter", "name=nohc", "--format", "{{.Status}}"]);
        got.push((None, timeless(&status)));
        got.push(s.seen(&["ps", "--filter", "health=none", "--format", "{{.Names}}"]));
        s.ok(&["rm", "-f", "hc", "nohc", "mine"]);
        seen.push(got);
    }
    assert_eq!(seen[0], seen[1], "docker (left) and tinibox (right) differ");
    assert_eq!(
        seen[1][0],
        (
            Some(0),
            r#"{"Interval":1000000000,"Retries":1,"Test":["CMD","test","-e","/tmp/ok"]}"#.into()
        )
    );
    assert_eq!(
        seen[1][1],
        (
            Some(0),
            r#"{"Interval":1000000000,"Retries":1,"Test":["NONE"]}"#.into()
        )
    );
}

/// `tar -tv` of `data` with numeric owners and full times in UTC, one line per entry.
fn tar_listing(data: &[u8]) -> String {
    let mut c = Command::new("tar")
        .args(["--numeric-owner", "--full-time", "-tvf", "-"])
        .env("TZ", "UTC")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(data).unwrap();
    let o = c.wait_with_output().unwrap();
    assert!(o.status.success(), "tar -tv: {}", stderr(&o));
    // Columns squeezed: their widths follow the longest owner and size.
    stdout(&o)
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A tar stream made on the host: a directory (0710, 42:43), a set-user-ID file (04751,
/// 1234:5678) with a hard link to it, a symlink (7:8); every mtime 2001-02-03 04:05:06 UTC.
fn owned_tree_tar() -> Vec<u8> {
    const MTIME: u64 = 981_173_106;
    let mut b = tar::Builder::new(Vec::new());
    let head = |kind: tar::EntryType, mode: u32, uid: u64, gid: u64, size: u64| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(uid);
        h.set_gid(gid);
        h.set_mtime(MTIME);
        h.set_size(size);
        h
    };
    let mut h = head(tar::EntryType::Directory, 0o710, 42, 43, 0);
    b.append_data(&mut h, "in", std::io::empty()).unwrap();
    let mut h = head(tar::EntryType::Regular, 0o4751, 1234, 5678, 4);
    b.append_data(&mut h, "in/f", &b"abc\n"[..]).unwrap();
    let mut h = head(tar::EntryType::Link, 0o4751, 1234, 5678, 0);
    b.append_link(&mut h, "in/hard", "in/f").unwrap();
    let mut h = head(tar::EntryType::Symlink, 0o777, 7, 8, 0);
    b.append_link(&mut h, "in/sym", "f").unwrap();
    b.into_inner().unwrap()
}

/// Issue 21: the tar streams of `cp NAME:PATH -` and `cp - NAME:PATH` keep what Docker's
/// keep: owners, modes (set-user-ID too), mtimes, hard links (one file, a link entry) and
/// symlinks, out of the container (`tar -tv` of the stream) and into it (`stat` inside).
#[test]
fn cp_tar_streams_keep_owners_modes_times_and_hard_links_like_docker() {
    let (_g, _work, sides) = sides();
    let input = owned_tree_tar();
    let mut seen = Vec::new();
    for s in &sides {
        let mut got = Vec::new();
        let script = "mkdir -p /data/d && echo a > /data/d/f && ln /data/d/f /data/d/hard && \
             ln -s f /data/d/sym && chown 1234:5678 /data/d/f && chmod 4751 /data/d/f && \
             chown -h 7:8 /data/d/sym && chown 42:43 /data/d && chmod 710 /data/d && \
             touch -h -d '2001-02-03 04:05:06' /data/d/sym && \
             touch -d '2001-02-03 04:05:06' /data/d/f /data/d /data && echo ready; sleep 1000";
        s.ok(&[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "own",
            "bbx",
            "sh",
            "-c",
            script,
        ]);
        poll(s, &["logs", "own"], |o| o.contains("ready"));
        let o = s.cmd(&["cp", "own:/data", "-"]);
        got.push((o.status.code(), tar_listing(&o.stdout)));
        let o = s.cmd(&["cp", "own:/data/d/f", "-"]);
        got.push((o.status.code(), tar_listing(&o.stdout)));
        let mut c = s
            .command()
            .args(["cp", "-", "own:/tmp"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(&input).unwrap();
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{} cp -: {}", s.name(), stderr(&o));
        got.push(s.seen(&[
            "exec",
            "own",
            "sh",
            "-c",
            "cd /tmp && for p in in in/f in/hard in/sym; do stat -c '%n %A %u %g %Y %h' $p; done; \
             cat in/hard; [ $(stat -c %i in/f) = $(stat -c %i in/hard) ] && echo one-file",
        ]));
        s.ok(&["rm", "-f", "own"]);
        seen.push(got);
    }
    assert_eq!(seen[0], seen[1], "docker (left) and tinibox (right) differ");
    let t = &seen[1];
    assert!(
        t[0].1
            .contains("hrwsr-x--x 1234/5678 0 2001-02-03 04:05:06 data/d/hard link to data/d/f"),
        "{}",
        t[0].1
    );
    // Docker's unpack applies the link entry's owner to the shared file: set-user-ID goes.
    assert!(
        t[2].1.contains("in/f -rwxr-x--x 1234 5678 981173106 2"),
        "{}",
        t[2].1
    );
    assert!(t[2].1.ends_with("abc\none-file"), "{}", t[2].1);
}

/// Reads `child`'s stdout line by line until one equals `line`; the lines read.
fn read_until(out: &mut impl std::io::BufRead, line: &str) -> Vec<String> {
    let mut lines = Vec::new();
    loop {
        let mut l = String::new();
        if out.read_line(&mut l).unwrap_or(0) == 0 {
            return lines;
        }
        let l = l.trim_end().to_string();
        let done = l == line;
        lines.push(l);
        if done {
            return lines;
        }
    }
}

/// Issue 21: what a container writes while attached is in its log as Docker keeps it (`run`
/// in the foreground, `start -ai` with stdin, `start -a`), and `start -a` of a running
/// container attaches to it: its output from then on, then its exit status.
#[test]
fn attached_output_is_logged_and_start_a_attaches_to_a_running_container_like_docker() {
    let (_g, _work, sides) = sides();
    let mut seen = Vec::new();
    for s in &sides {
        let mut got = Vec::new();
        // The foreground run: stdout and stderr on ours, and both kept.
        let o = s.cmd(&[
            "run",
            "--network",
            "none",
            "--name",
            "fg",
            "bbx",
            "sh",
            "-c",
            "echo to-out; echo to-err >&2; exit 2",
        ]);
        got.push((o.status.code(), format!("{}|{}", stdout(&o), stderr(&o))));
        let o = s.cmd(&["logs", "fg"]);
        got.push((o.status.code(), format!("{}|{}", stdout(&o), stderr(&o))));
        // start -ai: stdin in, output out and kept.
        s.ok(&[
            "create",
            "-i",
            "--network",
            "none",
            "--name",
            "cat",
            "bbx",
            "cat",
        ]);
        got.push(seen_with_input(s, &["start", "-ai", "cat"], "typed\n"));
        got.push(s.seen(&["logs", "cat"]));
        got.push(seen_with_input(s, &["start", "-ai", "cat"], "again\n"));
        got.push(s.seen(&["logs", "cat"]));
        // start -a of a running container: attached once its ticks come, it sees the rest.
        s.ok(&[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "bg",
            "bbx",
            "sh",
            "-c",
            "echo early; while [ ! -e /tmp/go ]; do echo tick; sleep 1; done; echo late; exit 4",
        ]);
        poll(s, &["logs", "bg"], |o| o.contains("tick"));
        let mut child = s
            .command()
            .args(["start", "-a", "bg"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let attached = read_until(&mut out, "tick");
        assert_eq!(
            attached.last().map(String::as_str),
            Some("tick"),
            "{}: {attached:?}",
            s.name()
        );
        s.ok(&["exec", "bg", "touch", "/tmp/go"]);
        let rest = read_until(&mut out, "late");
        let code = child.wait().unwrap().code();
        let lines: Vec<String> = attached.iter().chain(&rest).cloned().collect();
        got.push((
            code,
            format!(
                "early seen: {}, ends with: {:?}",
                lines.iter().any(|l| l == "early"),
                lines.last()
            ),
        ));
        got.push(s.seen(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            "bg",
        ]));
        s.ok(&["rm", "-f", "fg", "cat", "bg"]);
        seen.push(got);
    }
    assert_eq!(seen[0], seen[1], "docker (left) and tinibox (right) differ");
    let t = &seen[1];
    assert_eq!(t[0], (Some(2), "to-out\n|to-err\n".into()));
    assert_eq!(t[1], (Some(0), "to-out\n|to-err\n".into()));
    assert_eq!(t[3], (Some(0), "typed".into()));
    assert_eq!(t[5], (Some(0), "typed\nagain".into()));
    assert_eq!(
        t[6],
        (
            Some(4),
            "early seen: false, ends with: Some(\"late\")".into()
        )
    );
}

/// Issue 21: `--stop-signal` and `--stop-timeout` as Docker keeps and uses them (`stop`
/// sends the signal; a container that ignores it is killed after the timeout: 137; a
/// negative timeout, `stop -t -1` or `--stop-timeout -1`, never kills), and
/// every `--health-*` flag in `Config.Healthcheck`.
#[test]
fn stop_signal_timeout_and_health_flags_match_docker() {
    let (_g, _work, sides) = sides();
    let mut seen = Vec::new();
    for s in &sides {
        let mut got = Vec::new();
        let run = |name: &str, flags: &[&str], script: &str| {
            let mut a = vec!["run", "-d", "--network", "none", "--name", name];
            a.extend(flags);
            a.extend(["bbx", "sh", "-c", script]);
            s.ok(&a);
            poll(s, &["logs", name], |o| o.contains("ready"));
        };
        run(
            "usr1",
            &["--stop-signal", "SIGUSR1", "--stop-timeout", "30"],
            "trap 'echo got USR1; exit 7' USR1; echo ready; while :; do sleep 1; done",
        );
        run(
            "deaf",
            &["--stop-timeout", "1"],
            "trap '' TERM; echo ready; while :; do sleep 1; done",
        );
        got.push(s.seen(&[
            "inspect",
            "-f",
            "{{.Config.StopSignal}} {{.Config.StopTimeout}}",
            "usr1",
            "deaf",
        ]));
        got.push(s.seen(&["stop", "usr1", "deaf"]));
        got.push(s.seen(&["wait", "usr1", "deaf"]));
        got.push(s.seen(&["logs", "usr1"]));
        // -1 waits for as long as the container runs: `stop -t -1` overrides the container's
        // 1 s, and `--stop-timeout -1` is kept as -1.
        run(
            "endless",
            &["--stop-timeout", "1"],
            "trap '' TERM; echo ready; while :; do sleep 1; done",
        );
        let stopper = s
            .command()
            .args(["stop", "-t", "-1", "endless"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_secs(3));
        got.push(s.seen(&["inspect", "-f", "{{.State.Running}}", "endless"]));
        s.ok(&["kill", "endless"]);
        let o = stopper.wait_with_output().unwrap();
        got.push((o.status.code(), stdout(&o).trim().to_string()));
        s.ok(&[
            "create",
            "--network",
            "none",
            "--stop-timeout",
            "-1",
            "--name",
            "patient",
            "bbx",
            "true",
        ]);
        got.push(s.seen(&["inspect", "-f", "{{.Config.StopTimeout}}", "patient"]));
        s.ok(&[
            "create",
            "--network",
            "none",
            "--name",
            "hc",
            "--health-cmd",
            "true",
            "--health-interval",
            "2s",
            "--health-timeout",
            "3s",
            "--health-start-period",
            "4s",
            "--health-retries",
            "5",
            "bbx",
            "sleep",
            "10",
        ]);
        // The same object (Docker prints its keys in its struct's order, tinibox sorted).
        let (code, json) = s.seen(&["inspect", "-f", "{{json .Config.Healthcheck}}", "hc"]);
        let parsed: Value = serde_json::from_str(&json)
            .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {json}", s.name()));
        got.push((code, parsed.to_string()));
        for args in [
            &["run", "--stop-signal", "SIGNOPE", "bbx", "true"][..],
            &[
                "run",
                "--health-timeout",
                "soon",
                "--health-cmd",
                "true",
                "bbx",
                "true",
            ],
            &[
                "run",
                "--health-start-period",
                "-1s",
                "--health-cmd",
                "true",
                "bbx",
                "true",
            ],
        ] {
            let o = s.cmd(args);
            got.push((o.status.code(), String::new()));
        }
        s.ok(&["rm", "-f", "usr1", "deaf", "hc", "endless", "patient"]);
        seen.push(got);
    }
    assert_eq!(seen[0], seen[1], "docker (left) and tinibox (right) differ");
    let t = &seen[1];
    assert_eq!(t[0], (Some(0), "SIGUSR1 30\n 1".into()));
    assert_eq!(t[2], (Some(0), "7\n137".into()));
    assert_eq!(t[3], (Some(0), "ready\ngot USR1".into()));
    assert_eq!(
        t[4],
        (Some(0), "true".into()),
        "stop -t -1 killed after 1 s"
    );
    assert_eq!(t[5], (Some(0), "endless".into()));
    assert_eq!(t[6], (Some(0), "-1".into()));
}

/// Whether `s` is a time as Go's `time.Time.String()` writes it in UTC, Docker's `ps`
/// CreatedAt: `2026-11-30 18:52:44 +0000 UTC`.
fn is_go_utc_time(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() == 29
        && s.ends_with(" +0000 UTC")
        && b.iter().enumerate().take(19).all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}

/// Issue 21: `ps --format` fields (`{{.Networks}}`: `host`, `none`; `{{.CreatedAt}}` in Go's
/// time format), `logs --tail -1` (all lines, in each spelling) and a `--since` Docker's
/// daemon refuses (exit 1), `system df -v`'s sections, headers and the rows a script reads
/// (the image's tag and container count, the containers' names), and bad flags of every
/// docker-like command (125) — the same under Docker and tinibox. tinibox alone: a container
/// on the default bridge lists `bridge` (this dockerd runs without a bridge), `--tail abc`
/// exits 1 like `--since yesterday`, and each usage error names the command whose help
/// explains it.
#[test]
fn ps_fields_df_verbose_logs_tail_and_usage_errors_match_docker() {
    let (_g, _work, sides) = sides();
    let mut seen = Vec::new();
    for s in &sides {
        let mut got = Vec::new();
        s.ok(&[
            "run",
            "-d",
            "--name",
            "nh",
            "--network",
            "host",
            "bbx",
            "sleep",
            "1000",
        ]);
        s.ok(&[
            "run",
            "-d",
            "--name",
            "nn",
            "--network",
            "none",
            "bbx",
            "sh",
            "-c",
            "echo a; echo b; echo c; sleep 1000",
        ]);
        got.push(s.seen(&["ps", "--format", "{{.Names}} {{.Networks}}"]));
        for c in s.ok(&["ps", "--format", "{{.CreatedAt}}"]).lines() {
            assert!(is_go_utc_time(c), "{}: CreatedAt {c:?}", s.name());
        }
        poll(s, &["logs", "nn"], |o| o.ends_with('c'));
        for tail in [&["--tail", "-1"][..], &["-n", "-1"], &["--tail=-1"]] {
            let mut args = vec!["logs"];
            args.extend(tail);
            args.push("nn");
            got.push(s.seen(&args));
        }
        got.push((
            s.seen(&["logs", "--since", "yesterday", "nn"]).0,
            String::new(),
        ));
        let df = s.ok(&["system", "df", "-v"]);
        let mut shape = Vec::new();
        let mut names = Vec::new();
        for l in df.lines() {
            let c = cells(l);
            if l.ends_with(':') || l.starts_with("Build cache usage") {
                shape.push(l.to_string());
            } else if c
                .first()
                .is_some_and(|h| h.chars().all(|x| x.is_ascii_uppercase() || x == ' '))
            {
                shape.push(c.join("|"));
            } else if c.first().is_some_and(|r| r == "bbx") {
                shape.push(format!("{} {} {}", c[0], c[1], c.last().unwrap()));
            } else if c.len() > 2 {
                names.push(c.last().unwrap().clone());
            }
        }
        names.sort();
        got.push((Some(0), shape.join("\n")));
        got.push((Some(0), names.join(" ")));
        for args in [
            &["system", "df", "--bogus"][..],
            &["stats", "--bogus"],
            &["image", "prune", "--bogus"],
            &["container", "prune", "--bogus"],
            &["ps", "--bogus"],
            &["logs", "--bogus", "nn"],
            &["network", "ls", "--bogus"],
        ] {
            got.push((s.cmd(args).status.code(), String::new()));
        }
        // Too few arguments: Docker's CLI exits 1 ("requires at least 1 argument"), not 125.
        for args in [
            &["start"][..],
            &["stop"],
            &["rm"],
            &["run"],
            &["logs"],
            &["tag", "bbx"],
            &["rename", "nn"],
            &["pull"],
            &["rmi"],
            &["network", "create"],
        ] {
            got.push((s.cmd(args).status.code(), args.join(" ")));
        }
        if let Side::Tinibox(_) = s {
            s.ok(&["run", "-d", "--name", "nb", "bbx", "sleep", "1000"]);
            assert_eq!(
                s.ok(&["ps", "-f", "name=nb", "--format", "{{.Networks}}"]),
                "bridge"
            );
            let o = s.cmd(&["logs", "--tail", "abc", "nn"]);
            assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
            assert!(stderr(&o).contains("--tail"), "{}", stderr(&o));
            for (args, help, code) in [
                (
                    &["system", "df", "--bogus"][..],
                    "tinibox system df --help",
                    125,
                ),
                (&["system", "bogus"], "tinibox system --help", 125),
                (&["stats", "--bogus"], "tinibox stats --help", 125),
                (
                    &["image", "prune", "--bogus"],
                    "tinibox image prune --help",
                    125,
                ),
                (&["container", "bogus"], "tinibox container --help", 125),
                (&["bogus"], "tinibox --help", 1),
            ] {
                let o = s.cmd(args);
                assert_eq!(o.status.code(), Some(code), "{args:?}: {}", stderr(&o));
                assert!(
                    stderr(&o).trim().ends_with(&format!("see `{help}`")),
                    "{args:?}: {}",
                    stderr(&o)
                );
            }
            s.ok(&["rm", "-f", "nb"]);
        }
        s.ok(&["rm", "-f", "nh", "nn"]);
        seen.push(got);
    }
    assert_eq!(seen[0], seen[1], "docker (left) and tinibox (right) differ");
    let t = &seen[1];
    assert_eq!(t[0], (Some(0), "nn none\nnh host".into()));
    assert_eq!(t[1], (Some(0), "a\nb\nc".into()));
    assert_eq!(t[4], (Some(1), String::new()));
    assert_eq!(t[6], (Some(0), "nh nn".into()));
    assert!(t[7..14].iter().all(|c| c.0 == Some(125)), "{:?}", &t[7..14]);
    assert!(t[14..].iter().all(|c| c.0 == Some(1)), "{:?}", &t[14..]);
    assert_eq!(t.len(), 24, "{t:?}");
}
