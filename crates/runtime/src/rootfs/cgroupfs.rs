//! The `cgroup` spec mount: cgroup2 on a v2 host; on v1/hybrid hosts a
//! tmpfs holding one mount per host hierarchy (as runc's mountCgroupV1),
//! so tools in the container see the layout they expect.
//!
//! Each hierarchy shows the container's own cgroup, never the host's tree.
//! In a cgroup namespace a fresh cgroup mount is rooted at the container's
//! cgroup. Without one, the container's directory under the host's own
//! mount of the hierarchy is bound instead, as runc binds
//! `/sys/fs/cgroup/<ctrl>/<path>`: a fresh cgroup2 mount in the initial
//! cgroup namespace takes `cgroup_threadgroup_rwsem` for write (to apply
//! `favordynmods`), which waits for an RCU grace period, 5–15 ms on an
//! idle CPU; a bind waits for nothing.

use std::fs;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::{open, OFlag};
use nix::mount::{mount, MsFlags};
use nix::sys::stat::Mode;
use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};

use super::mountinfo::{self, MountInfo};
use super::options::MountOptions;
use super::safe::{fd_path, open_in_root, Create};
use crate::sys::{mount_setattr_recursive, move_mount_to_fd, open_tree_clone};

/// Mounts the cgroup filesystem(s) at `dest` inside `root`.
pub(crate) fn mount_cgroup(root: BorrowedFd, dest: &Path, o: &MountOptions) -> io::Result<()> {
    let first = open_in_root(root, dest, Create::Dir)?;
    let target = &fd_path(&first);
    let flags = o.flags - (MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    let v2 = statfs("/sys/fs/cgroup")?.filesystem_type() == CGROUP2_SUPER_MAGIC;
    let own = fs::read_to_string("/proc/self/cgroup")?;
    let read_info = || fs::read_to_string("/proc/self/mountinfo").map(|t| mountinfo::parse(&t));
    if v2 {
        let path = own_path(&own, "cgroup2", "").unwrap_or("/");
        // In a cgroup namespace (`path` is `/`) the fresh mount below is
        // all there is to do: the host's mounts are only read for a bind.
        if path != "/" {
            let info = read_info()?;
            let host = info
                .iter()
                .rev() // the topmost mount on /sys/fs/cgroup
                .find(|m| m.mount_point == "/sys/fs/cgroup")
                .filter(|m| m.fs_type == "cgroup2");
            if let Some(src) = host.and_then(|m| host_dir(m, path)) {
                return bind_from_host(&src, first.as_fd(), flags);
            }
        }
        mount(
            Some("cgroup2"),
            target,
            Some("cgroup2"),
            flags,
            None::<&str>,
        )?;
        if path == "/" {
            return Ok(()); // the namespace's root is our own cgroup
        }
        // Reopen: the first fd names the directory under the new mount.
        let top = open_in_root(root, dest, Create::Nothing)?;
        return show_only_own(&fd_path(&top), path);
    }
    let info = read_info()?;
    let base = flags - MsFlags::MS_RDONLY;
    mount(Some("tmpfs"), target, Some("tmpfs"), base, Some("mode=755"))?;
    // Reopen: the first fd names the directory *under* the new tmpfs.
    let top = open_in_root(root, dest, Create::Nothing)?;
    let target = &fd_path(&top);
    for m in &info {
        let Some(name) = m.mount_point.strip_prefix("/sys/fs/cgroup/") else {
            continue;
        };
        if name.contains('/') {
            continue;
        }
        let dir = target.join(name);
        fs::create_dir_all(&dir)?;
        match m.fs_type.as_str() {
            "cgroup" => {
                let path = own_path(&own, "cgroup", &m.super_options).unwrap_or("/");
                if let Some(src) = host_dir(m, path) {
                    bind_from_host(&src, open_dir(&dir)?.as_fd(), flags)?;
                } else {
                    let opts: Vec<&str> = m
                        .super_options
                        .split(',')
                        .filter(|o| *o != "rw" && *o != "ro")
                        .collect();
                    mount(
                        Some("cgroup"),
                        &dir,
                        Some("cgroup"),
                        flags,
                        Some(opts.join(",").as_str()),
                    )?;
                    show_only_own(&dir, path)?;
                }
                // cpu,cpuacct is also reachable as cpu and cpuacct.
                if name.contains(',') {
                    for part in name.split(',') {
                        let _ = std::os::unix::fs::symlink(name, target.join(part));
                    }
                }
            }
            "cgroup2" => {
                let path = own_path(&own, "cgroup2", "").unwrap_or("/");
                if let Some(src) = host_dir(m, path) {
                    bind_from_host(&src, open_dir(&dir)?.as_fd(), flags)?;
                } else {
                    mount(Some("cgroup2"), &dir, Some("cgroup2"), flags, None::<&str>)?;
                    show_only_own(&dir, path)?;
                }
            }
            _ => {}
        }
    }
    if flags.contains(MsFlags::MS_RDONLY) {
        mount(
            None::<&str>,
            target,
            None::<&str>,
            base | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
            None::<&str>,
        )?;
    }
    Ok(())
}

/// The directory of cgroup `own` (a `/proc/self/cgroup` path) under the
/// host's mount `m` of its hierarchy; `None` in a cgroup namespace (`own`
/// is `/`: a fresh mount is rooted right there) or when the mount does
/// not show that cgroup (its root, as mountinfo gives it relative to the
/// same namespace root, is elsewhere).
fn host_dir(m: &MountInfo, own: &str) -> Option<PathBuf> {
    if own == "/" {
        return None;
    }
    let rel = Path::new(own).strip_prefix(&m.root).ok()?;
    Some(Path::new(&m.mount_point).join(rel)).filter(|d| d.is_dir())
}

/// An `O_PATH` fd of a directory this module just made on its own tmpfs.
fn open_dir(dir: &Path) -> io::Result<OwnedFd> {
    Ok(open(
        dir,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
        Mode::empty(),
    )?)
}

/// Binds the host's cgroup directory `src` onto `target` with the spec
/// mount's `flags` (ro, nosuid, ...) set on the bind before it is attached:
/// `open_tree` clone (not recursive), `mount_setattr`, `move_mount`.
fn bind_from_host(src: &Path, target: BorrowedFd, flags: MsFlags) -> io::Result<()> {
    let tree = open_tree_clone(src, false)?;
    let (set, clr) = mount_attrs(flags);
    if set != 0 || clr != 0 {
        mount_setattr_recursive(tree.as_fd(), set, clr)?;
    }
    move_mount_to_fd(tree.as_fd(), target)
}

/// `MOUNT_ATTR_*` (set, clear) for the per-mount `MS_*` flags of a spec
/// mount; an atime mode replaces the source's.
fn mount_attrs(flags: MsFlags) -> (u64, u64) {
    let mut set = 0;
    let mut clr = 0;
    for (ms, attr) in [
        (MsFlags::MS_RDONLY, libc::MOUNT_ATTR_RDONLY),
        (MsFlags::MS_NOSUID, libc::MOUNT_ATTR_NOSUID),
        (MsFlags::MS_NODEV, libc::MOUNT_ATTR_NODEV),
        (MsFlags::MS_NOEXEC, libc::MOUNT_ATTR_NOEXEC),
        (MsFlags::MS_NODIRATIME, libc::MOUNT_ATTR_NODIRATIME),
    ] {
        if flags.contains(ms) {
            set |= attr;
        }
    }
    let atime = [
        (MsFlags::MS_NOATIME, libc::MOUNT_ATTR_NOATIME),
        (MsFlags::MS_STRICTATIME, libc::MOUNT_ATTR_STRICTATIME),
        (MsFlags::MS_RELATIME, libc::MOUNT_ATTR_RELATIME),
    ];
    if let Some((_, attr)) = atime.iter().find(|(ms, _)| flags.contains(*ms)) {
        set |= attr;
        clr |= libc::MOUNT_ATTR__ATIME;
    }
    (set, clr)
}

/// Binds the cgroup at `own` (relative to the root of the fresh cgroup
/// mount `top` resolves to) over that mount, so only the container's own
/// subtree is visible. The bind inherits the mount's flags (ro, nosuid,
/// ...); the whole tree stays only underneath, where unmounting the bind
/// would take CAP_SYS_ADMIN, with which a mount of it could be made anyway.
fn show_only_own(top: &Path, own: &str) -> io::Result<()> {
    let rel = own.trim_start_matches('/');
    if rel.is_empty() {
        return Ok(()); // in a cgroup namespace: its root is ours
    }
    let sub = top.join(rel);
    if !sub.is_dir() {
        return Err(io::Error::other(format!(
            "own cgroup {own} not found in the new cgroup mount"
        )));
    }
    mount(
        Some(&sub),
        top,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )?;
    Ok(())
}

/// The caller's cgroup path in the hierarchy `fstype` with mount options
/// `super_options` (v1: the line naming all its controllers; cgroup2: the
/// `0::` line), from `/proc/self/cgroup` text `own`.
fn own_path<'a>(own: &'a str, fstype: &str, super_options: &str) -> Option<&'a str> {
    let opts: Vec<&str> = super_options.split(',').collect();
    own.lines().find_map(|line| {
        let mut f = line.splitn(3, ':');
        let (id, ctrls, path) = (f.next()?, f.next()?, f.next()?);
        let hit = if fstype == "cgroup2" {
            id == "0" && ctrls.is_empty()
        } else {
            !ctrls.is_empty() && ctrls.split(',').all(|c| opts.contains(&c))
        };
        hit.then_some(path)
    })
}

#[cfg(test)]
mod tests {
    use super::own_path;

    #[test]
    fn own_paths_per_hierarchy() {
        let own = "9:name=systemd:/s\n4:memory:/m/c\n1:cpu,cpuacct:/c\n0::/u\n";
        assert_eq!(own_path(own, "cgroup", "rw,memory"), Some("/m/c"));
        assert_eq!(own_path(own, "cgroup", "rw,cpu,cpuacct"), Some("/c"));
        assert_eq!(own_path(own, "cgroup", "rw,xattr,name=systemd"), Some("/s"));
        assert_eq!(own_path(own, "cgroup2", ""), Some("/u"));
        assert_eq!(own_path(own, "cgroup", "rw,pids"), None);
    }
}
