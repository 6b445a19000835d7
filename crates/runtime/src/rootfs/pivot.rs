//! Switching the root to the rootfs: `pivot_root` and detaching the old
//! root (runc's pivotRoot, crun's do_pivot), or `MS_MOVE` + chroot.

use std::path::Path;

use nix::fcntl::{open, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::Mode;
use nix::unistd::{chdir, chroot, fchdir, pivot_root};

use super::no_str;
use crate::error::{ChildError, Context};

/// Switches the root to `rootfs` (DESIGN.md step 3.6) and chdirs to `/`.
pub(crate) fn switch_root(rootfs: &Path, no_pivot: bool) -> Result<(), ChildError> {
    chdir(rootfs).ctx(|| format!("chdir {}", rootfs.display()))?;
    if no_pivot {
        // runc --no-pivot: for roots on ramfs, where pivot_root is EINVAL.
        // chroot can be escaped by a process with CAP_SYS_CHROOT, which is
        // why pivot_root is the default.
        mount(Some(rootfs), "/", no_str(), MsFlags::MS_MOVE, no_str())
            .ctx(|| "move rootfs to /".into())?;
        chroot(".").ctx(|| "chroot".into())?;
    } else {
        // Held to get back into the old root after the pivot (below).
        let old_root = open(
            "/",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .ctx(|| "open old root".into())?;
        // pivot_root(".", ".") puts the old root on top of the new one at
        // the same place, so no temporary dir is needed inside the rootfs.
        match pivot_root(".", ".") {
            // The classic cause: a rootfs on ramfs/initramfs.
            Err(nix::errno::Errno::EINVAL) => {
                return Err(ChildError::other(
                    format!("pivot_root into {}", rootfs.display()),
                    "invalid argument (a root on ramfs needs --no-pivot)",
                ))
            }
            other => other.ctx(|| format!("pivot_root into {}", rootfs.display()))?,
        }
        // A path lookup of "." from the new root's dir stops at the new
        // root's mount, not the old root stacked on it: an rslave there
        // would turn every container mount (rshared binds included) into
        // a slave, i.e. private. Step into the old root itself (as runc).
        fchdir(&old_root).ctx(|| "chdir into old root".into())?;
        // The old root may be shared (rootfsPropagation): make it a slave
        // first so that detaching it does not unmount anything on the host.
        mount(
            no_str(),
            ".",
            no_str(),
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            no_str(),
        )
        .ctx(|| "make old root rslave".into())?;
        // Lazily detach the old root: the host's tree is gone from view.
        umount2(".", MntFlags::MNT_DETACH).ctx(|| "detach old root".into())?;
    }
    chdir("/").ctx(|| "chdir /".into())
}
