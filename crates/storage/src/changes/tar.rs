//! The upper dir as an OCI layer tar (`docker commit`): overlay whiteouts
//! become `.wh.NAME` entries and opaque dirs a `.wh..wh..opq` entry (moby's
//! `overlayWhiteoutConverter`), with owners, modes, mtimes, xattrs, hard
//! links and device nodes kept, in a deterministic (sorted) order, streamed
//! with constant memory.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use rustix::fs::{FileType, Stat};
use tar::{Builder, EntryType, Header};

use super::fsmeta::{self, DirFd, OVERLAY_XATTR_PREFIX};
use super::{ChangesError, Skip};

/// The OCI whiteout prefix (image-spec layer.md "Whiteouts").
const WHITEOUT_PREFIX: &str = ".wh.";
/// The OCI opaque-directory marker.
const OPAQUE_MARKER: &str = ".wh..wh..opq";

/// Writes `upper` (minus what `skip` leaves out) to `out` as an
/// uncompressed layer tar and returns the writer. Entry names are relative
/// (`etc/`, `etc/hosts`), directories before their content, names sorted
/// bytewise. A file whose size changes while it is read (a container not
/// paused) is cut or zero-padded to the size its header announced.
pub fn layer_tar<W: Write>(upper: &Path, skip: &Skip, out: W) -> Result<W, ChangesError> {
    let root = DirFd::open(upper).map_err(ChangesError::io("open", upper))?;
    let mut t = TarWalk {
        b: Builder::new(out),
        skip,
        links: HashMap::new(),
    };
    t.dir(&root, Path::new(""))?;
    t.b.into_inner().map_err(|source| ChangesError::Write {
        path: PathBuf::from("(end of archive)"),
        source,
    })
}

struct TarWalk<'a, W: Write> {
    b: Builder<W>,
    skip: &'a Skip,
    /// First path written for each multiply-linked inode.
    links: HashMap<(u64, u64), PathBuf>,
}

