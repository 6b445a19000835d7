//! The detached monitor (like conmon): one small process per `run -d`
//! container, started by the CLI in a new session so that it outlives it,
//! a child subreaper. It spawns the init, tells the CLI
//! "started" or the error, writes stdout/stderr to the json-lines log,
//! records the exit code and finish time, and removes the container on `--rm`.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use nix::fcntl::OFlag;
use nix::sys::prctl;
use nix::sys::wait::waitpid;
use nix::unistd::pipe2;
use runtime::Stdio;

use crate::container::Container;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::logs::LogWriter;

/// What the monitor tells the CLI through the sync pipe: `ok`, or
/// `err <exit code> <message>`.
fn report(sync: &mut File, result: &Result<(), EngineError>) {
    let line = match result {
        Ok(()) => "ok\n".to_string(),
        Err(e) => format!(
            "err {} {}\n",
            e.exit_code(),
            e.to_string().replace('\n', " ")
        ),
    };
    let _ = sync.write_all(line.as_bytes());
}

/// The fd number the sync pipe has in the monitor process.
const SYNC_FD: i32 = 3;

impl Engine {
    /// Starts `c` under a new detached monitor and returns once its
    /// entrypoint runs (or with the error that kept it from running).
    ///
    /// The monitor is a fresh process: the monitor executable (see
    /// [`Engine::set_monitor_exe`]) run as `EXE --root R --runroot RR
    /// __monitor ID`, which must call [`monitor_main`]. Not a bare fork:
    /// SQLite's state must never cross a fork, and an exec'd monitor is
    /// small.
    pub fn run_detached(&self, c: &Container) -> Result<(), EngineError> {
        let sys = |op| {
            let id = c.id.clone();
            move |source| EngineError::Sys { id, op, source }
        };
        let (sync_r, sync_w) = pipe2(OFlag::O_CLOEXEC).map_err(sys("pipe"))?;
        let null = File::options()
            .read(true)
            .write(true)
            .open("/dev/null")
            .map_err(EngineError::io(&c.id, "open", "/dev/null"))?;
        let mut cmd = Command::new(self.monitor_exe());
        cmd.arg("--root")
            .arg(self.store().root())
            .arg("--runroot")
            .arg(self.runroot())
            .arg("__monitor")
            .arg(&c.id)
            .stdin(
                null.try_clone()
                    .map_err(EngineError::io(&c.id, "dup", "/dev/null"))?,
            )
            .stdout(
                null.try_clone()
                    .map_err(EngineError::io(&c.id, "dup", "/dev/null"))?,
            )
            .stderr(null);
        let raw_sync = sync_w.as_raw_fd();
        // SAFETY: between fork and exec the closure only calls setsid(2) and
        // dup2(2), both async-signal-safe.
        unsafe {
            cmd.pre_exec(move || {
                libc::setsid();
                // dup2 clears FD_CLOEXEC on the copy, so the monitor keeps
                // it; if the pipe already is fd 3, clear the flag by hand.
                if raw_sync == SYNC_FD {
                    if libc::fcntl(SYNC_FD, libc::F_SETFD, 0) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                } else if libc::dup2(raw_sync, SYNC_FD) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child =
            cmd.spawn()
                .map_err(EngineError::io(&c.id, "spawn monitor", self.monitor_exe()))?;
        drop(sync_w);
        let mut answer = String::new();
        let _ = File::from(sync_r).read_to_string(&mut answer);
        // Reap the monitor if it already quit; otherwise it is re-parented
        // when we exit.
        let _ = child.try_wait();
        let answer = answer.trim_end();
        if answer == "ok" {
            return Ok(());
        }
        let Some(rest) = answer.strip_prefix("err ") else {
            return Err(EngineError::Monitor(format!(
                "container {}: monitor exited before the container started",
                c.id
            )));
        };
        let (code, msg) = rest.split_once(' ').unwrap_or(("125", rest));
        Err(EngineError::Detached {
            code: code.parse().unwrap_or(125),
            message: msg.to_string(),
        })
    }
}

/// Redirects fds 0-2 to /dev/null so nobody waits on the CLI's pipes.
fn detach_stdio() {
    if let Ok(null) = File::options().read(true).write(true).open("/dev/null") {
        for fd in 0..3 {
            // SAFETY: dup2 onto the standard fds, which this process owns.
            unsafe {
                libc::dup2(null.as_raw_fd(), fd);
            }
        }
    }
}

/// The monitor process's body (the hidden `__monitor ID` command): owns
/// container `id` until it exits. The sync pipe is fd 3. Returns the
/// process's exit status.
pub fn monitor_main(root: &Path, runroot: &Path, id: &str) -> i32 {
    detach_stdio();
    // SAFETY: fd 3 was set up by run_detached for this process alone.
    let sync = unsafe { OwnedFd::from_raw_fd(SYNC_FD) };
    let _ = prctl::set_child_subreaper(true);
    let mut sync = File::from(sync);
    let engine = match Engine::open(root, runroot) {
        Ok(e) => e,
        Err(e) => {
            report(&mut sync, &Err(e));
            return 1;
        }
    };
    let c = match engine.containers().get(id) {
        Ok(c) => c,
        Err(e) => {
            report(&mut sync, &Err(e));
            return 1;
        }
    };
    match supervise(&engine, &c, sync) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

/// Where the container's output comes from.
enum Output {
    /// `-t`: the pty master.
    Pty(OwnedFd),
    /// stdout and stderr pipes.
    Pipes(OwnedFd, OwnedFd),
}

fn supervise(engine: &Engine, c: &Container, mut sync: File) -> Result<(), EngineError> {
    let started = (|| {
        engine.record_owner(&c.id)?;
        let launch = engine.prepare_launch(c)?;
        // -t: the container's stdio is a pty, logged as one stream.
        if c.host_config.tty {
            let (init, master) = engine.spawn_with_tty(c, &launch)?;
            engine.record_started(&c.id, init.pid)?;
            return Ok((init, Output::Pty(master)));
        }
        let sys = |op| {
            let id = c.id.clone();
            move |source| EngineError::Sys { id, op, source }
        };
        let (out_r, out_w) = pipe2(OFlag::O_CLOEXEC).map_err(sys("pipe"))?;
        let (err_r, err_w) = pipe2(OFlag::O_CLOEXEC).map_err(sys("pipe"))?;
        let null = File::open("/dev/null").map_err(EngineError::io(&c.id, "open", "/dev/null"))?;
        let stdio = Stdio {
            stdin: Some(null.as_fd()),
            stdout: Some(out_w.as_fd()),
            stderr: Some(err_w.as_fd()),
        };
        let init = engine.spawn(c, &launch, stdio, None, None)?;
        drop((out_w, err_w));
        engine.record_started(&c.id, init.pid)?;
        Ok((init, Output::Pipes(out_r, err_r)))
    })();
    let (init, output) = match started {
        Ok(v) => {
            report(&mut sync, &Ok(()));
            drop(sync);
            v
        }
        Err(e) => {
            engine.record_start_failed(&c.id, &e);
            report(&mut sync, &Err(e));
            if c.host_config.auto_remove {
                let _ = engine.remove(&c.id, true);
            }
            return Ok(());
        }
    };
    let log_path = engine.log_path(&c.id);
    if let Ok(mut log) = LogWriter::open(&log_path) {
        match output {
            Output::Pty(master) => log.pump_pty(master),
            Output::Pipes(out_r, err_r) => log.pump(out_r, err_r),
        }
    }
    let code = init.wait().unwrap_or(crate::container::EXIT_UNKNOWN);
    // As a subreaper, collect whatever was re-parented to us.
    while waitpid(None, Some(nix::sys::wait::WaitPidFlag::WNOHANG)).is_ok_and(|s| s.pid().is_some())
    {
    }
    // --rm: the removal's commit keeps the exit code for a concurrent
    // `wait` (which may never see the Exited state in between).
    let removed = c.host_config.auto_remove
        && engine
            .remove_after_exit(c, Some(code))
            .map(|tree| tree.map(|t| engine.store().remove_detached(&c.id, &t)))
            .is_ok();
    if !removed {
        engine.record_exit(&c.id, code);
        if c.host_config.auto_remove {
            let _ = engine.remove(&c.id, true);
        }
    }
    Ok(())
}
