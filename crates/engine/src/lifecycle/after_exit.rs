//! Work that may outlive the `berth` process: deleting a removed
//! container's tree, moved aside into `tmp/`, in a detached child so the
//! exit code is reported without waiting for the file system.

use std::fs::File;
use std::os::fd::{AsRawFd, RawFd};
use std::path::PathBuf;

use nix::fcntl::{Flock, FlockArg};
use nix::unistd::{dup2_stderr, dup2_stdin, dup2_stdout, fork, setsid, ForkResult};
use storage::Store;

/// Deletes `dir` (a tree `Store::detach_container_rootfs` moved aside) in
/// a forked child that this process does not wait for; deletes it here
/// instead when forking is not safe (other threads) or fails.
pub(super) fn remove_detached(store: &Store, id: &str, dir: PathBuf) {
    if !single_threaded() {
        let _ = store.remove_detached(id, &dir);
        return;
    }
    // The tree is a staging leftover in tmp/: without a lock, the next
    // berth's Store::open would take it for a dead process's and delete it
    // on its own critical path, racing the child. The flock is taken
    // before the fork and the child's copy of the descriptor keeps it
    // (flock locks belong to the open file, which both share).
    let lock = File::open(&dir)
        .ok()
        .and_then(|f| Flock::lock(f, FlockArg::LockExclusiveNonblock).ok());
    let keep = lock.as_ref().map(|l| l.as_raw_fd());
    // SAFETY: this process has a single thread (checked just above), so
    // the child starts with every lock free and may run any code.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            // Out of the caller's session and off its stdio: a shell or a
            // test reading our output sees EOF when the parent exits, and
            // a Ctrl-C for the foreground job does not reach us (if it
            // did, the next store open would finish the job).
            let _ = setsid();
            if let Ok(null) = File::options().read(true).write(true).open("/dev/null") {
                let _ = dup2_stdin(&null);
                let _ = dup2_stdout(&null);
                let _ = dup2_stderr(&null);
            }
            close_from(3, keep);
            let _ = store.remove_detached(id, &dir);
            // SAFETY: _exit ends the child without running the parent's
            // atexit handlers or flushing its copied stdio buffers.
            unsafe { libc::_exit(0) }
        }
        Ok(ForkResult::Parent { .. }) => {
            // Never unlock here (Flock's drop would, for the child too):
            // our descriptor closes at our imminent exit, and the child's
            // copy holds the lock until it is done.
            std::mem::forget(lock);
        }
        Err(_) => {
            drop(lock);
            let _ = store.remove_detached(id, &dir);
        }
    }
}

/// Whether this process runs one thread (`Threads:` of
/// `/proc/self/status`).
fn single_threaded() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .is_some_and(|n| n.trim() == "1")
    })
}

/// Closes every descriptor from `low` up but `keep`: the child keeps no
/// pipe, socket or database file of the caller open.
fn close_from(low: u32, keep: Option<RawFd>) {
    match keep
        .and_then(|k| u32::try_from(k).ok())
        .filter(|k| *k >= low)
    {
        Some(k) => {
            if k > low {
                close_range(low, k - 1);
            }
            close_range(k + 1, u32::MAX);
        }
        None => close_range(low, u32::MAX),
    }
}

fn close_range(first: u32, last: u32) {
    // SAFETY: close_range(2) takes plain integers and only closes this
    // process's descriptors; nix has no wrapper for it.
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) };
    if r != 0 {
        // Kernels before 5.9: the store only needs what it opens anew.
        for fd in first..last.min(1023).saturating_add(1) {
            // SAFETY: as above, plain descriptors of this process, none of
            // which the child uses afterwards.
            unsafe { libc::close(fd as i32) };
        }
    }
}
