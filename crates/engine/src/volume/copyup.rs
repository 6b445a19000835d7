//! Copy-up: the image's content at a mount target, read from the layer
//! directories top-down (an overlay whiteout — a 0:0 character device —
//! hides lower entries, an opaque directory hides lower directories), is
//! copied into a new empty volume with owners, modes, times, xattrs,
//! symlinks, devices and hard links kept. Symlinks on the way to the
//! target are followed inside the image, never out of it.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use rustix::fs::{AtFlags, Timespec, Timestamps, CWD};

use super::VolumeError;

const OPAQUE: &str = "trusted.overlay.opaque";
/// Symlinks followed while resolving the target, as the kernel's limit.
const MAX_LINKS: usize = 40;

fn is_whiteout(m: &fs::Metadata) -> bool {
    m.file_type().is_char_device() && m.rdev() == 0
}

fn is_opaque(p: &Path) -> bool {
    let mut buf = [0u8; 4];
    matches!(rustix::fs::lgetxattr(p, OPAQUE, &mut buf), Ok(n) if &buf[..n] == b"y")
}

/// The merged view of a stack of layer directories, topmost first.
struct Layers<'a> {
    dirs: &'a [PathBuf],
}

impl Layers<'_> {
    /// How many layers (from the top) contribute to directory `rel`, given
    /// how many contribute to its parent; `None` if `rel` is not a
    /// directory in the merged view.
    fn dir_limit(&self, rel: &Path, limit: usize) -> Option<usize> {
        let mut found = false;
        for (i, d) in self.dirs[..limit].iter().enumerate() {
            let p = d.join(rel);
            match fs::symlink_metadata(&p) {
                Ok(m) if m.is_dir() => {
                    found = true;
                    if is_opaque(&p) {
                        return Some(i + 1);
                    }
                }
                Ok(_) => return found.then_some(i),
                Err(_) => {}
            }
        }
        found.then_some(limit)
    }

    /// The topmost entry for `rel` among the first `limit` layers.
    fn top(&self, rel: &Path, limit: usize) -> Option<(usize, fs::Metadata)> {
        for (i, d) in self.dirs[..limit].iter().enumerate() {
            if let Ok(m) = fs::symlink_metadata(d.join(rel)) {
                return (!is_whiteout(&m)).then_some((i, m));
            }
        }
        None
    }

    /// Resolves an absolute container path to a directory of the merged
    /// view, following symlinks with `/` and `..` clamped at the image
    /// root. Returns the relative path and its layer limit.
    fn resolve_dir(&self, target: &str) -> Option<(PathBuf, usize)> {
        let mut todo: Vec<OsString> = comps(Path::new(target));
        todo.reverse();
        let mut cur = PathBuf::new();
        let mut limit = self.dirs.len();
        let mut links = 0;
        while let Some(c) = todo.pop() {
            if c == ".." {
                cur.pop();
                // Recompute the limit from the root for the shorter path.
                limit = self.limit_of(&cur)?;
                continue;
            }
            let next = cur.join(&c);
            let (layer, m) = self.top(&next, limit)?;
            if m.file_type().is_symlink() {
                links += 1;
                if links > MAX_LINKS {
                    return None;
                }
                let target = fs::read_link(self.dirs[layer].join(&next)).ok()?;
                if target.is_absolute() {
                    cur = PathBuf::new();
                    limit = self.dirs.len();
                }
                let mut more = comps(&target);
                more.reverse();
                todo.extend(more);
                continue;
            }
            if !m.is_dir() {
                return None;
            }
            limit = self.dir_limit(&next, limit)?;
            cur = next;
        }
        Some((cur, limit))
    }

    fn limit_of(&self, rel: &Path) -> Option<usize> {
        let mut limit = self.dirs.len();
        let mut p = PathBuf::new();
        for c in rel.components() {
            p.push(c);
            limit = self.dir_limit(&p, limit)?;
        }
        Some(limit)
    }

    /// The merged entries of directory `rel`: name → topmost layer.
    fn list(&self, rel: &Path, limit: usize) -> Vec<(OsString, usize)> {
        let mut seen: HashMap<OsString, Option<usize>> = HashMap::new();
        let mut order = Vec::new();
        for (i, d) in self.dirs[..limit].iter().enumerate() {
            let Ok(rd) = fs::read_dir(d.join(rel)) else {
                continue;
            };
            for e in rd.flatten() {
                let name = e.file_name();
                if seen.contains_key(&name) {
                    continue;
                }
                let white = e.metadata().map(|m| is_whiteout(&m)).unwrap_or(false);
                seen.insert(name.clone(), (!white).then_some(i));
                if !white {
                    order.push((name, i));
                }
            }
        }
        order
    }
}

