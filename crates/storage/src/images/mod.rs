//! The image store: images (id = digest of the config blob), their layer
//! stacks, tags and repo digests, with Docker's rules for resolving a name
//! or id, tagging, removing (`rmi`) and pruning.
//!
//! `add` records images, `names` resolves and (un)tags them, `query` reads
//! them, `remove` implements `rmi` and `prune`.

mod add;
mod names;
mod query;
mod remove;

use crate::blobs::BlobError;
use crate::db::DbError;
use crate::digest::{Digest, DigestError};
use crate::reference::{Reference, ReferenceError};

/// An image id: the sha256 digest of its config blob.
pub type ImageId = Digest;

/// A failure of an image operation. Messages follow Docker's.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// Nothing matches the name or id.
    #[error("No such image: {0}")]
    NotFound(String),
    /// An id prefix matches several images.
    #[error("image id prefix {0:?} is ambiguous: it matches several images")]
    Ambiguous(String),
    /// The name is not a valid reference.
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    /// The config blob is not a usable image config.
    #[error("image config {id}: {reason}")]
    BadConfig {
        /// The config digest (the would-be image id).
        id: Digest,
        /// What is wrong.
        reason: String,
    },
    /// The config lists a layer that is not unpacked in the store.
    #[error("image {id}: layer {index} (diff id {diff_id}) is not in the store")]
    MissingLayer {
        /// The image.
        id: Digest,
        /// 0-based index in rootfs.diff_ids.
        index: usize,
        /// The diff id.
        diff_id: Digest,
    },
    /// `rmi` refused (Docker's "conflict: …" messages).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A stored digest is malformed (database corruption).
    #[error("image record: {0}")]
    BadDigest(#[from] DigestError),
    /// Blob store failure.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// Database failure.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<rusqlite::Error> for ImageError {
    fn from(e: rusqlite::Error) -> Self {
        ImageError::Db(DbError::Sql(e))
    }
}

/// What to record with a new image besides its config.
#[derive(Debug, Clone, Default)]
pub struct NewImage {
    /// Names to give the image. A tagged reference becomes a tag (moved
    /// from whichever image had it, as `docker load` does); a digest
    /// reference becomes a repo digest.
    pub tags: Vec<Reference>,
    /// Digest of the manifest the image came from (OCI archive, registry),
    /// recorded as a repo digest for every tagged repository.
    pub manifest_digest: Option<Digest>,
}

/// An image as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Digest of the config blob.
    pub id: ImageId,
    /// Tags, e.g. `docker.io/library/busybox:latest` (show with
    /// [`Reference::familiar_string`]), sorted.
    pub repo_tags: Vec<Reference>,
    /// `repository@digest` references, sorted.
    pub repo_digests: Vec<Reference>,
    /// The config's `created` (RFC 3339), if any.
    pub created: Option<String>,
    /// Sum of the unpacked sizes of its layers, as Docker's SIZE.
    pub size: u64,
    /// Chain ids, bottom layer first.
    pub layers: Vec<Digest>,
    /// Diff ids, bottom layer first.
    pub diff_ids: Vec<Digest>,
    /// The manifest digest recorded at add time, if any.
    pub manifest_digest: Option<Digest>,
    /// When the image was added to this store (Unix seconds).
    pub added_at: i64,
}

/// One step of an image removal, as `docker rmi` prints them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoveEvent {
    /// `Untagged: busybox:latest` (print with `familiar_string`).
    Untagged(Reference),
    /// `Deleted: sha256:…`.
    Deleted(ImageId),
}

/// A container-use check supplied by the engine: `Some(container id)` if a
/// container uses the image.
pub type InUse<'a> = &'a dyn Fn(&ImageId) -> Option<String>;
