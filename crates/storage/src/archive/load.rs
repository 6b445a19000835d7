//! `load` (docker-archive / OCI archive) and `import` (rootfs tarball).
//!
//! `load` makes one streaming pass over the archive, spooling every blob
//! into the blob store as it passes (the manifest may come last) while a
//! second thread unpacks each big blob into staging (`ahead`), then checks
//! the whole archive, then moves each image's layers into place (bottom
//! first, verifying diff ids; a layer that was not unpacked ahead is
//! unpacked from its stored blob) and only then registers the image.
//! Memory stays bounded by the small JSON documents and a few buffers.

use std::collections::HashMap;
use std::io::Read;

use super::ahead;
use super::plan::{self, LayerBlob, PlannedImage};
use super::scan::Scan;
use super::{config, ArchiveError};
use crate::digest::Digest;
use crate::images::NewImage;
use crate::layers::{chain_ids, Prestaged, UnpackOptions};
use crate::reference::Reference;
use crate::store::Store;

/// An image that `load` created or found already present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedImage {
    /// The image id (digest of its config).
    pub id: Digest,
    /// The names it was given from the archive (may be empty).
    pub names: Vec<Reference>,
    /// Names that were moved here from another image, with that image's
    /// id (Docker reports these as "renaming the old one").
    pub moved: Vec<(Reference, Digest)>,
}

/// Loads every image of a docker-archive or OCI archive read from `reader`
/// (format detected from its content) and returns them in archive order.
pub fn load<R: Read>(store: &Store, reader: R) -> Result<Vec<LoadedImage>, ArchiveError> {
    // Marks a load in progress under tmp/ (removed on drop, or by the next
    // Store::open after a crash); the blob writers stage next to it.
    let _staging = store.staging_dir("load")?;
    let mut created = Vec::new();
    let result = load_all(store, reader, &mut created);
    // Blobs this load added that no layer or image uses (a failed load's,
    // or archive files that were not layers) are removed again.
    discard_unreferenced(store, &created);
    result
}

fn load_all<R: Read>(
    store: &Store,
    reader: R,
    created: &mut Vec<Digest>,
) -> Result<Vec<LoadedImage>, ArchiveError> {
    // Unpacked-ahead layers not used below are dropped with `staged`,
    // which removes their staging directories (also on every error).
    let (scan, mut staged) = std::thread::scope(|s| {
        let (mut ahead, worker) = ahead::start(s, store.tmp_dir());
        let scan = Scan::read(store.blobs(), reader, created, Some(&mut ahead));
        (scan, worker.finish(ahead))
    });
    let scan = scan?;
    let images = plan::plan(&scan)?;
    for img in &images {
        if img.layers.len() != img.diff_ids.len() {
            return Err(ArchiveError::LayerCount {
                image: Digest::of_bytes(&img.config),
                layers: img.layers.len(),
                diff_ids: img.diff_ids.len(),
            });
        }
    }
    drop(scan);
    let mut out = Vec::new();
    for img in images {
        out.push(load_image(store, img, created, &mut staged)?);
    }
    Ok(out)
}

/// Deletes the blobs in `created` that no layer record and no image uses.
fn discard_unreferenced(store: &Store, created: &[Digest]) {
    for d in created {
        let used = store.db().read(|tx| -> Result<bool, rusqlite::Error> {
            tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM layers WHERE blob_digest = ?1)
                     OR EXISTS(SELECT 1 FROM images WHERE id = ?1)",
                [d.to_string()],
                |r| r.get(0),
            )
        });
        if let Ok(false) = used {
            let _ = store.delete_blob(d);
        }
    }
}

fn load_image(
    store: &Store,
    img: PlannedImage,
    created: &mut Vec<Digest>,
    staged: &mut HashMap<Digest, Prestaged>,
) -> Result<LoadedImage, ArchiveError> {
    let id = Digest::of_bytes(&img.config);
    let chains = chain_ids(&img.diff_ids);
    let mut parent: Option<Digest> = None;
    for ((layer, diff_id), chain) in img.layers.into_iter().zip(&img.diff_ids).zip(&chains) {
        let blob = match layer.blob {
            LayerBlob::Stored(d) => d,
            LayerBlob::Bytes(b) => {
                let d = Digest::of_bytes(&b);
                if !store.has_blob(&d) {
                    created.push(d.clone());
                }
                store.put_blob(&b[..], Some(&d))?.0
            }
        };
        let existing = store
            .has_layer(chain)
            .then(|| store.layer(chain))
            .transpose()?;
        if existing.as_ref().is_none_or(|l| l.blob_digest.is_none()) {
            let unpacked = match staged.remove(&blob) {
                Some(p) => store.commit_prestaged(p, &blob, parent.as_ref(), diff_id),
                None => store.unpack_layer(
                    store.open_blob(&blob)?,
                    &UnpackOptions {
                        parent: parent.clone(),
                        expected_blob: Some(blob.clone()),
                        expected_diff_id: Some(diff_id.clone()),
                        store_blob: false,
                    },
                ),
            }
            .map_err(|e| diff_id_error(e, &id, &layer.name))?;
            if unpacked.blob_digest.is_none() {
                store.set_layer_blob(chain, &blob, unpacked.compression)?;
            }
        }
        parent = Some(chain.clone());
    }
    let mut moved = Vec::new();
    for n in &img.names {
        if let Ok(old) = store.resolve(&n.to_string()) {
            if old != id {
                moved.push((n.clone(), old));
            }
        }
    }
    register(store, &img.config, &img.names)?;
    Ok(LoadedImage {
        id,
        names: img.names,
        moved,
    })
}

/// Names the image and archive entry when a layer's diff id is wrong.
fn diff_id_error(e: crate::store::StoreError, image: &Digest, layer: &str) -> ArchiveError {
    use crate::layers::LayerError;
    use crate::store::StoreError;
    match e {
        StoreError::Layer(LayerError::DigestMismatch {
            what: "diff id",
            expected,
            actual,
            ..
        }) => ArchiveError::DiffId {
            image: image.clone(),
            layer: layer.to_string(),
            expected,
            actual,
        },
        other => other.into(),
    }
}

/// Records the image (config blob, layers, names) in the store.
/// Docker's `load` records no repo digests, so neither does berth.
fn register(store: &Store, config: &[u8], names: &[Reference]) -> Result<Digest, ArchiveError> {
    let new = NewImage {
        tags: names.to_vec(),
        manifest_digest: None,
    };
    Ok(store.add_image(config, &new)?)
}

/// Imports a rootfs tarball (plain, gzip or zstd) as a one-layer image with
/// a fresh config (`docker import`). `source` is what the history comment
/// names (`-` for stdin); `message` replaces that comment when given.
pub fn import<R: Read>(
    store: &Store,
    reader: R,
    reference: Option<&Reference>,
    changes: &[String],
    source: &str,
    message: Option<&str>,
) -> Result<Digest, ArchiveError> {
    let comment = match message {
        Some(m) if !m.is_empty() => m.to_string(),
        _ => format!("Imported from {source}"),
    };
    // Check the changes before the (possibly long) unpack.
    config::import_config(&Digest::of_bytes(b""), changes, &comment, "")?;
    let layer = store.unpack_layer(
        reader,
        &UnpackOptions {
            store_blob: true,
            ..UnpackOptions::default()
        },
    )?;
    let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    let cfg = config::import_config(&layer.diff_id, changes, &comment, &created)?;
    let names: Vec<Reference> = reference.cloned().into_iter().collect();
    register(store, &cfg, &names)
}
