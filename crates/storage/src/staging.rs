//! Staging under `<root>/tmp/`: half-made layers and blobs live here, each
//! flock'ed by the process building it, and are renamed into place only
//! when complete. Anything in `tmp/` that nobody holds locked is a leftover
//! of a killed process and is removed by `clean` when a store is opened.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

/// A fresh, uniquely named entry name: `<prefix>-<pid>-<16 hex>`.
pub(crate) fn unique_name(prefix: &str) -> String {
    let mut b = [0u8; 8];
    // getrandom only fails without any entropy source; fall back to time.
    if getrandom::fill(&mut b).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        b = t.to_le_bytes();
    }
    format!("{prefix}-{}-{}", std::process::id(), hex::encode(b))
}

/// A locked staging directory. Dropping it removes the directory unless it
/// was [`StagingDir::keep`]-ed (renamed into place).
pub struct StagingDir {
    path: PathBuf,
    lock: Option<Flock<File>>,
    keep: bool,
}

impl StagingDir {
    /// Creates and locks `tmp/<prefix>-…`.
    pub(crate) fn create(tmp: &Path, prefix: &str) -> io::Result<StagingDir> {
        loop {
            let path = tmp.join(unique_name(prefix));
            fs::create_dir(&path)?;
            let dir = match File::open(&path) {
                Ok(d) => d,
                // A concurrent `clean` removed it before we could lock it.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let lock = lock_exclusive(dir)?;
            // A cleaner may have taken the lock between mkdir and flock and
            // removed the dir; then the path is gone or a different inode.
            if same_inode(&lock, &path) {
                return Ok(StagingDir {
                    path,
                    lock: Some(lock),
                    keep: false,
                });
            }
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The locked directory handle.
    pub fn file(&self) -> &File {
        self.lock.as_ref().expect("lock held until drop")
    }

    /// Marks the directory as moved away: drop will not remove it.
    pub fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for StagingDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = remove_tree(&self.path);
        }
        // Unlock last, so no cleaner races the removal above.
        drop(self.lock.take());
    }
}

/// A locked staging file, removed on drop unless [`StagingFile::keep`]-ed.
pub(crate) struct StagingFile {
    path: PathBuf,
    file: Flock<File>,
    keep: bool,
}

impl StagingFile {
    /// Creates and locks `tmp/<prefix>-…` for writing.
    pub(crate) fn create(tmp: &Path, prefix: &str) -> io::Result<StagingFile> {
        loop {
            let path = tmp.join(unique_name(prefix));
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o644)
                .custom_flags(libc::O_CLOEXEC)
                .open(&path)?;
            let file = lock_exclusive(f)?;
            if same_inode(&file, &path) {
                return Ok(StagingFile {
                    path,
                    file,
                    keep: false,
                });
            }
        }
    }

    /// The file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The open file.
    pub(crate) fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// Marks the file as moved away.
    pub(crate) fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for StagingFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_file(&self.path);
        }
    }
}

fn lock_exclusive(f: File) -> io::Result<Flock<File>> {
    Flock::lock(f, FlockArg::LockExclusive).map_err(|(_, e)| io::Error::from(e))
}

fn same_inode(f: &File, path: &Path) -> bool {
    match (f.metadata(), fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Removes every entry of `tmp` that no live process holds locked. Returns
/// how many were removed.
pub(crate) fn clean(tmp: &Path) -> io::Result<usize> {
    let mut removed = 0;
    for entry in fs::read_dir(tmp)? {
        let entry = entry?;
        let path = entry.path();
        let Ok(f) = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
        else {
            // A symlink or something we cannot open is not ours: remove it.
            let _ = fs::remove_file(&path);
            continue;
        };
        if let Ok(lock) = Flock::lock(f, FlockArg::LockExclusiveNonblock) {
            if same_inode(&lock, &path) && remove_tree(&path).is_ok() {
                removed += 1;
            }
        }
    }
    Ok(removed)
}

/// Removes a file or directory tree, tolerating entries that vanish
/// meanwhile (another process cleaning the same leftover).
pub(crate) fn remove_tree(path: &Path) -> io::Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let r = if meta.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
    match r {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}
