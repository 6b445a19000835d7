//! [`Manager`]: the one handle the runtime holds on a container's cgroup,
//! whatever the host layout.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::fcntl::OFlag;
use nix::sys::signal::{kill, Signal};
use nix::sys::stat::Mode;
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

use crate::error::CgroupError;
use crate::mountinfo::{self, Layout, LayoutKind, OwnCgroup};
use crate::path::CgroupsPath;
use crate::resources;
use crate::v1::{HierarchyDir, V1};
use crate::v2::V2;

/// How long `remove` retries a cgroup whose last processes are exiting.
const REMOVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Freezer state of a cgroup (runc's `paused` is `Frozen`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreezerState {
    /// Running normally.
    Thawed,
    /// A freeze was asked and is not complete.
    Freezing,
    /// Every process is frozen.
    Frozen,
}

/// Usage figures for `berth stats`; `None` where the controller is absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Memory in use, bytes (`memory.current` / `memory.usage_in_bytes`).
    pub memory_usage: Option<u64>,
    /// Peak memory use, bytes, where the kernel tracks it.
    pub memory_max_usage: Option<u64>,
    /// Memory limit, bytes; `None` when unlimited.
    pub memory_limit: Option<u64>,
    /// Number of tasks (threads included) in the cgroup.
    pub pids_current: Option<u64>,
    /// Task limit; `None` when unlimited.
    pub pids_limit: Option<u64>,
    /// Total cpu time, nanoseconds.
    pub cpu_usage_ns: Option<u64>,
    /// User cpu time, nanoseconds.
    pub cpu_user_ns: Option<u64>,
    /// System cpu time, nanoseconds.
    pub cpu_system_ns: Option<u64>,
    /// Processes the OOM killer killed in this cgroup (Docker's
    /// `OOMKilled` is this being non-zero).
    pub oom_kills: Option<u64>,
    /// CFS periods in which the cgroup was throttled by its quota.
    pub cpu_throttled_periods: Option<u64>,
    /// Total time throttled, nanoseconds.
    pub cpu_throttled_ns: Option<u64>,
}

#[derive(Debug, Clone)]
enum Backend {
    V1(V1),
    V2(V2),
}

/// A container's cgroup: where it is in every hierarchy, and the verbs the
/// runtime needs on it. Building one touches nothing; `create` does.
#[derive(Debug, Clone)]
pub struct Manager {
    kind: LayoutKind,
    backend: Backend,
}

impl Manager {
    /// The cgroup for spec `cgroupsPath` of container `id`, on the layout
    /// of the calling thread's mount namespace; relative paths are under
    /// the caller's own cgroups.
    pub fn new(cgroups_path: Option<&str>, id: &str) -> Result<Self, CgroupError> {
        let path = CgroupsPath::parse(cgroups_path, id)?;
        Ok(Self::with_layout(
            &Layout::detect()?,
            &mountinfo::own_cgroups()?,
            &path,
        ))
    }

    /// The cgroup `path` on a given layout, for a caller whose own cgroups
    /// are `own` (as in `/proc/self/cgroup`).
    pub fn with_layout(layout: &Layout, own: &[OwnCgroup], path: &CgroupsPath) -> Self {
        let backend = match layout {
            Layout::Unified(m) => {
                // A relative path goes under the parent of the caller's
                // cgroup: the caller's own cgroup holds processes and so
                // cannot delegate controllers (runc does the same).
                let own_path = mountinfo::own_path_for(own, m);
                let base = own_path
                    .parent()
                    .map_or_else(|| PathBuf::from("/"), PathBuf::from);
                Backend::V2(V2::new(
                    m.mount_point.clone(),
                    m.dir_for(&path.resolve(&base)),
                ))
            }
            Layout::Legacy {
                hierarchies,
                unified,
            } => {
                let dir_in = |m: &mountinfo::CgroupMount| {
                    m.dir_for(&path.resolve(&mountinfo::own_path_for(own, m)))
                };
                Backend::V1(V1 {
                    hierarchies: hierarchies
                        .iter()
                        .map(|m| HierarchyDir {
                            controllers: m.controllers.clone(),
                            dir: dir_in(m),
                        })
                        .collect(),
                    unified: unified
                        .as_ref()
                        .map(|m| V2::new(m.mount_point.clone(), dir_in(m))),
                })
            }
        };
        Manager {
            kind: layout.kind(),
            backend,
        }
    }

    /// Keeps the cgroup v2 device filters this manager loads in cgroup
    /// `dir` for reuse, instead of `berth-device-filters` at the root of
    /// the hierarchy; `None` loads a program for every container. Device
    /// rules on cgroup v1 (and a hybrid host) need no program.
    pub fn set_device_filter_cache(&mut self, dir: Option<PathBuf>) {
        match &mut self.backend {
            Backend::V1(v) => {
                if let Some(u) = &mut v.unified {
                    u.device_cache = dir;
                }
            }
            Backend::V2(v) => v.device_cache = dir,
        }
    }

