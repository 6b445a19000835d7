//! The volume error type: one variant per failing step, with Docker's
//! wording where Docker has one.

use std::path::PathBuf;

/// A failure of a volume operation or of a container's mount setup.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    /// A name outside Docker's `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
    #[error("create {0}: \"{0}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path")]
    InvalidName(String),
    /// A `-v`/`--mount`/`--tmpfs`/`--volumes-from` value that does not parse
    /// or validate (Docker's text).
    #[error("{0}")]
    Spec(String),
    /// `--mount type=bind` of a missing host path.
    #[error("invalid mount config for type \"bind\": bind source path does not exist: {0}")]
    BindSourceMissing(String),
    /// No volume has this name.
    #[error("get {0}: no such volume")]
    NoSuchVolume(String),
    /// The volume is mounted by containers (running or not).
    #[error("remove {name}: volume is in use - [{}]", containers.join(", "))]
    InUse {
        /// The volume.
        name: String,
        /// The full ids of the containers using it.
        containers: Vec<String>,
    },
    /// A driver other than `local`.
    #[error(
        "create {name}: error looking up volume plugin {driver}: plugin \"{driver}\" not found"
    )]
    UnknownDriver {
        /// The volume.
        name: String,
        /// The driver asked for.
        driver: String,
    },
    /// `volume create` of an existing name with another driver.
    #[error("create {0}: a volume with the name {0} already exists with a different driver")]
    DriverConflict(String),
    /// `--volumes-from` naming no container.
    #[error("No such container: {0}")]
    NoSuchContainer(String),
    /// A file system operation on a volume or a copy-up failed.
    #[error("volume {name}: {op} {path}: {source}")]
    Io {
        /// The volume (or the container path for a bind).
        name: String,
        /// The operation.
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The metadata database failed.
    #[error("metadata database: {0}")]
    Db(#[from] rusqlite::Error),
    /// Database setup failed.
    #[error(transparent)]
    DbSetup(#[from] storage::DbError),
    /// A stored record does not parse.
    #[error("volume {name}: corrupt record: {reason}")]
    Corrupt {
        /// The volume or container.
        name: String,
        /// What is wrong.
        reason: String,
    },
}

impl VolumeError {
    pub(crate) fn io(
        name: &str,
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> VolumeError {
        let (name, path) = (name.to_string(), path.into());
        move |source| VolumeError::Io {
            name,
            op,
            path,
            source,
        }
    }
}
