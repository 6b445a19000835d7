//! The container's cgroup, rebuilt by every verb from what `create`
//! recorded: a relative `cgroupsPath` is resolved against the cgroups the
//! *creating* process was in, not those of a later `delete` or `ps`.

use std::path::Path;

use cgroups::{CgroupsPath, Layout, Manager};
use oci_spec::runtime::{LinuxDeviceCgroupBuilder, LinuxDeviceType, LinuxResources};

use super::ContainerError;
use crate::state::Record;

/// The caller's own cgroups, as `/proc/self/cgroup` shows them (recorded
/// at create).
pub fn own_cgroups_text() -> String {
    std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default()
}

/// The cgroup manager for `cgroups_path` of container `id`, for a creator
/// whose `/proc/self/cgroup` was `own`.
pub fn manager_for(
    id: &str,
    cgroups_path: Option<&str>,
    own: &str,
) -> Result<Manager, ContainerError> {
    let err = |source| ContainerError::Cgroup {
        id: id.to_string(),
        source,
    };
    let path = CgroupsPath::parse(cgroups_path, id).map_err(err)?;
    let layout = Layout::detect().map_err(err)?;
    let own = cgroups::parse_proc_cgroup(own, Path::new("/proc/self/cgroup")).map_err(err)?;
    Ok(Manager::with_layout(&layout, &own, &path))
}

/// The manager of a created container.
pub fn manager(rec: &Record) -> Result<Manager, ContainerError> {
    let path = rec
        .config
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().as_ref())
        .map(|p| p.display().to_string());
    manager_for(&rec.id, path.as_deref(), &rec.own_cgroups)
}

/// Whether the container's cgroup is frozen (`paused`); false when it
/// cannot be told.
pub fn is_frozen(rec: &Record) -> bool {
    manager(rec)
        .ok()
        .and_then(|m| m.freezer_state().ok())
        .is_some_and(|s| s == cgroups::FreezerState::Frozen)
}

/// `res` with runc's default device rules appended after the spec's own:
/// the standard nodes the runtime creates in `/dev` (null, zero, full,
/// random, urandom, tty, console, ptmx, pts) stay usable even when the
/// spec starts with "deny all", as `runc spec` does. Later rules win.
///
/// A spec without device rules gets none: no rule means no restriction,
/// and a list of allow rules alone would make cgroup v2's filter deny the
/// rest.
pub fn with_default_devices(res: &LinuxResources) -> LinuxResources {
    let mut res = res.clone();
    let mut rules = res.devices().clone().unwrap_or_default();
    if rules.is_empty() {
        return res;
    }
    let rule = |typ: LinuxDeviceType, major: Option<i64>, minor: Option<i64>, access: &str| {
        let mut b = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(typ)
            .access(access);
        if let Some(m) = major {
            b = b.major(m);
        }
        if let Some(m) = minor {
            b = b.minor(m);
        }
        b.build().expect("all fields set")
    };
    use LinuxDeviceType::{B, C};
    rules.extend([
        rule(C, None, None, "m"),
        rule(B, None, None, "m"),
        rule(C, Some(1), Some(3), "rwm"),
        rule(C, Some(1), Some(8), "rwm"),
        rule(C, Some(1), Some(7), "rwm"),
        rule(C, Some(5), Some(0), "rwm"),
        rule(C, Some(1), Some(5), "rwm"),
        rule(C, Some(1), Some(9), "rwm"),
        rule(C, Some(5), Some(1), "rwm"),
        rule(C, Some(136), None, "rwm"),
        rule(C, Some(5), Some(2), "rwm"),
    ]);
    res.set_devices(Some(rules));
    res
}

#[cfg(test)]
mod tests {
    use oci_spec::runtime::LinuxResourcesBuilder;

    use super::*;

    #[test]
    fn default_devices_follow_a_deny_all_but_not_an_empty_list() {
        let none = LinuxResources::default();
        assert!(with_default_devices(&none).devices().is_none());
        let deny = LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()
            .unwrap();
        let res = LinuxResourcesBuilder::default()
            .devices(vec![deny])
            .build()
            .unwrap();
        let rules = with_default_devices(&res).devices().clone().unwrap();
        assert!(!rules[0].allow(), "the spec's rule stays first");
        assert!(rules
            .iter()
            .any(|r| r.allow() && r.major() == Some(1) && r.minor() == Some(3)));
    }
}