/// Path components as names, `/` and `.` dropped, `..` kept.
fn comps(p: &Path) -> Vec<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

/// Copies the merged image content at `target` into `dest` (an existing
/// empty directory), and gives `dest` the owner and mode of the source
/// directory, as Docker's `copyExistingContents`. Nothing is copied when
/// the image has no directory there. Returns the number of entries copied.
pub fn copy_up(layers: &[PathBuf], target: &str, dest: &Path) -> Result<u64, VolumeError> {
    let view = Layers { dirs: layers };
    let Some((rel, limit)) = view.resolve_dir(target) else {
        return Ok(0);
    };
    let mut c = Copier {
        view: &view,
        links: HashMap::new(),
        count: 0,
        target,
    };
    c.dir(&rel, limit, dest)?;
    if let Some((layer, m)) = view.top(&rel, limit) {
        c.meta(&layers[layer].join(&rel), dest, &m)?;
    }
    Ok(c.count)
}

struct Copier<'a> {
    view: &'a Layers<'a>,
    /// (dev, ino) of a multiply linked source file → its first copy.
    links: HashMap<(u64, u64), PathBuf>,
    count: u64,
    target: &'a str,
}

impl Copier<'_> {
    fn err(&self, op: &'static str, p: &Path) -> impl FnOnce(io::Error) -> VolumeError + use<> {
        VolumeError::io(self.target, op, p.to_path_buf())
    }

    fn dir(&mut self, rel: &Path, limit: usize, dest: &Path) -> Result<(), VolumeError> {
        for (name, layer) in self.view.list(rel, limit) {
            let child = rel.join(&name);
            let src = self.view.dirs[layer].join(&child);
            let to = dest.join(&name);
            let m = fs::symlink_metadata(&src).map_err(self.err("stat", &src))?;
            self.count += 1;
            let ft = m.file_type();
            if ft.is_dir() {
                fs::create_dir(&to).map_err(self.err("mkdir", &to))?;
                if let Some(l) = self.view.dir_limit(&child, limit) {
                    self.dir(&child, l, &to)?;
                }
            } else if ft.is_file() {
                let key = (m.dev(), m.ino());
                if m.nlink() > 1 {
                    if let Some(first) = self.links.get(&key) {
                        fs::hard_link(first, &to).map_err(self.err("link", &to))?;
                        continue;
                    }
                    self.links.insert(key, to.clone());
                }
                fs::copy(&src, &to).map_err(self.err("copy", &src))?;
            } else if ft.is_symlink() {
                let t = fs::read_link(&src).map_err(self.err("readlink", &src))?;
                std::os::unix::fs::symlink(&t, &to).map_err(self.err("symlink", &to))?;
            } else {
                let kind = SFlag::from_bits_truncate(m.mode() & libc::S_IFMT);
                let dev = makedev(libc::major(m.rdev()) as u64, libc::minor(m.rdev()) as u64);
                mknod(&to, kind, Mode::from_bits_truncate(m.mode()), dev)
                    .map_err(|e| self.err("mknod", &to)(e.into()))?;
            }
            self.meta(&src, &to, &m)?;
        }
        Ok(())
    }

    /// Owner, then mode (chown clears set-id bits), xattrs, times.
    fn meta(&self, src: &Path, to: &Path, m: &fs::Metadata) -> Result<(), VolumeError> {
        std::os::unix::fs::lchown(to, Some(m.uid()), Some(m.gid()))
            .map_err(self.err("chown", to))?;
        let symlink = m.file_type().is_symlink();
        if !symlink {
            fs::set_permissions(to, fs::Permissions::from_mode(m.mode() & 0o7777))
                .map_err(self.err("chmod", to))?;
        }
        copy_xattrs(src, to).map_err(self.err("xattr", to))?;
        let ts = Timestamps {
            last_access: Timespec {
                tv_sec: m.atime(),
                tv_nsec: m.atime_nsec() as _,
            },
            last_modification: Timespec {
                tv_sec: m.mtime(),
                tv_nsec: m.mtime_nsec() as _,
            },
        };
        rustix::fs::utimensat(CWD, to, &ts, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| self.err("utimes", to)(e.into()))
    }
}

