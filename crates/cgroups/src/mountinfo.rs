//! Detection of the host's cgroup layout (v1, v2 or hybrid) from
//! `/proc/thread-self/mountinfo`, and of a process's own cgroups from
//! `/proc/<pid>/cgroup`. Paths are read, never guessed.

use std::path::{Path, PathBuf};

use crate::error::CgroupError;

/// Controllers the kernel can attach to a cgroup v1 hierarchy; everything
/// else in a v1 mount's super options is a mount flag (`rw`, `xattr`, ...).
const V1_CONTROLLERS: &[&str] = &[
    "blkio",
    "cpu",
    "cpuacct",
    "cpuset",
    "debug",
    "devices",
    "freezer",
    "hugetlb",
    "memory",
    "misc",
    "net_cls",
    "net_prio",
    "perf_event",
    "pids",
    "rdma",
];

/// One mounted cgroup hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupMount {
    /// Where the hierarchy is mounted, e.g. `/sys/fs/cgroup/cpu,cpuacct`.
    pub mount_point: PathBuf,
    /// Which cgroup of the hierarchy is seen at the mount point (the
    /// mountinfo "root" field; `/` unless a sub-cgroup was bind-mounted).
    pub root: PathBuf,
    /// v1 controllers of the hierarchy, incl. named ones as `name=systemd`;
    /// empty for cgroup2.
    pub controllers: Vec<String>,
}

impl CgroupMount {
    /// The directory of cgroup `cgroup` (an absolute path inside the
    /// hierarchy, as `/proc/thread-self/cgroup` shows it) under this mount.
    pub fn dir_for(&self, cgroup: &Path) -> PathBuf {
        let inner = cgroup.strip_prefix(&self.root).unwrap_or(cgroup);
        let inner = inner.strip_prefix("/").unwrap_or(inner);
        if inner.as_os_str().is_empty() {
            self.mount_point.clone()
        } else {
            self.mount_point.join(inner)
        }
    }

    /// Whether this v1 hierarchy carries controller `name`.
    pub fn has(&self, name: &str) -> bool {
        self.controllers.iter().any(|c| c == name)
    }
}

/// Which cgroup layout the host uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// Pure cgroup v2: one unified hierarchy holds every controller.
    Unified(CgroupMount),
    /// cgroup v1 hierarchies; `unified` is the controller-less cgroup2
    /// mount of the hybrid layout (systemd's `/sys/fs/cgroup/unified`).
    Legacy {
        /// The v1 hierarchies, each with its controllers.
        hierarchies: Vec<CgroupMount>,
        /// The cgroup2 mount of a hybrid host.
        unified: Option<CgroupMount>,
    },
}

/// The short name of a layout, for messages and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutKind {
    /// Pure cgroup v1.
    V1,
    /// Pure cgroup v2.
    V2,
    /// v1 controllers plus a cgroup2 mount.
    Hybrid,
}

impl Layout {
    /// Detects the layout of the calling thread's mount namespace
    /// (`thread-self`, not `self`: a runtime may have unshared its mount
    /// namespace in one thread only).
    pub fn detect() -> Result<Self, CgroupError> {
        let path = Path::new("/proc/thread-self/mountinfo");
        let text = std::fs::read_to_string(path).map_err(|source| CgroupError::ReadMountinfo {
            path: path.into(),
            source,
        })?;
        Self::from_mountinfo(&text, path)
    }

