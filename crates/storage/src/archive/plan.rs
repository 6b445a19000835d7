//! Turning a scanned archive into a list of images to create: parses
//! docker-archive's `manifest.json` (+ legacy `repositories`) or the OCI
//! layout's `index.json` (nested indexes, name annotations), and checks
//! every digest, size and media type before anything is created.

use std::collections::BTreeMap;

use super::config::go_arch;
use super::formats::{
    media, ConfigRootfs, Descriptor, DockerManifestEntry, Index, Manifest,
    ANNOTATION_CONTAINERD_NAME, ANNOTATION_REF_NAME,
};
use super::scan::{Scan, Source};
use super::ArchiveError;
use crate::digest::Digest;
use crate::reference::Reference;

/// One image found in an archive, fully checked except for the layers'
/// diff ids (known only once they are unpacked).
pub(crate) struct PlannedImage {
    /// The config bytes, unchanged (their digest is the image id).
    pub config: Vec<u8>,
    /// The config's `rootfs.diff_ids`, bottom first.
    pub diff_ids: Vec<Digest>,
    /// The archive path (or digest) and blob of each layer, bottom first.
    pub layers: Vec<PlannedLayer>,
    /// Names to give the image.
    pub names: Vec<Reference>,
}

/// A layer blob, already in the blob store or still in memory.
pub(crate) struct PlannedLayer {
    /// How the archive names it (for errors).
    pub name: String,
    /// Where its bytes are.
    pub blob: LayerBlob,
}

/// Where a layer's bytes are.
pub(crate) enum LayerBlob {
    /// In the blob store.
    Stored(Digest),
    /// A small layer kept in memory by the scan.
    Bytes(Vec<u8>),
}

/// Plans the images of a scanned archive: docker-archive when
/// `manifest.json` is present, else an OCI layout.
pub(crate) fn plan(scan: &Scan) -> Result<Vec<PlannedImage>, ArchiveError> {
    let images = if scan.has("manifest.json") {
        docker(scan)?
    } else if scan.has("index.json") {
        oci(scan)?
    } else {
        return Err(ArchiveError::UnknownFormat);
    };
    if images.is_empty() {
        return Err(ArchiveError::Empty);
    }
    Ok(images)
}

fn parse_json<T: serde::de::DeserializeOwned>(what: &str, b: &[u8]) -> Result<T, ArchiveError> {
    serde_json::from_slice(b).map_err(|source| ArchiveError::Json {
        what: what.to_string(),
        source,
    })
}

fn small<'a>(scan: &'a Scan, what: &str, path: &str) -> Result<&'a [u8], ArchiveError> {
    scan.bytes(path).ok_or_else(|| ArchiveError::MissingBlob {
        what: what.to_string(),
        name: path.to_string(),
    })
}

/// The digest an archive path names: `blobs/sha256/<hex>`, `<hex>.json`,
/// `<hex>.tar`, `<hex>/layer.tar`.
pub(super) fn digest_in_path(path: &str) -> Option<Digest> {
    if let Some(hex) = path.strip_prefix("blobs/sha256/") {
        return Digest::from_hex(hex).ok();
    }
    let stem = path.strip_suffix(".json").or(path.strip_suffix(".tar"))?;
    Digest::from_hex(stem).ok()
}

