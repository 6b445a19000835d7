//! `update`: change a live container's cgroup limits (runc `update
//! --resources`, which containerd's CRI uses to resize containers).

use oci_spec::runtime::LinuxResources;

use super::cgroup::{is_frozen, manager};
use super::ContainerError;
use crate::state::{Status, Store};

/// Applies `res` to container `id`'s cgroup and records it in the
/// container's spec (each controller section given replaces the old one),
/// so later verbs see the new limits.
pub fn update(store: &Store, id: &str, res: &LinuxResources) -> Result<(), ContainerError> {
    let dir = store.open(id)?;
    let mut rec = dir.load()?;
    if dir.status(&rec, || is_frozen(&rec)) == Status::Stopped {
        return Err(ContainerError::NotRunning);
    }
    manager(&rec)?
        .apply(res)
        .map_err(|source| ContainerError::Cgroup {
            id: id.to_string(),
            source,
        })?;
    let mut linux = rec.config.linux().clone().unwrap_or_default();
    linux.set_resources(Some(merge(
        linux.resources().clone().unwrap_or_default(),
        res,
    )));
    rec.config.set_linux(Some(linux));
    dir.save(&rec)?;
    Ok(())
}

/// `old` with every section that `new` sets replaced.
fn merge(mut old: LinuxResources, new: &LinuxResources) -> LinuxResources {
    if new.devices().is_some() {
        old.set_devices(new.devices().clone());
    }
    if new.memory().is_some() {
        old.set_memory(*new.memory());
    }
    if new.cpu().is_some() {
        old.set_cpu(new.cpu().clone());
    }
    if new.pids().is_some() {
        old.set_pids(*new.pids());
    }
    if new.block_io().is_some() {
        old.set_block_io(new.block_io().clone());
    }
    if new.hugepage_limits().is_some() {
        old.set_hugepage_limits(new.hugepage_limits().clone());
    }
    if new.unified().is_some() {
        old.set_unified(new.unified().clone());
    }
    old
}
