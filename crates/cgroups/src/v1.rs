//! cgroup v1: one directory per mounted hierarchy (incl. named ones such
//! as `name=systemd`), plus the cgroup2 directory of a hybrid host.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};

use crate::error::CgroupError;
use crate::fs;
use crate::manager::{FreezerState, Stats};
use crate::resources::{max_or, required_controllers};
use crate::v2::{self, V2};

/// v1 reports "no memory limit" as the page counter maximum rounded to a
/// page; anything this large is unlimited.
const V1_UNLIMITED: u64 = 1 << 62;

/// The container's directory in one v1 hierarchy.
#[derive(Debug, Clone)]
pub struct HierarchyDir {
    /// Controllers of the hierarchy (`name=systemd` for a named one).
    pub controllers: Vec<String>,
    /// The container's cgroup directory in it.
    pub dir: PathBuf,
}

/// A container cgroup on a v1 or hybrid host.
#[derive(Debug, Clone)]
pub struct V1 {
    /// One entry per hierarchy.
    pub hierarchies: Vec<HierarchyDir>,
    /// The cgroup2 side of a hybrid host: it tracks the processes, and
    /// takes the limits of controllers that no v1 hierarchy carries
    /// (hugetlb, pids or memory, where the host left them to cgroup2)
    /// and the spec's `unified` map, as runc does in hybrid mode.
    pub unified: Option<V2>,
}

impl V1 {
    fn dir(&self, controller: &str) -> Option<&Path> {
        self.hierarchies
            .iter()
            .find(|h| h.controllers.iter().any(|c| c == controller))
            .map(|h| h.dir.as_path())
    }

    fn need(&self, controller: &'static str) -> Result<&Path, CgroupError> {
        self.dir(controller)
            .ok_or(CgroupError::ControllerNotMounted { controller })
    }

    fn all_dirs(&self) -> impl Iterator<Item = &Path> {
        self.hierarchies
            .iter()
            .map(|h| h.dir.as_path())
            .chain(self.unified.as_ref().map(|u| u.dir.as_path()))
    }

