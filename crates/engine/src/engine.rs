//! The engine handle: the store (`--root`) and the runtime dir
//! (`--runroot`), and the container lookups every verb starts from.
//! Reads reconcile: a record that claims a live process is checked
//! against `/proc` before it is shown.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use cgroups::{Layout, OwnCgroup};
use storage::Store;

use crate::container::{Container, Containers};
use crate::error::EngineError;

/// WAL pages after which a commit checkpoints (see [`Engine::open`]).
const WAL_AUTOCHECKPOINT_PAGES: i64 = 64;

/// One open engine: the image store plus the container table.
pub struct Engine {
    store: Store,
    runroot: PathBuf,
    /// Resolved on first use: only `run -d` and `start` need it.
    monitor_exe: OnceLock<PathBuf>,
    /// The host's cgroup layout and this process's cgroups, read on first
    /// use (see `Engine::cgroup`).
    pub(crate) cgroup_layout: OnceLock<(Layout, Vec<OwnCgroup>)>,
}

impl Engine {
    /// Opens the store at `root` (creating it) and the engine's tables.
    /// `runroot` holds what must not survive a reboot (sockets).
    pub fn open(root: &Path, runroot: &Path) -> Result<Engine, EngineError> {
        crate::timing::mark("open");
        let store = Store::open(root)?;
        Containers::open(store.db())?;
        // `run` exits with the container's code without closing the
        // database, so its WAL is never checkpointed on close and the next
        // process must re-read (and checksum) every frame since the last
        // checkpoint before its first query: with SQLite's default of 1000
        // pages that is up to 4 MB per `berth` invocation. A small
        // threshold bounds that work; a checkpoint costs two fsyncs every
        // few dozen writes (WAL mode with synchronous=NORMAL otherwise
        // never syncs).
        store
            .db()
            .conn()
            .pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)
            .map_err(storage::DbError::from)?;
        crate::timing::mark("opened");
        Ok(Engine {
            store,
            runroot: runroot.to_path_buf(),
            monitor_exe: OnceLock::new(),
            cgroup_layout: OnceLock::new(),
        })
    }

    /// The executable started as the detached monitor (default: the
    /// running one). It must dispatch `--root R --runroot RR __monitor ID`
    /// to [`crate::monitor_main`].
    pub fn set_monitor_exe(&mut self, exe: PathBuf) {
        self.monitor_exe = OnceLock::from(exe);
    }

    /// See [`Engine::set_monitor_exe`].
    pub fn monitor_exe(&self) -> &Path {
        self.monitor_exe.get_or_init(|| {
            std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe"))
        })
    }

    /// The image store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// `--runroot`.
    pub fn runroot(&self) -> &Path {
        &self.runroot
    }

    /// The container table.
    pub fn containers(&self) -> Containers<'_> {
        Containers::from_db(self.store.db())
    }

    /// `containers/<id>` in the store.
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.store.container_dir(id)
    }

    /// The json-lines log of a container.
    pub fn log_path(&self, id: &str) -> PathBuf {
        self.container_dir(id).join("ctr.log")
    }

    /// Finds a container by name, id or unique id prefix, with its state
    /// reconciled against the live system.
    pub fn find(&self, reference: &str) -> Result<Container, EngineError> {
        let c = self.containers().find(reference)?;
        self.reconcile(c)
    }

    /// Every container, newest first, reconciled.
    pub fn list(&self) -> Result<Vec<Container>, EngineError> {
        self.containers()
            .list()?
            .into_iter()
            .map(|c| self.reconcile(c))
            .collect()
    }

    /// A container using `image_id`, for `rmi`'s in-use check.
    pub fn image_user(&self, image_id: &str) -> Option<String> {
        self.containers().using_image(image_id).ok().flatten()
    }
}
