//! Container records: what `berth.db` keeps per container (config, host
//! config, state) and how a state is checked against the live system.

mod db;
mod liveness;
mod names;

use serde::{Deserialize, Serialize};

pub(crate) use self::db::remove_in;
pub use self::db::{Containers, MIGRATIONS};
pub use self::liveness::{boot_id, process_start_time, self_start_time, ProcessRef};
pub use self::names::{random_id, random_name};
use crate::options::RunOptions;
use crate::spec::ContainerConfig;

/// Docker's zero time, shown for times that never happened.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// The exit code recorded when a container's end was not witnessed (its
/// monitor was killed, or the machine rebooted).
pub const EXIT_UNKNOWN: i32 = 255;

/// Docker's container status words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Created, never started (or being started).
    Created,
    /// The init process runs.
    Running,
    /// Frozen.
    Paused,
    /// Being restarted.
    Restarting,
    /// Being removed.
    Removing,
    /// The init process ended.
    Exited,
    /// Could not be cleaned up.
    Dead,
}

impl Status {
    /// The lowercase word (`running`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Removing => "removing",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }

    /// Running or paused: a process exists.
    pub fn is_active(self) -> bool {
        matches!(self, Status::Running | Status::Paused)
    }
}

/// The mutable part of a container record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Status.
    pub status: Status,
    /// The init's host pid (0 when none).
    pub pid: i32,
    /// The init's start time in ticks after boot (guards against pid reuse).
    pub pid_start: u64,
    /// The process that owns the container: the detached monitor, or the
    /// foreground `berth run`.
    pub monitor_pid: i32,
    /// The owner's start time.
    pub monitor_start: u64,
    /// The boot the pids belong to (`/proc/sys/kernel/random/boot_id`).
    pub boot_id: String,
    /// The exit code of the last run.
    pub exit_code: i32,
    /// Why the last start failed, if it did.
    pub error: String,
    /// RFC 3339 start time of the last run.
    pub started_at: String,
    /// RFC 3339 end time of the last run.
    pub finished_at: String,
}

impl Default for State {
    fn default() -> Self {
        State {
            status: Status::Created,
            pid: 0,
            pid_start: 0,
            monitor_pid: 0,
            monitor_start: 0,
            boot_id: String::new(),
            exit_code: 0,
            error: String::new(),
            started_at: ZERO_TIME.to_string(),
            finished_at: ZERO_TIME.to_string(),
        }
    }
}

/// One container as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Container {
    /// 64 hex digits.
    pub id: String,
    /// The name, without Docker's leading `/`.
    pub name: String,
    /// The image id (`sha256:…`).
    pub image_id: String,
    /// RFC 3339 creation time.
    pub created: String,
    /// Config (image config with the run options applied).
    pub config: ContainerConfig,
    /// The validated run options (Docker's HostConfig).
    pub host_config: RunOptions,
    /// The state.
    pub state: State,
}

impl Container {
    /// The first 12 hex digits of the id, as `ps` shows it.
    pub fn short_id(&self) -> &str {
        &self.id[..12.min(self.id.len())]
    }
}

/// The current time in Docker's format (RFC 3339, nanoseconds, `Z`).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}
