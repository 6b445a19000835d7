//! `list` and `ps`: every container of the root with its state, and the
//! pids of one container's cgroup.

use super::cgroup::{is_frozen, manager};
use super::ContainerError;
use crate::state::{status_of, StateJson, Status, Store};

/// One row of `list`.
pub type ListEntry = StateJson;

/// The state of every container of `store`, by id. A container whose
/// state cannot be read (being deleted at this moment) is skipped.
pub fn list(store: &Store) -> Result<Vec<ListEntry>, ContainerError> {
    let mut out = Vec::new();
    for id in store.ids()? {
        let Ok(rec) = store.peek(&id) else { continue };
        let status = status_of(&rec, &store.exec_fifo(&id), || is_frozen(&rec));
        out.push(StateJson::new(&rec, status));
    }
    Ok(out)
}

/// The pids (in the runtime's pid namespace) of every process of
/// container `id`, from its cgroup.
pub fn ps_pids(store: &Store, id: &str) -> Result<Vec<i32>, ContainerError> {
    let rec = store.peek(id)?;
    let status = status_of(&rec, &store.exec_fifo(id), || is_frozen(&rec));
    if status == Status::Stopped {
        return Err(ContainerError::NotRunning);
    }
    let cg = manager(&rec)?;
    cg.pids().map_err(|source| ContainerError::Cgroup {
        id: id.to_string(),
        source,
    })
}
