//! The error of the lifecycle verbs; messages follow runc's wording where
//! callers (containerd, podman) or users know them.

use std::io;
use std::path::PathBuf;

use crate::hooks::HookError;
use crate::state::{StateError, Status};
use crate::SpawnError;

/// A lifecycle verb that failed.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    /// Reading or writing the container's state failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// The bundle directory cannot be used.
    #[error("bundle {path}: {source}")]
    Bundle {
        /// The bundle path as given.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// `config.json` is missing or invalid.
    #[error("{path}: {reason}")]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The spec's root filesystem does not exist.
    #[error("rootfs {0} does not exist")]
    NoRootfs(PathBuf),
    /// Creating or exec'ing a process failed.
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    /// A hook that must succeed failed.
    #[error("{stage} hook of container {id}: {source}")]
    Hook {
        /// Container id.
        id: String,
        /// Which hook list (`poststop`, ...).
        stage: &'static str,
        /// The failure.
        source: HookError,
    },
    /// A cgroup operation failed.
    #[error("cgroup of container {id}: {source}")]
    Cgroup {
        /// Container id.
        id: String,
        /// The failure.
        source: cgroups::CgroupError,
    },
    /// `start` on a stopped container.
    #[error("cannot start a container that has stopped")]
    StartStopped,
    /// `start` on a running or paused container.
    #[error("cannot start an already running container")]
    StartRunning,
    /// `kill`/`pause`/... of a container whose init is gone.
    #[error("container not running")]
    NotRunning,
    /// `pause`/`resume` in the wrong state.
    #[error("container {id} is not {expected}")]
    WrongStatus {
        /// Container id.
        id: String,
        /// The status the verb needs.
        expected: &'static str,
    },
    /// `delete` without `--force` of a live container.
    #[error("cannot delete container {id} that is not stopped: {status}")]
    DeleteNotStopped {
        /// Container id.
        id: String,
        /// Its status.
        status: Status,
    },
    /// `exec` into a container that is not running.
    #[error("cannot exec in a stopped container")]
    ExecStopped,
    /// A signal name or number that does not exist.
    #[error("invalid signal: {0}")]
    InvalidSignal(String),
    /// The init process died before `start` could release it.
    #[error("container {0}: init process exited before start")]
    InitGone(String),
    /// Invalid options (e.g. a terminal without a console socket).
    #[error("{0}")]
    Usage(String),
    /// A create failed and undoing it failed too: what was left behind
    /// (a cgroup, a state dir) is named after the original cause.
    #[error("{source}; cleanup of container {id} failed: {leftovers}")]
    CleanupFailed {
        /// Container id.
        id: String,
        /// Why the create failed.
        source: Box<ContainerError>,
        /// The undo steps that failed, `; `-joined.
        leftovers: String,
    },
    /// A system call or file operation failed.
    #[error("{op}: {source}")]
    Sys {
        /// What was being done, naming the object.
        op: String,
        /// The OS error.
        source: io::Error,
    },
}

impl ContainerError {
    /// A `Sys` error for `op`.
    pub(crate) fn sys(op: impl Into<String>, source: impl Into<io::Error>) -> Self {
        ContainerError::Sys {
            op: op.into(),
            source: source.into(),
        }
    }
}
