//! Thin wrappers for the syscalls nix lacks (fork-style clone/clone3 with
//! namespace flags, the new mount API, close_range), each wrapped once.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::unistd::Pid;

/// `clone(2)` with fork semantics (no new stack, no `CLONE_VM`): returns
/// `Some(child)` in the parent and `None` in the child. `flags` are
/// namespace flags plus at most `CLONE_PARENT`; `SIGCHLD` is added.
///
/// Unlike `fork(3)` this runs no `pthread_atfork` handlers, so the caller
/// must be single-threaded (or the child must not rely on locks another
/// thread may hold, e.g. malloc's): the runtime and the engine call this
/// from a single-threaded process; tests fork first.
pub(crate) fn clone_fork(flags: libc::c_int) -> io::Result<Option<Pid>> {
    // SAFETY: null stack, no CLONE_VM/CLONE_SETTLS: the kernel copies the
    // address space as fork(2); each side returns on its own stack copy.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD) as libc::c_ulong,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_int>(),
            std::ptr::null_mut::<libc::c_int>(),
            0 as libc::c_ulong,
        )
    };
    match ret {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(None),
        pid => Ok(Some(Pid::from_raw(pid as i32))),
    }
}

/// `CLONE_INTO_CGROUP` (Linux 5.7): libc's constant overflows its type.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// `clone3(2)` with fork semantics and `CLONE_INTO_CGROUP`: the child
/// starts life in the cgroup2 directory `cgroup` refers to, so nobody has
/// to migrate it by writing `cgroup.procs` (a migration takes
/// `cgroup_threadgroup_rwsem` for write, which waits for an RCU grace
/// period: up to ~20 ms on an idle CPU). Same contract as [`clone_fork`];
/// errors (e.g. `ENOSYS` before 5.3, `E2BIG`/`EINVAL` before 5.7, `EBUSY`
/// for a cgroup with controllers in its `subtree_control`) are returned
/// for the caller to fall back.
pub(crate) fn clone_into_cgroup(flags: libc::c_int, cgroup: BorrowedFd) -> io::Result<Option<Pid>> {
    let mut args = libc::clone_args {
        // Namespace flags are positive c_int bits: no sign extension.
        flags: flags as u32 as u64 | CLONE_INTO_CGROUP,
        pidfd: 0,
        child_tid: 0,
        parent_tid: 0,
        // clone3 refuses an exit signal with CLONE_PARENT; the child then
        // gets ours (SIGCHLD: we were cloned with it), as clone(2) does.
        exit_signal: if flags & libc::CLONE_PARENT != 0 {
            0
        } else {
            libc::SIGCHLD as u64
        },
        stack: 0,
        stack_size: 0,
        tls: 0,
        set_tid: 0,
        set_tid_size: 0,
        cgroup: cgroup.as_raw_fd() as u64,
    };
    // SAFETY: `args` is a live clone_args of the size passed; stack 0 and
    // no CLONE_VM/CLONE_SETTLS make this a fork: the kernel copies the
    // address space and each side returns on its own copy of this stack.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut libc::clone_args,
            std::mem::size_of::<libc::clone_args>(),
        )
    };
    match ret {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(None),
        pid => Ok(Some(Pid::from_raw(pid as i32))),
    }
}

/// Marks every fd from `first` up as close-on-exec (`close_range(2)` with
/// `CLOSE_RANGE_CLOEXEC`), so no runtime fd leaks into the container.
pub(crate) fn cloexec_from(first: RawFd) -> io::Result<()> {
    // SAFETY: close_range only changes fd flags; no memory is passed.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC as libc::c_uint,
        )
    };
    if ret == -1 {
        let err = io::Error::last_os_error();
        return match err.raw_os_error() {
            // Kernels before 5.11 (no CLOSE_RANGE_CLOEXEC) or 5.9: walk
            // the fd table instead.
            Some(libc::EINVAL) | Some(libc::ENOSYS) => cloexec_by_listing(first),
            _ => Err(err),
        };
    }
    Ok(())
}

fn cloexec_by_listing(first: RawFd) -> io::Result<()> {
    let fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd >= first)
        .collect();
    for fd in fds {
        // SAFETY: F_SETFD only changes the flag of a (possibly already
        // closed, then EBADF) fd number; no memory is involved.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok(())
}

fn cstr(s: &str) -> CString {
    CString::new(s).expect("static string without NUL")
}

