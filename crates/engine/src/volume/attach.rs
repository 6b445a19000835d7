//! A container's mounts: resolved once at create (volumes created, image
//! content copied up, `--volumes-from` followed), stored in
//! `container_mounts`, turned into spec mounts at each start, listed by
//! `inspect`, and released when the container is removed.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use oci_spec::image::Config as ImageConfig;
use oci_spec::runtime::{Mount, MountBuilder, Spec};
use rusqlite::{params, Transaction};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use storage::Store;

use super::parse::{parse_volumes_from, source_path, MountKind, MountRequest};
use super::store::{users_in, Volumes, ANONYMOUS_LABEL};
use super::{copy_up, VolumeError};
use crate::container::Container;
use crate::engine::Engine;
use crate::error::EngineError;

/// One mount of a container: what `inspect` shows and what the spec gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountPoint {
    /// bind, volume or tmpfs.
    pub kind: MountKind,
    /// The volume's name (empty for binds and tmpfs).
    pub name: String,
    /// Host path shown as `Source` (a volume's `_data`).
    pub source: PathBuf,
    /// Path in the container.
    pub destination: String,
    /// Docker's `Mode` (the raw `-v` mode string).
    pub mode: String,
    /// Writable.
    pub rw: bool,
    /// Propagation as shown (`rprivate` for binds, empty for volumes).
    pub propagation: String,
    /// An anonymous volume (removed with `rm -v` / `--rm`).
    pub anonymous: bool,
    /// Shown in `inspect` (`--tmpfs` mounts are not, as in Docker).
    pub listed: bool,
    /// The spec mount's `type`.
    pub spec_type: String,
    /// The spec mount's `source`.
    pub spec_source: PathBuf,
    /// The spec mount's options.
    pub spec_options: Vec<String>,
}

impl MountPoint {
    fn to_spec(&self) -> Mount {
        let mut b = MountBuilder::default()
            .destination(&self.destination)
            .typ(&self.spec_type)
            .source(&self.spec_source)
            .options(self.spec_options.clone());
        if self.spec_type == "bind" {
            b = b.typ("bind");
        }
        // Every field is set, so the builder cannot fail.
        b.build().unwrap_or_default()
    }
}

/// Docker's tmpfs defaults; the user's options come after and win.
const TMPFS_DEFAULTS: &[&str] = &["nosuid", "nodev", "noexec"];

fn bind_options(read_only: bool, propagation: &str) -> Vec<String> {
    let mut o = vec!["rbind".to_string()];
    if read_only {
        o.push("ro".into());
    }
    if !propagation.is_empty() {
        o.push(propagation.to_string());
    }
    o
}

fn tmpfs_options(read_only: bool, extra: &[String]) -> Vec<String> {
    let mut o: Vec<String> = TMPFS_DEFAULTS.iter().map(|s| s.to_string()).collect();
    o.extend(extra.iter().cloned());
    if read_only {
        o.push("ro".into());
    }
    o
}

