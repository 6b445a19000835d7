//! One spec mount: resolved inside the rootfs, mounted through its
//! `/proc/self/fd` path; binds remounted for their flags; then recursive
//! attributes and propagation.

use std::fs;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use nix::sys::statvfs::{statvfs, FsFlags};
use oci_spec::runtime::Mount;

use super::safe::{fd_path, open_in_root, Create};
use super::{cgroupfs, no_str, options, RootfsSetup};
use crate::error::{ChildError, Context};

/// The mount flags a bind remount must keep: in a user namespace the
/// kernel locks them (mount_namespaces(7)), and outside one keeping them
/// matches what the bind already has.
pub(super) fn locked_flags(target: &Path) -> MsFlags {
    let Ok(st) = statvfs(target) else {
        return MsFlags::empty();
    };
    let f = st.flags();
    let mut out = MsFlags::empty();
    for (ff, mf) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(ff) {
            out |= mf;
        }
    }
    out
}

pub(super) fn mount_one(root: BorrowedFd, m: &Mount, s: &RootfsSetup) -> Result<(), ChildError> {
    let dest = m.destination();
    let mut o = options::parse(m.options().as_deref().unwrap_or_default());
    let typ = m.typ().as_deref().unwrap_or("");
    if typ == "bind" {
        o.flags |= MsFlags::MS_BIND;
    }
    let what = |step: &str| format!("mount {typ:?} on {} ({step})", dest.display());
    if typ == "cgroup" {
        return cgroupfs::mount_cgroup(root, dest, &o).ctx(|| what("cgroup"));
    }
    if o.is_bind() {
        return bind(root, m, &o, s);
    }
    let target = open_in_root(root, dest, Create::Dir).ctx(|| what("target"))?;
    let source = m.source().clone().unwrap_or_else(|| PathBuf::from(typ));
    let data = o.data();
    let flags = o.flags - MsFlags::MS_REMOUNT;
    let res = mount(
        Some(&source),
        &fd_path(&target),
        Some(typ),
        flags,
        (!data.is_empty()).then_some(data.as_str()),
    );
    match res {
        // sysfs cannot be mounted in a user namespace without its own
        // network namespace: bind the host's, as runc does.
        Err(Errno::EPERM) if typ == "sysfs" && s.userns => {
            mount(
                Some("/sys"),
                &fd_path(&target),
                no_str(),
                MsFlags::MS_BIND | MsFlags::MS_REC,
                no_str(),
            )
            .ctx(|| what("bind /sys"))?;
        }
        other => other.ctx(|| what("mount"))?,
    }
    apply_after(root, dest, &o).ctx(|| what("recursive attributes, propagation"))
}

/// What needs the finished mount: recursive attributes (`rro`...) and
/// propagation changes.
fn apply_after(root: BorrowedFd, dest: &Path, o: &options::MountOptions) -> std::io::Result<()> {
    if o.propagation.is_empty() && o.rec_set == 0 && o.rec_clr == 0 {
        return Ok(());
    }
    // Reopen: the earlier fd refers to the directory under the new mount.
    let target = open_in_root(root, dest, Create::Nothing)?;
    if o.rec_set != 0 || o.rec_clr != 0 {
        crate::sys::mount_setattr_recursive(target.as_fd(), o.rec_set, o.rec_clr)?;
    }
    for p in &o.propagation {
        mount(no_str(), &fd_path(&target), no_str(), *p, no_str())?;
    }
    Ok(())
}

fn bind(
    root: BorrowedFd,
    m: &Mount,
    o: &options::MountOptions,
    s: &RootfsSetup,
) -> Result<(), ChildError> {
    let dest = m.destination();
    let src = m.source().clone().unwrap_or_default();
    let src = if src.is_relative() {
        s.bundle.join(src)
    } else {
        src
    };
    let what = |step: &str| format!("bind {} on {} ({step})", src.display(), dest.display());
    let meta = fs::metadata(&src).ctx(|| what("source"))?;
    let kind = if meta.is_dir() {
        Create::Dir
    } else {
        Create::File
    };
    let target = open_in_root(root, dest, kind).ctx(|| what("target"))?;
    let rec = o.flags & MsFlags::MS_REC;
    match (m.uid_mappings(), m.gid_mappings()) {
        (Some(uids), Some(gids)) => {
            super::idmap::bind_idmapped(&src, target.as_fd(), uids, gids, !rec.is_empty())?;
        }
        (None, None) => mount(
            Some(&src),
            &fd_path(&target),
            no_str(),
            MsFlags::MS_BIND | rec,
            no_str(),
        )
        .ctx(|| what("mount"))?,
        _ => {
            return Err(ChildError::other(
                what("idmap"),
                "uidMappings and gidMappings go together",
            ))
        }
    }
    // A bind ignores every other flag: they need a remount (mount(2)).
    let extra = o.flags - (MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    if !extra.is_empty() {
        let mounted = open_in_root(root, dest, Create::Nothing).ctx(|| what("reopen"))?;
        let p = fd_path(&mounted);
        let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | extra | locked_flags(&p);
        mount(no_str(), &p, no_str(), flags, no_str()).ctx(|| what("remount"))?;
    }
    apply_after(root, dest, o).ctx(|| what("recursive attributes, propagation"))
}
