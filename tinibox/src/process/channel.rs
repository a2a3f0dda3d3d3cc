//! The child ↔ parent channel: between `create` and stage 1 and the container's init, and
//! between `exec` and its helper and process. A `SOCK_SEQPACKET` socketpair carrying one JSON
//! message per packet. Owns the one message set (and [`ChildError`], the one way the child
//! side reports a failure, also used by the exec fifo) and its framing; it does not act on
//! the messages.

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use serde::{Deserialize, Serialize};

/// Messages between the parent and the container side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Msg {
    /// Stage 1 made a new user namespace: the parent writes uid/gid maps for this pid.
    UserNsCreated(i32),
    /// The parent wrote the maps.
    UserMapsWritten,
    /// Stage 1 forked the init, or `exec`'s helper forked the process (containers without a
    /// user namespace or namespaces joined by path have no stage 1: `create` forks the init).
    Forked {
        /// Its pid in the parent's pid namespace.
        pid: i32,
        /// Born in the container's cgroup (clone3 CLONE_INTO_CGROUP, cgroup v2): the parent
        /// has nothing to move.
        in_cgroup: bool,
    },
    /// The parent moved the init into the container's cgroup (done while the init prepares
    /// its mounts: on cgroup v1 that write waits for an RCU grace period, several ms).
    /// Carries the cgroup's host directories (controller, or "unified" on v2 → directory),
    /// which cgroup mounts bind when the container cannot mount cgroupfs itself.
    CgroupJoined(BTreeMap<String, PathBuf>),
    /// The container's cgroup v1 directories are ready (device rules written): the init moves
    /// itself in (see [`super::init`]), which is much cheaper than being moved.
    JoinCgroup(BTreeMap<String, PathBuf>),
    /// The init prepared the mounts and waits for prestart/createRuntime hooks.
    HooksPlease,
    /// The parent ran the hooks; carries the OCI state JSON for the container-side hooks.
    HooksDone(String),
    /// The init is ready and now blocks on the exec fifo.
    Ready,
    /// Something failed on the container side (the last message the child sends).
    Error(ChildError),
}

/// A failure reported by the container side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildError {
    /// What failed, one line.
    pub msg: String,
    /// For exec failures: 127 not found, 126 cannot execute.
    pub exec_code: Option<i32>,
    /// For exec failures: the command.
    pub exec_path: Option<String>,
}

impl ChildError {
    /// A plain setup failure.
    pub fn new(msg: impl Into<String>) -> Self {
        ChildError {
            msg: msg.into(),
            exec_code: None,
            exec_path: None,
        }
    }

    /// The command `path` (process.args[0]) cannot run: `code` 127 (not found) or 126 (not
    /// executable), with the reason.
    pub fn exec_failed(code: i32, path: &str, msg: impl Into<String>) -> Self {
        ChildError {
            msg: msg.into(),
            exec_code: Some(code),
            exec_path: Some(path.to_string()),
        }
    }

    /// The status the failing child exits with: the exec code, else 1.
    pub fn exit_code(&self) -> i32 {
        self.exec_code.unwrap_or(1)
    }
}

/// One end of the channel.
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
}

/// Makes a connected pair (close-on-exec) whose fds are numbered `min` or above, so that they
/// never take the place of fds 3..3+N passed through to the container (`--preserve-fds`).
pub fn pair(min: RawFd) -> nix::Result<(Channel, Channel)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    Ok((Channel { fd: lift(a, min)? }, Channel { fd: lift(b, min)? }))
}