/// The spec mount of a volume: its `_data` bound, or for a local-driver
/// volume with options its device mounted directly in the container.
fn volume_spec(
    data: &Path,
    options: Option<&BTreeMap<String, String>>,
    read_only: bool,
    propagation: &str,
) -> (String, PathBuf, Vec<String>) {
    let opts = options.cloned().unwrap_or_default();
    let typ = opts.get("type").map(String::as_str).unwrap_or("");
    let o: Vec<String> = opts
        .get("o")
        .map(|o| {
            o.split(',')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let device = opts.get("device").cloned().unwrap_or_default();
    if o.iter().any(|x| x == "bind") {
        let mut so = bind_options(read_only, propagation);
        so.extend(o.into_iter().filter(|x| x != "bind" && x != "rbind"));
        return ("bind".into(), PathBuf::from(device), so);
    }
    if typ.is_empty() {
        return (
            "bind".into(),
            data.to_path_buf(),
            bind_options(read_only, propagation),
        );
    }
    let mut so = o;
    if read_only {
        so.push("ro".into());
    }
    (typ.to_string(), PathBuf::from(device), so)
}

/// A mount planned at create, before the volume rows exist.
struct Planned {
    req: MountRequest,
    /// The volume name (generated for an anonymous one).
    volume: String,
    anonymous: bool,
}

fn anonymous_request(target: &str) -> MountRequest {
    MountRequest {
        kind: Some(MountKind::Volume),
        target: target.to_string(),
        listed: true,
        ..Default::default()
    }
}

/// Resolves the mounts of a new container (its record and rootfs exist):
/// `--volumes-from` first, then `-v`, `--mount`, `--tmpfs`, then the image's
/// VOLUMEs not already covered; creates the volumes, records the mounts,
/// and copies the image's content into new empty volumes.
pub fn attach(
    engine: &Engine,
    c: &Container,
    image_config: Option<&ImageConfig>,
) -> Result<(), EngineError> {
    let flags = &c.host_config.mounts;
    let image_volumes: Vec<String> = image_config
        .and_then(|ic| ic.volumes().clone())
        .unwrap_or_default();
    if flags.is_empty() && image_volumes.is_empty() {
        remember_no_mounts(engine.store(), &c.id);
        return Ok(());
    }
    let store = engine.store();
    let volumes = Volumes::open(store)?;
    let mut points: Vec<MountPoint> = Vec::new();
    let mut planned: Vec<Planned> = Vec::new();
    let mut taken: BTreeSet<String> = BTreeSet::new();

    for raw in &flags.volumes_from {
        let (reference, rw) = parse_volumes_from(raw)?;
        let from = engine
            .find(&reference)
            .map_err(|_| VolumeError::NoSuchContainer(reference.clone()))?;
        for mut m in mounts_of(store, &from.id)? {
            if let Some(rw) = rw {
                if m.rw != rw {
                    m.rw = rw;
                    m.spec_options.retain(|o| o != "ro" && o != "rw");
                    if !rw {
                        m.spec_options.push("ro".into());
                    }
                    m.mode = if rw { "rw" } else { "ro" }.into();
                }
            }
            taken.insert(m.destination.clone());
            points.push(m);
        }
    }

    let mut user_targets = BTreeSet::new();
    for req in flags.requests()? {
        if !user_targets.insert(req.target.clone()) {
            return Err(VolumeError::Spec(format!("Duplicate mount point: {}", req.target)).into());
        }
        // A user mount replaces one inherited with --volumes-from.
        points.retain(|p| p.destination != req.target);
        taken.insert(req.target.clone());
        plan(req, &mut points, &mut planned)?;
    }
    for v in image_volumes.iter().filter(|v| v.starts_with('/')) {
        let target = super::parse::clean(v);
        if target != "/" && taken.insert(target.clone()) {
            plan(anonymous_request(&target), &mut points, &mut planned)?;
        }
    }

    // Create the volumes and record every mount in one transaction, so a
    // concurrent `volume prune` never sees a new volume unreferenced.
    let mut fresh = Vec::new();
    store.db().write(|tx| -> Result<(), VolumeError> {
        for p in &planned {
            let labels = if p.anonymous {
                let mut l = p.req.volume_labels.clone();
                l.insert(ANONYMOUS_LABEL.into(), String::new());
                Some(l)
            } else {
                (!p.req.volume_labels.is_empty()).then(|| p.req.volume_labels.clone())
            };
            let opts = (!p.req.volume_opts.is_empty()).then(|| p.req.volume_opts.clone());
            let (vol, _new) = volumes.create_in(tx, &p.volume, labels, opts, p.anonymous)?;
            let (spec_type, spec_source, spec_options) = volume_spec(
                &vol.mountpoint,
                vol.options.as_ref(),
                p.req.read_only,
                &p.req.propagation,
            );
            if !p.req.nocopy && vol.options.is_none() {
                fresh.push((vol.mountpoint.clone(), p.req.target.clone()));
            }
            points.push(MountPoint {
                kind: MountKind::Volume,
                name: vol.name.clone(),
                source: vol.mountpoint.clone(),
                destination: p.req.target.clone(),
                mode: p.req.mode.clone(),
                rw: !p.req.read_only,
                propagation: p.req.propagation.clone(),
                anonymous: p.anonymous,
                listed: p.req.listed,
                spec_type,
                spec_source,
                spec_options,
            });
        }
        insert_in(tx, &c.id, &points)
    })?;

    if !fresh.is_empty() {
        let image_id = c.image_id.parse().map_err(|_| EngineError::Corrupt {
            id: c.id.clone(),
            reason: format!("image id {:?}", c.image_id),
        })?;
        let layout = store.container_rootfs_layout(&image_id, &c.id)?;
        let mut layers = vec![layout.upper.clone()];
        layers.extend(layout.lower.iter().cloned());
        for (data, target) in fresh {
            // Only an empty volume is filled: data already there wins.
            let empty = fs::read_dir(&data)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false);
            if empty {
                copy_up(&layers, &target, &data)?;
            }
        }
    }
    Ok(())
}

/// Turns one request into a mount point (bind, tmpfs) or a planned volume.
fn plan(
    req: MountRequest,
    points: &mut Vec<MountPoint>,
    planned: &mut Vec<Planned>,
) -> Result<(), VolumeError> {
    match req.kind() {
        MountKind::Bind => {
            let src = source_path(&req);
            if !src.exists() {
                if !req.create_source {
                    return Err(VolumeError::BindSourceMissing(req.source.clone()));
                }
                // `-v /missing:/x` creates the host directory, as Docker does.
                fs::create_dir_all(&src).map_err(VolumeError::io(&req.target, "create", &src))?;
            }
            points.push(MountPoint {
                kind: MountKind::Bind,
                name: String::new(),
                source: src.clone(),
                destination: req.target.clone(),
                mode: req.mode.clone(),
                rw: !req.read_only,
                propagation: req.propagation.clone(),
                anonymous: false,
                listed: true,
                spec_type: "bind".into(),
                spec_source: src,
                spec_options: bind_options(req.read_only, &req.propagation),
            });
        }
        MountKind::Tmpfs => points.push(MountPoint {
            kind: MountKind::Tmpfs,
            name: String::new(),
            source: PathBuf::new(),
            destination: req.target.clone(),
            mode: String::new(),
            rw: !req.read_only,
            propagation: String::new(),
            anonymous: false,
            listed: req.listed,
            spec_type: "tmpfs".into(),
            spec_source: PathBuf::from("tmpfs"),
            spec_options: tmpfs_options(req.read_only, &req.tmpfs_options),
        }),
        MountKind::Volume => {
            let anonymous = req.source.is_empty();
            let volume = if anonymous {
                super::store::random_name()
            } else {
                req.source.clone()
            };
            planned.push(Planned {
                req,
                volume,
                anonymous,
            });
        }
    }
    Ok(())
}

fn insert_in(tx: &Transaction<'_>, id: &str, points: &[MountPoint]) -> Result<(), VolumeError> {
    tx.execute("DELETE FROM container_mounts WHERE container_id = ?1", [id])?;
    for (i, p) in points.iter().enumerate() {
        let volume = (p.kind == MountKind::Volume).then_some(p.name.as_str());
        tx.execute(
            "INSERT INTO container_mounts (container_id, position, volume, mount)
             VALUES (?1, ?2, ?3, ?4)",
            params![
                id,
                i as i64,
                volume,
                serde_json::to_string(p).unwrap_or_default()
            ],
        )?;
    }
    Ok(())
}

fn mounts_in(tx: &Transaction<'_>, id: &str) -> Result<Vec<MountPoint>, VolumeError> {
    let mut st =
        tx.prepare("SELECT mount FROM container_mounts WHERE container_id = ?1 ORDER BY position")?;
    let rows: Vec<String> = st
        .query_map([id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    rows.iter()
        .map(|j| {
            serde_json::from_str(j).map_err(|e| VolumeError::Corrupt {
                name: id.to_string(),
                reason: e.to_string(),
            })
        })
        .collect()
}

/// The recorded mounts of a container, in order.
/// The container this process created without any mount, in this
/// database: mounts are recorded only by [`attach`] at create, so its
/// start (`run`, same process) needs no query to know it has none.
static NO_MOUNTS: Mutex<Option<(PathBuf, String)>> = Mutex::new(None);

fn remember_no_mounts(store: &Store, id: &str) {
    let mut m = NO_MOUNTS.lock().unwrap_or_else(|p| p.into_inner());
    *m = Some((store.db().path().to_path_buf(), id.to_string()));
}

/// Whether this process created `id` without mounts (see [`attach`]).
pub(crate) fn known_without_mounts(store: &Store, id: &str) -> bool {
    let m = NO_MOUNTS.lock().unwrap_or_else(|p| p.into_inner());
    m.as_ref()
        .is_some_and(|(db, known)| known == id && db == store.db().path())
}

pub(crate) fn mounts_of(store: &Store, id: &str) -> Result<Vec<MountPoint>, VolumeError> {
    if known_without_mounts(store, id) {
        return Ok(Vec::new());
    }
    Volumes::open(store)?;
    store.db().read(|tx| mounts_in(tx, id))
}

/// Adds the container's mounts to its spec: a user mount replaces a default
/// one with the same destination, and parents are mounted before children
/// (Docker sorts by path depth).
pub fn add_to_spec(store: &Store, id: &str, spec: Spec) -> Result<Spec, VolumeError> {
    let points = mounts_of(store, id)?;
    if points.is_empty() {
        return Ok(spec);
    }
    let mut spec = spec;
    let dests: BTreeSet<&str> = points.iter().map(|p| p.destination.as_str()).collect();
    let mut mounts: Vec<Mount> = spec
        .mounts()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| !dests.contains(m.destination().to_string_lossy().as_ref()))
        .collect();
    let mut user: Vec<&MountPoint> = points.iter().collect();
    user.sort_by_key(|p| p.destination.matches('/').count());
    mounts.extend(user.into_iter().map(MountPoint::to_spec));
    spec.set_mounts(Some(mounts));
    set_root_propagation(&mut spec, &points);
    Ok(spec)
}

/// A shared or slave bind needs a root that is not private, as Docker's
/// `setMounts` does: `shared` for shared binds, else `rslave` for slave
/// ones, unless the spec already asks for something compatible. The
/// runtime keeps the host out of it (the rootfs's parent mount is made
/// private first).
fn set_root_propagation(spec: &mut Spec, points: &[MountPoint]) {
    let any = |l: &[&str]| points.iter().any(|p| l.contains(&p.propagation.as_str()));
    let Some(mut linux) = spec.linux().clone() else {
        return;
    };
    let cur = linux.rootfs_propagation().clone().unwrap_or_default();
    let want = if any(&["shared", "rshared"]) {
        (!matches!(cur.as_str(), "shared" | "rshared")).then_some("shared")
    } else if any(&["slave", "rslave"]) {
        (!matches!(cur.as_str(), "shared" | "rshared" | "slave" | "rslave")).then_some("rslave")
    } else {
        None
    };
    if let Some(w) = want {
        linux.set_rootfs_propagation(Some(w.to_string()));
        spec.set_linux(Some(linux));
    }
}

/// `Mounts` of `inspect`, as Docker prints them.
pub fn inspect_mounts(store: &Store, id: &str) -> Value {
    let points = mounts_of(store, id).unwrap_or_default();
    let list: Vec<Value> = points
        .iter()
        .filter(|p| p.listed)
        .map(|p| {
            let mut m = serde_json::Map::new();
            m.insert("Type".into(), json!(p.kind.as_str()));
            if p.kind == MountKind::Volume {
                m.insert("Name".into(), json!(p.name));
            }
            m.insert("Source".into(), json!(p.source));
            m.insert("Destination".into(), json!(p.destination));
            if p.kind == MountKind::Volume {
                m.insert("Driver".into(), json!("local"));
            }
            // dockerd 20.10 gives a named volume without options the
            // SELinux relabel mode `z` (`-v` and `--mount` alike); an
            // anonymous one keeps "".
            let named_default = p.kind == MountKind::Volume && !p.anonymous && p.mode.is_empty();
            let mode = if named_default { "z" } else { p.mode.as_str() };
            m.insert("Mode".into(), json!(mode));
            m.insert("RW".into(), json!(p.rw));
            m.insert("Propagation".into(), json!(p.propagation));
            Value::Object(m)
        })
        .collect();
    Value::Array(list)
}

/// Drops the container's mount records (its volume references); with
/// `anonymous`, also removes its anonymous volumes no other container uses.
/// Returns nothing to do for a container without mounts.
pub fn release(store: &Store, id: &str, anonymous: bool) -> Result<(), VolumeError> {
    let volumes = Volumes::open(store)?;
    let trash = store
        .db()
        .write(|tx| release_in(tx, &volumes, id, anonymous))?;
    remove_trash(trash);
    Ok(())
}

/// [`release`]'s records part, inside the caller's transaction (the
/// removal of a `run --rm` container drops its row in the same commit).
/// Returns the directories of the volumes it deleted, for
/// [`remove_trash`] once the transaction has committed.
pub(crate) fn release_in(
    tx: &Transaction<'_>,
    volumes: &Volumes<'_>,
    id: &str,
    anonymous: bool,
) -> Result<Vec<PathBuf>, VolumeError> {
    let points = mounts_in(tx, id)?;
    if points.is_empty() {
        return Ok(Vec::new());
    }
    tx.execute("DELETE FROM container_mounts WHERE container_id = ?1", [id])?;
    let mut trash = Vec::new();
    if anonymous {
        for p in points.iter().filter(|p| p.anonymous) {
            if users_in(tx, &p.name)?.is_empty() && volumes.get_in(tx, &p.name)?.is_some() {
                trash.push(volumes.delete_in(tx, &p.name)?);
            }
        }
    }
    Ok(trash)
}

/// Removes the data of volumes whose records are gone (best effort: a
/// leftover directory has no record and is never shown).
pub(crate) fn remove_trash(trash: Vec<PathBuf>) {
    for t in trash {
        let _ = fs::remove_dir_all(t);
    }
}

impl Engine {
    /// `rm -v`: removes the container and then its anonymous volumes that
    /// no other container uses (named volumes are never removed).
    pub fn remove_with_volumes(
        &self,
        reference: &str,
        force: bool,
    ) -> Result<Container, EngineError> {
        let c = self.find(reference)?;
        let anonymous: Vec<String> = mounts_of(self.store(), &c.id)?
            .into_iter()
            .filter(|p| p.anonymous)
            .map(|p| p.name)
            .collect();
        let removed = self.remove(&c.id, force)?;
        let volumes = Volumes::open(self.store())?;
        for name in anonymous {
            match volumes.remove(&name, true) {
                Ok(()) | Err(VolumeError::InUse { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(removed)
    }
}
