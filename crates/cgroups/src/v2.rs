//! cgroup v2: one directory in the unified hierarchy, with controllers
//! delegated down from the mount root through `cgroup.subtree_control`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oci_spec::runtime::LinuxResources;

use crate::error::CgroupError;
use crate::fs;
use crate::manager::{FreezerState, Stats};
use crate::resources::{cpu_max, max_or, required_controllers, shares_to_weight, swap_v2};

/// A container cgroup on a pure v2 host.
#[derive(Debug, Clone)]
pub struct V2 {
    /// Where the unified hierarchy is mounted.
    pub mount_point: PathBuf,
    /// The container's cgroup directory.
    pub dir: PathBuf,
    /// The cgroup that keeps loaded device filters for reuse
    /// ([`crate::devcache`]); `None` loads one for each container.
    pub device_cache: Option<PathBuf>,
}

/// Enables in `cgroup.subtree_control` of every cgroup from `mount_point`
/// down to the parent of `dir` each controller that cgroup offers in
/// `cgroup.controllers`, so that `dir` gets them all.
///
/// Each controller is written on its own and a refusal is tolerated, as
/// runc does: a parent holding processes (the no-internal-process rule)
/// or a threaded subtree refuses some, and a resource that then needs a
/// missing controller fails in `apply` with
/// [`CgroupError::ControllerUnavailable`].
pub fn enable_controllers(mount_point: &Path, dir: &Path) -> Result<(), CgroupError> {
    let Ok(rel) = dir.strip_prefix(mount_point) else {
        return Ok(());
    };
    let mut cur = mount_point.to_path_buf();
    for part in rel.components() {
        let available = fs::read(&cur, "cgroup.controllers")?;
        let enabled = fs::read(&cur, "cgroup.subtree_control")?;
        for c in available.split_whitespace() {
            if !enabled.split_whitespace().any(|e| e == c) {
                let _ = fs::write(&cur, "cgroup.subtree_control", &format!("+{c}"));
            }
        }
        cur.push(part);
    }
    Ok(())
}

impl V2 {
    /// Cgroup `dir` of the hierarchy mounted at `mount_point`, with the
    /// device filter cache at the hierarchy's root.
    pub fn new(mount_point: PathBuf, dir: PathBuf) -> Self {
        V2 {
            device_cache: Some(mount_point.join(crate::devcache::CACHE_NAME)),
            mount_point,
            dir,
        }
    }

    /// Fails unless `controller` is enabled for this cgroup.
    fn need(&self, controller: &'static str) -> Result<(), CgroupError> {
        let have = fs::read(&self.dir, "cgroup.controllers")?;
        if have.split_whitespace().any(|c| c == controller) {
            Ok(())
        } else {
            Err(CgroupError::ControllerUnavailable {
                controller,
                path: self.dir.clone(),
            })
        }
    }

    fn set(&self, controller: &'static str, file: &str, value: &str) -> Result<(), CgroupError> {
        self.need(controller)?;
        fs::write(&self.dir, file, value)
    }

    /// Creates the directory with controllers delegated from the root.
    pub fn create(&self) -> Result<(), CgroupError> {
        fs::mkdir_all(&self.dir)?;
        enable_controllers(&self.mount_point, &self.dir)
    }

    /// Moves process `pid` into the cgroup.
    pub fn add_task(&self, pid: i32) -> Result<(), CgroupError> {
        fs::write(&self.dir, "cgroup.procs", &pid.to_string())
    }

