//! Removing images (`docker rmi`, `docker image prune`) with Docker's
//! conflict rules; layers and blobs no other image uses go too.

use rusqlite::{OptionalExtension, Transaction};

use super::names::{image_refs, remove_ref, resolve_in};
use super::query::load_images;
use super::{ImageError, ImageId, InUse, RemoveEvent};
use crate::digest::Digest;
use crate::layers::now_secs;
use crate::reference::Reference;
use crate::staging;
use crate::store::{Store, StoreError};

impl Store {
    /// `docker rmi [-f] NAME`. By name: untags, and deletes the image when
    /// that was its last name. By id: deletes the image with all its
    /// names (refused without `force` if it has names in several
    /// repositories). Refused without `force` while `in_use` names a
    /// container; with `force` an in-use image is only untagged. Layers
    /// still used by another image stay.
    pub fn remove_image(
        &self,
        name: &str,
        force: bool,
        in_use: InUse<'_>,
    ) -> Result<Vec<RemoveEvent>, StoreError> {
        let (events, doomed) = self.db().write(|tx| -> Result<_, ImageError> {
            let id = resolve_in(tx, name)?;
            let refs = image_refs(tx, &id)?;
            let by_id = is_id_like(name, &id);
            let user = in_use(&id);
            let mut events = Vec::new();
            if !by_id {
                let r = Reference::parse_with_default_tag(name)?;
                if !force && refs.len() == 1 {
                    if let Some(c) = &user {
                        return Err(ImageError::Conflict(format!(
                            "unable to remove repository reference {name:?} (must force) - container {} is using its referenced image {}",
                            short(c),
                            id.short()
                        )));
                    }
                }
                remove_ref(tx, &r)?;
                events.push(RemoveEvent::Untagged(r));
                if refs.len() > 1 {
                    return Ok((events, None));
                }
            } else {
                if !force {
                    if let Some(c) = &user {
                        return Err(ImageError::Conflict(format!(
                            "unable to delete {} (must be forced) - image is being used by stopped container {}",
                            id.short(),
                            short(c)
                        )));
                    }
                    let repos: std::collections::BTreeSet<String> = refs.iter().map(|r| r.name()).collect();
                    if repos.len() > 1 {
                        return Err(ImageError::Conflict(format!(
                            "unable to delete {} (must be forced) - image is referenced in multiple repositories",
                            id.short()
                        )));
                    }
                }
                for r in refs {
                    remove_ref(tx, &r)?;
                    events.push(RemoveEvent::Untagged(r));
                }
            }
            if user.is_some() {
                // Docker keeps an image a container uses (dangling) even
                // with -f: the container still needs its layers.
                return Ok((events, None));
            }
            let doomed = delete_image_rows(tx, &id)?;
            events.push(RemoveEvent::Deleted(id));
            Ok((events, Some(doomed)))
        })?;
        if let Some(d) = doomed {
            self.remove_doomed(d);
        }
        Ok(events)
    }

    /// `docker image prune [-a]`: deletes dangling images (no tags), or
    /// with `all` every image no container uses; also layers no image
    /// references that were left by interrupted loads over an hour ago
    /// (recorded, or renamed into place but never recorded).
    /// Returns what was deleted and the bytes reclaimed.
    pub fn prune_images(
        &self,
        all: bool,
        in_use: InUse<'_>,
    ) -> Result<(Vec<RemoveEvent>, u64), StoreError> {
        let (events, doomed) = self.db().write(|tx| -> Result<_, ImageError> {
            let images = load_images(tx, None)?;
            let mut events = Vec::new();
            let mut doomed = Doomed::default();
            for img in images {
                if (!all && !img.repo_tags.is_empty()) || in_use(&img.id).is_some() {
                    continue;
                }
                for r in image_refs(tx, &img.id)? {
                    remove_ref(tx, &r)?;
                    events.push(RemoveEvent::Untagged(r));
                }
                let d = delete_image_rows(tx, &img.id)?;
                doomed.extend(d);
                events.push(RemoveEvent::Deleted(img.id));
            }
            doomed.extend(delete_orphan_layers(tx, now_secs() - ORPHAN_GRACE_SECS)?);
            doomed.extend(unrecorded_layer_dirs(tx, &self.layers_dir())?);
            Ok((events, doomed))
        })?;
        let reclaimed = doomed.bytes;
        self.remove_doomed(doomed);
        Ok((events, reclaimed))
    }

    /// Removes the files of deleted rows: layer dirs (renamed into `tmp/`
    /// first, so a layer path that exists is always complete) and blobs.
    fn remove_doomed(&self, d: Doomed) {
        for chain in &d.layers {
            let src = self.layers_dir().join(chain.hex());
            let dst = self.tmp_dir().join(staging::unique_name("deleted-layer"));
            if std::fs::rename(&src, &dst).is_ok() {
                let _ = staging::remove_tree(&dst);
            }
        }
        for b in &d.blobs {
            let _ = self.blobs().delete(b);
        }
    }
}

