//! `inspect` and `ps` views of a container in Docker's shapes: the
//! inspect JSON (Id, Created, Path, Args, State, Image, Name, HostConfig,
//! GraphDriver, Mounts, Config, …) and the human STATUS column.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

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

    /// The container as `docker inspect` shows it.
    pub fn inspect_json(&self, c: &Container) -> Value {
        let dir = self.container_dir(&c.id);
        let layout = c
            .image_id
            .parse()
            .ok()
            .and_then(|id| self.store().container_rootfs_layout(&id, &c.id).ok());
        let graph = layout.map(|l| {
            let lower: Vec<String> = l.lower.iter().map(|p| p.display().to_string()).collect();
            json!({
                "Data": {
                    "LowerDir": lower.join(":"),
                    "MergedDir": l.rootfs,
                    "UpperDir": l.upper,
                    "WorkDir": l.work,
                },
                "Name": "overlay2",
            })
        });
        let h = &c.host_config;
        let args: Vec<&String> = c.config.entrypoint.iter().chain(&c.config.cmd).collect();
        let (path, rest) = args
            .split_first()
            .map_or((String::new(), vec![]), |(p, r)| ((*p).clone(), r.to_vec()));
        let s = &c.state;
        json!({
            "Id": c.id,
            "Created": c.created,
            "Path": path,
            "Args": rest,
            "State": {
                "Status": s.status.as_str(),
                "Running": s.status.is_active(),
                "Paused": s.status == Status::Paused,
                "Restarting": s.status == Status::Restarting,
                "OOMKilled": false,
                "Dead": s.status == Status::Dead,
                "Pid": if s.status.is_active() { s.pid } else { 0 },
                "ExitCode": s.exit_code,
                "Error": s.error,
                "StartedAt": s.started_at,
                "FinishedAt": s.finished_at,
            },
            "Image": c.image_id,
            "ResolvConfPath": dir.join("init/etc/resolv.conf"),
            "HostnamePath": dir.join("init/etc/hostname"),
            "HostsPath": dir.join("init/etc/hosts"),
            "LogPath": self.log_path(&c.id),
            "Name": format!("/{}", c.name),
            "RestartCount": 0,
            "Driver": "overlay2",
            "Platform": "linux",
            "HostConfig": {
                "NetworkMode": h.network.as_str(),
                "AutoRemove": h.auto_remove,
                "Privileged": h.privileged,
                "ReadonlyRootfs": h.read_only,
                "CapAdd": h.cap_add,
                "CapDrop": h.cap_drop,
                "SecurityOpt": h.security_opt,
                "Memory": h.memory.unwrap_or(0),
                "NanoCpus": h.nano_cpus.unwrap_or(0),
                "PidsLimit": h.pids_limit,
                "Ulimits": h.ulimits,
                "Init": h.init,
                "LogConfig": {"Type": "json-file", "Config": {}},
                "CgroupParent": "",
                "ShmSize": 67108864,
            },
            "GraphDriver": graph,
            "Mounts": crate::volume::inspect_mounts(self.store(), &c.id),
            "Config": {
                "Hostname": c.config.hostname,
                "Domainname": "",
                "User": c.config.user,
                "AttachStdin": h.interactive && !h.detach,
                "AttachStdout": !h.detach,
                "AttachStderr": !h.detach,
                "Tty": c.config.tty,
                "OpenStdin": c.config.open_stdin,
                "StdinOnce": h.interactive && !h.detach,
                "Env": c.config.env,
                "Cmd": c.config.cmd,
                "Image": c.config.image,
                "Volumes": null,
                "WorkingDir": c.config.working_dir,
                "Entrypoint": if c.config.entrypoint.is_empty() { Value::Null } else { json!(c.config.entrypoint) },
                "Labels": c.config.labels,
                "StopSignal": c.config.stop_signal,
                "StopTimeout": c.config.stop_timeout,
            },
            "NetworkSettings": {"Networks": {}},
        })
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
