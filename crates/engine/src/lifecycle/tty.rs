//! `-t`: the runtime sends the pty master over a console socket (as runc's
//! `--console-socket`); we relay it to our own terminal in raw mode.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;

use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};

use super::start::Launch;
use crate::container::Container;
use crate::engine::Engine;
use crate::error::EngineError;

/// A listening console socket in a private temp directory (a unix socket
/// path must fit in 108 bytes, which `--runroot` plus a 64-hex id may
/// not), removed on drop.
pub(crate) struct ConsoleSocket {
    pub(crate) path: PathBuf,
    dir: PathBuf,
    listener: UnixListener,
}

impl ConsoleSocket {
    pub(crate) fn new(_engine: &Engine, id: &str, tag: &str) -> Result<Self, EngineError> {
        let short = &id[..12.min(id.len())];
        let dir = std::env::temp_dir().join(format!("berth-{tag}-{short}-{}", std::process::id()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(EngineError::io(id, "create", &dir))?;
        let path = dir.join("console.sock");
        let listener = match UnixListener::bind(&path) {
            Ok(l) => l,
            Err(e) => {
                let _ = std::fs::remove_dir(&dir);
                return Err(EngineError::io(id, "bind", &path)(e));
            }
        };
        Ok(ConsoleSocket {
            path,
            dir,
            listener,
        })
    }

    /// Receives the pty master the runtime sent (it connected and sent
    /// during setup; the backlog held it until now).
    pub(crate) fn receive(&self, id: &str) -> Result<OwnedFd, EngineError> {
        let (stream, _) = self
            .listener
            .accept()
            .map_err(EngineError::io(id, "accept", &self.path))?;
        let mut buf = [0u8; 256];
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let mut cmsg = nix::cmsg_space!([RawFd; 1]);
        let msg = recvmsg::<()>(
            stream.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::empty(),
        )
        .map_err(|source| EngineError::Sys {
            id: id.to_string(),
            op: "receive pty master",
            source,
        })?;
        for c in msg.cmsgs().map_err(|source| EngineError::Sys {
            id: id.to_string(),
            op: "receive pty master",
            source,
        })? {
            if let ControlMessageOwned::ScmRights(fds) = c {
                if let Some(fd) = fds.first() {
                    // SAFETY: the fd was just received via SCM_RIGHTS and is
                    // owned by nobody else in this process.
                    return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
                }
            }
        }
        Err(EngineError::Monitor(format!(
            "container {id}: no pty master received"
        )))
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Puts our stdin terminal in raw mode; restores it on drop.
struct RawMode(Option<Termios>);

impl RawMode {
    fn enter() -> Self {
        let stdin = std::io::stdin();
        let Ok(saved) = tcgetattr(stdin.as_fd()) else {
            return RawMode(None);
        };
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        let _ = tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw);
        RawMode(Some(saved))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            let _ = tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, t);
        }
    }
}

/// Copies the window size of our stdout terminal onto the pty.
fn copy_winsize(master: &OwnedFd) {
    let mut ws: libc::winsize = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes a winsize into the struct we own.
    if unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) } == 0 {
        // SAFETY: TIOCSWINSZ reads the struct; master is a valid pty fd.
        unsafe {
            libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws);
        }
    }
}

/// Relays the pty: stdin to master (when `interactive`, on a thread that
/// ends with the process), master to stdout until the pty closes.
pub(crate) fn relay(master: OwnedFd, interactive: bool) {
    copy_winsize(&master);
    let _raw = interactive.then(RawMode::enter);
    if interactive {
        if let Ok(dup) = master.try_clone() {
            std::thread::spawn(move || {
                let mut to = File::from(dup);
                let mut buf = [0u8; 4096];
                let mut stdin = std::io::stdin();
                while let Ok(n) = stdin.read(&mut buf) {
                    if n == 0 || to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    }
    let mut from = File::from(master);
    let mut out = std::io::stdout();
    let mut buf = [0u8; 8192];
    // EIO once every slave fd is closed: the container is gone.
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || out.write_all(&buf[..n]).is_err() {
            break;
        }
        let _ = out.flush();
    }
}

impl Engine {
    /// The foreground run with a pty.
    pub(crate) fn run_with_tty(&self, c: &Container, launch: &Launch) -> Result<i32, EngineError> {
        let socket = ConsoleSocket::new(self, &c.id, "console")?;
        let init = match self.spawn(c, launch, runtime::Stdio::default(), Some(&socket.path)) {
            Ok(p) => p,
            Err(e) => {
                self.record_start_failed(&c.id, &e);
                return Err(e);
            }
        };
        self.record_started(&c.id, init.pid)?;
        if let Ok(master) = socket.receive(&c.id) {
            relay(master, c.host_config.interactive);
        }
        let code = init.wait().unwrap_or(crate::container::EXIT_UNKNOWN);
        self.record_exit(&c.id, code);
        Ok(code)
    }
}
