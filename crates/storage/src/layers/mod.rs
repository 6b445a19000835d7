//! Layers: tar streams (plain, gzip, zstd) unpacked once per chain id into
//! `layers/<chain-id-hex>/diff/` and shared by every image that has them.
//!
//! A layer is unpacked in one streaming pass: the compressed bytes are
//! hashed (blob digest) and optionally teed into the blob store, the
//! decompressed bytes are hashed (diff id) and unpacked into a locked
//! staging directory under `tmp/`, which is renamed into `layers/` only once
//! complete and verified. A layer directory that exists is always complete.

mod chain;
mod compression;
mod entry;
mod metadata;
mod prestage;
mod safe_path;
mod unpack;

use std::io::Read;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

pub use chain::{chain_id, chain_ids};
pub use compression::Compression;
pub(crate) use prestage::{prestage, Prestaged};
use rusqlite::{params, OptionalExtension};
pub use unpack::dir_size;

use crate::blobs::BlobError;
use crate::db::DbError;
use crate::digest::{Digest, DigestError};
use crate::store::{Store, StoreError};

/// A failure to unpack or find a layer. `layer` names the layer by the best
/// digest known (expected blob digest, expected diff id, or "new layer").
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// The compressed stream is corrupt (bad gzip/zstd data, truncated).
    #[error("layer {layer}: corrupt {compression} stream: {source}")]
    Decompress {
        /// The layer.
        layer: String,
        /// The compression detected by magic bytes.
        compression: Compression,
        /// The decoder's error.
        source: std::io::Error,
    },
    /// The tar stream is malformed or truncated.
    #[error("layer {layer}: invalid tar stream: {reason}")]
    Tar {
        /// The layer.
        layer: String,
        /// What is wrong.
        reason: String,
    },
    /// An entry would land outside the layer directory (or is otherwise
    /// refused for safety).
    #[error("layer {layer}: refusing entry {entry:?}: {reason}")]
    UnsafeEntry {
        /// The layer.
        layer: String,
        /// The entry's path in the tar.
        entry: String,
        /// Why it is refused.
        reason: String,
    },
    /// A tar entry type berth does not unpack (e.g. GNU sparse files).
    #[error("layer {layer}: entry {entry:?} has unsupported type {kind}")]
    UnsupportedEntry {
        /// The layer.
        layer: String,
        /// The entry's path.
        entry: String,
        /// The tar type flag.
        kind: String,
    },
    /// The stream does not hash to the expected digest.
    #[error("layer {layer}: {what} mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The layer.
        layer: String,
        /// "blob digest" or "diff id".
        what: &'static str,
        /// Expected digest.
        expected: Digest,
        /// Actual digest.
        actual: Digest,
    },
    /// The parent chain id given is not an unpacked layer.
    #[error("layer parent {0} is not in the store")]
    UnknownParent(Digest),
    /// No layer with this chain id.
    #[error("layer {0} not found in the store")]
    NotFound(Digest),
    /// A file system operation failed.
    #[error("layer {layer}: {op} {path:?}: {source}")]
    Io {
        /// The layer.
        layer: String,
        /// The operation.
        op: &'static str,
        /// The entry path or directory.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A stored digest is malformed (database corruption).
    #[error("layer record: {0}")]
    BadDigest(#[from] DigestError),
    /// Writing the blob copy failed.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// The metadata database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<rusqlite::Error> for LayerError {
    fn from(e: rusqlite::Error) -> Self {
        LayerError::Db(DbError::Sql(e))
    }
}

/// An unpacked layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// The layer's identity in the store (OCI chain id).
    pub chain_id: Digest,
    /// sha256 of the uncompressed tar stream.
    pub diff_id: Digest,
    /// Chain id of the layer below, if any.
    pub parent: Option<Digest>,
    /// Unpacked size in bytes (regular file sizes plus symlink target
    /// lengths, hard links once), as Docker counts.
    pub size: u64,
    /// Digest of the original blob as received, if it was kept in the blob
    /// store (`UnpackOptions::store_blob`).
    pub blob_digest: Option<Digest>,
    /// Size of that blob.
    pub blob_size: Option<u64>,
    /// Compression of the original blob.
    pub compression: Compression,
}

