//! `delete`: remove a container's resources — kill what is left of it,
//! remove its cgroup, run the `poststop` hooks, remove its state.

use std::time::Duration;

use nix::sys::signal::Signal;
use oci_spec::runtime::ContainerState;

use super::cgroup::{is_frozen, manager};
use super::kill::{signal_init, wait_init_gone};
use super::ContainerError;
use crate::hooks::run_hooks;
use crate::state::{ContainerDir, Record, StateError, Status, Store};

/// How long `delete` waits for a killed init to exit.
const KILL_WAIT: Duration = Duration::from_secs(10);

/// Deletes container `id`. A created or stopped container is deleted as
/// is; a running or paused one only with `force` (it is killed first), as
/// runc. Returns the warnings of failed `poststop` hooks.
///
/// A container that does not exist is an error without `force` and a
/// success with it, as in runc; either way the directory an interrupted
/// `create` left without a record is removed.
pub fn delete(store: &Store, id: &str, force: bool) -> Result<Vec<String>, ContainerError> {
    let dir = match store.open(id) {
        Err(StateError::NotFound(_)) => {
            store.remove_aborted(id)?;
            if force {
                return Ok(Vec::new());
            }
            return Err(StateError::NotFound(id.to_string()).into());
        }
        r => r?,
    };
    let rec = dir.load()?;
    match dir.status(&rec, || is_frozen(&rec)) {
        Status::Stopped => {}
        Status::Created => kill_init(&rec)?,
        status @ (Status::Running | Status::Paused) => {
            if !force {
                return Err(ContainerError::DeleteNotStopped {
                    id: id.to_string(),
                    status,
                });
            }
            kill_init(&rec)?;
        }
    }
    destroy(dir, &rec)
}

/// SIGKILL the init (through the cgroup too, so a frozen container dies)
/// and wait for it to exit.
fn kill_init(rec: &Record) -> Result<(), ContainerError> {
    signal_init(rec, Signal::SIGKILL)?;
    if let Ok(cg) = manager(rec) {
        // A frozen (paused) process only dies once thawed on cgroup v1.
        let _ = cg.kill_all(Signal::SIGKILL);
        let _ = cg.thaw();
    }
    if !wait_init_gone(rec, KILL_WAIT)? {
        return Err(ContainerError::sys(
            format!("kill container {} (pid {})", rec.id, rec.pid),
            std::io::Error::from(std::io::ErrorKind::TimedOut),
        ));
    }
    Ok(())
}

/// Removes the cgroup (killing stragglers), runs `poststop`, removes the
/// state dir. Also the last step of a foreground `run`.
pub(crate) fn destroy(dir: ContainerDir, rec: &Record) -> Result<Vec<String>, ContainerError> {
    let cg = manager(rec)?;
    if cg.exists() {
        let cgroup_err = |source| ContainerError::Cgroup {
            id: rec.id.clone(),
            source,
        };
        cg.kill_all(Signal::SIGKILL).map_err(cgroup_err)?;
        cg.remove().map_err(cgroup_err)?;
    }
    let hooks = rec
        .config
        .hooks()
        .as_ref()
        .and_then(|h| h.poststop().clone())
        .unwrap_or_default();
    let mut warnings = Vec::new();
    if let Err(e) = run_hooks(&hooks, &rec.oci_state(ContainerState::Stopped)) {
        warnings.push(format!("poststop hook of container {}: {e}", rec.id));
    }
    dir.remove()?;
    Ok(warnings)
}