/// Copies the extended attributes except overlayfs' own.
fn copy_xattrs(src: &Path, to: &Path) -> io::Result<()> {
    let mut names = vec![0u8; 1024];
    let n = match rustix::fs::llistxattr(src, &mut names[..]) {
        Ok(0) => return Ok(()),
        Ok(n) => n,
        Err(rustix::io::Errno::RANGE) => {
            let size = rustix::fs::llistxattr_query(src)?;
            names.resize(size, 0);
            rustix::fs::llistxattr(src, &mut names[..])?
        }
        Err(rustix::io::Errno::NOTSUP) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    for name in names[..n].split(|b| *b == 0).filter(|s| !s.is_empty()) {
        if name.starts_with(b"trusted.overlay.") {
            continue;
        }
        let name = OsStr::from_bytes(name);
        let size = rustix::fs::lgetxattr_query(src, name)?;
        let mut val = vec![0u8; size];
        let got = rustix::fs::lgetxattr(src, name, &mut val[..])?;
        rustix::fs::lsetxattr(to, name, &val[..got], rustix::fs::XattrFlags::empty())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    fn layers(t: &Path, n: usize) -> Vec<PathBuf> {
        (0..n)
            .map(|i| {
                let d = t.join(format!("l{i}"));
                fs::create_dir_all(&d).unwrap();
                d
            })
            .collect()
    }

    #[test]
    fn merged_view_follows_layers_and_symlinks_inside() {
        let t = tempfile::tempdir().unwrap();
        let l = layers(t.path(), 2);
        // Lower layer: /data/{a,b}, /etc/passwd; upper: /data/c, /link -> /data.
        fs::create_dir_all(l[1].join("data/sub")).unwrap();
        fs::write(l[1].join("data/a"), "a").unwrap();
        fs::write(l[1].join("data/b"), "b-low").unwrap();
        fs::write(l[1].join("data/sub/x"), "x").unwrap();
        fs::create_dir_all(l[0].join("data")).unwrap();
        fs::write(l[0].join("data/b"), "b-up").unwrap();
        fs::write(l[0].join("data/c"), "c").unwrap();
        symlink("/data", l[0].join("link")).unwrap();
        symlink("../../../../data", l[0].join("up")).unwrap();
        let dest = t.path().join("out");
        fs::create_dir(&dest).unwrap();
        let n = copy_up(&l, "/link", &dest).unwrap();
        assert_eq!(n, 5);
        assert_eq!(fs::read_to_string(dest.join("b")).unwrap(), "b-up");
        assert_eq!(fs::read_to_string(dest.join("sub/x")).unwrap(), "x");
        let dest2 = t.path().join("out2");
        fs::create_dir(&dest2).unwrap();
        assert_eq!(copy_up(&l, "/up", &dest2).unwrap(), 5);
        let dest3 = t.path().join("out3");
        fs::create_dir(&dest3).unwrap();
        assert_eq!(copy_up(&l, "/missing/x", &dest3).unwrap(), 0);
        assert_eq!(copy_up(&l, "/data/a", &dest3).unwrap(), 0);
    }

    #[test]
    fn hard_links_and_symlinks_kept() {
        let t = tempfile::tempdir().unwrap();
        let l = layers(t.path(), 1);
        fs::create_dir_all(l[0].join("d")).unwrap();
        fs::write(l[0].join("d/f"), "f").unwrap();
        fs::hard_link(l[0].join("d/f"), l[0].join("d/g")).unwrap();
        symlink("f", l[0].join("d/s")).unwrap();
        fs::set_permissions(l[0].join("d/f"), fs::Permissions::from_mode(0o640)).unwrap();
        let dest = t.path().join("out");
        fs::create_dir(&dest).unwrap();
        copy_up(&l, "/d", &dest).unwrap();
        let f = fs::metadata(dest.join("f")).unwrap();
        assert_eq!(f.ino(), fs::metadata(dest.join("g")).unwrap().ino());
        assert_eq!(f.mode() & 0o7777, 0o640);
        assert_eq!(fs::read_link(dest.join("s")).unwrap(), Path::new("f"));
    }
}
