//! The mount syntax of `run`/`create`: `-v`, `--mount`, `--tmpfs` and
//! `--volumes-from`, parsed and validated as Docker's CLI (`loader.ParseVolume`,
//! `opts.MountOpt`) and daemon (`volume/mounts/linux_parser.go`) do, with
//! their error texts.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::VolumeError;

/// The mount flags of `run`/`create` as typed; kept in the container
/// record like Docker's HostConfig `Binds`/`Mounts`/`Tmpfs`/`VolumesFrom`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MountFlags {
    /// `-v`/`--volume`, in order.
    pub volumes: Vec<String>,
    /// `--mount`, in order.
    pub mounts: Vec<String>,
    /// `--tmpfs`, in order.
    pub tmpfs: Vec<String>,
    /// `--volumes-from`, in order.
    pub volumes_from: Vec<String>,
}

impl MountFlags {
    /// True when no mount flag was given.
    pub fn is_empty(&self) -> bool {
        self.volumes.is_empty()
            && self.mounts.is_empty()
            && self.tmpfs.is_empty()
            && self.volumes_from.is_empty()
    }

    /// Checks the syntax of every flag (nothing on disk is looked at), so
    /// bad input is refused before any image lookup; returns Docker's text.
    pub fn validate(&self) -> Result<(), String> {
        self.requests().map(drop).map_err(|e| e.to_string())
    }

    /// Every `-v`, `--mount` and `--tmpfs` parsed, in that order.
    pub fn requests(&self) -> Result<Vec<MountRequest>, VolumeError> {
        let mut out = Vec::new();
        for v in &self.volumes {
            out.push(parse_volume(v)?);
        }
        for m in &self.mounts {
            out.push(parse_mount(m)?);
        }
        for t in &self.tmpfs {
            out.push(parse_tmpfs(t)?);
        }
        for f in &self.volumes_from {
            parse_volumes_from(f)?;
        }
        Ok(out)
    }
}

/// What a mount is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    /// A host path.
    Bind,
    /// A named or anonymous volume.
    Volume,
    /// A fresh tmpfs.
    Tmpfs,
}

impl MountKind {
    /// Docker's word (`bind`, `volume`, `tmpfs`).
    pub fn as_str(self) -> &'static str {
        match self {
            MountKind::Bind => "bind",
            MountKind::Volume => "volume",
            MountKind::Tmpfs => "tmpfs",
        }
    }
}

/// One parsed mount request, before any volume exists.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MountRequest {
    /// What it is (`None` only transiently while parsing).
    pub kind: Option<MountKind>,
    /// Host path (bind), volume name (empty: anonymous), empty for tmpfs.
    pub source: String,
    /// The cleaned absolute path in the container.
    pub target: String,
    /// Mounted read-only.
    pub read_only: bool,
    /// Docker's `Mode` as shown by `inspect` (the raw `-v` mode string).
    pub mode: String,
    /// Bind propagation (`rprivate` by default for binds).
    pub propagation: String,
    /// Do not copy the image's content into a new volume.
    pub nocopy: bool,
    /// `-v` creates a missing bind source; `--mount` refuses it.
    pub create_source: bool,
    /// `volume-label=` of `--mount` (labels of a volume it creates).
    pub volume_labels: BTreeMap<String, String>,
    /// `volume-opt=` of `--mount` (options of a volume it creates).
    pub volume_opts: BTreeMap<String, String>,
    /// tmpfs mount options (`size=…`, `mode=…`, flags).
    pub tmpfs_options: Vec<String>,
    /// Listed in `inspect`'s `Mounts` (Docker leaves `--tmpfs` out).
    pub listed: bool,
}

impl MountRequest {
    /// The kind (volume when unset).
    pub fn kind(&self) -> MountKind {
        self.kind.unwrap_or(MountKind::Volume)
    }
}

const PROPAGATIONS: &[&str] = &[
    "private", "rprivate", "shared", "rshared", "slave", "rslave",
];

fn invalid_spec(raw: &str) -> VolumeError {
    VolumeError::Spec(format!("invalid volume specification: '{raw}'"))
}

fn mount_config(kind: &str, why: String) -> String {
    format!("invalid mount config for type \"{kind}\": {why}")
}

