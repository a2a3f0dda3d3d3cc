//! The proxy of ports published on the host's IPv6 loopback address: a process per container
//! (the hidden command `tinibox net-proxy`) that listens on `[::1]:HOSTPORT` and relays each
//! TCP connection and UDP flow to `[CONTAINER-IPv6]:PORT`.
//!
//! Why a process: the kernel cannot DNAT a connection from `::1` to a bridge — `::1` is a
//! strict-interface address, so the answer, turned back to `::1` on arrival at the bridge,
//! has no route (`ip -6 route get ::1 iif BRIDGE`: unreachable), and IPv6 has no
//! `route_localnet`. Docker's `docker-proxy` serves `[::1]` for the same reason while its
//! DNAT rules skip `::1`; [`super::rules`] does the same. Every other address (IPv4 loopback
//! included) stays on the kernel's DNAT path.
//!
//! Lifetime: the proxy holds a pidfd of the container's init and ends when that ends (so a
//! SIGKILLed tinibox leaves no proxy behind once the container is gone); a leave that keeps
//! the container running (`network disconnect`) stops it through [`stop`], which checks the
//! process's start time so a reused pid is never signalled. Owns the relaying only; which
//! ports it serves comes from [`super::ports`].

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv6Addr, Shutdown, SocketAddr, SocketAddrV6, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ports::{PortMapping, Protocol};
use super::NetError;

/// How long a UDP flow without datagrams is kept (Docker's proxy: 90 s).
const UDP_IDLE: Duration = Duration::from_secs(90);

/// A running proxy: its pid and start time (field 22 of `/proc/PID/stat`, clock ticks since
/// boot), stored in the container's lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proxy {
    /// Its pid.
    pub pid: i32,
    /// Its start time.
    pub start: u64,
}

/// One relayed port: `[::1]:host_port` → `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    /// Protocol.
    pub protocol: Protocol,
    /// The port on `[::1]`.
    pub host_port: u16,
    /// The container's address and port.
    pub target: SocketAddrV6,
}

impl Forward {
    /// The command-line form: `tcp:8080:[fd42::2]:80`.
    pub fn to_arg(&self) -> String {
        format!("{}:{}:{}", self.protocol, self.host_port, self.target)
    }

    /// Parses [`Forward::to_arg`]'s form.
    pub fn parse(arg: &str) -> Option<Forward> {
        let (proto, rest) = arg.split_once(':')?;
        let (port, target) = rest.split_once(':')?;
        Some(Forward {
            protocol: match proto {
                "tcp" => Protocol::Tcp,
                "udp" => Protocol::Udp,
                _ => return None,
            },
            host_port: port.parse().ok()?,
            target: target.parse().ok()?,
        })
    }
}

/// The forwards a container with IPv6 address `ip6` needs for `ports`: one per port published
/// on `::` or `::1`.
pub fn forwards(ip6: Ipv6Addr, ports: &[PortMapping]) -> Vec<Forward> {
    ports
        .iter()
        .filter(|p| p.on_ipv6_loopback())
        .map(|p| Forward {
            protocol: p.protocol,
            host_port: p.host_port,
            target: SocketAddrV6::new(ip6, p.container_port, 0, 0),
        })
        .collect()
}

/// The start time of `pid` (None when it does not exist).
fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count from its closing parenthesis.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

/// Starts a proxy for `forwards` that lives as long as the process `pid` (the container's
/// init); returns once it listens on every port, or with its one-line error (a port in use).
pub fn spawn(pid: i32, forwards: &[Forward]) -> Result<Proxy, NetError> {
    let exe = std::fs::read_link("/proc/self/exe")
        .map_err(|e| NetError::System(format!("finding tinibox's own binary: {e}")))?;
    let mut cmd = Command::new(exe);
    cmd.arg("net-proxy")
        .arg("--pid")
        .arg(pid.to_string())
        .args(forwards.iter().map(Forward::to_arg))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    // SAFETY: setsid is async-signal-safe; the child only calls it before exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| NetError::System(format!("starting the IPv6 loopback proxy: {e}")))?;
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    let line = line.trim();
    if line != "ready" {
        let _ = child.kill();
        let _ = child.wait();
        return Err(NetError::Invalid(if line.is_empty() {
            "the IPv6 loopback proxy ended before it listened".to_string()
        } else {
            line.to_string()
        }));
    }
    let pid = child.id() as i32;
    // The proxy outlives this process; it is reaped by whoever adopts it.
    drop(child);
    Ok(Proxy {
        pid,
        start: start_time(pid).unwrap_or(0),
    })
}

