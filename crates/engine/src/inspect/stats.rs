//! One `docker stats` sample of a container, read from its cgroup (v1,
//! hybrid or v2) the way Docker's daemon reads it: memory without the
//! inactive page cache, block I/O bytes summed over devices, the host's
//! cpu time from `/proc/stat` for the CPU % of two samples.

use std::path::{Path, PathBuf};

use cgroups::{LayoutKind, Manager};

use crate::container::Container;
use crate::engine::Engine;
use crate::error::EngineError;

/// What `stats` needs of one moment of a container; zero for what the
/// host does not account (e.g. a controller missing from the hierarchy).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSample {
    /// The container's cpu time, nanoseconds.
    pub cpu_ns: u64,
    /// The host's cpu time (all cpus, idle included), nanoseconds.
    pub system_ns: u64,
    /// Online cpus of the host.
    pub online_cpus: u64,
    /// Memory in use minus the inactive file cache, bytes.
    pub memory: u64,
    /// The memory limit, or the host's memory when unlimited, bytes.
    pub memory_limit: u64,
    /// Tasks in the cgroup.
    pub pids: u64,
    /// Bytes read from block devices.
    pub block_read: u64,
    /// Bytes written to block devices.
    pub block_write: u64,
}

impl StatsSample {
    /// Docker's CPU %: the container's share of the host's cpu time between
    /// two samples, times the cpus (100% = one cpu busy).
    pub fn cpu_percent(&self, before: &StatsSample) -> f64 {
        let cpu = self.cpu_ns.saturating_sub(before.cpu_ns) as f64;
        let system = self.system_ns.saturating_sub(before.system_ns) as f64;
        if cpu > 0.0 && system > 0.0 {
            cpu / system * self.online_cpus as f64 * 100.0
        } else {
            0.0
        }
    }

    /// Docker's MEM %.
    pub fn memory_percent(&self) -> f64 {
        if self.memory_limit == 0 {
            return 0.0;
        }
        self.memory as f64 / self.memory_limit as f64 * 100.0
    }
}

impl Engine {
    /// A sample of running container `c`.
    pub fn stats_sample(&self, c: &Container) -> Result<StatsSample, EngineError> {
        let manager = self.cgroup(&c.id)?;
        let stats = manager.stats().map_err(|source| EngineError::Cgroup {
            id: c.id.clone(),
            source,
        })?;
        let dirs = controller_dirs(&manager);
        let read = |file: &str| -> Option<String> {
            dirs.iter()
                .find_map(|d| std::fs::read_to_string(d.join(file)).ok())
        };
        let usage = stats.memory_usage.unwrap_or(0);
        let inactive = read("memory.stat").map_or(0, |s| inactive_file(&s));
        let host_memory = read_host_memory().unwrap_or(0);
        let limit = match stats.memory_limit {
            Some(l) if host_memory == 0 || l < host_memory => l,
            _ => host_memory,
        };
        let (block_read, block_write) = if let Some(s) = read("io.stat") {
            io_stat_v2(&s)
        } else if let Some(s) = read("blkio.throttle.io_service_bytes_recursive")
            .filter(|s| !s.trim().is_empty())
            .or_else(|| read("blkio.throttle.io_service_bytes"))
        {
            blkio_v1(&s)
        } else {
            (0, 0)
        };
        Ok(StatsSample {
            cpu_ns: stats.cpu_usage_ns.unwrap_or(0),
            system_ns: std::fs::read_to_string("/proc/stat")
                .ok()
                .and_then(|s| system_cpu_ns(&s, clock_ticks()))
                .unwrap_or(0),
            online_cpus: online_cpus(),
            // As Docker: usage minus inactive file pages when they fit.
            memory: if inactive < usage {
                usage - inactive
            } else {
                usage
            },
            memory_limit: limit,
            pids: stats.pids_current.unwrap_or(0),
            block_read,
            block_write,
        })
    }
}

/// The directories that may hold a controller's files: on v2 the one
/// directory; on v1/hybrid every hierarchy's (each file exists in one).
fn controller_dirs(m: &Manager) -> Vec<PathBuf> {
    match m.kind() {
        LayoutKind::V2 => m.unified_dir().map(Path::to_path_buf).into_iter().collect(),
        LayoutKind::V1 | LayoutKind::Hybrid => m.dirs(),
    }
}

