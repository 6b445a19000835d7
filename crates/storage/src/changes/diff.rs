//! `docker diff`: the paths a container added (`A`), changed (`C`) or
//! deleted (`D`), read from its upper dir against the image's layers, as
//! moby's `archive.OverlayChanges` computes them.

use std::collections::{BTreeSet, HashSet};
use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use rustix::fs::FileType;

use super::fsmeta::{self, DirFd, OPAQUE_XATTR};
use super::{ChangesError, Skip};

/// Docker's change kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// `C`: the path existed in the image and was changed.
    Modify,
    /// `A`: the path is new.
    Add,
    /// `D`: the path of the image was deleted.
    Delete,
}

impl ChangeKind {
    /// The letter `docker diff` prints.
    pub fn letter(self) -> char {
        match self {
            ChangeKind::Modify => 'C',
            ChangeKind::Add => 'A',
            ChangeKind::Delete => 'D',
        }
    }
}

/// One line of `docker diff`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// What happened.
    pub kind: ChangeKind,
    /// The absolute container path (`/etc/hosts`).
    pub path: PathBuf,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind.letter(), self.path.display())
    }
}

/// The changes recorded in `upper` over `lowers` (the image's layer dirs,
/// topmost first, without the init layer), leaving out what `skip` says.
/// Sorted in `docker diff`'s order (a depth-first walk, names bytewise).
///
/// As Docker: a whiteout is `D`; an upper path that exists in a lower is
/// `C` (a directory identical in size, mode and mtime is not reported),
/// else `A`; the parent of an `A`/`D` is reported `C` if it was not
/// already. An opaque directory (deleted and re-created) is `C`, and each
/// child the layers below had is `D` unless re-created.
pub fn diff(upper: &Path, lowers: &[PathBuf], skip: &Skip) -> Result<Vec<Change>, ChangesError> {
    let root = DirFd::open(upper).map_err(ChangesError::io("open", upper))?;
    let mut w = Walk {
        lowers,
        skip,
        out: Vec::new(),
        changed_dirs: HashSet::new(),
    };
    w.dir(&root, Path::new(""))?;
    let mut out = w.out;
    // Component-wise order is the walk's order ("/a/b" before "/a-c").
    out.sort_by(|a, b| a.path.components().cmp(b.path.components()));
    Ok(out)
}

struct Walk<'a> {
    lowers: &'a [PathBuf],
    skip: &'a Skip,
    out: Vec<Change>,
    changed_dirs: HashSet<PathBuf>,
}

impl Walk<'_> {
    fn dir(&mut self, dir: &DirFd, rel: &Path) -> Result<(), ChangesError> {
        let names = dir
            .names()
            .map_err(ChangesError::io("read dir", dir.path()))?;
        for name in &names {
            let child = rel.join(name);
            if self.skip.skips(&child) {
                continue;
            }
            let st = dir
                .stat(name)
                .map_err(ChangesError::io("stat", dir.path().join(name)))?;
            let abs = Path::new("/").join(&child);
            let is_dir = fsmeta::file_type(&st) == FileType::Directory;
            let whiteout = dir
                .is_whiteout(name, &st)
                .map_err(ChangesError::io("read xattrs of", dir.path().join(name)))?;
            let opaque = is_dir
                && dir
                    .is_opaque(name)
                    .map_err(ChangesError::io("read xattrs of", dir.path().join(name)))?;
            let kind = if whiteout {
                Some(ChangeKind::Delete)
            } else {
                match self.in_lowers(&child)? {
                    None => Some(ChangeKind::Add),
                    Some(lower) if is_dir && lower.is_dir() && !opaque && same_dir(&st, &lower) => {
                        None
                    }
                    Some(_) => Some(ChangeKind::Modify),
                }
            };
            if let Some(kind) = kind {
                self.record(kind, abs.clone(), is_dir);
            }
            if !is_dir {
                continue;
            }
            if opaque && kind == Some(ChangeKind::Modify) {
                let sub = dir
                    .child(name)
                    .map_err(ChangesError::io("open", dir.path().join(name)))?;
                let upper_names: BTreeSet<OsString> = sub
                    .names()
                    .map_err(ChangesError::io("read dir", sub.path()))?
                    .into_iter()
                    .collect();
                for gone in self.lower_names(&child)? {
                    let g = child.join(&gone);
                    if !upper_names.contains(&gone) && !self.skip.skips(&g) {
                        self.record(ChangeKind::Delete, Path::new("/").join(g), false);
                    }
                }
                self.dir(&sub, &child)?;
            } else {
                let sub = dir
                    .child(name)
                    .map_err(ChangesError::io("open", dir.path().join(name)))?;
                self.dir(&sub, &child)?;
            }
        }
        Ok(())
    }

    fn record(&mut self, kind: ChangeKind, path: PathBuf, is_dir: bool) {
        if is_dir {
            self.changed_dirs.insert(path.clone());
        }
        if matches!(kind, ChangeKind::Add | ChangeKind::Delete) {
            if let Some(parent) = path.parent() {
                if parent != Path::new("/") && !self.changed_dirs.contains(parent) {
                    self.changed_dirs.insert(parent.to_path_buf());
                    self.out.push(Change {
                        kind: ChangeKind::Modify,
                        path: parent.to_path_buf(),
                    });
                }
            }
        }
        self.out.push(Change { kind, path });
    }

    /// The path's metadata in the topmost lower that has it (a whiteout
    /// there means the image does not have it).
    fn in_lowers(&self, rel: &Path) -> Result<Option<fs::Metadata>, ChangesError> {
        for l in self.lowers {
            let p = l.join(rel);
            match fs::symlink_metadata(&p) {
                Ok(m) if m.file_type().is_char_device() && m.rdev() == 0 => return Ok(None),
                Ok(m) => return Ok(Some(m)),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                    ) => {}
                Err(e) => return Err(ChangesError::io("stat", p)(e)),
            }
        }
        Ok(None)
    }

    /// The names the merged lower view has in directory `rel`.
    fn lower_names(&self, rel: &Path) -> Result<BTreeSet<OsString>, ChangesError> {
        let mut seen = HashSet::new();
        let mut out = BTreeSet::new();
        for l in self.lowers {
            let p = l.join(rel);
            match fs::symlink_metadata(&p) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => break,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(ChangesError::io("stat", p)(e)),
            }
            for e in fs::read_dir(&p).map_err(ChangesError::io("read dir", &p))? {
                let e = e.map_err(ChangesError::io("read dir", &p))?;
                let n = e.file_name();
                if !seen.insert(n.clone()) {
                    continue;
                }
                let m = e.metadata().map_err(ChangesError::io("stat", e.path()))?;
                if !(m.file_type().is_char_device() && m.rdev() == 0) {
                    out.insert(n);
                }
            }
            let opaque = fsmeta::lgetxattr(&p, OPAQUE_XATTR)
                .map_err(ChangesError::io("read xattrs of", &p))?;
            if opaque.as_deref() == Some(b"y") {
                break;
            }
        }
        Ok(out)
    }
}

/// moby's test for a directory that was only copied up: same size, mode
/// and mtime (to the nanosecond).
fn same_dir(st: &rustix::fs::Stat, lower: &fs::Metadata) -> bool {
    st.st_size as u64 == lower.size()
        && st.st_mode == lower.mode()
        && st.st_mtime == lower.mtime()
        && st.st_mtime_nsec as i64 == lower.mtime_nsec()
}