/// Docker's `ValidMountMode`: comma-separated, at most one of each group.
fn valid_mode(mode: &str) -> bool {
    if mode.is_empty() {
        return true;
    }
    let (mut rw, mut label, mut prop, mut copy) = (0, 0, 0, 0);
    for o in mode.split(',') {
        match o {
            "rw" | "ro" => rw += 1,
            "z" | "Z" => label += 1,
            "nocopy" => copy += 1,
            p if PROPAGATIONS.contains(&p) => prop += 1,
            _ => return false,
        }
    }
    rw <= 1 && label <= 1 && prop <= 1 && copy <= 1
}

/// `filepath.Clean` of an absolute path, lexically.
pub(crate) fn clean(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in Path::new(p).components() {
        match c {
            Component::Normal(s) => parts.push(s.to_str().unwrap_or("")),
            Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    format!("/{}", parts.join("/"))
}

/// Daemon-side checks of a target; `Err` is the reason text.
fn check_target(target: &str) -> Result<String, String> {
    if target.is_empty() {
        return Err("field Target must not be empty".into());
    }
    if !target.starts_with('/') {
        return Err(format!(
            "invalid mount path: '{target}' mount path must be absolute"
        ));
    }
    let t = clean(target);
    if t == "/" {
        return Err("invalid specification: destination can't be '/'".into());
    }
    Ok(t)
}

fn absolute_source(s: &str) -> String {
    if s == "." || s.starts_with("./") {
        if let Ok(abs) = std::path::absolute(s) {
            return abs.to_string_lossy().into_owned();
        }
    }
    s.to_string()
}

/// Checks a volume name against Docker's `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, which
/// keeps `/` and `..` out of `<root>/volumes/`.
pub fn validate_name(name: &str) -> Result<(), VolumeError> {
    let mut chars = name.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && name.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(VolumeError::InvalidName(name.to_string()))
    }
}

/// Parses `-v [SOURCE:]TARGET[:MODE]`.
pub fn parse_volume(raw: &str) -> Result<MountRequest, VolumeError> {
    // The CLI's checks (compose `loader.ParseVolume`) come first.
    if raw.is_empty() {
        return Err(VolumeError::Spec("invalid empty volume spec".into()));
    }
    if raw.len() > 2 && raw.split(':').any(str::is_empty) {
        return Err(VolumeError::Spec(format!(
            "invalid spec: {raw}: empty section between colons"
        )));
    }
    // Then the daemon's (`linuxParser.ParseMountRaw`).
    if raw.matches(':').count() > 2 {
        return Err(invalid_spec(raw));
    }
    let arr: Vec<&str> = raw.splitn(3, ':').collect();
    if arr[0].is_empty() {
        return Err(invalid_spec(raw));
    }
    let mut req = MountRequest {
        listed: true,
        ..Default::default()
    };
    let mode = match arr.as_slice() {
        [t] => {
            req.target = t.to_string();
            ""
        }
        [_, m] if valid_mode(m) => return Err(invalid_spec(raw)),
        [s, t] => {
            req.source = absolute_source(s);
            req.target = t.to_string();
            ""
        }
        [s, t, m] => {
            req.source = absolute_source(s);
            req.target = t.to_string();
            m
        }
        _ => return Err(invalid_spec(raw)),
    };
    if !valid_mode(mode) {
        return Err(VolumeError::Spec(format!("invalid mode: {mode}")));
    }
    req.mode = mode.to_string();
    let kind = if req.source.starts_with('/') {
        MountKind::Bind
    } else {
        MountKind::Volume
    };
    req.kind = Some(kind);
    let opts: Vec<&str> = mode.split(',').filter(|o| !o.is_empty()).collect();
    req.read_only = opts.contains(&"ro");
    req.nocopy = opts.contains(&"nocopy");
    if let Some(p) = opts.iter().find(|o| PROPAGATIONS.contains(o)) {
        req.propagation = p.to_string();
    } else if kind == MountKind::Bind {
        req.propagation = "rprivate".into();
    }
    req.target = check_target(&req.target).map_err(|why| {
        VolumeError::Spec(format!(
            "invalid volume specification: '{raw}': {}",
            mount_config(kind.as_str(), why)
        ))
    })?;
    if kind == MountKind::Volume && !req.source.is_empty() {
        validate_name(&req.source)?;
    }
    req.create_source = true;
    Ok(req)
}

fn parse_bool(key: &str, val: &str) -> Result<bool, String> {
    match val {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("invalid value for {key}: {val}")),
    }
}

