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

/// `res` with runc's device policy: deny everything, then the spec's own
/// rules, then the default allowed nodes the runtime creates in `/dev`
/// (null, zero, full, random, urandom, tty, console, ptmx, pts). Later
/// rules win.
///
/// runc starts from a deny-all allow-list whatever the spec says, so a
/// spec without device rules gets the defaults only, not the host's disks
/// (`mknod /dev/sda` with CAP_MKNOD). A spec that wants every device says
/// so with `{allow: true, access: "rwm"}`, as `docker --privileged` does.
pub fn with_default_devices(res: &LinuxResources) -> LinuxResources {
    let mut res = res.clone();
    let deny_all = LinuxDeviceCgroupBuilder::default()
        .allow(false)
        .access("rwm")
        .build()
        .expect("all fields set");
    let mut rules = vec![deny_all];
    rules.extend(res.devices().clone().unwrap_or_default());
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
    fn no_device_rules_means_deny_all_but_the_defaults() {
        let rules = with_default_devices(&LinuxResources::default())
            .devices()
            .clone()
            .expect("rules even for a spec without any");
        assert!(!rules[0].allow() && rules[0].access().as_deref() == Some("rwm"));
        assert!(rules[0].typ().is_none_or(|t| t == LinuxDeviceType::A));
        // No later rule reopens everything (e.g. block 8:0, /dev/sda).
        assert!(rules[1..]
            .iter()
            .all(|r| r.allow() && (r.major().is_some() || r.access().as_deref() == Some("m"))));
    }

    #[test]
    fn default_devices_follow_the_spec_rules() {
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
        assert!(
            !rules[1].allow(),
            "the spec's rule comes before the defaults"
        );
        assert!(rules
            .iter()
            .any(|r| r.allow() && r.major() == Some(1) && r.minor() == Some(3)));
    }
}
