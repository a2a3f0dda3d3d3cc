//! One container as the docker-like commands show it: its Docker state (`created`,
//! `running`, `paused`, `restarting`, `exited`, `dead`), times, exit code, and the JSON object
//! `inspect` prints (Docker's keys that scripts read: `Id`, `Created`, `Path`, `Args`,
//! `State.{Status,Running,Paused,Restarting,OOMKilled,Dead,Pid,ExitCode,Error,StartedAt,
//! FinishedAt,Health}`, `Image`, `Name`, `RestartCount`, `HostConfig`, `Mounts`, `Config.{
//! Hostname,User,Env,Cmd,Image,WorkingDir,Entrypoint,Labels,Tty,StopSignal,Healthcheck}`, `LogPath`).
//!
//! Reads the engine's record and the front folder ([`super::meta`]); changes nothing.

use std::path::Path;

use serde_json::{json, Value};

use super::meta::{self, Meta, ZERO_TIME};
use super::names::{self, LABEL_COMMAND, LOG_FILE};
use crate::container::{state::Record, Status};

/// What the docker-like commands know of one container.
pub struct View {
    /// Full id.
    pub id: String,
    /// Name (empty when it has none).
    pub name: String,
    /// The engine's record.
    pub record: Record,
    /// The front door's metadata.
    pub meta: Meta,
    /// Live engine status.
    pub status: Status,
    /// The recorded exit status of the last run, if any.
    pub exit_code: Option<i32>,
    /// The state root (where the front folder is).
    root: std::path::PathBuf,
}

impl View {
    /// The published ports while the container's init runs (empty once it stopped, as in
    /// Docker, although its lease is kept for a restart), as Docker's `ps` PORTS column writes
    /// them: `0.0.0.0:8080->80/tcp, [::]:8080->80/tcp, 127.0.0.1:5353->53/udp`.
    pub fn ports_text(&self) -> String {
        if !self.alive() {
            return String::new();
        }
        crate::net::ports_of(&self.id)
            .iter()
            .map(|p| format!("{}->{}/{}", p.host_text(), p.container_port, p.protocol))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `inspect`'s `NetworkSettings.Ports` while the init runs: `{"80/tcp": [{"HostIp":
    /// "0.0.0.0", "HostPort": "8080"}]}`, as Docker's Engine API writes it (`{}` once stopped).
    pub fn ports_object(&self) -> Value {
        let mut ports = serde_json::Map::new();
        let live = if self.alive() {
            crate::net::ports_of(&self.id)
        } else {
            Vec::new()
        };
        for p in live {
            let key = format!("{}/{}", p.container_port, p.protocol);
            let binding = serde_json::json!({
                "HostIp": p.host_ip.to_string(),
                "HostPort": p.host_port.to_string(),
            });
            match ports.get_mut(&key).and_then(Value::as_array_mut) {
                Some(list) => list.push(binding),
                None => {
                    ports.insert(key, Value::Array(vec![binding]));
                }
            }
        }
        Value::Object(ports)
    }

    /// The networks the container is attached to, sorted, as Docker's `ps --format
    /// '{{.Networks}}'` lists them: the names it asked to join (`bridge` by default, the
    /// user-defined ones, `network connect`'s), else `host` or `none` from its network
    /// mode; empty for `container:NAME` (it has no network of its own).
    pub fn network_names(&self) -> Vec<String> {
        let front = names::front_dir(&self.root, &self.id);
        if let Some(req) = crate::net::Request::load(&front) {
            let mut names = req.networks;
            names.sort();
            names.dedup();
            if !names.is_empty() {
                return names;
            }
        }
        match self
            .meta
            .host_config
            .get("NetworkMode")
            .and_then(Value::as_str)
        {
            Some(mode @ ("host" | "none")) => vec![mode.to_string()],
            _ => Vec::new(),
        }
    }

    /// Loads container `id`; None when the engine has no record of it.
    pub fn load(root: &Path, id: &str) -> Option<View> {
        let record = Record::load(root, id).ok()?;
        let status = record.live_status(&crate::container::container_dir(root, id));
        Some(View {
            id: id.to_string(),
            name: names::name_of(&record).unwrap_or("").to_string(),
            meta: Meta::load(root, id),
            exit_code: names::exit_status(root, id),
            status,
            record,
            root: root.to_path_buf(),
        })
    }

    /// When the container was created (RFC 3339).
    pub fn created(&self) -> &str {
        self.meta
            .created
            .as_deref()
            .unwrap_or(&self.record.state.created)
    }

    /// Docker's word for the state.
    pub fn state(&self) -> &'static str {
        match self.status {
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Created | Status::Creating => "created",
            // Made by `create` and never started: no process yet.
            Status::Stopped if self.never_started() => "created",
            Status::Stopped if self.meta.restarting => "restarting",
            Status::Stopped if self.exit_code.is_some() => "exited",
            Status::Stopped => "dead",
        }
    }

