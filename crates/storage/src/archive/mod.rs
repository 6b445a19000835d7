//! Image archives: `load` of docker-archive and OCI archives (one streaming
//! pass), `save` in either format, and `import` of a rootfs tarball.
//!
//! Failure policy: every digest, size and media type is checked before any
//! image is created, and an image is registered only once all its layers
//! are unpacked and their diff ids match its config. A failure leaves no
//! partial image; half-made layers are removed by the layer store, while
//! complete layers and blobs already stored stay unreferenced until
//! `image prune` (so a retried load does not redo them).

mod ahead;
mod changes;
mod config;
pub mod formats;
mod load;
mod plan;
mod save;
mod scan;

use std::io;

pub use changes::{apply as apply_changes, ChangeError};
pub use config::go_arch;
pub use load::{import, load, LoadedImage};
pub use save::{save, ArchiveFormat};

use crate::blobs::BlobError;
use crate::digest::Digest;
use crate::reference::ReferenceError;
use crate::store::StoreError;

/// Why an archive could not be loaded, saved or imported.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The archive stream could not be read (or is not a tar stream).
    #[error("reading archive: {0}")]
    Read(#[source] io::Error),
    /// An entry ends before its header's size.
    #[error("archive is truncated: entry {path} has {got} of {want} bytes")]
    Truncated {
        /// The entry.
        path: String,
        /// Bytes present.
        got: u64,
        /// Bytes announced.
        want: u64,
    },
    /// An archive entry's path leaves the archive root.
    #[error("archive entry {0:?} points outside the archive")]
    BadPath(String),
    /// Neither `manifest.json` nor `index.json` was found.
    #[error("archive has neither manifest.json nor index.json: not a docker or OCI image archive (or truncated)")]
    UnknownFormat,
    /// The archive lists no image.
    #[error("archive contains no image")]
    Empty,
    /// A JSON document does not parse.
    #[error("invalid {what}: {source}")]
    Json {
        /// Which document.
        what: String,
        /// The parse error.
        source: serde_json::Error,
    },
    /// A document names a blob the archive does not contain.
    #[error("{what} names {name}, which is missing from the archive")]
    MissingBlob {
        /// Which document.
        what: String,
        /// The missing path or digest.
        name: String,
    },
    /// A blob does not hash to the digest it is named by.
    #[error("{name}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The blob's archive path.
        name: String,
        /// The announced digest.
        expected: Digest,
        /// What the bytes hash to.
        actual: Digest,
    },
    /// A digest string is malformed.
    #[error("{what}: {reason}")]
    BadDigest {
        /// Which document.
        what: String,
        /// Why.
        reason: String,
    },
    /// A blob's size differs from its descriptor's.
    #[error("blob {digest}: size mismatch: descriptor says {want} bytes, archive has {got}")]
    SizeMismatch {
        /// The blob.
        digest: Digest,
        /// Size in the descriptor.
        want: u64,
        /// Actual size.
        got: u64,
    },
    /// A media type berth does not know.
    #[error("{what}: unknown media type {media_type:?}")]
    MediaType {
        /// The descriptor.
        what: String,
        /// Its media type.
        media_type: String,
    },
    /// A multi-platform index has no manifest for this machine.
    #[error("index {index} has no image for platform {platform}")]
    NoPlatform {
        /// The index digest.
        index: String,
        /// The platform looked for.
        platform: String,
    },
    /// The layers do not match the config's `rootfs.diff_ids`.
    #[error("image {image}: layer {layer} has diff id {actual}, but the config says {expected}")]
    DiffId {
        /// The image (config digest).
        image: Digest,
        /// The layer's archive name.
        layer: String,
        /// From the config.
        expected: Digest,
        /// Of the unpacked layer.
        actual: Digest,
    },
    /// The config lists a different number of layers than the manifest.
    #[error(
        "image {image}: manifest has {layers} layers but the config lists {diff_ids} diff ids"
    )]
    LayerCount {
        /// The image.
        image: Digest,
        /// Layers in the manifest.
        layers: usize,
        /// Diff ids in the config.
        diff_ids: usize,
    },
    /// An image name in the archive is not a valid reference.
    #[error("invalid image name {name:?} in archive: {source}")]
    Reference {
        /// The name.
        name: String,
        /// Why it does not parse.
        source: ReferenceError,
    },
    /// `save` needs a layer's original blob, which the store did not keep.
    #[error("layer {0} cannot be saved: its original blob is not in the store")]
    NoLayerBlob(Digest),
    /// A `--change` for `import` is invalid.
    #[error(transparent)]
    Change(#[from] ChangeError),
    /// Writing the archive failed.
    #[error("writing archive: {0}")]
    Write(#[source] io::Error),
    /// The blob store failed.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// The store (layers, images, metadata) failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
