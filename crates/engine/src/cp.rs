//! `cp` between a container and the host (or a tar stream, `-`), with
//! Docker's rules for the destination (`docker cp`'s `CopyInfo`). Every
//! container path is resolved with `openat2(RESOLVE_IN_ROOT)` against the
//! container's root, so neither a symlink nor `..` leads out of it; a
//! `..` in the path given that climbs above `/` is refused outright.
//!
//! A running container is reached through `/proc/<pid>/root` (its volumes
//! included, as Docker); a stopped one through a detached overlay mount of
//! its layers, writable into its upper dir.

use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};

use crate::commit::CommitError;
use crate::container::Container;
use crate::export::{detached_root, DetachedRoot};
use crate::Engine;

/// Where `cp` reads from on the host side.
pub enum CopySource<'a> {
    /// A host path.
    Path(&'a Path),
    /// A tar stream (`-`), extracted into the destination directory.
    Tar(&'a mut dyn Read),
}

/// Where `cp` writes on the host side.
pub enum CopyDest<'a> {
    /// A host path.
    Path(&'a Path),
    /// A tar stream (`-`) of the source.
    Tar(&'a mut dyn Write),
}

/// The metadata carried over to the copy (ownership becomes the copier's,
/// as `docker cp` without `-a`).
#[derive(Clone, Copy)]
struct Meta {
    mode: u32,
    mtime: i64,
    size: u64,
}

/// The destination side of a copy; paths are relative to its base.
trait Sink {
    fn dir(&mut self, rel: &Path, m: Meta) -> io::Result<()>;
    fn file(&mut self, rel: &Path, m: Meta, data: &mut dyn Read) -> io::Result<()>;
    fn symlink(&mut self, rel: &Path, m: Meta, target: &Path) -> io::Result<()>;
}

/// The container's root directory fd, kept alive for the copy.
enum Root {
    Proc(OwnedFd),
    Detached(DetachedRoot),
}

impl Root {
    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Root::Proc(fd) => fd.as_fd(),
            Root::Detached(d) => d.fd().as_fd(),
        }
    }
}

/// A container path as given: cleaned, relative to `/`, with Docker's
/// trailing-`/.` (copy the content) and trailing-`/` markers.
struct CtrPath {
    shown: String,
    rel: PathBuf,
    contents_only: bool,
    trailing_slash: bool,
}

fn parse_ctr_path(p: &str) -> Result<CtrPath, CommitError> {
    let mut rel = PathBuf::new();
    let mut escapes = false;
    for c in Path::new(p).components() {
        match c {
            Component::Normal(n) => rel.push(n),
            Component::ParentDir => escapes |= !rel.pop(),
            _ => {}
        }
    }
    if escapes {
        return Err(CommitError::BadPath(format!(
            "container path {p:?} leaves the container's root with \"..\""
        )));
    }
    Ok(CtrPath {
        shown: p.to_string(),
        rel,
        contents_only: p.ends_with("/.") || p == ".",
        trailing_slash: p.ends_with('/'),
    })
}

/// `openat2` confined to the container's root.
fn resolve(root: BorrowedFd<'_>, rel: &Path, follow: bool) -> io::Result<OwnedFd> {
    let mut flags = OFlags::PATH | OFlags::CLOEXEC;
    if !follow {
        flags |= OFlags::NOFOLLOW;
    }
    let p = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    Ok(rustix::fs::openat2(
        root,
        p,
        flags,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )?)
}

