//! The content-addressed blob store, `blobs/sha256/<hex>`: manifests,
//! configs and original layer blobs. A blob is hashed while it is written to
//! a locked file in `tmp/`, verified (and fsynced if configured) and renamed into place, so a
//! blob path that exists always holds exactly the bytes of its digest.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::digest::Digest;
use crate::staging::StagingFile;

/// A failure of the blob store.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The content does not hash to the digest it was announced with.
    #[error("blob digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The announced digest.
        expected: Digest,
        /// What the bytes hash to.
        actual: Digest,
    },
    /// No blob with this digest is stored.
    #[error("blob {0} not found in the store")]
    NotFound(Digest),
    /// Reading the source or writing the store failed.
    #[error("blob {what}: {source}")]
    Io {
        /// The blob (digest or "new blob") and the step that failed.
        what: String,
        /// The I/O error.
        source: io::Error,
    },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> BlobError {
    let what = what.into();
    move |source| BlobError::Io { what, source }
}

/// The blob directory of a store.
#[derive(Debug, Clone)]
pub struct BlobStore {
    dir: PathBuf,
    tmp: PathBuf,
    fsync: bool,
}

impl BlobStore {
    /// A blob store in `dir` (`<root>/blobs/sha256`) staging in `tmp`.
    pub(crate) fn new(dir: PathBuf, tmp: PathBuf, fsync: bool) -> BlobStore {
        BlobStore { dir, tmp, fsync }
    }

    /// Where the blob with this digest lives (whether or not it exists).
    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.dir.join(digest.hex())
    }

    /// Whether the blob is stored.
    pub fn has(&self, digest: &Digest) -> bool {
        self.path(digest).is_file()
    }

    /// Opens a stored blob for reading.
    pub fn open(&self, digest: &Digest) -> Result<File, BlobError> {
        File::open(self.path(digest)).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => BlobError::NotFound(digest.clone()),
            _ => BlobError::Io {
                what: format!("open {digest}"),
                source: e,
            },
        })
    }

    /// Reads a whole (small) blob, e.g. a config or a manifest.
    pub fn read(&self, digest: &Digest) -> Result<Vec<u8>, BlobError> {
        let mut out = Vec::new();
        self.open(digest)?
            .read_to_end(&mut out)
            .map_err(io_err(format!("read {digest}")))?;
        Ok(out)
    }

    /// The size in bytes of a stored blob.
    pub fn size(&self, digest: &Digest) -> Result<u64, BlobError> {
        Ok(self
            .open(digest)?
            .metadata()
            .map_err(io_err(format!("stat {digest}")))?
            .len())
    }

    /// Streams `reader` into the store, verifying it against `expected` if
    /// given. On any error nothing is left behind.
    pub fn put_stream<R: Read>(
        &self,
        mut reader: R,
        expected: Option<&Digest>,
    ) -> Result<Digest, BlobError> {
        let mut w = self.writer()?;
        io::copy(&mut reader, &mut w).map_err(io_err("write new blob"))?;
        w.commit(expected)
    }

    /// Stores `bytes`, verifying against `expected` if given.
    pub fn put_bytes(&self, bytes: &[u8], expected: Option<&Digest>) -> Result<Digest, BlobError> {
        self.put_stream(bytes, expected)
    }

    /// A writer for a new blob: write the bytes, then [`BlobWriter::commit`].
    /// Dropping it uncommitted discards everything written.
    pub fn writer(&self) -> Result<BlobWriter, BlobError> {
        let staging =
            StagingFile::create(&self.tmp, "blob").map_err(io_err("create staging file"))?;
        Ok(BlobWriter {
            staging,
            hasher: Sha256::new(),
            size: 0,
            dir: self.dir.clone(),
            fsync: self.fsync,
        })
    }

    /// Deletes a blob; deleting a missing blob is not an error.
    pub fn delete(&self, digest: &Digest) -> Result<(), BlobError> {
        match fs::remove_file(self.path(digest)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(BlobError::Io {
                what: format!("delete {digest}"),
                source: e,
            }),
            _ => Ok(()),
        }
    }

    /// The directory holding the blobs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// A blob being written; see [`BlobStore::writer`].
pub struct BlobWriter {
    staging: StagingFile,
    hasher: Sha256,
    size: u64,
    dir: PathBuf,
    fsync: bool,
}

impl BlobWriter {
    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The digest of the bytes written so far.
    pub fn digest(&self) -> Digest {
        Digest::from_hasher(self.hasher.clone())
    }

    /// Verifies the digest, fsyncs (if the store asks for it) and renames
    /// the blob into place.
    pub fn commit(mut self, expected: Option<&Digest>) -> Result<Digest, BlobError> {
        let actual = Digest::from_hasher(std::mem::take(&mut self.hasher));
        if let Some(exp) = expected {
            if *exp != actual {
                return Err(BlobError::DigestMismatch {
                    expected: exp.clone(),
                    actual,
                });
            }
        }
        let what = format!("store {actual}");
        let f = self.staging.file();
        f.flush().map_err(io_err(what.clone()))?;
        if self.fsync {
            f.sync_data().map_err(io_err(what.clone()))?;
        }
        // Same content under the same name: replacing an existing blob by
        // rename is atomic and harmless.
        fs::rename(self.staging.path(), self.dir.join(actual.hex())).map_err(io_err(what))?;
        self.staging.keep();
        Ok(actual)
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.staging.file().write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.staging.file().flush()
    }
}
