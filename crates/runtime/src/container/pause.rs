//! `pause` / `resume`: freeze and thaw every process of the container
//! through its cgroup's freezer.

use super::cgroup::{is_frozen, manager};
use super::ContainerError;
use crate::state::{Status, Store};

/// Freezes running container `id`.
pub fn pause(store: &Store, id: &str) -> Result<(), ContainerError> {
    let dir = store.open(id)?;
    let rec = dir.load()?;
    match dir.status(&rec, || is_frozen(&rec)) {
        Status::Running => {}
        Status::Paused => return Ok(()),
        _ => return Err(ContainerError::NotRunning),
    }
    manager(&rec)?
        .freeze()
        .map_err(|source| ContainerError::Cgroup {
            id: id.to_string(),
            source,
        })
}

/// Thaws paused container `id`.
pub fn resume(store: &Store, id: &str) -> Result<(), ContainerError> {
    let dir = store.open(id)?;
    let rec = dir.load()?;
    if dir.status(&rec, || is_frozen(&rec)) != Status::Paused {
        return Err(ContainerError::WrongStatus {
            id: id.to_string(),
            expected: "paused",
        });
    }
    manager(&rec)?
        .thaw()
        .map_err(|source| ContainerError::Cgroup {
            id: id.to_string(),
            source,
        })
}