/// `fd` itself when numbered `min` or above, else a close-on-exec duplicate that is.
fn lift(fd: OwnedFd, min: RawFd) -> nix::Result<OwnedFd> {
    if fd.as_raw_fd() >= min {
        return Ok(fd);
    }
    let n = nix::fcntl::fcntl(fd.as_raw_fd(), nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(min))?;
    // SAFETY: F_DUPFD_CLOEXEC returned a new fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}

impl Channel {
    /// Sends one message. A closed peer is an error (EPIPE), never a SIGPIPE.
    pub fn send(&self, msg: &Msg) -> std::io::Result<()> {
        let data = serde_json::to_vec(msg).map_err(std::io::Error::other)?;
        let n = nix::sys::socket::send(
            self.fd.as_raw_fd(),
            &data,
            nix::sys::socket::MsgFlags::MSG_NOSIGNAL,
        )?;
        if n != data.len() {
            return Err(std::io::Error::other("short write on sync socket"));
        }
        Ok(())
    }

    /// Receives one message; `Ok(None)` when the other side closed without a message.
    ///
    /// The buffer is the packet's size ([`Channel::next_len`]), not a fixed 64 KiB: a zeroed
    /// buffer of that size was 64 KiB of heap touched in every `create` (BENCHMARKS.md, "Heap
    /// of a container start").
    pub fn recv(&self) -> std::io::Result<Option<Msg>> {
        let len = self.next_len()?;
        if len == 0 {
            return Ok(None);
        }
        let mut buf = vec![0u8; len];
        let n = loop {
            match nix::unistd::read(self.fd.as_raw_fd(), &mut buf) {
                Ok(n) => break n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        if n == 0 {
            return Ok(None);
        }
        serde_json::from_slice(&buf[..n])
            .map(Some)
            .map_err(std::io::Error::other)
    }

    /// Waits for the next packet and returns its length without taking it (`MSG_PEEK` with
    /// `MSG_TRUNC`, which makes a `SOCK_SEQPACKET` socket say the whole length); 0 when the
    /// other side closed.
    fn next_len(&self) -> std::io::Result<usize> {
        use nix::sys::socket::MsgFlags;
        loop {
            match nix::sys::socket::recv(
                self.fd.as_raw_fd(),
                &mut [],
                MsgFlags::MSG_PEEK | MsgFlags::MSG_TRUNC,
            ) {
                Ok(n) => return Ok(n),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The raw fd (to keep it out of the close-on-exec sweep, or to close it).
    pub fn raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_eof() {
        let (a, b) = pair(0).unwrap();
        a.send(&Msg::Forked {
            pid: 42,
            in_cgroup: false,
        })
        .unwrap();
        a.send(&Msg::Error(ChildError::new("boom"))).unwrap();
        assert_eq!(
            b.recv().unwrap(),
            Some(Msg::Forked {
                pid: 42,
                in_cgroup: false
            })
        );
        assert_eq!(b.recv().unwrap(), Some(Msg::Error(ChildError::new("boom"))));
        drop(a);
        assert_eq!(b.recv().unwrap(), None);
    }

    #[test]
    fn send_to_a_closed_peer_is_an_error_not_a_sigpipe() {
        // In a forked child with SIGPIPE at its default (as in the tinibox binary), so that a
        // SIGPIPE would kill the child instead of passing unnoticed.
        // SAFETY: the child only calls async-signal-safe functions and our send, then _exits.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
                let (a, b) = pair(0).unwrap();
                drop(b);
                let code = match a.send(&Msg::Ready) {
                    Err(e) if e.raw_os_error() == Some(libc::EPIPE) => 0,
                    _ => 1,
                };
                unsafe { libc::_exit(code) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                let status = nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 0));
            }
        }
    }

    #[test]
    fn a_message_larger_than_64_kib_arrives_whole() {
        let (a, b) = pair(0).unwrap();
        let state = "x".repeat(100_000);
        a.send(&Msg::HooksDone(state.clone())).unwrap();
        a.send(&Msg::Ready).unwrap();
        assert_eq!(b.recv().unwrap(), Some(Msg::HooksDone(state)));
        assert_eq!(b.recv().unwrap(), Some(Msg::Ready));
    }

    #[test]
    fn pair_fds_are_above_the_minimum() {
        let (a, b) = pair(40).unwrap();
        assert!(a.raw_fd() >= 40 && b.raw_fd() >= 40);
        a.send(&Msg::Ready).unwrap();
        assert_eq!(b.recv().unwrap(), Some(Msg::Ready));
    }
}
