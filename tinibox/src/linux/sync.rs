//! The message channel between `create` (parent), stage 1 and the container's init: a
//! `SOCK_SEQPACKET` socketpair carrying one JSON message per packet. Owns the message set and
//! its framing; it does not act on the messages.

use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use serde::{Deserialize, Serialize};

/// Messages between the parent and the container side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Msg {
    /// Stage 1 made a new user namespace: the parent writes uid/gid maps for this pid.
    UserNsCreated(i32),
    /// The parent wrote the maps.
    UserMapsWritten,
    /// Stage 1 forked the init: its pid in the parent's pid namespace.
    InitPid(i32),
    /// Stage 1 forked the init directly into the container's cgroup (clone3
    /// CLONE_INTO_CGROUP, cgroup v2): the parent has nothing to move.
    InitPidInCgroup(i32),
    /// The parent moved the init into the container's cgroup (done while the init prepares
    /// its mounts: on cgroup v1 that write waits for an RCU grace period, several ms).
    CgroupJoined,
    /// The init prepared the mounts and waits for prestart/createRuntime hooks.
    HooksPlease,
    /// The parent ran the hooks; carries the OCI state JSON for the container-side hooks.
    HooksDone(String),
    /// The init is ready and now blocks on the exec fifo.
    Ready,
    /// Something failed on the container side.
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
}

/// One end of the channel.
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
}

/// Makes a connected pair (close-on-exec).
pub fn pair() -> nix::Result<(Channel, Channel)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

impl Channel {
    /// Sends one message.
    pub fn send(&self, msg: &Msg) -> std::io::Result<()> {
        let data = serde_json::to_vec(msg).map_err(std::io::Error::other)?;
        let n = nix::unistd::write(&self.fd, &data)?;
        if n != data.len() {
            return Err(std::io::Error::other("short write on sync socket"));
        }
        Ok(())
    }

    /// Receives one message; `Ok(None)` when the other side closed without a message.
    pub fn recv(&self) -> std::io::Result<Option<Msg>> {
        let mut buf = vec![0u8; 65536];
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
        let (a, b) = pair().unwrap();
        a.send(&Msg::InitPid(42)).unwrap();
        a.send(&Msg::Error(ChildError::new("boom"))).unwrap();
        assert_eq!(b.recv().unwrap(), Some(Msg::InitPid(42)));
        assert_eq!(b.recv().unwrap(), Some(Msg::Error(ChildError::new("boom"))));
        drop(a);
        assert_eq!(b.recv().unwrap(), None);
    }
}