    /// Parses a mountinfo text; `path` only names it in errors.
    pub fn from_mountinfo(text: &str, path: &Path) -> Result<Self, CgroupError> {
        let mut mounts: Vec<(usize, String, CgroupMount)> = Vec::new();
        let mut all_points: Vec<PathBuf> = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let bad = || CgroupError::MalformedLine {
                path: path.into(),
                line: line.to_string(),
            };
            let (left, right) = line.split_once(" - ").ok_or_else(bad)?;
            let left: Vec<&str> = left.split(' ').collect();
            let right: Vec<&str> = right.split(' ').collect();
            if left.len() < 5 || right.len() < 3 {
                return Err(bad());
            }
            let mount_point = PathBuf::from(unescape(left[4]));
            all_points.push(mount_point.clone());
            let fstype = right[0];
            if fstype != "cgroup" && fstype != "cgroup2" {
                continue;
            }
            let controllers = if fstype == "cgroup" {
                right[2]
                    .split(',')
                    .filter(|o| o.starts_with("name=") || V1_CONTROLLERS.contains(o))
                    .map(str::to_string)
                    .collect()
            } else {
                Vec::new()
            };
            let mount = CgroupMount {
                mount_point,
                root: PathBuf::from(unescape(left[3])),
                controllers,
            };
            mounts.push((all_points.len() - 1, fstype.to_string(), mount));
        }
        // A mount made later on the same point or on an ancestor hides this
        // one (e.g. cgroup2 mounted over a hybrid /sys/fs/cgroup tmpfs).
        let visible = |idx: usize, m: &CgroupMount| {
            !all_points[idx + 1..]
                .iter()
                .any(|p| m.mount_point.starts_with(p))
        };
        let mut v1: Vec<CgroupMount> = Vec::new();
        let mut v2: Vec<CgroupMount> = Vec::new();
        for (_, fstype, m) in mounts.into_iter().filter(|(i, _, m)| visible(*i, m)) {
            let list = if fstype == "cgroup" { &mut v1 } else { &mut v2 };
            // The same hierarchy bind-mounted twice: keep the first.
            if !list
                .iter()
                .any(|o| o.controllers == m.controllers && fstype == "cgroup")
            {
                list.push(m);
            }
        }
        let real_v1 = v1
            .iter()
            .any(|m| m.controllers.iter().any(|c| !c.starts_with("name=")));
        let sys = Path::new("/sys/fs/cgroup");
        let unified = v2
            .iter()
            .position(|m| m.mount_point == sys)
            .or(if v2.is_empty() { None } else { Some(0) })
            .map(|i| v2.swap_remove(i));
        match (real_v1, unified) {
            (false, Some(u)) => Ok(Layout::Unified(u)),
            (_, unified) if !v1.is_empty() => Ok(Layout::Legacy {
                hierarchies: v1,
                unified,
            }),
            _ => Err(CgroupError::NoCgroupMounts { path: path.into() }),
        }
    }

    /// Which of v1, v2 or hybrid this is.
    pub fn kind(&self) -> LayoutKind {
        match self {
            Layout::Unified(_) => LayoutKind::V2,
            Layout::Legacy { unified: None, .. } => LayoutKind::V1,
            Layout::Legacy {
                unified: Some(_), ..
            } => LayoutKind::Hybrid,
        }
    }
}

/// Undoes mountinfo's octal escapes (`\040` for a space, `\011`, `\012`,
/// `\134`), see proc(5).
fn unescape(field: &str) -> String {
    if !field.contains('\\') {
        return field.to_string();
    }
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One line of `/proc/<pid>/cgroup`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnCgroup {
    /// The controllers of the hierarchy (`name=systemd` for a named one);
    /// empty for the cgroup2 line `0::/path`.
    pub controllers: Vec<String>,
    /// The cgroup of the process in that hierarchy.
    pub path: PathBuf,
}

/// Parses `/proc/<pid>/cgroup` text; `path` only names it in errors.
pub fn parse_proc_cgroup(text: &str, path: &Path) -> Result<Vec<OwnCgroup>, CgroupError> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let mut parts = line.splitn(3, ':');
            match (parts.next(), parts.next(), parts.next()) {
                (Some(_id), Some(ctrls), Some(p)) if p.starts_with('/') => Ok(OwnCgroup {
                    controllers: ctrls
                        .split(',')
                        .filter(|c| !c.is_empty())
                        .map(str::to_string)
                        .collect(),
                    path: PathBuf::from(p),
                }),
                _ => Err(CgroupError::MalformedLine {
                    path: path.into(),
                    line: line.to_string(),
                }),
            }
        })
        .collect()
}

/// Reads the calling thread's own cgroups.
pub fn own_cgroups() -> Result<Vec<OwnCgroup>, CgroupError> {
    let path = Path::new("/proc/thread-self/cgroup");
    let text = std::fs::read_to_string(path).map_err(|source| CgroupError::Read {
        path: path.into(),
        source,
    })?;
    parse_proc_cgroup(&text, path)
}

