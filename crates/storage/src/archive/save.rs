//! `save`: writes images as a docker-archive (what `docker load` and
//! `podman load` read) or an OCI archive, config bytes unchanged so the
//! image ids survive the round trip.
//!
//! docker-archive: `blobs/sha256/<hex>` for configs and *uncompressed*
//! layers (named by diff id, as Docker 25+ writes them) and a
//! `manifest.json` last. OCI archive: the original layer blobs, one
//! generated manifest per image, `index.json` naming each tag with
//! `org.opencontainers.image.ref.name` and `io.containerd.image.name`, and
//! `oci-layout`.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{self, Read, Seek, Write};

use super::formats::{media, Descriptor, DockerManifestEntry, Index, Manifest, OCI_LAYOUT};
use super::ArchiveError;
use crate::digest::Digest;
use crate::layers::{Compression, Layer};
use crate::reference::Reference;
use crate::staging::StagingFile;
use crate::store::Store;

/// The archive format `save` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ArchiveFormat {
    /// `docker save`'s format (podman's `docker-archive`).
    #[default]
    DockerArchive,
    /// An OCI image layout in a tar (podman's `oci-archive`).
    OciArchive,
}

/// One image to write, with the names it is saved under.
struct SaveImage {
    id: Digest,
    config: Vec<u8>,
    layers: Vec<Layer>,
    names: Vec<Reference>,
}

/// Writes the images named by `images` (names or ids, Docker's lookup
/// rules) to `writer` in `format`. A name puts only that tag in the
/// archive; an id puts the image untagged, as `docker save` does.
pub fn save<W: Write>(
    store: &Store,
    images: &[String],
    writer: W,
    format: ArchiveFormat,
) -> Result<(), ArchiveError> {
    let mut list: Vec<SaveImage> = Vec::new();
    for name in images {
        let (img, named) = resolve(store, name)?;
        let slot = match list.iter_mut().position(|s| s.id == img.id) {
            Some(i) => &mut list[i],
            None => {
                list.push(img);
                list.last_mut().expect("just pushed")
            }
        };
        if let Some(r) = named {
            if !slot.names.contains(&r) {
                slot.names.push(r);
            }
        }
    }
    let mut w = ArchiveWriter {
        tar: tar::Builder::new(writer),
        written: HashSet::new(),
    };
    match format {
        ArchiveFormat::DockerArchive => write_docker(store, &mut w, &list)?,
        ArchiveFormat::OciArchive => write_oci(store, &mut w, &list)?,
    }
    w.tar
        .into_inner()
        .map_err(ArchiveError::Write)?
        .flush()
        .map_err(ArchiveError::Write)
}

/// Looks `name` up; returns the image and, when `name` is a reference
/// rather than an id, the reference to tag it with.
fn resolve(store: &Store, name: &str) -> Result<(SaveImage, Option<Reference>), ArchiveError> {
    let id = store.resolve(name)?;
    let img = store.image(&id)?;
    let config = store.image_config_bytes(&id)?;
    let layers = store.image_layers(&id)?;
    let named = match Reference::parse_with_default_tag(name) {
        Ok(r) if img.repo_tags.contains(&r) => Some(r),
        _ => None,
    };
    Ok((
        SaveImage {
            id: img.id,
            config,
            layers,
            names: Vec::new(),
        },
        named,
    ))
}

struct ArchiveWriter<W: Write> {
    tar: tar::Builder<W>,
    written: HashSet<String>,
}

impl<W: Write> ArchiveWriter<W> {
    /// Appends a file entry (once per path).
    fn file<R: Read>(&mut self, path: &str, size: u64, data: R) -> Result<(), ArchiveError> {
        if !self.written.insert(path.to_string()) {
            return Ok(());
        }
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(size);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        self.tar
            .append_data(&mut h, path, data)
            .map_err(ArchiveError::Write)
    }

    fn bytes(&mut self, path: &str, b: &[u8]) -> Result<(), ArchiveError> {
        self.file(path, b.len() as u64, b)
    }
}

fn blob_path(d: &Digest) -> String {
    format!("blobs/sha256/{}", d.hex())
}

fn no_blob(layer: &Layer) -> ArchiveError {
    ArchiveError::NoLayerBlob(layer.chain_id.clone())
}

