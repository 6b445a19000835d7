//! Capability sets as Docker computes them (moby `oci/caps`): the default
//! set, `--cap-add`/`--cap-drop` with `ALL`, and `--privileged`.

use super::SpecError;

/// Docker's default capability set (moby `oci/caps/defaults.go`).
pub const DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Every capability Linux defines, indexed by its number.
const KNOWN_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Every capability `berth` itself can grant (`--privileged`, `--cap-add
/// ALL`): those this kernel has (`/proc/sys/kernel/cap_last_cap`) and that
/// are in our own bounding set, as podman's `BoundingSet()`. A capability
/// outside it can never be given to a child (capset fails with EPERM), so
/// asking for one only made `--privileged` fail where berth itself runs
/// with fewer (a container, a host without CAP_SYS_RESOURCE).
pub fn all_caps() -> Vec<String> {
    let last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .unwrap_or(KNOWN_CAPS.len() - 1);
    let bounding = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| bounding_set(&s))
        .unwrap_or(u64::MAX);
    KNOWN_CAPS
        .iter()
        .enumerate()
        .take(last + 1)
        .filter(|(n, _)| bounding & (1u64 << n) != 0)
        .map(|(_, c)| c.to_string())
        .collect()
}

/// The `CapBnd:` mask of a `/proc/<pid>/status` text.
fn bounding_set(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
}

/// Upper-cases, adds the `CAP_` prefix, keeps `ALL`, refuses unknown names
/// (moby `NormalizeLegacyCapabilities`). `field` is `CapAdd` or `CapDrop`.
pub fn normalize(caps: &[String], field: &'static str) -> Result<Vec<String>, SpecError> {
    let mut out: Vec<String> = Vec::new();
    for cap in caps {
        let mut c = cap.trim().to_ascii_uppercase();
        if c != "ALL" && !c.starts_with("CAP_") {
            c = format!("CAP_{c}");
        }
        if c != "ALL" && !KNOWN_CAPS.contains(&c.as_str()) {
            return Err(SpecError::UnknownCapability { field, cap: c });
        }
        if !out.contains(&c) {
            out.push(c);
        }
    }
    Ok(out)
}

/// The container's capability set (moby `TweakCapabilities`).
pub fn effective_caps(
    add: &[String],
    drop: &[String],
    privileged: bool,
) -> Result<Vec<String>, SpecError> {
    let basics = || {
        DEFAULT_CAPS
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
    };
    if privileged {
        return Ok(all_caps());
    }
    if add.is_empty() && drop.is_empty() {
        return Ok(basics());
    }
    let drop = normalize(drop, "CapDrop")?;
    let add = normalize(add, "CapAdd")?;
    let all = "ALL".to_string();
    let caps = if add.contains(&all) {
        all_caps()
            .into_iter()
            .filter(|c| !drop.contains(c))
            .collect()
    } else if drop.contains(&all) {
        add
    } else {
        let mut caps: Vec<String> = basics().into_iter().filter(|c| !drop.contains(c)).collect();
        for c in add {
            if !caps.contains(&c) {
                caps.push(c);
            }
        }
        caps
    };
    Ok(caps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn default_set_is_dockers_fourteen() {
        let caps = effective_caps(&[], &[], false).unwrap();
        assert_eq!(caps.len(), 14);
        assert!(caps.contains(&"CAP_NET_RAW".to_string()));
        assert!(!caps.contains(&"CAP_SYS_ADMIN".to_string()));
    }

    #[test]
    fn add_and_drop_are_case_and_prefix_insensitive() {
        let caps =
            effective_caps(&v(&["sys_admin"]), &v(&["CAP_chown", "net_raw"]), false).unwrap();
        assert!(caps.contains(&"CAP_SYS_ADMIN".to_string()));
        assert!(!caps.contains(&"CAP_CHOWN".to_string()));
        assert!(!caps.contains(&"CAP_NET_RAW".to_string()));
    }

    #[test]
    fn bounding_set_is_read_from_status() {
        let status = "Name:\tx\nCapInh:\t0000000000000000\nCapBnd:\t000001fffeffffff\n";
        assert_eq!(bounding_set(status), Some(0x1fffeffffff));
        assert_eq!(bounding_set("Name:\tx\n"), None);
    }

    #[test]
    fn all_is_what_our_bounding_set_holds() {
        // On a host (or in a container) without some capability, e.g. this
        // CI's missing CAP_SYS_RESOURCE, `--privileged` must not ask for it.
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let ours = bounding_set(&status).unwrap();
        let caps = all_caps();
        for (n, name) in KNOWN_CAPS.iter().enumerate() {
            let listed = caps.iter().any(|c| c == name);
            if listed {
                assert!(ours & (1 << n) != 0, "{name} is outside our bounding set");
            }
        }
        let last: usize = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let held = (0..=last.min(KNOWN_CAPS.len() - 1))
            .filter(|n| ours & (1 << n) != 0)
            .count();
        assert_eq!(caps.len(), held);
    }

    #[test]
    fn all() {
        assert_eq!(
            effective_caps(&v(&["all"]), &[], false).unwrap(),
            all_caps()
        );
        let caps = effective_caps(&v(&["ALL"]), &v(&["SYS_ADMIN"]), false).unwrap();
        assert_eq!(caps.len(), all_caps().len() - 1);
        assert_eq!(
            effective_caps(&v(&["kill"]), &v(&["all"]), false).unwrap(),
            v(&["CAP_KILL"])
        );
        assert!(effective_caps(&[], &v(&["ALL"]), false).unwrap().is_empty());
        assert_eq!(effective_caps(&[], &v(&["ALL"]), true).unwrap(), all_caps());
    }

    #[test]
    fn unknown_is_refused() {
        let e = effective_caps(&v(&["foo"]), &[], false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid CapAdd: unknown capability: \"CAP_FOO\""
        );
    }
}
