//! The detached monitor (like conmon): one small process per `run -d`
//! container, forked from the CLI and detached from it (new session,
//! double fork), a child subreaper. It spawns the init, tells the CLI
//! "started" or the error, writes stdout/stderr to the json-lines log,
//! records the exit code and finish time, and removes the container on `--rm`.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use nix::fcntl::OFlag;
use nix::sys::prctl;
use nix::sys::wait::waitpid;
use nix::unistd::{fork, pipe2, setsid, ForkResult};
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

impl Engine {
    /// Starts `c` under a new detached monitor and returns once its
    /// entrypoint runs (or with the error that kept it from running).
    pub fn run_detached(&self, c: &Container) -> Result<(), EngineError> {
        let sys = |op| {
            let id = c.id.clone();
            move |source| EngineError::Sys { id, op, source }
        };
        let (sync_r, sync_w) = pipe2(OFlag::O_CLOEXEC).map_err(sys("pipe"))?;
        // SAFETY: the CLI is single-threaded here, so the child may run
        // arbitrary code; it never returns into the caller (it _exits).
        match unsafe { fork() }.map_err(sys("fork monitor"))? {
            ForkResult::Child => {
                drop(sync_r);
                let _ = setsid();
                // SAFETY: still single-threaded (we are the fork's only thread).
                match unsafe { fork() } {
                    Ok(ForkResult::Child) => {
                        let code = monitor_main(self.store().root(), self.runroot(), &c.id, sync_w);
                        // SAFETY: _exit skips the caller's destructors, which
                        // belong to the parent's copy of the state.
                        unsafe { libc::_exit(code) }
                    }
                    // SAFETY: as above.
                    _ => unsafe { libc::_exit(0) },
                }
            }
            ForkResult::Parent { child } => {
                drop(sync_w);
                let mut answer = String::new();
                let _ = File::from(sync_r).read_to_string(&mut answer);
                let _ = waitpid(child, None);
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

fn monitor_main(root: &Path, runroot: &Path, id: &str, sync: OwnedFd) -> i32 {
    detach_stdio();
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

fn supervise(engine: &Engine, c: &Container, mut sync: File) -> Result<(), EngineError> {
    let started = (|| {
        engine.record_owner(&c.id)?;
        let launch = engine.prepare_launch(c)?;
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
        let init = engine.spawn(c, &launch, stdio, None)?;
        drop((out_w, err_w));
        engine.record_started(&c.id, init.pid)?;
        Ok((init, out_r, err_r))
    })();
    let (init, out_r, err_r) = match started {
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
        log.pump(out_r, err_r);
    }
    let code = init.wait().unwrap_or(crate::container::EXIT_UNKNOWN);
    engine.record_exit(&c.id, code);
    // As a subreaper, collect whatever was re-parented to us.
    while waitpid(None, Some(nix::sys::wait::WaitPidFlag::WNOHANG)).is_ok_and(|s| s.pid().is_some())
    {
    }
    if c.host_config.auto_remove {
        let _ = engine.remove(&c.id, true);
    }
    Ok(())
}