    /// Writes `res` (already validated) to the control files.
    pub fn apply(&self, res: &LinuxResources) -> Result<(), CgroupError> {
        if let Some(cpu) = res.cpu() {
            if cpu.realtime_runtime().is_some() || cpu.realtime_period().is_some() {
                // v2 has no per-cgroup realtime budget (runc refuses too);
                // refused before anything is written.
                return Err(CgroupError::InvalidResource {
                    field: "cpu.realtimeRuntime",
                    value: format!("{:?}", cpu.realtime_runtime()),
                    reason: "not supported on cgroup v2".into(),
                });
            }
        }
        for controller in required_controllers(res, true) {
            self.need(controller)?;
        }
        if let Some(mem) = res.memory() {
            // Unlike v1's memsw, memory.max and memory.swap.max are
            // independent, so the order of the writes does not matter.
            if let Some(l) = mem.limit().filter(|&l| l != 0) {
                self.set("memory", "memory.max", &max_or(l))?;
            }
            if let Some(swap) = swap_v2(mem.limit(), mem.swap())? {
                // Hosts without swap accounting have no memory.swap.max;
                // "unlimited" then needs nothing.
                if swap != -1 || self.dir.join("memory.swap.max").exists() {
                    self.set("memory", "memory.swap.max", &max_or(swap))?;
                }
            }
            if let Some(r) = mem.reservation().filter(|&r| r != 0) {
                self.set("memory", "memory.low", &max_or(r))?;
            }
            // memory.swappiness, disableOOMKiller and the deprecated
            // kernel/kernelTCP limits have no v2 file; runc ignores them on
            // v2 too (Docker warns that the kernel lacks OomKillDisable).
        }
        if let Some(cpu) = res.cpu() {
            if let Some(w) = cpu.shares().map(shares_to_weight).filter(|&w| w != 0) {
                self.set("cpu", "cpu.weight", &w.to_string())?;
            }
            if let Some(line) = cpu_max(cpu.quota(), cpu.period()) {
                self.set("cpu", "cpu.max", &line)?;
            }
            if let Some(b) = cpu.burst() {
                self.set("cpu", "cpu.max.burst", &b.to_string())?;
            }
            if let Some(i) = cpu.idle() {
                self.set("cpu", "cpu.idle", &i.to_string())?;
            }
            if let Some(c) = cpu.cpus().as_deref().filter(|s| !s.is_empty()) {
                self.set("cpuset", "cpuset.cpus", c)?;
            }
            if let Some(m) = cpu.mems().as_deref().filter(|s| !s.is_empty()) {
                self.set("cpuset", "cpuset.mems", m)?;
            }
        }
        if let Some(pids) = res.pids() {
            let limit = if pids.limit() <= 0 { -1 } else { pids.limit() };
            self.set("pids", "pids.max", &max_or(limit))?;
        }
        for h in res.hugepage_limits().iter().flatten() {
            let file = format!("hugetlb.{}.max", h.page_size());
            self.set("hugetlb", &file, &max_or(h.limit()))?;
        }
        if let Some(bio) = res.block_io() {
            // io.weight (1..10000) needs the io cost model; with BFQ as the
            // scheduler only io.bfq.weight exists, which takes blkio's own
            // 10..1000 scale (runc picks the same way).
            let weight = |w: u16| -> Result<(&str, u64), CgroupError> {
                self.need("io")?;
                Ok(if self.dir.join("io.weight").exists() {
                    // runc's ConvertBlkIOToIOWeightValue.
                    (
                        "io.weight",
                        1 + u64::from(w).saturating_sub(10) * 9999 / 990,
                    )
                } else {
                    ("io.bfq.weight", u64::from(w))
                })
            };
            if let Some(w) = bio.weight().filter(|&w| w != 0) {
                let (file, value) = weight(w)?;
                fs::write(&self.dir, file, &value.to_string())?;
            }
            for d in bio.weight_device().iter().flatten() {
                if let Some(w) = d.weight() {
                    let (file, value) = weight(w)?;
                    let line = format!("{}:{} {value}", d.major(), d.minor());
                    fs::write(&self.dir, file, &line)?;
                }
            }
            let throttles = [
                ("rbps", bio.throttle_read_bps_device()),
                ("wbps", bio.throttle_write_bps_device()),
                ("riops", bio.throttle_read_iops_device()),
                ("wiops", bio.throttle_write_iops_device()),
            ];
            for (key, devs) in throttles {
                for d in devs.iter().flatten() {
                    let rate = if d.rate() == 0 {
                        "max".to_string()
                    } else {
                        d.rate().to_string()
                    };
                    let line = format!("{}:{} {key}={rate}", d.major(), d.minor());
                    self.set("io", "io.max", &line)?;
                }
            }
        }
        if let Some(devices) = res.devices().as_ref().filter(|d| !d.is_empty()) {
            crate::devcache::attach_device_filter(
                &self.dir,
                devices,
                self.device_cache.as_deref(),
            )?;
        }
        if let Some(unified) = res.unified() {
            let mut keys: Vec<_> = unified.iter().collect();
            keys.sort();
            for (file, value) in keys {
                fs::write(&self.dir, file, value)?;
            }
        }
        Ok(())
    }

