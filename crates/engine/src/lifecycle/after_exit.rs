//! Work that may outlive the `berth` process: deleting a removed
//! container's tree, moved aside into `tmp/`, in a detached child so the
//! exit code is reported without waiting for the file system (or for the
//! teardown of this process's memory).

use std::fs::File;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::AtomicI32;

use nix::fcntl::{Flock, FlockArg};
use nix::unistd::{dup2_stderr, dup2_stdin, dup2_stdout, setsid};
use storage::Store;

use super::foreground::Leftovers;

/// Exits with `code`, leaving `left` (a removed container's tree and
/// mount namespace) to a child that outlives this process: it closes the
/// namespace (the unmounts), then deletes the tree. The child shares this
/// process's memory and descriptor table (`CLONE_VM | CLONE_FILES`), so
/// the exit neither tears down the address space nor closes a file: the
/// child does, when it is done (on a 2-core VM that teardown and a fork's
/// page-table copy cost about a millisecond of `run --rm`, more than the
/// rest of the removal). With other threads (which would share that
/// memory too), or when the clone fails, removes here and exits.
pub(super) fn exit_removing(store: &Store, id: &str, left: Leftovers, code: i32) -> ! {
    if !single_threaded() {
        left.remove_now(store, id);
        std::process::exit(code);
    }
    // The tree is a staging leftover in tmp/: without a lock, the next
    // berth's Store::open would take it for a dead process's and delete it
    // on its own critical path, racing the child. The flock is taken
    // before the clone and kept by the child (the descriptor table is
    // shared); never unlocked here (no destructor runs past the clone).
    let lock = File::open(&left.dir)
        .ok()
        .and_then(|f| Flock::lock(f, FlockArg::LockExclusiveNonblock).ok());
    // On the heap, not in this frame: nothing may reuse it once the
    // child runs. (`store` and `id` belong to frames below this one, which
    // never return either.)
    let job = Box::new(Deleter {
        store,
        id,
        left,
        keep: lock.as_ref().map(|l| l.as_raw_fd()),
    });
    // Off our stdio first (the caller flushed it): whoever reads berth's
    // output sees EOF when this process exits, not once the child runs.
    // The table is shared, so the child is off it too.
    match File::options().read(true).write(true).open("/dev/null") {
        Ok(null) => {
            let _ = dup2_stdin(&null);
            let _ = dup2_stdout(&null);
            let _ = dup2_stderr(&null);
        }
        Err(_) => close_range(0, 2),
    }
    if spawn_sharing_memory(&job).is_err() {
        drop(lock);
        job.left.remove_now(store, id);
        std::process::exit(code);
    }
    // The child's from now on: never dropped here (the held namespace's
    // descriptor, in the shared table, is closed by the child).
    Box::leak(job);
    // SAFETY: the raw exit touches no memory: the child uses this
    // process's heap, stack and `job` from now on, so no destructor,
    // atexit handler or stdio flush (the caller flushed) may run here.
    // (The kernel's own write at exit, to the thread-id word glibc
    // registered, was pointed away from the shared TLS before the clone.)
    unsafe { libc::_exit(code) }
}

/// What the deleting child needs (leaked on the heap by
/// [`exit_removing`]).
struct Deleter<'a> {
    store: &'a Store,
    id: &'a str,
    left: Leftovers,
    /// The locked descriptor of `dir`, kept open in the child.
    keep: Option<RawFd>,
}

/// The deleting child's stack (mapped lazily), below it one guard page:
/// an overflow (a tree thousands of levels deep) kills the child, and the
/// next store open deletes what it left.
const STACK_SIZE: usize = 8 << 20;

/// Clones a child that shares this process's memory and descriptor table
/// but nothing else (its own signal handlers, session, parent link) and
/// runs [`deleter_main`] on a stack of its own. The caller must exit right
/// after, touching no memory and no descriptor.
fn spawn_sharing_memory(job: &Deleter) -> std::io::Result<()> {
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .map_or(4096, |p| p as usize);
    // SAFETY: a fresh anonymous private mapping; nothing else refers to it.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            STACK_SIZE + page,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if base == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the lowest page of the mapping made above.
    if unsafe { libc::mprotect(base, page, libc::PROT_NONE) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // The kernel clears the word registered with set_tid_address when
    // this process exits, and with the memory shared that would be the
    // child's copy of glibc's thread id (read by its recursive locks):
    // register a word of our own instead. `'static`, never read.
    static EXIT_TID: AtomicI32 = AtomicI32::new(0);
    // SAFETY: set_tid_address(2) only records the address (valid for the
    // whole process life) for the kernel to write at this task's exit.
    unsafe { libc::syscall(libc::SYS_set_tid_address, EXIT_TID.as_ptr()) };
    // SAFETY: the stack grows down from the end of the mapping (page
    // aligned, so 16-byte aligned as the ABI wants); `job` outlives the
    // child's use of it since the caller never returns; without
    // CLONE_THREAD/CLONE_SETTLS the child is a process of its own that
    // runs on the caller's TLS, which the exiting caller no longer uses;
    // the kernel gives it no rseq area and no alternate signal stack.
    let pid = unsafe {
        let top = base.cast::<u8>().add(STACK_SIZE + page).cast();
        libc::clone(
            deleter_main,
            top,
            libc::CLONE_VM | libc::CLONE_FILES | libc::SIGCHLD,
            (job as *const Deleter).cast_mut().cast(),
        )
    };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

extern "C" fn deleter_main(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the `&Deleter` spawn_sharing_memory passed, still
    // in place: its owner only exits, without unwinding.
    let job = unsafe { &*arg.cast::<Deleter>() };
    // Out of the caller's session: a Ctrl-C for the foreground job does
    // not reach us (if it did, the next store open would finish the job).
    // Closing the descriptors closes the mount namespace (the unmounts
    // happen here) before the tree is deleted.
    let _ = setsid();
    close_from(3, job.keep);
    let _ = job.store.remove_detached(job.id, &job.left.dir);
    // SAFETY: _exit ends the child without running destructors or atexit
    // handlers on the state it shares with its (exited) parent.
    unsafe { libc::_exit(0) }
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

/// Closes every descriptor from `low` up but `keep`: no pipe, socket,
/// database file or namespace of the caller stays open.
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
