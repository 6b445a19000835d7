//! Reading images: one, all, their configs and layer stacks.

use std::collections::BTreeMap;

use oci_spec::image::ImageConfiguration;
use rusqlite::Transaction;

use super::names::image_refs;
use super::{Image, ImageError, ImageId};
use crate::digest::Digest;
use crate::layers::{row_to_raw, Layer, LayerError};
use crate::store::{Store, StoreError};

impl Store {
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
}

pub(super) fn load_images(
    tx: &Transaction<'_>,
    only: Option<&ImageId>,
) -> Result<Vec<Image>, ImageError> {
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
