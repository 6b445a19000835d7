//! The `cgroup` spec mount: cgroup2 on a v2 host; on v1/hybrid hosts a
//! tmpfs holding one mount per host hierarchy (as runc's mountCgroupV1),
//! so tools in the container see the layout they expect.

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
    if v2 {
        mount(
            Some("cgroup2"),
            target,
            Some("cgroup2"),
            flags,
            None::<&str>,
        )?;
        return Ok(());
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
                // cpu,cpuacct is also reachable as cpu and cpuacct.
                if name.contains(',') {
                    for part in name.split(',') {
                        let _ = std::os::unix::fs::symlink(name, target.join(part));
                    }
                }
            }
            "cgroup2" => mount(Some("cgroup2"), &dir, Some("cgroup2"), flags, None::<&str>)?,
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
