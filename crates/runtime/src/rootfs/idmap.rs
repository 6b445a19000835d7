//! ID-mapped bind mounts (a spec mount with `uidMappings`/`gidMappings`,
//! Linux 5.12+): the source tree is cloned detached, marked with a user
//! namespace holding the mappings, and moved onto the target — as runc
//! and crun do. The namespace comes from a short-lived child.

use std::fs::{self, File};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use oci_spec::runtime::LinuxIdMapping;

use crate::error::{ChildError, Context};
use crate::sys::{clone_fork, mount_setattr_idmap, move_mount_to_fd, open_tree_clone};

/// A user namespace fd with the given mappings.
fn userns_with(uids: &[LinuxIdMapping], gids: &[LinuxIdMapping]) -> Result<OwnedFd, ChildError> {
    let what = || "create user namespace for an idmapped mount".to_string();
    let (rx, tx) = nix::unistd::pipe().ctx(what)?;
    let Some(child) = clone_fork(libc::CLONE_NEWUSER).ctx(what)? else {
        // We may be PID 1 of a new pid namespace while /proc is still the
        // host's: the helper tells its pid as that /proc numbers it.
        let me = fs::read_link("/proc/self").unwrap_or_default();
        let _ = nix::unistd::write(&tx, me.as_os_str().as_encoded_bytes());
        drop(tx);
        // It only has to exist while the parent writes its maps and opens
        // its namespace; it waits to be killed.
        loop {
            nix::unistd::pause();
        }
    };
    drop(tx);
    let mut buf = [0u8; 32];
    let n = nix::unistd::read(&rx, &mut buf).unwrap_or(0);
    let pid = String::from_utf8_lossy(&buf[..n]).to_string();
    let res = (|| {
        fs::write(format!("/proc/{pid}/uid_map"), crate::init::map_text(uids))?;
        fs::write(format!("/proc/{pid}/setgroups"), "deny")?;
        fs::write(format!("/proc/{pid}/gid_map"), crate::init::map_text(gids))?;
        File::open(format!("/proc/{pid}/ns/user")).map(OwnedFd::from)
    })();
    let _ = kill(child, Signal::SIGKILL);
    let _ = waitpid(child, None);
    res.ctx(what)
}

/// Binds `src` onto the target fd as an ID-mapped mount.
pub(crate) fn bind_idmapped(
    src: &Path,
    target: BorrowedFd,
    uids: &[LinuxIdMapping],
    gids: &[LinuxIdMapping],
    recursive: bool,
) -> Result<(), ChildError> {
    let what = |step: &str| format!("idmapped bind {} ({step})", src.display());
    let userns = userns_with(uids, gids)?;
    let tree = open_tree_clone(src, recursive).ctx(|| what("open_tree"))?;
    mount_setattr_idmap(tree.as_fd(), userns.as_fd(), recursive).ctx(|| what("set idmap"))?;
    move_mount_to_fd(tree.as_fd(), target).ctx(|| what("move_mount"))
}
