//! Recording an image whose layers are unpacked: config blob, layer stack,
//! tags and repo digests in one transaction.

use rusqlite::{params, OptionalExtension};

use super::names::set_tag;
use super::{ImageError, ImageId, NewImage};
use crate::digest::Digest;
use crate::layers::{chain_ids, now_secs};
use crate::store::{Store, StoreError};

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
}
