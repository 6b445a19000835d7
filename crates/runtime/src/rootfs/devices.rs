//! The container's `/dev`: the default device nodes (as runc's
//! `AllowedDevices`), the spec's `linux.devices`, and the standard symlinks.
//! In a user namespace mknod is not allowed, so nodes are bind-mounted from
//! the host instead (runc does the same).

use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{makedev, mknodat, Mode, SFlag};
use nix::unistd::{fchownat, symlinkat, Gid, Uid};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};

use super::safe::{fd_path, open_in_root, Create};
use crate::error::{ChildError, Context};

/// A device node to create.
#[derive(Debug, Clone)]
pub(crate) struct Device {
    pub(crate) path: PathBuf,
    pub(crate) kind: SFlag,
    pub(crate) major: u64,
    pub(crate) minor: u64,
    pub(crate) mode: u32,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
}

fn chr(path: &str, major: u64, minor: u64) -> Device {
    Device {
        path: PathBuf::from(path),
        kind: SFlag::S_IFCHR,
        major,
        minor,
        mode: 0o666,
        uid: 0,
        gid: 0,
    }
}

/// null, zero, full, random, urandom, tty.
pub(crate) fn defaults() -> Vec<Device> {
    vec![
        chr("/dev/null", 1, 3),
        chr("/dev/zero", 1, 5),
        chr("/dev/full", 1, 7),
        chr("/dev/random", 1, 8),
        chr("/dev/urandom", 1, 9),
        chr("/dev/tty", 5, 0),
    ]
}

/// A spec device; `None` for types that are not nodes (`a`).
pub(crate) fn from_spec(d: &LinuxDevice) -> Option<Device> {
    let kind = match d.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
        LinuxDeviceType::B => SFlag::S_IFBLK,
        LinuxDeviceType::P => SFlag::S_IFIFO,
        LinuxDeviceType::A => return None,
    };
    Some(Device {
        path: d.path().clone(),
        kind,
        major: d.major() as u64,
        minor: d.minor() as u64,
        mode: d.file_mode().unwrap_or(0o666) & 0o7777,
        uid: d.uid().unwrap_or(0),
        gid: d.gid().unwrap_or(0),
    })
}

/// Creates `dev` inside `root` (the rootfs, before pivot); `bind` makes a
/// bind mount of the host's node instead of a mknod.
pub(crate) fn create(root: BorrowedFd, dev: &Device, bind: bool) -> Result<(), ChildError> {
    let what = || format!("create device {}", dev.path.display());
    let parent = dev.path.parent().unwrap_or(Path::new("/"));
    let dir = open_in_root(root, parent, Create::Dir).ctx(what)?;
    let name = dev
        .path
        .file_name()
        .ok_or_else(|| ChildError::other(what(), "no file name"))?;
    if bind {
        let target = open_in_root(root, &dev.path, Create::File).ctx(what)?;
        mount(
            Some(&dev.path),
            &fd_path(&target),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .ctx(what)?;
        return Ok(());
    }
    // The directory fd is O_PATH; mknodat needs a real directory fd.
    let dirfd = nix::fcntl::open(
        &fd_path(&dir),
        nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(what)?;
    let old = nix::sys::stat::umask(Mode::empty());
    let res = mknodat(
        dirfd.as_fd(),
        name,
        dev.kind,
        Mode::from_bits_truncate(dev.mode),
        makedev(dev.major, dev.minor),
    );
    nix::sys::stat::umask(old);
    match res {
        // Already there, e.g. bind-mounted by a spec mount (runc: fine).
        Err(Errno::EEXIST) => return Ok(()),
        other => other.ctx(what)?,
    }
    fchownat(
        dirfd.as_fd(),
        name,
        Some(Uid::from_raw(dev.uid)),
        Some(Gid::from_raw(dev.gid)),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .ctx(what)?;
    Ok(())
}

/// `/dev/fd`, `/dev/std{in,out,err}`, `/dev/ptmx` (→ `pts/ptmx`, so the
/// container's own devpts instance is used) and `/dev/core` when the host
/// has `/proc/kcore`.
pub(crate) fn symlinks(root: BorrowedFd) -> Result<(), ChildError> {
    let dev = open_in_root(root, Path::new("/dev"), Create::Dir).ctx(|| "open /dev".into())?;
    let dirfd = nix::fcntl::open(
        &fd_path(&dev),
        nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| "open /dev".into())?;
    let mut links = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "core"));
    }
    for (target, name) in links {
        match symlinkat(target, dirfd.as_fd(), name) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(ChildError::other(format!("symlink /dev/{name}"), e)),
        }
    }
    // /dev/ptmx: replace whatever is there (a bind-mounted or mknod'd host
    // ptmx would allocate ptys in the host's devpts instance).
    let _ = nix::unistd::unlinkat(
        dirfd.as_fd(),
        "ptmx",
        nix::unistd::UnlinkatFlags::NoRemoveDir,
    );
    match symlinkat("pts/ptmx", dirfd.as_fd(), "ptmx") {
        // A spec mount put something on /dev/ptmx: leave it.
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(ChildError::other("symlink /dev/ptmx", e)),
    }
    Ok(())
}