fn path_cstr(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// A filesystem context from `fsopen(2)` (new mount API, Linux 5.2+).
pub(crate) struct FsContext(OwnedFd);

impl FsContext {
    /// `fsopen(fstype, FSOPEN_CLOEXEC)`.
    pub(crate) fn open(fstype: &str) -> io::Result<Self> {
        let name = cstr(fstype);
        // SAFETY: `name` is a valid NUL-terminated string for the call.
        let fd = unsafe { libc::syscall(libc::SYS_fsopen, name.as_ptr(), libc::FSOPEN_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fsopen returned a fresh fd that nothing else owns.
        Ok(FsContext(unsafe { OwnedFd::from_raw_fd(fd as RawFd) }))
    }

    /// `fsconfig(FSCONFIG_SET_STRING, key, value)`.
    pub(crate) fn set_string(&self, key: &str, value: &Path) -> io::Result<()> {
        let k = cstr(key);
        let v = path_cstr(value)?;
        // SAFETY: key and value are valid NUL-terminated strings; aux is 0.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                self.0.as_raw_fd(),
                libc::FSCONFIG_SET_STRING,
                k.as_ptr(),
                v.as_ptr(),
                0,
            )
        };
        if ret < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// `fsconfig(FSCONFIG_SET_FLAG, key)`.
    pub(crate) fn set_flag(&self, key: &str) -> io::Result<()> {
        let k = cstr(key);
        // SAFETY: key is a valid NUL-terminated string; value null, aux 0.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                self.0.as_raw_fd(),
                libc::FSCONFIG_SET_FLAG,
                k.as_ptr(),
                std::ptr::null::<libc::c_char>(),
                0,
            )
        };
        if ret < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// `fsconfig(FSCONFIG_CMD_CREATE)` then `fsmount`: a detached mount.
    pub(crate) fn create_and_mount(&self) -> io::Result<OwnedFd> {
        // SAFETY: CMD_CREATE takes no pointers.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                self.0.as_raw_fd(),
                libc::FSCONFIG_CMD_CREATE,
                std::ptr::null::<libc::c_char>(),
                std::ptr::null::<libc::c_void>(),
                0,
            )
        };
        if ret < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fsmount takes the context fd and flag words only.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_fsmount,
                self.0.as_raw_fd(),
                libc::FSMOUNT_CLOEXEC,
                0,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fsmount returned a fresh fd that nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
    }
}

/// `move_mount(2)` of a detached mount onto the object `target` refers to.
pub(crate) fn move_mount_to_fd(mnt: BorrowedFd, target: BorrowedFd) -> io::Result<()> {
    let empty = cstr("");
    // SAFETY: both paths are the empty NUL-terminated string, used with the
    // *_EMPTY_PATH flags so the kernel acts on the fds themselves.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            mnt.as_raw_fd(),
            empty.as_ptr(),
            target.as_raw_fd(),
            empty.as_ptr(),
            libc::MOVE_MOUNT_F_EMPTY_PATH | libc::MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// mount_setattr(2) with `AT_RECURSIVE` on the mount `fd` refers to.
pub(crate) fn mount_setattr_recursive(fd: BorrowedFd, set: u64, clr: u64) -> io::Result<()> {
    let empty = cstr("");
    let attr = libc::mount_attr {
        attr_set: set,
        attr_clr: clr,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: `attr` is a live mount_attr of the size passed; the path is
    // the empty string, used with AT_EMPTY_PATH to act on `fd` itself.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            empty.as_ptr(),
            (libc::AT_EMPTY_PATH | libc::AT_RECURSIVE) as libc::c_uint,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Drops capability `cap` from the calling thread's bounding set
/// (`PR_CAPBSET_DROP`; nix has no wrapper).
pub(crate) fn capbset_drop(cap: u8) -> nix::Result<()> {
    // SAFETY: PR_CAPBSET_DROP takes the capability number by value and
    // touches no memory of ours.
    let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap), 0, 0, 0) };
    nix::errno::Errno::result(r).map(drop)
}

/// `dup2(2)` onto a fixed fd number (0–2), which nix's owned-fd `dup2`
/// cannot express.
pub(crate) fn dup2_raw(old: RawFd, new: RawFd) -> io::Result<()> {
    // SAFETY: dup2 only manipulates the fd table; `new` is one of the
    // standard fds, which we intend to replace.
    if unsafe { libc::dup2(old, new) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `open_tree(2)` with `OPEN_TREE_CLONE`: a detached copy of the mount
/// (tree, with `recursive`) at `path`.
pub(crate) fn open_tree_clone(path: &Path, recursive: bool) -> io::Result<OwnedFd> {
    let p = path_cstr(path)?;
    let mut flags = libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC as libc::c_uint;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    // SAFETY: `p` is a valid NUL-terminated path for the call.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, p.as_ptr(), flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: open_tree returned a fresh fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// mount_setattr(2) `MOUNT_ATTR_IDMAP` with the user namespace `userns`
/// on the detached mount `fd`.
pub(crate) fn mount_setattr_idmap(
    fd: BorrowedFd,
    userns: BorrowedFd,
    recursive: bool,
) -> io::Result<()> {
    let empty = cstr("");
    let attr = libc::mount_attr {
        attr_set: libc::MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.as_raw_fd() as u64,
    };
    let mut flags = libc::AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    // SAFETY: `attr` is a live mount_attr of the size passed; the empty
    // path with AT_EMPTY_PATH makes the call act on `fd` itself.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            empty.as_ptr(),
            flags,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    use super::*;

    #[test]
    fn listing_fallback_marks_fds_cloexec() {
        // SAFETY: dup of stdin's number gives a new fd we own (or -1).
        let fd = unsafe { libc::dup(0) };
        assert!(fd >= 0);
        // SAFETY: the fd was just created and is owned here.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        cloexec_by_listing(owned.as_raw_fd()).unwrap();
        // SAFETY: F_GETFD reads the flags of our own fd.
        let flags = unsafe { libc::fcntl(owned.as_raw_fd(), libc::F_GETFD) };
        assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
    }
}
