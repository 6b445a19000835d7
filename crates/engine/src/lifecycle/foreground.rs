//! A container owned by the calling process (`run` without `-d`,
//! `start -a`): stdio relayed through pipes and logged, signals forwarded,
//! exit code returned.
//!
//! The relay is one poll(2) loop in the calling thread, never a thread:
//! [`Engine::run_foreground_then_exit`] forks the `--rm` cleanup only from
//! a single-threaded process.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::unistd::{pipe2, Pid};
use runtime::Stdio;

use crate::container::Container;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::logs::{LogStream, LogWriter};

/// The pid signals are forwarded to (0: none yet).
static FORWARD_TO: AtomicI32 = AtomicI32::new(0);

/// Signals a foreground `run` relays to the container, as `docker run`
/// (sig-proxy) does.
const FORWARDED: &[Signal] = &[
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGCONT,
    Signal::SIGWINCH,
];

extern "C" fn forward(sig: libc::c_int) {
    let pid = FORWARD_TO.load(Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill(2) is async-signal-safe and takes plain integers.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

fn install_forwarding() {
    // No SA_RESTART: a blocking waitpid returns EINTR, which the wait
    // loop retries; the handler itself does all the work.
    let action = SigAction::new(
        SigHandler::Handler(forward),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for sig in FORWARDED {
        // SAFETY: the handler only reads an atomic and calls kill(2), both
        // async-signal-safe.
        let _ = unsafe { sigaction(*sig, &action) };
    }
}

/// How a foreground run ended.
enum Ended {
    /// The init exited with this code, not yet recorded: the caller
    /// records it, or removes the container (`--rm`) without the write.
    /// With `--rm`, also the init's mount namespace, held open since the
    /// spawn (see [`Leftovers`]).
    Unrecorded(i32, Option<File>),
    /// Ended and recorded (the tty path records its own exit).
    Recorded(i32),
}

/// What a `--rm` container leaves once its record is gone: its tree,
/// moved aside into `tmp/`, and its mount namespace, held open since the
/// spawn. While held, the init's exit does not tear the namespace down
/// (unmounting the overlay and the rest waits for RCU grace periods:
/// ~0.1 ms of a `run --rm` here, more on a busy host); the teardown
/// happens when the hold is dropped, before the tree is deleted, and after
/// the exit code when a detached child does both
/// (`after_exit::exit_removing`).
pub(super) struct Leftovers {
    pub(super) dir: PathBuf,
    pub(super) mount_ns: Option<File>,
}

impl Leftovers {
    /// Unmounts (drops the namespace), then deletes the tree, here.
    pub(super) fn remove_now(self, store: &storage::Store, id: &str) {
        drop(self.mount_ns);
        let _ = store.remove_detached(id, &self.dir);
    }
}

impl Engine {
    /// Runs `c` in the foreground and returns the container's exit code.
    /// A start failure is an error whose [`EngineError::exit_code`] is
    /// Docker's 125/126/127. `--rm` removes the container afterwards.
    pub fn run_foreground(&self, c: &Container) -> Result<i32, EngineError> {
        let (code, detached) = self.run_foreground_inner(c, None);
        if let Some(left) = detached {
            left.remove_now(self.store(), &c.id);
        }
        code
    }

    /// [`Engine::run_foreground`] for a process that ends with the run (the
    /// `berth run` CLI): on success it exits with the container's code and
    /// never returns; a start failure is returned. With `--rm` the
    /// container is gone (record, cgroup, `containers/<id>`) before the
    /// exit, but its moved-aside tree in `tmp/` is deleted by a detached
    /// child after it: freeing an ext4 directory waits for its block's
    /// discard on hosts mounted with `discard`, which need not delay the
    /// exit code. A child killed half-way leaves a staging leftover that
    /// the next store open removes. `netns`: the init's network namespace,
    /// made while the caller opened the store and created the container
    /// (without a tty; see [`runtime::NetnsAhead`]).
    pub fn run_foreground_then_exit(
        &self,
        c: &Container,
        netns: Option<runtime::NetnsAhead>,
    ) -> EngineError {
        let (code, detached) = self.run_foreground_inner(c, netns);
        match code {
            Ok(code) => {
                let _ = std::io::stdout().flush();
                let _ = std::io::stderr().flush();
                if let Some(left) = detached {
                    super::after_exit::exit_removing(self.store(), &c.id, left, code);
                }
                std::process::exit(code)
            }
            Err(e) => {
                if let Some(left) = detached {
                    left.remove_now(self.store(), &c.id);
                }
                e
            }
        }
    }

    /// The run and its bookkeeping; what a `--rm` container leaves is the
    /// caller's to remove.
    fn run_foreground_inner(
        &self,
        c: &Container,
        netns: Option<runtime::NetnsAhead>,
    ) -> (Result<i32, EngineError>, Option<Leftovers>) {
        let result = self.run_attached(c, netns);
        let mut detached = None;
        let code = match result {
            Ok(Ended::Unrecorded(code, mount_ns)) => {
                // With --rm the exit is never written: the row goes in the
                // removal's commit (a failed removal records it after all).
                let removed = if c.host_config.auto_remove {
                    self.remove_after_exit(c, Some(code)).ok()
                } else {
                    None
                };
                match removed {
                    Some(Some(dir)) => detached = Some(Leftovers { dir, mount_ns }),
                    Some(None) => {}
                    None => {
                        // Unmounted before anything deletes the tree.
                        drop(mount_ns);
                        self.record_exit(&c.id, code);
                        crate::timing::mark("run: exit recorded");
                        if c.host_config.auto_remove {
                            let _ = self.remove(&c.id, true);
                        }
                    }
                }
                Ok(code)
            }
            Ok(Ended::Recorded(code)) => {
                if c.host_config.auto_remove {
                    let _ = self.remove(&c.id, true);
                }
                Ok(code)
            }
            Err(e) => {
                if c.host_config.auto_remove {
                    let _ = self.remove(&c.id, true);
                }
                Err(e)
            }
        };
        crate::timing::mark("run: done");
        (code, detached)
    }

    /// Whether `c` is the record [`Engine::create_owned`] just returned to
    /// this process, already claimed by it.
    fn claimed_by_me(c: &Container) -> bool {
        let s = &c.state;
        s.monitor_pid == std::process::id() as i32
            && s.monitor_start == crate::container::self_start_time()
            && s.status == crate::container::Status::Created
    }

    fn run_attached(
        &self,
        c: &Container,
        netns: Option<runtime::NetnsAhead>,
    ) -> Result<Ended, EngineError> {
        if !Self::claimed_by_me(c) {
            self.record_owner(&c.id)?;
            crate::timing::mark("run: owner recorded");
        }
        let launch = match self.prepare_launch(c) {
            Ok(l) => l,
            Err(e) => {
                self.record_start_failed(&c.id, &e);
                return Err(e);
            }
        };
        if c.host_config.tty {
            // Not used with a pty (callers do not make one then); ended
            // here so no thread outlives this point.
            drop(netns.and_then(runtime::NetnsAhead::finish));
            return self.run_with_tty(c, &launch).map(Ended::Recorded);
        }
        crate::timing::mark("run: launch prepared");
        let sys = |op| {
            let id = c.id.clone();
            move |source| EngineError::Sys { id, op, source }
        };
        // As Docker's: stdout and stderr are pipes the CLI relays (and
        // logs), stdin a pipe fed from ours with -i, else /dev/null.
        let (out_r, out_w) = pipe2(OFlag::O_CLOEXEC).map_err(sys("pipe"))?;
        let (err_r, err_w) = pipe2(OFlag::O_CLOEXEC).map_err(sys("pipe"))?;
        let (stdin_r, stdin_w) = if c.host_config.interactive {
            let (r, w) = pipe2(OFlag::O_CLOEXEC).map_err(sys("pipe"))?;
            // Our end only (a pipe's ends are separate open files): a
            // container that stops reading must not block the relay.
            fcntl(&w, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).map_err(sys("fcntl"))?;
            (r, Some(w))
        } else {
            let null =
                File::open("/dev/null").map_err(EngineError::io(&c.id, "open", "/dev/null"))?;
            (OwnedFd::from(null), None)
        };
        let stdio = Stdio {
            stdin: Some(stdin_r.as_fd()),
            stdout: Some(out_w.as_fd()),
            stderr: Some(err_w.as_fd()),
        };
        install_forwarding();
        let netns = netns.and_then(runtime::NetnsAhead::finish);
        let init = match self.spawn(c, &launch, stdio, None, netns.as_ref().map(|n| n.as_fd())) {
            Ok(p) => p,
            Err(e) => {
                self.record_start_failed(&c.id, &e);
                return Err(e);
            }
        };
        // Held from before the init can exit (it is our unreaped child, so
        // the pid is its): see Leftovers.
        let mount_ns = if c.host_config.auto_remove {
            File::open(format!("/proc/{}/ns/mnt", init.pid)).ok()
        } else {
            None
        };
        // The container holds its ends now; ours would hide its EOF. The
        // init holds its network namespace.
        drop((stdin_r, out_w, err_w, netns));
        crate::timing::mark("run: spawned");
        FORWARD_TO.store(init.pid.as_raw(), Ordering::Relaxed);
        self.record_started(&c.id, init.pid)?;
        crate::timing::mark("run: start recorded");
        let mut log = LogWriter::lazy(&self.log_path(&c.id));
        Relay::new(out_r, err_r, stdin_w).run(init.pid, &mut log);
        // The pidfd said it exited: no signal may go to a reused pid.
        FORWARD_TO.store(0, Ordering::Relaxed);
        let code = init.wait();
        crate::timing::mark("run: exited");
        Ok(Ended::Unrecorded(
            code.unwrap_or(crate::container::EXIT_UNKNOWN),
            mount_ns,
        ))
    }
}

/// Reads per pipe after the init's exit: what its children keep writing
/// is not waited for, as Docker stops relaying when the init is gone.
const DRAIN_READS: usize = 64;

/// The CLI's side of a non-tty container's stdio.
struct Relay {
    /// stdout and stderr read ends (None once at EOF), with their logs.
    outputs: [(Option<OwnedFd>, LogStream); 2],
    /// The container's stdin (non-blocking write end), with -i.
    stdin_w: Option<OwnedFd>,
    /// Read from our stdin, not yet taken by the container.
    to_stdin: Vec<u8>,
    /// Our stdin has more to read.
    stdin_open: bool,
    /// Our stdout/stderr still take writes (a closed reader is ignored
    /// from then on, the log still gets everything).
    sinks_ok: [bool; 2],
    buf: Vec<u8>,
}

impl Relay {
    fn new(out_r: OwnedFd, err_r: OwnedFd, stdin_w: Option<OwnedFd>) -> Self {
        Relay {
            outputs: [
                (Some(out_r), LogStream::new("stdout")),
                (Some(err_r), LogStream::new("stderr")),
            ],
            stdin_open: stdin_w.is_some(),
            stdin_w,
            to_stdin: Vec::new(),
            sinks_ok: [true, true],
            buf: vec![0u8; 64 * 1024],
        }
    }

    /// Relays until the init `pid` has exited and its output is drained.
    fn run(mut self, pid: Pid, log: &mut LogWriter) {
        // Without a pidfd (kernel < 5.3) the pipes' EOF ends the relay.
        let pidfd = pidfd_open(pid).ok();
        let stdin = std::io::stdin();
        loop {
            let any_output = self.outputs.iter().any(|o| o.0.is_some());
            if !any_output && pidfd.is_none() {
                break;
            }
            // Slots: 0 pidfd, 1 stdout, 2 stderr, 3 our stdin or the
            // container's (whichever the pending bytes wait on).
            let mut slots: [Option<(BorrowedFd, PollFlags)>; 4] = [None; 4];
            slots[0] = pidfd.as_ref().map(|f| (f.as_fd(), PollFlags::POLLIN));
            for (i, (fd, _)) in self.outputs.iter().enumerate() {
                slots[1 + i] = fd.as_ref().map(|f| (f.as_fd(), PollFlags::POLLIN));
            }
            if let Some(w) = &self.stdin_w {
                slots[3] = if !self.to_stdin.is_empty() {
                    Some((w.as_fd(), PollFlags::POLLOUT))
                } else if self.stdin_open {
                    Some((stdin.as_fd(), PollFlags::POLLIN))
                } else {
                    None
                };
            }
            let mut fds: Vec<PollFd> = slots
                .iter()
                .flatten()
                .map(|(fd, ev)| PollFd::new(*fd, *ev))
                .collect();
            match poll(&mut fds, PollTimeout::NONE) {
                // A forwarded signal interrupts the wait; the handler did
                // the work.
                Err(Errno::EINTR) => continue,
                Err(_) => break,
                Ok(_) => {}
            }
            let mut ready = [false; 4];
            let mut k = 0;
            for (i, slot) in slots.iter().enumerate() {
                if slot.is_some() {
                    ready[i] = fds[k].revents().is_some_and(|r| !r.is_empty());
                    k += 1;
                }
            }
            drop(fds);
            for (i, is_ready) in ready[1..3].iter().enumerate() {
                if *is_ready {
                    self.read_output(i, log);
                }
            }
            if ready[3] {
                self.move_stdin();
            }
            if ready[0] {
                break;
            }
        }
        self.drain(log);
    }

    /// One read of output `i`: to our stdout/stderr and the log.
    fn read_output(&mut self, i: usize, log: &mut LogWriter) -> bool {
        let (fd, stream) = &mut self.outputs[i];
        let Some(f) = fd.as_ref() else {
            return false;
        };
        let n = match nix::unistd::read(f, &mut self.buf) {
            Ok(n) => n,
            Err(Errno::EINTR) => return true,
            Err(Errno::EAGAIN) => return false,
            Err(_) => 0,
        };
        if n == 0 {
            log.finish(stream);
            *fd = None;
            return false;
        }
        let data = &self.buf[..n];
        let mut reader_gone = false;
        if self.sinks_ok[i] {
            // SAFETY: fds 1 and 2 are the CLI's stdout/stderr, open for
            // the life of the process; the borrow ends with this call.
            let sink = unsafe { BorrowedFd::borrow_raw(1 + i as i32) };
            let written = write_all(sink, data);
            self.sinks_ok[i] = written.is_ok();
            reader_gone = written == Err(Errno::EPIPE);
        }
        log.feed(stream, data);
        if reader_gone {
            // Whoever read our output is gone (`berth run … | head`):
            // closing this pipe gives the container EPIPE/SIGPIPE as in a
            // host pipeline, instead of draining it into the log forever.
            log.finish(stream);
            *fd = None;
            return false;
        }
        true
    }

    /// Moves bytes from our stdin to the container's (one step).
    fn move_stdin(&mut self) {
        let Some(w) = &self.stdin_w else { return };
        if self.to_stdin.is_empty() {
            let stdin = std::io::stdin();
            match nix::unistd::read(stdin.as_fd(), &mut self.buf) {
                Ok(0) | Err(Errno::EBADF | Errno::EIO) => self.stdin_open = false,
                Ok(n) => self.to_stdin.extend_from_slice(&self.buf[..n]),
                Err(_) => {}
            }
        } else {
            match nix::unistd::write(w, &self.to_stdin) {
                Ok(n) => {
                    self.to_stdin.drain(..n);
                }
                Err(Errno::EINTR | Errno::EAGAIN) => {}
                // EPIPE: the container closed its stdin; nothing more goes.
                Err(_) => {
                    self.to_stdin.clear();
                    self.stdin_open = false;
                }
            }
        }
        // Our EOF becomes the container's once everything read is in.
        if self.to_stdin.is_empty() && !self.stdin_open {
            self.stdin_w = None;
        }
    }

    /// After the init's exit: what is buffered in the pipes now, not what
    /// a daemonised child may write later (it may hold them open forever).
    fn drain(&mut self, log: &mut LogWriter) {
        for i in 0..2 {
            if let Some(fd) = &self.outputs[i].0 {
                if fcntl(fd, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).is_err() {
                    continue;
                }
                for _ in 0..DRAIN_READS {
                    if !self.read_output(i, log) {
                        break;
                    }
                }
            }
            let stream = &mut self.outputs[i].1;
            log.finish(stream);
        }
    }
}

/// Writes all of `data` to `fd`, waiting out a non-blocking fd's EAGAIN
/// (a terminal shared with a program that set O_NONBLOCK).
fn write_all(fd: BorrowedFd, mut data: &[u8]) -> Result<(), Errno> {
    while !data.is_empty() {
        match nix::unistd::write(fd, data) {
            Ok(n) => data = &data[n..],
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => {
                let mut fds = [PollFd::new(fd, PollFlags::POLLOUT)];
                let _ = poll(&mut fds, PollTimeout::NONE);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A pidfd of `pid`: readable once the process has exited.
fn pidfd_open(pid: Pid) -> Result<OwnedFd, Errno> {
    // SAFETY: pidfd_open(2) takes a pid and flags and returns a new fd or
    // -1; no memory is passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel just returned this fd to us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

#[cfg(test)]
mod tests {
    use std::process::Command;
    use std::time::{Duration, Instant};

    use super::*;

    /// Kills the background process the test's child left, on any exit.
    struct KillBackground(PathBuf);

    impl Drop for KillBackground {
        fn drop(&mut self) {
            if let Some(pid) = std::fs::read_to_string(&self.0)
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok())
            {
                let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }

    /// A child that leaves a background process holding its stdout: the
    /// relay ends with the child, with its output, not when the pipe closes.
    #[test]
    fn relay_ends_with_the_init_not_with_its_background_children() {
        let dir = tempfile::tempdir().unwrap();
        let (out_r, out_w) = pipe2(OFlag::O_CLOEXEC).unwrap();
        let (err_r, err_w) = pipe2(OFlag::O_CLOEXEC).unwrap();
        let pidfile = dir.path().join("bg.pid");
        let _bg = KillBackground(pidfile.clone());
        let script = format!(
            "echo relayed-line; echo oops >&2; sleep 5 & echo $! > {}; exit 0",
            pidfile.display()
        );
        let mut child = Command::new("/bin/busybox")
            .args(["sh", "-c", &script])
            .stdin(std::process::Stdio::null())
            .stdout(out_w)
            .stderr(err_w)
            .spawn()
            .unwrap();
        let started = Instant::now();
        let path = dir.path().join("ctr.log");
        let mut log = LogWriter::lazy(&path);
        Relay::new(out_r, err_r, None).run(Pid::from_raw(child.id() as i32), &mut log);
        assert!(started.elapsed() < Duration::from_secs(4));
        assert!(child.wait().unwrap().success());
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<(String, String)> = text
            .lines()
            .map(|l| {
                let e: crate::logs::LogEntry = serde_json::from_str(l).unwrap();
                (e.stream, e.log)
            })
            .collect();
        assert!(lines.contains(&("stdout".into(), "relayed-line\n".into())));
        assert!(lines.contains(&("stderr".into(), "oops\n".into())));
    }
}
