//! After the root switch: masked paths, read-only paths, the read-only
//! root and the spec's root propagation (runc's maskPath / readonlyPath).

use std::fs;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::fcntl::{open, OFlag};
use nix::mount::{mount, MsFlags};
use nix::sys::stat::Mode;
use oci_spec::runtime::Spec;

use super::mount::locked_flags;
use super::safe::{fd_path, open_in_root, Create};
use super::{no_str, root_propagation};
use crate::error::{ChildError, Context};

/// After the switch: masked paths, read-only paths, read-only root.
pub(crate) fn finalize(spec: &Spec) -> Result<(), ChildError> {
    let root = open(
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| "open /".into())?;
    let linux = spec.linux().as_ref();
    for p in linux
        .and_then(|l| l.masked_paths().as_ref())
        .into_iter()
        .flatten()
    {
        mask(root.as_fd(), Path::new(p))?;
    }
    for p in linux
        .and_then(|l| l.readonly_paths().as_ref())
        .into_iter()
        .flatten()
    {
        readonly(root.as_fd(), Path::new(p))?;
    }
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        let flags = MsFlags::MS_BIND
            | MsFlags::MS_REMOUNT
            | MsFlags::MS_RDONLY
            | locked_flags(Path::new("/"));
        mount(no_str(), "/", no_str(), flags, no_str()).ctx(|| "remount / read-only".into())?;
    }
    if let Some(prop) = root_propagation(spec)? {
        mount(no_str(), "/", no_str(), prop, no_str()).ctx(|| "set propagation of /".into())?;
    }
    Ok(())
}

fn open_existing(root: BorrowedFd, p: &Path) -> Result<Option<OwnedFd>, ChildError> {
    match open_in_root(root, p, Create::Nothing) {
        Ok(fd) => Ok(Some(fd)),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(ChildError::other(format!("open {}", p.display()), e)),
    }
}

/// runc's maskPath: /dev/null over a file, an empty read-only tmpfs over
/// a directory; a missing path is fine.
fn mask(root: BorrowedFd, p: &Path) -> Result<(), ChildError> {
    let Some(fd) = open_existing(root, p)? else {
        return Ok(());
    };
    let target = fd_path(&fd);
    let what = || format!("mask {}", p.display());
    if fs::metadata(&target).ctx(what)?.is_dir() {
        mount(
            Some("tmpfs"),
            &target,
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            no_str(),
        )
        .ctx(what)
    } else {
        mount(
            Some("/dev/null"),
            &target,
            no_str(),
            MsFlags::MS_BIND,
            no_str(),
        )
        .ctx(what)
    }
}

/// runc's readonlyPath: bind the path onto itself, then remount it ro.
fn readonly(root: BorrowedFd, p: &Path) -> Result<(), ChildError> {
    let Some(fd) = open_existing(root, p)? else {
        return Ok(());
    };
    let what = || format!("make {} read-only", p.display());
    let target = fd_path(&fd);
    mount(
        Some(&target),
        &target,
        no_str(),
        MsFlags::MS_BIND | MsFlags::MS_REC,
        no_str(),
    )
    .ctx(what)?;
    let fd = open_in_root(root, p, Create::Nothing).ctx(what)?;
    let target = fd_path(&fd);
    let flags = MsFlags::MS_BIND
        | MsFlags::MS_REMOUNT
        | MsFlags::MS_RDONLY
        | MsFlags::MS_REC
        | locked_flags(&target);
    mount(no_str(), &target, no_str(), flags, no_str()).ctx(what)
}