    /// Whether the container was made by `create` and has not run yet (its engine record
    /// has no init, and no start or exit was recorded).
    pub fn never_started(&self) -> bool {
        self.record.state.pid == 0
            && self.record.init_start_time == 0
            && self.meta.started_at.is_none()
            && self.exit_code.is_none()
    }

    /// Whether its init still runs (created, running or paused).
    pub fn alive(&self) -> bool {
        !matches!(self.status, Status::Stopped)
    }

    /// The command line as `ps` shows it: the arguments joined, those with blanks or quotes
    /// in single quotes (`sh -c 'exit 3'`), as Docker shows them.
    pub fn command(&self) -> String {
        let args = self.args();
        if args.is_empty() {
            return self
                .record
                .state
                .labels
                .get(LABEL_COMMAND)
                .cloned()
                .unwrap_or_default();
        }
        args.iter()
            .map(|a| {
                if a.is_empty()
                    || a.chars()
                        .any(|c| c.is_whitespace() || "'\"\\$`".contains(c))
                {
                    format!("'{}'", a.replace('\'', r"'\''"))
                } else {
                    a.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The process's arguments.
    pub fn args(&self) -> Vec<String> {
        self.record
            .spec
            .process()
            .as_ref()
            .and_then(|p| p.args().clone())
            .unwrap_or_default()
    }

    /// The image as the user typed it (the bundle for runc-form containers).
    pub fn image(&self) -> String {
        if self.meta.image.is_empty() {
            self.record.state.bundle.display().to_string()
        } else {
            self.meta.image.clone()
        }
    }

    /// `Up 3 minutes`, `Exited (0) 2 seconds ago`, `Created`, `Up 5 seconds (Paused)`,
    /// `Restarting (1) 1 second ago` — Docker's STATUS column.
    pub fn status_text(&self) -> String {
        let since = |t: &Option<String>| {
            meta::human_duration(meta::seconds_since(t.as_deref().unwrap_or(self.created())))
        };
        let health = match self.health().map(|h| h.status) {
            Some(s) if s == "starting" => " (health: starting)".to_string(),
            Some(s) if !s.is_empty() => format!(" ({s})"),
            _ => String::new(),
        };
        match self.state() {
            "running" => format!("Up {}{health}", since(&self.meta.started_at)),
            "paused" => format!("Up {} (Paused)", since(&self.meta.started_at)),
            "created" => "Created".into(),
            "restarting" => format!(
                "Restarting ({}) {} ago",
                self.exit_code.unwrap_or(0),
                since(&self.meta.finished_at)
            ),
            "exited" => format!(
                "Exited ({}) {} ago",
                self.exit_code.unwrap_or(0),
                since(&self.meta.finished_at)
            ),
            _ => "Dead".into(),
        }
    }

    /// The health check's state (None without checks; `starting` until the first result).
    pub fn health(&self) -> Option<super::health::State> {
        let h = self.meta.health.as_ref()?;
        super::health::argv(&h.test)?;
        let front = names::front_dir(&self.root, &self.id);
        Some(
            super::health::State::load(&front).unwrap_or_else(|| super::health::State {
                status: "starting".into(),
                ..Default::default()
            }),
        )
    }

    /// The object `inspect` prints for this container.
    pub fn inspect(&self, root: &Path) -> Value {
        let spec = &self.record.spec;
        let process = spec.process().clone().unwrap_or_default();
        let args = self.args();
        let running = self.alive();
        let front = names::front_dir(root, &self.id);
        // The store's path even while a rotation has the current file renamed away.
        let (log, log_kept) = if super::logstore::exists(&front) {
            (front.join(super::logstore::STORE_FILE), true)
        } else {
            let raw = front.join(LOG_FILE);
            let kept = raw.exists();
            (raw, kept)
        };
        let mounts: Vec<Value> = spec
            .mounts()
            .as_ref()
            .map(|ms| {
                ms.iter()
                    .filter(|m| m.typ().as_deref() == Some("bind"))
                    .filter(|m| {
                        // The /etc files the front door writes are not the user's mounts.
                        m.source().as_ref().is_some_and(|s| !s.starts_with(&front))
                    })
                    .map(|m| {
                        let opts = m.options().clone().unwrap_or_default();
                        let ro = opts.iter().any(|o| o == "ro");
                        json!({
                            "Type": "bind",
                            "Source": m.source().as_ref().map(|s| s.display().to_string()),
                            "Destination": m.destination().display().to_string(),
                            "Mode": if ro { "ro" } else { "" },
                            "RW": !ro,
                            "Propagation": "rprivate",
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut state = json!({
            "Status": self.state(),
            "Running": running && self.status != Status::Created,
            "Paused": self.status == Status::Paused,
            "Restarting": self.meta.restarting && !running,
            "OOMKilled": self.meta.oom_killed,
            "Dead": self.state() == "dead",
            "Pid": if running { self.record.state.pid } else { 0 },
            "ExitCode": if running { 0 } else { self.exit_code.unwrap_or(0) },
            "Error": "",
            "StartedAt": self.meta.started_at.clone().unwrap_or_else(|| ZERO_TIME.into()),
            "FinishedAt": self.meta.finished_at.clone().unwrap_or_else(|| ZERO_TIME.into()),
        });
        if let Some(h) = self.health() {
            state["Health"] = serde_json::to_value(h).unwrap_or_default();
        }
        let labels: serde_json::Map<String, Value> = self
            .meta
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let env = process.env().clone();
        let user = process.user();
        let user_text = if user.uid() == 0 && user.gid() == 0 {
            String::new()
        } else {
            format!("{}:{}", user.uid(), user.gid())
        };
        let host_config = if self.meta.host_config.is_object() {
            self.meta.host_config.clone()
        } else {
            json!({})
        };
        let mut object = json!({
            "Id": self.id,
            "Created": self.created(),
            "Path": args.first().cloned().unwrap_or_default(),
            "Args": args.iter().skip(1).collect::<Vec<_>>(),
            "State": state,
            "Image": if self.meta.image_id.is_empty() { self.image() } else { self.meta.image_id.clone() },
            "ResolvConfPath": front.join("resolv.conf").display().to_string(),
            "HostnamePath": front.join("hostname").display().to_string(),
            "HostsPath": front.join("hosts").display().to_string(),
            "LogPath": if log_kept { log.display().to_string() } else { String::new() },
            "Name": format!("/{}", self.name),
            "RestartCount": self.meta.restart_count,
            "Driver": if self.meta.image_id.is_empty() { "" } else { "overlay" },
            "Platform": "linux",
            "HostConfig": host_config,
            "Mounts": mounts,
            "Config": {
                "Hostname": spec.hostname().clone().unwrap_or_default(),
                "Domainname": "",
                "User": user_text,
                "Tty": process.terminal().unwrap_or(false),
                "Env": env,
                "Cmd": args,
                "Image": self.image(),
                "WorkingDir": process.cwd().display().to_string(),
                "Entrypoint": Value::Null,
                "Labels": labels,
                // Docker leaves it empty unless --stop-signal or the image's STOPSIGNAL set it.
                "StopSignal": self.meta.stop_signal.clone().unwrap_or_default(),
                "StopTimeout": self.meta.stop_timeout,
            },
            "NetworkSettings": {
                "Ports": self.ports_object(),
                "SandboxKey": format!("/proc/{}/ns/net", self.record.state.pid),
            },
        });
        // Addresses, gateway, MAC and the per-network endpoints (crate::net owns their shapes).
        if let Some(settings) = object["NetworkSettings"].as_object_mut() {
            settings.extend(crate::net::settings(&self.id, &front));
        }
        if let Some(h) = &self.meta.health {
            object["Config"]["Healthcheck"] = serde_json::to_value(h).unwrap_or_default();
        }
        object
    }
}
