//! `start`: release a created container's init (it blocks opening the
//! exec fifo for writing until we open it for reading), then run the
//! `poststart` hooks.

use std::fs::OpenOptions;
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use oci_spec::runtime::ContainerState;

use super::cgroup::is_frozen;
use super::ContainerError;
use crate::hooks::run_hooks;
use crate::state::{Record, Status, Store};

/// How often `start` re-checks that the init is still alive while waiting
/// for it to take the fifo.
const ALIVE_CHECK: Duration = Duration::from_millis(100);

/// Starts container `id`. Returns the warnings of failed `poststart` hooks
/// (the spec says they are logged, and the container keeps running).
pub fn start(store: &Store, id: &str) -> Result<Vec<String>, ContainerError> {
    let dir = store.open(id)?;
    let rec = dir.load()?;
    match dir.status(&rec, || is_frozen(&rec)) {
        Status::Created => {}
        Status::Stopped => return Err(ContainerError::StartStopped),
        Status::Running | Status::Paused => return Err(ContainerError::StartRunning),
    }
    let fifo = dir.exec_fifo();
    release(&rec, &fifo)?;
    // The fifo's presence is what says "created": one left behind would
    // show a running container as created, and a second start would
    // wait on it. As runc, that is start's error.
    match std::fs::remove_file(&fifo) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(ContainerError::sys(
                format!("remove exec fifo {}", fifo.display()),
                e,
            ))
        }
        _ => {}
    }
    Ok(poststart(&rec))
}

/// Opens the fifo for reading, which lets the init's blocking open for
/// writing return; then waits until it wrote its byte or closed the fifo
/// (its `O_CLOEXEC` copy goes away at `execve`), checking it stays alive.
fn release(rec: &Record, fifo: &std::path::Path) -> Result<(), ContainerError> {
    let mut f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(fifo)
        .map_err(|e| ContainerError::sys(format!("open exec fifo {}", fifo.display()), e))?;
    let timeout = PollTimeout::from(ALIVE_CHECK.as_millis() as u16);
    loop {
        let mut fds = [PollFd::new(f.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, timeout) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => {}
            Ok(_) => {
                let ready = fds[0].revents().unwrap_or(PollFlags::empty());
                if ready.intersects(PollFlags::POLLIN | PollFlags::POLLHUP) {
                    let mut buf = [0u8; 16];
                    let _ = f.read(&mut buf);
                    return Ok(());
                }
            }
            Err(e) => return Err(ContainerError::sys("poll exec fifo", e)),
        }
        if !rec.init_alive() {
            return Err(ContainerError::InitGone(rec.id.clone()));
        }
    }
}

fn poststart(rec: &Record) -> Vec<String> {
    let hooks = rec
        .config
        .hooks()
        .as_ref()
        .and_then(|h| h.poststart().clone())
        .unwrap_or_default();
    match run_hooks(&hooks, &rec.oci_state(ContainerState::Running)) {
        Ok(()) => Vec::new(),
        Err(e) => vec![format!("poststart hook of container {}: {e}", rec.id)],
    }
}

/// The `poststart` step for `run`, which starts without the fifo.
pub(crate) fn run_poststart(rec: &Record) -> Vec<String> {
    poststart(rec)
}
