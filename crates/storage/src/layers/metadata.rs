//! Entry metadata: owner, mode, mtime and xattrs from the tar header and
//! its PAX records, applied without following the entry if it is a
//! symlink (chown before chmod, since chown clears setuid bits).

use std::ffi::OsStr;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use nix::fcntl::AtFlags;
use nix::sys::stat::{fchmod, fchmodat, utimensat, FchmodatFlags, Mode, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, Gid, Uid};
use rustix::fs::XattrFlags;

use super::entry::Unpacker;
use super::LayerError;

/// Namespace of overlayfs's private xattrs.
const OVERLAY_XATTR_PREFIX: &str = "trusted.overlay.";
/// A directory's default ACL, which new files inherit instead of the umask.
const DEFAULT_ACL_XATTR: &str = "system.posix_acl_default";
/// PAX records carrying xattrs (GNU tar, Docker, podman).
const PAX_XATTR_PREFIX: &str = "SCHILY.xattr.";

/// Metadata of an entry, with PAX overrides applied.
pub(super) struct Meta {
    pub(super) uid: u32,
    pub(super) gid: u32,
    pub(super) mode: u32,
    pub(super) mtime: TimeSpec,
    pub(super) xattrs: Vec<(String, Vec<u8>)>,
}

impl Unpacker<'_> {
    pub(super) fn meta<R: Read>(
        &self,
        e: &mut tar::Entry<'_, R>,
        name: &[u8],
    ) -> Result<Meta, LayerError> {
        let h = e.header();
        let bad = |what: &str, err: io::Error| {
            self.tar_err(format!(
                "entry {:?}: bad {what}: {err}",
                String::from_utf8_lossy(name)
            ))
        };
        let mut m = Meta {
            uid: h.uid().map_err(|er| bad("uid", er))? as u32,
            gid: h.gid().map_err(|er| bad("gid", er))? as u32,
            mode: h.mode().map_err(|er| bad("mode", er))? & 0o7777,
            mtime: TimeSpec::new(h.mtime().map_err(|er| bad("mtime", er))? as i64, 0),
            xattrs: Vec::new(),
        };
        if let Some(exts) = e.pax_extensions().map_err(|er| bad("pax header", er))? {
            for ext in exts {
                let ext = ext.map_err(|er| bad("pax record", er))?;
                let Ok(key) = ext.key() else { continue };
                let value = ext.value_bytes();
                let num = || {
                    std::str::from_utf8(value)
                        .ok()
                        .and_then(|v| v.parse::<u64>().ok())
                };
                match key {
                    "uid" => {
                        m.uid = num()
                            .ok_or_else(|| bad("pax uid", io::Error::other("not a number")))?
                            as u32
                    }
                    "gid" => {
                        m.gid = num()
                            .ok_or_else(|| bad("pax gid", io::Error::other("not a number")))?
                            as u32
                    }
                    "mtime" => {
                        if let Some(t) = parse_pax_time(value) {
                            m.mtime = t;
                        }
                    }
                    k => {
                        if let Some(x) = k.strip_prefix(PAX_XATTR_PREFIX) {
                            // overlayfs's own xattrs (opaque, redirect,
                            // metacopy, origin) would let a layer steer
                            // the overlay; only whiteout entries set them.
                            if !x.starts_with(OVERLAY_XATTR_PREFIX) {
                                m.xattrs.push((x.to_string(), value.to_vec()));
                            }
                        }
                    }
                }
            }
        }
        Ok(m)
    }

    /// Owner, then mode (chown clears setuid), then xattrs, via an fd.
    pub(super) fn set_fd_meta(
        &self,
        fd: &impl AsFd,
        m: &Meta,
        raw: &[u8],
    ) -> Result<(), LayerError> {
        fchown(fd, Some(Uid::from_raw(m.uid)), Some(Gid::from_raw(m.gid)))
            .map_err(|er| self.io_err("chown", raw, er))?;
        fchmod(fd, Mode::from_bits_truncate(m.mode)).map_err(|er| self.io_err("chmod", raw, er))?;
        self.set_fd_xattrs(fd, m, raw)
    }

    /// The entry's xattrs, via an fd.
    pub(super) fn set_fd_xattrs(
        &self,
        fd: &impl AsFd,
        m: &Meta,
        raw: &[u8],
    ) -> Result<(), LayerError> {
        for (k, v) in &m.xattrs {
            rustix::fs::fsetxattr(fd, k.as_str(), v, XattrFlags::empty())
                .map_err(|er| self.io_err("set xattr on", raw, io::Error::from(er)))?;
        }
        Ok(())
    }

    /// Metadata for entries that cannot be opened (symlinks, devices):
    /// every call is relative to `parent` and does not follow `name`.
    pub(super) fn set_at_meta(
        &self,
        parent: &OwnedFd,
        name: &OsStr,
        m: &Meta,
        raw: &[u8],
        chmod: bool,
    ) -> Result<(), LayerError> {
        fchownat(
            parent,
            name,
            Some(Uid::from_raw(m.uid)),
            Some(Gid::from_raw(m.gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|er| self.io_err("chown", raw, er))?;
        if chmod {
            // `name` was just created by mknod in a directory only we
            // write to, so following it cannot reach a symlink.
            fchmodat(
                parent,
                name,
                Mode::from_bits_truncate(m.mode),
                FchmodatFlags::FollowSymlink,
            )
            .map_err(|er| self.io_err("chmod", raw, er))?;
        }
        if !m.xattrs.is_empty() {
            let p = Path::new("/proc/self/fd")
                .join(parent.as_raw_fd().to_string())
                .join(name);
            for (k, v) in &m.xattrs {
                rustix::fs::lsetxattr(&p, k.as_str(), v, XattrFlags::empty())
                    .map_err(|er| self.io_err("set xattr on", raw, io::Error::from(er)))?;
            }
        }
        utimensat(
            parent,
            name,
            &m.mtime,
            &m.mtime,
            UtimensatFlags::NoFollowSymlink,
        )
        .map_err(|er| self.io_err("set times of", raw, er))
    }
}

/// The owner and mode a file created by this process gets on its own, so
/// that the chown and chmod can be skipped when they would change nothing.
pub(crate) struct Creds {
    uid: u32,
    gid: u32,
    /// The process umask; `None` if it could not be read (always chmod).
    umask: Option<u32>,
    /// Some directory of the layer is setgid (a new file may take its
    /// group instead of ours) or has a default ACL (which replaces the
    /// umask): always chown and chmod from then on.
    inheriting_dir: bool,
}

impl Creds {
    /// This process's credentials and umask; `root` is the layer directory
    /// (which hands down its group or default ACL too).
    pub(super) fn of_process(root: &OwnedFd) -> Creds {
        let setgid = nix::sys::stat::fstat(root)
            .map(|st| st.st_mode & libc::S_ISGID != 0)
            .unwrap_or(true);
        // A zero-length read asks only whether the attribute exists.
        let acl = !matches!(
            rustix::fs::fgetxattr(root, DEFAULT_ACL_XATTR, &mut [0u8; 0]),
            Err(rustix::io::Errno::NODATA)
        );
        Creds {
            // fsuid/fsgid decide a new file's owner; they follow the
            // effective ids unless changed with setfsuid, which berth
            // never does.
            uid: nix::unistd::geteuid().as_raw(),
            gid: nix::unistd::getegid().as_raw(),
            umask: read_umask(),
            inheriting_dir: setgid || acl,
        }
    }

    /// Records a directory's metadata as it is applied.
    pub(super) fn note_dir(&mut self, m: &Meta) {
        if m.mode & libc::S_ISGID != 0 || m.xattrs.iter().any(|(k, _)| k == DEFAULT_ACL_XATTR) {
            self.inheriting_dir = true;
        }
    }

    /// Whether a file created with `open(O_CREAT, m.mode)` already has
    /// `m`'s owner and mode: only permission bits (no setuid, setgid or
    /// sticky, which chown would have to come before), none of them masked
    /// by the umask, and the owner this process creates files as.
    pub(super) fn creates_as(&self, m: &Meta) -> bool {
        let Some(umask) = self.umask else {
            return false;
        };
        m.mode & !0o777 == 0
            && m.mode & umask == 0
            && m.uid == self.uid
            && m.gid == self.gid
            && !self.inheriting_dir
    }
}

/// The umask, from `/proc/self/status` (the umask syscall can only read it
/// by changing it, which would race other threads creating files).
fn read_umask() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let v = status.lines().find_map(|l| l.strip_prefix("Umask:"))?;
    u32::from_str_radix(v.trim(), 8).ok()
}

/// PAX time: decimal seconds with an optional fraction ("1700000000.5").
fn parse_pax_time(v: &[u8]) -> Option<TimeSpec> {
    let s = std::str::from_utf8(v).ok()?;
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = secs.parse().ok()?;
    let mut nanos: i64 = 0;
    if !frac.is_empty() {
        let digits: String = frac.chars().take(9).collect();
        nanos = format!("{digits:0<9}").parse().ok()?;
        if secs < 0 {
            nanos = -nanos;
        }
    }
    Some(TimeSpec::new(secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_times() {
        assert_eq!(
            parse_pax_time(b"1700000000"),
            Some(TimeSpec::new(1_700_000_000, 0))
        );
        assert_eq!(
            parse_pax_time(b"1700000000.5"),
            Some(TimeSpec::new(1_700_000_000, 500_000_000))
        );
        assert_eq!(parse_pax_time(b"x"), None);
    }
}
