//! Applying tar entries to a layer directory: files, dirs, symlinks, hard
//! links, devices, FIFOs, OCI whiteouts (owners, modes, mtimes and xattrs
//! are in `metadata`). Every entry is created relative to a directory fd opened
//! beneath the layer root (see `safe_path`), never through a path string.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{fstatat, futimens, makedev, mkdirat, mknodat, Mode, SFlag};
use nix::sys::time::TimeSpec;
use nix::unistd::{linkat, symlinkat, unlinkat, UnlinkatFlags};
use rustix::fs::XattrFlags;
use tar::EntryType;

use super::compression::Compression;
use super::metadata::Meta;
use super::safe_path::{join, normalize, open_dir_beneath, open_or_create_dir};
use super::LayerError;

/// The OCI whiteout prefix (image-spec layer.md "Whiteouts").
const WHITEOUT_PREFIX: &[u8] = b".wh.";
/// Marks the containing directory opaque.
const OPAQUE_WHITEOUT: &[u8] = b".wh..wh..opq";
/// The xattr overlayfs reads to treat a lower directory as opaque.
const OVERLAY_OPAQUE_XATTR: &str = "trusted.overlay.opaque";
const COPY_BUF: usize = 256 * 1024;

/// Unpacks one tar stream into a layer directory.
pub(super) struct Unpacker<'a> {
    root: OwnedFd,
    label: &'a str,
    /// Directory mtimes, applied at the end (children change them).
    dirs: Vec<(PathBuf, TimeSpec)>,
    /// The last parent directory opened, by relative path.
    parent: Option<(PathBuf, OwnedFd)>,
    /// Set when an entry removed something, which may have been (above)
    /// the cached parent.
    invalidated: bool,
    buf: Vec<u8>,
    /// What a file created by this process gets without chown/chmod.
    pub(super) creds: super::metadata::Creds,
}

