//! Mounting the engine's overlay onto the rootfs dir. The new mount API
//! (`fsconfig("lowerdir+")` once per layer, Linux 6.8+) has no length
//! limit; older kernels get one `mount(2)` whose lowerdir list is made
//! short by chdir'ing to the layers' common parent (containerd's
//! `LowerdirCompactor`), since the data string must fit in one page.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use nix::mount::{mount, MsFlags};

use crate::spawn::Overlay;
use crate::sys::{move_mount_to_fd, FsContext};

/// Mounts `ov` onto the directory `target` refers to (an `O_PATH` fd).
pub(crate) fn mount_overlay(
    ov: &Overlay,
    target: BorrowedFd,
    target_path: &Path,
) -> io::Result<()> {
    if ov.lower.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "overlay has no lower layer",
        ));
    }
    match mount_new_api(ov, target) {
        Ok(()) => Ok(()),
        // ENOSYS: no fsopen; EINVAL: kernel without "lowerdir+" (< 6.8).
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS) | Some(libc::EINVAL)) => {
            mount_legacy(ov, target_path)
        }
        Err(e) => Err(e),
    }
}

fn mount_new_api(ov: &Overlay, target: BorrowedFd) -> io::Result<()> {
    let ctx = FsContext::open("overlay")?;
    for layer in &ov.lower {
        ctx.set_string("lowerdir+", layer)?;
    }
    ctx.set_string("upperdir", &ov.upper)?;
    ctx.set_string("workdir", &ov.work)?;
    if ov.volatile {
        clear_volatile_marker(&ov.work)?;
        // A kernel without it refuses the flag, not the context: the
        // mount then just syncs as usual.
        let _ = ctx.set_flag("volatile");
    }
    let mnt = ctx.create_and_mount()?;
    move_mount_to_fd(mnt.as_fd(), target)
}

/// Removes the marker an earlier `volatile` mount of this work dir left
/// (`work/incompat/volatile`, overlayfs.rst "Volatile mount"): overlayfs
/// refuses to mount over it, as the upper dir may have lost writes in a
/// crash; a volatile user accepted that already (c/storage does the same).
fn clear_volatile_marker(work: &Path) -> io::Result<()> {
    match std::fs::remove_dir_all(work.join("work/incompat/volatile")) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The legacy path: absolute paths when they fit in a page, else paths
/// relative to the layers' common parent with that parent as cwd.
fn mount_legacy(ov: &Overlay, target: &Path) -> io::Result<()> {
    let absolute = options(&ov.lower, &ov.upper, &ov.work, None);
    if absolute.len() < page_size() {
        return mount_data(ov, target, &absolute);
    }
    let base = common_parent(&ov.lower).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "overlay layers share no parent dir",
        )
    })?;
    let data = options(&ov.lower, &ov.upper, &ov.work, Some(&base));
    if data.len() >= page_size() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "overlay options are {} bytes even relative to {}",
                data.len(),
                base.display()
            ),
        ));
    }
    let cwd = std::env::current_dir()?;
    std::env::set_current_dir(&base)?;
    let res = mount_data(ov, target, &data);
    std::env::set_current_dir(cwd)?;
    res
}

/// `do_mount`, with `volatile` first when `ov` asks for it and again
/// without it on a kernel that refuses it (before 5.10).
fn mount_data(ov: &Overlay, target: &Path, data: &str) -> io::Result<()> {
    if ov.volatile {
        clear_volatile_marker(&ov.work)?;
        match do_mount(target, &format!("{data},volatile")) {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
            res => return res,
        }
    }
    do_mount(target, data)
}

fn do_mount(target: &Path, data: &str) -> io::Result<()> {
    mount(
        Some("overlay"),
        target,
        Some("overlay"),
        MsFlags::empty(),
        Some(data),
    )?;
    Ok(())
}

fn page_size() -> usize {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .map_or(4096, |n| n as usize)
}

