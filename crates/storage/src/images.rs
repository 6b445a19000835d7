//! The image store: images (id = digest of the config blob), their layer
//! stacks, tags and repo digests, with Docker's rules for resolving a name
//! or id, tagging, removing (`rmi`) and pruning.

use std::collections::BTreeMap;

use oci_spec::image::ImageConfiguration;
use rusqlite::{params, OptionalExtension, Transaction};

use crate::blobs::BlobError;
use crate::db::DbError;
use crate::digest::{Digest, DigestError};
use crate::layers::{chain_ids, now_secs, row_to_raw, Layer, LayerError};
use crate::reference::{Reference, ReferenceError};
use crate::staging;
use crate::store::{Store, StoreError};

/// An image id: the sha256 digest of its config blob.
pub type ImageId = Digest;

/// A failure of an image operation. Messages follow Docker's.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// Nothing matches the name or id.
    #[error("No such image: {0}")]
    NotFound(String),
    /// An id prefix matches several images.
    #[error("image id prefix {0:?} is ambiguous: it matches several images")]
    Ambiguous(String),
    /// The name is not a valid reference.
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    /// The config blob is not a usable image config.
    #[error("image config {id}: {reason}")]
    BadConfig {
        /// The config digest (the would-be image id).
        id: Digest,
        /// What is wrong.
        reason: String,
    },
    /// The config lists a layer that is not unpacked in the store.
    #[error("image {id}: layer {index} (diff id {diff_id}) is not in the store")]
    MissingLayer {
        /// The image.
        id: Digest,
        /// 0-based index in rootfs.diff_ids.
        index: usize,
        /// The diff id.
        diff_id: Digest,
    },
    /// `rmi` refused (Docker's "conflict: …" messages).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A stored digest is malformed (database corruption).
    #[error("image record: {0}")]
    BadDigest(#[from] DigestError),
    /// Blob store failure.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// Database failure.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<rusqlite::Error> for ImageError {
    fn from(e: rusqlite::Error) -> Self {
        ImageError::Db(DbError::Sql(e))
    }
}

/// What to record with a new image besides its config.
#[derive(Debug, Clone, Default)]
pub struct NewImage {
    /// Names to give the image. A tagged reference becomes a tag (moved
    /// from whichever image had it, as `docker load` does); a digest
    /// reference becomes a repo digest.
    pub tags: Vec<Reference>,
    /// Digest of the manifest the image came from (OCI archive, registry),
    /// recorded as a repo digest for every tagged repository.
    pub manifest_digest: Option<Digest>,
}

/// An image as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Digest of the config blob.
    pub id: ImageId,
    /// Tags, e.g. `docker.io/library/busybox:latest` (show with
    /// [`Reference::familiar_string`]), sorted.
    pub repo_tags: Vec<Reference>,
    /// `repository@digest` references, sorted.
    pub repo_digests: Vec<Reference>,
    /// The config's `created` (RFC 3339), if any.
    pub created: Option<String>,
    /// Sum of the unpacked sizes of its layers, as Docker's SIZE.
    pub size: u64,
    /// Chain ids, bottom layer first.
    pub layers: Vec<Digest>,
    /// Diff ids, bottom layer first.
    pub diff_ids: Vec<Digest>,
    /// The manifest digest recorded at add time, if any.
    pub manifest_digest: Option<Digest>,
    /// When the image was added to this store (Unix seconds).
    pub added_at: i64,
}

/// One step of an image removal, as `docker rmi` prints them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoveEvent {
    /// `Untagged: busybox:latest` (print with `familiar_string`).
    Untagged(Reference),
    /// `Deleted: sha256:…`.
    Deleted(ImageId),
}

/// A container-use check supplied by the engine: `Some(container id)` if a
/// container uses the image.
pub type InUse<'a> = &'a dyn Fn(&ImageId) -> Option<String>;

/// The part of a config add_image needs; parsed leniently so that any
/// config with a rootfs is accepted even if oci-spec would reject it.
#[derive(serde::Deserialize)]
struct MinimalConfig {
    created: Option<String>,
    rootfs: MinimalRootfs,
}

#[derive(serde::Deserialize)]
struct MinimalRootfs {
    #[serde(rename = "type")]
    kind: String,
    diff_ids: Vec<String>,
}

