//! Names of images: resolving what a user typed (Docker's order: id,
//! tag, digest reference, unique id prefix), tags and digest references.

use rusqlite::{params, OptionalExtension, Transaction};

use super::{ImageError, ImageId};
use crate::digest::Digest;
use crate::reference::{Reference, ReferenceError};
use crate::store::{Store, StoreError};

impl Store {
    /// Resolves what a user typed to an image id, as Docker does: a full
    /// `sha256:` id, a tag (`busybox` = `busybox:latest`), a digest
    /// reference (`busybox@sha256:…`), or a unique prefix of an id.
    pub fn resolve(&self, name: &str) -> Result<ImageId, StoreError> {
        Ok(self.db().read(|tx| resolve_in(tx, name))?)
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
}

pub(super) fn set_tag(tx: &Transaction<'_>, name: &str, id: &ImageId) -> Result<(), ImageError> {
    tx.execute(
        "INSERT INTO tags (name, image_id) VALUES (?1, ?2)
         ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id",
        params![name, id.to_string()],
    )?;
    Ok(())
}

pub(super) fn resolve_in(tx: &Transaction<'_>, name: &str) -> Result<ImageId, ImageError> {
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
pub(super) fn remove_ref(tx: &Transaction<'_>, r: &Reference) -> Result<ImageId, ImageError> {
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
pub(super) fn image_refs(tx: &Transaction<'_>, id: &ImageId) -> Result<Vec<Reference>, ImageError> {
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
