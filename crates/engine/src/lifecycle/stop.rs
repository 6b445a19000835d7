//! `stop`, `kill`, `wait`, `restart`: signals to the init and waiting for
//! the owner (monitor or foreground CLI) to record the end.

use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::container::{Container, Status, EXIT_UNKNOWN};
use crate::engine::Engine;
use crate::error::EngineError;

/// Docker's default stop timeout.
pub const DEFAULT_STOP_TIMEOUT: i64 = 10;

const POLL: Duration = Duration::from_millis(20);

impl Engine {
    /// Sends `signal` to the container's init (`kill`); the container must
    /// be running.
    pub fn kill(&self, reference: &str, signal: i32) -> Result<Container, EngineError> {
        let c = self.find(reference)?;
        if !c.state.status.is_active() {
            return Err(EngineError::NotRunning(c.id));
        }
        let sig = Signal::try_from(signal).map_err(|source| EngineError::Sys {
            id: c.id.clone(),
            op: "signal",
            source,
        })?;
        if c.state.status == Status::Paused && sig == Signal::SIGKILL {
            // A frozen task cannot die until thawed.
            let _ = self.cgroup(&c.id).map(|m| m.thaw());
        }
        kill(Pid::from_raw(c.state.pid), sig).map_err(|source| EngineError::Sys {
            id: c.id.clone(),
            op: "kill",
            source,
        })?;
        Ok(c)
    }

    /// Waits until the container `c` (as found) is no longer running (its
    /// end recorded, or reconciled) or `timeout` passes; returns the latest
    /// record. A record gone meanwhile was removed by its owner (a `run
    /// --rm` in the foreground deletes the row without writing Exited):
    /// that is a stop, answered with the last record marked exited and the
    /// code the removal kept in the `exits` table (255 without one).
    pub fn wait_stopped(
        &self,
        c: &Container,
        timeout: Option<Duration>,
    ) -> Result<Container, EngineError> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut last = c.clone();
        loop {
            let c = match self.find(&last.id) {
                Ok(c) => c,
                Err(EngineError::NoSuchContainer(_)) => return Ok(self.removed_meanwhile(last)),
                Err(e) => return Err(e),
            };
            if !c.state.status.is_active() && c.state.status != Status::Restarting {
                return Ok(c);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(c);
            }
            last = c;
            std::thread::sleep(POLL);
        }
    }

    /// The last record of a container whose row its owner deleted, as the
    /// exited container it was then.
    fn removed_meanwhile(&self, mut c: Container) -> Container {
        c.state.status = Status::Exited;
        c.state.exit_code = self.removed_exit_code(&c.id).unwrap_or(EXIT_UNKNOWN);
        c.state.pid = 0;
        c.state.pid_start = 0;
        c.state.monitor_pid = 0;
        c
    }

    /// `wait`: blocks until the container stops; returns its exit code.
    pub fn wait(&self, reference: &str) -> Result<i32, EngineError> {
        let c = self.find(reference)?;
        Ok(self.wait_stopped(&c, None)?.state.exit_code)
    }

    /// `stop [-t N]`: the stop signal, then SIGKILL after the timeout.
    /// Stopping a stopped container is not an error (as Docker).
    pub fn stop(&self, reference: &str, timeout: Option<i64>) -> Result<Container, EngineError> {
        let c = self.find(reference)?;
        if !c.state.status.is_active() {
            return Ok(c);
        }
        let timeout = timeout
            .or(c.config.stop_timeout)
            .unwrap_or(DEFAULT_STOP_TIMEOUT);
        if c.state.status == Status::Paused {
            let _ = self.cgroup(&c.id).map(|m| m.thaw());
        }
        let pid = Pid::from_raw(c.state.pid);
        if timeout != 0 {
            if let Ok(sig) = Signal::try_from(c.config.stop_signal_number()) {
                let _ = kill(pid, sig);
            }
            // A negative timeout waits forever, as Docker's -1.
            let wait = (timeout > 0).then(|| Duration::from_secs(timeout as u64));
            let after = self.wait_stopped(&c, wait)?;
            if !after.state.status.is_active() {
                return Ok(after);
            }
        }
        self.force_kill(&c)
    }

    /// SIGKILLs the init (and all of its cgroup) and waits for the end to
    /// be recorded.
    pub(crate) fn force_kill(&self, c: &Container) -> Result<Container, EngineError> {
        if let Ok(m) = self.cgroup(&c.id) {
            let _ = m.thaw();
        }
        let _ = kill(Pid::from_raw(c.state.pid), Signal::SIGKILL);
        if let Ok(m) = self.cgroup(&c.id) {
            let _ = m.kill_all(Signal::SIGKILL);
        }
        self.wait_stopped(c, Some(Duration::from_secs(10)))
    }

    /// `restart`: stop, then start detached.
    pub fn restart(&self, reference: &str, timeout: Option<i64>) -> Result<Container, EngineError> {
        let c = self.stop(reference, timeout)?;
        self.run_detached(&c)?;
        self.find(&c.id)
    }

    /// `start` (without `-a`): starts a created or exited container under
    /// a monitor. Starting a running container is a no-op, as Docker.
    pub fn start(&self, reference: &str) -> Result<Container, EngineError> {
        let c = self.find(reference)?;
        if c.state.status.is_active() {
            return Ok(c);
        }
        self.run_detached(&c)?;
        self.find(&c.id)
    }
}
