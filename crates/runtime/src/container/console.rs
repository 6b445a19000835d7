//! Foreground `run` of a spec with `process.terminal` and no
//! `--console-socket`: the runtime takes the pty master itself and relays
//! it to its own stdin/stdout, with the caller's terminal in raw mode, as
//! runc does.

use std::fs::File;
use std::io::{self, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use nix::sys::termios::{self, SetArg, Termios};

use super::ContainerError;

/// A listening console socket. It is bound before the init is cloned and
/// read after: the init's connection waits in the backlog and its message
/// in the socket buffer, so no thread runs while the process is cloned.
pub(crate) struct ConsoleSocket {
    path: PathBuf,
    listener: UnixListener,
}

impl ConsoleSocket {
    /// Listens at `path`.
    pub fn bind(path: PathBuf) -> Result<Self, ContainerError> {
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)
            .map_err(|e| ContainerError::sys(format!("listen on {}", path.display()), e))?;
        Ok(ConsoleSocket { path, listener })
    }

    /// The socket path to hand to the init.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes the pty master the init sent.
    pub fn master(&self) -> Result<OwnedFd, ContainerError> {
        let err = |e: io::Error| ContainerError::sys("receive the pty master", e);
        let (conn, _) = self.listener.accept().map_err(err)?;
        let mut buf = [0u8; 4096];
        let mut iov = [IoSliceMut::new(&mut buf)];
        let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let msg = recvmsg::<()>(
            conn.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .map_err(|e| err(e.into()))?;
        for c in msg.cmsgs().map_err(|e| err(e.into()))? {
            if let ControlMessageOwned::ScmRights(fds) = c {
                if let Some(&fd) = fds.first() {
                    // SAFETY: SCM_RIGHTS just installed this fd in our
                    // table; nothing else owns it.
                    return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
                }
            }
        }
        Err(err(io::Error::other("no fd in the console message")))
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Copies stdin to the pty and the pty to stdout until the pty closes;
/// the caller's terminal is raw meanwhile and restored on drop.
pub(crate) struct Relay {
    master: OwnedFd,
    saved: Option<Termios>,
    done: mpsc::Receiver<()>,
}

impl Relay {
    /// Starts relaying.
    pub fn start(master: OwnedFd) -> Result<Relay, ContainerError> {
        let stdin = io::stdin();
        let saved = termios::tcgetattr(stdin.as_fd()).ok();
        if let Some(t) = &saved {
            let mut raw = t.clone();
            termios::cfmakeraw(&mut raw);
            let _ = termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw);
        }
        let relay_err = |e: io::Error| ContainerError::sys("relay the terminal", e);
        let to_pty = File::from(master.try_clone().map_err(relay_err)?);
        let from_pty = File::from(master.try_clone().map_err(relay_err)?);
        let relay = Relay {
            master,
            saved,
            done: {
                let (tx, rx) = mpsc::channel();
                std::thread::spawn(move || {
                    let mut from_pty = from_pty;
                    // Ends with EIO once the last slave fd is closed.
                    let _ = io::copy(&mut from_pty, &mut io::stdout());
                    let _ = tx.send(());
                });
                rx
            },
        };
        std::thread::spawn(move || {
            let mut to_pty = to_pty;
            let _ = io::copy(&mut io::stdin(), &mut to_pty);
        });
        relay.resize();
        Ok(relay)
    }

    /// Copies the caller's window size to the pty (on start and SIGWINCH).
    pub fn resize(&self) {
        let mut ws: libc::winsize = libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ writes a `winsize` into the valid, owned
        // struct; a non-tty stdin just fails.
        if unsafe { libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) } == 0 {
            // SAFETY: TIOCSWINSZ reads the `winsize` we own; the master fd
            // is open for the lifetime of `self`.
            unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
        }
    }

    /// Waits (briefly) for the output to drain after the process ended.
    pub fn finish(self) {
        let _ = self.done.recv_timeout(Duration::from_secs(1));
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            let _ = termios::tcsetattr(io::stdin().as_fd(), SetArg::TCSANOW, t);
        }
    }
}