/// The overlay data string; lower layers relative to `base` when given
/// (upper and work stay absolute: they are few).
pub(crate) fn options(lower: &[PathBuf], upper: &Path, work: &Path, base: Option<&Path>) -> String {
    let rel = |p: &Path| match base.and_then(|b| p.strip_prefix(b).ok()) {
        Some(r) => r.display().to_string(),
        None => p.display().to_string(),
    };
    let lowers = lower.iter().map(|l| rel(l)).collect::<Vec<_>>().join(":");
    format!(
        "lowerdir={lowers},upperdir={},workdir={}",
        upper.display(),
        work.display()
    )
}

/// The deepest directory that contains every path.
pub(crate) fn common_parent(paths: &[PathBuf]) -> Option<PathBuf> {
    let mut common = paths.first()?.parent()?.to_path_buf();
    for p in &paths[1..] {
        while !p.starts_with(&common) {
            common = common.parent()?.to_path_buf();
        }
    }
    Some(common)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compacts_lowerdirs_relative_to_common_parent() {
        let lower: Vec<PathBuf> = (0..3)
            .map(|i| PathBuf::from(format!("/var/lib/berth/layers/{i}/diff")))
            .collect();
        let base = common_parent(&lower).unwrap();
        assert_eq!(base, Path::new("/var/lib/berth/layers"));
        let s = options(&lower, Path::new("/u"), Path::new("/w"), Some(&base));
        assert_eq!(s, "lowerdir=0/diff:1/diff:2/diff,upperdir=/u,workdir=/w");
    }

    /// The fallback for kernels before 6.8, run for real (root) in a
    /// private mount namespace of a forked child.
    #[test]
    fn legacy_mount_compacts_a_long_lowerdir_list() {
        use std::fs;

        use nix::sched::{unshare, CloneFlags};
        use nix::sys::wait::{waitpid, WaitStatus};
        use nix::unistd::{fork, ForkResult};

        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().join("a-rather-long-directory-name-for-layers");
        let lower: Vec<PathBuf> = (0..200)
            .map(|i| {
                let d = base.join(format!("layer-{i:04}"));
                fs::create_dir_all(&d).unwrap();
                fs::write(d.join(format!("f{i}")), "x").unwrap();
                d
            })
            .collect();
        let ov = Overlay {
            lower,
            upper: tmp.path().join("u"),
            work: tmp.path().join("w"),
            volatile: false,
        };
        let target = tmp.path().join("merged");
        for d in [&ov.upper, &ov.work, &target] {
            fs::create_dir_all(d).unwrap();
        }
        assert!(options(&ov.lower, &ov.upper, &ov.work, None).len() > page_size());
        // SAFETY: the child only mounts in its own namespace and _exits.
        match unsafe { fork() }.unwrap() {
            ForkResult::Child => {
                let ok = unshare(CloneFlags::CLONE_NEWNS).is_ok()
                    && mount(
                        None::<&str>,
                        "/",
                        None::<&str>,
                        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                        None::<&str>,
                    )
                    .is_ok()
                    && mount_legacy(&ov, &target).is_ok()
                    && target.join("f0").exists()
                    && target.join("f199").exists();
                // SAFETY: leave the forked copy of the test harness at once.
                unsafe { libc::_exit(if ok { 0 } else { 1 }) }
            }
            ForkResult::Parent { child } => {
                assert_eq!(waitpid(child, None).unwrap(), WaitStatus::Exited(child, 0));
            }
        }
        // The mount lived in the child's namespace only.
        assert_eq!(fs::read_dir(&target).unwrap().count(), 0);
    }

    #[test]
    fn absolute_options_when_no_base() {
        let s = options(
            &[PathBuf::from("/a")],
            Path::new("/u"),
            Path::new("/w"),
            None,
        );
        assert_eq!(s, "lowerdir=/a,upperdir=/u,workdir=/w");
    }
}