fn set_kv(map: &mut BTreeMap<String, String>, kv: &str) {
    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
    map.insert(k.to_string(), v.to_string());
}

/// Docker's `units.RAMInBytes` for `tmpfs-size`.
fn ram_bytes(s: &str) -> Option<i64> {
    crate::options::parse_ram_bytes(s)
}

/// Splits a CSV record as Go's `encoding/csv` reads one line: fields may
/// be double-quoted (`"volume-opt=o=size=1m,uid=0"`).
fn csv_fields(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' if quoted => quoted = false,
            '"' if cur.is_empty() => quoted = true,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    if quoted {
        return Err(format!(
            "parse error on line 1, column {}: extraneous or missing \" in quoted-field",
            s.len() + 1
        ));
    }
    out.push(cur);
    Ok(out)
}

fn mount_flag_err(raw: &str, why: impl std::fmt::Display) -> VolumeError {
    VolumeError::Spec(format!(
        "invalid argument \"{raw}\" for \"--mount\" flag: {why}"
    ))
}

/// Parses `--mount type=…,source=…,target=…,…`.
pub fn parse_mount(raw: &str) -> Result<MountRequest, VolumeError> {
    let fields = csv_fields(raw).map_err(|e| mount_flag_err(raw, e))?;
    let mut req = MountRequest {
        listed: true,
        ..Default::default()
    };
    let mut kind = "volume".to_string();
    let (mut vol_opts, mut bind_opts, mut tmpfs_opts) = (false, false, false);
    let (mut size, mut tmode) = (None, None);
    for field in &fields {
        let (key, val) = match field.split_once('=') {
            Some((k, v)) => (k.to_ascii_lowercase(), Some(v)),
            None => (field.to_ascii_lowercase(), None),
        };
        let Some(val) = val else {
            match key.as_str() {
                "readonly" | "ro" => req.read_only = true,
                "volume-nocopy" => {
                    req.nocopy = true;
                    vol_opts = true;
                }
                "bind-nonrecursive" => bind_opts = true,
                _ => {
                    return Err(mount_flag_err(
                        raw,
                        format!("invalid field '{field}' must be a key=value pair"),
                    ))
                }
            }
            continue;
        };
        let bad = |k: &str| mount_flag_err(raw, format!("invalid value for {k}: {val}"));
        match key.as_str() {
            "type" => kind = val.to_ascii_lowercase(),
            "source" | "src" => req.source = absolute_source(val),
            "target" | "dst" | "destination" => req.target = val.to_string(),
            "readonly" | "ro" => req.read_only = parse_bool(&key, val).map_err(|_| bad(&key))?,
            "consistency" => {}
            "bind-propagation" => {
                req.propagation = val.to_ascii_lowercase();
                bind_opts = true;
            }
            "bind-nonrecursive" => bind_opts = true,
            "volume-nocopy" => {
                req.nocopy = parse_bool(&key, val).map_err(|_| bad("volume-nocopy"))?;
                vol_opts = true;
            }
            "volume-label" => {
                set_kv(&mut req.volume_labels, val);
                vol_opts = true;
            }
            "volume-driver" => {
                if val != "local" {
                    return Err(VolumeError::UnknownDriver {
                        name: req.source.clone(),
                        driver: val.to_string(),
                    });
                }
                vol_opts = true;
            }
            "volume-opt" => {
                set_kv(&mut req.volume_opts, val);
                vol_opts = true;
            }
            "tmpfs-size" => {
                size = Some(ram_bytes(val).ok_or_else(|| bad(&key))?);
                tmpfs_opts = true;
            }
            "tmpfs-mode" => {
                tmode = Some(u32::from_str_radix(val, 8).map_err(|_| bad(&key))?);
                tmpfs_opts = true;
            }
            _ => {
                return Err(mount_flag_err(
                    raw,
                    format!("unexpected key '{key}' in '{field}'"),
                ))
            }
        }
    }
    if kind.is_empty() {
        return Err(mount_flag_err(raw, "type is required"));
    }
    if req.target.is_empty() {
        return Err(mount_flag_err(raw, "target is required"));
    }
    for (set, prefix, k) in [
        (vol_opts, "volume-*", "volume"),
        (bind_opts, "bind-*", "bind"),
        (tmpfs_opts, "tmpfs-*", "tmpfs"),
    ] {
        if set && kind != k {
            return Err(mount_flag_err(
                raw,
                format!("cannot mix '{prefix}' options with mount type '{kind}'"),
            ));
        }
    }
    let mk = match kind.as_str() {
        "bind" => MountKind::Bind,
        "volume" => MountKind::Volume,
        "tmpfs" => MountKind::Tmpfs,
        other => {
            return Err(VolumeError::Spec(format!(
                "invalid mount config for type \"{other}\": mount type unknown"
            )))
        }
    };
    req.kind = Some(mk);
    let cfg = |why: String| VolumeError::Spec(mount_config(mk.as_str(), why));
    req.target = check_target(&req.target).map_err(cfg)?;
    match mk {
        MountKind::Bind => {
            if req.source.is_empty() {
                return Err(cfg("field Source must not be empty".into()));
            }
            if !req.source.starts_with('/') {
                return Err(cfg(format!(
                    "invalid mount path: '{}' mount path must be absolute",
                    req.source
                )));
            }
            if req.propagation.is_empty() {
                req.propagation = "rprivate".into();
            } else if !PROPAGATIONS.contains(&req.propagation.as_str()) {
                return Err(cfg(format!(
                    "invalid propagation mode: {}",
                    req.propagation
                )));
            }
        }
        MountKind::Volume => {
            if !req.source.is_empty() {
                validate_name(&req.source)?;
            }
            // What Docker's daemon records for a `--mount` volume.
            req.mode = "z".into();
        }
        MountKind::Tmpfs => {
            if !req.source.is_empty() {
                return Err(cfg("field Source must not be specified".into()));
            }
            if let Some(s) = size {
                req.tmpfs_options.push(format!("size={s}"));
            }
            if let Some(m) = tmode {
                req.tmpfs_options.push(format!("mode={m:o}"));
            }
        }
    }
    Ok(req)
}

