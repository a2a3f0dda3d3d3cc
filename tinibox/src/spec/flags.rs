//! The `run` flags as the user types them (clap), before any validation.
//!
//! Owns the flag names, short forms and help texts only; parsing of values lives in
//! [`super::values`] and their effect on the spec in [`super::build`].

use std::path::PathBuf;

use clap::Args;

/// Docker-compatible flags of `tinibox run`.
#[derive(Debug, Clone, Default, Args)]
pub struct RunFlags {
    /// Remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Give the container a name (usable wherever an id is).
    #[arg(long)]
    pub name: Option<String>,
    /// Run in the background and print the container id.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keep stdin open (attached to the container's stdin).
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-terminal.
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Set an environment variable (KEY=VALUE, or KEY to copy it from tinibox's environment).
    #[arg(short = 'e', long = "env", value_name = "KEY[=VALUE]")]
    pub env: Vec<String>,
    /// Read environment variables from a file (KEY=VALUE lines, # comments).
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Working directory inside the container (absolute).
    #[arg(short = 'w', long = "workdir", value_name = "DIR")]
    pub workdir: Option<String>,
    /// User to run as: UID[:GID] or NAME[:GROUP] (names from the rootfs's /etc/passwd, /etc/group).
    #[arg(short = 'u', long = "user", value_name = "USER[:GROUP]")]
    pub user: Option<String>,
    /// Container hostname.
    #[arg(short = 'h', long = "hostname")]
    pub hostname: Option<String>,
    /// Bind mount a host path: SRC:DST[:ro|rw].
    #[arg(short = 'v', long = "volume", value_name = "SRC:DST[:ro]")]
    pub volume: Vec<String>,
    /// Mount a tmpfs: DST[:OPTIONS].
    #[arg(long = "tmpfs", value_name = "DST[:OPTIONS]")]
    pub tmpfs: Vec<String>,
    /// Mount the container's root filesystem read-only.
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Memory limit (e.g. 512m, 1g).
    #[arg(
        short = 'm',
        long = "memory",
        value_name = "BYTES",
        allow_hyphen_values = true
    )]
    pub memory: Option<String>,
    /// Memory plus swap limit (-1 for unlimited swap).
    #[arg(long = "memory-swap", value_name = "BYTES", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Maximum number of processes (-1 for unlimited).
    #[arg(long = "pids-limit", value_name = "N", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Number of CPUs (e.g. 0.5, 1.5).
    #[arg(long = "cpus", value_name = "N", allow_hyphen_values = true)]
    pub cpus: Option<String>,
    /// Relative CPU weight (default 1024).
    #[arg(short = 'c', long = "cpu-shares", value_name = "N")]
    pub cpu_shares: Option<u64>,
    /// Add a capability (e.g. NET_ADMIN, or ALL).
    #[arg(long = "cap-add", value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Drop a capability (e.g. CHOWN, or ALL).
    #[arg(long = "cap-drop", value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// Give the container every capability and device, no seccomp filter, no masked paths.
    #[arg(long)]
    pub privileged: bool,
    /// Network: `bridge` (the default: tinibox0, NAT, published ports), `none` (own
    /// namespace with only lo), `host` (the host's network), `container:NAME` (another
    /// container's network) or NAME (a network from `tinibox network create`).
    #[arg(
        long = "network",
        alias = "net",
        value_name = "bridge|none|host|container:NAME|NETWORK",
        default_value = "bridge"
    )]
    pub network: String,
    /// Run a tiny init as PID 1 that forwards signals and reaps zombies.
    #[arg(long)]
    pub init: bool,
    /// Set a resource limit: NAME=SOFT[:HARD] (e.g. nofile=1024:2048).
    #[arg(long = "ulimit", value_name = "NAME=SOFT[:HARD]")]
    pub ulimit: Vec<String>,
    /// Publish a container port on the host: [IP:][HOSTPORT:]CONTAINERPORT[/tcp|/udp]
    /// (bridge network; no HOSTPORT: a free one).
    #[arg(short = 'p', long = "publish", value_name = "[IP:][HOST:]PORT[/PROTO]")]
    pub publish: Vec<String>,
    /// Publish every port the image exposes on free host ports.
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// The container's IPv4 address on the network of --network (a user-defined one).
    #[arg(long = "ip", value_name = "IPV4")]
    pub ip: Option<String>,
    /// Another name the container's peers resolve it by on the network of --network (a
    /// user-defined one).
    #[arg(long = "network-alias", alias = "net-alias", value_name = "NAME")]
    pub network_alias: Vec<String>,
    /// DNS server for the container's /etc/resolv.conf (bridge network).
    #[arg(long = "dns", value_name = "IP")]
    pub dns: Vec<String>,
    /// DNS search domain for the container's /etc/resolv.conf (bridge network).
    #[arg(long = "dns-search", value_name = "DOMAIN")]
    pub dns_search: Vec<String>,
    /// Add a line to the container's /etc/hosts: HOST:IP.
    #[arg(long = "add-host", value_name = "HOST:IP")]
    pub add_host: Vec<String>,
    /// Override the image's entrypoint.
    #[arg(long = "entrypoint", value_name = "CMD")]
    pub entrypoint: Option<String>,
    /// Set metadata on the container (KEY=VALUE, or KEY for an empty value); repeatable.
    #[arg(short = 'l', long = "label", value_name = "KEY[=VALUE]")]
    pub label: Vec<String>,
    /// Restart policy of a detached container: no, on-failure[:N], always, unless-stopped.
    #[arg(long = "restart", value_name = "POLICY", default_value = "no")]
    pub restart: String,
    /// Signal that `stop` sends first (name or number; default SIGTERM).
    #[arg(long = "stop-signal", value_name = "SIGNAL")]
    pub stop_signal: Option<String>,
    /// Seconds `stop` waits before SIGKILL (default 10); negative: for as long as it runs.
    #[arg(
        long = "stop-timeout",
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub stop_timeout: Option<i64>,
    /// Parent cgroup of the container's group (`/parent/<id>` below each hierarchy root).
    #[arg(long = "cgroup-parent", value_name = "PATH")]
    pub cgroup_parent: Option<String>,
    /// Set a namespaced kernel parameter: KEY=VALUE (net.*, kernel.shm*/msg*/sem, fs.mqueue.*).
    #[arg(long = "sysctl", value_name = "KEY=VALUE")]
    pub sysctl: Vec<String>,
    /// Add a supplementary group (name from the container's /etc/group, or a GID).
    #[arg(long = "group-add", value_name = "GROUP")]
    pub group_add: Vec<String>,
    /// Give the container a host device: HOST[:CONTAINER[:PERMISSIONS]] (permissions of r, w, m).
    #[arg(long = "device", value_name = "HOST[:CONTAINER[:rwm]]")]
    pub device: Vec<String>,
    /// Size of /dev/shm (default 64m).
    #[arg(long = "shm-size", value_name = "BYTES")]
    pub shm_size: Option<String>,
    /// Log store option of a detached container: max-size=BYTES, max-file=N.
    #[arg(long = "log-opt", value_name = "KEY=VALUE")]
    pub log_opt: Vec<String>,
    /// Command the health check runs in the container (through /bin/sh -c).
    #[arg(long = "health-cmd", value_name = "COMMAND")]
    pub health_cmd: Option<String>,
    /// Time between health checks (e.g. 30s, 1m30s; default 30s).
    #[arg(long = "health-interval", value_name = "DURATION")]
    pub health_interval: Option<String>,
    /// Longest a health check may run (default 30s).
    #[arg(long = "health-timeout", value_name = "DURATION")]
    pub health_timeout: Option<String>,
    /// Consecutive failures that make the container unhealthy (default 3).
    #[arg(long = "health-retries", value_name = "N", allow_hyphen_values = true)]
    pub health_retries: Option<i64>,
    /// Time after start during which failures do not count (default 0s).
    #[arg(long = "health-start-period", value_name = "DURATION")]
    pub health_start_period: Option<String>,
    /// Disable any health check the image defines.
    #[arg(long = "no-healthcheck")]
    pub no_healthcheck: bool,
}
