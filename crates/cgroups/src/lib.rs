//! Control groups for berth containers: one interface over cgroup v1,
//! cgroup v2 and the hybrid layout.
//!
//! The runtime builds a [`Manager`] from the spec's `cgroupsPath`, calls
//! [`Manager::create`] and [`Manager::open_unified`] before the clone (the
//! init starts inside its cgroup2 directory with `CLONE_INTO_CGROUP`),
//! then [`Manager::add_task_except_unified`] for the v1 hierarchies, or
//! [`Manager::add_task`] everywhere when the kernel could not, before the
//! init runs user code, [`Manager::apply`] for `linux.resources`,
//! [`Manager::freeze`]/[`Manager::thaw`] for pause, [`Manager::pids`] and
//! [`Manager::kill_all`] for `ps` and `kill --all`, [`Manager::stats`], and
//! [`Manager::remove`] on delete.
//!
//! The layout is read from `/proc/thread-self/mountinfo` ([`Layout`]):
//! pure v2, v1, or hybrid (v1 controllers plus a controller-less cgroup2
//! mount, which gets the process too so cgroup2-aware tools see it).
//!
//! | OCI `linux.resources` | cgroup v1                         | cgroup v2                     |
//! |-----------------------|-----------------------------------|-------------------------------|
//! | `memory.limit`        | `memory.limit_in_bytes`           | `memory.max`                  |
//! | `memory.swap` (mem+swap) | `memory.memsw.limit_in_bytes`  | `memory.swap.max` = swap − limit |
//! | `memory.reservation`  | `memory.soft_limit_in_bytes`      | `memory.low`                  |
//! | `cpu.shares`          | `cpu.shares`                      | `cpu.weight` ([`shares_to_weight`]) |
//! | `cpu.quota`/`period`  | `cpu.cfs_quota_us`/`cfs_period_us`| `cpu.max` ([`cpu_max`])       |
//! | `cpu.cpus`/`mems`     | `cpuset.cpus`/`cpuset.mems`       | same                          |
//! | `pids.limit` (≤0 = max) | `pids.max`                      | `pids.max`                    |
//! | `hugepageLimits`      | `hugetlb.<size>.limit_in_bytes`   | `hugetlb.<size>.max`          |
//! | `blockIO`             | `blkio.weight`, `blkio.throttle.*`| `io.weight`, `io.max`         |
//! | `devices`             | `devices.allow`/`devices.deny`    | eBPF device program           |
//! | `unified`             | refused (hybrid: to cgroup2)      | written as given              |
//!
//! On a hybrid host, hugetlb, pids and memory limits whose controller no
//! v1 hierarchy carries go to the cgroup2 side when its root offers them
//! (hugetlb on the CI machine), with the controllers delegated down.
//!
//! Every value is checked ([`validate`]) before the first write.
//!
//! On cgroup v2 the device rules become an eBPF program attached to the
//! container's cgroup. A loaded program is kept for reuse, attached to the
//! empty cgroup [`CACHE_NAME`] at the root of the hierarchy (see
//! [`Manager::set_device_filter_cache`]), so only the first container with
//! a given rule list pays for the verifier and the JIT.

mod bpf;
mod devcache;
mod devfilter;
mod error;
mod fs;
mod manager;
mod mountinfo;
mod path;
mod resources;
mod v1;
mod v2;

pub use devcache::{device_filter_stats, VerifierStats, CACHE_NAME};
pub use error::CgroupError;
pub use manager::{FreezerState, Manager, Stats};
pub use mountinfo::{own_cgroups, parse_proc_cgroup, CgroupMount, Layout, LayoutKind, OwnCgroup};
pub use path::CgroupsPath;
pub use resources::{check_cpuset, cpu_max, shares_to_weight, swap_v2, validate};
pub use v2::enable_controllers;