impl<'a> Unpacker<'a> {
    /// An unpacker writing into the (empty) directory `dest`.
    pub(super) fn new(dest: &Path, label: &'a str) -> Result<Unpacker<'a>, LayerError> {
        let root: OwnedFd = File::open(dest)
            .map_err(|source| LayerError::Io {
                layer: label.to_string(),
                op: "open",
                path: dest.display().to_string(),
                source,
            })?
            .into();
        let creds = super::metadata::Creds::of_process(&root);
        Ok(Unpacker {
            creds,
            root,
            label,
            dirs: Vec::new(),
            parent: None,
            invalidated: false,
            buf: vec![0; COPY_BUF],
        })
    }

    /// Applies every entry of the tar stream `r`; returns the unpacked size.
    /// Stream read errors are reported as `Tar` errors; the caller knows
    /// whether the decompressor caused them.
    pub(super) fn unpack<R: Read>(&mut self, r: R, _c: Compression) -> Result<u64, LayerError> {
        let mut ar = tar::Archive::new(r);
        let mut size = 0;
        let entries = ar.entries().map_err(|e| self.tar_err(e.to_string()))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| self.tar_err(e.to_string()))?;
            size += self.apply(&mut entry)?;
        }
        self.finish_dirs()?;
        Ok(size)
    }

    pub(super) fn tar_err(&self, reason: String) -> LayerError {
        LayerError::Tar {
            layer: self.label.to_string(),
            reason,
        }
    }

    fn unsafe_entry(&self, entry: &[u8], reason: impl Into<String>) -> LayerError {
        LayerError::UnsafeEntry {
            layer: self.label.to_string(),
            entry: String::from_utf8_lossy(entry).into_owned(),
            reason: reason.into(),
        }
    }

    pub(super) fn io_err(
        &self,
        op: &'static str,
        entry: &[u8],
        e: impl Into<io::Error>,
    ) -> LayerError {
        LayerError::Io {
            layer: self.label.to_string(),
            op,
            path: String::from_utf8_lossy(entry).into_owned(),
            source: e.into(),
        }
    }

    /// Maps a resolution failure: EXDEV/ELOOP mean the path would leave
    /// the layer through a symlink.
    fn resolve_err(&self, entry: &[u8], e: Errno) -> LayerError {
        match e {
            Errno::EXDEV | Errno::ELOOP => self.unsafe_entry(
                entry,
                "path resolves outside the layer directory through a symlink",
            ),
            Errno::ENOTDIR => {
                self.unsafe_entry(entry, "a parent path component is not a directory")
            }
            e => self.io_err("open parent of", entry, e),
        }
    }

    /// Applies one entry; returns the bytes it adds to the layer size.
    fn apply<R: Read>(&mut self, e: &mut tar::Entry<'_, R>) -> Result<u64, LayerError> {
        let raw = e.path_bytes().into_owned();
        let kind = e.header().entry_type();
        if matches!(kind, EntryType::XGlobalHeader) {
            return Ok(0);
        }
        let comps = normalize(&raw).map_err(|r| self.unsafe_entry(&raw, r))?;
        let meta = self.meta(e, &raw)?;
        let Some((name, parent_comps)) = comps.split_last() else {
            // "./" — the layer root itself.
            if !kind.is_dir() {
                return Err(self.unsafe_entry(&raw, "a non-directory entry names the layer root"));
            }
            let root = self
                .root
                .try_clone()
                .map_err(|er| self.io_err("open", &raw, er))?;
            self.set_fd_meta(&root, &meta, &raw)?;
            self.creds.note_dir(&meta);
            self.dirs.push((PathBuf::from("."), meta.mtime));
            return Ok(0);
        };
        let name: &OsStr = name;
        let parent_path = join(parent_comps);
        let base = name.as_bytes();

        let parent = self.take_parent(&parent_path, parent_comps, &raw)?;
        self.invalidated = false;
        let result = if base.starts_with(WHITEOUT_PREFIX) {
            self.whiteout(&parent, base, &raw).map(|()| 0)
        } else {
            self.create(e, &parent, name, kind, &meta, &comps, &raw)
        };
        if !self.invalidated {
            self.parent = Some((parent_path, parent));
        }
        result
    }

    /// Creates entry `name` of `kind` in `parent`; returns its size.
    #[allow(clippy::too_many_arguments)]
    fn create<R: Read>(
        &mut self,
        e: &mut tar::Entry<'_, R>,
        parent: &OwnedFd,
        name: &OsStr,
        kind: EntryType,
        meta: &Meta,
        comps: &[&OsStr],
        raw: &[u8],
    ) -> Result<u64, LayerError> {
        let mut size = 0;
        match kind {
            EntryType::Directory => {
                match mkdirat(parent, name, Mode::from_bits_truncate(0o700)) {
                    Ok(()) => {}
                    Err(Errno::EEXIST) => {
                        if !self.replace_existing(parent, name, true, raw)? {
                            mkdirat(parent, name, Mode::from_bits_truncate(0o700))
                                .map_err(|er| self.io_err("mkdir", raw, er))?;
                        }
                    }
                    Err(er) => return Err(self.io_err("mkdir", raw, er)),
                }
                let fd = openat(
                    parent,
                    name,
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|er| self.io_err("open", raw, er))?;
                self.set_fd_meta(&fd, meta, raw)?;
                self.creds.note_dir(meta);
                self.dirs.push((join(comps), meta.mtime));
            }
            EntryType::Regular | EntryType::Continuous => {
                let flags = OFlag::O_WRONLY
                    | OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC;
                // Most files can be created with their final owner and mode
                // at once, saving a chown and a chmod per file.
                let done = self.creds.creates_as(meta);
                let mode = Mode::from_bits_truncate(if done { meta.mode } else { 0o600 });
                let fd = match openat(parent, name, flags, mode) {
                    Err(Errno::EEXIST) => {
                        self.replace_existing(parent, name, false, raw)?;
                        openat(parent, name, flags, mode)
                    }
                    r => r,
                }
                .map_err(|er| self.io_err("create", raw, er))?;
                let mut file = File::from(fd);
                let want = e
                    .header()
                    .entry_size()
                    .map_err(|er| self.tar_err(er.to_string()))?;
                let mut got = 0u64;
                loop {
                    let n = match e.read(&mut self.buf) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(er) if er.kind() == io::ErrorKind::Interrupted => continue,
                        Err(er) => {
                            return Err(self.tar_err(format!(
                                "reading {:?}: {er}",
                                String::from_utf8_lossy(raw)
                            )))
                        }
                    };
                    file.write_all(&self.buf[..n])
                        .map_err(|er| self.io_err("write", raw, er))?;
                    got += n as u64;
                }
                if got != want {
                    return Err(self.tar_err(format!(
                        "unexpected end of stream in {:?} ({got} of {want} bytes)",
                        String::from_utf8_lossy(raw)
                    )));
                }
                if done {
                    self.set_fd_xattrs(&file, meta, raw)?;
                } else {
                    self.set_fd_meta(&file, meta, raw)?;
                }
                futimens(&file, &meta.mtime, &meta.mtime)
                    .map_err(|er| self.io_err("set times of", raw, er))?;
                size = want;
            }
            EntryType::Symlink => {
                let target = e
                    .link_name_bytes()
                    .map(|c| c.into_owned())
                    .unwrap_or_default();
                if target.is_empty() {
                    return Err(self.tar_err(format!(
                        "symlink {:?} has no target",
                        String::from_utf8_lossy(raw)
                    )));
                }
                let target = OsStr::from_bytes(&target);
                match symlinkat(target, parent, name) {
                    Ok(()) => {}
                    Err(Errno::EEXIST) => {
                        self.replace_existing(parent, name, false, raw)?;
                        symlinkat(target, parent, name)
                            .map_err(|er| self.io_err("symlink", raw, er))?;
                    }
                    Err(er) => return Err(self.io_err("symlink", raw, er)),
                }
                self.set_at_meta(parent, name, meta, raw, false)?;
                // Docker's image size counts a symlink's lstat size, the
                // length of its target.
                size = target.len() as u64;
            }
            EntryType::Link => {
                let target = e
                    .link_name_bytes()
                    .map(|c| c.into_owned())
                    .unwrap_or_default();
                self.hard_link(parent, name, &target, raw)?;
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let (sflag, dev) = match kind {
                    EntryType::Char => (SFlag::S_IFCHR, self.device(e, raw)?),
                    EntryType::Block => (SFlag::S_IFBLK, self.device(e, raw)?),
                    _ => (SFlag::S_IFIFO, 0),
                };
                let perm = Mode::from_bits_truncate(0o600);
                match mknodat(parent, name, sflag, perm, dev) {
                    Ok(()) => {}
                    Err(Errno::EEXIST) => {
                        self.replace_existing(parent, name, false, raw)?;
                        mknodat(parent, name, sflag, perm, dev)
                            .map_err(|er| self.io_err("mknod", raw, er))?;
                    }
                    Err(er) => return Err(self.io_err("mknod", raw, er)),
                }
                self.set_at_meta(parent, name, meta, raw, true)?;
            }
            other => {
                return Err(LayerError::UnsupportedEntry {
                    layer: self.label.to_string(),
                    entry: String::from_utf8_lossy(raw).into_owned(),
                    kind: format!("{other:?}"),
                })
            }
        }
        Ok(size)
    }

    fn device<R: Read>(&self, e: &tar::Entry<'_, R>, raw: &[u8]) -> Result<u64, LayerError> {
        let h = e.header();
        let bad = |er: io::Error| {
            self.tar_err(format!(
                "entry {:?}: bad device number: {er}",
                String::from_utf8_lossy(raw)
            ))
        };
        let major = h.device_major().map_err(bad)?.unwrap_or(0);
        let minor = h.device_minor().map_err(bad)?.unwrap_or(0);
        Ok(makedev(major as u64, minor as u64))
    }

    /// The directory an entry goes into, created if missing. The last one
    /// is cached (moved out here, put back by `apply`) for the run of
    /// entries in the same directory.
    fn take_parent(
        &mut self,
        path: &Path,
        comps: &[&OsStr],
        raw: &[u8],
    ) -> Result<OwnedFd, LayerError> {
        if let Some((p, fd)) = self.parent.take() {
            if p == path {
                return Ok(fd);
            }
        }
        open_or_create_dir(&self.root, comps).map_err(|er| self.resolve_err(raw, er))
    }

    /// An existing `name` is in the way of a new entry. Returns `true` if
    /// it is a directory and the new entry is one too (kept, as tar does);
    /// otherwise removes it and returns `false`.
    fn replace_existing(
        &mut self,
        parent: &OwnedFd,
        name: &OsStr,
        new_is_dir: bool,
        raw: &[u8],
    ) -> Result<bool, LayerError> {
        let st = fstatat(parent, name, AtFlags::AT_SYMLINK_NOFOLLOW)
            .map_err(|er| self.io_err("stat", raw, er))?;
        let is_dir = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR;
        if is_dir && new_is_dir {
            return Ok(true);
        }
        // The cached parent may lie below what is removed.
        self.parent = None;
        self.invalidated = true;
        if is_dir {
            // std's remove_dir_all does not follow symlinks; the
            // /proc/self/fd path pins the parent we resolved safely.
            let p = Path::new("/proc/self/fd")
                .join(parent.as_raw_fd().to_string())
                .join(name);
            std::fs::remove_dir_all(&p).map_err(|er| self.io_err("remove", raw, er))?;
        } else {
            unlinkat(parent, name, UnlinkatFlags::NoRemoveDir)
                .map_err(|er| self.io_err("remove", raw, er))?;
        }
        Ok(false)
    }

    fn whiteout(&mut self, parent: &OwnedFd, base: &[u8], raw: &[u8]) -> Result<(), LayerError> {
        if base == OPAQUE_WHITEOUT {
            return rustix::fs::fsetxattr(parent, OVERLAY_OPAQUE_XATTR, b"y", XattrFlags::empty())
                .map_err(|er| self.io_err("mark opaque", raw, io::Error::from(er)));
        }
        if base.starts_with(b".wh..wh.") {
            // aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs): not content.
            return Ok(());
        }
        let target = &base[WHITEOUT_PREFIX.len()..];
        if target.is_empty() || target == b"." || target == b".." {
            return Err(self.unsafe_entry(raw, "whiteout of an invalid name"));
        }
        let target = OsStr::from_bytes(target);
        // An overlay whiteout is a 0:0 character device. If this layer has
        // the file itself, it wins (image-spec: whiteouts hide only lower
        // layers' files).
        match mknodat(parent, target, SFlag::S_IFCHR, Mode::empty(), makedev(0, 0)) {
            Ok(()) | Err(Errno::EEXIST) => Ok(()),
            Err(er) => Err(self.io_err("create whiteout", raw, er)),
        }
    }

    fn hard_link(
        &mut self,
        parent: &OwnedFd,
        name: &OsStr,
        target: &[u8],
        raw: &[u8],
    ) -> Result<(), LayerError> {
        let tcomps = normalize(target)
            .map_err(|r| self.unsafe_entry(raw, format!("hard link target: {r}")))?;
        let Some((tname, tparent)) = tcomps.split_last() else {
            return Err(self.unsafe_entry(raw, "hard link to the layer root"));
        };
        let tdir = open_dir_beneath(&self.root, &join(tparent)).map_err(|er| match er {
            Errno::ENOENT => self.tar_err(format!(
                "hard link {:?} to missing {:?}",
                String::from_utf8_lossy(raw),
                String::from_utf8_lossy(target)
            )),
            er => self.resolve_err(raw, er),
        })?;
        // Without AT_SYMLINK_FOLLOW a symlink target is linked itself, not
        // followed, so a link cannot reach outside through it.
        let link = || linkat(&tdir, *tname, parent, name, AtFlags::empty());
        match link() {
            Ok(()) => Ok(()),
            Err(Errno::EEXIST) => {
                self.replace_existing(parent, name, false, raw)?;
                link().map_err(|er| self.io_err("hard link", raw, er))
            }
            Err(Errno::ENOENT) => Err(self.tar_err(format!(
                "hard link {:?} to missing {:?}",
                String::from_utf8_lossy(raw),
                String::from_utf8_lossy(target)
            ))),
            Err(er) => Err(self.io_err("hard link", raw, er)),
        }
    }

    /// Directory mtimes, deepest last-written first, once all children exist.
    fn finish_dirs(&mut self) -> Result<(), LayerError> {
        self.parent = None;
        for (path, t) in std::mem::take(&mut self.dirs).into_iter().rev() {
            let raw = path.as_os_str().as_bytes();
            match open_dir_beneath(&self.root, &path) {
                Ok(fd) => {
                    futimens(&fd, &t, &t).map_err(|er| self.io_err("set times of", raw, er))?
                }
                // Replaced by a later entry: nothing to date.
                Err(Errno::ENOENT) | Err(Errno::ENOTDIR) => {}
                Err(er) => return Err(self.resolve_err(raw, er)),
            }
        }
        Ok(())
    }
}
