//! `spawn_exec`: run an extra process inside a running container.

use nix::unistd::Pid;

use crate::error::SpawnError;
use crate::spawn::ExecOptions;

pub(crate) fn spawn(opts: &ExecOptions) -> Result<Pid, SpawnError> {
    Err(SpawnError::InvalidSpec {
        id: opts.id.into(),
        reason: "not implemented yet".into(),
    })
}
