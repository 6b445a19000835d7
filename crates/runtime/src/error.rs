//! Errors of the process API: what failed in the parent, or the one-line
//! error the container child reported back before it could exec.

use serde::{Deserialize, Serialize};

/// What kind of failure a child reported; maps to Docker's exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChildErrorKind {
    /// The command was not found (`$PATH` lookup or missing file): 127.
    NotFound,
    /// The command exists but cannot be executed (permission, not a
    /// regular file, bad format): 126.
    NotExecutable,
    /// Any other setup failure (mount, caps, user, cwd...): 125.
    Other,
}

/// An error of [`crate::spawn::spawn_init`] / [`crate::spawn::spawn_exec`].
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// The spec cannot be run as given.
    #[error("container {id}: invalid spec: {reason}")]
    InvalidSpec {
        /// Container id.
        id: String,
        /// What is wrong, naming the field.
        reason: String,
    },
    /// A parent-side syscall failed (clone, socketpair, id maps...).
    #[error("container {id}: {op}: {source}")]
    Sys {
        /// Container id.
        id: String,
        /// The operation, e.g. `clone init process`.
        op: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A caller hook failed.
    #[error("container {id}: {stage} hook: {source}")]
    Hook {
        /// Container id.
        id: String,
        /// Which hook point (`after_clone`, `before_pivot`).
        stage: &'static str,
        /// The hook's error.
        source: crate::spawn::HookError,
    },
    /// The child failed during setup or exec and reported this line.
    #[error("{message}")]
    Child {
        /// What kind of failure (not found / not executable / other).
        kind: ChildErrorKind,
        /// One line naming the object and the cause, e.g.
        /// `exec: "foo": executable file not found in $PATH`.
        message: String,
    },
    /// The child died before reporting (killed, or its channel broke).
    #[error("container {id}: init process exited during setup without reporting ({detail})")]
    ChildVanished {
        /// Container id.
        id: String,
        /// How it ended, as far as known.
        detail: String,
    },
    /// `waitpid` failed.
    #[error("wait for process {pid}: {source}")]
    Wait {
        /// The waited pid.
        pid: i32,
        /// The OS error.
        source: nix::errno::Errno,
    },
}

impl SpawnError {
    /// The kind of a child-reported error, `Other` for all else.
    pub fn kind(&self) -> ChildErrorKind {
        match self {
            SpawnError::Child { kind, .. } => *kind,
            _ => ChildErrorKind::Other,
        }
    }
}

/// An error inside the container child, sent to the parent as one line.
#[derive(Debug, Clone)]
pub(crate) struct ChildError {
    pub(crate) kind: ChildErrorKind,
    pub(crate) message: String,
}

impl ChildError {
    /// A setup failure (`kind` Other): `op` names the object, `err` the cause.
    pub(crate) fn other(op: impl std::fmt::Display, err: impl std::fmt::Display) -> Self {
        ChildError {
            kind: ChildErrorKind::Other,
            message: format!("{op}: {err}"),
        }
    }
}

/// Shorthand: map any error into a [`ChildError`] naming the step.
pub(crate) trait Context<T> {
    fn ctx(self, op: impl FnOnce() -> String) -> Result<T, ChildError>;
}

impl<T, E: std::fmt::Display> Context<T> for Result<T, E> {
    fn ctx(self, op: impl FnOnce() -> String) -> Result<T, ChildError> {
        self.map_err(|e| ChildError::other(op(), e))
    }
}
