//! `export`: the container's merged filesystem as a tar (what `berth
//! import` reads), without volume content. The overlay is assembled as a
//! *detached* read-only mount (`fsopen`/`fsmount`): it is on no mount
//! table, host or container, and vanishes when its fd is closed.

use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::mount::{
    fsconfig_create, fsconfig_set_string, fsmount, fsopen, FsMountFlags, FsOpenFlags,
    MountAttrFlags,
};
use storage::changes::{self, Skip};
use storage::RootfsLayout;

use crate::commit::CommitError;
use crate::container::Container;
use crate::Engine;

/// A detached overlay mount of a container's root; unmounted on drop.
pub(crate) struct DetachedRoot {
    fd: OwnedFd,
}

impl DetachedRoot {
    /// The mount's root directory fd.
    pub(crate) fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// A path naming the mount's root (through this process's fd table),
    /// for APIs that take paths.
    pub(crate) fn path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.fd.as_raw_fd()))
    }
}

/// Mounts the container's overlay, detached. Read-only: the upper dir
/// becomes the topmost lower layer (overlay honours whiteouts and opaque
/// dirs in lower layers), so a running container's own mount is not
/// disturbed. Writable: the real upper and work dirs (a stopped container
/// only). `lowerdir+` needs Linux 6.8.
pub(crate) fn detached_root(
    c: &Container,
    layout: &RootfsLayout,
    writable: bool,
) -> Result<DetachedRoot, CommitError> {
    let err = |op: &'static str, path: &Path| {
        let (id, path) = (c.id.clone(), path.display().to_string());
        move |e: rustix::io::Errno| CommitError::Io {
            id,
            op,
            path,
            source: e.into(),
        }
    };
    let overlay = Path::new("overlay");
    let ctx = fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC).map_err(err("fsopen", overlay))?;
    if !writable {
        fsconfig_set_string(&ctx, "lowerdir+", &layout.upper)
            .map_err(err("add overlay lower", &layout.upper))?;
    }
    for l in &layout.lower {
        fsconfig_set_string(&ctx, "lowerdir+", l).map_err(err("add overlay lower", l))?;
    }
    if writable {
        // A `--rm` container never removed (its CLI killed) left its
        // volatile mount's marker, which would fail the mount.
        storage::overlay::clear_volatile_marker(&layout.work).map_err(|source| {
            CommitError::Io {
                id: c.id.clone(),
                op: "clear volatile marker in",
                path: layout.work.display().to_string(),
                source,
            }
        })?;
        fsconfig_set_string(&ctx, "upperdir", &layout.upper)
            .map_err(err("set overlay upper", &layout.upper))?;
        fsconfig_set_string(&ctx, "workdir", &layout.work)
            .map_err(err("set overlay work", &layout.work))?;
    }
    fsconfig_create(&ctx).map_err(err("create overlay for", &layout.upper))?;
    let attrs = if writable {
        MountAttrFlags::MOUNT_ATTR_NODEV
    } else {
        MountAttrFlags::MOUNT_ATTR_RDONLY | MountAttrFlags::MOUNT_ATTR_NODEV
    };
    let fd = fsmount(&ctx, FsMountFlags::FSMOUNT_CLOEXEC, attrs)
        .map_err(err("mount overlay of", &layout.upper))?;
    Ok(DetachedRoot { fd })
}

impl Engine {
    /// `docker export`: writes the merged filesystem of the container to
    /// `out` as a tar; volume mount points are exported as empty dirs.
    pub fn export<W: Write>(&self, reference: &str, out: W) -> Result<W, CommitError> {
        let c = self.find(reference)?;
        let layout = self.layout(&c)?;
        let root = detached_root(&c, &layout, false)?;
        let skip =
            Skip::new(None, &self.mount_points(&c)).map_err(|source| CommitError::Changes {
                id: c.id.clone(),
                source,
            })?;
        changes::layer_tar(&root.path(), &skip, out).map_err(|source| CommitError::Changes {
            id: c.id.clone(),
            source,
        })
    }
}