/// Parses `--tmpfs PATH[:OPTIONS]`.
pub fn parse_tmpfs(raw: &str) -> Result<MountRequest, VolumeError> {
    let (path, opts) = raw.split_once(':').unwrap_or((raw, ""));
    let target = check_target(path).map_err(VolumeError::Spec)?;
    let mut tmpfs_options = Vec::new();
    let mut read_only = false;
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => read_only = true,
            "rw" => read_only = false,
            o => tmpfs_options.push(o.to_string()),
        }
    }
    Ok(MountRequest {
        kind: Some(MountKind::Tmpfs),
        target,
        read_only,
        tmpfs_options,
        listed: false,
        ..Default::default()
    })
}

/// Parses `--volumes-from CONTAINER[:ro|rw]`: the container and the access
/// override (`None`: keep each mount's own).
pub fn parse_volumes_from(raw: &str) -> Result<(String, Option<bool>), VolumeError> {
    let (ctr, mode) = match raw.split_once(':') {
        Some((c, m)) => (c, Some(m)),
        None => (raw, None),
    };
    if ctr.is_empty() {
        return Err(VolumeError::Spec(format!(
            "malformed volumes-from specification: {raw}"
        )));
    }
    let rw = match mode {
        None => None,
        Some("rw") => Some(true),
        Some("ro") => Some(false),
        Some(m) => {
            // Docker accepts any valid mode here and keeps only ro/rw.
            if !valid_mode(m) {
                return Err(VolumeError::Spec(format!("invalid mode: {m}")));
            }
            m.split(',').find_map(|o| match o {
                "rw" => Some(true),
                "ro" => Some(false),
                _ => None,
            })
        }
    };
    Ok((ctr.to_string(), rw))
}

