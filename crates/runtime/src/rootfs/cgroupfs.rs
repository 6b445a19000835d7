//! The `cgroup` spec mount: cgroup2 on a v2 host; on v1/hybrid hosts a
//! tmpfs holding one mount per host hierarchy (as runc's mountCgroupV1),
//! so tools in the container see the layout they expect.
//!
//! Each hierarchy shows the container's own cgroup, never the host's tree:
//! a fresh cgroup mount is rooted at the cgroup namespace's root (the
//! host's root without a cgroup namespace), so the container's path as
//! `/proc/self/cgroup` gives it (relative to that same root) is bound
//! over it, as runc binds `/sys/fs/cgroup/<ctrl>/<path>`.

use std::fs;
use std::io;
use std::os::fd::BorrowedFd;
use std::path::Path;

use nix::mount::{mount, MsFlags};
use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};

use super::mountinfo;
use super::options::MountOptions;
use super::safe::{fd_path, open_in_root, Create};

/// Mounts the cgroup filesystem(s) at `dest` inside `root`.
pub(crate) fn mount_cgroup(root: BorrowedFd, dest: &Path, o: &MountOptions) -> io::Result<()> {
    let first = open_in_root(root, dest, Create::Dir)?;
    let target = &fd_path(&first);
    let flags = o.flags - (MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    let v2 = statfs("/sys/fs/cgroup")?.filesystem_type() == CGROUP2_SUPER_MAGIC;
    let own = fs::read_to_string("/proc/self/cgroup")?;
    if v2 {
        mount(
            Some("cgroup2"),
            target,
            Some("cgroup2"),
            flags,
            None::<&str>,
        )?;
        // Reopen: the first fd names the directory under the new mount.
        let top = open_in_root(root, dest, Create::Nothing)?;
        let own = own_path(&own, "cgroup2", "").unwrap_or("/");
        return show_only_own(&fd_path(&top), own);
    }
    let base = flags - MsFlags::MS_RDONLY;
    mount(Some("tmpfs"), target, Some("tmpfs"), base, Some("mode=755"))?;
    // Reopen: the first fd names the directory *under* the new tmpfs.
    let top = open_in_root(root, dest, Create::Nothing)?;
    let target = &fd_path(&top);
    let info = mountinfo::parse(&fs::read_to_string("/proc/self/mountinfo")?);
    for m in info {
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
                let path = own_path(&own, "cgroup", &m.super_options).unwrap_or("/");
                show_only_own(&dir, path)?;
                // cpu,cpuacct is also reachable as cpu and cpuacct.
                if name.contains(',') {
                    for part in name.split(',') {
                        let _ = std::os::unix::fs::symlink(name, target.join(part));
                    }
                }
            }
            "cgroup2" => {
                mount(Some("cgroup2"), &dir, Some("cgroup2"), flags, None::<&str>)?;
                show_only_own(&dir, own_path(&own, "cgroup2", "").unwrap_or("/"))?;
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