    /// Freezes the cgroup and waits for `frozen 1` in `cgroup.events`.
    pub fn freeze(&self) -> Result<(), CgroupError> {
        fs::write(&self.dir, "cgroup.freeze", "1")?;
        self.wait_frozen(true)
    }

    /// Thaws the cgroup and waits for `frozen 0`.
    pub fn thaw(&self) -> Result<(), CgroupError> {
        fs::write(&self.dir, "cgroup.freeze", "0")?;
        self.wait_frozen(false)
    }

    fn wait_frozen(&self, want: bool) -> Result<(), CgroupError> {
        let timeout = Duration::from_secs(5);
        let start = Instant::now();
        let mut delay = Duration::from_micros(200);
        loop {
            let frozen = fs::keyed(&self.dir, "cgroup.events", "frozen")?;
            if frozen == Some(u64::from(want)) {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(CgroupError::FreezeTimeout {
                    path: self.dir.clone(),
                    millis: timeout.as_millis(),
                    state: format!("frozen {}", frozen.unwrap_or(0)),
                });
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_millis(20));
        }
    }

    /// The freezer state from `cgroup.freeze` and `cgroup.events`.
    pub fn freezer_state(&self) -> Result<FreezerState, CgroupError> {
        let wanted = fs::read_opt(&self.dir, "cgroup.freeze")?;
        let frozen = fs::keyed(&self.dir, "cgroup.events", "frozen")?;
        Ok(match (wanted.as_deref(), frozen) {
            (_, Some(1)) => FreezerState::Frozen,
            (Some("1"), _) => FreezerState::Freezing,
            _ => FreezerState::Thawed,
        })
    }

    /// Kills every process in the cgroup tree at once (`cgroup.kill`,
    /// Linux 5.14); `false` if the kernel has no such file.
    pub fn kill(&self) -> Result<bool, CgroupError> {
        if !self.dir.join("cgroup.kill").exists() {
            return Ok(false);
        }
        fs::write(&self.dir, "cgroup.kill", "1")?;
        Ok(true)
    }

