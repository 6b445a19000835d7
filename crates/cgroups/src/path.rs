//! The OCI `linux.cgroupsPath`: absolute, relative to the caller's own
//! cgroup, or systemd's `slice:prefix:name` turned into a cgroupfs path.

use std::path::{Component, Path, PathBuf};

use crate::error::CgroupError;

/// Where a container's cgroup lives, before it is resolved per hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupsPath {
    /// From the root of every hierarchy, e.g. `/berth/ID`.
    Absolute(PathBuf),
    /// Under the caller's own cgroup of each hierarchy (runc's reading of a
    /// relative path; on v2 under the *parent* of the caller's cgroup,
    /// because a cgroup holding processes cannot delegate controllers).
    Relative(PathBuf),
}

impl CgroupsPath {
    /// Parses the spec's `cgroupsPath` for container `id`.
    ///
    /// - missing or empty: the container id, relative (runc's default);
    /// - `/a/b`: absolute;
    /// - `a/b`: relative;
    /// - `slice:prefix:name` (systemd style, recognised by its two colons
    ///   in a path not starting with `/`): systemd is not used, so this is
    ///   turned into the cgroupfs path systemd would have made, e.g.
    ///   `machine.slice:berth:ID` → `/machine.slice/berth-ID.scope` and
    ///   `a-b.slice` expanding to `/a.slice/a-b.slice`.
    ///
    /// `..` components and the bare root `/` are refused.
    pub fn parse(spec: Option<&str>, id: &str) -> Result<Self, CgroupError> {
        let raw = spec.unwrap_or("");
        let invalid = |reason: &str| CgroupError::InvalidPath {
            path: raw.to_string(),
            reason: reason.to_string(),
        };
        let parsed = if raw.is_empty() {
            if id.is_empty() || id.contains('/') {
                return Err(invalid("no cgroupsPath and no usable container id"));
            }
            CgroupsPath::Relative(PathBuf::from(id))
        } else if !raw.starts_with('/') && raw.matches(':').count() == 2 {
            CgroupsPath::Absolute(systemd_to_fs(raw, id).map_err(|r| invalid(&r))?)
        } else if raw.starts_with('/') {
            CgroupsPath::Absolute(PathBuf::from(raw))
        } else {
            CgroupsPath::Relative(PathBuf::from(raw))
        };
        let p = parsed.inner();
        if p.components().any(|c| c == Component::ParentDir) {
            return Err(invalid("\"..\" is not allowed"));
        }
        if !p.components().any(|c| matches!(c, Component::Normal(_))) {
            return Err(invalid("names the root cgroup"));
        }
        Ok(parsed)
    }

    /// The path as written (absolute or relative).
    pub fn inner(&self) -> &Path {
        match self {
            CgroupsPath::Absolute(p) | CgroupsPath::Relative(p) => p,
        }
    }

    /// The absolute cgroup path in a hierarchy where the caller is in
    /// cgroup `own` (ignored for an absolute path).
    pub fn resolve(&self, own: &Path) -> PathBuf {
        match self {
            CgroupsPath::Absolute(p) => p.clone(),
            CgroupsPath::Relative(p) => Path::new("/").join(own).join(p),
        }
    }
}

/// `slice:prefix:name` → `/<expanded slice>/<prefix>-<name>.scope`
/// (systemd's own naming, see systemd.slice(5) and runc's
/// `systemd.ExpandSlice`).
fn systemd_to_fs(raw: &str, id: &str) -> Result<PathBuf, String> {
    let mut parts = raw.splitn(3, ':');
    let (slice, prefix, name) = match (parts.next(), parts.next(), parts.next()) {
        (Some(s), Some(p), Some(n)) => (s, p, n),
        _ => return Err("expected slice:prefix:name".into()),
    };
    let slice = if slice.is_empty() {
        "system.slice"
    } else {
        slice
    };
    let name = if name.is_empty() { id } else { name };
    if name.is_empty() || name.contains('/') || prefix.contains('/') {
        return Err("systemd unit name must be non-empty and without '/'".into());
    }
    let mut path = expand_slice(slice)?;
    if name.ends_with(".slice") {
        // A slice as the unit: it nests under the parent slice.
        let leaf = expand_slice(name)?;
        let last = leaf.file_name().ok_or("empty slice")?;
        path.push(last);
    } else if prefix.is_empty() {
        path.push(format!("{name}.scope"));
    } else {
        path.push(format!("{prefix}-{name}.scope"));
    }
    Ok(path)
}

/// `a-b-c.slice` → `/a.slice/a-b.slice/a-b-c.slice`; `-.slice` is the root.
fn expand_slice(slice: &str) -> Result<PathBuf, String> {
    let stem = slice
        .strip_suffix(".slice")
        .ok_or_else(|| format!("{slice:?} is not a systemd slice (no .slice suffix)"))?;
    let mut path = PathBuf::from("/");
    if stem == "-" {
        return Ok(path);
    }
    if stem.is_empty()
        || stem.contains('/')
        || stem.starts_with('-')
        || stem.ends_with('-')
        || stem.contains("--")
    {
        return Err(format!("{slice:?} is not a valid systemd slice name"));
    }
    let mut prefix = String::new();
    for part in stem.split('-') {
        if !prefix.is_empty() {
            prefix.push('-');
        }
        prefix.push_str(part);
        path.push(format!("{prefix}.slice"));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<CgroupsPath, CgroupError> {
        CgroupsPath::parse(Some(s), "c1")
    }

    #[test]
    fn absolute_and_relative() {
        assert_eq!(
            parse("/berth/c1").unwrap(),
            CgroupsPath::Absolute("/berth/c1".into())
        );
        let rel = parse("pods/c1").unwrap();
        assert_eq!(rel, CgroupsPath::Relative("pods/c1".into()));
        assert_eq!(
            rel.resolve(Path::new("/user/x")),
            Path::new("/user/x/pods/c1")
        );
        assert_eq!(rel.resolve(Path::new("/")), Path::new("/pods/c1"));
        assert_eq!(
            CgroupsPath::parse(None, "c1").unwrap(),
            CgroupsPath::Relative("c1".into())
        );
    }

    #[test]
    fn systemd_style() {
        assert_eq!(
            parse("machine.slice:berth:c1").unwrap().inner(),
            Path::new("/machine.slice/berth-c1.scope")
        );
        assert_eq!(
            parse("user-1000.slice:docker:x").unwrap().inner(),
            Path::new("/user.slice/user-1000.slice/docker-x.scope")
        );
        assert_eq!(
            parse("::").unwrap().inner(),
            Path::new("/system.slice/c1.scope")
        );
        assert_eq!(
            parse("-.slice:p:n").unwrap().inner(),
            Path::new("/p-n.scope")
        );
        assert_eq!(
            parse("a.slice::a-b.slice").unwrap().inner(),
            Path::new("/a.slice/a-b.slice")
        );
        assert!(parse("notaslice:p:n").is_err());
        assert!(parse("a--b.slice:p:n").is_err());
    }

    #[test]
    fn refused_paths() {
        let err = parse("/berth/../etc").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid cgroupsPath \"/berth/../etc\": \"..\" is not allowed"
        );
        assert!(parse("/").is_err());
        assert!(parse("./").is_err());
        assert!(CgroupsPath::parse(Some(""), "").is_err());
    }
}