fn docker(scan: &Scan) -> Result<Vec<PlannedImage>, ArchiveError> {
    let entries: Vec<DockerManifestEntry> =
        parse_json("manifest.json", small(scan, "archive", "manifest.json")?)?;
    // Legacy `repositories`: {repo: {tag: top layer id}}; names untagged
    // images whose top layer directory is that id.
    let repositories: BTreeMap<String, BTreeMap<String, String>> = match scan.bytes("repositories")
    {
        Some(b) => parse_json("repositories", b)?,
        None => BTreeMap::new(),
    };
    let mut out = Vec::new();
    for entry in entries {
        let what = format!("manifest.json image {}", entry.config);
        let config = small(scan, &what, &entry.config)?.to_vec();
        if let Some(expected) = digest_in_path(&entry.config) {
            let actual = Digest::of_bytes(&config);
            if actual != expected {
                return Err(ArchiveError::DigestMismatch {
                    name: entry.config.clone(),
                    expected,
                    actual,
                });
            }
        }
        let diff_ids = diff_ids(&entry.config, &config)?;
        let mut layers = Vec::new();
        for l in &entry.layers {
            // A `blobs/sha256/<hex>` path (Docker 25+) promises its digest.
            let named = digest_in_path(l).filter(|_| l.starts_with("blobs/"));
            let check = |actual: &Digest| match &named {
                Some(expected) if expected != actual => Err(ArchiveError::DigestMismatch {
                    name: l.clone(),
                    expected: expected.clone(),
                    actual: actual.clone(),
                }),
                _ => Ok(()),
            };
            let blob = match scan.get(l) {
                Some(Source::Blob(d, _)) => {
                    check(d)?;
                    LayerBlob::Stored(d.clone())
                }
                Some(Source::Bytes(b)) => {
                    check(&Digest::of_bytes(b))?;
                    LayerBlob::Bytes(b.to_vec())
                }
                None => {
                    return Err(ArchiveError::MissingBlob {
                        what: what.clone(),
                        name: l.clone(),
                    })
                }
            };
            layers.push(PlannedLayer {
                name: l.clone(),
                blob,
            });
        }
        let mut names = Vec::new();
        for t in entry.repo_tags.iter().flatten() {
            names.push(parse_name(t)?);
        }
        if names.is_empty() {
            let top = entry
                .layers
                .last()
                .and_then(|l| l.split('/').next())
                .unwrap_or_default();
            for (repo, tags) in &repositories {
                for (tag, id) in tags {
                    if id == top {
                        names.push(parse_name(&format!("{repo}:{tag}"))?);
                    }
                }
            }
        }
        out.push(PlannedImage {
            config,
            diff_ids,
            layers,
            names,
        });
    }
    Ok(out)
}

fn diff_ids(name: &str, config: &[u8]) -> Result<Vec<Digest>, ArchiveError> {
    let c: ConfigRootfs = parse_json(&format!("image config {name}"), config)?;
    c.rootfs
        .diff_ids
        .iter()
        .map(|d| {
            Digest::parse(d).map_err(|e| ArchiveError::BadDigest {
                what: format!("image config {name}"),
                reason: e.to_string(),
            })
        })
        .collect()
}

fn parse_name(s: &str) -> Result<Reference, ArchiveError> {
    Reference::parse_with_default_tag(s).map_err(|source| ArchiveError::Reference {
        name: s.to_string(),
        source,
    })
}

/// The bytes of the blob a descriptor names, checked against its digest
/// and size.
fn oci_small(scan: &Scan, what: &str, d: &Descriptor) -> Result<Vec<u8>, ArchiveError> {
    let digest = descriptor_digest(what, d)?;
    let path = format!("blobs/sha256/{}", digest.hex());
    let bytes = match scan.get(&path) {
        Some(Source::Bytes(b)) => b.to_vec(),
        Some(Source::Blob(..)) => {
            return Err(ArchiveError::Json {
                what: format!("{what} {digest}"),
                source: serde::de::Error::custom("not a JSON document"),
            })
        }
        None => {
            return Err(ArchiveError::MissingBlob {
                what: what.to_string(),
                name: path,
            })
        }
    };
    let actual = Digest::of_bytes(&bytes);
    if actual != digest {
        return Err(ArchiveError::DigestMismatch {
            name: path,
            expected: digest,
            actual,
        });
    }
    check_size(&digest, d.size, bytes.len() as u64)?;
    Ok(bytes)
}

fn descriptor_digest(what: &str, d: &Descriptor) -> Result<Digest, ArchiveError> {
    Digest::parse(&d.digest).map_err(|e| ArchiveError::BadDigest {
        what: what.to_string(),
        reason: e.to_string(),
    })
}

fn check_size(digest: &Digest, want: u64, got: u64) -> Result<(), ArchiveError> {
    if want == got {
        Ok(())
    } else {
        Err(ArchiveError::SizeMismatch {
            digest: digest.clone(),
            want,
            got,
        })
    }
}

fn oci(scan: &Scan) -> Result<Vec<PlannedImage>, ArchiveError> {
    if !scan.has("oci-layout") {
        return Err(ArchiveError::MissingBlob {
            what: "OCI layout".into(),
            name: "oci-layout".into(),
        });
    }
    let index: Index = parse_json("index.json", small(scan, "archive", "index.json")?)?;
    let mut out = Vec::new();
    for d in &index.manifests {
        let names = oci_names(d)?;
        let manifest = pick_manifest(scan, d, 0)?;
        out.push(oci_image(scan, &manifest, names)?);
    }
    Ok(out)
}

