//! Unpacking a layer before its place in an image is known: `load` unpacks
//! a docker-archive's or OCI archive's layer blobs while the archive is
//! still streaming past (the manifest that says which image and chain a
//! blob belongs to may come last). The layer goes into a locked staging
//! directory under `tmp/`, keyed by nothing but the blob it came from;
//! once the manifest and config are known, [`Store::commit_prestaged`]
//! verifies its diff id and renames it into `layers/<chain>` exactly as a
//! one-pass unpack would. Dropping a [`Prestaged`] removes its directory,
//! and a SIGKILL leaves only an unlocked `tmp/` entry that the next
//! `Store::open` removes.

use std::fs;
use std::io::Read;
use std::path::Path;

use super::compression::Compression;
use super::unpack::{dir_size, place, record, run_pass, verify};
use super::{chain_id, Layer, LayerError};
use crate::digest::Digest;
use crate::staging::StagingDir;
use crate::store::{Store, StoreError};

/// A layer unpacked into staging, not yet in `layers/`.
pub(crate) struct Prestaged {
    staging: StagingDir,
    compression: Compression,
    diff_id: Digest,
    size: u64,
}

/// Unpacks the layer stream `reader`, whose blob digest the caller computes
/// itself (and passes to [`Store::commit_prestaged`] later), into a new
/// staging directory in `tmp` (the store's `tmp/`). Every safety check of a
/// normal unpack applies. Takes the directory rather than the store so it
/// can run on a worker thread (the store's database handle stays on one).
pub(crate) fn prestage<R: Read>(tmp: &Path, reader: R) -> Result<Prestaged, LayerError> {
    let label = "layer being loaded";
    let io_err = |op: &'static str, path: &Path| {
        let path = path.display().to_string();
        move |source| LayerError::Io {
            layer: label.to_string(),
            op,
            path,
            source,
        }
    };
    let staging = StagingDir::create(tmp, "layer").map_err(io_err("create staging dir", tmp))?;
    let diff = staging.path().join("diff");
    fs::create_dir(&diff).map_err(io_err("create", &diff))?;
    // The blob digest is the caller's; a placeholder keeps run_pass from
    // hashing the raw stream a second time. For a plain tar (diff id =
    // blob digest) the diff id is taken from the caller at commit.
    let placeholder = Digest::of_bytes(b"");
    let pass = run_pass(reader, None, Some(&diff), label, Some(&placeholder))?;
    Ok(Prestaged {
        staging,
        compression: pass.compression,
        diff_id: pass.diff_id,
        size: pass.size,
    })
}

impl Store {
    /// Moves a prestaged layer into place as the layer on top of `parent`,
    /// after checking that it is the layer the image config names
    /// (`expected_diff_id`). `blob` is the digest of the stream it was
    /// unpacked from, already verified by the caller. If the chain id is
    /// already on disk, that layer is shared and the staged copy removed.
    pub(crate) fn commit_prestaged(
        &self,
        p: Prestaged,
        blob: &Digest,
        parent: Option<&Digest>,
        expected_diff_id: &Digest,
    ) -> Result<Layer, StoreError> {
        let label = blob.to_string();
        if let Some(par) = parent {
            if !self.has_layer(par) {
                return Err(LayerError::UnknownParent(par.clone()).into());
            }
        }
        let diff_id = if p.compression == Compression::None {
            blob.clone()
        } else {
            p.diff_id.clone()
        };
        verify(&label, "diff id", Some(expected_diff_id), &diff_id)?;
        let chain = chain_id(parent, &diff_id);
        let size = if self.has_layer(&chain) {
            // Shared with the existing layer; ours is dropped (removed).
            match self.layer_record(&chain) {
                Ok(l) => l.size,
                Err(_) => dir_size(&self.layer_path(&chain)),
            }
        } else {
            place(self, p.staging, &chain, &label)?;
            p.size
        };
        let layer = Layer {
            chain_id: chain.clone(),
            diff_id,
            parent: parent.cloned(),
            size,
            blob_digest: None,
            blob_size: None,
            compression: p.compression,
        };
        record(self, &layer)?;
        Ok(self.layer_record(&chain)?)
    }
}
