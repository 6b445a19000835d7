//! `state`: the runtime-spec state of one container, as runc prints it.

use super::cgroup::is_frozen;
use super::ContainerError;
use crate::state::{status_of, StateJson, Store};

/// The state of container `id`. Reads without the lock: `state.json` is
/// replaced atomically, and `state` must answer while `start` waits.
pub fn state(store: &Store, id: &str) -> Result<StateJson, ContainerError> {
    let rec = store.peek(id)?;
    let status = status_of(&rec, &store.exec_fifo(id), || is_frozen(&rec));
    Ok(StateJson::new(&rec, status))
}