    /// v1, v2 or hybrid.
    pub fn kind(&self) -> LayoutKind {
        self.kind
    }

    /// Every directory this cgroup has, one per hierarchy.
    pub fn dirs(&self) -> Vec<PathBuf> {
        match &self.backend {
            Backend::V1(v) => v
                .hierarchies
                .iter()
                .map(|h| h.dir.clone())
                .chain(v.unified.as_ref().map(|u| u.dir.clone()))
                .collect(),
            Backend::V2(v) => vec![v.dir.clone()],
        }
    }

    /// Creates the cgroup in every hierarchy (v2: with controllers
    /// delegated down to it; v1 cpuset: with the parent's cpus and mems).
    pub fn create(&self) -> Result<(), CgroupError> {
        match &self.backend {
            Backend::V1(v) => v.create(),
            Backend::V2(v) => v.create(),
        }
    }

    /// Moves process `pid` (and so its future children) into the cgroup
    /// in every hierarchy, incl. named v1 ones and a hybrid host's
    /// cgroup2 mount, so that every tool sees it there.
    pub fn add_task(&self, pid: i32) -> Result<(), CgroupError> {
        match &self.backend {
            Backend::V1(v) => v.add_task(pid),
            Backend::V2(v) => v.add_task(pid),
        }
    }

    /// The cgroup's directory in the unified (cgroup2) hierarchy: the one
    /// directory of a pure v2 host, the cgroup2 side of a hybrid one.
    pub fn unified_dir(&self) -> Option<&Path> {
        match &self.backend {
            Backend::V1(v) => v.unified.as_ref().map(|u| u.dir.as_path()),
            Backend::V2(v) => Some(v.dir.as_path()),
        }
    }

    /// An `O_PATH` fd of [`Manager::unified_dir`] (after [`Manager::create`]),
    /// for `clone3(CLONE_INTO_CGROUP)`: a process started inside its
    /// cgroup needs no migration, which waits for an RCU grace period.
    pub fn open_unified(&self) -> Result<Option<OwnedFd>, CgroupError> {
        let Some(dir) = self.unified_dir() else {
            return Ok(None);
        };
        nix::fcntl::open(
            dir,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map(Some)
        .map_err(|e| CgroupError::Read {
            path: dir.to_path_buf(),
            source: e.into(),
        })
    }

    /// [`Manager::add_task`] for a process that already is in
    /// [`Manager::unified_dir`] (cloned into it): moves it into the other
    /// hierarchies only, i.e. the v1 ones of a v1 or hybrid host; nothing
    /// on pure v2.
    pub fn add_task_except_unified(&self, pid: i32) -> Result<(), CgroupError> {
        match &self.backend {
            Backend::V1(v) => v.add_task_v1_only(pid),
            Backend::V2(_) => Ok(()),
        }
    }

    /// Checks every value of `res`, then writes them: nothing is written
    /// if any value is out of range.
    pub fn apply(&self, res: &LinuxResources) -> Result<(), CgroupError> {
        resources::validate(res)?;
        match &self.backend {
            Backend::V1(v) => v.apply(res),
            Backend::V2(v) => v.apply(res),
        }
    }

    /// Freezes every process (runc `pause`), waiting until they are.
    pub fn freeze(&self) -> Result<(), CgroupError> {
        match &self.backend {
            Backend::V1(v) => v.freeze(),
            Backend::V2(v) => v.freeze(),
        }
    }

    /// Thaws the processes (runc `resume`).
    pub fn thaw(&self) -> Result<(), CgroupError> {
        match &self.backend {
            Backend::V1(v) => v.thaw(),
            Backend::V2(v) => v.thaw(),
        }
    }

    /// The freezer state.
    pub fn freezer_state(&self) -> Result<FreezerState, CgroupError> {
        match &self.backend {
            Backend::V1(v) => v.freezer_state(),
            Backend::V2(v) => v.freezer_state(),
        }
    }

    /// Every process in the cgroup and its descendants, sorted.
    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        match &self.backend {
            Backend::V1(v) => v.pids(),
            Backend::V2(v) => v.pids(),
        }
    }

    /// Memory, pids and cpu usage.
    pub fn stats(&self) -> Result<Stats, CgroupError> {
        match &self.backend {
            Backend::V1(v) => v.stats(),
            Backend::V2(v) => v.stats(),
        }
    }