fn proc_fd(fd: &OwnedFd) -> PathBuf {
    use std::os::fd::AsRawFd;
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

fn meta(st: &rustix::fs::Stat) -> Meta {
    Meta {
        mode: st.st_mode & 0o7777,
        mtime: st.st_mtime,
        size: st.st_size as u64,
    }
}

impl Engine {
    /// The container's root: the running init's, else a detached overlay
    /// mount, read-only unless `writable` (a copy out needs no upper dir
    /// of its own, nor the work dir's volatile marker cleared).
    fn cp_root(&self, c: &Container, writable: bool) -> Result<Root, CommitError> {
        if c.state.status.is_active() && c.state.pid > 0 {
            let p = format!("/proc/{}/root", c.state.pid);
            let fd = rustix::fs::open(
                p.as_str(),
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| CommitError::Io {
                id: c.id.clone(),
                op: "open root",
                path: p.clone(),
                source: e.into(),
            })?;
            return Ok(Root::Proc(fd));
        }
        let layout = self.layout(c)?;
        Ok(Root::Detached(detached_root(c, &layout, writable)?))
    }

    /// `docker cp CONTAINER:SRC DEST`.
    pub fn copy_from(
        &self,
        reference: &str,
        src: &str,
        dest: CopyDest<'_>,
    ) -> Result<(), CommitError> {
        let src = parse_ctr_path(src)?;
        let c = self.find(reference)?;
        let root = self.cp_root(&c, false)?;
        let not_found = || {
            CommitError::BadPath(format!(
                "Could not find the file {} in container {}",
                src.shown, c.name
            ))
        };
        // The last component is not followed (a symlink is copied as
        // one) unless the path ends in `/.` or `/`.
        let follow = src.contents_only || src.trailing_slash;
        let fd = resolve(root.fd(), &src.rel, follow).map_err(|_| not_found())?;
        let st = rustix::fs::fstat(&fd).map_err(|_| not_found())?;
        let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
        let name = src
            .rel
            .file_name()
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/"));
        let io_err = |op: &'static str, path: &Path| {
            let (id, path) = (c.id.clone(), path.display().to_string());
            move |source: io::Error| CommitError::Io {
                id,
                op,
                path,
                source,
            }
        };
        match dest {
            CopyDest::Tar(w) => {
                let base = if src.rel.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    name
                };
                let mut sink = TarSink {
                    b: tar::Builder::new(w),
                    base,
                };
                send_fd(&fd, &st, Path::new(""), &mut sink).map_err(io_err("copy", &src.rel))?;
                sink.b.finish().map_err(io_err("write tar of", &src.rel))
            }
            CopyDest::Path(dest) => {
                let dest_meta = fs::metadata(dest).ok();
                let target = target_path(
                    is_dir,
                    &name,
                    src.contents_only,
                    dest_meta.as_ref().map(|m| m.is_dir()),
                    dest.to_string_lossy().ends_with('/'),
                    dest,
                )?;
                if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
                    if !parent.is_dir() {
                        return Err(CommitError::BadPath(format!(
                            "destination directory {} does not exist",
                            parent.display()
                        )));
                    }
                }
                let mut sink = HostSink { base: target };
                send_fd(&fd, &st, Path::new(""), &mut sink).map_err(io_err("copy", &src.rel))
            }
        }
    }

    /// `docker cp SRC CONTAINER:DEST`.
    pub fn copy_to(
        &self,
        reference: &str,
        src: CopySource<'_>,
        dest: &str,
    ) -> Result<(), CommitError> {
        let dest = parse_ctr_path(dest)?;
        let c = self.find(reference)?;
        let root = self.cp_root(&c, true)?;
        let dest_st = resolve(root.fd(), &dest.rel, true)
            .ok()
            .and_then(|fd| rustix::fs::fstat(&fd).ok());
        let dest_is_dir =
            dest_st.map(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory);
        let io_err = |op: &'static str, path: &Path| {
            let (id, path) = (c.id.clone(), path.display().to_string());
            move |source: io::Error| CommitError::Io {
                id,
                op,
                path,
                source,
            }
        };
        match src {
            CopySource::Tar(r) => {
                if dest_is_dir != Some(true) {
                    return Err(CommitError::BadPath(format!(
                        "destination {:?} must be a directory in container {}",
                        dest.shown, c.name
                    )));
                }
                let mut sink = CtrSink {
                    root: root.fd(),
                    base: dest.rel.clone(),
                };
                recv_tar(r, &mut sink).map_err(io_err("extract into", &dest.rel))
            }
            CopySource::Path(src) => {
                let st = fs::symlink_metadata(src).map_err(|e| {
                    CommitError::BadPath(format!("cannot stat {}: {e}", src.display()))
                })?;
                let s = src.to_string_lossy();
                let contents_only = s.ends_with("/.") || s == ".";
                let name = src
                    .file_name()
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from("."));
                let target = target_path(
                    st.is_dir(),
                    &name,
                    contents_only,
                    dest_is_dir,
                    dest.trailing_slash,
                    &dest.rel,
                )?;
                if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
                    let ok = resolve(root.fd(), parent, true)
                        .ok()
                        .and_then(|fd| rustix::fs::fstat(&fd).ok())
                        .is_some_and(|st| {
                            FileType::from_raw_mode(st.st_mode) == FileType::Directory
                        });
                    if !ok {
                        return Err(CommitError::BadPath(format!(
                            "destination directory /{} does not exist in container {}",
                            parent.display(),
                            c.name
                        )));
                    }
                }
                let mut sink = CtrSink {
                    root: root.fd(),
                    base: target,
                };
                send_host(src, Path::new(""), &mut sink).map_err(io_err("copy", src))
            }
        }
    }
}

