//! Control groups for berth containers: one interface over cgroup v1,
//! cgroup v2 and the hybrid layout.
