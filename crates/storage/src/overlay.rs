//! Container root filesystem assembly: the init layer (`/etc/hostname`,
//! `/etc/hosts`, `/etc/resolv.conf`), the upper and work dirs, and the
//! overlay lower stack `init : top … bottom` for the runtime to mount.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::images::ImageId;
use crate::staging;
use crate::store::{Store, StoreError};

/// A failure to assemble or remove a container's rootfs.
#[derive(Debug, thiserror::Error)]
pub enum OverlayError {
    /// The container id is not a safe directory name.
    #[error("invalid container id {0:?}: expected letters, digits, '_', '.' or '-'")]
    BadContainerId(String),
    /// The container's rootfs directories already exist.
    #[error("container {0}: rootfs already prepared")]
    Exists(String),
    /// A file system operation failed.
    #[error("container {id}: {op} {path}: {source}")]
    Io {
        /// The container.
        id: String,
        /// The operation.
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
}

/// What berth writes into a container's init layer.
#[derive(Debug, Clone, Copy)]
pub struct InitFiles<'a> {
    /// `/etc/hostname` content (a trailing newline is added if missing).
    pub hostname: &'a str,
    /// `/etc/hosts` content.
    pub hosts: &'a str,
    /// `/etc/resolv.conf` content.
    pub resolv_conf: &'a str,
}

/// The directories of a container's overlay root filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootfsLayout {
    /// Read-only layers, topmost first: the init layer, then the image's
    /// layers from top to bottom (overlay's `lowerdir` order).
    pub lower: Vec<PathBuf>,
    /// The read-write layer.
    pub upper: PathBuf,
    /// overlay's work dir (same file system as `upper`).
    pub work: PathBuf,
    /// Where the merged view is to be mounted: `<root>/merged`, one empty
    /// directory shared by every container. The overlay is only ever
    /// mounted inside a container's own mount namespace, so containers
    /// never see each other's mounts there, and a per-container
    /// directory would only cost a mkdir and an rmdir per container.
    pub rootfs: PathBuf,
}

/// `lowerdir=a:b,upperdir=u,workdir=w` with absolute paths. Overlay's
/// option string is limited to one page: with many layers, mount with the
/// new mount API (`fsconfig` `lowerdir+` once per entry of
/// [`RootfsLayout::lower`]) instead, or use [`overlay_options_relative`].
pub fn overlay_options(l: &RootfsLayout) -> String {
    let lower: Vec<String> = l.lower.iter().map(|p| escape(p)).collect();
    format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        escape(&l.upper),
        escape(&l.work)
    )
}

/// The same options with every path relative to `base` (the store root,
/// shortening each lower entry to `layers/<hex>/diff`), for a mount made
/// with `base` as the working directory — containerd's trick to fit more
/// layers into one page. Paths not under `base` stay absolute.
pub fn overlay_options_relative(l: &RootfsLayout, base: &Path) -> String {
    let rel = |p: &Path| escape(p.strip_prefix(base).unwrap_or(p));
    let lower: Vec<String> = l.lower.iter().map(|p| rel(p)).collect();
    format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        rel(&l.upper),
        rel(&l.work)
    )
}

