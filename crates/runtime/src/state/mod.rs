//! The on-disk state of the containers of one runtime root (`--root`,
//! default `/run/berth-runtime`): one directory per container holding
//! `state.json` (replaced by atomic rename), the `exec.fifo` of a created
//! container, and a lock file serialising the lifecycle verbs.
//!
//! Liveness of the init process is checked against the start time recorded
//! from `/proc/<pid>/stat`, so a recycled pid is never mistaken for it.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{fcntl, FcntlArg};
use oci_spec::runtime::{ContainerState, Spec, State as OciState};
use serde::{Deserialize, Serialize};

mod json;
mod procstat;

pub use json::StateJson;
pub use procstat::{proc_stat, ProcStat};

/// The default state root, as runc's `/run/runc`.
pub const DEFAULT_ROOT: &str = "/run/berth-runtime";
/// The runtime-spec version reported in the state JSON.
pub const OCI_VERSION: &str = "1.0.2";

const STATE_FILE: &str = "state.json";
const LOCK_FILE: &str = "lock";
const EXEC_FIFO: &str = "exec.fifo";

/// A failure reading or writing container state.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The id is not a valid container id (runc: `[\w+-\.]+`).
    #[error("invalid container ID format: {0:?}")]
    InvalidId(String),
    /// `create` of an id that is already in use.
    #[error("container with id exists: {0}")]
    Exists(String),
    /// The container has no state directory.
    #[error("container {0} does not exist")]
    NotFound(String),
    /// A filesystem operation on the state failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// `state.json` is not valid.
    #[error("read state of container {id}: {source}")]
    Corrupt {
        /// The container id.
        id: String,
        /// The parse error.
        source: serde_json::Error,
    },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StateError + 'a {
    move |source| StateError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// The derived status of a container (runtime spec "State", plus runc's
/// `paused`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Init is set up and waits on the exec fifo.
    Created,
    /// Init has exec'd the user process and is alive.
    Running,
    /// The cgroup is frozen.
    Paused,
    /// Init is gone (or a zombie).
    Stopped,
}

impl Status {
    /// The lower-case name used in the state JSON and `list`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is persisted about a container in `state.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// The container id.
    pub id: String,
    /// Absolute bundle directory.
    pub bundle: PathBuf,
    /// Absolute rootfs path.
    pub rootfs: PathBuf,
    /// The init pid in the runtime's pid namespace (0 until known).
    pub pid: i32,
    /// Field 22 of `/proc/<pid>/stat` when the init was created.
    pub pid_start_time: u64,
    /// Creation time, RFC 3339 with nanoseconds (as runc).
    pub created: String,
    /// The user that created the container.
    pub owner: String,
    /// `/proc/self/cgroup` of the creating process: a relative
    /// `cgroupsPath` is resolved against it by every later verb.
    #[serde(default)]
    pub own_cgroups: String,
    /// `--systemd-cgroup` was given at create.
    #[serde(default)]
    pub systemd_cgroup: bool,
    /// The spec the container was created from (hooks, process, seccomp
    /// for `exec` and `delete`).
    pub config: Spec,
}

impl Record {
    /// The spec's annotations (empty map if none).
    pub fn annotations(&self) -> HashMap<String, String> {
        self.config.annotations().clone().unwrap_or_default()
    }

    /// The runtime-spec state handed to hooks.
    pub fn oci_state(&self, status: ContainerState) -> OciState {
        let mut s = OciState::default();
        s.set_version(OCI_VERSION.to_string());
        s.set_id(self.id.clone());
        s.set_status(status);
        s.set_pid((self.pid > 0).then_some(self.pid));
        s.set_bundle(self.bundle.clone());
        let ann = self.annotations();
        s.set_annotations((!ann.is_empty()).then_some(ann));
        s
    }

    /// Whether the recorded init process still exists (and is not a
    /// zombie): same pid *and* same start time.
    pub fn init_alive(&self) -> bool {
        self.pid > 0
            && matches!(proc_stat(self.pid), Some(st) if st.start_time == self.pid_start_time && st.state != 'Z' && st.state != 'X')
    }
}