/// What a deletion left to remove from disk after commit.
#[derive(Default)]
struct Doomed {
    layers: Vec<Digest>,
    blobs: Vec<Digest>,
    bytes: u64,
}

impl Doomed {
    fn extend(&mut self, o: Doomed) {
        self.layers.extend(o.layers);
        self.blobs.extend(o.blobs);
        self.bytes += o.bytes;
    }
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// Whether the user named the image by (a prefix of) its id.
fn is_id_like(name: &str, id: &ImageId) -> bool {
    let hex = name.strip_prefix("sha256:").unwrap_or(name);
    !hex.is_empty() && id.hex().starts_with(hex)
}

/// Deletes an image's rows (names must already be gone or are cascaded)
/// and the layer rows no other image uses; returns what to remove on disk.
fn delete_image_rows(tx: &Transaction<'_>, id: &ImageId) -> Result<Doomed, ImageError> {
    let manifest: Option<String> = tx
        .query_row(
            "SELECT manifest_digest FROM images WHERE id = ?1",
            [id.to_string()],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    let chains: Vec<String> = {
        let mut st = tx.prepare("SELECT chain_id FROM image_layers WHERE image_id = ?1")?;
        let rows = st
            .query_map([id.to_string()], |r| r.get(0))?
            .collect::<Result<Vec<_>, _>>()?;
        rows
    };
    tx.execute("DELETE FROM images WHERE id = ?1", [id.to_string()])?;
    let mut doomed = Doomed {
        blobs: vec![id.clone()],
        ..Doomed::default()
    };
    if let Some(m) = manifest {
        let others: i64 = tx.query_row(
            "SELECT count(*) FROM images WHERE manifest_digest = ?1",
            [&m],
            |r| r.get(0),
        )?;
        if others == 0 {
            doomed.blobs.push(Digest::parse(&m)?);
        }
    }
    for c in chains {
        let used: i64 = tx.query_row(
            "SELECT count(*) FROM image_layers WHERE chain_id = ?1",
            [&c],
            |r| r.get(0),
        )?;
        if used == 0 {
            doomed.extend(delete_layer_row(tx, &c)?);
        }
    }
    Ok(doomed)
}

fn delete_layer_row(tx: &Transaction<'_>, chain: &str) -> Result<Doomed, ImageError> {
    let row: Option<(i64, Option<String>)> = tx
        .query_row(
            "SELECT size, blob_digest FROM layers WHERE chain_id = ?1",
            [chain],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((size, blob)) = row else {
        return Ok(Doomed::default());
    };
    tx.execute("DELETE FROM layers WHERE chain_id = ?1", [chain])?;
    let mut d = Doomed {
        layers: vec![Digest::parse(chain)?],
        bytes: size as u64,
        ..Doomed::default()
    };
    if let Some(b) = blob {
        let others: i64 = tx.query_row(
            "SELECT count(*) FROM layers WHERE blob_digest = ?1",
            [&b],
            |r| r.get(0),
        )?;
        if others == 0 {
            d.blobs.push(Digest::parse(&b)?);
        }
    }
    Ok(d)
}

/// How long a layer no image uses is kept: a load in progress may be
/// about to record the image that uses it.
const ORPHAN_GRACE_SECS: i64 = 3600;

/// Layer directories without a row, older than the grace period: left by
/// a process killed between renaming a finished layer into place and
/// recording it.
fn unrecorded_layer_dirs(
    tx: &Transaction<'_>,
    layers: &std::path::Path,
) -> Result<Doomed, ImageError> {
    let mut d = Doomed::default();
    let Ok(entries) = std::fs::read_dir(layers) else {
        return Ok(d);
    };
    let cutoff =
        std::time::SystemTime::now() - std::time::Duration::from_secs(ORPHAN_GRACE_SECS as u64);
    for e in entries.flatten() {
        let Some(chain) = e
            .file_name()
            .to_str()
            .and_then(|n| Digest::from_hex(n).ok())
        else {
            continue;
        };
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .map(|t| t < cutoff)
            .unwrap_or(false);
        let recorded: i64 = tx.query_row(
            "SELECT count(*) FROM layers WHERE chain_id = ?1",
            [chain.to_string()],
            |r| r.get(0),
        )?;
        if old && recorded == 0 {
            d.layers.push(chain);
        }
    }
    Ok(d)
}

/// Layers no image uses, recorded before `before` (Unix seconds): left by
/// loads that were interrupted between unpacking and recording the image.
fn delete_orphan_layers(tx: &Transaction<'_>, before: i64) -> Result<Doomed, ImageError> {
    let chains: Vec<String> = {
        let mut st = tx.prepare(
            "SELECT chain_id FROM layers WHERE created_at < ?1
             AND chain_id NOT IN (SELECT chain_id FROM image_layers)",
        )?;
        let rows = st
            .query_map([before], |r| r.get(0))?
            .collect::<Result<Vec<_>, _>>()?;
        rows
    };
    let mut d = Doomed::default();
    for c in chains {
        d.extend(delete_layer_row(tx, &c)?);
    }
    Ok(d)
}
