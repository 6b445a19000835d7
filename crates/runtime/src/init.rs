//! Parent side of `spawn_init`: clone the init, drive it through setup.

use crate::error::SpawnError;
use crate::spawn::{InitHooks, InitOptions, InitProcess};

pub(crate) fn spawn(
    opts: &InitOptions,
    _hooks: &mut dyn InitHooks,
) -> Result<InitProcess, SpawnError> {
    Err(SpawnError::InvalidSpec {
        id: opts.id.into(),
        reason: "not implemented yet".into(),
    })
}