/// Docker's destination rules: into an existing directory the source
/// keeps its name (or only its content, for `SRC/.`); otherwise it takes
/// the destination's name.
fn target_path(
    src_is_dir: bool,
    src_name: &Path,
    contents_only: bool,
    dest_is_dir: Option<bool>,
    dest_trailing_slash: bool,
    dest: &Path,
) -> Result<PathBuf, CommitError> {
    match dest_is_dir {
        Some(true) if src_is_dir && contents_only => Ok(dest.to_path_buf()),
        Some(true) => Ok(dest.join(src_name)),
        Some(false) if src_is_dir => Err(CommitError::BadPath(format!(
            "cannot copy a directory to a file: {}",
            dest.display()
        ))),
        Some(false) => Ok(dest.to_path_buf()),
        None if dest_trailing_slash && !src_is_dir => Err(CommitError::BadPath(format!(
            "destination directory {} does not exist",
            dest.display()
        ))),
        None => Ok(dest.to_path_buf()),
    }
}

/// Sends a container entry (an fd from `resolve`, not followed further)
/// and, for a directory, everything below it, opened with `O_NOFOLLOW`
/// relative to its parent.
fn send_fd(fd: &OwnedFd, st: &rustix::fs::Stat, rel: &Path, sink: &mut dyn Sink) -> io::Result<()> {
    match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory => {
            sink.dir(rel, meta(st))?;
            let dir = rustix::fs::open(
                proc_fd(fd),
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            let mut names = Vec::new();
            let mut rd = rustix::fs::Dir::read_from(&dir)?;
            while let Some(e) = rd.read() {
                let n = e?.file_name().to_bytes().to_vec();
                if n != b"." && n != b".." {
                    names.push(n);
                }
            }
            names.sort();
            for n in names {
                let name = std::ffi::OsStr::from_bytes(&n);
                let child = rustix::fs::openat(
                    &dir,
                    name,
                    OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )?;
                let cst = rustix::fs::fstat(&child)?;
                send_fd(&child, &cst, &rel.join(name), sink)?;
            }
            Ok(())
        }
        FileType::RegularFile => {
            let mut f = fs::File::open(proc_fd(fd))?;
            sink.file(rel, meta(st), &mut (&mut f).take(st.st_size as u64))
        }
        FileType::Symlink => {
            let t = rustix::fs::readlinkat(fd, "", Vec::new())?;
            let target = PathBuf::from(std::ffi::OsStr::from_bytes(t.as_bytes()));
            sink.symlink(rel, meta(st), &target)
        }
        // Devices, FIFOs and sockets are not copied.
        _ => Ok(()),
    }
}

use std::os::unix::ffi::OsStrExt;

/// Sends a host path (symlinks copied as symlinks).
fn send_host(p: &Path, rel: &Path, sink: &mut dyn Sink) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let m = fs::symlink_metadata(p)?;
    let mt = Meta {
        mode: m.mode() & 0o7777,
        mtime: m.mtime(),
        size: m.len(),
    };
    if m.is_dir() {
        sink.dir(rel, mt)?;
        let mut names: Vec<_> = fs::read_dir(p)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()?;
        names.sort();
        for n in names {
            send_host(&p.join(&n), &rel.join(&n), sink)?;
        }
        Ok(())
    } else if m.file_type().is_symlink() {
        sink.symlink(rel, mt, &fs::read_link(p)?)
    } else if m.is_file() {
        let f = fs::File::open(p)?;
        sink.file(rel, mt, &mut f.take(mt.size))
    } else {
        Ok(())
    }
}

