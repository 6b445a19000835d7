//! A network namespace made ahead, on a helper thread, while the caller
//! does other work (opening its store, writing records): the init then
//! joins it instead of creating one in its clone. A new network namespace
//! is the costliest part of that clone (every protocol's per-namespace
//! set-up, ~0.4–0.6 ms on a 2-core VM), and nothing in it depends on the
//! container.

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::thread::JoinHandle;

use nix::sched::{unshare, CloneFlags};

/// A fresh network namespace being made on a thread of its own.
#[derive(Debug)]
pub struct NetnsAhead(JoinHandle<io::Result<OwnedFd>>);

impl NetnsAhead {
    /// Starts making the namespace. It is owned by the caller's user
    /// namespace, so [`crate::spawn_init`] uses it only for a spec that
    /// asks for a new network namespace and no new user namespace.
    pub fn start() -> io::Result<Self> {
        let handle = std::thread::Builder::new()
            .name("berth-netns".into())
            .spawn(make)?;
        Ok(NetnsAhead(handle))
    }

    /// Waits for the thread: the namespace (an fd of it), or `None` when
    /// it could not be made, and the init creates its own as usual. The
    /// thread has ended when this returns, so the process is
    /// single-threaded again as `spawn_init` needs.
    pub fn finish(self) -> Option<OwnedFd> {
        self.0.join().ok()?.ok()
    }
}

/// Thread body: only this thread moves to the new namespace (`unshare`
/// acts on the calling thread), and the fd keeps it alive once the
/// thread has exited.
fn make() -> io::Result<OwnedFd> {
    unshare(CloneFlags::CLONE_NEWNET)?;
    Ok(File::open("/proc/thread-self/ns/net")?.into())
}
