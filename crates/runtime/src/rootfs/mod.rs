//! The container's filesystem view, built in its new mount namespace:
//! propagation, overlay, the rootfs bind, every spec mount in order, /dev
//! (this file); the mounts themselves (`mount`), the root switch (`pivot`)
//! and the paths masked or made read-only after it (`paths`).

mod cgroupfs;
mod devices;
mod idmap;
mod mount;
pub(crate) mod mountinfo;
pub(crate) mod options;
mod overlay;
mod paths;
mod pivot;
pub(crate) mod safe;

use std::fs;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::fcntl::{open, OFlag};
use nix::mount::{mount, MsFlags};
use nix::sys::stat::Mode;
use oci_spec::runtime::Spec;

pub(crate) use self::paths::finalize;
pub(crate) use self::pivot::switch_root;
use crate::error::{ChildError, Context};
use crate::spawn::Overlay;

/// What the mount setup needs to know.
pub(crate) struct RootfsSetup<'a> {
    /// Absolute host path of the rootfs dir.
    pub(crate) rootfs: &'a Path,
    /// Bundle dir: relative bind sources resolve against it.
    pub(crate) bundle: &'a Path,
    pub(crate) spec: &'a Spec,
    pub(crate) overlay: Option<&'a Overlay>,
    /// In a new user namespace: no mknod (bind device nodes instead).
    pub(crate) userns: bool,
}

pub(super) fn no_str() -> Option<&'static str> {
    None
}

/// Everything before the root switch (DESIGN.md step 3.1–3.4). `placed`
/// waits until the runtime has put us in our cgroup; it is called once,
/// before the first `cgroup` mount or else after the spec mounts.
pub(crate) fn prepare(
    s: &RootfsSetup,
    placed: &mut dyn FnMut() -> Result<(), ChildError>,
) -> Result<(), ChildError> {
    let linux = s.spec.linux().as_ref();
    let prop = root_propagation(s.spec)?;
    // By default rprivate: nothing mounted below propagates to the host.
    let flags = prop.unwrap_or(MsFlags::MS_REC | MsFlags::MS_PRIVATE);
    mount(no_str(), "/", no_str(), flags, no_str()).ctx(|| "set propagation of /".into())?;
    if prop.is_some() {
        // With a shared or slave `/`, the rootfs bind would join a peer
        // group and pivot_root refuses shared mounts: make the mount that
        // holds the rootfs private first (runc's rootfsParentMountPrivate).
        // The spec's mode is applied to the new `/` after the switch.
        parent_mount_private(s.rootfs)?;
    }

    if let Some(ov) = s.overlay {
        let target = open(
            s.rootfs,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .ctx(|| format!("open rootfs {}", s.rootfs.display()))?;
        overlay::mount_overlay(ov, target.as_fd(), s.rootfs)
            .ctx(|| format!("mount overlay on {}", s.rootfs.display()))?;
    }
    // pivot_root needs the new root to be a mount point.
    mount(
        Some(s.rootfs),
        s.rootfs,
        no_str(),
        MsFlags::MS_BIND | MsFlags::MS_REC,
        no_str(),
    )
    .ctx(|| format!("bind rootfs {}", s.rootfs.display()))?;
    let root = open(
        s.rootfs,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| format!("open rootfs {}", s.rootfs.display()))?;

    // As runc's needsSetupDev: the nodes are made unless `/dev` is a bind
    // mount (then it is the caller's /dev), also with no `/dev` mount at
    // all (then they go into the rootfs's own `/dev`).
    let mut setup_dev = true;
    let mut placed = Some(placed);
    for m in s.spec.mounts().iter().flatten() {
        if m.typ().as_deref() == Some("cgroup") {
            if let Some(f) = placed.take() {
                f()?;
            }
        }
        mount::mount_one(root.as_fd(), m, s)?;
        let o = options::parse(m.options().as_deref().unwrap_or_default());
        if m.destination() == Path::new("/dev")
            && (o.is_bind() || m.typ().as_deref() == Some("bind"))
        {
            setup_dev = false;
        }
    }
    // Device nodes come after the placement (a devices cgroup governs
    // mknod), as everything after this function does.
    if let Some(f) = placed.take() {
        f()?;
    }
    if setup_dev {
        let mut list = devices::defaults();
        let spec_devs = linux.and_then(|l| l.devices().as_ref());
        list.extend(
            spec_devs
                .into_iter()
                .flatten()
                .filter_map(devices::from_spec),
        );
        for d in &list {
            devices::create(root.as_fd(), d, s.userns)?;
        }
        devices::symlinks(root.as_fd())?;
    }
    Ok(())
}

/// `linux.rootfsPropagation` as mount flags; `None` when not given.
pub(super) fn root_propagation(spec: &Spec) -> Result<Option<MsFlags>, ChildError> {
    match spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().as_deref())
    {
        None | Some("") => Ok(None),
        Some(p) => options::propagation(p)
            .map(Some)
            .ok_or_else(|| ChildError::other("rootfsPropagation", format!("unknown mode {p:?}"))),
    }
}

/// Makes the mount that `path` lives on private (not recursively).
fn parent_mount_private(path: &Path) -> Result<(), ChildError> {
    let what = || format!("make the mount holding {} private", path.display());
    let text = fs::read_to_string("/proc/self/mountinfo").ctx(what)?;
    let parent = mountinfo::parse(&text)
        .into_iter()
        .map(|m| PathBuf::from(m.mount_point))
        .filter(|mp| path.starts_with(mp))
        .max_by_key(|mp| mp.as_os_str().len())
        .unwrap_or_else(|| PathBuf::from("/"));
    mount(no_str(), &parent, no_str(), MsFlags::MS_PRIVATE, no_str()).ctx(what)
}