/// The cgroup a process is in for hierarchy `mount` (matched by
/// controllers; the v2 line for a cgroup2 mount), or `/` if not listed.
pub fn own_path_for(own: &[OwnCgroup], mount: &CgroupMount) -> PathBuf {
    own.iter()
        .find(|o| {
            if mount.controllers.is_empty() {
                o.controllers.is_empty()
            } else {
                o.controllers.iter().any(|c| mount.has(c))
            }
        })
        .map_or_else(|| PathBuf::from("/"), |o| o.path.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
23 1 8:1 / / rw,relatime - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    const V2: &str = "\
23 1 8:1 / / rw,relatime - ext4 /dev/vda rw
30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

    const V1_COMBINED: &str = "\
23 1 8:1 / / rw,relatime - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:10 - cgroup cgroup rw,xattr,cpu,cpuacct
33 31 0:30 / /sys/fs/cgroup/net_cls,net_prio rw shared:11 - cgroup cgroup rw,net_cls,net_prio
34 31 0:31 /docker/abc /sys/fs/cgroup/memory rw shared:12 - cgroup cgroup rw,memory
35 31 0:32 / /sys/fs/cgroup/systemd rw shared:13 - cgroup cgroup rw,xattr,name=systemd,release_agent=/x
36 23 0:32 / /mnt/again\\040copy rw - cgroup cgroup rw,xattr,name=systemd
";

    fn layout(text: &str) -> Layout {
        Layout::from_mountinfo(text, Path::new("mountinfo")).unwrap()
    }

    #[test]
    fn hybrid_layout_has_v1_controllers_and_unified() {
        let l = layout(HYBRID);
        assert_eq!(l.kind(), LayoutKind::Hybrid);
        let Layout::Legacy {
            hierarchies,
            unified,
        } = l
        else {
            panic!("not legacy")
        };
        assert_eq!(hierarchies.len(), 6);
        assert!(hierarchies.iter().any(|h| h.has("name=systemd")));
        assert_eq!(
            unified.unwrap().mount_point,
            Path::new("/sys/fs/cgroup/unified")
        );
    }

    #[test]
    fn pure_v2_layout() {
        let l = layout(V2);
        assert_eq!(l.kind(), LayoutKind::V2);
        let Layout::Unified(m) = l else { panic!() };
        assert_eq!(m.mount_point, Path::new("/sys/fs/cgroup"));
        assert!(m.controllers.is_empty());
    }

    #[test]
    fn v1_with_combined_controllers_and_duplicates() {
        let l = layout(V1_COMBINED);
        assert_eq!(l.kind(), LayoutKind::V1);
        let Layout::Legacy { hierarchies, .. } = l else {
            panic!()
        };
        assert_eq!(hierarchies.len(), 4, "{hierarchies:?}");
        let cpu = hierarchies.iter().find(|h| h.has("cpu")).unwrap();
        assert!(cpu.has("cpuacct"));
        assert!(!cpu.has("xattr"));
        assert_eq!(cpu.mount_point, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        let mem = hierarchies.iter().find(|h| h.has("memory")).unwrap();
        assert_eq!(
            mem.dir_for(Path::new("/docker/abc/x")),
            Path::new("/sys/fs/cgroup/memory/x")
        );
        let sd = hierarchies.iter().find(|h| h.has("name=systemd")).unwrap();
        assert_eq!(sd.mount_point, Path::new("/sys/fs/cgroup/systemd"));
    }

    #[test]
    fn cgroup2_mounted_over_hybrid_hides_v1() {
        let text =
            format!("{HYBRID}50 31 0:40 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw\n");
        let l = layout(&text);
        assert_eq!(l.kind(), LayoutKind::V2);
    }

    #[test]
    fn no_cgroup_is_an_error() {
        let err = Layout::from_mountinfo("23 1 8:1 / / rw - ext4 /dev/vda rw\n", Path::new("m"))
            .unwrap_err();
        assert!(err.to_string().contains("no cgroup"), "{err}");
        assert!(Layout::from_mountinfo("garbage\n", Path::new("m")).is_err());
    }

    #[test]
    fn escaped_mount_points() {
        assert_eq!(unescape("/mnt/a\\040b"), "/mnt/a b");
        assert_eq!(unescape("/plain"), "/plain");
        assert_eq!(unescape("/x\\"), "/x\\");
    }

    #[test]
    fn proc_cgroup_lines() {
        let own = parse_proc_cgroup(
            "9:name=systemd:/user\n4:memory:/process_api/f0\n2:cpu,cpuacct:/\n0::/u\n",
            Path::new("cgroup"),
        )
        .unwrap();
        assert_eq!(own.len(), 4);
        let mem = CgroupMount {
            mount_point: "/sys/fs/cgroup/memory".into(),
            root: "/".into(),
            controllers: vec!["memory".into()],
        };
        assert_eq!(own_path_for(&own, &mem), Path::new("/process_api/f0"));
        let v2 = CgroupMount {
            mount_point: "/sys/fs/cgroup/unified".into(),
            root: "/".into(),
            controllers: vec![],
        };
        assert_eq!(own_path_for(&own, &v2), Path::new("/u"));
        assert!(parse_proc_cgroup("nonsense", Path::new("c")).is_err());
    }
}
