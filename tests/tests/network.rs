//! tinibox's bridge networking end to end (issue 17), as root, with real kernel objects and
//! real clients: containers from the BusyBox rootfs serve with BusyBox `httpd` and `nc`, the
//! host fetches with `curl` and a UDP socket, an "upstream" server runs in a network
//! namespace the test makes, `ip` and `nft` (Debian's nftables) show the host's links and
//! ruleset, and a private dockerd with its own bridge and iptables rules runs beside tinibox.
//!
//! The bridge `tinibox0`, the table `ip tinibox` and the records in /run/tinibox/net are
//! host-wide, so the tests here run one at a time ([`SERIAL`]) and each checks that the host
//! is as before once its containers are gone. tinibox keeps `tinibox0`, its record and the
//! table's base rules for the host's lifetime (as Docker keeps `docker0`), so "before" is
//! taken once the default bridge exists ([`host_snapshot`] makes sure it does): what must be
//! gone is everything per container (veths, leases, DNAT rules, proxy processes) and every
//! user-defined network the test removed.

use std::io::Read;
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tinilinux_tests::{
    busybox_rootfs, busybox_tar, require_root, require_tool, run, stderr, stdout, StateRoot,
};

static SERIAL: Mutex<()> = Mutex::new(());

fn setup() -> (MutexGuard<'static, ()>, StateRoot) {
    require_root();
    for t in ["ip", "nft", "curl"] {
        require_tool(t);
    }
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    (guard, StateRoot::new())
}

/// A free TCP (and, most likely, UDP) port on the host, chosen by the kernel.
fn free_port() -> u16 {
    TcpListener::bind("0.0.0.0:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind a free port")
}

/// The host's links (names), its nftables ruleset and tinibox's network records with their
/// leases and definitions: what a container must leave as it found. The default bridge is
/// made first (a `--rm` container on it), since it stays once made.
fn host_snapshot(root: &StateRoot) -> (Vec<String>, String, Vec<String>) {
    let o = run(root
        .tinibox()
        .args(["run", "--rm", "--network", "bridge"])
        .arg(busybox_rootfs())
        .arg("true")
        .stdin(Stdio::null()));
    assert!(
        o.status.success(),
        "making the default bridge: {}",
        stderr(&o)
    );
    // That container's veth pair goes with its namespace, in the kernel's own worker: wait
    // for it, so "before" holds no container's veth (`tb` + 12 hex digits).
    let veth = |n: &String| {
        n.len() == 14 && n.starts_with("tb") && n[2..].chars().all(|c| c.is_ascii_hexdigit())
    };
    let end = Instant::now() + Duration::from_secs(5);
    let mut state = host_state();
    while state.0.iter().any(veth) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
        state = host_state();
    }
    state
}

/// [`host_snapshot`] without making the bridge first.
fn host_state() -> (Vec<String>, String, Vec<String>) {
    let links = stdout(&run(Command::new("ip").args(["-o", "link", "show"])));
    let mut names: Vec<String> = links
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .map(|n| n.trim().split('@').next().unwrap_or("").to_string())
        .collect();
    names.sort();
    // Stateless (-s): the packet counters of other engines' rules move with any traffic.
    let ruleset = stdout(&run(Command::new("nft").args(["-s", "list", "ruleset"])));
    let mut records: Vec<String> = std::fs::read_dir("/run/tinibox/net")
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                .map(|e| {
                    let v: serde_json::Value = serde_json::from_str(
                        &std::fs::read_to_string(e.path()).unwrap_or_default(),
                    )
                    .unwrap_or_default();
                    let leases: Vec<String> = v["leases"]
                        .as_object()
                        .map(|m| m.keys().cloned().collect())
                        .unwrap_or_default();
                    format!("{} leases {leases:?}", e.file_name().to_string_lossy())
                })
                .collect()
        })
        .unwrap_or_default();
    for e in std::fs::read_dir("/etc/tinibox/networks")
        .into_iter()
        .flatten()
        .flatten()
    {
        records.push(format!("definition {}", e.file_name().to_string_lossy()));
    }
    records.sort();
    (names, ruleset, records)
}

/// Asserts that the host is as `before`. A removed container's veth pair goes with its network
/// namespace, in the kernel's own worker (tinibox does not wait for that), so the links are
/// read again for a moment while they still differ.
fn assert_as_before(before: &(Vec<String>, String, Vec<String>), what: &str) {
    let mut after = host_state();
    let end = Instant::now() + Duration::from_secs(5);
    while after.0 != before.0 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
        after = host_state();
    }
    assert_eq!(before.0, after.0, "{what}: links differ");
    assert_eq!(before.1, after.1, "{what}: nftables ruleset differs");
    assert_eq!(before.2, after.2, "{what}: network records differ");
}

/// `tinibox run -d --network bridge ARGS ROOTFS CMD` → the container id.
fn run_detached(root: &StateRoot, args: &[&str], cmd: &[&str]) -> String {
    let o = run(root
        .tinibox()
        .args(["run", "-d", "--network", "bridge"])
        .args(args)
        .arg(busybox_rootfs())
        .args(cmd)
        .stdin(Stdio::null()));
    assert!(
        o.status.success(),
        "run -d {args:?} {cmd:?}: {}",
        stderr(&o)
    );
    stdout(&o).trim().to_string()
}

/// `tinibox run --rm ARGS ROOTFS CMD` → (exit code, stdout, stderr).
fn run_once(root: &StateRoot, args: &[&str], cmd: &[&str]) -> (i32, String, String) {
    let o = run(root
        .tinibox()
        .args(["run", "--rm"])
        .args(args)
        .arg(busybox_rootfs())
        .args(cmd)
        .stdin(Stdio::null()));
    (o.status.code().unwrap_or(-1), stdout(&o), stderr(&o))
}

/// A folder with `index.html` holding `text`, for httpd (`-v DIR:/www:ro`).
fn www(text: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("index.html"), text).unwrap();
    d
}

