//! Reading an OCI bundle: its absolute path, the parsed `config.json` and
//! the root filesystem it names.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

use super::ContainerError;

/// A bundle ready to be created from.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// Absolute bundle directory.
    pub dir: PathBuf,
    /// The parsed spec.
    pub spec: Spec,
    /// Absolute root filesystem path (`root.path` against `dir`).
    pub rootfs: PathBuf,
}

/// Loads the bundle at `dir`: `config.json` must parse as a runtime spec
/// (unknown namespace types and other invalid values are refused by the
/// parser, with the field named) and its `root.path` must be a directory.
pub fn load_bundle(dir: &Path) -> Result<Bundle, ContainerError> {
    let dir = fs::canonicalize(dir).map_err(|source| ContainerError::Bundle {
        path: dir.to_path_buf(),
        source,
    })?;
    let cfg = dir.join("config.json");
    let data = fs::read(&cfg).map_err(|e| ContainerError::Config {
        path: cfg.clone(),
        reason: if e.kind() == io::ErrorKind::NotFound {
            "JSON specification file not found".to_string()
        } else {
            e.to_string()
        },
    })?;
    let spec: Spec = serde_json::from_slice(&data).map_err(|e| ContainerError::Config {
        path: cfg.clone(),
        reason: format!("invalid runtime spec: {e}"),
    })?;
    let root = spec.root().as_ref().ok_or_else(|| ContainerError::Config {
        path: cfg.clone(),
        reason: "no root.path given".to_string(),
    })?;
    let rootfs = dir.join(root.path());
    if !rootfs.is_dir() {
        return Err(ContainerError::NoRootfs(rootfs));
    }
    if spec.process().is_none() {
        return Err(ContainerError::Config {
            path: cfg,
            reason: "no process given".to_string(),
        });
    }
    Ok(Bundle { dir, spec, rootfs })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle_with(config: &str, rootfs: bool) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("config.json"), config).unwrap();
        if rootfs {
            fs::create_dir(d.path().join("rootfs")).unwrap();
        }
        d
    }

    const MINIMAL: &str = r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"user":{"uid":0,"gid":0},"args":["true"],"cwd":"/"}}"#;

    #[test]
    fn loads_a_minimal_bundle() {
        let d = bundle_with(MINIMAL, true);
        let b = load_bundle(d.path()).unwrap();
        assert!(b.rootfs.ends_with("rootfs") && b.rootfs.is_absolute());
    }

    #[test]
    fn missing_config_malformed_config_missing_rootfs() {
        let d = tempfile::tempdir().unwrap();
        let e = load_bundle(d.path()).unwrap_err().to_string();
        assert!(e.contains("config.json") && e.contains("not found"), "{e}");

        let d = bundle_with("{not json", true);
        let e = load_bundle(d.path()).unwrap_err().to_string();
        assert!(e.contains("invalid runtime spec"), "{e}");

        let d = bundle_with(MINIMAL, false);
        let e = load_bundle(d.path()).unwrap_err().to_string();
        assert!(
            e.starts_with("rootfs ") && e.ends_with("does not exist"),
            "{e}"
        );
    }

    #[test]
    fn unknown_namespace_type_is_refused() {
        let cfg = MINIMAL.replace(
            "\"process\"",
            "\"linux\":{\"namespaces\":[{\"type\":\"bogus\"}]},\"process\"",
        );
        let d = bundle_with(&cfg, true);
        let e = load_bundle(d.path()).unwrap_err().to_string();
        assert!(e.contains("bogus"), "{e}");
    }
}
