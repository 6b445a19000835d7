//! Is a recorded process still the one we started? A pid is checked with
//! its start time (pids are reused) and the boot it belongs to.

use std::sync::OnceLock;

/// This boot's id; pids recorded under another boot are all gone.
pub fn boot_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    })
}

/// The start time of `pid` in clock ticks after boot, and whether it is a
/// zombie; `None` if no such process.
fn stat(pid: i32) -> Option<(u64, bool)> {
    let s = runtime::state::proc_stat(pid)?;
    Some((s.start_time, s.state == 'Z' || s.state == 'X'))
}

/// The start time of a live process.
pub fn process_start_time(pid: i32) -> Option<u64> {
    stat(pid).map(|(t, _)| t)
}

/// This process's start time (0 if `/proc` cannot tell), read once.
pub fn self_start_time() -> u64 {
    static START: OnceLock<u64> = OnceLock::new();
    *START.get_or_init(|| process_start_time(std::process::id() as i32).unwrap_or(0))
}

/// A process recorded by pid, start time and boot.
#[derive(Debug, Clone, Copy)]
pub struct ProcessRef<'a> {
    /// The pid.
    pub pid: i32,
    /// Its start time.
    pub start: u64,
    /// The boot it was recorded in.
    pub boot_id: &'a str,
}

impl ProcessRef<'_> {
    /// True if that very process still exists and has not exited.
    pub fn alive(&self) -> bool {
        if self.pid <= 0 || self.boot_id != boot_id() {
            return false;
        }
        matches!(stat(self.pid), Some((t, zombie)) if t == self.start && !zombie)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_is_alive_and_reuse_is_detected() {
        let pid = std::process::id() as i32;
        let start = process_start_time(pid).unwrap();
        assert!(ProcessRef {
            pid,
            start,
            boot_id: boot_id()
        }
        .alive());
        assert!(!ProcessRef {
            pid,
            start: start + 1,
            boot_id: boot_id()
        }
        .alive());
        assert!(!ProcessRef {
            pid,
            start,
            boot_id: "another-boot"
        }
        .alive());
        assert!(!ProcessRef {
            pid: 0,
            start,
            boot_id: boot_id()
        }
        .alive());
    }
}
