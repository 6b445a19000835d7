//! Control groups for berth containers: one interface over cgroup v1,
//! cgroup v2 and the hybrid layout.
//!
//! The runtime builds a [`Manager`] from the spec's `cgroupsPath`, calls
//! [`Manager::create`] and [`Manager::add_task`] for the init process
//! before it runs user code, [`Manager::apply`] for `linux.resources`, and
//! [`Manager::remove`] on delete.

mod bpf;
mod error;
mod fs;
mod manager;
mod mountinfo;
mod path;
mod resources;
mod v1;
mod v2;

pub use error::CgroupError;
pub use manager::{FreezerState, Manager, Stats};
pub use mountinfo::{own_cgroups, parse_proc_cgroup, CgroupMount, Layout, LayoutKind, OwnCgroup};
pub use path::CgroupsPath;
pub use resources::{check_cpuset, cpu_max, shares_to_weight, swap_v2, validate};
pub use v2::enable_controllers;
