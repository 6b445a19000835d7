//! The local volume store: a `volumes` table in `berth.db` (own migration
//! component `"volumes"`) and `<root>/volumes/<name>/_data`; plus the
//! `container_mounts` table whose rows are both a container's mount list
//! and the references that make a volume "in use".

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{params, OptionalExtension, Transaction};
use serde::Serialize;
use storage::Store;

use super::{validate_name, VolumeError};

/// The volume component's migration steps, oldest first. Append; never edit.
pub const MIGRATIONS: &[&str] = &["
    CREATE TABLE volumes (
        name      TEXT PRIMARY KEY,
        driver    TEXT NOT NULL,
        labels    TEXT NOT NULL,
        options   TEXT NOT NULL,
        created   TEXT NOT NULL,
        anonymous INTEGER NOT NULL
    );
    CREATE TABLE container_mounts (
        container_id TEXT NOT NULL,
        position     INTEGER NOT NULL,
        volume       TEXT,
        mount        TEXT NOT NULL,
        PRIMARY KEY (container_id, position)
    );
    CREATE INDEX container_mounts_volume ON container_mounts(volume);
    "];

/// The label Docker puts on anonymous volumes.
pub(crate) const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// One volume, as `volume inspect` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Volume {
    /// RFC 3339, seconds, local zone (`2026-11-29T07:20:00Z`).
    pub created_at: String,
    /// Always `local`.
    pub driver: String,
    /// Labels (`None` shows as `null`, as Docker for none given).
    pub labels: Option<BTreeMap<String, String>>,
    /// `<root>/volumes/<name>/_data`.
    pub mountpoint: PathBuf,
    /// The name.
    pub name: String,
    /// Local driver options (`type`, `device`, `o`).
    pub options: Option<BTreeMap<String, String>>,
    /// Always `local`.
    pub scope: String,
    /// Created for `-v /path` or an image VOLUME.
    #[serde(skip)]
    pub anonymous: bool,
}

/// `volume ls -f`: each key's values are alternatives, keys must all hold.
#[derive(Debug, Clone, Default)]
pub struct VolumeFilter {
    /// `dangling=true|false`.
    pub dangling: Option<bool>,
    /// `name=` substrings.
    pub names: Vec<String>,
    /// `label=key` or `label=key=value`.
    pub labels: Vec<String>,
    /// `driver=`.
    pub drivers: Vec<String>,
}

/// What `volume prune` removed.
#[derive(Debug, Clone, Default)]
pub struct PruneReport {
    /// Removed volumes, in name order.
    pub deleted: Vec<String>,
    /// Bytes their data held.
    pub reclaimed: u64,
}

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn label_matches(labels: &BTreeMap<String, String>, filter: &str) -> bool {
    match filter.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(filter),
    }
}

/// The volume table of a store.
pub struct Volumes<'a> {
    store: &'a Store,
}

impl<'a> Volumes<'a> {
    /// The tables in `store`'s database, created or upgraded on first use.
    pub fn open(store: &'a Store) -> Result<Self, VolumeError> {
        // Once per database and process: every start and removal opens the
        // table, and a migration check is a write transaction.
        static DONE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
        let path = store.db().path().to_path_buf();
        let mut done = DONE.lock().unwrap_or_else(|p| p.into_inner());
        if !done.contains(&path) {
            store.db().migrate("volumes", MIGRATIONS)?;
            done.push(path);
        }
        Ok(Volumes { store })
    }

    /// `<root>/volumes/<name>`.
    pub fn dir(&self, name: &str) -> PathBuf {
        absolute(&self.store.volumes_dir()).join(name)
    }

    /// `<root>/volumes/<name>/_data`.
    pub fn data_dir(&self, name: &str) -> PathBuf {
        self.dir(name).join("_data")
    }