/// Extracts a tar stream through a sink (directories, files, symlinks).
fn recv_tar(r: &mut dyn Read, sink: &mut dyn Sink) -> io::Result<()> {
    let mut a = tar::Archive::new(r);
    for e in a.entries()? {
        let mut e = e?;
        let raw = e.path()?.into_owned();
        let mut rel = PathBuf::new();
        for c in raw.components() {
            match c {
                Component::Normal(n) => rel.push(n),
                Component::CurDir | Component::RootDir => {}
                _ => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("tar entry {raw:?} leaves the destination"),
                    ))
                }
            }
        }
        let h = e.header();
        let mt = Meta {
            mode: h.mode()? & 0o7777,
            mtime: h.mtime()? as i64,
            size: h.size()?,
        };
        match h.entry_type() {
            tar::EntryType::Directory => sink.dir(&rel, mt)?,
            tar::EntryType::Regular | tar::EntryType::Continuous => sink.file(&rel, mt, &mut e)?,
            tar::EntryType::Symlink => {
                let t = e.link_name()?.unwrap_or_default().into_owned();
                sink.symlink(&rel, mt, &t)?
            }
            _ => {}
        }
    }
    Ok(())
}

/// Writes to a host directory tree rooted at `base`.
struct HostSink {
    base: PathBuf,
}

impl HostSink {
    fn path(&self, rel: &Path) -> PathBuf {
        if rel.as_os_str().is_empty() {
            self.base.clone()
        } else {
            self.base.join(rel)
        }
    }
}

impl Sink for HostSink {
    fn dir(&mut self, rel: &Path, m: Meta) -> io::Result<()> {
        let p = self.path(rel);
        match fs::create_dir(&p) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && p.is_dir() => {}
            r => r?,
        }
        fs::set_permissions(&p, fs::Permissions::from_mode(m.mode))
    }

    fn file(&mut self, rel: &Path, m: Meta, data: &mut dyn Read) -> io::Result<()> {
        let p = self.path(rel);
        if fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink()) {
            fs::remove_file(&p)?;
        }
        let mut f = fs::File::create(&p)?;
        io::copy(data, &mut f)?;
        f.set_permissions(fs::Permissions::from_mode(m.mode))?;
        set_mtime_fd(&f, m.mtime)
    }

    fn symlink(&mut self, rel: &Path, _: Meta, target: &Path) -> io::Result<()> {
        let p = self.path(rel);
        if fs::symlink_metadata(&p).is_ok() {
            fs::remove_file(&p)?;
        }
        symlink(target, &p)
    }
}

fn set_mtime_fd(f: &fs::File, mtime: i64) -> io::Result<()> {
    let t = rustix::fs::Timespec {
        tv_sec: mtime,
        tv_nsec: 0,
    };
    rustix::fs::futimens(
        f,
        &rustix::fs::Timestamps {
            last_access: t,
            last_modification: t,
        },
    )?;
    Ok(())
}

/// Writes into the container, every parent resolved in its root.
struct CtrSink<'a> {
    root: BorrowedFd<'a>,
    base: PathBuf,
}

impl CtrSink<'_> {
    /// The parent directory fd (confined) and the last name.
    fn parent(&self, rel: &Path) -> io::Result<(OwnedFd, PathBuf)> {
        let full = self.base.join(rel);
        let name = full.file_name().map(PathBuf::from).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "cannot replace the root")
        })?;
        let parent = full.parent().unwrap_or(Path::new(""));
        let fd = resolve(self.root, parent, true)?;
        Ok((fd, name))
    }
}