/// `total_inactive_file` (v1, hierarchical) or `inactive_file` (v2) of a
/// `memory.stat`.
fn inactive_file(memory_stat: &str) -> u64 {
    let field = |name: &str| {
        memory_stat.lines().find_map(|l| {
            let (k, v) = l.split_once(' ')?;
            (k == name).then(|| v.trim().parse::<u64>().ok()).flatten()
        })
    };
    field("total_inactive_file")
        .or_else(|| field("inactive_file"))
        .unwrap_or(0)
}

/// v1 `blkio.throttle.io_service_bytes`: `MAJ:MIN Read N` lines.
fn blkio_v1(text: &str) -> (u64, u64) {
    let (mut read, mut write) = (0, 0);
    for l in text.lines() {
        let mut f = l.split_whitespace();
        let (Some(_dev), Some(op), Some(n)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let n: u64 = n.parse().unwrap_or(0);
        match op.to_ascii_lowercase().as_str() {
            "read" => read += n,
            "write" => write += n,
            _ => {}
        }
    }
    (read, write)
}

/// v2 `io.stat`: `MAJ:MIN rbytes=N wbytes=N rios=N …` lines.
fn io_stat_v2(text: &str) -> (u64, u64) {
    let (mut read, mut write) = (0, 0);
    for field in text.split_whitespace() {
        if let Some(n) = field.strip_prefix("rbytes=") {
            read += n.parse::<u64>().unwrap_or(0);
        } else if let Some(n) = field.strip_prefix("wbytes=") {
            write += n.parse::<u64>().unwrap_or(0);
        }
    }
    (read, write)
}

/// The host's cpu time from `/proc/stat`'s `cpu` line, as Docker sums it
/// (user, nice, system, idle, iowait, irq, softirq), in nanoseconds.
fn system_cpu_ns(proc_stat: &str, ticks_per_sec: u64) -> Option<u64> {
    let line = proc_stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: u64 = line
        .split_whitespace()
        .skip(1)
        .take(7)
        .map(|v| v.parse::<u64>().unwrap_or(0))
        .sum();
    Some(ticks.saturating_mul(1_000_000_000) / ticks_per_sec.max(1))
}

fn clock_ticks() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .map_or(100, |v| v as u64)
}

fn online_cpus() -> u64 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u64)
}

/// `MemTotal` of `/proc/meminfo`, bytes.
fn read_host_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_files_parse_as_docker_reads_them() {
        let v1_mem =
            "cache 8192\ninactive_file 4096\ntotal_cache 8192\ntotal_inactive_file 12288\n";
        assert_eq!(inactive_file(v1_mem), 12288);
        let v2_mem = "anon 1000\nfile 5000\ninactive_file 3000\nactive_file 2000\n";
        assert_eq!(inactive_file(v2_mem), 3000);
        let blkio = "8:0 Read 4096\n8:0 Write 512\n8:0 Sync 4608\n8:16 Read 100\nTotal 4708\n";
        assert_eq!(blkio_v1(blkio), (4196, 512));
        let io =
            "8:0 rbytes=4096 wbytes=512 rios=1 wios=1 dbytes=0 dios=0\n8:16 rbytes=100 wbytes=0\n";
        assert_eq!(io_stat_v2(io), (4196, 512));
        let stat = "cpu  100 20 30 400 5 6 7 8 0 0\ncpu0 50 10 15 200 2 3 3 4 0 0\n";
        // 568 ticks (steal not counted) at 100 Hz.
        assert_eq!(system_cpu_ns(stat, 100), Some(5_680_000_000));
    }

    #[test]
    fn percentages_as_docker() {
        let before = StatsSample {
            cpu_ns: 1_000,
            system_ns: 10_000,
            online_cpus: 2,
            ..Default::default()
        };
        let after = StatsSample {
            cpu_ns: 2_000,
            system_ns: 14_000,
            memory: 50,
            memory_limit: 200,
            ..before
        };
        assert_eq!(after.cpu_percent(&before), 50.0);
        assert_eq!(before.cpu_percent(&before), 0.0);
        assert_eq!(after.memory_percent(), 25.0);
        assert_eq!(before.memory_percent(), 0.0);
    }
}
