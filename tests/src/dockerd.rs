//! A private Docker engine for the tests that compare with Docker or drive tinibox through it:
//! Debian's dockerd with its own data root, exec root, socket and pidfile under a temporary
//! folder, and an empty daemon.json (pinned: the host's /etc/docker/daemon.json, with its data
//! root or default runtime, is never read). Stopped and cleaned on drop.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::{require_tool, run, stderr, stdout};

/// A running private dockerd.
pub struct Dockerd {
    dir: tempfile::TempDir,
    child: std::process::Child,
    stopped: bool,
}

impl Dockerd {
    /// Starts dockerd in a new folder under /var/tmp named `prefix…`, with `extra` flags
    /// (bridge, iptables, runtimes), and waits up to 60 s until `docker version` answers
    /// (panics with its log otherwise).
    pub fn start(prefix: &str, extra: &[&str]) -> Dockerd {
        for t in ["dockerd", "docker"] {
            require_tool(t);
        }
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in("/var/tmp")
            .unwrap();
        let d = dir.path();
        std::fs::write(d.join("daemon.json"), "{}\n").unwrap();
        let log = std::fs::File::create(d.join("dockerd.log")).unwrap();
        let child = Command::new("dockerd")
            .arg("--config-file")
            .arg(d.join("daemon.json"))
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("-H")
            .arg(format!("unix://{}", d.join("docker.sock").display()))
            .arg("--pidfile")
            .arg(d.join("docker.pid"))
            .args(extra)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("start dockerd");
        let dk = Dockerd {
            dir,
            child,
            stopped: false,
        };
        let t = Instant::now();
        while !dk.docker(&["version"]).status.success() {
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "dockerd did not answer within 60 s; its log:\n{}",
                std::fs::read_to_string(dk.dir().join("dockerd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        dk
    }

    /// The daemon's folder (data, exec root, socket, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A `docker` command aimed at this daemon, stdin from /dev/null.
    pub fn command(&self) -> Command {
        let mut c = Command::new("docker");
        c.env(
            "DOCKER_HOST",
            format!("unix://{}", self.dir().join("docker.sock").display()),
        );
        c.stdin(Stdio::null());
        c
    }

    /// Runs `docker ARGS…` against this daemon.
    pub fn docker(&self, args: &[&str]) -> Output {
        run(self.command().args(args))
    }

    /// Runs `docker ARGS…`, which must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.docker(args);
        assert!(
            o.status.success(),
            "docker {args:?}: {}{}",
            stdout(&o),
            stderr(&o)
        );
        stdout(&o)
    }

    /// Removes every container, stops the daemon and unmounts what it left (once; drop calls
    /// it too). For callers that clean up more after the daemon is gone.
    pub fn stop(&mut self) {
        if std::mem::replace(&mut self.stopped, true) {
            return;
        }
        let ids = stdout(&self.docker(&["ps", "-aq"]));
        for id in ids.split_whitespace() {
            let _ = self.docker(&["rm", "-f", id]);
        }
        crate::stop_daemon(&mut self.child, self.dir.path());
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        self.stop();
    }
}
