//! Reading an upper dir without following anything the container may have
//! planted: every entry is reached through its parent's directory fd
//! (`openat`/`statat` with `O_NOFOLLOW`), and overlay's own markers
//! (whiteouts, opaque dirs) are recognised.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};

/// The xattr overlayfs sets on an opaque upper directory.
pub(crate) const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
/// The xattr of an "xwhiteout" (a regular file standing for a whiteout).
pub(crate) const WHITEOUT_XATTR: &str = "trusted.overlay.whiteout";
/// overlayfs' private xattrs: never part of the container's content.
pub(crate) const OVERLAY_XATTR_PREFIX: &str = "trusted.overlay.";

/// An open directory of the tree being read, with its path for messages.
pub(crate) struct DirFd {
    fd: OwnedFd,
    path: PathBuf,
}

impl DirFd {
    /// Opens the root of a tree.
    pub(crate) fn open(path: &Path) -> io::Result<DirFd> {
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(DirFd {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// Opens a subdirectory, refusing a symlink.
    pub(crate) fn child(&self, name: &OsStr) -> io::Result<DirFd> {
        let fd = rustix::fs::openat(
            &self.fd,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(DirFd {
            fd,
            path: self.path.join(name),
        })
    }

    /// This directory's path (for messages).
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The entry names, sorted bytewise (Go's `filepath.Walk` order, which
    /// Docker's diff and tar follow).
    pub(crate) fn names(&self) -> io::Result<Vec<OsString>> {
        let mut dir = rustix::fs::Dir::read_from(&self.fd)?;
        let mut out = Vec::new();
        while let Some(e) = dir.read() {
            let e = e?;
            let n = e.file_name().to_bytes();
            if n != b"." && n != b".." {
                out.push(OsStr::from_bytes(n).to_os_string());
            }
        }
        out.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        Ok(out)
    }

    /// `lstat` of an entry.
    pub(crate) fn stat(&self, name: &OsStr) -> io::Result<Stat> {
        Ok(rustix::fs::statat(
            &self.fd,
            name,
            AtFlags::SYMLINK_NOFOLLOW,
        )?)
    }

    /// Opens a regular file for reading, refusing a symlink.
    pub(crate) fn open_file(&self, name: &OsStr) -> io::Result<File> {
        let fd = rustix::fs::openat(
            &self.fd,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY,
            Mode::empty(),
        )?;
        Ok(File::from(fd))
    }

    /// A symlink's target.
    pub(crate) fn readlink(&self, name: &OsStr) -> io::Result<PathBuf> {
        let t = rustix::fs::readlinkat(&self.fd, name, Vec::new())?;
        Ok(PathBuf::from(OsStr::from_bytes(t.as_bytes())))
    }

    /// The entry through this fd's magic link, for the path-only xattr
    /// calls (`l*xattr` do not follow the last component).
    fn proc_path(&self, name: &OsStr) -> PathBuf {
        Path::new(&format!("/proc/self/fd/{}", self.fd.as_fd().as_raw_fd())).join(name)
    }

    /// Every xattr of an entry (not following a symlink), sorted by name.
    pub(crate) fn xattrs(&self, name: &OsStr) -> io::Result<Vec<(String, Vec<u8>)>> {
        let p = self.proc_path(name);
        let mut buf = vec![0u8; 1024];
        let n = loop {
            match rustix::fs::llistxattr(&p, &mut buf[..]) {
                Ok(n) => break n,
                Err(rustix::io::Errno::RANGE) => buf.resize(buf.len() * 4, 0),
                Err(rustix::io::Errno::NOTSUP) => return Ok(Vec::new()),
                Err(e) => return Err(e.into()),
            }
        };
        let mut out = Vec::new();
        for key in buf[..n].split(|b| *b == 0).filter(|k| !k.is_empty()) {
            let key = String::from_utf8_lossy(key).into_owned();
            if let Some(v) = lgetxattr(&p, &key)? {
                out.push((key, v));
            }
        }
        out.sort();
        Ok(out)
    }

    /// One xattr of an entry, if set.
    pub(crate) fn xattr(&self, name: &OsStr, key: &str) -> io::Result<Option<Vec<u8>>> {
        lgetxattr(&self.proc_path(name), key)
    }

    /// Whether the entry is an overlay whiteout: a 0:0 character device, or
    /// a regular file carrying `trusted.overlay.whiteout`.
    pub(crate) fn is_whiteout(&self, name: &OsStr, st: &Stat) -> io::Result<bool> {
        match FileType::from_raw_mode(st.st_mode) {
            FileType::CharacterDevice => Ok(st.st_rdev == 0),
            FileType::RegularFile if st.st_size == 0 => {
                Ok(self.xattr(name, WHITEOUT_XATTR)?.is_some())
            }
            _ => Ok(false),
        }
    }

    /// Whether the directory entry is marked opaque by overlayfs.
    pub(crate) fn is_opaque(&self, name: &OsStr) -> io::Result<bool> {
        Ok(self.xattr(name, OPAQUE_XATTR)?.as_deref() == Some(b"y"))
    }
}

pub(crate) fn lgetxattr(p: &Path, key: &str) -> io::Result<Option<Vec<u8>>> {
    let mut buf = vec![0u8; 256];
    loop {
        match rustix::fs::lgetxattr(p, key, &mut buf[..]) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(Some(buf));
            }
            Err(rustix::io::Errno::RANGE) => buf.resize(buf.len() * 4, 0),
            Err(rustix::io::Errno::NODATA | rustix::io::Errno::NOTSUP) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
}

/// The file type of a stat.
pub(crate) fn file_type(st: &Stat) -> FileType {
    FileType::from_raw_mode(st.st_mode)
}
