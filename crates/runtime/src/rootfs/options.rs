//! fstab-style mount options → mount(2) flags, propagation and fs data, as
//! runc's `parseMountOptions`.

use nix::mount::MsFlags;

/// A spec mount's options, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountOptions {
    /// Flags for the mount call (`MS_RDONLY`, `MS_NOSUID`, `MS_BIND`...).
    pub(crate) flags: MsFlags,
    /// Propagation changes applied after the mount, in order.
    pub(crate) propagation: Vec<MsFlags>,
    /// Unknown options, passed to the filesystem as its data string.
    pub(crate) data: Vec<String>,
    /// `MOUNT_ATTR_*` to set on the whole tree (`rro`, `rnosuid`...),
    /// applied with mount_setattr(2) `AT_RECURSIVE`, as runc does.
    pub(crate) rec_set: u64,
    /// `MOUNT_ATTR_*` to clear on the whole tree (`rrw`, `rsuid`...).
    pub(crate) rec_clr: u64,
}

impl MountOptions {
    /// Whether this is a bind mount (`bind` or `rbind`).
    pub(crate) fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }

    /// The data string (`mode=755,size=65536k`), empty if none.
    pub(crate) fn data(&self) -> String {
        self.data.join(",")
    }
}

/// Parses `options`. Flags that clear (`rw`, `suid`, `dev`...) remove what
/// an earlier option set; unknown options become fs data. Options that only
/// concern other runtimes' features (`tmpcopyup`, `idmap`, `ridmap`, the
/// `x-` prefix) are dropped.
pub(crate) fn parse(options: &[String]) -> MountOptions {
    let mut out = MountOptions {
        flags: MsFlags::empty(),
        propagation: Vec::new(),
        data: Vec::new(),
        rec_set: 0,
        rec_clr: 0,
    };
    for opt in options {
        let opt = opt.as_str();
        if let Some(f) = propagation(opt) {
            out.propagation.push(f);
            continue;
        }
        if let Some((clear, attr)) = rec_attr(opt) {
            if attr & libc::MOUNT_ATTR__ATIME == libc::MOUNT_ATTR__ATIME || is_atime_mode(opt) {
                // The atime modes are one field: clear it, then set one.
                out.rec_clr |= libc::MOUNT_ATTR__ATIME;
                out.rec_set &= !libc::MOUNT_ATTR__ATIME;
                if !clear {
                    out.rec_set |= attr;
                }
            } else if clear {
                out.rec_clr |= attr;
                out.rec_set &= !attr;
            } else {
                out.rec_set |= attr;
                out.rec_clr &= !attr;
            }
            continue;
        }
        match flag(opt) {
            Some((true, f)) => out.flags.remove(f),
            Some((false, f)) => out.flags.insert(f),
            None if opt == "tmpcopyup" || opt == "idmap" || opt == "ridmap" => {}
            None if opt.starts_with("x-") => {}
            None => out.data.push(opt.to_string()),
        }
    }
    out
}

/// (clears, flag) of a flag option, runc's table.
fn flag(opt: &str) -> Option<(bool, MsFlags)> {
    Some(match opt {
        "async" => (true, MsFlags::MS_SYNCHRONOUS),
        "atime" => (true, MsFlags::MS_NOATIME),
        "bind" => (false, MsFlags::MS_BIND),
        "defaults" => (false, MsFlags::empty()),
        "dev" => (true, MsFlags::MS_NODEV),
        "diratime" => (true, MsFlags::MS_NODIRATIME),
        "dirsync" => (false, MsFlags::MS_DIRSYNC),
        "exec" => (true, MsFlags::MS_NOEXEC),
        "mand" => (false, MsFlags::MS_MANDLOCK),
        "noatime" => (false, MsFlags::MS_NOATIME),
        "nodev" => (false, MsFlags::MS_NODEV),
        "nodiratime" => (false, MsFlags::MS_NODIRATIME),
        "noexec" => (false, MsFlags::MS_NOEXEC),
        "nomand" => (true, MsFlags::MS_MANDLOCK),
        "norelatime" => (true, MsFlags::MS_RELATIME),
        "nostrictatime" => (true, MsFlags::MS_STRICTATIME),
        "nosuid" => (false, MsFlags::MS_NOSUID),
        "rbind" => (false, MsFlags::MS_BIND | MsFlags::MS_REC),
        "relatime" => (false, MsFlags::MS_RELATIME),
        "remount" => (false, MsFlags::MS_REMOUNT),
        "ro" => (false, MsFlags::MS_RDONLY),
        "rw" => (true, MsFlags::MS_RDONLY),
        "silent" => (false, MsFlags::MS_SILENT),
        "strictatime" => (false, MsFlags::MS_STRICTATIME),
        "suid" => (true, MsFlags::MS_NOSUID),
        "sync" => (false, MsFlags::MS_SYNCHRONOUS),
        "loud" => (true, MsFlags::MS_SILENT),
        _ => return None,
    })
}