impl Sink for CtrSink<'_> {
    fn dir(&mut self, rel: &Path, m: Meta) -> io::Result<()> {
        let (dir, name) = self.parent(rel)?;
        match rustix::fs::mkdirat(&dir, &name, Mode::from_raw_mode(m.mode)) {
            Err(rustix::io::Errno::EXIST) => {
                let st = rustix::fs::statat(&dir, &name, AtFlags::SYMLINK_NOFOLLOW)?;
                if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!("{} exists and is not a directory", name.display()),
                    ));
                }
                Ok(())
            }
            Err(e) => Err(e.into()),
            Ok(()) => {
                let d = rustix::fs::openat(
                    &dir,
                    &name,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )?;
                rustix::fs::fchmod(&d, Mode::from_raw_mode(m.mode))?;
                Ok(())
            }
        }
    }

    fn file(&mut self, rel: &Path, m: Meta, data: &mut dyn Read) -> io::Result<()> {
        let (dir, name) = self.parent(rel)?;
        if let Ok(st) = rustix::fs::statat(&dir, &name, AtFlags::SYMLINK_NOFOLLOW) {
            if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
                rustix::fs::unlinkat(&dir, &name, AtFlags::empty())?;
            }
        }
        let fd = rustix::fs::openat(
            &dir,
            &name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(m.mode),
        )?;
        let mut f = fs::File::from(fd);
        io::copy(data, &mut f)?;
        rustix::fs::fchmod(&f, Mode::from_raw_mode(m.mode))?;
        set_mtime_fd(&f, m.mtime)
    }

    fn symlink(&mut self, rel: &Path, _: Meta, target: &Path) -> io::Result<()> {
        let (dir, name) = self.parent(rel)?;
        match rustix::fs::unlinkat(&dir, &name, AtFlags::empty()) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(rustix::fs::symlinkat(target, &dir, &name)?)
    }
}

/// Writes a tar stream whose top entry is named `base`.
struct TarSink<W: Write> {
    b: tar::Builder<W>,
    base: PathBuf,
}

impl<W: Write> TarSink<W> {
    fn header(&self, kind: tar::EntryType, m: Meta, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(m.mode);
        h.set_mtime(m.mtime.max(0) as u64);
        h.set_size(size);
        h
    }

    /// The entry's name: `base` itself for the source (`rel` empty), as
    /// Docker names a single file `fa`; `base.join("")` would be `fa/`.
    fn name(&self, rel: &Path) -> PathBuf {
        if rel.as_os_str().is_empty() {
            self.base.clone()
        } else {
            self.base.join(rel)
        }
    }
}

impl<W: Write> Sink for TarSink<W> {
    fn dir(&mut self, rel: &Path, m: Meta) -> io::Result<()> {
        let mut h = self.header(tar::EntryType::Directory, m, 0);
        let mut p = self.name(rel).into_os_string();
        p.push("/");
        self.b.append_data(&mut h, Path::new(&p), io::empty())
    }

    fn file(&mut self, rel: &Path, m: Meta, data: &mut dyn Read) -> io::Result<()> {
        let mut h = self.header(tar::EntryType::Regular, m, m.size);
        let p = self.name(rel);
        self.b.append_data(&mut h, p, data)
    }

    fn symlink(&mut self, rel: &Path, m: Meta, target: &Path) -> io::Result<()> {
        let mut h = self.header(tar::EntryType::Symlink, m, 0);
        let p = self.name(rel);
        self.b.append_link(&mut h, p, target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotdot_above_root_is_refused() {
        assert!(parse_ctr_path("/../etc/passwd").is_err());
        assert!(parse_ctr_path("/etc/../../x").is_err());
        let p = parse_ctr_path("/etc/../tmp/.").unwrap();
        assert_eq!(p.rel, Path::new("tmp"));
        assert!(p.contents_only);
        assert!(parse_ctr_path("/tmp/").unwrap().trailing_slash);
    }

    #[test]
    fn destination_rules_as_docker() {
        let d = Path::new("/dst");
        let n = Path::new("src");
        assert_eq!(
            target_path(false, n, false, Some(true), false, d).unwrap(),
            d.join("src")
        );
        assert_eq!(target_path(true, n, true, Some(true), false, d).unwrap(), d);
        assert_eq!(target_path(false, n, false, None, false, d).unwrap(), d);
        assert!(target_path(true, n, false, Some(false), false, d).is_err());
        assert!(target_path(false, n, false, None, true, d).is_err());
    }
}
