//! The sync channel between the runtime and the container child: a
//! close-on-exec `SOCK_SEQPACKET` pair carrying one JSON message per packet.
//! The child's end closing without an error message means it exec'd.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
use serde::{Deserialize, Serialize};

use crate::error::ChildErrorKind;

/// One message on the channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Msg {
    /// Parent → child: go on to the next stage.
    Go,
    /// Intermediate → parent: the pid of the process that becomes the
    /// container process (after a namespace-joining double fork).
    Pid(i32),
    /// Intermediate → parent: as `Pid`, and the process was cloned into
    /// the cgroup2 directory the caller's `before_clone` gave.
    PidInCgroup(i32),
    /// Parent → child: the caller's `after_clone` (cgroup placement) is
    /// done; the child may now create its cgroup namespace.
    Placed,
    /// Child → parent: all mounts done, waiting before `pivot_root`.
    MountsDone,
    /// Child → parent: fully set up, now blocking on the exec fifo.
    Ready,
    /// Child → parent: setup failed.
    Error {
        /// Kind, for the 126/127 mapping.
        kind: ChildErrorKind,
        /// One-line message.
        message: String,
    },
}

/// The largest message a receiver takes (a packet is never split).
const MAX_MSG: usize = 64 * 1024;

/// One end of the channel.
pub(crate) struct Channel(OwnedFd);

/// A connected pair: (parent end, child end).
pub(crate) fn pair() -> io::Result<(Channel, Channel)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    Ok((Channel(a), Channel(b)))
}

impl Channel {
    /// Sends one message.
    pub(crate) fn send(&self, msg: &Msg) -> io::Result<()> {
        let buf = serde_json::to_vec(msg).map_err(io::Error::other)?;
        loop {
            match send(self.0.as_raw_fd(), &buf, MsgFlags::MSG_NOSIGNAL) {
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
                Ok(_) => return Ok(()),
            }
        }
    }

    /// Receives one message; `None` when the other end closed (for the
    /// parent: the child exec'd or died).
    pub(crate) fn recv(&self) -> io::Result<Option<Msg>> {
        // Room for any message, left uninitialised: zeroing it would
        // touch (and, in the freshly cloned child, copy) 16 pages for a
        // message that is a few bytes long.
        let mut buf: Vec<u8> = Vec::with_capacity(MAX_MSG);
        let n = loop {
            // SAFETY: the pointer and length describe `buf`'s allocated
            // capacity, which the kernel only writes into.
            let r = unsafe {
                libc::recv(
                    self.0.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.capacity(),
                    0,
                )
            };
            match Errno::result(r) {
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
                Ok(n) => break n as usize,
            }
        };
        if n == 0 {
            return Ok(None);
        }
        // SAFETY: the kernel wrote the first `n` bytes.
        unsafe { buf.set_len(n) };
        serde_json::from_slice(&buf)
            .map(Some)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// Waits for `Go` (child side); anything else is an error.
    pub(crate) fn wait_go(&self) -> io::Result<()> {
        match self.recv()? {
            Some(Msg::Go) => Ok(()),
            other => Err(io::Error::other(format!(
                "sync: expected go from runtime, got {other:?}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_eof() {
        let (a, b) = pair().unwrap();
        let err = Msg::Error {
            kind: ChildErrorKind::NotFound,
            message: "exec: \"x\": executable file not found in $PATH".into(),
        };
        b.send(&err).unwrap();
        b.send(&Msg::Pid(42)).unwrap();
        assert_eq!(a.recv().unwrap(), Some(err));
        assert_eq!(a.recv().unwrap(), Some(Msg::Pid(42)));
        drop(b);
        assert_eq!(a.recv().unwrap(), None);
    }

    #[test]
    fn a_long_message_arrives_whole() {
        let (a, b) = pair().unwrap();
        let err = Msg::Error {
            kind: ChildErrorKind::Other,
            message: "x/".repeat(20_000),
        };
        b.send(&err).unwrap();
        b.send(&Msg::Placed).unwrap();
        assert_eq!(a.recv().unwrap(), Some(err));
        assert_eq!(a.recv().unwrap(), Some(Msg::Placed));
    }
}