/// Stops `proxy` if that process still runs (same pid and start time).
pub fn stop(proxy: &Proxy) {
    if start_time(proxy.pid) == Some(proxy.start) {
        // SAFETY: plain kill(2) of a process whose identity was just checked.
        unsafe {
            libc::kill(proxy.pid, libc::SIGTERM);
        }
    }
}

/// One splice(2) of at most `len` bytes from `from` to `to` (no offsets, moving pages where
/// the kernel can); the count moved, 0 at EOF of `from`.
fn splice(from: &impl AsRawFd, to: &impl AsRawFd, len: usize) -> std::io::Result<usize> {
    let flags = libc::SPLICE_F_MOVE | libc::SPLICE_F_MORE;
    // SAFETY: splice between two descriptors the caller keeps open, no offsets.
    let n = unsafe {
        libc::splice(
            from.as_raw_fd(),
            std::ptr::null_mut(),
            to.as_raw_fd(),
            std::ptr::null_mut(),
            len,
            flags,
        )
    };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Moves everything `from` sends to `to` through a pipe with splice(2), so the bytes stay in
/// the kernel (a userspace copy loop relayed ~0.3 of the direct IPv6 throughput; see
/// BENCHMARKS.md). Ok at EOF.
fn splice_all(from: &TcpStream, to: &TcpStream) -> std::io::Result<()> {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 fills the two descriptors, which are owned right after.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: two new descriptors this thread owns.
    let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    loop {
        let n = splice(from, &wr, 1 << 20)?;
        if n == 0 {
            return Ok(());
        }
        let mut left = n;
        while left > 0 {
            match splice(&rd, to, left)? {
                0 => return Err(std::io::ErrorKind::WriteZero.into()),
                m => left -= m,
            }
        }
    }
}

/// Relays bytes one way until EOF, then half-closes the other side.
fn pipe(from: TcpStream, to: TcpStream) {
    let _ = splice_all(&from, &to);
    let _ = to.shutdown(Shutdown::Write);
}

fn serve_tcp(listener: TcpListener, target: SocketAddrV6) {
    for conn in listener.incoming() {
        let Ok(client) = conn else { continue };
        std::thread::spawn(move || {
            let Ok(server) =
                TcpStream::connect_timeout(&SocketAddr::V6(target), Duration::from_secs(10))
            else {
                return;
            };
            let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
                return;
            };
            let back = std::thread::spawn(move || pipe(s2, c2));
            pipe(client, server);
            let _ = back.join();
        });
    }
}