/// The state root: finds, creates, lists and locks container directories.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// A store at `root` (created on first `create`).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Store { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// The exec fifo path of `id` (for lock-free status reads).
    pub fn exec_fifo(&self, id: &str) -> PathBuf {
        self.dir(id).join(EXEC_FIFO)
    }

    /// Reserves `id`: creates its directory (failing if it exists) and
    /// returns it locked. The caller writes the record once known, or
    /// calls [`ContainerDir::remove`] on failure.
    pub fn create(&self, id: &str) -> Result<ContainerDir, StateError> {
        validate_id(id)?;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.root)
            .map_err(io_err("create state root", &self.root))?;
        let dir = self.dir(id);
        match fs::DirBuilder::new().mode(0o711).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(StateError::Exists(id.to_string()))
            }
            Err(e) => return Err(io_err("create state dir", &dir)(e)),
        }
        ContainerDir::lock(id, dir)
    }

    /// Opens and locks the existing container `id`.
    pub fn open(&self, id: &str) -> Result<ContainerDir, StateError> {
        validate_id(id)?;
        let dir = self.dir(id);
        let cd = ContainerDir::lock(id, dir)?;
        // It may have been deleted while we waited for the lock.
        if !cd.path.join(STATE_FILE).exists() {
            return Err(StateError::NotFound(id.to_string()));
        }
        Ok(cd)
    }

    /// Reads the record of `id` without taking the lock (for `list`/`state`
    /// style readers: the file is replaced atomically).
    pub fn peek(&self, id: &str) -> Result<Record, StateError> {
        validate_id(id)?;
        read_record(id, &self.dir(id))
    }

    /// Removes the directory of `id` when a `create` killed before it
    /// saved the record left one behind (no `state.json`), which would
    /// otherwise block the id for good; runc's `delete` does the same.
    /// Returns whether there was such a directory.
    pub fn remove_aborted(&self, id: &str) -> Result<bool, StateError> {
        validate_id(id)?;
        // A create still running holds the lock until the record is saved.
        let cd = match ContainerDir::lock(id, self.dir(id)) {
            Err(StateError::NotFound(_)) => return Ok(false),
            r => r?,
        };
        if cd.path.join(STATE_FILE).exists() {
            return Ok(false);
        }
        cd.remove()?;
        Ok(true)
    }

    /// The ids of all containers with a state file, sorted.
    pub fn ids(&self) -> Result<Vec<String>, StateError> {
        let rd = match fs::read_dir(&self.root) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err("read state root", &self.root)(e)),
        };
        let mut ids: Vec<String> = rd
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join(STATE_FILE).exists())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        ids.sort();
        Ok(ids)
    }
}

/// Checks an id the way runc does: non-empty, only `[A-Za-z0-9_+.-]`, and
/// not `.` or `..` (it names a directory under the root).
pub fn validate_id(id: &str) -> Result<(), StateError> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(StateError::InvalidId(id.to_string()))
    }
}

fn read_record(id: &str, dir: &Path) -> Result<Record, StateError> {
    let path = dir.join(STATE_FILE);
    let data = match fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(StateError::NotFound(id.to_string()))
        }
        Err(e) => return Err(io_err("read", &path)(e)),
    };
    serde_json::from_slice(&data).map_err(|source| StateError::Corrupt {
        id: id.to_string(),
        source,
    })
}

/// A container's state directory, held under an exclusive lock for the
/// lifetime of this value.
///
/// The lock is a POSIX record lock (`F_SETLKW`), not `flock`: it belongs
/// to this process and is not inherited by the cloned init, which lives on
/// (waiting on the exec fifo) after `create` exits — an inherited `flock`
/// would stay held by it and deadlock `start`.
#[derive(Debug)]
pub struct ContainerDir {
    id: String,
    path: PathBuf,
    _lock: File,
}

