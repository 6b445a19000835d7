//! `inspect` and `ps` views of a container in Docker's shapes: the
//! inspect document (in [`doc`], Docker's key order), the sizes of
//! `ps -s`/`inspect -s`, the `stats` samples and the human STATUS column.

mod doc;
mod stats;

use chrono::{DateTime, Utc};
use serde_json::Value;

pub use doc::ContainerDoc;
pub use stats::StatsSample;

use crate::container::{Container, Status};
use crate::engine::Engine;

/// Docker's `units.HumanDuration`.
pub fn human_duration(d: chrono::Duration) -> String {
    let secs = d.num_seconds();
    if secs < 1 {
        return "Less than a second".into();
    }
    if secs == 1 {
        return "1 second".into();
    }
    if secs < 60 {
        return format!("{secs} seconds");
    }
    let mins = d.num_minutes();
    if mins == 1 {
        return "About a minute".into();
    }
    if mins < 60 {
        return format!("{mins} minutes");
    }
    let hours = (d.num_seconds() as f64 / 3600.0).round() as i64;
    if hours == 1 {
        return "About an hour".into();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    // Docker truncates here where it rounded above.
    format!("{} years", d.num_hours() / 24 / 365)
}

fn since(t: &str) -> chrono::Duration {
    DateTime::parse_from_rfc3339(t).map_or(chrono::Duration::zero(), |t| {
        Utc::now() - t.with_timezone(&Utc)
    })
}

/// The STATUS column of `ps`: `Up 5 seconds`, `Up 2 minutes (Paused)`,
/// `Exited (0) 3 seconds ago`, `Created`.
pub fn status_text(c: &Container) -> String {
    let s = &c.state;
    match s.status {
        Status::Running => format!("Up {}", human_duration(since(&s.started_at))),
        Status::Paused => format!("Up {} (Paused)", human_duration(since(&s.started_at))),
        Status::Restarting => format!(
            "Restarting ({}) {} ago",
            s.exit_code,
            human_duration(since(&s.finished_at))
        ),
        Status::Removing => "Removal In Progress".into(),
        Status::Dead => "Dead".into(),
        Status::Created => "Created".into(),
        Status::Exited => format!(
            "Exited ({}) {} ago",
            s.exit_code,
            human_duration(since(&s.finished_at))
        ),
    }
}

/// A container's disk use, as Docker's `SizeRw` and `SizeRootFs`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContainerSize {
    /// Bytes in the writable layer (what the container wrote).
    pub rw: u64,
    /// The image's layers plus the writable layer.
    pub root_fs: u64,
}

impl Engine {
    /// Sizes files as Docker's overlay2 driver does (regular files and
    /// symlinks, each hard link once, directories 0); an image or layer
    /// that is gone counts 0.
    pub fn container_size(&self, c: &Container) -> ContainerSize {
        let Ok(image) = c.image_id.parse() else {
            return ContainerSize::default();
        };
        let rw = self
            .store()
            .container_rootfs_layout(&image, &c.id)
            .map_or(0, |l| storage::dir_size(&l.upper));
        let image = self.store().image(&image).map_or(0, |i| i.size);
        ContainerSize {
            rw,
            root_fs: image + rw,
        }
    }

    /// The container as `docker inspect` shows it, as a value for
    /// templates (keys sorted: print [`Engine::inspect_doc`] for Docker's
    /// order).
    pub fn inspect_json(&self, c: &Container) -> Value {
        serde_json::to_value(self.inspect_doc(c, false)).unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_dockers() {
        let s = chrono::Duration::seconds;
        assert_eq!(human_duration(s(0)), "Less than a second");
        assert_eq!(human_duration(s(1)), "1 second");
        assert_eq!(human_duration(s(45)), "45 seconds");
        assert_eq!(human_duration(s(90)), "About a minute");
        assert_eq!(human_duration(s(600)), "10 minutes");
        assert_eq!(human_duration(s(3600)), "About an hour");
        assert_eq!(human_duration(s(5 * 3600)), "5 hours");
        assert_eq!(human_duration(s(3 * 86400)), "3 days");
    }
}
