//! Resolving mount targets inside the rootfs without ever following a
//! symlink out of it: `openat2(RESOLVE_IN_ROOT)` makes `/` and `..` stop at
//! the rootfs, so `/mnt -> /etc` lands on `<rootfs>/etc`.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{mkdirat, Mode};

/// What to create when the target does not exist yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Create {
    /// Nothing: a missing target is an error.
    Nothing,
    /// A directory (and missing parents).
    Dir,
    /// An empty regular file (and missing parent dirs).
    File,
}

fn how(flags: OFlag) -> OpenHow {
    OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS)
}

/// The path relative to the root, with `.`/`/` dropped (`..` is kept:
/// `RESOLVE_IN_ROOT` clamps it at the root).
pub(crate) fn relative(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| {
            !matches!(
                c,
                Component::RootDir | Component::CurDir | Component::Prefix(_)
            )
        })
        .collect()
}

/// Opens `path` inside `root` as an `O_PATH` fd, resolving symlinks as if
/// `root` were `/`; creates what is missing per `create` (also the target
/// of a dangling symlink, inside the root, as runc's `MkdirAllInRoot`).
pub(crate) fn open_in_root(root: BorrowedFd, path: &Path, create: Create) -> io::Result<OwnedFd> {
    open_depth(root, path, create, 0)
}

fn open_depth(root: BorrowedFd, path: &Path, create: Create, depth: u32) -> io::Result<OwnedFd> {
    if depth > 40 {
        return Err(io::Error::from(Errno::ELOOP));
    }
    let rel = relative(path);
    let target = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel.as_path()
    };
    match openat2(root, target, how(OFlag::O_PATH)) {
        Err(Errno::ENOENT) if create != Create::Nothing => {}
        other => return other.map_err(Into::into),
    }
    // Usually only the last component is missing (`/dev/pts` in the
    // rootfs's `/dev`): make it in its parent straight away, without
    // looking up every prefix as the walk below does.
    if let (Some(Component::Normal(name)), Some(parent)) =
        (rel.components().next_back(), rel.parent())
    {
        let parent = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        match openat2(root, parent, how(OFlag::O_DIRECTORY | OFlag::O_RDONLY)) {
            Ok(dir) => {
                make(root, dir.as_fd(), parent, name.as_ref(), create, depth)?;
                return Ok(openat2(root, target, how(OFlag::O_PATH))?);
            }
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e.into()),
        }
    }
    // Walk down, creating each missing component in the (already safely
    // resolved) parent directory fd.
    let comps: Vec<Component> = rel.components().collect();
    let mut prefix = PathBuf::new();
    for (i, comp) in comps.iter().enumerate() {
        let last = i + 1 == comps.len();
        let parent = if prefix.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            prefix.clone()
        };
        prefix.push(comp);
        match openat2(root, &prefix, how(OFlag::O_PATH)) {
            Ok(_) => continue,
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e.into()),
        }
        let Component::Normal(name) = comp else {
            return Err(io::Error::from(Errno::ENOENT));
        };
        let dir = openat2(root, &parent, how(OFlag::O_DIRECTORY | OFlag::O_RDONLY))?;
        let kind = if last { create } else { Create::Dir };
        make(root, dir.as_fd(), &parent, name.as_ref(), kind, depth)?;
    }
    Ok(openat2(root, target, how(OFlag::O_PATH))?)
}

/// Creates `name` (a directory, or an empty file for `Create::File`) in
/// `dir`, which is `parent` inside `root`. If `name` is a dangling
/// symlink, creates its target instead, resolved inside `root`.
fn make(
    root: BorrowedFd,
    dir: BorrowedFd,
    parent: &Path,
    name: &Path,
    kind: Create,
    depth: u32,
) -> io::Result<()> {
    let made = if kind == Create::File {
        // O_NOFOLLOW|O_EXCL: never create through a (dangling) symlink.
        nix::fcntl::openat(
            dir,
            name,
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_WRONLY | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o644),
        )
        .map(drop)
    } else {
        mkdirat(dir, name, Mode::from_bits_truncate(0o755))
    };
    match made {
        Ok(()) => Ok(()),
        Err(Errno::EEXIST) => {
            // A dangling symlink (or a racing creator: then the target
            // exists and opening it below succeeds).
            let link = match nix::fcntl::readlinkat(dir, name) {
                Ok(l) => l,
                Err(Errno::EINVAL) => return Ok(()), // not a symlink
                Err(e) => return Err(e.into()),
            };
            let link = Path::new(&link);
            let next = if link.is_absolute() {
                link.to_path_buf()
            } else {
                parent.join(link)
            };
            open_depth(root, &next, kind, depth + 1).map(drop)
        }
        Err(e) => Err(e.into()),
    }
}

/// `/proc/self/fd/N` of an fd, the path mount(2) is given so that it acts
/// on exactly the object we resolved.
pub(crate) fn fd_path(fd: &impl AsRawFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::symlink;

    use nix::fcntl::open;

    use super::*;

    #[test]
    fn symlinks_stay_inside_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        fs::create_dir_all(root.join("etc")).unwrap();
        symlink("/etc", root.join("mnt")).unwrap();
        symlink("../../../../host", root.join("up")).unwrap();
        let rootfd = open(&root, OFlag::O_PATH | OFlag::O_DIRECTORY, Mode::empty()).unwrap();

        let fd = open_in_root(rootfd.as_fd(), Path::new("/mnt/data"), Create::Dir).unwrap();
        let real = fs::read_link(fd_path(&fd)).unwrap();
        assert_eq!(real, root.join("etc/data").canonicalize().unwrap());

        let fd = open_in_root(rootfd.as_fd(), Path::new("/up/f"), Create::File).unwrap();
        let real = fs::read_link(fd_path(&fd)).unwrap();
        assert_eq!(real, root.join("host/f").canonicalize().unwrap());
        assert!(!tmp.path().join("host").exists());
    }

    #[test]
    fn creates_a_missing_last_component_or_a_missing_chain() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        fs::create_dir(root.join("dev")).unwrap();
        symlink("/made", root.join("dangling")).unwrap();
        let rootfd = open(root, OFlag::O_PATH | OFlag::O_DIRECTORY, Mode::empty()).unwrap();
        let open = |p: &str, c| open_in_root(rootfd.as_fd(), Path::new(p), c).unwrap();

        open("/dev/pts", Create::Dir);
        assert!(root.join("dev/pts").is_dir());
        open("/dev/console", Create::File);
        assert!(root.join("dev/console").is_file());
        // A dangling symlink as the last component: its target is made,
        // inside the root.
        let fd = open("/dangling", Create::Dir);
        assert_eq!(
            fs::read_link(fd_path(&fd)).unwrap(),
            root.join("made").canonicalize().unwrap()
        );
        assert!(root.join("made").is_dir());
        open("/a/b/c", Create::File);
        assert!(root.join("a/b/c").is_file());
        // Existing targets are opened as they are.
        open("/a/b/c", Create::File);
        open("/dev", Create::Dir);
    }

    #[test]
    fn missing_without_create_is_enoent() {
        let tmp = tempfile::tempdir().unwrap();
        let rootfd = open(
            tmp.path(),
            OFlag::O_PATH | OFlag::O_DIRECTORY,
            Mode::empty(),
        )
        .unwrap();
        let err = open_in_root(rootfd.as_fd(), Path::new("/nope"), Create::Nothing).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
    }
}