fn serve_udp(socket: UdpSocket, target: SocketAddrV6) {
    let socket = Arc::new(socket);
    let reply = socket.clone();
    let flows: Arc<Mutex<HashMap<SocketAddr, Arc<UdpSocket>>>> = Arc::default();
    let mut buf = vec![0u8; 65_535];
    loop {
        let Ok((n, client)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let known = flows.lock().ok().and_then(|f| f.get(&client).cloned());
        let upstream = match known {
            Some(u) => u,
            None => {
                let Ok(u) = UdpSocket::bind("[::]:0") else {
                    continue;
                };
                if u.connect(target).is_err() || u.set_read_timeout(Some(UDP_IDLE)).is_err() {
                    continue;
                }
                let u = Arc::new(u);
                if let Ok(mut f) = flows.lock() {
                    f.insert(client, u.clone());
                }
                let (u2, reply, flows) = (u.clone(), reply.clone(), flows.clone());
                std::thread::spawn(move || {
                    let mut b = vec![0u8; 65_535];
                    while let Ok(n) = u2.recv(&mut b) {
                        let _ = reply.send_to(&b[..n], client);
                    }
                    if let Ok(mut f) = flows.lock() {
                        f.remove(&client);
                    }
                });
                u
            }
        };
        let _ = upstream.send(&buf[..n]);
    }
}

/// The hidden command `tinibox net-proxy --pid PID FORWARD…`: listens on every forward's
/// port (one line `ready` on stdout, or the error), relays until `pid` ends. Returns the exit
/// status.
pub fn run(pid: i32, args: &[String]) -> u8 {
    let fail = |msg: String| {
        println!("{msg}");
        1
    };
    let mut parsed = Vec::new();
    for a in args {
        match Forward::parse(a) {
            Some(f) => parsed.push(f),
            None => return fail(format!("net-proxy: {a:?} is not PROTO:PORT:[IPv6]:PORT")),
        }
    }
    // SAFETY: pidfd_open(2) with a pid and no flags; the result is a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return fail(format!(
            "net-proxy: the container's init (pid {pid}) is gone: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: a new descriptor this process owns.
    let pidfd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let mut tcp = Vec::new();
    let mut udp = Vec::new();
    for f in &parsed {
        let at = SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::LOCALHOST, f.host_port, 0, 0));
        let bound = match f.protocol {
            Protocol::Tcp => TcpListener::bind(at).map(|l| tcp.push((l, f.target))),
            Protocol::Udp => UdpSocket::bind(at).map(|s| udp.push((s, f.target))),
        };
        if let Err(e) = bound {
            return fail(format!(
                "-p [::1]:{}:{}/{}: host port {} is in use on [::1] ({e}) — stop what holds it or pick another port",
                f.host_port,
                f.target.port(),
                f.protocol,
                f.host_port
            ));
        }
    }
    println!("ready");
    let _ = std::io::stdout().flush();
    // Let the starter's read end: stdout becomes /dev/null.
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        // SAFETY: dup2 onto this process's own stdout.
        unsafe {
            libc::dup2(null.as_raw_fd(), 1);
        }
    }
    for (l, t) in tcp {
        std::thread::spawn(move || serve_tcp(l, t));
    }
    for (s, t) in udp {
        std::thread::spawn(move || serve_udp(s, t));
    }
    let mut p = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: one pollfd that lives across the call.
        let r = unsafe { libc::poll(&mut p, 1, -1) };
        if r > 0 {
            return 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwards_round_trip_through_their_argument() {
        let f = Forward {
            protocol: Protocol::Udp,
            host_port: 5353,
            target: "[fd42:1::2]:53".parse().unwrap(),
        };
        assert_eq!(f.to_arg(), "udp:5353:[fd42:1::2]:53");
        assert_eq!(Forward::parse(&f.to_arg()), Some(f));
        for bad in ["", "sctp:1:[::1]:2", "tcp:x:[::1]:2", "tcp:1:10.0.0.1:2"] {
            assert_eq!(Forward::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_ports_on_ipv6_loopback_are_proxied() {
        let m = |host: &str| PortMapping {
            host_ip: host.parse().unwrap(),
            host_port: 8080,
            container_port: 80,
            protocol: Protocol::Tcp,
        };
        let ports = [
            m("0.0.0.0"),
            m("::"),
            m("::1"),
            m("fd00::2"),
            m("127.0.0.1"),
        ];
        let f = forwards("fd42::2".parse().unwrap(), &ports);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].to_arg(), "tcp:8080:[fd42::2]:80");
    }

    #[test]
    fn a_process_start_time_identifies_it() {
        let me = std::process::id() as i32;
        assert!(start_time(me).is_some());
        assert_eq!(start_time(i32::MAX), None);
    }
}
