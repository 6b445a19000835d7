//! `-t`: the runtime sends the pty master over a console socket (as runc's
//! `--console-socket`); we relay it to our own terminal in raw mode, and
//! our terminal's size to it (at start and on every SIGWINCH).

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};
use nix::unistd::pipe2;

use super::start::Launch;
use crate::container::Container;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::logs::{LogStream, LogWriter};

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

/// The size of our terminal: stdout's, as Docker's CLI, else stdin's or
/// stderr's when stdout is redirected; None without a terminal.
fn terminal_winsize() -> Option<libc::winsize> {
    for fd in [libc::STDOUT_FILENO, libc::STDIN_FILENO, libc::STDERR_FILENO] {
        let mut ws = libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ writes a winsize into the struct we own.
        if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0 {
            return Some(ws);
        }
    }
    None
}

/// Our terminal's size as the OCI `process.consoleSize`: the runtime sizes
/// the pty before the container runs, so a command that asks at once
/// (`stty size`) never sees 0x0 (Docker passes it at create for this).
pub(crate) fn console_size() -> Option<oci_spec::runtime::Box> {
    let ws = terminal_winsize()?;
    oci_spec::runtime::BoxBuilder::default()
        .height(u64::from(ws.ws_row))
        .width(u64::from(ws.ws_col))
        .build()
        .ok()
}

/// Copies our terminal's size onto the pty.
fn copy_winsize(master: &OwnedFd) {
    if let Some(ws) = terminal_winsize() {
        // SAFETY: TIOCSWINSZ reads the struct; master is a valid pty fd.
        unsafe {
            libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws);
        }
    }
}

/// The write end of the SIGWINCH self-pipe, -1 when no relay runs.
static WINCH_PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_winch(_: libc::c_int) {
    let fd = WINCH_PIPE.load(Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: write(2) is async-signal-safe; the buffer is static. The
        // pipe is non-blocking: when full, a resize is already pending.
        unsafe {
            libc::write(fd, b"w".as_ptr().cast(), 1);
        }
    }
}

/// Keeps the pty's size equal to our terminal's: a SIGWINCH handler pokes
/// a pipe, a thread copies the size (ioctls are not for signal handlers).
/// Drop restores the previous handler and ends the thread.
struct ResizeRelay {
    previous: Option<SigAction>,
    poke: Option<OwnedFd>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ResizeRelay {
    fn start(master: &OwnedFd) -> Self {
        copy_winsize(master);
        // A fn, not a value: dropping an unused value would run Drop.
        let none = || ResizeRelay {
            previous: None,
            poke: None,
            thread: None,
        };
        let Ok(dup) = master.try_clone() else {
            return none();
        };
        let Ok((wake, poke)) = pipe2(OFlag::O_CLOEXEC) else {
            return none();
        };
        if fcntl(&poke, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).is_err() {
            return none();
        }
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            loop {
                match nix::unistd::read(&wake, &mut buf) {
                    Ok(0) => break,
                    Ok(_) => copy_winsize(&dup),
                    Err(nix::errno::Errno::EINTR) => {}
                    Err(_) => break,
                }
            }
        });
        WINCH_PIPE.store(poke.as_raw_fd(), Ordering::Relaxed);
        // SA_RESTART: the relay's blocking reads must not fail with EINTR.
        let action = SigAction::new(
            SigHandler::Handler(on_winch),
            SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        // SAFETY: the handler only reads an atomic and calls write(2), both
        // async-signal-safe.
        let previous = unsafe { sigaction(Signal::SIGWINCH, &action) }.ok();
        ResizeRelay {
            previous,
            poke: Some(poke),
            thread: Some(thread),
        }
    }
}

impl Drop for ResizeRelay {
    fn drop(&mut self) {
        if let Some(old) = &self.previous {
            // SAFETY: restores the action that was installed before ours.
            let _ = unsafe { sigaction(Signal::SIGWINCH, old) };
        }
        WINCH_PIPE.store(-1, Ordering::Relaxed);
        // Closing the write end gives the thread EOF.
        drop(self.poke.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Relays the pty: stdin to master (when `interactive`, on a thread that
/// ends with the process), master to stdout until the pty closes, and our
/// terminal's size to the pty at start and on every SIGWINCH.
pub(crate) fn relay(master: OwnedFd, interactive: bool) {
    relay_logged(master, interactive, None);
}

/// [`relay`], also logging the output (a container's, not an exec's) as
/// one `stdout` stream, as Docker's json-file log of a `-t` container.
fn relay_logged(master: OwnedFd, interactive: bool, mut log: Option<&mut LogWriter>) {
    let _resize = ResizeRelay::start(&master);
    let _raw = interactive.then(RawMode::enter);
    if interactive {
        if let Ok(dup) = master.try_clone() {
            std::thread::spawn(move || {
                let mut to = File::from(dup);
                let mut buf = [0u8; 4096];
                let mut stdin = std::io::stdin();
                loop {
                    match stdin.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            if to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(_) => break,
                    }
                }
            });
        }
    }
    let mut from = File::from(master);
    let mut out = std::io::stdout();
    let mut buf = [0u8; 8192];
    let mut stream = LogStream::new("stdout");
    // EIO once every slave fd is closed: the container is gone.
    loop {
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if let Some(log) = log.as_deref_mut() {
                    log.feed(&mut stream, &buf[..n]);
                }
                if out.write_all(&buf[..n]).is_err() {
                    break;
                }
                let _ = out.flush();
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    if let Some(log) = log {
        log.finish(&mut stream);
    }
}

impl Engine {
    /// Starts `c` with a pty for a detached monitor: the init and the pty
    /// master (for [`crate::logs::LogWriter::pump_pty`]). Without a
    /// terminal to copy, the pty keeps the runtime's default size.
    pub(crate) fn spawn_with_tty(
        &self,
        c: &Container,
        launch: &Launch,
    ) -> Result<(runtime::InitProcess, OwnedFd), EngineError> {
        let socket = ConsoleSocket::new(self, &c.id, "console")?;
        let init = self.spawn(
            c,
            launch,
            runtime::Stdio::default(),
            Some(&socket.path),
            None,
        )?;
        let master = socket.receive(&c.id)?;
        Ok((init, master))
    }

    /// The foreground run with a pty.
    pub(crate) fn run_with_tty(&self, c: &Container, launch: &Launch) -> Result<i32, EngineError> {
        let socket = ConsoleSocket::new(self, &c.id, "console")?;
        let sized;
        let launch = match console_size() {
            Some(size) => {
                let mut spec = launch.spec.clone();
                if let Some(mut process) = spec.process().clone() {
                    process.set_console_size(Some(size));
                    spec.set_process(Some(process));
                }
                sized = Launch {
                    spec,
                    overlay: launch.overlay.clone(),
                    bundle: launch.bundle.clone(),
                };
                &sized
            }
            None => launch,
        };
        let init = match self.spawn(
            c,
            launch,
            runtime::Stdio::default(),
            Some(&socket.path),
            None,
        ) {
            Ok(p) => p,
            Err(e) => {
                self.record_start_failed(&c.id, &e);
                return Err(e);
            }
        };
        self.record_started(&c.id, init.pid)?;
        if let Ok(master) = socket.receive(&c.id) {
            let mut log = LogWriter::lazy(&self.log_path(&c.id));
            relay_logged(master, c.host_config.interactive, Some(&mut log));
        }
        let code = init.wait().unwrap_or(crate::container::EXIT_UNKNOWN);
        self.record_exit(&c.id, code);
        Ok(code)
    }
}