/// `curl -s URL` until it answers (the server may still be starting), at most 20 s.
fn curl(url: &str) -> String {
    let t = Instant::now();
    loop {
        let o = run(Command::new("curl").args(["-sS", "--max-time", "3", url]));
        if o.status.success() {
            return stdout(&o);
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "curl {url}: {}",
            stderr(&o)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The host's address on the link of its default route.
fn host_address() -> String {
    let o = stdout(&run(Command::new("ip").args([
        "-4",
        "-o",
        "route",
        "get",
        "192.0.2.250",
    ])));
    let words: Vec<&str> = o.split_whitespace().collect();
    let i = words
        .iter()
        .position(|w| *w == "src")
        .expect("src in ip route get");
    words[i + 1].to_string()
}

#[test]
fn published_tcp_port_answers_on_loopback_and_the_host_address() {
    let (_g, root) = setup();
    let before = host_snapshot(&root);
    let site = www("hello from a bridged container\n");
    let port = free_port();
    let vol = format!("{}:/www:ro", site.path().display());
    let publish = format!("{port}:80");
    run_detached(
        &root,
        &["--name", "web", "-v", &vol, "-p", &publish],
        &["httpd", "-f", "-p", "80", "-h", "/www"],
    );
    let page = "hello from a bridged container\n";
    assert_eq!(curl(&format!("http://127.0.0.1:{port}/")), page);
    assert_eq!(curl(&format!("http://{}:{port}/", host_address())), page);
    let ports = stdout(&run(root.tinibox().args(["port", "web"])));
    assert_eq!(ports.trim(), format!("80/tcp -> 0.0.0.0:{port}"));
    // Inside: eth0 with an address of the bridge's subnet and a default route.
    let ip = stdout(&run(
        Command::new("nft").args(["list", "table", "ip", "tinibox"])
    ));
    assert!(
        ip.contains(&format!("dport {port} dnat to 10.89.0.")),
        "{ip}"
    );
    let o = run(root.tinibox().args(["rm", "-f", "web"]));
    assert!(o.status.success(), "rm: {}", stderr(&o));
    assert_as_before(&before, "after rm -f");
}

#[test]
fn a_random_host_port_and_a_loopback_only_port() {
    let (_g, root) = setup();
    let before = host_snapshot(&root);
    let site = www("random\n");
    let vol = format!("{}:/www:ro", site.path().display());
    run_detached(
        &root,
        &[
            "--name",
            "rnd",
            "-v",
            &vol,
            "-p",
            "80",
            "-p",
            "127.0.0.1::80/tcp",
        ],
        &["httpd", "-f", "-p", "80", "-h", "/www"],
    );
    let lines = stdout(&run(root.tinibox().args(["port", "rnd"])));
    let hosts: Vec<&str> = lines
        .lines()
        .map(|l| l.rsplit(' ').next().unwrap())
        .collect();
    assert_eq!(hosts.len(), 2, "{lines}");
    assert!(hosts[0].starts_with("0.0.0.0:"), "{lines}");
    assert!(hosts[1].starts_with("127.0.0.1:"), "{lines}");
    for h in &hosts {
        let port = h.rsplit(':').next().unwrap();
        assert_eq!(curl(&format!("http://127.0.0.1:{port}/")), "random\n");
    }
    // The loopback-only port is not published on the host's other addresses.
    let lo_port = hosts[1].rsplit(':').next().unwrap();
    let o = run(Command::new("curl").args([
        "-sS",
        "--max-time",
        "3",
        &format!("http://{}:{lo_port}/", host_address()),
    ]));
    assert!(!o.status.success(), "reached the 127.0.0.1-only port");
    run(root.tinibox().args(["rm", "-f", "rnd"]));
    assert_as_before(&before, "after rm -f");
}

/// A UDP echo server (C, linked statically with musl-gcc so the BusyBox rootfs can run it):
/// answers every datagram on PORT with `echo: ` and the datagram.
fn udp_echo_server(dir: &Path) -> PathBuf {
    require_tool("musl-gcc");
    let src = dir.join("udp-echo.c");
    std::fs::write(
        &src,
        r#"#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
int main(int argc, char **argv) {
    /* IPv6 socket, IPv4 too (v4-mapped): one server for both families. */
    int s = socket(AF_INET6, SOCK_DGRAM, 0);
    struct sockaddr_in6 a = {0};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(atoi(argv[1]));
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0) return 1;
    for (;;) {
        char buf[512] = "echo: ";
        struct sockaddr_in6 peer;
        socklen_t len = sizeof peer;
        ssize_t n = recvfrom(s, buf + 6, sizeof buf - 6, 0, (struct sockaddr *)&peer, &len);
        if (n > 0) sendto(s, buf, n + 6, 0, (struct sockaddr *)&peer, len);
    }
}
"#,
    )
    .unwrap();
    let bin = dir.join("udp-echo");
    let o = run(Command::new("musl-gcc")
        .args(["-static", "-O2", "-o"])
        .arg(&bin)
        .arg(&src));
    assert!(o.status.success(), "musl-gcc: {}", stderr(&o));
    bin
}

#[test]
fn published_udp_port_carries_datagrams() {
    let (_g, root) = setup();
    let before = host_snapshot(&root);
    let tools = tempfile::tempdir().unwrap();
    let server = udp_echo_server(tools.path());
    let port = free_port();
    let publish = format!("{port}:53/udp");
    let vol = format!("{}:/udp-echo:ro", server.display());
    run_detached(
        &root,
        &["--name", "udp", "-p", &publish, "-v", &vol],
        &["/udp-echo", "53"],
    );
    let line = stdout(&run(root.tinibox().args(["port", "udp"])));
    assert_eq!(line.trim(), format!("53/udp -> 0.0.0.0:{port}"));
    for target in ["127.0.0.1".to_string(), host_address()] {
        let sock = UdpSocket::bind("0.0.0.0:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let t = Instant::now();
        let answer = loop {
            sock.send_to(b"ping over udp", (target.as_str(), port))
                .unwrap();
            let mut buf = [0u8; 512];
            if let Ok((n, _)) = sock.recv_from(&mut buf) {
                break String::from_utf8_lossy(&buf[..n]).to_string();
            }
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "no UDP answer through {target}:{port}"
            );
        };
        assert_eq!(answer, "echo: ping over udp");
    }
    run(root.tinibox().args(["rm", "-f", "udp"]));
    assert_as_before(&before, "after rm -f");
}

/// A network namespace with a veth pair to the host (the "upstream"), removed on drop.
struct Upstream {
    ns: String,
    host_if: String,
}

impl Upstream {
    fn new(n: u32) -> Upstream {
        let ns = format!("tbup{n}");
        let host_if = format!("tbuh{n}");
        let _ = run(Command::new("ip").args(["netns", "del", &ns]));
        let _ = run(Command::new("ip").args(["link", "del", &host_if]));
        for args in [
            vec!["netns", "add", &ns],
            vec![
                "link", "add", &host_if, "type", "veth", "peer", "name", "up0", "netns", &ns,
            ],
            vec!["addr", "add", "198.18.77.1/30", "dev", &host_if],
            vec!["link", "set", &host_if, "up"],
            vec!["-n", &ns, "addr", "add", "198.18.77.2/30", "dev", "up0"],
            vec!["-n", &ns, "link", "set", "up0", "up"],
            vec!["-n", &ns, "link", "set", "lo", "up"],
        ] {
            let o = run(Command::new("ip").args(&args));
            assert!(o.status.success(), "ip {args:?}: {}", stderr(&o));
        }
        Upstream { ns, host_if }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .output();
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
    }
}

#[test]
fn outbound_traffic_is_masqueraded_to_the_host_address() {
    let (_g, root) = setup();
    require_tool("python3");
    let up = Upstream::new(std::process::id() % 1000);
    // The upstream server answers with the address it sees the client come from.
    let server = r#"
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        b = self.client_address[0].encode()
        self.send_response(200); self.send_header('Content-Length', str(len(b))); self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a): pass
http.server.HTTPServer(('198.18.77.2', 8000), H).serve_forever()
"#;
    let mut srv = Command::new("ip")
        .args(["netns", "exec", &up.ns, "python3", "-c", server])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let before = host_snapshot(&root);
    let t = Instant::now();
    let seen = loop {
        let (code, out, err) = run_once(
            &root,
            &["--network", "bridge"],
            // (Debian's static BusyBox wget crashes with -T; the test's loop bounds the wait.)
            &["wget", "-qO-", "http://198.18.77.2:8000/"],
        );
        if code == 0 {
            break out;
        }
        if t.elapsed() > Duration::from_secs(20) {
            let _ = srv.kill();
            let mut e = String::new();
            let _ = srv.stderr.take().unwrap().read_to_string(&mut e);
            panic!("wget from the container failed: {err}; server: {e}");
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    let _ = srv.kill();
    let _ = srv.wait();
    // Masqueraded: the upstream sees the host's address on its link, not 10.89.0.x.
    assert_eq!(seen.trim(), "198.18.77.1");
    assert_as_before(&before, "after run --rm");
}

#[test]
fn network_none_has_only_lo_and_bridge_has_eth0() {
    let (_g, root) = setup();
    let (code, out, err) = run_once(&root, &["--network", "none"], &["ls", "/sys/class/net"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), ["lo"]);
    let (code, out, err) = run_once(
        &root,
        &["--network", "bridge"],
        &[
            "sh",
            "-c",
            "ls /sys/class/net; ip -4 -o addr show eth0; ip route",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("eth0\nlo\n"), "{out}");
    assert!(out.contains("inet 10.89.0."), "{out}");
    assert!(out.contains("default via 10.89.0.1 dev eth0"), "{out}");
}

#[test]
fn dns_flags_and_hosts_entries() {
    let (_g, root) = setup();
    let (code, out, err) = run_once(
        &root,
        &[
            "--network",
            "bridge",
            "--hostname",
            "web1",
            "--dns",
            "192.0.2.53",
            "--dns-search",
            "example.test",
            "--add-host",
            "db.example.test:192.0.2.9",
        ],
        &[
            "sh",
            "-c",
            "cat /etc/resolv.conf; echo ---; cat /etc/hosts; echo ---; hostname; ping -c1 -W1 db.example.test 2>&1 | head -1",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let parts: Vec<&str> = out.split("---\n").collect();
    assert!(parts[0].contains("nameserver 192.0.2.53\n"), "{out}");
    assert!(parts[0].contains("search example.test\n"), "{out}");
    assert_eq!(parts[0].matches("nameserver").count(), 1, "{out}");
    assert!(parts[1].contains("192.0.2.9\tdb.example.test\n"), "{out}");
    assert!(
        parts[1]
            .lines()
            .any(|l| l.starts_with("10.89.0.") && l.ends_with("\tweb1")),
        "{out}"
    );
    assert!(parts[2].starts_with("web1\n"), "{out}");
    // BusyBox's resolver finds the --add-host name in /etc/hosts.
    assert!(parts[2].contains("(192.0.2.9)"), "{out}");
    // Without --dns: the host's nameservers minus loopback ones (or Docker's fallback).
    let (code, out, _) = run_once(
        &root,
        &["--network", "bridge"],
        &["cat", "/etc/resolv.conf"],
    );
    assert_eq!(code, 0);
    assert!(out.contains("nameserver "), "{out}");
    assert!(!out.contains("nameserver 127."), "{out}");
}

#[test]
fn bad_input_and_a_port_in_use_leave_nothing() {
    let (_g, root) = setup();
    let before = host_snapshot(&root);
    let holder = TcpListener::bind("0.0.0.0:0").unwrap();
    let busy = holder.local_addr().unwrap().port();
    let busy_spec = format!("{busy}:80");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["-p", &busy_spec], "in use"),
        (vec!["-p", "70000:80"], "out of range"),
        (vec!["-p", "80:0"], "out of range"),
        (vec!["-p", "x:80"], "not a number"),
        (vec!["-p", "80/sctp"], "not tcp or udp"),
        (vec!["-p", "999.1.1.1:80:80"], "not an IPv4 address"),
        (vec!["--add-host", "nocolon"], "--add-host"),
        (vec!["--dns", "not-an-ip"], "--dns"),
        // A newline would add its own line (a nameserver) to the container's resolv.conf.
        (
            vec!["--dns-search", "a\nnameserver 6.6.6.6"],
            "--dns-search",
        ),
        (vec!["--network", "nosuchnet"], "--network"),
    ];
    for (flags, want) in cases {
        let mut args = vec!["--network", "bridge"];
        if flags[0] == "--network" {
            args.clear();
        }
        args.extend(flags.iter().copied());
        let (code, _, err) = run_once(&root, &args, &["true"]);
        assert_eq!(code, 125, "{flags:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{flags:?}: {err}");
        assert!(err.contains(want), "{flags:?}: {err}");
        assert_as_before(&before, &format!("after {flags:?}"));
    }
    let ps = stdout(&run(root.tinibox().args(["ps", "-a", "-q"])));
    assert_eq!(ps.trim(), "", "containers left: {ps}");
    // A second container may not take a host port the first one publishes.
    let port = free_port();
    let spec = format!("{port}:80");
    run_detached(&root, &["--name", "first", "-p", &spec], &["sleep", "60"]);
    let (code, _, err) = run_once(&root, &["--network", "bridge", "-p", &spec], &["true"]);
    assert_eq!(code, 125, "{err}");
    assert!(err.contains("already published"), "{err}");
    run(root.tinibox().args(["rm", "-f", "first"]));
    assert_as_before(&before, "after rm -f");
    drop(holder);
}

/// The pid in `/run/tinibox/net/bridge.json` of container `id`.
fn lease_pid(id: &str) -> i32 {
    let text = std::fs::read_to_string("/run/tinibox/net/bridge.json").unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["leases"][id]["pid"].as_i64().expect("lease pid") as i32
}

fn parent_of(pid: i32) -> i32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = stat.rsplit(')').next().unwrap();
    after.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_killed_tinibox_leaves_nothing_after_the_next_command() {
    let (_g, root) = setup();
    let before = host_snapshot(&root);
    let port = free_port();
    let spec = format!("{port}:80");
    let id = run_detached(&root, &["-p", &spec], &["sleep", "300"]);
    let init = lease_pid(&id);
    let monitor = parent_of(init);
    // SIGKILL the monitor (tinibox) first, then the container: no `finish` runs.
    // SAFETY: signalling processes this test started.
    unsafe {
        libc::kill(monitor, libc::SIGKILL);
        libc::kill(init, libc::SIGKILL);
    }
    let t = Instant::now();
    while Path::new(&format!("/proc/{init}")).exists() && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    // The stale lease still holds the port's rule until the next command collects it.
    let table = stdout(&run(
        Command::new("nft").args(["list", "table", "ip", "tinibox"])
    ));
    assert!(table.contains(&format!("dport {port}")), "{table}");
    let (code, _, err) = run_once(&root, &["--network", "bridge", "-p", &spec], &["true"]);
    assert_eq!(code, 0, "the next run could not take the port: {err}");
    run(root.tinibox().args(["rm", "-f", &id]));
    assert_as_before(&before, "after the next command");
}

/// `nft list tables`, one line a table.
fn nft_tables() -> Vec<String> {
    stdout(&run(Command::new("nft").args(["list", "tables"])))
        .lines()
        .map(str::to_string)
        .collect()
}

/// A private dockerd with Docker's own bridge and iptables rules (the point of the test), on
/// a subnet of its own; on drop, after the daemon, its `docker0` and the nftables tables it
/// added are removed, so the host is left as the test found it.
struct Dockerd {
    daemon: tinilinux_tests::dockerd::Dockerd,
    /// The nftables tables before dockerd started.
    tables: Vec<String>,
    /// The host's links before dockerd started (its networks' `br-…` bridges are removed on
    /// drop when a failed test left them).
    links: Vec<String>,
}

impl std::ops::Deref for Dockerd {
    type Target = tinilinux_tests::dockerd::Dockerd;
    fn deref(&self) -> &Self::Target {
        &self.daemon
    }
}

impl Dockerd {
    fn start() -> Dockerd {
        Dockerd::start_with(&[])
    }

    /// [`Dockerd::start`] with more daemon flags.
    fn start_with(extra: &[&str]) -> Dockerd {
        let tables = nft_tables();
        let links = host_state().0;
        let mut args = vec!["--bip", "198.19.77.1/24"];
        args.extend_from_slice(extra);
        let daemon = tinilinux_tests::dockerd::Dockerd::start("tbx-net-dockerd-", &args);
        Dockerd {
            daemon,
            tables,
            links,
        }
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        self.daemon.stop();
        let _ = Command::new("ip").args(["link", "del", "docker0"]).output();
        for l in host_state().0 {
            if l.starts_with("br-") && !self.links.contains(&l) {
                let _ = Command::new("ip").args(["link", "del", &l]).output();
            }
        }
        for t in nft_tables() {
            if !self.tables.contains(&t) {
                let words: Vec<&str> = t.split_whitespace().collect();
                if let ["table", family, name] = words.as_slice() {
                    if *name == "tinibox" {
                        continue;
                    }
                    let _ = Command::new("nft")
                        .args(["delete", "table", family, name])
                        .output();
                }
            }
        }
    }
}

#[test]
fn publish_all_and_dockers_bridge_side_by_side() {
    let (_g, root) = setup();
    let dk = Dockerd::start();
    let tmp = tempfile::tempdir().unwrap();
    let tar = busybox_tar(tmp.path());
    dk.ok(&[
        "import",
        "--change",
        "EXPOSE 80/tcp",
        tar.to_str().unwrap(),
        "tbx-net-web:1",
    ]);
    let site = www("served by docker\n");
    let vol = format!("{}:/www:ro", site.path().display());
    let dport = free_port();
    dk.ok(&[
        "run",
        "-d",
        "--name",
        "dweb",
        "-v",
        &vol,
        "-p",
        &format!("{dport}:80"),
        "tbx-net-web:1",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]);
    assert_eq!(
        curl(&format!("http://{}:{dport}/", host_address())),
        "served by docker\n"
    );
    let nat_before = stdout(&run(
        Command::new("nft").args(["-s", "list", "table", "ip", "nat"])
    ));
    // The same image, saved by Docker and loaded into tinibox: -P publishes its EXPOSE 80.
    let archive = tmp.path().join("web.tar");
    dk.ok(&["save", "-o", archive.to_str().unwrap(), "tbx-net-web:1"]);
    let o = run(root.tinibox().arg("load").arg(&archive));
    assert!(o.status.success(), "tinibox load: {}", stderr(&o));
    let site2 = www("served by tinibox\n");
    let vol2 = format!("{}:/www:ro", site2.path().display());
    let o = run(root
        .tinibox()
        .args([
            "run",
            "-d",
            "--network",
            "bridge",
            "--name",
            "tweb",
            "-P",
            "-v",
            &vol2,
        ])
        .args(["tbx-net-web:1", "httpd", "-f", "-p", "80", "-h", "/www"]));
    assert!(o.status.success(), "tinibox run -P: {}", stderr(&o));
    let line = stdout(&run(root.tinibox().args(["port", "tweb"])));
    assert!(line.starts_with("80/tcp -> 0.0.0.0:"), "{line}");
    let tport = line.trim().rsplit(':').next().unwrap().to_string();
    assert_eq!(
        curl(&format!("http://{}:{tport}/", host_address())),
        "served by tinibox\n"
    );
    assert_eq!(
        curl(&format!("http://127.0.0.1:{tport}/")),
        "served by tinibox\n"
    );
    // `ps` PORTS and `inspect` NetworkSettings.Ports in Docker's shapes, beside Docker's own
    // (Docker may add an IPv6 entry `:::PORT->80/tcp`; tinibox publishes IPv4 only).
    let docker_ports = dk.ok(&["ps", "--filter", "name=dweb", "--format", "{{.Ports}}"]);
    let first = docker_ports.trim().split(", ").next().unwrap_or_default();
    assert_eq!(first, format!("0.0.0.0:{dport}->80/tcp"), "{docker_ports}");
    let ours = stdout(&run(root.tinibox().args([
        "ps",
        "--filter",
        "name=tweb",
        "--format",
        "{{.Ports}}",
    ])));
    assert_eq!(ours.trim(), first.replace(&dport.to_string(), &tport));
    let docker_inspect: serde_json::Value =
        serde_json::from_str(&dk.ok(&["inspect", "-f", "{{json .NetworkSettings.Ports}}", "dweb"]))
            .unwrap();
    let ours: serde_json::Value = serde_json::from_str(&stdout(&run(root.tinibox().args([
        "inspect",
        "-f",
        "{{json .NetworkSettings.Ports}}",
        "tweb",
    ]))))
    .unwrap();
    assert_eq!(docker_inspect["80/tcp"][0]["HostIp"], "0.0.0.0");
    assert_eq!(ours["80/tcp"][0]["HostIp"], "0.0.0.0", "{ours}");
    assert_eq!(ours["80/tcp"][0]["HostPort"], tport.as_str(), "{ours}");
    assert_eq!(
        docker_inspect["80/tcp"][0]["HostPort"],
        dport.to_string().as_str()
    );
    // Stopped: PORTS is empty on both sides.
    dk.ok(&["stop", "-t", "1", "dweb"]);
    let o = run(root.tinibox().args(["stop", "-t", "1", "tweb"]));
    assert!(o.status.success(), "tinibox stop: {}", stderr(&o));
    let docker_ports = dk.ok(&[
        "ps",
        "-a",
        "--filter",
        "name=dweb",
        "--format",
        "{{.Ports}}",
    ]);
    let ours = stdout(&run(root.tinibox().args([
        "ps",
        "-a",
        "--filter",
        "name=tweb",
        "--format",
        "{{.Ports}}",
    ])));
    assert_eq!((docker_ports.trim(), ours.trim()), ("", ""));
    dk.ok(&["start", "dweb"]);
    // Both work side by side, and tinibox left Docker's table alone.
    assert_eq!(
        curl(&format!("http://{}:{dport}/", host_address())),
        "served by docker\n"
    );
    run(root.tinibox().args(["rm", "-f", "tweb"]));
    let nat_after = stdout(&run(
        Command::new("nft").args(["-s", "list", "table", "ip", "nat"])
    ));
    assert_eq!(nat_before, nat_after, "Docker's nat table changed");
    assert_eq!(
        curl(&format!("http://{}:{dport}/", host_address())),
        "served by docker\n"
    );
    let (code, out, err) = run_once(
        &root,
        &["--network", "bridge"],
        &["sh", "-c", "ip -4 -o addr show eth0"],
    );
    assert_eq!(code, 0, "a bridge container after Docker's rules: {err}");
    assert!(out.contains("10.89.0."), "{out}");
    drop(dk);
}

/// A network name unique to this test process.
fn net_name(what: &str) -> String {
    format!("tbxt-{what}-{}", std::process::id())
}

/// `tinibox network ARGS` → (exit code, stdout, stderr).
fn network(root: &StateRoot, args: &[&str]) -> (i32, String, String) {
    let o = run(root
        .tinibox()
        .arg("network")
        .args(args)
        .stdin(Stdio::null()));
    (o.status.code().unwrap_or(-1), stdout(&o), stderr(&o))
}

/// `tinibox exec CONTAINER sh -c SCRIPT` → stdout (asserts success).
fn exec_sh(root: &StateRoot, container: &str, script: &str) -> String {
    let o = run(root.tinibox().args(["exec", container, "sh", "-c", script]));
    assert!(
        o.status.success(),
        "exec {container} {script}: {}",
        stderr(&o)
    );
    stdout(&o)
}

#[test]
fn containers_on_a_user_defined_network_reach_each_other_by_name() {
    let (_g, root) = setup();
    let before = host_snapshot(&root);
    let net = net_name("names");
    let (code, id, err) = network(&root, &["create", &net]);
    assert_eq!(code, 0, "network create: {err}");
    assert_eq!(id.trim().len(), 64, "{id}");
    let (_, ls, _) = network(&root, &["ls"]);
    assert!(
        ls.lines().any(|l| l.contains(&net) && l.contains("bridge")),
        "{ls}"
    );
    let site = www("served by name\n");
    let vol = format!("{}:/www:ro", site.path().display());
    let o = run(root
        .tinibox()
        .args([
            "run",
            "-d",
            "--network",
            &net,
            "--name",
            "namedweb",
            "-v",
            &vol,
        ])
        .arg(busybox_rootfs())
        .args(["httpd", "-f", "-p", "80", "-h", "/www"])
        .stdin(Stdio::null()));
    assert!(o.status.success(), "run on {net}: {}", stderr(&o));
    // A second member finds the first by name with BusyBox's ping and wget.
    let (code, out, err) = run_once(
        &root,
        &["--network", &net, "--name", "namedclient"],
        &[
            "sh",
            "-c",
            "ping -c1 -W2 namedweb | head -1; for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O- http://namedweb/ && break; sleep 0.3; done",
        ],
    );
    assert_eq!(code, 0, "{out} {err}");
    assert!(out.starts_with("PING namedweb (10.89."), "{out}");
    assert!(out.ends_with("served by name\n"), "{out}");
    // The first member learnt the second one's name while it ran, and forgets it after.
    let hosts = exec_sh(&root, "namedweb", "cat /etc/hosts");
    assert!(!hosts.contains("namedclient"), "{hosts}");
    // inspect: Docker's shape, the member with its address in the subnet.
    let (code, json, err) = network(&root, &["inspect", &net]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).expect("inspect is JSON");
    let n = &v[0];
    assert_eq!(n["Name"], net.as_str());
    assert_eq!(n["Driver"], "bridge");
    let subnet = n["IPAM"]["Config"][0]["Subnet"]
        .as_str()
        .unwrap()
        .to_string();
    let members: Vec<&serde_json::Value> = n["Containers"].as_object().unwrap().values().collect();
    assert_eq!(members.len(), 1, "{json}");
    assert_eq!(members[0]["Name"], "namedweb");
    let prefix = subnet.rsplit_once('.').unwrap().0;
    assert!(
        members[0]["IPv4Address"]
            .as_str()
            .unwrap()
            .starts_with(prefix),
        "{json}"
    );
    // connect/disconnect: a container on the default bridge joins as eth1, reaches the
    // server by name, and leaves.
    run_detached(&root, &["--name", "joiner"], &["sleep", "120"]);
    let (code, _, err) = network(&root, &["connect", &net, "joiner"]);
    assert_eq!(code, 0, "connect: {err}");
    let out = exec_sh(
        &root,
        "joiner",
        "ls /sys/class/net; wget -q -O- http://namedweb/",
    );
    assert_eq!(out, "eth0\neth1\nlo\nserved by name\n");
    let hosts = exec_sh(&root, "namedweb", "cat /etc/hosts");
    assert!(hosts.contains("joiner"), "{hosts}");
    let (code, _, err) = network(&root, &["disconnect", &net, "joiner"]);
    assert_eq!(code, 0, "disconnect: {err}");
    assert_eq!(exec_sh(&root, "joiner", "ls /sys/class/net"), "eth0\nlo\n");
    let hosts = exec_sh(&root, "namedweb", "cat /etc/hosts");
    assert!(!hosts.contains("joiner"), "{hosts}");
    // A network in use is not removed; once its member is gone it is, with its bridge.
    let (code, _, err) = network(&root, &["rm", &net]);
    assert_eq!(code, 125, "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("in use by namedweb"), "{err}");
    run(root.tinibox().args(["rm", "-f", "namedweb", "joiner"]));
    let (code, _, err) = network(&root, &["rm", &net]);
    assert_eq!(code, 0, "network rm: {err}");
    assert_as_before(&before, "after rm and network rm");
}

#[test]
fn bad_network_input_leaves_nothing() {
    let (_g, root) = setup();
    let taken = net_name("taken");
    let (code, _, err) = network(&root, &["create", "--subnet", "10.89.177.0/24", &taken]);
    assert_eq!(code, 0, "{err}");
    let before = host_snapshot(&root);
    let other = net_name("other");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["create", "--subnet", "10.89.177.128/25", &other],
            "overlaps network",
        ),
        (
            vec!["create", "--subnet", "10.89.0.0/16", &other],
            "overlaps network",
        ),
        (
            vec!["create", "--subnet", "10.1.2.0/33", &other],
            "--subnet",
        ),
        (
            vec!["create", "--subnet", "not-a-cidr", &other],
            "not an IPv4 CIDR",
        ),
        (
            vec!["create", "--subnet", "10.89.178.1/24", &other],
            "host bits",
        ),
        (
            vec![
                "create",
                "--subnet",
                "10.89.178.0/24",
                "--gateway",
                "10.89.179.1",
                &other,
            ],
            "--gateway",
        ),
        // Special-purpose ranges: a bridge on them would take the host's loopback or
        // link-local traffic.
        (
            vec!["create", "--subnet", "127.0.0.0/8", &other],
            "loopback",
        ),
        (
            vec!["create", "--subnet", "224.0.0.0/24", &other],
            "multicast",
        ),
        (
            vec![
                "create",
                "--ipv6",
                "--subnet",
                "10.89.178.0/24",
                "--subnet",
                "fe80::/64",
                &other,
            ],
            "link-local",
        ),
        (vec!["create", &taken], "already exists"),
        (vec!["create", "host"], "reserved"),
        (vec!["create", "bad/name"], "invalid"),
        (vec!["create", "-d", "macvlan", &other], "--driver"),
        (vec!["rm", "bridge"], "pre-defined"),
    ];
    for (args, want) in cases {
        let (code, _, err) = network(&root, &args);
        assert_eq!(code, 125, "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert_as_before(&before, &format!("after {args:?}"));
    }
    // Something missing: 1, as Docker's CLI exits when its daemon answers "not found".
    let missing: Vec<(Vec<&str>, &str)> = vec![
        (vec!["rm", "nosuchnet"], "not found"),
        (vec!["inspect", "nosuchnet"], "not found"),
        // Listed by `network ls`, but modes of --network rather than networks to manage.
        (
            vec!["inspect", "host"],
            "pre-defined (the host's own network stack)",
        ),
        (
            vec!["inspect", "none"],
            "give `--network none` when the container is made",
        ),
        (
            vec!["connect", "nosuchnet", "nosuchcontainer"],
            "nosuchcontainer",
        ),
        (
            vec!["disconnect", "bridge", "nosuchcontainer"],
            "nosuchcontainer",
        ),
    ];
    for (args, want) in missing {
        let (code, _, err) = network(&root, &args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert_as_before(&before, &format!("after {args:?}"));
    }
    for (flags, want) in [
        (vec!["--network", "nosuchnet"], "not found"),
        (vec!["--network", "container:nosuch"], "container:nosuch"),
        (vec!["--network", &taken, "-p", "70000:80"], "out of range"),
    ] {
        let (code, _, err) = run_once(&root, &flags, &["true"]);
        assert_eq!(code, 125, "{flags:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{flags:?}: {err}");
        assert!(err.contains(want), "{flags:?}: {err}");
        assert_as_before(&before, &format!("after run {flags:?}"));
    }
    let (code, _, err) = network(&root, &["rm", &taken]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn network_container_mode_shares_the_other_containers_namespace() {
    let (_g, root) = setup();
    let before = host_snapshot(&root);
    let site = www("shared namespace\n");
    let vol = format!("{}:/www:ro", site.path().display());
    run_detached(
        &root,
        &["--name", "nsbase", "-h", "basehost", "-v", &vol],
        &["httpd", "-f", "-p", "80", "-h", "/www"],
    );
    let base_ip = exec_sh(&root, "nsbase", "ip -4 -o addr show eth0");
    let (code, out, err) = run_once(
        &root,
        &["--network", "container:nsbase"],
        &[
            "sh",
            "-c",
            "ip -4 -o addr show eth0; hostname; for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O- http://127.0.0.1/ && break; sleep 0.3; done",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("{base_ip}basehost\nshared namespace\n"));
    // Docker's conflicts: ports and names belong to the other container.
    for flags in [
        vec!["--network", "container:nsbase", "-p", "80"],
        vec!["--network", "container:nsbase", "--hostname", "x"],
    ] {
        let (code, _, err) = run_once(&root, &flags, &["true"]);
        assert_eq!(code, 125, "{flags:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{flags:?}: {err}");
    }
    run(root.tinibox().args(["rm", "-f", "nsbase"]));
    assert_as_before(&before, "after rm -f");
}

#[test]
fn a_restarted_container_rejoins_its_network_with_its_ports() {
    let (_g, root) = setup();
    let before = host_snapshot(&root);
    let net = net_name("restart");
    let (code, _, err) = network(&root, &["create", &net]);
    assert_eq!(code, 0, "{err}");
    let site = www("after restart\n");
    let vol = format!("{}:/www:ro", site.path().display());
    let port = free_port();
    let publish = format!("{port}:80");
    let o = run(root
        .tinibox()
        .args([
            "run",
            "-d",
            "--network",
            &net,
            "--name",
            "again",
            "-p",
            &publish,
            "-v",
            &vol,
        ])
        .arg(busybox_rootfs())
        .args(["httpd", "-f", "-p", "80", "-h", "/www"])
        .stdin(Stdio::null()));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        curl(&format!("http://127.0.0.1:{port}/")),
        "after restart\n"
    );
    let o = run(root.tinibox().args(["restart", "again"]));
    assert!(o.status.success(), "restart: {}", stderr(&o));
    assert_eq!(
        curl(&format!("http://127.0.0.1:{port}/")),
        "after restart\n"
    );
    assert_eq!(
        curl(&format!("http://{}:{port}/", host_address())),
        "after restart\n"
    );
    let ports = stdout(&run(root.tinibox().args(["port", "again"])));
    assert_eq!(ports.trim(), format!("80/tcp -> 0.0.0.0:{port}"));
    let (_, json, _) = network(&root, &["inspect", &net]);
    assert!(json.contains("\"Name\": \"again\""), "{json}");
    // A restart policy's monitor rejoins too: the first run exits 3 at once, the monitor
    // starts it again, and the second run serves on the same published port.
    let state = tempfile::tempdir().unwrap();
    let state_vol = format!("{}:/state", state.path().display());
    let pport = free_port();
    let o = run(root
        .tinibox()
        .args([
            "run",
            "-d",
            "--restart",
            "on-failure:3",
            "--network",
            &net,
            "--name",
            "policy",
        ])
        .args(["-p", &format!("{pport}:80"), "-v", &vol, "-v", &state_vol])
        .arg(busybox_rootfs())
        .args([
            "sh",
            "-c",
            "if [ -e /state/ran ]; then exec httpd -f -p 80 -h /www; fi; touch /state/ran; exit 3",
        ])
        .stdin(Stdio::null()));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        curl(&format!("http://127.0.0.1:{pport}/")),
        "after restart\n"
    );
    assert!(state.path().join("ran").exists());
    run(root.tinibox().args(["rm", "-f", "again", "policy"]));
    let (code, _, err) = network(&root, &["rm", &net]);
    assert_eq!(code, 0, "{err}");
    assert_as_before(&before, "after rm and network rm");
}

#[test]
fn bridge_is_the_default_network() {
    let (_g, root) = setup();
    let o = run(root
        .tinibox()
        .args(["run", "--rm"])
        .arg(busybox_rootfs())
        .args(["sh", "-c", "ls /sys/class/net; ip route"])
        .stdin(Stdio::null()));
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("eth0\nlo\n"), "{out}");
    assert!(out.contains("default via 10.89.0.1 dev eth0"), "{out}");
}

/// `inspect -f {{json .NetworkSettings}} NAME` of either engine, as JSON.
fn settings_json(text: &str) -> serde_json::Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The MAC address Docker's bridge driver derives from an IPv4 address (`02:42` + its bytes).
fn mac_of(ip: &str) -> String {
    let bytes: Vec<u8> = ip.split('.').map(|b| b.parse().unwrap()).collect();
    format!(
        "02:42:{:02x}:{:02x}:{:02x}:{:02x}",
        bytes[0], bytes[1], bytes[2], bytes[3]
    )
}

/// Docker's endpoint fields of one network, with the container's short id replaced by `<id>`
/// and the values that differ by nature (addresses, network ids) left out: what must match.
fn endpoint_shape(ep: &serde_json::Value, short: &str) -> serde_json::Value {
    let aliases = match &ep["Aliases"] {
        serde_json::Value::Array(a) => serde_json::Value::Array(
            a.iter()
                .map(|v| {
                    if v.as_str() == Some(short) {
                        "<id>".into()
                    } else {
                        v.clone()
                    }
                })
                .collect(),
        ),
        other => other.clone(),
    };
    let mut keys: Vec<&String> = ep.as_object().unwrap().keys().collect();
    keys.sort();
    let ipam: Option<Vec<String>> = ep["IPAMConfig"]
        .as_object()
        .map(|o| o.keys().cloned().collect());
    let has: Vec<bool> = ["IPAddress", "Gateway", "MacAddress", "NetworkID"]
        .iter()
        .map(|k| ep[*k].as_str().is_some_and(|s| !s.is_empty()))
        .collect();
    serde_json::json!({
        "Aliases": aliases,
        "IPAMConfig": ipam,
        "IPPrefixLen": ep["IPPrefixLen"],
        "has": has,
        "keys": keys,
    })
}

#[test]
fn inspect_addresses_names_and_aliases_as_docker() {
    let (_g, root) = setup();
    let before = host_snapshot(&root);
    let dk = Dockerd::start();
    let tmp = tempfile::tempdir().unwrap();
    let tar = busybox_tar(tmp.path());
    dk.ok(&["import", tar.to_str().unwrap(), "tbx-net-bb:1"]);
    let dnet = "tbxdnet";
    dk.ok(&["network", "create", "--subnet", "198.19.88.0/24", dnet]);
    let tnet = net_name("insp");
    let (code, _, err) = network(&root, &["create", "--subnet", "10.89.188.0/24", &tnet]);
    assert_eq!(code, 0, "{err}");
    // Docker: a container with --ip and --network-alias on a user-defined network, one on
    // the default bridge.
    let did = dk.ok(&[
        "run",
        "-d",
        "--network",
        dnet,
        "--name",
        "dweb",
        "--ip",
        "198.19.88.10",
        "--network-alias",
        "dalias",
        "tbx-net-bb:1",
        "sleep",
        "300",
    ]);
    let dbr = dk.ok(&["run", "-d", "--name", "dbr", "tbx-net-bb:1", "sleep", "300"]);
    let tid = run(root
        .tinibox()
        .args([
            "run",
            "-d",
            "--network",
            &tnet,
            "--name",
            "tweb",
            "--ip",
            "10.89.188.10",
        ])
        .args(["--network-alias", "dalias"])
        .arg(busybox_rootfs())
        .args(["sleep", "300"])
        .stdin(Stdio::null()));
    assert!(tid.status.success(), "{}", stderr(&tid));
    let tid = stdout(&tid).trim().to_string();
    let tbr = run_detached(&root, &["--name", "tbr"], &["sleep", "300"]);
    let d = settings_json(&dk.ok(&["inspect", "-f", "{{json .NetworkSettings}}", "dweb"]));
    let t = settings_json(&stdout(&run(root.tinibox().args([
        "inspect",
        "-f",
        "{{json .NetworkSettings}}",
        "tweb",
    ]))));
    let (dep, tep) = (&d["Networks"][dnet], &t["Networks"][tnet.as_str()]);
    assert_eq!(
        endpoint_shape(dep, &did.trim()[..12]),
        endpoint_shape(tep, &tid[..12]),
        "docker: {dep}\ntinibox: {tep}"
    );
    assert_eq!(dep["IPAddress"], "198.19.88.10");
    assert_eq!(tep["IPAddress"], "10.89.188.10");
    assert_eq!(dep["Gateway"], "198.19.88.1");
    assert_eq!(tep["Gateway"], "10.89.188.1");
    assert_eq!(dep["MacAddress"], mac_of("198.19.88.10").as_str());
    assert_eq!(tep["MacAddress"], mac_of("10.89.188.10").as_str());
    let dnet_id = dk.ok(&["network", "inspect", "-f", "{{.Id}}", dnet]);
    assert_eq!(dep["NetworkID"], dnet_id.trim());
    let (_, tjson, _) = network(&root, &["inspect", &tnet]);
    let tnet_v: serde_json::Value = serde_json::from_str(&tjson).unwrap();
    assert_eq!(tep["NetworkID"], tnet_v[0]["Id"]);
    // The MAC is the one the container's eth0 has.
    let eth0 = exec_sh(&root, "tweb", "cat /sys/class/net/eth0/address");
    assert_eq!(eth0.trim(), mac_of("10.89.188.10"));
    // On a user-defined network the top-level fields are empty, on the default bridge set.
    for (who, v) in [("docker", &d), ("tinibox", &t)] {
        assert_eq!(v["IPAddress"], "", "{who}: {v}");
        assert_eq!(v["MacAddress"], "", "{who}: {v}");
    }
    let d = settings_json(&dk.ok(&["inspect", "-f", "{{json .NetworkSettings}}", "dbr"]));
    let t = settings_json(&stdout(&run(root.tinibox().args([
        "inspect",
        "-f",
        "{{json .NetworkSettings}}",
        "tbr",
    ]))));
    for (who, v, short) in [
        ("docker", &d, &dbr.trim()[..12]),
        ("tinibox", &t, &tbr[..12]),
    ] {
        let ip = v["IPAddress"].as_str().unwrap_or_default();
        assert!(!ip.is_empty(), "{who}: {v}");
        assert_eq!(v["MacAddress"], mac_of(ip).as_str(), "{who}: {v}");
        assert_eq!(
            v["Gateway"], v["Networks"]["bridge"]["Gateway"],
            "{who}: {v}"
        );
        assert_eq!(v["Networks"]["bridge"]["IPAddress"], ip, "{who}: {v}");
        assert_eq!(
            endpoint_shape(&v["Networks"]["bridge"], short)["Aliases"],
            serde_json::Value::Null,
            "{who}: {v}"
        );
    }
    // Names: a container resolves its own name on a user-defined network, and a peer
    // resolves its alias; both engines.
    let dping = dk.ok(&["exec", "dweb", "ping", "-c1", "-W2", "dweb"]);
    let tping = exec_sh(&root, "tweb", "ping -c1 -W2 tweb");
    assert!(dping.starts_with("PING dweb (198.19.88.10)"), "{dping}");
    assert!(tping.starts_with("PING tweb (10.89.188.10)"), "{tping}");
    let dpeer = dk.ok(&[
        "run",
        "--rm",
        "--network",
        dnet,
        "tbx-net-bb:1",
        "ping",
        "-c1",
        "-W2",
        "dalias",
    ]);
    let (code, tpeer, err) = run_once(
        &root,
        &["--network", &tnet],
        &["ping", "-c1", "-W2", "dalias"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(dpeer.starts_with("PING dalias (198.19.88.10)"), "{dpeer}");
    assert!(tpeer.starts_with("PING dalias (10.89.188.10)"), "{tpeer}");
    // --ip and --network-alias on the default bridge: refused by both, exit 125.
    for flags in [vec!["--ip", "172.17.0.50"], vec!["--network-alias", "x"]] {
        let mut args = vec!["run", "--rm"];
        args.extend(&flags);
        args.extend(["tbx-net-bb:1", "true"]);
        let o = dk.docker(&args);
        assert_eq!(
            o.status.code(),
            Some(125),
            "docker {flags:?}: {}",
            stderr(&o)
        );
        let (code, _, err) = run_once(&root, &flags, &["true"]);
        assert_eq!(code, 125, "tinibox {flags:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(flags[0]), "{err}");
    }
    // An address in use, or outside the subnet: one line, 125, nothing left.
    for ip in ["10.89.188.10", "10.89.199.5"] {
        let (code, _, err) = run_once(&root, &["--network", &tnet, "--ip", ip], &["true"]);
        assert_eq!(code, 125, "--ip {ip}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    // rename: the peers resolve the new name, no longer the old one (Docker's DNS does too).
    dk.ok(&["rename", "dweb", "dweb2"]);
    let dnew = dk.ok(&[
        "run",
        "--rm",
        "--network",
        dnet,
        "tbx-net-bb:1",
        "ping",
        "-c1",
        "-W2",
        "dweb2",
    ]);
    assert!(dnew.starts_with("PING dweb2 (198.19.88.10)"), "{dnew}");
    let o = run(root.tinibox().args(["rename", "tweb", "tweb2"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let (code, tnew, err) = run_once(
        &root,
        &["--network", &tnet],
        &["sh", "-c", "ping -c1 -W2 tweb2; grep -cw tweb /etc/hosts"],
    );
    assert!(
        tnew.starts_with("PING tweb2 (10.89.188.10)"),
        "{tnew} {err}"
    );
    assert!(
        tnew.ends_with("\n0\n"),
        "the old name still resolves: {tnew}"
    );
    assert_eq!(code, 1, "{err}");
    // A restarted container keeps its address and MAC even when a lower one is free, so its
    // peers' hosts lines and ARP caches stay right.
    for name in ["first", "second"] {
        let o = run(root
            .tinibox()
            .args(["run", "-d", "--network", &tnet, "--name", name])
            .arg(busybox_rootfs())
            .args(["sleep", "300"])
            .stdin(Stdio::null()));
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let addr = |c: &str| {
        exec_sh(
            &root,
            c,
            "ip -4 -o addr show eth0; cat /sys/class/net/eth0/address",
        )
    };
    let was = addr("second");
    assert!(was.contains("10.89.188.3/24"), "{was}");
    run(root.tinibox().args(["rm", "-f", "first"]));
    let o = run(root.tinibox().args(["restart", "-t", "1", "second"]));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(addr("second"), was);
    run(root.tinibox().args(["rm", "-f", "tweb2", "tbr", "second"]));
    dk.ok(&["rm", "-f", "dweb2", "dbr"]);
    dk.ok(&["network", "rm", dnet]);
    drop(dk);
    let (code, _, err) = network(&root, &["rm", &tnet]);
    assert_eq!(code, 0, "{err}");
    assert_as_before(&before, "after rm and network rm");
}

#[test]
fn user_defined_networks_are_isolated_from_each_other_as_in_docker() {
    let (_g, root) = setup();
    let before = host_snapshot(&root);
    let dk = Dockerd::start();
    let tmp = tempfile::tempdir().unwrap();
    let tar = busybox_tar(tmp.path());
    dk.ok(&["import", tar.to_str().unwrap(), "tbx-net-bb:1"]);
    let site = www("same network\n");
    let vol = format!("{}:/www:ro", site.path().display());
    // Docker: a server on network A, clients on A and on B.
    dk.ok(&["network", "create", "--subnet", "198.19.91.0/24", "tbxda"]);
    dk.ok(&["network", "create", "--subnet", "198.19.92.0/24", "tbxdb"]);
    dk.ok(&[
        "run",
        "-d",
        "--network",
        "tbxda",
        "--ip",
        "198.19.91.10",
        "--name",
        "dsrv",
        "-v",
        &vol,
        "tbx-net-bb:1",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]);
    let (na, nb) = (net_name("isoa"), net_name("isob"));
    for (n, s) in [(&na, "10.89.191.0/24"), (&nb, "10.89.192.0/24")] {
        let (code, _, err) = network(&root, &["create", "--subnet", s, n]);
        assert_eq!(code, 0, "{err}");
    }
    let o = run(root
        .tinibox()
        .args([
            "run",
            "-d",
            "--network",
            &na,
            "--ip",
            "10.89.191.10",
            "--name",
            "tsrv",
            "-v",
            &vol,
        ])
        .arg(busybox_rootfs())
        .args(["httpd", "-f", "-p", "80", "-h", "/www"])
        .stdin(Stdio::null()));
    assert!(o.status.success(), "{}", stderr(&o));
    // BusyBox's `wget -T` crashes in this build: `timeout` bounds each try instead. The first
    // fetches wait for the servers (ten tries); the blocked ones need one.
    let fetch = |ip: &str, tries: u32| {
        format!("for i in $(seq {tries}); do timeout 2 wget -q -O- http://{ip}/ 2>/dev/null && exit 0; sleep 0.3; done; echo unreachable")
    };
    let dfetch = |net: &str, tries: u32| {
        dk.ok(&[
            "run",
            "--rm",
            "--network",
            net,
            "tbx-net-bb:1",
            "sh",
            "-c",
            &fetch("198.19.91.10", tries),
        ])
    };
    let tfetch = |net: &str, tries: u32| {
        let (_, out, err) = run_once(
            &root,
            &["--network", net],
            &["sh", "-c", &fetch("10.89.191.10", tries)],
        );
        format!("{out}{err}")
    };
    assert_eq!(dfetch("tbxda", 10), "same network\n");
    assert_eq!(tfetch(&na, 10), "same network\n");
    assert_eq!(dfetch("tbxdb", 1), "unreachable\n");
    assert_eq!(tfetch(&nb, 1), "unreachable\n");
    // The default bridge is isolated from a user-defined network too.
    assert_eq!(dfetch("bridge", 1), "unreachable\n");
    assert_eq!(tfetch("bridge", 1), "unreachable\n");
    // A container on both networks is the way between them, in both engines.
    dk.ok(&[
        "run",
        "-d",
        "--network",
        "tbxdb",
        "--name",
        "dboth",
        "tbx-net-bb:1",
        "sleep",
        "300",
    ]);
    dk.ok(&["network", "connect", "tbxda", "dboth"]);
    run_detached(&root, &["--name", "tboth"], &["sleep", "300"]);
    let (code, _, err) = network(&root, &["connect", &na, "tboth"]);
    assert_eq!(code, 0, "{err}");
    let dboth = dk.ok(&["exec", "dboth", "sh", "-c", &fetch("198.19.91.10", 3)]);
    let tboth = exec_sh(&root, "tboth", &fetch("10.89.191.10", 3));
    assert_eq!(
        (dboth.as_str(), tboth.as_str()),
        ("same network\n", "same network\n")
    );
    dk.ok(&["rm", "-f", "dsrv", "dboth"]);
    dk.ok(&["network", "rm", "tbxda", "tbxdb"]);
    drop(dk);
    run(root.tinibox().args(["rm", "-f", "tsrv", "tboth"]));
    for n in [&na, &nb] {
        let (code, _, err) = network(&root, &["rm", n]);
        assert_eq!(code, 0, "{err}");
    }
    assert_as_before(&before, "after rm and network rm");
}

/// The host's `ip filter FORWARD` chain with policy drop (as Docker and hardened hosts set
/// it), made with the host's iptables (iptables-nft) and put back as found on drop.
struct ForwardDrop {
    /// Whether the table `ip filter` existed before.
    had_table: bool,
}

impl ForwardDrop {
    fn set() -> ForwardDrop {
        require_tool("iptables");
        let had_table = nft_tables().iter().any(|t| t == "table ip filter");
        let o = run(Command::new("iptables").args(["-P", "FORWARD", "DROP"]));
        assert!(
            o.status.success(),
            "iptables -P FORWARD DROP: {}",
            stderr(&o)
        );
        ForwardDrop { had_table }
    }
}

impl Drop for ForwardDrop {
    fn drop(&mut self) {
        let _ = run(Command::new("iptables").args(["-P", "FORWARD", "ACCEPT"]));
        if !self.had_table {
            let _ = run(Command::new("nft").args(["delete", "table", "ip", "filter"]));
        }
    }
}

#[test]
fn a_forward_drop_policy_stops_the_hosts_traffic_not_tiniboxs() {
    let (_g, root) = setup();
    require_tool("python3");
    let n = std::process::id() % 1000;
    let up = Upstream::new(n);
    // A second namespace behind the host, 198.18.78.0/30: traffic between it and the upstream
    // is the host's other forwarded traffic, which the drop policy must keep stopping.
    let other = format!("tbot{n}");
    let other_if = format!("tboh{n}");
    let _ = run(Command::new("ip").args(["netns", "del", &other]));
    // Removed on drop like the upstream.
    let _other_guard = Upstream {
        ns: other.clone(),
        host_if: other_if.clone(),
    };
    for args in [
        vec!["netns", "add", &other],
        vec![
            "link", "add", &other_if, "type", "veth", "peer", "name", "o0", "netns", &other,
        ],
        vec!["addr", "add", "198.18.78.1/30", "dev", &other_if],
        vec!["link", "set", &other_if, "up"],
        vec!["-n", &other, "addr", "add", "198.18.78.2/30", "dev", "o0"],
        vec!["-n", &other, "link", "set", "o0", "up"],
        vec![
            "-n",
            &other,
            "route",
            "add",
            "default",
            "via",
            "198.18.78.1",
        ],
        vec![
            "-n",
            &up.ns,
            "route",
            "add",
            "198.18.78.0/30",
            "via",
            "198.18.77.1",
        ],
    ] {
        let o = run(Command::new("ip").args(&args));
        assert!(o.status.success(), "ip {args:?}: {}", stderr(&o));
    }
    let server = r#"
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        b = b'upstream'
        self.send_response(200); self.send_header('Content-Length', str(len(b))); self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a): pass
http.server.HTTPServer(('198.18.77.2', 8000), H).serve_forever()
"#;
    let mut srv = Command::new("ip")
        .args(["netns", "exec", &up.ns, "python3", "-c", server])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let before = host_snapshot(&root);
    let upstream_from = |ns: &str| {
        run(Command::new("ip").args([
            "netns",
            "exec",
            ns,
            "curl",
            "-sS",
            "--max-time",
            "2",
            "http://198.18.77.2:8000/",
        ]))
    };
    // Without the drop policy the other namespace reaches the upstream through the host.
    let t = Instant::now();
    while !upstream_from(&other).status.success() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the upstream server did not start"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let drop_policy = ForwardDrop::set();
    assert!(
        !upstream_from(&other).status.success(),
        "FORWARD DROP let the host's traffic through"
    );
    // tinibox's traffic flows: outbound from a container on the default bridge and on a
    // user-defined network, and inbound to a published port from the upstream.
    let net = net_name("fwd");
    let (code, _, err) = network(&root, &["create", &net]);
    assert_eq!(code, 0, "{err}");
    for flags in [vec!["--network", "bridge"], vec!["--network", net.as_str()]] {
        let (code, out, err) = run_once(
            &root,
            &flags,
            &["sh", "-c", "for i in 1 2 3 4 5; do timeout 3 wget -qO- http://198.18.77.2:8000/ 2>/dev/null && exit 0; sleep 0.3; done; exit 1"],
        );
        assert_eq!((code, out.as_str()), (0, "upstream"), "{flags:?}: {err}");
    }
    let site = www("published behind a drop policy\n");
    let vol = format!("{}:/www:ro", site.path().display());
    let port = free_port();
    run_detached(
        &root,
        &["--name", "fwdweb", "-p", &format!("{port}:80"), "-v", &vol],
        &[
            "sh",
            "-c",
            "httpd -p 81 -h /www; exec httpd -f -p 80 -h /www",
        ],
    );
    let t = Instant::now();
    let page = loop {
        let o = run(Command::new("ip").args([
            "netns",
            "exec",
            &up.ns,
            "curl",
            "-sS",
            "--max-time",
            "2",
            &format!("http://198.18.77.1:{port}/"),
        ]));
        if o.status.success() {
            break stdout(&o);
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "published port: {}",
            stderr(&o)
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(page, "published behind a drop policy\n");
    // A new connection from elsewhere to a port the container did not publish is dropped, as
    // Docker's rules drop it (the upstream is given a route to the container's address).
    let ip = stdout(&run(root.tinibox().args([
        "inspect",
        "-f",
        "{{.NetworkSettings.IPAddress}}",
        "fwdweb",
    ])));
    let ip = ip.trim();
    let o = run(Command::new("ip").args([
        "-n",
        &up.ns,
        "route",
        "add",
        &format!("{ip}/32"),
        "via",
        "198.18.77.1",
    ]));
    assert!(o.status.success(), "route to {ip}: {}", stderr(&o));
    let unpublished = run(Command::new("ip").args([
        "netns",
        "exec",
        &up.ns,
        "curl",
        "-sS",
        "--max-time",
        "2",
        &format!("http://{ip}:81/"),
    ]));
    assert!(
        !unpublished.status.success(),
        "an unpublished port answered through the drop policy: {}",
        stdout(&unpublished)
    );
    // …while the container itself still serves that port (the drop is the firewall's).
    let inside = exec_sh(&root, "fwdweb", "wget -qO- http://127.0.0.1:81/");
    assert_eq!(inside, "published behind a drop policy\n");
    // The host's other traffic is still dropped, and iptables still reads its chain.
    assert!(
        !upstream_from(&other).status.success(),
        "tinibox's rules let the host's traffic through"
    );
    let rules = run(Command::new("iptables").args(["-S", "FORWARD"]));
    assert!(
        rules.status.success(),
        "iptables -S FORWARD: {}",
        stderr(&rules)
    );
    let listed = stdout(&rules);
    assert!(listed.starts_with("-P FORWARD DROP"), "{listed}");
    assert!(listed.contains("tinibox0"), "{listed}");
    assert!(
        listed.contains("-o tinibox0 -m conntrack --ctstate RELATED,ESTABLISHED"),
        "{listed}"
    );
    assert!(
        listed.contains(&format!("-d {ip}/32 ! -i tinibox0 -o tinibox0 -p tcp")),
        "{listed}"
    );
    let (_, json, _) = network(&root, &["inspect", &net]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let bridge = v[0]["Options"]["com.docker.network.bridge.name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(listed.contains(&bridge), "{listed}");
    // network rm takes that network's rules away; the default bridge's stay with it.
    run(root.tinibox().args(["rm", "-f", "fwdweb"]));
    let (code, _, err) = network(&root, &["rm", &net]);
    assert_eq!(code, 0, "{err}");
    let listed = stdout(&run(Command::new("iptables").args(["-S", "FORWARD"])));
    assert!(!listed.contains(&bridge), "{listed}");
    assert!(listed.contains("tinibox0"), "{listed}");
    // Back to policy accept: the next change of tinibox's rules takes its accepts away.
    drop(drop_policy);
    let (code, _, err) = run_once(&root, &["-p", "80"], &["true"]);
    assert_eq!(code, 0, "{err}");
    let ruleset = stdout(&run(Command::new("nft").args(["list", "ruleset"])));
    assert!(!ruleset.contains("comment \"tinibox\""), "{ruleset}");
    let _ = srv.kill();
    let _ = srv.wait();
    assert_as_before(&before, "after the drop policy was lifted");
}

/// `network connect --ip ADDR --alias NAME` and `network disconnect`, beside Docker: a
/// container on the default bridge joins a user-defined network with a chosen address and an
/// alias its peers resolve; inspect shows the endpoint as Docker does; `--ip`/`--alias` on the
/// default bridge are refused by both; a disconnect takes the interface, the address and the
/// names away; a stopped container gets the asked address at its next start.
#[test]
fn network_connect_with_ip_and_alias_and_disconnect_as_docker() {
    let (_g, root) = setup();
    let before = host_snapshot(&root);
    let dk = Dockerd::start();
    let tmp = tempfile::tempdir().unwrap();
    let tar = busybox_tar(tmp.path());
    dk.ok(&["import", tar.to_str().unwrap(), "tbx-net-bb:1"]);
    let dnet = "tbxdconn";
    dk.ok(&["network", "create", "--subnet", "198.19.89.0/24", dnet]);
    let tnet = net_name("conn");
    let (code, _, err) = network(&root, &["create", "--subnet", "10.89.189.0/24", &tnet]);
    assert_eq!(code, 0, "{err}");
    let did = dk.ok(&["run", "-d", "--name", "dc1", "tbx-net-bb:1", "sleep", "300"]);
    let tid = run_detached(&root, &["--name", "tc1"], &["sleep", "300"]);
    // --ip and --alias on the default bridge: both engines refuse, nothing changes.
    for flags in [vec!["--ip", "172.17.0.50"], vec!["--alias", "x"]] {
        let mut args = vec!["network", "connect"];
        args.extend(&flags);
        args.extend(["bridge", "dc1"]);
        let o = dk.docker(&args);
        assert!(!o.status.success(), "docker {flags:?} accepted");
        let mut args = vec!["connect"];
        args.extend(&flags);
        args.extend(["bridge", "tc1"]);
        let (code, _, err) = network(&root, &args);
        assert_eq!(code, 125, "tinibox {flags:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(flags[0]), "{err}");
    }
    // An address outside the network's subnet: refused, nothing joined.
    let (code, _, err) = network(&root, &["connect", "--ip", "10.89.190.5", &tnet, "tc1"]);
    assert_eq!(code, 125, "{err}");
    assert_eq!(exec_sh(&root, "tc1", "ls /sys/class/net"), "eth0\nlo\n");
    dk.ok(&[
        "network",
        "connect",
        "--ip",
        "198.19.89.20",
        "--alias",
        "dcal",
        dnet,
        "dc1",
    ]);
    let (code, _, err) = network(
        &root,
        &[
            "connect",
            "--ip",
            "10.89.189.20",
            "--alias",
            "dcal",
            &tnet,
            "tc1",
        ],
    );
    assert_eq!(code, 0, "connect: {err}");
    let dif = dk.ok(&["exec", "dc1", "ip", "-4", "-o", "addr", "show", "eth1"]);
    let tif = exec_sh(&root, "tc1", "ip -4 -o addr show eth1");
    assert!(dif.contains("inet 198.19.89.20/24"), "{dif}");
    assert!(tif.contains("inet 10.89.189.20/24"), "{tif}");
    // inspect: the endpoint as Docker shows it (IPAMConfig with the address, the alias and
    // the short id).
    let d = settings_json(&dk.ok(&["inspect", "-f", "{{json .NetworkSettings}}", "dc1"]));
    let t = settings_json(&stdout(&run(root.tinibox().args([
        "inspect",
        "-f",
        "{{json .NetworkSettings}}",
        "tc1",
    ]))));
    let (dep, tep) = (&d["Networks"][dnet], &t["Networks"][tnet.as_str()]);
    assert_eq!(
        endpoint_shape(dep, &did.trim()[..12]),
        endpoint_shape(tep, &tid[..12]),
        "docker: {dep}\ntinibox: {tep}"
    );
    assert_eq!(dep["IPAMConfig"]["IPv4Address"], "198.19.89.20");
    assert_eq!(tep["IPAMConfig"]["IPv4Address"], "10.89.189.20");
    assert_eq!(tep["IPAddress"], "10.89.189.20");
    assert_eq!(tep["MacAddress"], mac_of("10.89.189.20").as_str());
    // A peer on the network resolves the alias and the name to the chosen address.
    let dpeer = dk.ok(&[
        "run",
        "--rm",
        "--network",
        dnet,
        "tbx-net-bb:1",
        "ping",
        "-c1",
        "-W2",
        "dcal",
    ]);
    assert!(dpeer.starts_with("PING dcal (198.19.89.20)"), "{dpeer}");
    let (code, tpeer, err) = run_once(
        &root,
        &["--network", &tnet],
        &["sh", "-c", "ping -c1 -W2 dcal | head -1; ping -c1 -W2 tc1"],
    );
    assert_eq!(code, 0, "{tpeer} {err}");
    assert!(tpeer.starts_with("PING dcal (10.89.189.20)"), "{tpeer}");
    assert!(tpeer.contains("PING tc1 (10.89.189.20)"), "{tpeer}");
    // The same address twice: refused by both.
    let dc2 = dk.docker(&[
        "run",
        "--rm",
        "--network",
        dnet,
        "--ip",
        "198.19.89.20",
        "tbx-net-bb:1",
        "true",
    ]);
    assert!(!dc2.status.success(), "docker took a used address");
    run_detached(&root, &["--name", "tc2"], &["sleep", "300"]);
    let (code, _, err) = network(&root, &["connect", "--ip", "10.89.189.20", &tnet, "tc2"]);
    assert_eq!(code, 125, "{err}");
    assert!(err.contains("in use by tc1"), "{err}");
    assert_eq!(exec_sh(&root, "tc2", "ls /sys/class/net"), "eth0\nlo\n");
    // disconnect: the interface, the endpoint and the names go (both engines).
    dk.ok(&["network", "disconnect", dnet, "dc1"]);
    let (code, _, err) = network(&root, &["disconnect", &tnet, "tc1"]);
    assert_eq!(code, 0, "disconnect: {err}");
    let dls = dk.ok(&["exec", "dc1", "ls", "/sys/class/net"]);
    assert_eq!(dls, "eth0\nlo\n");
    assert_eq!(exec_sh(&root, "tc1", "ls /sys/class/net"), "eth0\nlo\n");
    let d = settings_json(&dk.ok(&["inspect", "-f", "{{json .NetworkSettings}}", "dc1"]));
    let t = settings_json(&stdout(&run(root.tinibox().args([
        "inspect",
        "-f",
        "{{json .NetworkSettings}}",
        "tc1",
    ]))));
    assert!(d["Networks"].get(dnet).is_none(), "{d}");
    assert!(t["Networks"].get(tnet.as_str()).is_none(), "{t}");
    let (code, out, _) = run_once(
        &root,
        &["--network", &tnet],
        &["ping", "-c1", "-W1", "dcal"],
    );
    assert_ne!(code, 0, "the alias still resolves: {out}");
    let (code, _, err) = network(&root, &["disconnect", &tnet, "tc1"]);
    assert_eq!(code, 125, "a second disconnect: {err}");
    // A stopped container connected with --ip gets it at its next start (Docker: the same).
    dk.ok(&["stop", "-t", "1", "dc1"]);
    dk.ok(&["network", "connect", "--ip", "198.19.89.30", dnet, "dc1"]);
    dk.ok(&["start", "dc1"]);
    let dif = dk.ok(&["exec", "dc1", "ip", "-4", "-o", "addr", "show", "eth1"]);
    assert!(dif.contains("inet 198.19.89.30/24"), "{dif}");
    let o = run(root.tinibox().args(["stop", "-t", "1", "tc1"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let (code, _, err) = network(&root, &["connect", "--ip", "10.89.189.30", &tnet, "tc1"]);
    assert_eq!(code, 0, "connect while stopped: {err}");
    let o = run(root.tinibox().args(["start", "tc1"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let tif = exec_sh(&root, "tc1", "ip -4 -o addr show eth1");
    assert!(tif.contains("inet 10.89.189.30/24"), "{tif}");
    run(root.tinibox().args(["rm", "-f", "tc1", "tc2"]));
    dk.ok(&["rm", "-f", "dc1"]);
    dk.ok(&["network", "rm", dnet]);
    drop(dk);
    let (code, _, err) = network(&root, &["rm", &tnet]);
    assert_eq!(code, 0, "{err}");
    assert_as_before(&before, "after connect, disconnect, rm and network rm");
}

/// `network create --ipv6 --subnet V4 --subnet V6`, beside Docker: the network says
/// `EnableIPv6` with both subnets in inspect, each container gets an IPv6 address (the
/// subnet's `::2` first, its `::1` the gateway) and an IPv6 default route, inspect shows
/// `GlobalIPv6Address`, `GlobalIPv6PrefixLen` and `IPv6Gateway`, a peer resolves its name to
/// the IPv6 address (`ping6 NAME`) and fetches a page over IPv6, the host reaches it through
/// the bridge; bad IPv6 input is one line and exit 125; nothing is left after rm.
#[test]
fn ipv6_on_a_user_defined_network_as_docker() {
    let (_g, root) = setup();
    let before = host_snapshot(&root);
    let dk = Dockerd::start();
    let tmp = tempfile::tempdir().unwrap();
    let tar = busybox_tar(tmp.path());
    dk.ok(&["import", tar.to_str().unwrap(), "tbx-net-bb:1"]);
    let dnet = "tbxd6";
    dk.ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "198.19.91.0/24",
        "--subnet",
        "fd42:7b2::/64",
        dnet,
    ]);
    let tnet = net_name("v6");
    // Bad input first: IPv6 without its subnet, an IPv6 subnet without --ipv6, bad CIDR.
    for args in [
        vec!["create", "--ipv6", &tnet],
        vec!["create", "--subnet", "fd42:7b1::/64", &tnet],
        vec!["create", "--ipv6", "--subnet", "fd42:7b1::5/64", &tnet],
        vec![
            "create",
            "--ipv6",
            "--subnet",
            "fd42:7b1::/64",
            "--subnet",
            "fd42:7b3::/64",
            &tnet,
        ],
    ] {
        let (code, _, err) = network(&root, &args);
        assert_eq!(code, 125, "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    let (code, _, err) = network(&root, &["inspect", &tnet]);
    assert_eq!(code, 1, "a refused create left the network: {err}");
    assert!(err.contains("not found"), "{err}");
    let (code, _, err) = network(
        &root,
        &[
            "create",
            "--ipv6",
            "--subnet",
            "10.89.191.0/24",
            "--subnet",
            "fd42:7b1::/64",
            &tnet,
        ],
    );
    assert_eq!(code, 0, "{err}");
    // network inspect: EnableIPv6 and both subnets, as Docker shows them.
    let dv: serde_json::Value =
        serde_json::from_str(&dk.ok(&["network", "inspect", dnet])).unwrap();
    let (_, tjson, _) = network(&root, &["inspect", &tnet]);
    let tv: serde_json::Value = serde_json::from_str(&tjson).unwrap();
    assert_eq!(dv[0]["EnableIPv6"], true);
    assert_eq!(tv[0]["EnableIPv6"], true);
    let configs = |v: &serde_json::Value| -> Vec<(String, String)> {
        v[0]["IPAM"]["Config"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["Subnet"].as_str().unwrap_or("").to_string(),
                    c["Gateway"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    };
    let dc = configs(&dv);
    assert!(
        dc.contains(&("fd42:7b2::/64".into(), "fd42:7b2::1".into()))
            || dc.iter().any(|(s, _)| s == "fd42:7b2::/64"),
        "{dc:?}"
    );
    assert_eq!(
        configs(&tv),
        vec![
            ("10.89.191.0/24".to_string(), "10.89.191.1".to_string()),
            ("fd42:7b1::/64".to_string(), "fd42:7b1::1".to_string())
        ]
    );
    let site = www("served over ipv6\n");
    let vol = format!("{}:/www:ro", site.path().display());
    dk.ok(&[
        "run",
        "-d",
        "--network",
        dnet,
        "--name",
        "d6web",
        "-v",
        &vol,
        "tbx-net-bb:1",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]);
    let o = run(root
        .tinibox()
        .args([
            "run",
            "-d",
            "--network",
            &tnet,
            "--name",
            "t6web",
            "-v",
            &vol,
        ])
        .arg(busybox_rootfs())
        .args(["httpd", "-f", "-p", "80", "-h", "/www"])
        .stdin(Stdio::null()));
    assert!(o.status.success(), "{}", stderr(&o));
    // inspect: the endpoint's IPv6 fields, both engines.
    let d = settings_json(&dk.ok(&["inspect", "-f", "{{json .NetworkSettings}}", "d6web"]));
    let t = settings_json(&stdout(&run(root.tinibox().args([
        "inspect",
        "-f",
        "{{json .NetworkSettings}}",
        "t6web",
    ]))));
    let (dep, tep) = (&d["Networks"][dnet], &t["Networks"][tnet.as_str()]);
    assert_eq!(dep["GlobalIPv6Address"], "fd42:7b2::2", "{dep}");
    assert_eq!(tep["GlobalIPv6Address"], "fd42:7b1::2", "{tep}");
    for (who, ep, gw) in [
        ("docker", dep, "fd42:7b2::1"),
        ("tinibox", tep, "fd42:7b1::1"),
    ] {
        assert_eq!(ep["GlobalIPv6PrefixLen"], 64, "{who}: {ep}");
        assert_eq!(ep["IPv6Gateway"], gw, "{who}: {ep}");
    }
    let (_, tjson, _) = network(&root, &["inspect", &tnet]);
    let tv: serde_json::Value = serde_json::from_str(&tjson).unwrap();
    let member = tv[0]["Containers"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .clone();
    assert_eq!(member["IPv6Address"], "fd42:7b1::2/64", "{tjson}");
    // Inside: the address and the IPv6 default route through the bridge.
    let inside = exec_sh(
        &root,
        "t6web",
        "ip -6 -o addr show eth0 scope global; ip -6 route show default",
    );
    assert!(inside.contains("inet6 fd42:7b1::2/64"), "{inside}");
    assert!(
        inside.contains("default via fd42:7b1::1 dev eth0"),
        "{inside}"
    );
    // A peer resolves the name to the IPv6 address and fetches over IPv6 (both engines).
    let dpeer = dk.ok(&[
        "run",
        "--rm",
        "--network",
        dnet,
        "tbx-net-bb:1",
        "sh",
        "-c",
        "ping6 -c1 -W2 d6web | head -1; wget -qO- 'http://[fd42:7b2::2]/'",
    ]);
    assert_eq!(
        dpeer,
        "PING d6web (fd42:7b2::2): 56 data bytes\nserved over ipv6\n"
    );
    let (code, tpeer, err) = run_once(
        &root,
        &["--network", &tnet],
        &[
            "sh",
            "-c",
            "ping6 -c1 -W2 t6web | head -1; wget -qO- 'http://[fd42:7b1::2]/'",
        ],
    );
    assert_eq!(code, 0, "{tpeer} {err}");
    assert_eq!(
        tpeer,
        "PING t6web (fd42:7b1::2): 56 data bytes\nserved over ipv6\n"
    );
    // The host reaches the container over IPv6 through the bridge.
    assert_eq!(curl("http://[fd42:7b1::2]:80/"), "served over ipv6\n");
    run(root.tinibox().args(["rm", "-f", "t6web"]));
    dk.ok(&["rm", "-f", "d6web"]);
    dk.ok(&["network", "rm", dnet]);
    drop(dk);
    let (code, _, err) = network(&root, &["rm", &tnet]);
    assert_eq!(code, 0, "{err}");
    assert_as_before(&before, "after rm and network rm");
}

/// An "upstream" network namespace reached over IPv6: `Upstream`'s link with `fd42:77e::1/64`
/// on the host's end and `fd42:77e::2/64` inside.
fn upstream6(n: u32) -> Upstream {
    let up = Upstream::new(n);
    for args in [
        vec![
            "-6",
            "addr",
            "add",
            "fd42:77e::1/64",
            "dev",
            &up.host_if,
            "nodad",
        ],
        vec![
            "-n",
            &up.ns,
            "-6",
            "addr",
            "add",
            "fd42:77e::2/64",
            "dev",
            "up0",
            "nodad",
        ],
    ] {
        let o = run(Command::new("ip").args(&args));
        assert!(o.status.success(), "ip {args:?}: {}", stderr(&o));
    }
    up
}

/// A server in `up`'s namespace on `[fd42:77e::2]:8000` that answers with the address it sees
/// the client come from.
fn who_am_i_server(up: &Upstream) -> std::process::Child {
    let server = r#"
import http.server, socket
class S(http.server.HTTPServer):
    address_family = socket.AF_INET6
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        b = self.client_address[0].encode()
        self.send_response(200); self.send_header('Content-Length', str(len(b))); self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a): pass
S(('fd42:77e::2', 8000), H).serve_forever()
"#;
    Command::new("ip")
        .args(["netns", "exec", &up.ns, "python3", "-c", server])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// `curl -sS URL` once, from the network namespace `ns` (None: the host) → (ok, body or
/// error).
fn curl_once(ns: Option<&str>, url: &str) -> (bool, String) {
    let mut c = match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, "curl"]);
            c
        }
        None => Command::new("curl"),
    };
    let o = run(c.args(["-sS", "--max-time", "3", url]));
    (o.status.success(), stdout(&o) + &stderr(&o))
}

/// The pids of running `tinibox net-proxy` processes that relay to container address `ip6`.
fn proxies_of(ip6: &str) -> Vec<i32> {
    let o = run(Command::new("pgrep").args(["-f", &format!("net-proxy .*\\[{ip6}\\]")]));
    stdout(&o)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// IPv6 as Docker with `ip6tables` (its default since Docker 27; 20.10 needs
/// `--experimental --ip6tables`), both engines side by side: outbound IPv6 is masqueraded (the
/// upstream server sees the host's address on its link), `-p PORT:80` answers on `[::1]`, on
/// the host's IPv6 address and from another namespace through it, `port` lists `0.0.0.0` and
/// `[::]`, `-p [::1]:PORT:80` answers on `[::1]` only, containers on two IPv6 networks cannot
/// reach each other, and after rm and network rm no proxy, veth, lease or table is left — the
/// proxy also ends by itself when the container's init is killed.
#[test]
fn ipv6_is_masqueraded_published_and_isolated_as_docker() {
    let (_g, root) = setup();
    require_tool("python3");
    let before = host_snapshot(&root);
    let up = upstream6(std::process::id() % 1000 + 1);
    let mut srv = who_am_i_server(&up);
    let dk = Dockerd::start_with(&["--experimental", "--ip6tables"]);
    let tmp = tempfile::tempdir().unwrap();
    let tar = busybox_tar(tmp.path());
    dk.ok(&["import", tar.to_str().unwrap(), "tbx-net-bb:1"]);
    let site = www("published over ipv6\n");
    let vol = format!("{}:/www:ro", site.path().display());
    let (ta, tb) = (net_name("v6a"), net_name("v6b"));
    for (name, v4, v6) in [
        ("tbxd6a", "198.19.93.0/24", "fd42:7d1::/64"),
        ("tbxd6b", "198.19.94.0/24", "fd42:7d2::/64"),
    ] {
        dk.ok(&[
            "network", "create", "--ipv6", "--subnet", v4, "--subnet", v6, name,
        ]);
    }
    for (name, v4, v6) in [
        (&ta, "10.89.193.0/24", "fd42:7e1::/64"),
        (&tb, "10.89.194.0/24", "fd42:7e2::/64"),
    ] {
        let (code, _, err) = network(
            &root,
            &["create", "--ipv6", "--subnet", v4, "--subnet", v6, name],
        );
        assert_eq!(code, 0, "{err}");
    }
    let (dport, tport, lport) = (free_port(), free_port(), free_port());
    dk.ok(&[
        "run",
        "-d",
        "--network",
        "tbxd6a",
        "--name",
        "d6pub",
        "-v",
        &vol,
        "-p",
        &format!("{dport}:80"),
        "tbx-net-bb:1",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]);
    let o = run(root
        .tinibox()
        .args(["run", "-d", "--network", &ta, "--name", "t6pub", "-v", &vol])
        .args(["-p", &format!("{tport}:80")])
        .args(["-p", &format!("[::1]:{lport}:80")])
        .arg(busybox_rootfs())
        .args(["httpd", "-f", "-p", "80", "-h", "/www"])
        .stdin(Stdio::null()));
    assert!(o.status.success(), "{}", stderr(&o));

    // `port`: both families for a port published without an address, as Docker lists them.
    let dlines = dk.ok(&["port", "d6pub"]);
    assert_eq!(
        dlines,
        format!("80/tcp -> 0.0.0.0:{dport}\n80/tcp -> [::]:{dport}\n")
    );
    let tlines = stdout(&run(root.tinibox().args(["port", "t6pub"])));
    assert_eq!(
        tlines,
        format!("80/tcp -> 0.0.0.0:{tport}\n80/tcp -> [::]:{tport}\n80/tcp -> [::1]:{lport}\n")
    );

    // Published: on [::1] (the proxy), on the host's IPv6 address (DNAT from the host) and
    // from the upstream namespace through that address (DNAT on the way in), both engines.
    for (who, port) in [("docker", dport), ("tinibox", tport)] {
        assert_eq!(
            curl(&format!("http://[::1]:{port}/")),
            "published over ipv6\n",
            "{who}"
        );
        assert_eq!(
            curl(&format!("http://[fd42:77e::1]:{port}/")),
            "published over ipv6\n",
            "{who}"
        );
        let (ok, body) = curl_once(Some(&up.ns), &format!("http://[fd42:77e::1]:{port}/"));
        assert!(ok, "{who}: from the upstream namespace: {body}");
        assert_eq!(body, "published over ipv6\n", "{who}");
    }
    // `-p [::1]:PORT:80`: loopback only, as asked.
    assert_eq!(
        curl(&format!("http://[::1]:{lport}/")),
        "published over ipv6\n"
    );
    let (ok, body) = curl_once(None, &format!("http://[fd42:77e::1]:{lport}/"));
    assert!(!ok, "[::1]-only port answered on another address: {body}");

    // Outbound: the upstream server sees the host's address on its link, not fd42:7e1::2.
    let fetch = "wget -qO- 'http://[fd42:77e::2]:8000/'";
    let dseen = dk.ok(&[
        "run",
        "--rm",
        "--network",
        "tbxd6a",
        "tbx-net-bb:1",
        "sh",
        "-c",
        fetch,
    ]);
    let (code, tseen, err) = run_once(&root, &["--network", &ta], &["sh", "-c", fetch]);
    assert_eq!(code, 0, "{tseen} {err}");
    assert_eq!(dseen.trim(), "fd42:77e::1", "docker");
    assert_eq!(tseen.trim(), "fd42:77e::1", "tinibox");

    // Isolation: a container on network B cannot reach one on A over IPv6 (nor IPv4), as in
    // Docker; one on A can.
    let probe =
        |addr: &str| format!("ping6 -c1 -W2 {addr} >/dev/null && echo reached || echo isolated");
    let d = dk.ok(&["inspect", "-f", "{{json .NetworkSettings}}", "d6pub"]);
    let d6 = settings_json(&d)["Networks"]["tbxd6a"]["GlobalIPv6Address"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        dk.ok(&[
            "run",
            "--rm",
            "--network",
            "tbxd6b",
            "tbx-net-bb:1",
            "sh",
            "-c",
            &probe(&d6)
        ]),
        "isolated\n",
        "docker"
    );
    assert_eq!(
        dk.ok(&[
            "run",
            "--rm",
            "--network",
            "tbxd6a",
            "tbx-net-bb:1",
            "sh",
            "-c",
            &probe(&d6)
        ]),
        "reached\n",
        "docker"
    );
    for (net, want) in [(&tb, "isolated\n"), (&ta, "reached\n")] {
        let (code, out, err) = run_once(
            &root,
            &["--network", net],
            &["sh", "-c", &probe("fd42:7e1::2")],
        );
        assert_eq!((code, out.as_str()), (0, want), "tinibox from {net}: {err}");
    }

    // The proxy ends with the container: SIGKILL its init, no tinibox command after.
    let proxies = proxies_of("fd42:7e1::2");
    assert_eq!(
        proxies.len(),
        1,
        "one proxy for the container's [::1] ports"
    );
    let text = std::fs::read_to_string(format!("/run/tinibox/net/{ta}.json")).unwrap();
    let rec: serde_json::Value = serde_json::from_str(&text).unwrap();
    let init = rec["leases"].as_object().unwrap().values().next().unwrap()["pid"]
        .as_i64()
        .unwrap() as i32;
    // SAFETY: signalling the init of a container this test started.
    unsafe {
        libc::kill(init, libc::SIGKILL);
    }
    let t = Instant::now();
    while Path::new(&format!("/proc/{}", proxies[0])).exists()
        && t.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !Path::new(&format!("/proc/{}/cmdline", proxies[0])).exists()
            || std::fs::read_to_string(format!("/proc/{}/cmdline", proxies[0]))
                .is_ok_and(|c| !c.contains("net-proxy")),
        "the proxy outlived its container"
    );
    let (ok, _) = curl_once(None, &format!("http://[::1]:{lport}/"));
    assert!(!ok, "[::1]:{lport} still answers after the container ended");

    run(root.tinibox().args(["rm", "-f", "t6pub"]));
    dk.ok(&["rm", "-f", "d6pub"]);
    for n in ["tbxd6a", "tbxd6b"] {
        dk.ok(&["network", "rm", n]);
    }
    drop(dk);
    for n in [&ta, &tb] {
        let (code, _, err) = network(&root, &["rm", n]);
        assert_eq!(code, 0, "{err}");
    }
    let _ = srv.kill();
    let _ = srv.wait();
    drop(up);
    assert!(proxies_of("fd42:7e1::2").is_empty());
    assert_as_before(&before, "after rm and network rm");
}

/// Waits (at most 60 s) until no container of another test run uses the default bridge: a
/// change of its settings takes effect only then.
fn default_bridge_idle() {
    let t = Instant::now();
    loop {
        let text = std::fs::read_to_string("/run/tinibox/net/bridge.json").unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        if v["leases"].as_object().is_none_or(|m| m.is_empty()) {
            return;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the default bridge stays in use by other containers: {text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// IPv6 on the default bridge from tinibox's config file with Docker's daemon.json names
/// (`ipv6 = true`, `fixed-cidr-v6 = CIDR`), beside a private dockerd started with `--ipv6
/// --fixed-cidr-v6` (and `--ip6tables`): the container's top-level `GlobalIPv6Address` and
/// `IPv6Gateway`, `network inspect bridge`'s `EnableIPv6`, a port published on both families
/// and reachable on `[::1]` and the host's IPv6 address, outbound IPv6 masqueraded; `ipv6 =
/// true` without its subnet is one line and exit 125; without the setting (the default) the
/// bridge is IPv4 only again and the host as before.
#[test]
fn ipv6_on_the_default_bridge_from_the_config_as_docker() {
    let (_g, root) = setup();
    require_tool("python3");
    let before = host_snapshot(&root);
    let up = upstream6(std::process::id() % 1000 + 2);
    let mut srv = who_am_i_server(&up);
    let dk = Dockerd::start_with(&[
        "--ipv6",
        "--fixed-cidr-v6",
        "fd42:7f1::/64",
        "--experimental",
        "--ip6tables",
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let tar = busybox_tar(tmp.path());
    dk.ok(&["import", tar.to_str().unwrap(), "tbx-net-bb:1"]);
    let config = tmp.path().join("config");
    let with_config = |args: &[&str]| {
        run(root
            .tinibox()
            .env("TINIBOX_CONFIG", &config)
            .args(args)
            .stdin(Stdio::null()))
    };
    // Bad: ipv6 without its subnet.
    std::fs::write(&config, "ipv6 = true\n").unwrap();
    let o = with_config(&["run", "--rm", busybox_rootfs().to_str().unwrap(), "true"]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert_eq!(stderr(&o).trim().lines().count(), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("fixed-cidr-v6"), "{}", stderr(&o));

    std::fs::write(&config, "ipv6 = true\nfixed-cidr-v6 = fd42:7f0::/64\n").unwrap();
    default_bridge_idle();
    let site = www("default bridge over ipv6\n");
    let vol = format!("{}:/www:ro", site.path().display());
    let (dport, tport) = (free_port(), free_port());
    dk.ok(&[
        "run",
        "-d",
        "--name",
        "d6def",
        "-v",
        &vol,
        "-p",
        &format!("{dport}:80"),
        "tbx-net-bb:1",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]);
    let o = with_config(&[
        "run",
        "-d",
        "--name",
        "t6def",
        "-v",
        &vol,
        "-p",
        &format!("{tport}:80"),
        busybox_rootfs().to_str().unwrap(),
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));

    // inspect: the top-level IPv6 fields of the default bridge's endpoint, both engines.
    let d = settings_json(&dk.ok(&["inspect", "-f", "{{json .NetworkSettings}}", "d6def"]));
    let t = settings_json(&stdout(&with_config(&[
        "inspect",
        "-f",
        "{{json .NetworkSettings}}",
        "t6def",
    ])));
    let d6 = d["GlobalIPv6Address"].as_str().unwrap_or("");
    assert!(d6.starts_with("fd42:7f1::"), "docker: {d}");
    assert_eq!(d["IPv6Gateway"], "fd42:7f1::1", "docker: {d}");
    assert_eq!(t["GlobalIPv6Address"], "fd42:7f0::2", "tinibox: {t}");
    assert_eq!(t["IPv6Gateway"], "fd42:7f0::1", "tinibox: {t}");
    for (who, v) in [("docker", &d), ("tinibox", &t)] {
        assert_eq!(v["GlobalIPv6PrefixLen"], 64, "{who}: {v}");
        assert_eq!(
            v["Networks"]["bridge"]["GlobalIPv6PrefixLen"], 64,
            "{who}: {v}"
        );
    }
    let dn: serde_json::Value =
        serde_json::from_str(&dk.ok(&["network", "inspect", "bridge"])).unwrap();
    let tn: serde_json::Value =
        serde_json::from_str(&stdout(&with_config(&["network", "inspect", "bridge"]))).unwrap();
    assert_eq!(dn[0]["EnableIPv6"], true);
    assert_eq!(tn[0]["EnableIPv6"], true, "{tn}");

    // Published on both families, reachable over IPv6 on [::1] and the host's address.
    assert_eq!(
        dk.ok(&["port", "d6def"]),
        format!("80/tcp -> 0.0.0.0:{dport}\n80/tcp -> [::]:{dport}\n")
    );
    assert_eq!(
        stdout(&with_config(&["port", "t6def"])),
        format!("80/tcp -> 0.0.0.0:{tport}\n80/tcp -> [::]:{tport}\n")
    );
    for (who, port) in [("docker", dport), ("tinibox", tport)] {
        for host in ["[::1]", "[fd42:77e::1]", "127.0.0.1"] {
            assert_eq!(
                curl(&format!("http://{host}:{port}/")),
                "default bridge over ipv6\n",
                "{who} {host}"
            );
        }
    }
    // Outbound IPv6 from the default bridge is masqueraded, both engines.
    let fetch = "wget -qO- 'http://[fd42:77e::2]:8000/'";
    let dseen = dk.ok(&["run", "--rm", "tbx-net-bb:1", "sh", "-c", fetch]);
    let o = with_config(&[
        "run",
        "--rm",
        busybox_rootfs().to_str().unwrap(),
        "sh",
        "-c",
        fetch,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(dseen.trim(), "fd42:77e::1", "docker");
    assert_eq!(stdout(&o).trim(), "fd42:77e::1", "tinibox");

    run(root.tinibox().args(["rm", "-f", "t6def"]));
    dk.ok(&["rm", "-f", "d6def"]);
    drop(dk);
    let _ = srv.kill();
    let _ = srv.wait();
    drop(up);
    // Without the setting the default bridge is IPv4 only again once no container uses it.
    default_bridge_idle();
    let (code, out, err) = run_once(
        &root,
        &["--network", "bridge"],
        &["sh", "-c", "ip -6 -o addr show eth0 scope global | wc -l"],
    );
    assert_eq!((code, out.trim()), (0, "0"), "{err}");
    assert_as_before(&before, "after rm and a run without ipv6");
}

/// UDP published on a network with IPv6: `-p PORT:53/udp` carries datagrams on `[::1]` (the
/// relay) and on the host's IPv6 address (the bridge's, DNAT in `ip6 tinibox`) as on
/// 127.0.0.1; nothing is left after rm and network rm.
#[test]
fn published_udp_port_carries_datagrams_over_ipv6() {
    let (_g, root) = setup();
    let before = host_snapshot(&root);
    let tools = tempfile::tempdir().unwrap();
    let server = udp_echo_server(tools.path());
    let net = net_name("udp6");
    let (code, _, err) = network(
        &root,
        &[
            "create",
            "--ipv6",
            "--subnet",
            "10.89.195.0/24",
            "--subnet",
            "fd42:7e3::/64",
            &net,
        ],
    );
    assert_eq!(code, 0, "{err}");
    let port = free_port();
    let vol = format!("{}:/udp-echo:ro", server.display());
    let o = run(root
        .tinibox()
        .args(["run", "-d", "--network", &net, "--name", "udp6", "-v", &vol])
        .args(["-p", &format!("{port}:53/udp")])
        .arg(busybox_rootfs())
        .args(["/udp-echo", "53"])
        .stdin(Stdio::null()));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&run(root.tinibox().args(["port", "udp6"]))),
        format!("53/udp -> 0.0.0.0:{port}\n53/udp -> [::]:{port}\n")
    );
    for (bind, target) in [
        ("[::]:0", "[::1]"),
        ("[::]:0", "[fd42:7e3::1]"),
        ("0.0.0.0:0", "127.0.0.1"),
    ] {
        let sock = UdpSocket::bind(bind).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let to = format!("{target}:{port}");
        let t = Instant::now();
        let answer = loop {
            sock.send_to(b"ping over udp6", to.as_str()).unwrap();
            let mut buf = [0u8; 512];
            if let Ok((n, _)) = sock.recv_from(&mut buf) {
                break String::from_utf8_lossy(&buf[..n]).to_string();
            }
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "no UDP answer through {to}"
            );
        };
        assert_eq!(answer, "echo: ping over udp6", "{to}");
    }
    run(root.tinibox().args(["rm", "-f", "udp6"]));
    let (code, _, err) = network(&root, &["rm", &net]);
    assert_eq!(code, 0, "{err}");
    assert_as_before(&before, "after rm -f and network rm");
}