    /// Sends `signal` to every process of the cgroup (runc `kill --all`).
    ///
    /// SIGKILL on v2 uses `cgroup.kill`, which the kernel applies to the
    /// whole tree atomically. Otherwise the cgroup is frozen while the
    /// pids are listed and signalled, so nothing forks past the list, and
    /// thawed afterwards (a frozen process acts on the signal when thawed).
    /// A cgroup that was already frozen stays frozen, except after SIGKILL.
    pub fn kill_all(&self, signal: Signal) -> Result<(), CgroupError> {
        if !self.exists() {
            return Ok(()); // no cgroup, no process left in it
        }
        if let (Backend::V2(v), Signal::SIGKILL) = (&self.backend, signal) {
            if v.kill()? {
                return Ok(());
            }
        }
        let can_freeze = match &self.backend {
            Backend::V1(v) => v.has_freezer(),
            Backend::V2(_) => true,
        };
        let was_frozen = self.freezer_state()? == FreezerState::Frozen;
        if can_freeze && !was_frozen {
            self.freeze()?;
        }
        let sent = self.signal_each(signal);
        // A frozen process dies of SIGKILL only once thawed, so a paused
        // container is thawed for it; other signals wait for `thaw`.
        if can_freeze && (!was_frozen || signal == Signal::SIGKILL) {
            self.thaw()?;
        }
        sent
    }

    fn signal_each(&self, signal: Signal) -> Result<(), CgroupError> {
        for pid in self.pids()? {
            match kill(Pid::from_raw(pid), signal) {
                // Exited since the list was read.
                Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
                Err(source) => {
                    return Err(CgroupError::Signal {
                        pid,
                        signal: signal as i32,
                        source,
                    })
                }
            }
        }
        Ok(())
    }

    /// Removes the cgroup from every hierarchy, children first. Kill the
    /// processes first ([`Manager::kill_all`]); a cgroup whose processes
    /// are still exiting is retried for a moment. Already gone is success.
    pub fn remove(&self) -> Result<(), CgroupError> {
        match &self.backend {
            Backend::V1(v) => v.remove(REMOVE_TIMEOUT),
            Backend::V2(v) => v.remove(REMOVE_TIMEOUT),
        }
    }

    /// Whether the cgroup exists in any hierarchy.
    pub fn exists(&self) -> bool {
        match &self.backend {
            Backend::V1(v) => v.exists(),
            Backend::V2(v) => v.exists(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
";

    fn own() -> Vec<OwnCgroup> {
        mountinfo::parse_proc_cgroup(
            "9:name=systemd:/sd\n4:memory:/mem/x\n1:cpu,cpuacct:/\n0::/u/v\n",
            Path::new("cgroup"),
        )
        .unwrap()
    }

    #[test]
    fn hybrid_dirs_for_relative_and_absolute_paths() {
        let layout = Layout::from_mountinfo(HYBRID, Path::new("m")).unwrap();
        let rel = Manager::with_layout(&layout, &own(), &CgroupsPath::Relative("c1".into()));
        assert_eq!(rel.kind(), LayoutKind::Hybrid);
        assert_eq!(
            rel.dirs(),
            [
                "/sys/fs/cgroup/cpu,cpuacct/c1",
                "/sys/fs/cgroup/memory/mem/x/c1",
                "/sys/fs/cgroup/systemd/sd/c1",
                "/sys/fs/cgroup/unified/u/v/c1",
            ]
            .map(PathBuf::from)
        );
        let abs = Manager::with_layout(&layout, &own(), &CgroupsPath::Absolute("/berth/c1".into()));
        assert!(abs.dirs().iter().all(|d| d.ends_with("berth/c1")));
    }

    #[test]
    fn v2_relative_path_goes_under_the_parent() {
        let layout = Layout::from_mountinfo(
            "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
            Path::new("m"),
        )
        .unwrap();
        let m = Manager::with_layout(&layout, &own(), &CgroupsPath::Relative("c1".into()));
        assert_eq!(m.kind(), LayoutKind::V2);
        assert_eq!(m.dirs(), [PathBuf::from("/sys/fs/cgroup/u/c1")]);
    }

    #[test]
    fn apply_validates_before_writing() {
        use oci_spec::runtime::{LinuxMemoryBuilder, LinuxResourcesBuilder};
        // Directories that do not exist: a write would fail differently.
        let layout = Layout::from_mountinfo(HYBRID, Path::new("m")).unwrap();
        let m = Manager::with_layout(&layout, &own(), &CgroupsPath::Absolute("/nope/x".into()));
        let res = LinuxResourcesBuilder::default()
            .memory(LinuxMemoryBuilder::default().limit(-5).build().unwrap())
            .build()
            .unwrap();
        let err = m.apply(&res).unwrap_err();
        assert!(matches!(err, CgroupError::InvalidResource { .. }), "{err}");
    }
}