impl<W: Write> TarWalk<'_, W> {
    fn dir(&mut self, dir: &DirFd, rel: &Path) -> Result<(), ChangesError> {
        let names = dir
            .names()
            .map_err(ChangesError::io("read dir", dir.path()))?;
        for name in &names {
            let child = rel.join(name);
            if self.skip.skips(&child) {
                continue;
            }
            self.entry(dir, name, &child)?;
        }
        Ok(())
    }

    fn entry(&mut self, dir: &DirFd, name: &OsStr, rel: &Path) -> Result<(), ChangesError> {
        let full = || dir.path().join(name);
        let st = dir.stat(name).map_err(ChangesError::io("stat", full()))?;
        let ft = fsmeta::file_type(&st);
        if dir
            .is_whiteout(name, &st)
            .map_err(ChangesError::io("read xattrs of", full()))?
        {
            let mut wh = OsStr::new(WHITEOUT_PREFIX).to_os_string();
            wh.push(name);
            let path = rel.with_file_name(wh);
            let h = header(&st, EntryType::Regular, 0o600, 0);
            return self.append(h, &path, io::empty());
        }
        let mut xattrs = dir
            .xattrs(name)
            .map_err(ChangesError::io("read xattrs of", full()))?;
        let opaque = ft == FileType::Directory
            && xattrs
                .iter()
                .any(|(k, v)| k == fsmeta::OPAQUE_XATTR && v.as_slice() == b"y");
        xattrs.retain(|(k, _)| !k.starts_with(OVERLAY_XATTR_PREFIX));
        if !xattrs.is_empty() {
            let ext: Vec<(String, &[u8])> = xattrs
                .iter()
                .map(|(k, v)| (format!("SCHILY.xattr.{k}"), v.as_slice()))
                .collect();
            self.b
                .append_pax_extensions(ext.iter().map(|(k, v)| (k.as_str(), *v)))
                .map_err(|source| ChangesError::Write {
                    path: rel.to_path_buf(),
                    source,
                })?;
        }
        let perm = st.st_mode & 0o7777;
        match ft {
            FileType::Directory => {
                let h = header(&st, EntryType::Directory, perm, 0);
                let mut p = rel.as_os_str().to_os_string();
                p.push("/");
                self.append(h, Path::new(&p), io::empty())?;
                if opaque {
                    let h = header(&st, EntryType::Regular, perm & 0o777, 0);
                    self.append(h, &rel.join(OPAQUE_MARKER), io::empty())?;
                }
                let sub = dir.child(name).map_err(ChangesError::io("open", full()))?;
                self.dir(&sub, rel)
            }
            FileType::RegularFile => {
                if st.st_nlink > 1 {
                    let key = (st.st_dev, st.st_ino);
                    if let Some(first) = self.links.get(&key).cloned() {
                        let h = header(&st, EntryType::Link, perm, 0);
                        return self.link(h, rel, &first);
                    }
                    self.links.insert(key, rel.to_path_buf());
                }
                let size = st.st_size as u64;
                let f = dir
                    .open_file(name)
                    .map_err(ChangesError::io("open", full()))?;
                let h = header(&st, EntryType::Regular, perm, size);
                self.append(h, rel, Exact::new(f, size))
            }
            FileType::Symlink => {
                let target = dir
                    .readlink(name)
                    .map_err(ChangesError::io("read link", full()))?;
                let h = header(&st, EntryType::Symlink, perm, 0);
                self.link(h, rel, &target)
            }
            FileType::CharacterDevice | FileType::BlockDevice => {
                let kind = if ft == FileType::CharacterDevice {
                    EntryType::Char
                } else {
                    EntryType::Block
                };
                let mut h = header(&st, kind, perm, 0);
                let dev = st.st_rdev;
                let werr = |source| ChangesError::Write {
                    path: rel.to_path_buf(),
                    source,
                };
                h.set_device_major(rustix::fs::major(dev)).map_err(werr)?;
                h.set_device_minor(rustix::fs::minor(dev))
                    .map_err(|source| ChangesError::Write {
                        path: rel.to_path_buf(),
                        source,
                    })?;
                self.append(h, rel, io::empty())
            }
            FileType::Fifo => {
                let h = header(&st, EntryType::Fifo, perm, 0);
                self.append(h, rel, io::empty())
            }
            // Sockets are not archived (moby skips them too).
            _ => Ok(()),
        }
    }

    fn append(&mut self, mut h: Header, path: &Path, data: impl Read) -> Result<(), ChangesError> {
        self.b
            .append_data(&mut h, path, data)
            .map_err(|source| ChangesError::Write {
                path: path.to_path_buf(),
                source,
            })
    }

    fn link(&mut self, mut h: Header, path: &Path, target: &Path) -> Result<(), ChangesError> {
        self.b
            .append_link(&mut h, path, target)
            .map_err(|source| ChangesError::Write {
                path: path.to_path_buf(),
                source,
            })
    }
}

fn header(st: &Stat, kind: EntryType, mode: u32, size: u64) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(st.st_uid as u64);
    h.set_gid(st.st_gid as u64);
    h.set_mtime(st.st_mtime.max(0) as u64);
    h.set_size(size);
    h
}

/// Exactly `size` bytes of a file: cut if it grew, zero-padded if it
/// shrank since its header was written.
struct Exact {
    file: io::Take<File>,
    left: u64,
}

impl Exact {
    fn new(file: File, size: u64) -> Exact {
        Exact {
            file: file.take(size),
            left: size,
        }
    }
}

impl Read for Exact {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let n = match self.file.read(buf)? {
            0 => {
                let n = buf.len().min(self.left as usize);
                buf[..n].fill(0);
                n
            }
            n => n,
        };
        self.left -= n as u64;
        Ok(n)
    }
}