    /// Every process in the cgroup and its descendants.
    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        fs::procs_recursive(&self.dir)
    }

    /// Whether the directory exists.
    pub fn exists(&self) -> bool {
        self.dir.exists()
    }

    /// Removes the directory and any cgroup below it.
    pub fn remove(&self, timeout: Duration) -> Result<(), CgroupError> {
        fs::rmdir_tree(&self.dir, timeout)
    }

    /// Usage figures of memory, pids and cpu (the latter always present:
    /// `cpu.stat` is a core file on v2).
    pub fn stats(&self) -> Result<Stats, CgroupError> {
        let d = &self.dir;
        let usec = |key| -> Result<Option<u64>, CgroupError> {
            Ok(fs::keyed(d, "cpu.stat", key)?.map(|u| u * 1000))
        };
        Ok(Stats {
            memory_usage: fs::read_u64_opt(d, "memory.current")?,
            memory_max_usage: fs::read_u64_opt(d, "memory.peak")?,
            memory_limit: fs::read_u64_opt(d, "memory.max")?,
            pids_current: fs::read_u64_opt(d, "pids.current")?,
            pids_limit: fs::read_u64_opt(d, "pids.max")?,
            cpu_usage_ns: usec("usage_usec")?,
            cpu_user_ns: usec("user_usec")?,
            cpu_system_ns: usec("system_usec")?,
            oom_kills: fs::keyed(d, "memory.events", "oom_kill")?,
            cpu_throttled_periods: fs::keyed(d, "cpu.stat", "nr_throttled")?,
            cpu_throttled_ns: usec("throttled_usec")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use oci_spec::runtime::{
        LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxHugepageLimitBuilder, LinuxMemoryBuilder,
        LinuxPidsBuilder, LinuxResourcesBuilder, LinuxThrottleDeviceBuilder,
    };

    use super::*;

    const FILES: &[&str] = &[
        "memory.max",
        "memory.swap.max",
        "memory.low",
        "cpu.weight",
        "cpu.max",
        "cpuset.cpus",
        "cpuset.mems",
        "pids.max",
        "hugetlb.2MB.max",
        "io.weight",
        "io.max",
    ];

    /// A cgroup directory made of plain files: a write to a file the code
    /// should not touch fails, as the file does not exist.
    fn fake(controllers: &str) -> (tempfile::TempDir, V2) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("c");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("cgroup.controllers"), controllers).unwrap();
        for f in FILES {
            std::fs::write(dir.join(f), "").unwrap();
        }
        let v2 = V2::new(tmp.path().into(), dir);
        (tmp, v2)
    }

    fn get(v2: &V2, file: &str) -> String {
        std::fs::read_to_string(v2.dir.join(file)).unwrap()
    }

    #[test]
    fn writes_docker_semantics_to_v2_files() {
        let (_tmp, v2) = fake("cpuset cpu io memory hugetlb pids");
        let res = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(64 << 20)
                    .swap(96 << 20)
                    .reservation(32 << 20)
                    .build()
                    .unwrap(),
            )
            .cpu(
                LinuxCpuBuilder::default()
                    .shares(1024u64)
                    .quota(-1)
                    .period(50_000u64)
                    .cpus("0-1")
                    .mems("0")
                    .build()
                    .unwrap(),
            )
            .pids(LinuxPidsBuilder::default().limit(0).build().unwrap())
            .hugepage_limits(vec![LinuxHugepageLimitBuilder::default()
                .page_size("2MB")
                .limit(-1)
                .build()
                .unwrap()])
            .block_io(
                LinuxBlockIoBuilder::default()
                    .weight(500u16)
                    .throttle_read_bps_device(vec![LinuxThrottleDeviceBuilder::default()
                        .major(8)
                        .minor(0)
                        .rate(1_000_000u64)
                        .build()
                        .unwrap()])
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        v2.apply(&res).unwrap();
        assert_eq!(get(&v2, "memory.max"), (64 << 20).to_string());
        assert_eq!(get(&v2, "memory.swap.max"), (32 << 20).to_string());
        assert_eq!(get(&v2, "memory.low"), (32 << 20).to_string());
        assert_eq!(get(&v2, "cpu.weight"), "100");
        assert_eq!(get(&v2, "cpu.max"), "max 50000");
        assert_eq!(get(&v2, "cpuset.cpus"), "0-1");
        assert_eq!(get(&v2, "cpuset.mems"), "0");
        assert_eq!(get(&v2, "pids.max"), "max");
        assert_eq!(get(&v2, "hugetlb.2MB.max"), "max");
        assert_eq!(get(&v2, "io.weight"), "4950");
        assert_eq!(get(&v2, "io.max"), "8:0 rbps=1000000");
    }

    #[test]
    fn unlimited_memory_means_unlimited_swap() {
        let (_tmp, v2) = fake("memory");
        let res = LinuxResourcesBuilder::default()
            .memory(LinuxMemoryBuilder::default().limit(-1).build().unwrap())
            .build()
            .unwrap();
        v2.apply(&res).unwrap();
        assert_eq!(get(&v2, "memory.max"), "max");
        assert_eq!(get(&v2, "memory.swap.max"), "max");
    }

    #[test]
    fn missing_controller_is_named_and_nothing_else_is_written() {
        let (_tmp, v2) = fake("memory");
        let res = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(1 << 20)
                    .build()
                    .unwrap(),
            )
            .pids(LinuxPidsBuilder::default().limit(5).build().unwrap())
            .build()
            .unwrap();
        let err = v2.apply(&res).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "cgroup controller pids is not available for {}",
                v2.dir.display()
            )
        );
        assert_eq!(get(&v2, "memory.max"), "", "written before the refusal");
        assert_eq!(get(&v2, "pids.max"), "");
    }
}