fn write_docker<W: Write>(
    store: &Store,
    w: &mut ArchiveWriter<W>,
    images: &[SaveImage],
) -> Result<(), ArchiveError> {
    let mut manifest = Vec::new();
    for img in images {
        let mut paths = Vec::new();
        for layer in &img.layers {
            let path = blob_path(&layer.diff_id);
            if !w.written.contains(&path) {
                write_uncompressed(store, w, layer, &path)?;
            }
            paths.push(path);
        }
        let config = blob_path(&img.id);
        w.bytes(&config, &img.config)?;
        manifest.push(DockerManifestEntry {
            config,
            repo_tags: if img.names.is_empty() {
                None
            } else {
                Some(img.names.iter().map(Reference::familiar_string).collect())
            },
            layers: paths,
        });
    }
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for img in images {
        if let Some(top) = img.layers.last() {
            for n in &img.names {
                if let Some(t) = n.tag() {
                    repositories
                        .entry(n.familiar_name())
                        .or_default()
                        .insert(t.to_string(), top.diff_id.hex().to_string());
                }
            }
        }
    }
    let m = serde_json::to_vec(&manifest).expect("manifest serializes");
    w.bytes("manifest.json", &m)?;
    if !repositories.is_empty() {
        let r = serde_json::to_vec(&repositories).expect("repositories serializes");
        w.bytes("repositories", &r)?;
    }
    Ok(())
}

/// Writes a layer as its uncompressed tar (whose digest is the diff id). A
/// compressed blob is first decompressed into a staging file, since a tar
/// header needs the size up front.
fn write_uncompressed<W: Write>(
    store: &Store,
    w: &mut ArchiveWriter<W>,
    layer: &Layer,
    path: &str,
) -> Result<(), ArchiveError> {
    let blob = layer.blob_digest.as_ref().ok_or_else(|| no_blob(layer))?;
    let src = store.open_blob(blob)?;
    if layer.compression == Compression::None {
        let size = src.metadata().map_err(ArchiveError::Write)?.len();
        return w.file(path, size, src);
    }
    let mut tmp = StagingFile::create(&store.tmp_dir(), "save").map_err(ArchiveError::Write)?;
    let f: &mut File = tmp.file();
    let mut dec: Box<dyn Read> = match layer.compression {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(io::BufReader::new(src))),
        Compression::Zstd => Box::new(zstd::Decoder::new(src).map_err(ArchiveError::Write)?),
        Compression::None => unreachable!("handled above"),
    };
    let size = io::copy(&mut dec, f).map_err(ArchiveError::Write)?;
    f.rewind().map_err(ArchiveError::Write)?;
    w.file(path, size, &mut *f)
}

fn write_oci<W: Write>(
    store: &Store,
    w: &mut ArchiveWriter<W>,
    images: &[SaveImage],
) -> Result<(), ArchiveError> {
    let mut index = Index {
        schema_version: 2,
        media_type: Some(media::OCI_INDEX.into()),
        manifests: Vec::new(),
    };
    for img in images {
        let mut layers = Vec::new();
        for layer in &img.layers {
            let blob = layer.blob_digest.as_ref().ok_or_else(|| no_blob(layer))?;
            let src = store.open_blob(blob)?;
            let size = src.metadata().map_err(ArchiveError::Write)?.len();
            w.file(&blob_path(blob), size, src)?;
            layers.push(Descriptor {
                media_type: match layer.compression {
                    Compression::None => media::OCI_LAYER.into(),
                    Compression::Gzip => format!("{}+gzip", media::OCI_LAYER),
                    Compression::Zstd => format!("{}+zstd", media::OCI_LAYER),
                },
                digest: blob.to_string(),
                size,
                annotations: None,
                platform: None,
            });
        }
        w.bytes(&blob_path(&img.id), &img.config)?;
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(media::OCI_MANIFEST.into()),
            config: Descriptor {
                media_type: media::OCI_CONFIG.into(),
                digest: img.id.to_string(),
                size: img.config.len() as u64,
                annotations: None,
                platform: None,
            },
            layers,
        };
        let mbytes = serde_json::to_vec(&manifest).expect("manifest serializes");
        let mdigest = Digest::of_bytes(&mbytes);
        w.bytes(&blob_path(&mdigest), &mbytes)?;
        let desc = |annotations| Descriptor {
            media_type: media::OCI_MANIFEST.into(),
            digest: mdigest.to_string(),
            size: mbytes.len() as u64,
            annotations,
            platform: None,
        };
        if img.names.is_empty() {
            index.manifests.push(desc(None));
        }
        for n in &img.names {
            let full = n.to_string();
            let ann = BTreeMap::from([
                (
                    super::formats::ANNOTATION_CONTAINERD_NAME.to_string(),
                    full.clone(),
                ),
                (super::formats::ANNOTATION_REF_NAME.to_string(), full),
            ]);
            index.manifests.push(desc(Some(ann)));
        }
    }
    let ibytes = serde_json::to_vec(&index).expect("index serializes");
    w.bytes("index.json", &ibytes)?;
    w.bytes("oci-layout", OCI_LAYOUT.as_bytes())
}