impl Store {
    /// Records an image whose layers are already unpacked: stores the
    /// config blob, checks every `rootfs.diff_ids` entry is an unpacked
    /// layer (by chain id), and records image, layers, tags and repo
    /// digests in one transaction. Adding an existing image only updates
    /// its names. Returns the image id.
    pub fn add_image(&self, config: &[u8], new: &NewImage) -> Result<ImageId, StoreError> {
        let id = Digest::of_bytes(config);
        let bad = |reason: String| ImageError::BadConfig {
            id: id.clone(),
            reason,
        };
        let parsed: MinimalConfig = serde_json::from_slice(config)
            .map_err(|e| bad(format!("not a valid image config: {e}")))?;
        if parsed.rootfs.kind != "layers" {
            return Err(bad(format!(
                "rootfs type {:?} is not \"layers\"",
                parsed.rootfs.kind
            ))
            .into());
        }
        let diff_ids = parsed
            .rootfs
            .diff_ids
            .iter()
            .map(|d| Digest::parse(d))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(format!("rootfs.diff_ids: {e}")))?;
        let chains = chain_ids(&diff_ids);
        self.blobs().put_bytes(config, Some(&id))?;
        let now = now_secs();
        self.db().write(|tx| -> Result<(), ImageError> {
            let mut size = 0u64;
            for (i, chain) in chains.iter().enumerate() {
                let s: Option<i64> = tx
                    .query_row("SELECT size FROM layers WHERE chain_id = ?1", [chain.to_string()], |r| r.get(0))
                    .optional()?;
                match s {
                    Some(s) if self.has_layer(chain) => size += s as u64,
                    _ => {
                        return Err(ImageError::MissingLayer { id: id.clone(), index: i, diff_id: diff_ids[i].clone() })
                    }
                }
            }
            let inserted = tx.execute(
                "INSERT OR IGNORE INTO images (id, config_size, created, added_at, size, manifest_digest)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    id.to_string(),
                    config.len() as i64,
                    parsed.created,
                    now,
                    size as i64,
                    new.manifest_digest.as_ref().map(|d| d.to_string())
                ],
            )?;
            if inserted == 1 {
                for (i, chain) in chains.iter().enumerate() {
                    tx.execute(
                        "INSERT INTO image_layers (image_id, idx, chain_id) VALUES (?1, ?2, ?3)",
                        params![id.to_string(), i as i64, chain.to_string()],
                    )?;
                }
            } else if let Some(m) = &new.manifest_digest {
                tx.execute(
                    "UPDATE images SET manifest_digest = ?2 WHERE id = ?1 AND manifest_digest IS NULL",
                    params![id.to_string(), m.to_string()],
                )?;
            }
            for r in &new.tags {
                if let Some(t) = r.tagged_name() {
                    set_tag(tx, &t, &id)?;
                }
                if let Some(d) = r.digest().or(new.manifest_digest.as_ref()) {
                    tx.execute(
                        "INSERT INTO image_digests (image_id, repository, digest) VALUES (?1, ?2, ?3)
                         ON CONFLICT(repository, digest) DO UPDATE SET image_id = excluded.image_id",
                        params![id.to_string(), r.name(), d.to_string()],
                    )?;
                }
            }
            Ok(())
        })?;
        Ok(id)
    }

    /// Resolves what a user typed to an image id, as Docker does: a full
    /// `sha256:` id, a tag (`busybox` = `busybox:latest`), a digest
    /// reference (`busybox@sha256:…`), or a unique prefix of an id.
    pub fn resolve(&self, name: &str) -> Result<ImageId, StoreError> {
        Ok(self.db().read(|tx| resolve_in(tx, name))?)
    }

    /// The image with this id.
    pub fn image(&self, id: &ImageId) -> Result<Image, StoreError> {
        let found = self.db().read(|tx| -> Result<_, ImageError> {
            let mut all = load_images(tx, Some(id))?;
            Ok(all.pop())
        })?;
        found.ok_or_else(|| ImageError::NotFound(id.to_string()).into())
    }

    /// Every image, most recently created first.
    pub fn list_images(&self) -> Result<Vec<Image>, StoreError> {
        Ok(self.db().read(|tx| load_images(tx, None))?)
    }

    /// The raw config blob of an image (what its id is the digest of).
    pub fn image_config_bytes(&self, id: &ImageId) -> Result<Vec<u8>, StoreError> {
        Ok(self.blobs().read(id)?)
    }

    /// The image config, parsed.
    pub fn image_config(&self, id: &ImageId) -> Result<ImageConfiguration, StoreError> {
        let bytes = self.image_config_bytes(id)?;
        serde_json::from_slice(&bytes).map_err(|e| {
            ImageError::BadConfig {
                id: id.clone(),
                reason: e.to_string(),
            }
            .into()
        })
    }

    /// The image's layers, bottom first.
    pub fn image_layers(&self, id: &ImageId) -> Result<Vec<Layer>, StoreError> {
        let raws = self.db().read(|tx| -> Result<_, ImageError> {
            let mut st = tx.prepare(
                "SELECT l.chain_id, l.diff_id, l.parent, l.size, l.blob_digest, l.blob_size, l.compression
                 FROM image_layers il JOIN layers l ON l.chain_id = il.chain_id
                 WHERE il.image_id = ?1 ORDER BY il.idx",
            )?;
            let rows = st.query_map([id.to_string()], row_to_raw)?.collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })?;
        let mut out = Vec::with_capacity(raws.len());
        for r in raws {
            out.push(r.into_layer().map_err(LayerError::from)?);
        }
        Ok(out)
    }

    /// `docker tag SOURCE TARGET`: gives the image `source` resolves to the
    /// name `target` (`:latest` added if untagged), moving it from any
    /// other image.
    pub fn tag(&self, source: &str, target: &str) -> Result<Reference, StoreError> {
        let target = Reference::parse_with_default_tag(target).map_err(ImageError::from)?;
        let Some(name) = target.tagged_name() else {
            return Err(
                ImageError::Reference(ReferenceError::InvalidFormat(target.to_string())).into(),
            );
        };
        self.db().write(|tx| -> Result<(), ImageError> {
            let id = resolve_in(tx, source)?;
            set_tag(tx, &name, &id)
        })?;
        Ok(target)
    }

    /// Removes one tag or digest reference; the image stays (dangling if
    /// it was its last name). Returns the image it pointed to.
    pub fn untag(&self, name: &str) -> Result<ImageId, StoreError> {
        let r = Reference::parse_with_default_tag(name).map_err(ImageError::from)?;
        Ok(self.db().write(|tx| remove_ref(tx, &r))?)
    }

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
    /// references that were left by interrupted loads over an hour ago.
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
            doomed.extend(delete_orphan_layers(tx, now_secs() - 3600)?);
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

