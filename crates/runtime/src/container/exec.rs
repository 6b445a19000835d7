//! `exec`: run an extra process in a running container's namespaces and
//! cgroup; wait for it unless detached.

use std::path::PathBuf;

use super::cgroup::{is_frozen, manager};
use super::create::write_pid_file;
use super::process::{load_process_file, process_from_args, ExecProcess};
use super::ContainerError;
use crate::spawn::{self, ExecOptions, Stdio};
use crate::state::{Status, Store};

/// An `exec` request.
#[derive(Debug, Clone)]
pub struct ExecRequest {
    /// Container id.
    pub id: String,
    /// The process to run.
    pub process: ExecProcess,
    /// Where to send the pty master with a terminal.
    pub console_socket: Option<PathBuf>,
    /// Where to write the new process's pid.
    pub pid_file: Option<PathBuf>,
    /// Return once the process runs instead of waiting for it.
    pub detach: bool,
}

/// Runs the process; returns its exit status (128 + signal if killed), or
/// 0 at once when detached.
pub fn exec(store: &Store, req: &ExecRequest) -> Result<i32, ContainerError> {
    let dir = store.open(&req.id)?;
    let rec = dir.load()?;
    match dir.status(&rec, || is_frozen(&rec)) {
        Status::Running | Status::Created => {}
        Status::Stopped => return Err(ContainerError::ExecStopped),
        Status::Paused => {
            return Err(ContainerError::Usage(
                "cannot exec in a paused container".into(),
            ))
        }
    }
    let process = match &req.process {
        ExecProcess::File(p) => load_process_file(p)?,
        ExecProcess::Args(a) => {
            let template = rec.config.process().clone().unwrap_or_default();
            process_from_args(&template, a)?
        }
    };
    let terminal = process.terminal().unwrap_or(false);
    if terminal && req.console_socket.is_none() {
        return Err(ContainerError::Usage(
            "cannot allocate tty without setting console socket".into(),
        ));
    }
    let procs: Vec<PathBuf> = manager(&rec)?
        .dirs()
        .into_iter()
        .filter(|d| d.is_dir())
        .map(|d| d.join("cgroup.procs"))
        .collect();
    let seccomp = rec
        .config
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref());
    let opts = ExecOptions {
        id: &req.id,
        init_pid: nix::unistd::Pid::from_raw(rec.pid),
        process: &process,
        seccomp,
        cgroup_procs: &procs,
        console_socket: if terminal {
            req.console_socket.as_deref()
        } else {
            None
        },
        stdio: Stdio::default(),
    };
    let pid = spawn::spawn_exec(&opts)?;
    // The container's lock is not held while the process runs.
    drop(dir);
    if let Some(pf) = &req.pid_file {
        write_pid_file(pf, pid.as_raw())?;
    }
    if req.detach {
        return Ok(0);
    }
    Ok(spawn::wait_exit_code(pid)?)
}