    fn row(&self, row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Volume, VolumeError>> {
        let name: String = row.get(0)?;
        let labels: String = row.get(2)?;
        let options: String = row.get(3)?;
        let corrupt = |e: serde_json::Error| VolumeError::Corrupt {
            name: name.clone(),
            reason: e.to_string(),
        };
        let parsed = (|| {
            Ok(Volume {
                created_at: row.get(4).map_err(VolumeError::Db)?,
                driver: row.get(1).map_err(VolumeError::Db)?,
                labels: serde_json::from_str(&labels).map_err(corrupt)?,
                mountpoint: self.data_dir(&name),
                name: name.clone(),
                options: serde_json::from_str(&options).map_err(corrupt)?,
                scope: "local".into(),
                anonymous: row.get::<_, i64>(5).map_err(VolumeError::Db)? != 0,
            })
        })();
        Ok(parsed)
    }

    pub(crate) fn get_in(
        &self,
        tx: &Transaction<'_>,
        name: &str,
    ) -> Result<Option<Volume>, VolumeError> {
        tx.query_row(
            "SELECT name, driver, labels, options, created, anonymous FROM volumes WHERE name = ?1",
            [name],
            |r| self.row(r),
        )
        .optional()?
        .transpose()
    }

    /// Creates the volume unless it exists, inside `tx`; the `_data` dir is
    /// made before the row commits. Returns the volume and whether it is new.
    pub(crate) fn create_in(
        &self,
        tx: &Transaction<'_>,
        name: &str,
        labels: Option<BTreeMap<String, String>>,
        options: Option<BTreeMap<String, String>>,
        anonymous: bool,
    ) -> Result<(Volume, bool), VolumeError> {
        validate_name(name)?;
        if let Some(v) = self.get_in(tx, name)? {
            return Ok((v, false));
        }
        let created = chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        tx.execute(
            "INSERT INTO volumes (name, driver, labels, options, created, anonymous)
             VALUES (?1, 'local', ?2, ?3, ?4, ?5)",
            params![
                name,
                to_json(&labels),
                to_json(&options),
                created,
                anonymous as i64
            ],
        )?;
        let data = self.data_dir(name);
        fs::create_dir_all(&data).map_err(VolumeError::io(name, "create", &data))?;
        // As Docker: only root may list a volume's directory.
        let dir = self.dir(name);
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o701))
            .map_err(VolumeError::io(name, "chmod", &dir))?;
        let v = self
            .get_in(tx, name)?
            .ok_or_else(|| VolumeError::NoSuchVolume(name.to_string()))?;
        Ok((v, true))
    }

    /// `volume create`: idempotent for an existing name with the same driver.
    pub fn create(
        &self,
        name: Option<&str>,
        driver: &str,
        labels: BTreeMap<String, String>,
        options: BTreeMap<String, String>,
    ) -> Result<Volume, VolumeError> {
        let (name, anonymous) = match name {
            Some(n) => (n.to_string(), false),
            // A nameless `volume create` is not anonymous in Docker either.
            None => (random_name(), false),
        };
        if driver != "local" {
            return Err(VolumeError::UnknownDriver {
                name,
                driver: driver.to_string(),
            });
        }
        check_options(&name, &options)?;
        self.store.db().write(|tx| {
            let (v, _) = self.create_in(
                tx,
                &name,
                (!labels.is_empty()).then_some(labels),
                (!options.is_empty()).then_some(options),
                anonymous,
            )?;
            if v.driver != driver {
                return Err(VolumeError::DriverConflict(name.clone()));
            }
            Ok(v)
        })
    }

    /// The volume with this name.
    pub fn get(&self, name: &str) -> Result<Volume, VolumeError> {
        self.store
            .db()
            .read(|tx| self.get_in(tx, name))?
            .ok_or_else(|| VolumeError::NoSuchVolume(name.to_string()))
    }

    /// Full ids of the containers (running or not) that mount `name`.
    pub fn users(&self, name: &str) -> Result<Vec<String>, VolumeError> {
        self.store.db().read(|tx| users_in(tx, name))
    }

    /// Every volume matching `filter`, in name order.
    pub fn list(&self, filter: &VolumeFilter) -> Result<Vec<Volume>, VolumeError> {
        self.store.db().read(|tx| {
            let mut st = tx.prepare(
                "SELECT name, driver, labels, options, created, anonymous FROM volumes ORDER BY name",
            )?;
            let all: Vec<Result<Volume, VolumeError>> =
                st.query_map([], |r| self.row(r))?.collect::<Result<_, _>>()?;
            let mut out = Vec::new();
            for v in all {
                let v = v?;
                let labels = v.labels.clone().unwrap_or_default();
                let keep = (filter.names.is_empty()
                    || filter.names.iter().any(|n| v.name.contains(n.as_str())))
                    && (filter.drivers.is_empty() || filter.drivers.contains(&v.driver))
                    && filter.labels.iter().all(|l| label_matches(&labels, l));
                if !keep {
                    continue;
                }
                if let Some(d) = filter.dangling {
                    if users_in(tx, &v.name)?.is_empty() != d {
                        continue;
                    }
                }
                out.push(v);
            }
            Ok(out)
        })
    }

    /// `volume rm`: refused while any container mounts it; with `force` a
    /// missing volume is not an error.
    pub fn remove(&self, name: &str, force: bool) -> Result<(), VolumeError> {
        let trash = self.store.db().write(|tx| {
            if self.get_in(tx, name)?.is_none() {
                return if force {
                    Ok(None)
                } else {
                    Err(VolumeError::NoSuchVolume(name.to_string()))
                };
            }
            let users = users_in(tx, name)?;
            if !users.is_empty() {
                return Err(VolumeError::InUse {
                    name: name.to_string(),
                    containers: users,
                });
            }
            self.delete_in(tx, name).map(Some)
        })?;
        if let Some(t) = trash {
            let _ = fs::remove_dir_all(t);
        }
        Ok(())
    }

    /// Deletes the row and moves the directory aside (same transaction, so
    /// a concurrent create of the name waits); returns where it went.
    pub(crate) fn delete_in(
        &self,
        tx: &Transaction<'_>,
        name: &str,
    ) -> Result<PathBuf, VolumeError> {
        tx.execute("DELETE FROM volumes WHERE name = ?1", [name])?;
        let dir = self.dir(name);
        let trash = self
            .store
            .tmp_dir()
            .join(format!("volume-rm-{name}-{}", random_name()));
        match fs::rename(&dir, &trash) {
            Ok(()) => Ok(trash),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(trash),
            Err(e) => Err(VolumeError::io(name, "remove", &dir)(e)),
        }
    }

    /// `volume prune`: unused anonymous volumes, or every unused one with
    /// `all`, that carry every label in `labels`.
    pub fn prune(&self, all: bool, labels: &[String]) -> Result<PruneReport, VolumeError> {
        let candidates = self.list(&VolumeFilter {
            dangling: Some(true),
            labels: labels.to_vec(),
            ..Default::default()
        })?;
        let mut report = PruneReport::default();
        for v in candidates {
            if !all && !v.anonymous {
                continue;
            }
            let size = storage::dir_size(&v.mountpoint);
            let trash = self.store.db().write(|tx| {
                if !users_in(tx, &v.name)?.is_empty() || self.get_in(tx, &v.name)?.is_none() {
                    return Ok(None);
                }
                self.delete_in(tx, &v.name).map(Some)
            })?;
            if let Some(t) = trash {
                let _ = fs::remove_dir_all(t);
                report.deleted.push(v.name);
                report.reclaimed += size;
            }
        }
        Ok(report)
    }
}