/// How to unpack one layer.
#[derive(Debug, Clone, Default)]
pub struct UnpackOptions {
    /// Chain id of the layer below (`None` for the base layer).
    pub parent: Option<Digest>,
    /// Digest the raw (possibly compressed) stream must have, e.g. from a
    /// manifest. Also used to name the layer in errors.
    pub expected_blob: Option<Digest>,
    /// Diff id the uncompressed stream must have, e.g. from the image
    /// config. When given and the layer already exists, the stream is only
    /// drained and verified, not unpacked again.
    pub expected_diff_id: Option<Digest>,
    /// Keep the raw stream in the blob store (same pass), so that `save`
    /// can write the original bytes; recorded as [`Layer::blob_digest`].
    pub store_blob: bool,
}

impl UnpackOptions {
    /// How the layer is named in errors.
    pub(crate) fn label(&self) -> String {
        match (&self.expected_blob, &self.expected_diff_id) {
            (Some(b), _) => b.to_string(),
            (None, Some(d)) => d.to_string(),
            (None, None) => "new layer".to_string(),
        }
    }
}

pub(crate) fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Store {
    /// Unpacks a layer stream (tar, tar+gzip or tar+zstd, detected by magic
    /// bytes) in one pass and records it. If the resulting chain id already
    /// exists, the existing layer is shared and nothing new is kept. On any
    /// error nothing is left behind.
    pub fn unpack_layer<R: Read>(
        &self,
        reader: R,
        opts: &UnpackOptions,
    ) -> Result<Layer, StoreError> {
        Ok(unpack::unpack_layer(self, reader, opts)?)
    }

    /// The unpacked directory of a layer: `layers/<chain hex>/diff`.
    pub fn layer_path(&self, chain_id: &Digest) -> PathBuf {
        self.layers_dir().join(chain_id.hex()).join("diff")
    }

    /// Whether a complete layer with this chain id is on disk.
    pub fn has_layer(&self, chain_id: &Digest) -> bool {
        self.layer_path(chain_id).is_dir()
    }

    /// The layer record for a chain id.
    pub fn layer(&self, chain_id: &Digest) -> Result<Layer, StoreError> {
        Ok(self.layer_record(chain_id)?)
    }

    pub(crate) fn layer_record(&self, chain_id: &Digest) -> Result<Layer, LayerError> {
        let found = self.db().read(|tx| -> Result<_, LayerError> {
            Ok(tx
                .query_row(
                    "SELECT chain_id, diff_id, parent, size, blob_digest, blob_size, compression
                     FROM layers WHERE chain_id = ?1",
                    [chain_id.to_string()],
                    row_to_raw,
                )
                .optional()?)
        })?;
        match found {
            Some(raw) if self.has_layer(chain_id) => Ok(raw.into_layer()?),
            _ => Err(LayerError::NotFound(chain_id.clone())),
        }
    }

    /// Records (or completes) the original blob of a layer, for layers
    /// unpacked without [`UnpackOptions::store_blob`].
    pub fn set_layer_blob(
        &self,
        chain_id: &Digest,
        blob: &Digest,
        compression: Compression,
    ) -> Result<(), StoreError> {
        let size = self.blobs().size(blob)?;
        let n = self.db().write(|tx| -> Result<usize, LayerError> {
            Ok(tx.execute(
                "UPDATE layers SET blob_digest = ?2, blob_size = ?3, compression = ?4 WHERE chain_id = ?1",
                params![chain_id.to_string(), blob.to_string(), size as i64, compression.as_str()],
            )?)
        })?;
        if n == 0 {
            return Err(LayerError::NotFound(chain_id.clone()).into());
        }
        Ok(())
    }
}

/// A layers row as stored.
pub(crate) struct RawLayer {
    chain_id: String,
    diff_id: String,
    parent: Option<String>,
    size: i64,
    blob_digest: Option<String>,
    blob_size: Option<i64>,
    compression: String,
}

pub(crate) fn row_to_raw(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawLayer> {
    Ok(RawLayer {
        chain_id: r.get(0)?,
        diff_id: r.get(1)?,
        parent: r.get(2)?,
        size: r.get(3)?,
        blob_digest: r.get(4)?,
        blob_size: r.get(5)?,
        compression: r.get(6)?,
    })
}

impl RawLayer {
    pub(crate) fn into_layer(self) -> Result<Layer, DigestError> {
        Ok(Layer {
            chain_id: Digest::parse(&self.chain_id)?,
            diff_id: Digest::parse(&self.diff_id)?,
            parent: self.parent.as_deref().map(Digest::parse).transpose()?,
            size: self.size as u64,
            blob_digest: self.blob_digest.as_deref().map(Digest::parse).transpose()?,
            blob_size: self.blob_size.map(|s| s as u64),
            compression: Compression::from_str_lossy(&self.compression),
        })
    }
}
