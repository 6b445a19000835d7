//! `exec`: one more process in a running container's namespaces and
//! cgroup, built from the container's own process spec (caps, seccomp,
//! user) with the exec's overrides.

use std::fs::File;
use std::os::fd::AsFd;

use nix::unistd::Pid;
use oci_spec::runtime::{Process, Spec};
use runtime::{ExecOptions, Stdio};

use super::tty::{relay, ConsoleSocket};
use crate::engine::Engine;
use crate::error::EngineError;
use crate::spec::{replace_or_append, resolve_user};

/// What `exec` runs.
#[derive(Debug, Clone, Default)]
pub struct ExecRequest {
    /// The command and its arguments.
    pub args: Vec<String>,
    /// Extra `KEY=VALUE` variables.
    pub env: Vec<String>,
    /// Working directory (default: the container's).
    pub workdir: Option<String>,
    /// `user[:group]` (default: the container's).
    pub user: Option<String>,
    /// Allocate a pty.
    pub tty: bool,
    /// Keep stdin attached.
    pub interactive: bool,
    /// Do not wait for the process.
    pub detach: bool,
}

impl Engine {
    /// Runs `req` in the container; returns the process's exit code (0
    /// at once with `detach`).
    pub fn exec(&self, reference: &str, req: &ExecRequest) -> Result<i32, EngineError> {
        let c = self.find(reference)?;
        if c.state.status != crate::container::Status::Running {
            return Err(EngineError::NotRunning(c.id));
        }
        let path = self.container_dir(&c.id).join("config.json");
        let text = std::fs::read(&path).map_err(EngineError::io(&c.id, "read", &path))?;
        let spec: Spec = serde_json::from_slice(&text).map_err(|e| EngineError::Corrupt {
            id: c.id.clone(),
            reason: format!("config.json: {e}"),
        })?;
        let mut process: Process = spec.process().clone().unwrap_or_default();
        process.set_args(Some(req.args.clone()));
        let mut env = process.env().clone().unwrap_or_default();
        replace_or_append(&mut env, &req.env);
        process.set_env(Some(env));
        if let Some(w) = &req.workdir {
            process.set_cwd(w.into());
        }
        if let Some(u) = &req.user {
            // Names are looked up in the container's own files.
            let root = format!("/proc/{}/root", c.state.pid);
            let passwd = std::fs::read_to_string(format!("{root}/etc/passwd")).ok();
            let group = std::fs::read_to_string(format!("{root}/etc/group")).ok();
            let user = resolve_user(u, passwd.as_deref(), group.as_deref())?;
            let mut spec_user = process.user().clone();
            spec_user.set_uid(user.uid);
            spec_user.set_gid(user.gid);
            spec_user.set_additional_gids(
                (!user.additional_gids.is_empty()).then_some(user.additional_gids),
            );
            process.set_user(spec_user);
        }
        process.set_terminal(Some(req.tty));
        if req.tty {
            // The pty has our size before the process runs (no 0x0 race).
            process.set_console_size(super::tty::console_size());
        }
        let manager = self.cgroup(&c.id)?;
        let procs: Vec<_> = manager
            .dirs()
            .into_iter()
            .map(|d| d.join("cgroup.procs"))
            .collect();
        let seccomp = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref());
        let devnull =
            File::open("/dev/null").map_err(EngineError::io(&c.id, "open", "/dev/null"))?;
        let stdio = Stdio {
            stdin: (!req.interactive || req.detach).then(|| devnull.as_fd()),
            stdout: req.detach.then(|| devnull.as_fd()),
            stderr: req.detach.then(|| devnull.as_fd()),
        };
        let socket = if req.tty {
            Some(ConsoleSocket::new(self, &c.id, "exec")?)
        } else {
            None
        };
        let pid = runtime::spawn_exec(&ExecOptions {
            id: &c.id,
            init_pid: Pid::from_raw(c.state.pid),
            process: &process,
            seccomp,
            cgroup_procs: &procs,
            console_socket: socket.as_ref().map(|s| s.path.as_path()),
            stdio,
        })?;
        if let Some(s) = &socket {
            let master = s.receive(&c.id)?;
            if req.detach {
                // Keep nothing: the process gets EIO on its tty when it writes.
                drop(master);
            } else {
                relay(master, req.interactive);
            }
        }
        if req.detach {
            // The exec'd process is our child; a detached one is left to be
            // re-parented when we exit.
            return Ok(0);
        }
        Ok(runtime::spawn::wait_exit_code(pid)?)
    }
}
