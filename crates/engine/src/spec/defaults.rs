//! Docker's defaults for a Linux container (moby `oci/defaults.go`,
//! `daemon/oci_linux.go`): mounts, masked and read-only paths, device rules.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use serde_json::{json, Value};

/// Paths hidden from the container (a tmpfs or /dev/null over them).
pub const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths the container sees read-only.
pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The standard mounts; `privileged` makes `/sys` and the cgroup tree rw.
pub fn default_mounts(privileged: bool) -> Vec<Value> {
    let sys_mode = if privileged { "rw" } else { "ro" };
    vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc",
               "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
               "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts",
               "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
               "options": ["nosuid", "noexec", "nodev", sys_mode]}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
               "options": [sys_mode, "nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
               "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
               "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]}),
    ]
}

/// The device cgroup rules: deny all, then allow what every container may
/// use (moby `oci.DefaultLinuxSpec` + `DefaultCapabilities`); privileged: all.
pub fn device_rules(privileged: bool) -> Vec<Value> {
    if privileged {
        return vec![json!({"allow": true, "access": "rwm"})];
    }
    let dev = |kind: &str, major: Option<i64>, minor: Option<i64>, access: &str| {
        let mut v = json!({"allow": true, "type": kind, "access": access});
        if let Some(m) = major {
            v["major"] = json!(m);
        }
        if let Some(m) = minor {
            v["minor"] = json!(m);
        }
        v
    };
    vec![
        json!({"allow": false, "access": "rwm"}),
        dev("c", None, None, "m"),
        dev("b", None, None, "m"),
        dev("c", Some(1), Some(3), "rwm"),    // null
        dev("c", Some(1), Some(8), "rwm"),    // random
        dev("c", Some(1), Some(7), "rwm"),    // full
        dev("c", Some(5), Some(0), "rwm"),    // tty
        dev("c", Some(1), Some(5), "rwm"),    // zero
        dev("c", Some(1), Some(9), "rwm"),    // urandom
        dev("c", Some(136), None, "rwm"),     // /dev/pts/*
        dev("c", Some(5), Some(2), "rwm"),    // ptmx
        dev("c", Some(10), Some(200), "rwm"), // tun
    ]
}

/// The host's device nodes for `--privileged` (moby `devices.HostDevices`),
/// skipping `/dev/pts` and the like that the container mounts itself.
pub fn host_devices() -> Vec<Value> {
    let mut out = Vec::new();
    walk_devices(Path::new("/dev"), &mut out);
    out
}

fn walk_devices(dir: &Path, out: &mut Vec<Value>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let ft = meta.file_type();
        if ft.is_dir() {
            let name = entry.file_name();
            if !matches!(
                name.to_str(),
                Some("pts" | "shm" | "mqueue" | ".lxc" | ".lxd-mounts")
            ) {
                walk_devices(&path, out);
            }
            continue;
        }
        if path == Path::new("/dev/console") {
            continue;
        }
        let kind = if ft.is_char_device() {
            "c"
        } else if ft.is_block_device() {
            "b"
        } else {
            continue;
        };
        let rdev = meta.rdev();
        out.push(json!({
            "path": path,
            "type": kind,
            "major": libc::major(rdev),
            "minor": libc::minor(rdev),
            "fileMode": meta.mode() & 0o7777,
            "uid": meta.uid(),
            "gid": meta.gid(),
        }));
    }
}
