//! A container owned by the calling process (`run` without `-d`,
//! `start -a`): stdio inherited, signals forwarded, exit code returned.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use runtime::Stdio;

use crate::container::Container;
use crate::engine::Engine;
use crate::error::EngineError;

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
    Unrecorded(i32),
    /// Ended and recorded (the tty path records its own exit).
    Recorded(i32),
}

impl Engine {
    /// Runs `c` in the foreground and returns the container's exit code.
    /// A start failure is an error whose [`EngineError::exit_code`] is
    /// Docker's 125/126/127. `--rm` removes the container afterwards.
    pub fn run_foreground(&self, c: &Container) -> Result<i32, EngineError> {
        let (code, detached) = self.run_foreground_inner(c);
        if let Some(dir) = detached {
            let _ = self.store().remove_detached(&c.id, &dir);
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
    /// the next store open removes.
    pub fn run_foreground_then_exit(&self, c: &Container) -> EngineError {
        let (code, detached) = self.run_foreground_inner(c);
        match code {
            Ok(code) => {
                let _ = std::io::stdout().flush();
                let _ = std::io::stderr().flush();
                if let Some(dir) = detached {
                    super::after_exit::remove_detached(self.store(), &c.id, dir);
                }
                std::process::exit(code)
            }
            Err(e) => {
                if let Some(dir) = detached {
                    let _ = self.store().remove_detached(&c.id, &dir);
                }
                e
            }
        }
    }

    /// The run and its bookkeeping; the moved-aside rootfs of a `--rm`
    /// container is the caller's to delete.
    fn run_foreground_inner(&self, c: &Container) -> (Result<i32, EngineError>, Option<PathBuf>) {
        let result = self.run_attached(c);
        let mut detached = None;
        let code = match result {
            Ok(Ended::Unrecorded(code)) => {
                // With --rm the exit is never written: the row goes in the
                // removal's commit (a failed removal records it after all).
                let removed = if c.host_config.auto_remove {
                    self.remove_after_run(c).ok()
                } else {
                    None
                };
                match removed {
                    Some(d) => detached = d,
                    None => {
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

    fn run_attached(&self, c: &Container) -> Result<Ended, EngineError> {
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
        // Without -i the container reads /dev/null, as Docker's.
        let devnull =
            File::open("/dev/null").map_err(EngineError::io(&c.id, "open", "/dev/null"))?;
        let stdin = if c.host_config.interactive {
            None
        } else {
            Some(devnull.as_fd())
        };
        let stdio = Stdio {
            stdin,
            stdout: None,
            stderr: None,
        };
        if c.host_config.tty {
            return self.run_with_tty(c, &launch).map(Ended::Recorded);
        }
        crate::timing::mark("run: launch prepared");
        install_forwarding();
        let init = match self.spawn(c, &launch, stdio, None) {
            Ok(p) => p,
            Err(e) => {
                self.record_start_failed(&c.id, &e);
                return Err(e);
            }
        };
        crate::timing::mark("run: spawned");
        FORWARD_TO.store(init.pid.as_raw(), Ordering::Relaxed);
        self.record_started(&c.id, init.pid)?;
        crate::timing::mark("run: start recorded");
        let code = init.wait();
        crate::timing::mark("run: exited");
        FORWARD_TO.store(0, Ordering::Relaxed);
        Ok(Ended::Unrecorded(
            code.unwrap_or(crate::container::EXIT_UNKNOWN),
        ))
    }
}
