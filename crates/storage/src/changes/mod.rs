//! A container's changes, read from its overlay upper dir: Docker's
//! `A`/`C`/`D` list (`docker diff`) and the upper dir as an OCI layer tar
//! (`docker commit`), with the init layer's files and volume content left out.
//!
//! Pure storage functions: they read directories and know nothing about
//! containers or processes; the engine passes the dirs and mount points.

mod diff;
mod fsmeta;
mod skip;
mod tar;

use std::io;
use std::path::PathBuf;

pub use self::diff::{diff, Change, ChangeKind};
pub use self::skip::Skip;
pub use self::tar::layer_tar;

/// A failure to read a container's changes.
#[derive(Debug, thiserror::Error)]
pub enum ChangesError {
    /// A file system operation on an upper or lower dir failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// The operation.
        op: &'static str,
        /// The path (the dir joined with the entry's relative path).
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// Writing the tar stream failed (e.g. the reader went away).
    #[error("writing layer tar at {path}: {source}")]
    Write {
        /// The entry being written.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
}

impl ChangesError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| ChangesError::Io { op, path, source }
    }
}
