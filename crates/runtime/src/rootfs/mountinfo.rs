//! A minimal `/proc/self/mountinfo` reader (proc(5)): root, mount point,
//! fs type and super options — enough to find the host's cgroup
//! hierarchies and which cgroup each mount shows.

/// One mountinfo line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountInfo {
    /// The directory of the filesystem the mount shows (for cgroupfs:
    /// relative to the reader's cgroup namespace root).
    pub(crate) root: String,
    pub(crate) mount_point: String,
    pub(crate) fs_type: String,
    pub(crate) super_options: String,
}

/// Parses mountinfo text; malformed lines are skipped.
pub(crate) fn parse(text: &str) -> Vec<MountInfo> {
    text.lines()
        .filter_map(|line| {
            let (pre, post) = line.split_once(" - ")?;
            let mut pre = pre.split(' ');
            let root = unescape(pre.nth(3)?);
            let mount_point = unescape(pre.next()?);
            let mut post = post.split(' ');
            let fs_type = post.next()?.to_string();
            let _source = post.next()?;
            let super_options = post.next().unwrap_or("").to_string();
            Some(MountInfo {
                root,
                mount_point,
                fs_type,
                super_options,
            })
        })
        .collect()
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 4], 8) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cgroup_lines() {
        let text = "35 25 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:14 - cgroup cgroup rw,cpu,cpuacct\n\
                    36 25 0:31 /a\\040b /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate\n\
                    37 25 0:32 / /mnt/a\\040b rw - tmpfs tmpfs rw\n";
        let m = parse(text);
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].mount_point, "/sys/fs/cgroup/cpu,cpuacct");
        assert_eq!(m[0].root, "/");
        assert_eq!(m[1].root, "/a b");
        assert_eq!(m[0].fs_type, "cgroup");
        assert_eq!(m[0].super_options, "rw,cpu,cpuacct");
        assert_eq!(m[1].fs_type, "cgroup2");
        assert_eq!(m[2].mount_point, "/mnt/a b");
    }
}
