//! `run`: create and start in one step. The init execs right after setup
//! (no exec fifo, no second process). In the foreground the runtime waits
//! for it, forwarding signals, then deletes the container and returns its
//! exit status.

use nix::errno::Errno;
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::bundle::load_bundle;
use super::console::{ConsoleSocket, Relay};
use super::create::{create_inner, CreateOptions};
use super::delete::destroy;
use super::start::run_poststart;
use super::ContainerError;
use crate::state::Store;

/// The signals a foreground `run` passes on to the container (runc's
/// signal forwarding), plus SIGCHLD to notice its exit.
const FORWARDED: [Signal; 7] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

/// The outcome of `run`.
#[derive(Debug)]
pub struct RunOutcome {
    /// The container's exit status (0 when detached).
    pub status: i32,
    /// Warnings of failed `poststart`/`poststop` hooks.
    pub warnings: Vec<String>,
}

/// Runs the container: detached, it is left running (like `create` +
/// `start`); in the foreground, waited for and deleted.
pub fn run(
    store: &Store,
    opts: &CreateOptions,
    detach: bool,
) -> Result<RunOutcome, ContainerError> {
    // A terminal with nobody to take it: relay it ourselves.
    let bundle = load_bundle(&opts.bundle)?;
    let terminal = !detach
        && opts.console_socket.is_none()
        && bundle
            .spec
            .process()
            .as_ref()
            .and_then(|p| p.terminal())
            .unwrap_or(false);
    let console = if terminal {
        std::fs::create_dir_all(store.root())
            .map_err(|e| ContainerError::sys(format!("create {}", store.root().display()), e))?;
        let path = store
            .root()
            .join(format!(".console-{}-{}.sock", opts.id, std::process::id()));
        Some(ConsoleSocket::bind(path)?)
    } else {
        None
    };
    let mut opts = opts.clone();
    if let Some(c) = &console {
        opts.console_socket = Some(c.path().to_path_buf());
    }
    // Foreground: block the forwarded signals and SIGCHLD before the clone,
    // so a signal sent as soon as the process runs is queued, not lost
    // (or fatal to us); the init resets its mask before exec. Blocked
    // before the relay threads start too, so they inherit the mask and
    // SIGCHLD is not consumed by one of them.
    let mut mask = SigSet::empty();
    if !detach {
        for s in FORWARDED.iter().chain([&Signal::SIGCHLD]) {
            mask.add(*s);
        }
        mask.thread_block()
            .map_err(|e| ContainerError::sys("block signals", e))?;
    }
    let created = create_inner(store, &opts, &bundle, false)?;
    if detach {
        return Ok(RunOutcome {
            status: 0,
            warnings: run_poststart(&created.record),
        });
    }
    let relay = match &console {
        Some(c) => Some(Relay::start(c.master()?)?),
        None => None,
    };
    drop(console);
    let mut warnings = run_poststart(&created.record);
    let id = created.record.id.clone();
    let pid = Pid::from_raw(created.record.pid);
    // Let `state`, `kill`, `exec` from other callers in while we wait.
    drop(created.dir);
    let status = wait_forwarding(pid, &mask, relay.as_ref());
    if let Some(r) = relay {
        r.finish();
    }
    let status = status?;
    let dir = store.open(&id)?;
    let rec = dir.load()?;
    warnings.extend(destroy(dir, &rec)?);
    Ok(RunOutcome { status, warnings })
}

/// Waits for child `pid`, passing the forwarded signals on to it; returns
/// its exit code or 128 + the signal that killed it.
fn wait_forwarding(pid: Pid, mask: &SigSet, relay: Option<&Relay>) -> Result<i32, ContainerError> {
    let sfd = SignalFd::with_flags(mask, SfdFlags::SFD_CLOEXEC)
        .map_err(|e| ContainerError::sys("signalfd", e))?;
    loop {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(ContainerError::sys(format!("wait for pid {pid}"), e)),
        }
        match sfd.read_signal() {
            Ok(Some(info)) => {
                let signo = info.ssi_signo as i32;
                if signo == Signal::SIGWINCH as i32 && relay.is_some() {
                    // The pty's new size makes the kernel signal its
                    // foreground group itself.
                    relay.into_iter().for_each(Relay::resize);
                } else if signo != Signal::SIGCHLD as i32 {
                    if let Ok(sig) = Signal::try_from(signo) {
                        let _ = kill(pid, sig);
                    }
                }
            }
            Ok(None) | Err(Errno::EINTR) => {}
            Err(e) => return Err(ContainerError::sys("read signalfd", e)),
        }
    }
}