pub(crate) fn users_in(tx: &Transaction<'_>, name: &str) -> Result<Vec<String>, VolumeError> {
    let mut st = tx.prepare(
        "SELECT DISTINCT container_id FROM container_mounts WHERE volume = ?1 ORDER BY container_id",
    )?;
    let ids = st
        .query_map([name], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(ids)
}

/// Local driver options: `type`, `device`, `o` only (Docker's
/// `validateOpts`), and a bind device must exist.
fn check_options(name: &str, options: &BTreeMap<String, String>) -> Result<(), VolumeError> {
    for k in options.keys() {
        if !matches!(k.as_str(), "type" | "device" | "o" | "size") {
            return Err(VolumeError::Spec(format!(
                "create {name}: invalid option key: {k:?}"
            )));
        }
    }
    let o = options.get("o").map(String::as_str).unwrap_or("");
    if o.split(',').any(|x| x == "bind") {
        let dev = options.get("device").map(String::as_str).unwrap_or("");
        if !Path::new(dev).exists() {
            return Err(VolumeError::Spec(format!(
                "create {name}: failed to mount local volume: mount {dev}: no such file or directory"
            )));
        }
    }
    Ok(())
}

/// 64 random hex digits (anonymous volume names).
pub(crate) fn random_name() -> String {
    crate::container::random_id()
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}