/// The bind source as a path.
pub(crate) fn source_path(req: &MountRequest) -> PathBuf {
    PathBuf::from(&req.source)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(r: Result<MountRequest, VolumeError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn volume_forms() {
        let a = parse_volume("/test").unwrap();
        assert_eq!(
            (a.kind(), a.source.as_str(), a.target.as_str()),
            (MountKind::Volume, "", "/test")
        );
        let n = parse_volume("data:/d/../data/:ro").unwrap();
        assert_eq!(
            (n.kind(), n.source.as_str(), n.target.as_str()),
            (MountKind::Volume, "data", "/data")
        );
        assert!(n.read_only);
        assert_eq!(n.mode, "ro");
        assert_eq!(n.propagation, "");
        let b = parse_volume("/h:/c:Z,rshared,nocopy").unwrap();
        assert_eq!(b.kind(), MountKind::Bind);
        assert_eq!(b.propagation, "rshared");
        assert!(b.nocopy && !b.read_only && b.create_source);
        assert_eq!(parse_volume("/h:/c").unwrap().propagation, "rprivate");
    }

    #[test]
    fn volume_errors_are_dockers() {
        assert_eq!(err(parse_volume("")), "invalid empty volume spec");
        assert_eq!(
            err(parse_volume(":/x")),
            "invalid spec: :/x: empty section between colons"
        );
        assert_eq!(err(parse_volume("/a:/b:bogus")), "invalid mode: bogus");
        assert_eq!(
            err(parse_volume("/a:ro")),
            "invalid volume specification: '/a:ro'"
        );
        assert_eq!(
            err(parse_volume("/a:/b:ro:x")),
            "invalid volume specification: '/a:/b:ro:x'"
        );
        assert_eq!(
            err(parse_volume("x")),
            "invalid volume specification: 'x': invalid mount config for type \"volume\": invalid mount path: 'x' mount path must be absolute"
        );
        assert_eq!(
            err(parse_volume("/h:rel")),
            "invalid volume specification: '/h:rel': invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be absolute"
        );
        assert!(err(parse_volume("a/b:/x"))
            .contains("\"a/b\" includes invalid characters for a local volume name"));
        assert!(err(parse_volume("..:/x")).contains("invalid characters"));
        assert!(err(parse_volume("/:/")).contains("destination can't be '/'"));
    }

    #[test]
    fn mount_flag() {
        let m = parse_mount("type=bind,src=/h,dst=/c,readonly,bind-propagation=rslave").unwrap();
        assert_eq!(
            (m.kind(), m.source.as_str(), m.target.as_str()),
            (MountKind::Bind, "/h", "/c")
        );
        assert!(m.read_only && !m.create_source);
        assert_eq!(m.propagation, "rslave");
        assert_eq!(m.mode, "");
        let v = parse_mount("source=v1,target=/v,volume-nocopy,volume-opt=type=tmpfs,\"volume-opt=o=size=1m,uid=1\"").unwrap();
        assert_eq!(v.kind(), MountKind::Volume);
        assert!(v.nocopy);
        assert_eq!(
            v.volume_opts.get("o").map(String::as_str),
            Some("size=1m,uid=1")
        );
        let t = parse_mount("type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1770").unwrap();
        assert_eq!(
            t.tmpfs_options,
            vec!["size=1048576".to_string(), "mode=1770".into()]
        );
        assert_eq!(
            err(parse_mount("type=bind,source=/x")),
            "invalid argument \"type=bind,source=/x\" for \"--mount\" flag: target is required"
        );
        assert!(err(parse_mount("type=tmpfs,target=/t,volume-nocopy"))
            .contains("cannot mix 'volume-*' options with mount type 'tmpfs'"));
        assert!(err(parse_mount("type=bind,target=/t")).contains("field Source must not be empty"));
        assert!(
            err(parse_mount("bogus=1,target=/t")).contains("unexpected key 'bogus' in 'bogus=1'")
        );
        assert!(
            err(parse_mount("type=bind,src=/a,target=/t,bind-propagation=x"))
                .contains("invalid propagation mode: x")
        );
    }

    #[test]
    fn tmpfs_and_volumes_from() {
        let t = parse_tmpfs("/run:rw,size=64k,noexec").unwrap();
        assert_eq!(t.target, "/run");
        assert_eq!(
            t.tmpfs_options,
            vec!["size=64k".to_string(), "noexec".into()]
        );
        assert!(!t.listed);
        assert!(parse_tmpfs("run").is_err());
        assert_eq!(parse_volumes_from("c1").unwrap(), ("c1".into(), None));
        assert_eq!(
            parse_volumes_from("c1:ro").unwrap(),
            ("c1".into(), Some(false))
        );
        assert_eq!(
            parse_volumes_from("c1:bogus").unwrap_err().to_string(),
            "invalid mode: bogus"
        );
    }

    #[test]
    fn names() {
        assert!(validate_name("data").is_ok());
        assert!(validate_name("a.b_c-d").is_ok());
        for bad in ["a", "..", "../x", "a/b", "-a", ".a", ""] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }
}
