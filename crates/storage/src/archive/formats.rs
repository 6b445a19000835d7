//! The JSON documents of the two archive formats: docker-archive's
//! `manifest.json` and `repositories`, and the OCI image layout's
//! `index.json`, manifests and descriptors (image-spec v1.1).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One image of a docker-archive `manifest.json` (as `docker save` writes it).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct DockerManifestEntry {
    /// Path of the config blob inside the archive (`<hex>.json` or
    /// `blobs/sha256/<hex>`).
    #[serde(rename = "Config")]
    pub config: String,
    /// `repo:tag` names; `null` for an untagged image.
    #[serde(rename = "RepoTags", default)]
    pub repo_tags: Option<Vec<String>>,
    /// Paths of the layer tars, bottom first.
    #[serde(rename = "Layers")]
    pub layers: Vec<String>,
}

/// An OCI content descriptor.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Descriptor {
    /// What the blob is (manifest, index, config, layer and its compression).
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// `sha256:<hex>` of the blob.
    pub digest: String,
    /// Size of the blob in bytes.
    pub size: u64,
    /// Free-form annotations (image names live here in indexes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// The platform of a manifest listed in an index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<serde_json::Value>,
}

/// An OCI image index (`index.json` or a nested index blob).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Index {
    /// Always 2.
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    /// Index media type (optional in `index.json`).
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The manifests (or nested indexes) it lists.
    pub manifests: Vec<Descriptor>,
}

/// An OCI (or Docker schema 2) image manifest.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Manifest {
    /// Always 2.
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    /// Manifest media type.
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The image config blob.
    pub config: Descriptor,
    /// The layer blobs, bottom first.
    pub layers: Vec<Descriptor>,
}

/// The part of an image config that loading needs.
#[derive(Debug, Clone, Deserialize)]
pub struct ConfigRootfs {
    /// `rootfs` of the config: the uncompressed layer digests.
    pub rootfs: RootFs,
}

/// `rootfs` of an image config.
#[derive(Debug, Clone, Deserialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Digests of the uncompressed layer tars, bottom first.
    pub diff_ids: Vec<String>,
}

/// The `oci-layout` file content.
pub const OCI_LAYOUT: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;

/// Media types berth reads and writes.
pub mod media {
    /// OCI image index.
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    /// OCI image manifest.
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    /// OCI image config.
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    /// OCI uncompressed layer.
    pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
    /// Docker manifest list.
    pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
    /// Docker schema 2 manifest.
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    /// Docker image config.
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

    /// Whether `m` names an image index or manifest list.
    pub fn is_index(m: &str) -> bool {
        m == OCI_INDEX || m == DOCKER_LIST
    }

    /// Whether `m` names an image manifest.
    pub fn is_manifest(m: &str) -> bool {
        m == OCI_MANIFEST || m == DOCKER_MANIFEST
    }

    /// Whether `m` names an image config.
    pub fn is_config(m: &str) -> bool {
        m == OCI_CONFIG || m == DOCKER_CONFIG
    }

    /// Whether `m` names a layer berth can unpack (plain, gzip or zstd tar;
    /// the compression itself is detected from the bytes).
    pub fn is_layer(m: &str) -> bool {
        matches!(
            m,
            "application/vnd.oci.image.layer.v1.tar"
                | "application/vnd.oci.image.layer.v1.tar+gzip"
                | "application/vnd.oci.image.layer.v1.tar+zstd"
                | "application/vnd.docker.image.rootfs.diff.tar"
                | "application/vnd.docker.image.rootfs.diff.tar.gzip"
                | "application/vnd.docker.image.rootfs.diff.tar.zstd"
        )
    }
}

/// Annotation holding the image name in an OCI layout (a tag, or a full
/// reference as podman and skopeo write it).
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// Annotation holding the full image name in containerd's exports.
pub const ANNOTATION_CONTAINERD_NAME: &str = "io.containerd.image.name";
