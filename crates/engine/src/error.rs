//! The engine's error type: one variant per failing step, each naming the
//! container and the cause, with Docker's wording where Docker has one.

use std::path::PathBuf;

/// A failure of a container operation.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Bad run/create options.
    #[error(transparent)]
    Options(#[from] crate::options::OptionsError),
    /// The spec could not be built.
    #[error(transparent)]
    Spec(#[from] crate::spec::SpecError),
    /// The image store failed (unknown image, rootfs assembly...).
    #[error(transparent)]
    Store(#[from] storage::StoreError),
    /// The metadata database failed.
    #[error("metadata database: {0}")]
    Db(#[from] rusqlite::Error),
    /// Database setup failed.
    #[error(transparent)]
    DbSetup(#[from] storage::DbError),
    /// The runtime could not start the process.
    #[error(transparent)]
    Spawn(#[from] runtime::SpawnError),
    /// A cgroup operation failed.
    #[error("container {id}: cgroup: {source}")]
    Cgroup {
        /// Container id.
        id: String,
        /// The cgroup error.
        source: cgroups::CgroupError,
    },
    /// No container has this name or id prefix.
    #[error("No such container: {0}")]
    NoSuchContainer(String),
    /// An id prefix matches several containers.
    #[error("multiple containers found with provided prefix: {0}")]
    Ambiguous(String),
    /// The name is taken.
    #[error("Conflict. The container name \"/{name}\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name.")]
    NameInUse {
        /// The name.
        name: String,
        /// The container holding it.
        id: String,
    },
    /// The operation needs a running container.
    #[error("container {0} is not running")]
    NotRunning(String),
    /// `start` of a running container is fine in Docker; others are not.
    #[error("cannot remove container \"/{name}\": container is {state}: stop the container before removing or force remove")]
    RemoveRunning {
        /// The container's name.
        name: String,
        /// Its status word (running, paused).
        state: String,
    },
    /// `pause` of a paused container and similar.
    #[error("container {id} is {state}")]
    BadState {
        /// Container id.
        id: String,
        /// Its status.
        state: String,
    },
    /// A file of the container could not be read or written.
    #[error("container {id}: {op} {path}: {source}")]
    Io {
        /// Container id.
        id: String,
        /// The operation.
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A system call failed.
    #[error("container {id}: {op}: {source}")]
    Sys {
        /// Container id.
        id: String,
        /// The operation.
        op: &'static str,
        /// The errno.
        source: nix::errno::Errno,
    },
    /// A stored record does not parse (database corruption).
    #[error("container {id}: corrupt record: {reason}")]
    Corrupt {
        /// Container id.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// The detached monitor failed before the container ran.
    #[error("{0}")]
    Monitor(String),
    /// A volume or mount failed (see `crate::volume`).
    #[error(transparent)]
    Volume(#[from] crate::volume::VolumeError),
    /// The detached monitor reported a start failure.
    #[error("{message}")]
    Detached {
        /// Docker's exit code for it (125/126/127).
        code: i32,
        /// The monitor's one-line message.
        message: String,
    },
}

impl EngineError {
    /// The exit status Docker's CLI uses for this error: 126/127 when the
    /// command could not be executed / found, else 125.
    pub fn exit_code(&self) -> i32 {
        match self {
            EngineError::Spawn(e) => runtime::spawn::docker_exit_code(e),
            EngineError::Detached { code, .. } => *code,
            _ => 125,
        }
    }

    pub(crate) fn io(
        id: &str,
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> EngineError {
        let (id, path) = (id.to_string(), path.into());
        move |source| EngineError::Io {
            id,
            op,
            path,
            source,
        }
    }
}