/// (clears, attr) of a recursive option, runc's `recAttrFlags` table.
fn rec_attr(opt: &str) -> Option<(bool, u64)> {
    Some(match opt {
        "rro" => (false, libc::MOUNT_ATTR_RDONLY),
        "rrw" => (true, libc::MOUNT_ATTR_RDONLY),
        "rnosuid" => (false, libc::MOUNT_ATTR_NOSUID),
        "rsuid" => (true, libc::MOUNT_ATTR_NOSUID),
        "rnodev" => (false, libc::MOUNT_ATTR_NODEV),
        "rdev" => (true, libc::MOUNT_ATTR_NODEV),
        "rnoexec" => (false, libc::MOUNT_ATTR_NOEXEC),
        "rexec" => (true, libc::MOUNT_ATTR_NOEXEC),
        "rnodiratime" => (false, libc::MOUNT_ATTR_NODIRATIME),
        "rdiratime" => (true, libc::MOUNT_ATTR_NODIRATIME),
        "rrelatime" => (false, libc::MOUNT_ATTR_RELATIME),
        "rnorelatime" => (true, libc::MOUNT_ATTR_RELATIME),
        "rnoatime" => (false, libc::MOUNT_ATTR_NOATIME),
        "ratime" => (true, libc::MOUNT_ATTR_NOATIME),
        "rstrictatime" => (false, libc::MOUNT_ATTR_STRICTATIME),
        "rnostrictatime" => (true, libc::MOUNT_ATTR_STRICTATIME),
        _ => return None,
    })
}

/// Whether a recursive option is one of the (exclusive) atime modes.
fn is_atime_mode(opt: &str) -> bool {
    matches!(
        opt,
        "rrelatime" | "rnorelatime" | "rnoatime" | "ratime" | "rstrictatime" | "rnostrictatime"
    )
}

/// The propagation flag of a propagation option.
pub(crate) fn propagation(opt: &str) -> Option<MsFlags> {
    Some(match opt {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(s: &[&str]) -> MountOptions {
        parse(&s.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn tmpfs_dev_options() {
        let o = opts(&["nosuid", "strictatime", "mode=755", "size=65536k"]);
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(o.data(), "mode=755,size=65536k");
        assert!(!o.is_bind());
    }

    #[test]
    fn ro_rbind_with_propagation() {
        let o = opts(&["rbind", "ro", "nosuid", "rslave"]);
        assert_eq!(
            o.flags,
            MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID
        );
        assert_eq!(o.propagation, vec![MsFlags::MS_SLAVE | MsFlags::MS_REC]);
        assert!(o.is_bind());
        assert!(o.data.is_empty());
    }

    #[test]
    fn recursive_attributes() {
        let o = opts(&["rbind", "rro", "rnosuid", "rnoatime"]);
        assert_eq!(
            o.rec_set,
            libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NOATIME
        );
        assert_eq!(o.rec_clr, libc::MOUNT_ATTR__ATIME);
        assert!(o.data.is_empty());
        let o = opts(&["rro", "rrw"]);
        assert_eq!((o.rec_set, o.rec_clr), (0, libc::MOUNT_ATTR_RDONLY));
    }

    #[test]
    fn later_clearing_option_wins() {
        let o = opts(&["ro", "nodev", "rw", "dev", "tmpcopyup", "x-foo"]);
        assert_eq!(o.flags, MsFlags::empty());
        assert!(o.data.is_empty());
    }
}