fn set_tag(tx: &Transaction<'_>, name: &str, id: &ImageId) -> Result<(), ImageError> {
    tx.execute(
        "INSERT INTO tags (name, image_id) VALUES (?1, ?2)
         ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id",
        params![name, id.to_string()],
    )?;
    Ok(())
}

/// Whether the user named the image by (a prefix of) its id.
fn is_id_like(name: &str, id: &ImageId) -> bool {
    let hex = name.strip_prefix("sha256:").unwrap_or(name);
    !hex.is_empty() && id.hex().starts_with(hex)
}

fn resolve_in(tx: &Transaction<'_>, name: &str) -> Result<ImageId, ImageError> {
    let not_found = || ImageError::NotFound(name.to_string());
    if let Some(hex) = name.strip_prefix("sha256:") {
        if !is_hex(hex) {
            return Err(ImageError::Reference(ReferenceError::InvalidFormat(
                name.to_string(),
            )));
        }
        return by_prefix(tx, hex)?.ok_or_else(not_found);
    }
    match Reference::parse_with_default_tag(name) {
        Ok(r) => {
            if let Some(id) = lookup_ref(tx, &r)? {
                return Ok(id);
            }
        }
        Err(e) if !is_hex(name) => return Err(e.into()),
        Err(_) => {}
    }
    if is_hex(name) {
        if let Some(id) = by_prefix(tx, name)? {
            return Ok(id);
        }
    }
    Err(not_found())
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn by_prefix(tx: &Transaction<'_>, hex: &str) -> Result<Option<ImageId>, ImageError> {
    let mut st = tx.prepare("SELECT id FROM images WHERE substr(id, 8, ?2) = ?1 LIMIT 2")?;
    let ids = st
        .query_map(params![hex, hex.len() as i64], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    match ids.len() {
        0 => Ok(None),
        1 => Ok(Some(Digest::parse(&ids[0])?)),
        _ => Err(ImageError::Ambiguous(hex.to_string())),
    }
}

fn lookup_ref(tx: &Transaction<'_>, r: &Reference) -> Result<Option<ImageId>, ImageError> {
    let id: Option<String> = if let Some(d) = r.digest() {
        tx.query_row(
            "SELECT image_id FROM image_digests WHERE repository = ?1 AND digest = ?2",
            params![r.name(), d.to_string()],
            |row| row.get(0),
        )
        .optional()?
    } else if let Some(t) = r.tagged_name() {
        tx.query_row("SELECT image_id FROM tags WHERE name = ?1", [t], |row| {
            row.get(0)
        })
        .optional()?
    } else {
        None
    };
    Ok(id.map(|s| Digest::parse(&s)).transpose()?)
}

/// Removes a tag or digest reference; errors if it does not exist.
fn remove_ref(tx: &Transaction<'_>, r: &Reference) -> Result<ImageId, ImageError> {
    let id = lookup_ref(tx, r)?.ok_or_else(|| ImageError::NotFound(r.familiar_string()))?;
    if let Some(d) = r.digest() {
        tx.execute(
            "DELETE FROM image_digests WHERE repository = ?1 AND digest = ?2",
            params![r.name(), d.to_string()],
        )?;
    }
    if let Some(t) = r.tagged_name() {
        tx.execute("DELETE FROM tags WHERE name = ?1", [t])?;
    }
    Ok(id)
}

/// Every name of an image: tags, then digest references.
fn image_refs(tx: &Transaction<'_>, id: &ImageId) -> Result<Vec<Reference>, ImageError> {
    let mut out = Vec::new();
    let mut st = tx.prepare("SELECT name FROM tags WHERE image_id = ?1 ORDER BY name")?;
    for n in st.query_map([id.to_string()], |r| r.get::<_, String>(0))? {
        out.push(Reference::parse(&n?)?);
    }
    let mut st =
        tx.prepare("SELECT repository, digest FROM image_digests WHERE image_id = ?1 ORDER BY repository, digest")?;
    for row in st.query_map([id.to_string()], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })? {
        let (repo, d) = row?;
        out.push(Reference::parse(&format!("{repo}@{d}"))?);
    }
    Ok(out)
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

fn load_images(tx: &Transaction<'_>, only: Option<&ImageId>) -> Result<Vec<Image>, ImageError> {
    let filter = only.map(|d| d.to_string());
    let mut st = tx.prepare(
        "SELECT id, created, size, manifest_digest, added_at FROM images
         WHERE ?1 IS NULL OR id = ?1 ORDER BY created DESC, added_at DESC, id",
    )?;
    let rows = st
        .query_map([&filter], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut layers: BTreeMap<String, Vec<(Digest, Digest)>> = BTreeMap::new();
    {
        let mut st = tx.prepare(
            "SELECT il.image_id, l.chain_id, l.diff_id FROM image_layers il
             JOIN layers l ON l.chain_id = il.chain_id
             WHERE ?1 IS NULL OR il.image_id = ?1 ORDER BY il.image_id, il.idx",
        )?;
        for row in st.query_map([&filter], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })? {
            let (img, c, d) = row?;
            layers
                .entry(img)
                .or_default()
                .push((Digest::parse(&c)?, Digest::parse(&d)?));
        }
    }
    let mut out = Vec::with_capacity(rows.len());
    for (id, created, size, manifest, added_at) in rows {
        let digest = Digest::parse(&id)?;
        let refs = image_refs(tx, &digest)?;
        let (repo_digests, repo_tags) = refs.into_iter().partition(|r| r.digest().is_some());
        let ls = layers.remove(&id).unwrap_or_default();
        out.push(Image {
            id: digest,
            repo_tags,
            repo_digests,
            created,
            size: size as u64,
            layers: ls.iter().map(|(c, _)| c.clone()).collect(),
            diff_ids: ls.into_iter().map(|(_, d)| d).collect(),
            manifest_digest: manifest.map(|m| Digest::parse(&m)).transpose()?,
            added_at,
        });
    }
    Ok(out)
}
