//! What diff and commit leave out: the init layer's files (berth writes
//! `/etc/hostname`, `/etc/hosts`, `/etc/resolv.conf` there; a copy-up of one
//! into the upper dir is still not the container's change) and everything
//! below a volume's mount point (Docker keeps the mount point itself).

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use super::ChangesError;

/// Paths to leave out, relative to the container's root (no leading `/`).
#[derive(Debug, Clone, Default)]
pub struct Skip {
    files: BTreeSet<PathBuf>,
    mount_points: Vec<PathBuf>,
}

impl Skip {
    /// Nothing is skipped.
    pub fn none() -> Skip {
        Skip::default()
    }

    /// Skips every non-directory of `init_layer` (if given) and whatever
    /// lies below each of `mount_points` (container paths such as `/data`).
    pub fn new(init_layer: Option<&Path>, mount_points: &[PathBuf]) -> Result<Skip, ChangesError> {
        let mut files = BTreeSet::new();
        if let Some(init) = init_layer {
            collect_files(init, Path::new(""), &mut files)?;
        }
        let mount_points = mount_points
            .iter()
            .map(|p| normalize(p))
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        Ok(Skip {
            files,
            mount_points,
        })
    }

    /// Whether the entry at `rel` (relative to the root) is left out.
    pub fn skips(&self, rel: &Path) -> bool {
        self.files.contains(rel)
            || self
                .mount_points
                .iter()
                .any(|m| rel != m.as_path() && rel.starts_with(m))
    }

    /// The mount points (relative), whose directories are kept empty.
    pub fn mount_points(&self) -> &[PathBuf] {
        &self.mount_points
    }
}

/// `/a/./b/../c/` → `a/c` (lexically, as Docker cleans mount destinations).
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

fn collect_files(root: &Path, rel: &Path, out: &mut BTreeSet<PathBuf>) -> Result<(), ChangesError> {
    let dir = root.join(rel);
    let entries = match fs::read_dir(&dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound && rel.as_os_str().is_empty() => {
            return Ok(())
        }
        r => r.map_err(ChangesError::io("read dir", &dir))?,
    };
    for e in entries {
        let e = e.map_err(ChangesError::io("read dir", &dir))?;
        let child = rel.join(e.file_name());
        let ft = e
            .file_type()
            .map_err(ChangesError::io("stat", root.join(&child)))?;
        if ft.is_dir() {
            collect_files(root, &child, out)?;
        } else {
            out.insert(child);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_point_kept_content_skipped() {
        let s = Skip::new(None, &[PathBuf::from("/test/"), PathBuf::from("/a/../b")]).unwrap();
        assert!(!s.skips(Path::new("test")));
        assert!(s.skips(Path::new("test/in-volume")));
        assert!(!s.skips(Path::new("testing")));
        assert!(s.skips(Path::new("b/x")));
        assert!(!s.skips(Path::new("a/x")));
    }
}