    /// Moves out of `needed` the controllers no v1 hierarchy has but the
    /// hybrid host's cgroup2 root offers, and returns them.
    fn take_unified_controllers(
        &self,
        needed: &mut Vec<&'static str>,
    ) -> Result<Vec<&'static str>, CgroupError> {
        let Some(u) = &self.unified else {
            return Ok(Vec::new());
        };
        let offered = fs::read(&u.mount_point, "cgroup.controllers")?;
        let (moved, kept) = needed.iter().partition(|c| {
            UNIFIED_CAPABLE.contains(c)
                && self.dir(c).is_none()
                && offered.split_whitespace().any(|o| o == **c)
        });
        *needed = kept;
        Ok(moved)
    }

    /// Creates the directory in every hierarchy; a new cpuset cgroup gets
    /// its parent's cpus and mems, without which it refuses tasks.
    pub fn create(&self) -> Result<(), CgroupError> {
        for h in &self.hierarchies {
            fs::mkdir_all(&h.dir)?;
            if h.controllers.iter().any(|c| c == "cpuset") {
                inherit_cpuset(&h.dir)?;
            }
        }
        if let Some(u) = &self.unified {
            fs::mkdir_all(&u.dir)?;
        }
        Ok(())
    }

    /// Moves process `pid` into every hierarchy's directory.
    pub fn add_task(&self, pid: i32) -> Result<(), CgroupError> {
        let pid = pid.to_string();
        for dir in self.all_dirs() {
            fs::write(dir, "cgroup.procs", &pid)?;
        }
        Ok(())
    }

    /// Moves process `pid` into every v1 hierarchy's directory, not the
    /// cgroup2 one (it was cloned there with `CLONE_INTO_CGROUP`).
    pub fn add_task_v1_only(&self, pid: i32) -> Result<(), CgroupError> {
        let pid = pid.to_string();
        for h in &self.hierarchies {
            fs::write(&h.dir, "cgroup.procs", &pid)?;
        }
        Ok(())
    }

    /// Writes `res` (already validated) to the control files.
    pub fn apply(&self, res: &LinuxResources) -> Result<(), CgroupError> {
        let wants_unified = res.unified().as_ref().is_some_and(|u| !u.is_empty());
        if wants_unified && self.unified.is_none() {
            // runc refuses these on pure v1 too (ErrV1NoUnified).
            return Err(CgroupError::InvalidResource {
                field: "unified",
                value: format!("{:?}", res.unified()),
                reason: "cgroup v2 files cannot be set on a cgroup v1 host".into(),
            });
        }
        let mut needed = required_controllers(res, false);
        let via_unified = self.take_unified_controllers(&mut needed)?;
        for controller in &needed {
            self.need(controller)?;
        }
        if let Some(u) = &self.unified {
            if wants_unified || !via_unified.is_empty() {
                v2::enable_controllers(&u.mount_point, &u.dir)?;
                u.apply(&unified_part(res, &via_unified))?;
            }
        }
        if let Some(mem) = res.memory().as_ref().filter(|_| needed.contains(&"memory")) {
            let dir = self.need("memory")?;
            set_memory_and_swap(dir, mem.limit(), mem.swap())?;
            if let Some(r) = mem.reservation().filter(|&r| r != 0) {
                fs::write(dir, "memory.soft_limit_in_bytes", &r.to_string())?;
            }
            if let Some(s) = mem.swappiness() {
                fs::write(dir, "memory.swappiness", &s.to_string())?;
            }
            if let Some(disable) = mem.disable_oom_killer() {
                fs::write(dir, "memory.oom_control", if disable { "1" } else { "0" })?;
            }
        }
        if let Some(cpu) = res.cpu() {
            let wants_cpu = cpu.shares().is_some_and(|s| s != 0)
                || cpu.period().is_some_and(|p| p != 0)
                || cpu.quota().is_some_and(|q| q != 0)
                || cpu.realtime_period().is_some()
                || cpu.realtime_runtime().is_some()
                || cpu.burst().is_some()
                || cpu.idle().is_some();
            if wants_cpu {
                let dir = self.need("cpu")?;
                if let Some(s) = cpu.shares().filter(|&s| s != 0) {
                    fs::write(dir, "cpu.shares", &s.to_string())?;
                }
                // The period first: a quota is checked against it.
                if let Some(p) = cpu.period().filter(|&p| p != 0) {
                    fs::write(dir, "cpu.cfs_period_us", &p.to_string())?;
                }
                if let Some(q) = cpu.quota().filter(|&q| q != 0) {
                    fs::write(dir, "cpu.cfs_quota_us", &q.to_string())?;
                }
                if let Some(p) = cpu.realtime_period() {
                    fs::write(dir, "cpu.rt_period_us", &p.to_string())?;
                }
                if let Some(r) = cpu.realtime_runtime() {
                    fs::write(dir, "cpu.rt_runtime_us", &r.to_string())?;
                }
                if let Some(b) = cpu.burst() {
                    fs::write(dir, "cpu.cfs_burst_us", &b.to_string())?;
                }
                if let Some(i) = cpu.idle() {
                    fs::write(dir, "cpu.idle", &i.to_string())?;
                }
            }
            let cpus = cpu.cpus().as_deref().filter(|s| !s.is_empty());
            let mems = cpu.mems().as_deref().filter(|s| !s.is_empty());
            if cpus.is_some() || mems.is_some() {
                let dir = self.need("cpuset")?;
                if let Some(c) = cpus {
                    fs::write(dir, "cpuset.cpus", c)?;
                }
                if let Some(m) = mems {
                    fs::write(dir, "cpuset.mems", m)?;
                }
            }
        }
        if let Some(pids) = res.pids().as_ref().filter(|_| needed.contains(&"pids")) {
            let limit = if pids.limit() <= 0 { -1 } else { pids.limit() };
            fs::write(self.need("pids")?, "pids.max", &max_or(limit))?;
        }
        let hugepages = res.hugepage_limits().iter().flatten();
        for h in hugepages.filter(|_| needed.contains(&"hugetlb")) {
            let file = format!("hugetlb.{}.limit_in_bytes", h.page_size());
            fs::write(self.need("hugetlb")?, &file, &h.limit().to_string())?;
        }
        if let Some(bio) = res.block_io() {
            // CFQ's blkio.weight is gone from current kernels; BFQ offers
            // blkio.bfq.weight instead (runc picks the same way).
            let weight_file =
                |plain: &'static str, bfq: &'static str| -> Result<&str, CgroupError> {
                    let dir = self.need("blkio")?;
                    Ok(if dir.join(plain).exists() { plain } else { bfq })
                };
            if let Some(w) = bio.weight().filter(|&w| w != 0) {
                let file = weight_file("blkio.weight", "blkio.bfq.weight")?;
                fs::write(self.need("blkio")?, file, &w.to_string())?;
            }
            for d in bio.weight_device().iter().flatten() {
                if let Some(w) = d.weight() {
                    let file = weight_file("blkio.weight_device", "blkio.bfq.weight_device")?;
                    let line = format!("{}:{} {w}", d.major(), d.minor());
                    fs::write(self.need("blkio")?, file, &line)?;
                }
            }
            let throttles = [
                (
                    "blkio.throttle.read_bps_device",
                    bio.throttle_read_bps_device(),
                ),
                (
                    "blkio.throttle.write_bps_device",
                    bio.throttle_write_bps_device(),
                ),
                (
                    "blkio.throttle.read_iops_device",
                    bio.throttle_read_iops_device(),
                ),
                (
                    "blkio.throttle.write_iops_device",
                    bio.throttle_write_iops_device(),
                ),
            ];
            for (file, devs) in throttles {
                for d in devs.iter().flatten() {
                    let line = format!("{}:{} {}", d.major(), d.minor(), d.rate());
                    fs::write(self.need("blkio")?, file, &line)?;
                }
            }
        }
        if let Some(devices) = res.devices() {
            let dir = self.need("devices")?;
            for rule in devices {
                let file = if rule.allow() {
                    "devices.allow"
                } else {
                    "devices.deny"
                };
                fs::write(dir, file, &device_rule(rule))?;
            }
        }
        Ok(())
    }

    /// Freezes every process of the cgroup and waits until it is frozen.
    pub fn freeze(&self) -> Result<(), CgroupError> {
        let dir = self.need("freezer")?;
        let start = Instant::now();
        let timeout = Duration::from_secs(5);
        loop {
            // Re-writing FROZEN nudges tasks that were forking meanwhile
            // (runc does the same: a freeze can get stuck in FREEZING).
            fs::write(dir, "freezer.state", "FROZEN")?;
            for _ in 0..10 {
                let state = fs::read(dir, "freezer.state")?;
                if state == "FROZEN" {
                    return Ok(());
                }
                if start.elapsed() > timeout {
                    // Leave it usable rather than half-frozen.
                    let _ = fs::write(dir, "freezer.state", "THAWED");
                    return Err(CgroupError::FreezeTimeout {
                        path: dir.into(),
                        millis: timeout.as_millis(),
                        state,
                    });
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }

    /// Thaws the cgroup.
    pub fn thaw(&self) -> Result<(), CgroupError> {
        fs::write(self.need("freezer")?, "freezer.state", "THAWED")
    }

    /// The freezer state (thawed if there is no freezer hierarchy).
    pub fn freezer_state(&self) -> Result<FreezerState, CgroupError> {
        let Some(dir) = self.dir("freezer") else {
            return Ok(FreezerState::Thawed);
        };
        Ok(match fs::read_opt(dir, "freezer.state")?.as_deref() {
            Some("FROZEN") => FreezerState::Frozen,
            Some("FREEZING") => FreezerState::Freezing,
            _ => FreezerState::Thawed,
        })
    }

    /// Every process in the cgroup and its descendants, in any hierarchy:
    /// normally each holds them all, but a process whose `add_task` failed
    /// half-way is in some only, and must still be found to be killed.
    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        let mut all = Vec::new();
        for dir in self.all_dirs() {
            all.extend(fs::procs_recursive(dir)?);
        }
        all.sort_unstable();
        all.dedup();
        Ok(all)
    }

    /// Whether the directory exists in any hierarchy.
    pub fn exists(&self) -> bool {
        self.all_dirs().any(Path::exists)
    }

    /// Removes the directory (and any below it) from every hierarchy.
    pub fn remove(&self, timeout: Duration) -> Result<(), CgroupError> {
        for dir in self.all_dirs() {
            fs::rmdir_tree(dir, timeout)?;
        }
        Ok(())
    }

    /// Usage figures of the memory, pids and cpuacct controllers.
    pub fn stats(&self) -> Result<Stats, CgroupError> {
        let mut s = Stats::default();
        if let Some(dir) = self.dir("memory") {
            s.memory_usage = fs::read_u64_opt(dir, "memory.usage_in_bytes")?;
            s.memory_max_usage = fs::read_u64_opt(dir, "memory.max_usage_in_bytes")?;
            s.memory_limit =
                fs::read_u64_opt(dir, "memory.limit_in_bytes")?.filter(|&l| l < V1_UNLIMITED);
        }
        if let Some(dir) = self.dir("pids") {
            s.pids_current = fs::read_u64_opt(dir, "pids.current")?;
            s.pids_limit = fs::read_u64_opt(dir, "pids.max")?;
        }
        if let Some(dir) = self.dir("cpuacct") {
            s.cpu_usage_ns = fs::read_u64_opt(dir, "cpuacct.usage")?;
            s.cpu_user_ns = fs::read_u64_opt(dir, "cpuacct.usage_user")?;
            s.cpu_system_ns = fs::read_u64_opt(dir, "cpuacct.usage_sys")?;
        }
        if let Some(dir) = self.dir("cpu") {
            s.cpu_throttled_periods = fs::keyed(dir, "cpu.stat", "nr_throttled")?;
            s.cpu_throttled_ns = fs::keyed(dir, "cpu.stat", "throttled_time")?;
        }
        if let Some(dir) = self.dir("memory") {
            // memory.oom_control has "oom_kill N" since Linux 4.13.
            s.oom_kills = fs::keyed(dir, "memory.oom_control", "oom_kill")?;
        }
        Ok(s)
    }

    /// Whether a freezer hierarchy is mounted.
    pub fn has_freezer(&self) -> bool {
        self.dir("freezer").is_some()
    }
}

/// Controllers whose whole OCI section can go to cgroup2 on a hybrid host;
/// cpu, cpuset, blkio and devices must be on v1 there (their sections
/// mix controllers, or need eBPF next to a v1 devices cgroup).
const UNIFIED_CAPABLE: &[&str] = &["hugetlb", "pids", "memory"];

/// The part of `res` for the hybrid host's cgroup2 side: the sections of
/// `controllers` and the `unified` map.
fn unified_part(res: &LinuxResources, controllers: &[&str]) -> LinuxResources {
    let mut part = LinuxResources::default();
    if controllers.contains(&"hugetlb") {
        part.set_hugepage_limits(res.hugepage_limits().clone());
    }
    if controllers.contains(&"pids") {
        part.set_pids(*res.pids());
    }
    if controllers.contains(&"memory") {
        part.set_memory(*res.memory());
    }
    part.set_unified(res.unified().clone());
    part
}

/// Gives `dir` and each ancestor whose `cpuset.cpus` or `cpuset.mems` is
/// empty the value of its parent, top-down from the nearest ancestor that
/// has both: an empty cpuset cgroup refuses tasks (ENOSPC).
fn inherit_cpuset(dir: &Path) -> Result<(), CgroupError> {
    let empty = |d: &Path| -> Result<bool, CgroupError> {
        Ok(fs::read(d, "cpuset.cpus")?.is_empty() || fs::read(d, "cpuset.mems")?.is_empty())
    };
    let mut chain = Vec::new();
    let mut cur = dir;
    while empty(cur)? {
        chain.push(cur);
        match cur.parent() {
            // The hierarchy root always has both set.
            Some(p) if p.join("cpuset.cpus").exists() => cur = p,
            _ => break,
        }
    }
    for d in chain.into_iter().rev() {
        let parent = d.parent().unwrap_or(d);
        for file in ["cpuset.cpus", "cpuset.mems"] {
            if fs::read(d, file)?.is_empty() {
                fs::write(d, file, &fs::read(parent, file)?)?;
            }
        }
    }
    Ok(())
}

/// memory.limit_in_bytes must never exceed memory.memsw.limit_in_bytes, so
/// the order of the two writes depends on whether swap grows (runc's
/// `setMemoryAndSwap`). OCI swap is memory+swap, exactly memsw.
fn set_memory_and_swap(
    dir: &Path,
    limit: Option<i64>,
    swap: Option<i64>,
) -> Result<(), CgroupError> {
    let limit = limit.filter(|&l| l != 0);
    // Unlimited memory and unset swap: unlimited swap, as on v2.
    let swap = match swap.filter(|&s| s != 0) {
        None if limit == Some(-1) => Some(-1),
        s => s,
    };
    let memsw_file = "memory.memsw.limit_in_bytes";
    // Without swap accounting the memsw file is absent; a requested swap
    // limit then fails on the write below with the file named.
    let has_memsw = dir.join(memsw_file).exists();
    let swap_first = match swap {
        Some(-1) => true,
        Some(s) => {
            let current = fs::read_u64_opt(dir, memsw_file)?.unwrap_or(0);
            u64::try_from(s).is_ok_and(|s| s > current)
        }
        None => false,
    };
    let write_swap = |s: i64| -> Result<(), CgroupError> {
        if s == -1 && !has_memsw {
            return Ok(());
        }
        fs::write(dir, memsw_file, &s.to_string())
    };
    if let (true, Some(s)) = (swap_first, swap) {
        write_swap(s)?;
    }
    if let Some(l) = limit {
        fs::write(dir, "memory.limit_in_bytes", &l.to_string())?;
    }
    if let (false, Some(s)) = (swap_first, swap) {
        write_swap(s)?;
    }
    Ok(())
}

/// `type major:minor access` as devices.allow/deny take it; missing parts
/// are wildcards (cgroup-v1/devices.rst).
fn device_rule(rule: &LinuxDeviceCgroup) -> String {
    let typ = rule.typ().unwrap_or(LinuxDeviceType::A);
    let typ = typ.as_str();
    let num = |n: Option<i64>| n.map_or_else(|| "*".to_string(), |n| n.to_string());
    let access = rule
        .access()
        .as_deref()
        .filter(|a| !a.is_empty())
        .unwrap_or("rwm");
    format!("{typ} {}:{} {access}", num(rule.major()), num(rule.minor()))
}

#[cfg(test)]
mod tests {
    use oci_spec::runtime::LinuxDeviceCgroupBuilder;

    use super::*;

    #[test]
    fn device_rules() {
        let all = LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .build()
            .unwrap();
        assert_eq!(device_rule(&all), "a *:* rwm");
        let null = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::C)
            .major(1)
            .minor(3)
            .access("rw")
            .build()
            .unwrap();
        assert_eq!(device_rule(&null), "c 1:3 rw");
    }
}
