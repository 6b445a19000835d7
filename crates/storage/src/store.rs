//! The store root: opening it creates the layout of DESIGN.md "On disk",
//! opens `berth.db`, applies storage's migrations and removes staging
//! leftovers of killed processes.

use std::fs;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::blobs::{BlobError, BlobStore};
use crate::db::{Db, DbError};
use crate::digest::Digest;
use crate::images::ImageError;
use crate::layers::LayerError;
use crate::overlay::OverlayError;
use crate::staging;

/// Any failure of the store; each variant names the object and the cause.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store root or one of its directories could not be set up.
    #[error("cannot open store {path}: {source}")]
    Open {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The metadata database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The blob store failed.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// A layer could not be unpacked or found.
    #[error(transparent)]
    Layer(#[from] LayerError),
    /// An image operation failed.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// Container rootfs assembly failed.
    #[error(transparent)]
    Overlay(#[from] OverlayError),
}

/// How a store is opened.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoreOptions {
    /// Flush new layers (`syncfs`) and blobs (`fdatasync`) to disk before
    /// they become visible, so they survive a power cut, not only a killed
    /// process. Off by default, like Docker and podman: it makes a large
    /// load wait for the disk. The metadata database is always
    /// crash-consistent (SQLite WAL).
    pub fsync: bool,
}

/// An image store rooted at one directory (`--root`).
pub struct Store {
    root: PathBuf,
    db: Db,
    blobs: BlobStore,
    options: StoreOptions,
    /// The layer dirs of the last image a container rootfs was laid out
    /// for (see `overlay.rs`): `run` lays out the same image twice.
    pub(crate) last_layout: Mutex<Option<(String, Vec<PathBuf>)>>,
}

/// Marks a new `containers/` as a top of directory hierarchies
/// (`chattr +T`), so ext2/3/4 spread the containers' directories over
/// less-used block groups, as they do for home directories, instead of
/// putting all of them in the group of `containers/`. Without a journal,
/// ext4 skips (and reads the inode of) every inode of a group freed in the
/// last one to six minutes on each allocation there; a `berth run --rm`
/// allocates and frees ~18 (its directories and files, overlayfs's work
/// entries), so back-to-back runs in one group grow slower with every
/// run. A hint: other filesystems refuse the flag, and that changes
/// nothing.
fn spread_children(dir: &Path) {
    use rustix::fs::{ioctl_getflags, ioctl_setflags, IFlags};
    let Ok(d) = fs::File::open(dir) else { return };
    if let Ok(flags) = ioctl_getflags(&d) {
        let _ = ioctl_setflags(&d, flags | IFlags::TOPDIR);
    }
}

impl Store {
    /// Opens (creating if needed) the store at `root`: `berth.db`,
    /// `blobs/sha256/`, `layers/`, `containers/`, `volumes/`, `tmp/`.
    /// Staging leftovers no live process holds are removed.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        Store::open_with(root, StoreOptions::default())
    }

    /// [`Store::open`] with options.
    pub fn open_with(root: &Path, options: StoreOptions) -> Result<Store, StoreError> {
        let open_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Open { path, source }
        };
        // Once the root exists, each directory costs one mkdir (EEXIST
        // after the first open); only a new root takes the slow path.
        // `merged` is the mount point every container's overlay shares
        // (`RootfsLayout::rootfs`); made here, a store an older berth made
        // gets it too.
        let dirs = [
            ("blobs/sha256", 0o777),
            ("layers", 0o777),
            ("containers", 0o777),
            ("volumes", 0o777),
            ("tmp", 0o777),
            ("merged", 0o755),
        ];
        for (d, mode) in dirs {
            let p = root.join(d);
            match fs::DirBuilder::new().mode(mode).create(&p) {
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => fs::DirBuilder::new()
                    .recursive(true)
                    .mode(mode)
                    .create(&p)
                    .map_err(open_err(&p))?,
                other => other.map_err(open_err(&p))?,
            }
            if d == "containers" {
                spread_children(&p);
            }
        }
        let tmp = root.join("tmp");
        staging::clean(&tmp).map_err(open_err(&tmp))?;
        let db = Db::open(&root.join("berth.db"))?;
        db.migrate(crate::schema::COMPONENT, crate::schema::MIGRATIONS)?;
        let blobs = BlobStore::new(root.join("blobs/sha256"), tmp, options.fsync);
        Ok(Store {
            root: root.to_path_buf(),
            db,
            blobs,
            options,
            last_layout: Mutex::new(None),
        })
    }

    /// The options the store was opened with.
    pub fn options(&self) -> StoreOptions {
        self.options
    }

    /// The store root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The metadata database, for the engine's own tables.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The blob store.
    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    /// The scratch directory on the store's filesystem (`<root>/tmp`).
    /// Create entries in it with [`Store::staging_dir`] so that a killed
    /// process's leftovers are recognised and removed.
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// A fresh directory under `tmp/`, flock'ed by this process and removed
    /// when the handle drops (or by the next `Store::open` if the process
    /// is killed).
    pub fn staging_dir(&self, prefix: &str) -> Result<staging::StagingDir, StoreError> {
        let tmp = self.tmp_dir();
        staging::StagingDir::create(&tmp, prefix)
            .map_err(|source| StoreError::Open { path: tmp, source })
    }

    /// `layers/` — one directory per chain id.
    pub fn layers_dir(&self) -> PathBuf {
        self.root.join("layers")
    }

    /// `containers/` — one directory per container.
    pub fn containers_dir(&self) -> PathBuf {
        self.root.join("containers")
    }

    /// `volumes/` — one directory per volume (`volumes/<name>/_data`).
    pub fn volumes_dir(&self) -> PathBuf {
        self.root.join("volumes")
    }

    /// Streams a blob into the store (see [`BlobStore::put_stream`]);
    /// returns its digest and size. Idempotent.
    pub fn put_blob<R: io::Read>(
        &self,
        reader: R,
        expected: Option<&Digest>,
    ) -> Result<(Digest, u64), StoreError> {
        let mut w = self.blobs.writer()?;
        let mut reader = reader;
        io::copy(&mut reader, &mut w).map_err(|source| BlobError::Io {
            what: "write new blob".into(),
            source,
        })?;
        let size = w.size();
        Ok((w.commit(expected)?, size))
    }

    /// Opens a stored blob.
    pub fn open_blob(&self, digest: &Digest) -> Result<fs::File, StoreError> {
        Ok(self.blobs.open(digest)?)
    }

    /// Whether a blob is stored.
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blobs.has(digest)
    }

    /// Deletes a blob (no error if it is missing).
    pub fn delete_blob(&self, digest: &Digest) -> Result<(), StoreError> {
        Ok(self.blobs.delete(digest)?)
    }
}
