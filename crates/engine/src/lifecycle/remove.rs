//! `rm [-f]`, `container prune`, `rename`, `pause`/`unpause`.

use std::path::PathBuf;

use crate::container::{Container, Status};
use crate::engine::Engine;
use crate::error::EngineError;
use crate::options::validate_name;
use crate::volume::Volumes;

impl Engine {
    /// Removes a container: refused while it runs unless `force`, which
    /// kills it first. Its rootfs, log and cgroup go with it.
    pub fn remove(&self, reference: &str, force: bool) -> Result<Container, EngineError> {
        let mut c = self.find(reference)?;
        if c.state.status.is_active() {
            if !force {
                return Err(EngineError::RemoveRunning {
                    name: c.name.clone(),
                    state: c.state.status.as_str().to_string(),
                });
            }
            c = self.force_kill(&c)?;
            if c.state.status.is_active() {
                return Err(EngineError::BadState {
                    id: c.id.clone(),
                    state: "still running after SIGKILL".into(),
                });
            }
        }
        crate::timing::mark("remove: found");
        self.remove_cgroup(&c.id);
        crate::timing::mark("remove: cgroup removed");
        self.store().remove_container_rootfs(&c.id)?;
        crate::timing::mark("remove: rootfs removed");
        // Drops its volume references; `--rm` also removes anonymous ones.
        crate::volume::release(self.store(), &c.id, c.host_config.auto_remove)?;
        crate::timing::mark("remove: volumes released");
        self.containers().remove(&c.id)?;
        Ok(c)
    }

    /// `run --rm`'s removal of the container this process has just run in
    /// the foreground and reaped: nothing to look up, kill or reconcile.
    /// The cgroup goes and the rootfs is moved into `tmp/`, then the row
    /// and its volume references go in one commit, so a kill -9 half-way
    /// leaves a row that the next command reconciles (exited, owner gone)
    /// and `rm` finishes. Returns the moved-aside tree, which the caller
    /// deletes (now, or after reporting the exit code: see
    /// [`Engine::run_foreground_then_exit`]).
    pub(crate) fn remove_after_run(&self, c: &Container) -> Result<Option<PathBuf>, EngineError> {
        self.remove_cgroup(&c.id);
        crate::timing::mark("remove: cgroup removed");
        let detached = self.store().detach_container_rootfs(&c.id)?;
        crate::timing::mark("remove: rootfs detached");
        // A container this process created without mounts has no volume
        // references to drop (and the volume tables may not even exist).
        let volumes = if crate::volume::known_without_mounts(self.store(), &c.id) {
            None
        } else {
            Some(Volumes::open(self.store())?)
        };
        let trash = self.store().db().write(|tx| -> Result<_, EngineError> {
            let trash = match &volumes {
                Some(v) => crate::volume::release_in(tx, v, &c.id, true)?,
                None => Vec::new(),
            };
            crate::container::remove_in(tx, &c.id)?;
            Ok(trash)
        })?;
        crate::volume::remove_trash(trash);
        crate::timing::mark("remove: row removed");
        Ok(detached)
    }

    /// Removes every stopped container; returns their ids.
    pub fn prune(&self) -> Result<Vec<String>, EngineError> {
        let mut removed = Vec::new();
        for c in self.list()? {
            let stopped = matches!(
                c.state.status,
                Status::Created | Status::Exited | Status::Dead
            );
            if stopped && c.state.monitor_pid == 0 && self.remove(&c.id, false).is_ok() {
                removed.push(c.id);
            }
        }
        Ok(removed)
    }

    /// Renames a container.
    pub fn rename(&self, reference: &str, new_name: &str) -> Result<(), EngineError> {
        let c = self.find(reference)?;
        let name = validate_name(new_name)?;
        self.containers().rename(&c.id, name)
    }

    /// Freezes every process of the container.
    pub fn pause(&self, reference: &str) -> Result<Container, EngineError> {
        let c = self.find(reference)?;
        match c.state.status {
            Status::Running => {}
            Status::Paused => {
                return Err(EngineError::BadState {
                    id: c.id,
                    state: "already paused".into(),
                })
            }
            _ => return Err(EngineError::NotRunning(c.id)),
        }
        let m = crate::lifecycle::start::cgroup(&c.id)?;
        m.freeze().map_err(|source| EngineError::Cgroup {
            id: c.id.clone(),
            source,
        })?;
        self.containers().update_state(&c.id, |s| {
            s.status = Status::Paused;
            Ok(())
        })?;
        self.find(&c.id)
    }

    /// Thaws a paused container.
    pub fn unpause(&self, reference: &str) -> Result<Container, EngineError> {
        let c = self.find(reference)?;
        if c.state.status != Status::Paused {
            return Err(EngineError::BadState {
                id: c.id,
                state: "not paused".into(),
            });
        }
        let m = crate::lifecycle::start::cgroup(&c.id)?;
        m.thaw().map_err(|source| EngineError::Cgroup {
            id: c.id.clone(),
            source,
        })?;
        self.containers().update_state(&c.id, |s| {
            if s.status == Status::Paused {
                s.status = Status::Running;
            }
            Ok(())
        })?;
        self.find(&c.id)
    }

    /// The host pids of the container's processes (for `top`).
    pub fn pids(&self, reference: &str) -> Result<(Container, Vec<i32>), EngineError> {
        let c = self.find(reference)?;
        if !c.state.status.is_active() {
            return Err(EngineError::NotRunning(c.id));
        }
        let m = crate::lifecycle::start::cgroup(&c.id)?;
        let pids = m.pids().map_err(|source| EngineError::Cgroup {
            id: c.id.clone(),
            source,
        })?;
        Ok((c, pids))
    }
}