/// The image names of a top-level descriptor: containerd's full name, or
/// `ref.name` when it is a full reference (podman, skopeo). A bare tag
/// names no repository, so the image is loaded untagged.
fn oci_names(d: &Descriptor) -> Result<Vec<Reference>, ArchiveError> {
    let Some(ann) = &d.annotations else {
        return Ok(Vec::new());
    };
    if let Some(n) = ann.get(ANNOTATION_CONTAINERD_NAME) {
        return Ok(vec![parse_name(n)?]);
    }
    match ann.get(ANNOTATION_REF_NAME) {
        Some(n) if n.contains('/') || n.contains(':') => Ok(vec![parse_name(n)?]),
        _ => Ok(Vec::new()),
    }
}

/// Follows nested indexes down to the manifest for this platform.
fn pick_manifest(scan: &Scan, d: &Descriptor, depth: usize) -> Result<Manifest, ArchiveError> {
    if depth > 8 {
        return Err(ArchiveError::BadDigest {
            what: "index.json".into(),
            reason: "indexes nested too deep".into(),
        });
    }
    if media::is_manifest(&d.media_type) {
        return parse_json(
            &format!("manifest {}", d.digest),
            &oci_small(scan, "index.json", d)?,
        );
    }
    if !media::is_index(&d.media_type) {
        return Err(ArchiveError::MediaType {
            what: format!("index entry {}", d.digest),
            media_type: d.media_type.clone(),
        });
    }
    let nested: Index = parse_json(
        &format!("index {}", d.digest),
        &oci_small(scan, "index.json", d)?,
    )?;
    let chosen = nested
        .manifests
        .iter()
        .find(|m| platform_matches(m))
        .or_else(|| (nested.manifests.len() == 1).then(|| &nested.manifests[0]))
        .ok_or_else(|| ArchiveError::NoPlatform {
            index: d.digest.clone(),
            platform: format!("linux/{}", go_arch()),
        })?;
    pick_manifest(scan, chosen, depth + 1)
}

fn platform_matches(d: &Descriptor) -> bool {
    let Some(p) = &d.platform else {
        return false;
    };
    p.get("os").and_then(|v| v.as_str()) == Some("linux")
        && p.get("architecture").and_then(|v| v.as_str()) == Some(go_arch())
}

fn oci_image(
    scan: &Scan,
    m: &Manifest,
    names: Vec<Reference>,
) -> Result<PlannedImage, ArchiveError> {
    if !media::is_config(&m.config.media_type) {
        return Err(ArchiveError::MediaType {
            what: format!("config {}", m.config.digest),
            media_type: m.config.media_type.clone(),
        });
    }
    let config = oci_small(scan, "manifest", &m.config)?;
    let diff_ids = diff_ids(&m.config.digest, &config)?;
    let mut layers = Vec::new();
    for l in &m.layers {
        if !media::is_layer(&l.media_type) {
            return Err(ArchiveError::MediaType {
                what: format!("layer {}", l.digest),
                media_type: l.media_type.clone(),
            });
        }
        let digest = descriptor_digest("manifest layer", l)?;
        let path = format!("blobs/sha256/{}", digest.hex());
        let blob = match scan.get(&path) {
            Some(Source::Blob(d, size)) => {
                if *d != digest {
                    return Err(ArchiveError::DigestMismatch {
                        name: path,
                        expected: digest,
                        actual: d.clone(),
                    });
                }
                check_size(&digest, l.size, size)?;
                LayerBlob::Stored(d.clone())
            }
            Some(Source::Bytes(b)) => {
                let actual = Digest::of_bytes(b);
                if actual != digest {
                    return Err(ArchiveError::DigestMismatch {
                        name: path,
                        expected: digest,
                        actual,
                    });
                }
                LayerBlob::Bytes(b.to_vec())
            }
            None => {
                return Err(ArchiveError::MissingBlob {
                    what: format!("manifest of config {}", m.config.digest),
                    name: path,
                })
            }
        };
        layers.push(PlannedLayer {
            name: l.digest.clone(),
            blob,
        });
    }
    Ok(PlannedImage {
        config,
        diff_ids,
        layers,
        names,
    })
}