impl ContainerDir {
    fn lock(id: &str, path: PathBuf) -> Result<Self, StateError> {
        let lock_path = path.join(LOCK_FILE);
        let file = match OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(&lock_path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StateError::NotFound(id.to_string()))
            }
            Err(e) => return Err(io_err("open lock", &lock_path)(e)),
        };
        let fl = libc::flock {
            l_type: libc::F_WRLCK as libc::c_short,
            l_whence: libc::SEEK_SET as libc::c_short,
            l_start: 0,
            l_len: 0,
            l_pid: 0,
        };
        loop {
            match fcntl(file.as_fd(), FcntlArg::F_SETLKW(&fl)) {
                Ok(_) => break,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(io_err("lock", &lock_path)(e.into())),
            }
        }
        Ok(ContainerDir {
            id: id.to_string(),
            path,
            _lock: file,
        })
    }

    /// The container id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where `create` puts the exec fifo and `start` opens it.
    pub fn exec_fifo(&self) -> PathBuf {
        self.path.join(EXEC_FIFO)
    }

    /// Reads `state.json`.
    pub fn load(&self) -> Result<Record, StateError> {
        read_record(&self.id, &self.path)
    }

    /// Writes `state.json` atomically: a temp file renamed over it.
    pub fn save(&self, rec: &Record) -> Result<(), StateError> {
        let tmp = self.path.join(".state.json.tmp");
        let data = serde_json::to_vec(rec).map_err(|source| StateError::Corrupt {
            id: self.id.clone(),
            source,
        })?;
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io_err("create", &tmp))?;
        // No fsync: the root lives on tmpfs (/run) and is gone at reboot;
        // the rename alone keeps readers from seeing a partial file.
        f.write_all(&data).map_err(io_err("write", &tmp))?;
        let dst = self.path.join(STATE_FILE);
        fs::rename(&tmp, &dst).map_err(io_err("rename state file to", &dst))
    }

    /// The status of the container described by `rec`: stopped if the init
    /// is gone, created while the exec fifo exists, paused if frozen.
    pub fn status(&self, rec: &Record, frozen: impl FnOnce() -> bool) -> Status {
        status_of(rec, &self.exec_fifo(), frozen)
    }

    /// Removes the directory (state, fifo, lock). The lock is held until
    /// `self` is dropped; waiters then find no state file.
    pub fn remove(self) -> Result<(), StateError> {
        fs::remove_dir_all(&self.path).map_err(io_err("remove state dir", &self.path))
    }
}

/// Status of `rec` given the path of its exec fifo (usable without the
/// lock, for `list`).
pub fn status_of(rec: &Record, exec_fifo: &Path, frozen: impl FnOnce() -> bool) -> Status {
    if !rec.init_alive() {
        Status::Stopped
    } else if exec_fifo.exists() {
        Status::Created
    } else if frozen() {
        Status::Paused
    } else {
        Status::Running
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, pid: i32, start: u64) -> Record {
        Record {
            id: id.to_string(),
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            pid,
            pid_start_time: start,
            created: "2026-01-01T00:00:00.000000000Z".into(),
            owner: "root".into(),
            own_cgroups: String::new(),
            systemd_cgroup: false,
            config: Spec::default(),
        }
    }

    #[test]
    fn own_process_is_alive_and_start_time_guards_reuse() {
        let me = std::process::id() as i32;
        let st = proc_stat(me).unwrap();
        assert!(record("x", me, st.start_time).init_alive());
        assert!(!record("x", me, st.start_time + 1).init_alive());
        assert!(!record("x", 0, 0).init_alive());
    }

    #[test]
    fn create_save_load_list_remove() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(tmp.path().join("root"));
        let dir = store.create("c1").unwrap();
        let me = std::process::id() as i32;
        let rec = record("c1", me, proc_stat(me).unwrap().start_time);
        dir.save(&rec).unwrap();
        assert!(matches!(store.create("c1"), Err(StateError::Exists(_))));
        assert_eq!(store.ids().unwrap(), vec!["c1".to_string()]);
        assert_eq!(dir.load().unwrap().pid, me);
        assert_eq!(dir.status(&rec, || false), Status::Running);
        nix::unistd::mkfifo(&dir.exec_fifo(), nix::sys::stat::Mode::S_IRUSR).unwrap();
        assert_eq!(dir.status(&rec, || false), Status::Created);
        dir.remove().unwrap();
        assert!(matches!(store.open("c1"), Err(StateError::NotFound(_))));
        assert!(store.ids().unwrap().is_empty());
    }

    #[test]
    fn bad_ids_are_refused() {
        for id in ["", ".", "..", "a/b", "a b", "x\n"] {
            assert!(
                matches!(validate_id(id), Err(StateError::InvalidId(_))),
                "{id:?}"
            );
        }
        validate_id("abc-1_2.3+4").unwrap();
    }

    #[test]
    fn state_json_has_runc_fields() {
        let rec = record("c2", 5, 1);
        let v = serde_json::to_value(StateJson::new(&rec, Status::Stopped)).unwrap();
        assert_eq!(v["pid"], 0);
        assert_eq!(v["status"], "stopped");
        assert_eq!(v["ociVersion"], OCI_VERSION);
        assert!(v.get("annotations").is_none());
    }
}
