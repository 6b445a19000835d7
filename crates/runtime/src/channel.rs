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

/// What an error's text is cut to when its message would not fit in
/// `MAX_MSG` (the parent would read a cut packet: a JSON parse error
/// instead of the cause, e.g. for a 70,000-byte path). JSON escapes make
/// a byte at most six, so the cut message always fits.
const CUT_ERROR_TEXT: usize = 4 * 1024;

/// `message` cut to about `CUT_ERROR_TEXT` bytes on char boundaries: its
/// start and its end (the object is named first, the cause last) joined
/// by an ellipsis.
fn cut(message: &str) -> String {
    let half = CUT_ERROR_TEXT / 2;
    if message.len() <= 2 * half {
        return message.to_string();
    }
    let mut head = half;
    while !message.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = message.len() - half;
    while !message.is_char_boundary(tail) {
        tail += 1;
    }
    format!("{}…{}", &message[..head], &message[tail..])
}

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
    /// Sends one message; an error too long for a packet is sent with its
    /// text cut (`cut`), so that the receiver still learns the cause.
    pub(crate) fn send(&self, msg: &Msg) -> io::Result<()> {
        let mut buf = serde_json::to_vec(msg).map_err(io::Error::other)?;
        if let (true, Msg::Error { kind, message }) = (buf.len() > MAX_MSG, msg) {
            let short = Msg::Error {
                kind: *kind,
                message: cut(message),
            };
            buf = serde_json::to_vec(&short).map_err(io::Error::other)?;
        }
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
                // The peer closed with a message of ours unread (a child
                // that failed before reading `Placed`): the kernel reports
                // that once, ahead of the packets still queued for us (the
                // child's error), then clears it (unix(7) close,
                // sock_error); the next recv reads them, then EOF.
                Err(Errno::ECONNRESET) => continue,
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

    /// A message longer than a packet the receiver takes (a path of
    /// 70,000 bytes in an error) is cut on a char boundary and still
    /// arrives whole, naming its cause, instead of a JSON parse error.
    #[test]
    fn an_oversized_error_is_cut_and_arrives_whole() {
        let (a, b) = pair().unwrap();
        let long = format!("exec: \"/{}é\": file name too long", "x".repeat(70_000));
        for message in [long.clone(), "é".repeat(40_000)] {
            b.send(&Msg::Error {
                kind: ChildErrorKind::NotFound,
                message: message.clone(),
            })
            .unwrap();
            match a.recv().unwrap() {
                Some(Msg::Error { kind, message: got }) => {
                    assert_eq!(kind, ChildErrorKind::NotFound);
                    assert!(got.len() < 8 * 1024, "{}", got.len());
                    let (head, tail) = got.split_once('…').unwrap();
                    assert!(message.starts_with(head) && message.ends_with(tail));
                    assert!(head.len() > 1024 && tail.len() > 1024);
                }
                other => panic!("{other:?}"),
            }
        }
        b.send(&Msg::Pid(7)).unwrap();
        assert_eq!(a.recv().unwrap(), Some(Msg::Pid(7)));
    }

    /// A peer that sent its error and closed with a message of ours
    /// unread (a child failing before it reads `Placed`) makes the kernel
    /// report ECONNRESET once; the error queued behind it still arrives.
    #[test]
    fn an_error_is_read_after_a_reset() {
        let (a, b) = pair().unwrap();
        let err = Msg::Error {
            kind: ChildErrorKind::Other,
            message: "rootfsPropagation: unknown mode".into(),
        };
        b.send(&err).unwrap();
        a.send(&Msg::Placed).unwrap();
        drop(b);
        assert_eq!(a.recv().unwrap(), Some(err));
        assert_eq!(a.recv().unwrap(), None);
    }
}