/// Removes the marker a `volatile` overlay mount leaves in its work dir
/// `work` (`work/incompat/volatile`, overlayfs.rst "Volatile mount") while
/// mounted, and after it if never cleanly unmounted: overlayfs refuses any
/// later mount over it (`EINVAL`, "incompat feature 'volatile'") because
/// the upper dir may have lost writes in a crash. Whoever mounted it
/// volatile (a `--rm` container) accepted that already, as c/storage
/// does. Call before every mount of a container's upper and work dirs;
/// never while a volatile mount of them is live. No marker is fine.
pub fn clear_volatile_marker(work: &Path) -> io::Result<()> {
    match fs::remove_dir_all(work.join("work/incompat/volatile")) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// overlay splits options on ',' and lowerdir on ':'; both are escaped with
/// a backslash (fs/overlayfs/params.c).
fn escape(p: &Path) -> String {
    let s = p.to_string_lossy();
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, ':' | ',' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Removes the listed paths when dropped (a failed prepare); emptied on
/// success. Best effort: the caller gets the error that made the prepare
/// fail, and whatever cannot be removed here is inside `containers/<id>`,
/// which `remove_container_rootfs` removes whole.
struct Undo(Vec<PathBuf>);

impl Drop for Undo {
    fn drop(&mut self) {
        for p in self.0.drain(..) {
            let _ = staging::remove_tree(&p);
        }
    }
}

fn valid_container_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

impl Store {
    /// `containers/<id>` (the engine keeps its own files there too).
    pub fn container_dir(&self, container_id: &str) -> PathBuf {
        self.containers_dir().join(container_id)
    }

    /// Creates `containers/<id>/{init,upper,work}` with the init files,
    /// and returns the layout for the image's layers. The init layer's
    /// `/etc` takes the owner and mode of the image's topmost `/etc`, so
    /// it does not change what the container sees. The mount point is the
    /// shared [`RootfsLayout::rootfs`], created on first use.
    pub fn prepare_container_rootfs(
        &self,
        image: &ImageId,
        container_id: &str,
        init: &InitFiles<'_>,
    ) -> Result<RootfsLayout, StoreError> {
        if !valid_container_id(container_id) {
            return Err(OverlayError::BadContainerId(container_id.to_string()).into());
        }
        let layers = self.layer_dirs_top_first(image)?;
        let dir = self.container_dir(container_id);
        let io_err = |op, path: &Path| {
            let (id, path) = (container_id.to_string(), path.to_path_buf());
            move |source| OverlayError::Io {
                id,
                op,
                path,
                source,
            }
        };
        fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
        let layout = self.layout_for(&dir, layers);
        // What this call creates goes again if it fails half-way; the
        // container dir itself stays (the engine keeps its files there).
        let mut undo = Undo(Vec::new());
        for d in [&layout.upper, &layout.work] {
            match fs::DirBuilder::new().mode(0o755).create(d) {
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    return Err(OverlayError::Exists(container_id.to_string()).into())
                }
                r => r.map_err(io_err("create", d))?,
            }
            undo.0.push(d.clone());
        }
        // The init layer is built aside and renamed into place, so an
        // `init/` that exists is complete.
        let init_dir = &layout.lower[0];
        let stage = dir.join(staging::unique_name(".init"));
        undo.0.push(stage.clone());
        let etc = stage.join("etc");
        fs::DirBuilder::new()
            .mode(0o755)
            .recursive(true)
            .create(&etc)
            .map_err(io_err("create", &etc))?;
        if let Some(meta) = layout.lower[1..]
            .iter()
            .find_map(|l| fs::symlink_metadata(l.join("etc")).ok())
        {
            if meta.is_dir() {
                std::os::unix::fs::lchown(&etc, Some(meta.uid()), Some(meta.gid()))
                    .map_err(io_err("chown", &etc))?;
                fs::set_permissions(&etc, fs::Permissions::from_mode(meta.mode() & 0o7777))
                    .map_err(io_err("chmod", &etc))?;
            }
        }
        let mut hostname = init.hostname.to_string();
        if !hostname.ends_with('\n') {
            hostname.push('\n');
        }
        for (name, content) in [
            ("hostname", hostname.as_str()),
            ("hosts", init.hosts),
            ("resolv.conf", init.resolv_conf),
        ] {
            let p = etc.join(name);
            fs::write(&p, content).map_err(io_err("write", &p))?;
            fs::set_permissions(&p, fs::Permissions::from_mode(0o644))
                .map_err(io_err("chmod", &p))?;
        }
        fs::rename(&stage, init_dir).map_err(io_err("rename", init_dir))?;
        undo.0.clear();
        Ok(layout)
    }

    /// The layout of an already prepared container (e.g. for a restart).
    pub fn container_rootfs_layout(
        &self,
        image: &ImageId,
        container_id: &str,
    ) -> Result<RootfsLayout, StoreError> {
        if !valid_container_id(container_id) {
            return Err(OverlayError::BadContainerId(container_id.to_string()).into());
        }
        let layers = self.layer_dirs_top_first(image)?;
        Ok(self.layout_for(&self.container_dir(container_id), layers))
    }

    /// The image's layer directories, topmost first. The last answer is
    /// kept: an image's layers never change (its id is the digest of a
    /// config naming them), and `run` asks for the same image at create
    /// and again at start.
    fn layer_dirs_top_first(&self, image: &ImageId) -> Result<Vec<PathBuf>, StoreError> {
        let key = image.to_string();
        let mut memo = self.last_layout.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((k, dirs)) = memo.as_ref() {
            if *k == key {
                return Ok(dirs.clone());
            }
        }
        let layers = self.image_layers(image)?;
        let dirs: Vec<PathBuf> = layers
            .iter()
            .rev()
            .map(|l| self.layer_path(&l.chain_id))
            .collect();
        *memo = Some((key, dirs.clone()));
        Ok(dirs)
    }

    /// Removes `containers/<id>` entirely (renamed into `tmp/` first, so a
    /// half-removed directory is never mistaken for a container).
    /// Removing a missing container is not an error.
    pub fn remove_container_rootfs(&self, container_id: &str) -> Result<(), StoreError> {
        match self.detach_container_rootfs(container_id)? {
            Some(dst) => self.remove_detached(container_id, &dst),
            None => Ok(()),
        }
    }

    /// The first half of [`Store::remove_container_rootfs`]: renames
    /// `containers/<id>` into `tmp/` (one rename; the container's files
    /// are gone from every view at once) and returns where it went, for
    /// [`Store::remove_detached`] later. `None` if there was nothing.
    /// Until removed, the tree is a staging leftover: the next
    /// [`Store::open`] removes it if nobody else has.
    pub fn detach_container_rootfs(
        &self,
        container_id: &str,
    ) -> Result<Option<PathBuf>, StoreError> {
        if !valid_container_id(container_id) {
            return Err(OverlayError::BadContainerId(container_id.to_string()).into());
        }
        let dir = self.container_dir(container_id);
        let dst = self
            .tmp_dir()
            .join(staging::unique_name("deleted-container"));
        match fs::rename(&dir, &dst) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(OverlayError::Io {
                id: container_id.to_string(),
                op: "remove",
                path: dir,
                source,
            }
            .into()),
            Ok(()) => Ok(Some(dst)),
        }
    }

    /// Deletes a tree [`Store::detach_container_rootfs`] moved aside.
    pub fn remove_detached(&self, container_id: &str, detached: &Path) -> Result<(), StoreError> {
        staging::remove_tree(detached).map_err(|source| OverlayError::Io {
            id: container_id.to_string(),
            op: "remove",
            path: detached.to_path_buf(),
            source,
        })?;
        Ok(())
    }

    /// A container made before the shared mount point has its own empty
    /// `rootfs/`, which is simply left unused (and goes with the tree).
    fn layout_for(&self, dir: &Path, image_layers_top_first: Vec<PathBuf>) -> RootfsLayout {
        let mut lower = vec![dir.join("init")];
        lower.extend(image_layers_top_first);
        RootfsLayout {
            lower,
            upper: dir.join("upper"),
            work: dir.join("work"),
            rootfs: self.root().join("merged"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_string_and_escaping() {
        let l = RootfsLayout {
            lower: vec![
                "/s/c/init".into(),
                "/s/layers/a/diff".into(),
                "/s/layers/b,x:y/diff".into(),
            ],
            upper: "/s/c/upper".into(),
            work: "/s/c/work".into(),
            rootfs: "/s/c/rootfs".into(),
        };
        assert_eq!(
            overlay_options(&l),
            "lowerdir=/s/c/init:/s/layers/a/diff:/s/layers/b\\,x\\:y/diff,upperdir=/s/c/upper,workdir=/s/c/work"
        );
        assert_eq!(
            overlay_options_relative(&l, Path::new("/s")),
            "lowerdir=c/init:layers/a/diff:layers/b\\,x\\:y/diff,upperdir=c/upper,workdir=c/work"
        );
    }

    #[test]
    fn container_ids_are_checked() {
        assert!(valid_container_id("3f2a91c0be11"));
        assert!(valid_container_id("my_ctr.1-a"));
        for bad in ["", ".", "..", "a/b", "../x", "a b"] {
            assert!(!valid_container_id(bad), "{bad}");
        }
    }
}
