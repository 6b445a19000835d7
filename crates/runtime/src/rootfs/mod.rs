//! The container's filesystem view, built in its new mount namespace:
//! propagation, overlay, the rootfs bind, every spec mount in order, /dev;
//! then the root switch and the paths masked or made read-only after it.

mod cgroupfs;
mod devices;
pub(crate) mod mountinfo;
pub(crate) mod options;
mod overlay;
pub(crate) mod safe;

use std::fs;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::Mode;
use nix::sys::statvfs::{statvfs, FsFlags};
use nix::unistd::{chdir, chroot, pivot_root};
use oci_spec::runtime::{Mount, Spec};

use self::safe::{fd_path, open_in_root, Create};
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

fn no_str() -> Option<&'static str> {
    None
}

/// Everything before the root switch (DESIGN.md step 3.1–3.4).
pub(crate) fn prepare(s: &RootfsSetup) -> Result<(), ChildError> {
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

    let mut setup_dev = false;
    for m in s.spec.mounts().iter().flatten() {
        mount_one(root.as_fd(), m, s)?;
        let o = options::parse(m.options().as_deref().unwrap_or_default());
        if m.destination() == Path::new("/dev")
            && !o.is_bind()
            && m.typ().as_deref() != Some("bind")
        {
            setup_dev = true;
        }
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
fn root_propagation(spec: &Spec) -> Result<Option<MsFlags>, ChildError> {
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

/// The mount flags a bind remount must keep: in a user namespace the
/// kernel locks them (mount_namespaces(7)), and outside one keeping them
/// matches what the bind already has.
fn locked_flags(target: &Path) -> MsFlags {
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

fn mount_one(root: BorrowedFd, m: &Mount, s: &RootfsSetup) -> Result<(), ChildError> {
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
    mount(
        Some(&src),
        &fd_path(&target),
        no_str(),
        MsFlags::MS_BIND | rec,
        no_str(),
    )
    .ctx(|| what("mount"))?;
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
        // pivot_root(".", ".") puts the old root on top of the new one at
        // the same place, so no temporary dir is needed inside the rootfs.
        pivot_root(".", ".").ctx(|| format!("pivot_root into {}", rootfs.display()))?;
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
