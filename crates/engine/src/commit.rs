//! `commit` and `diff`: a container's upper dir turned into a new image
//! layer on top of its image's own (moby `daemon/commit.go`), and the
//! `A`/`C`/`D` list of what it changed. The init layer and volume content
//! are never part of either.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use serde_json::{json, Map, Value};
use storage::changes::{self, Change, ChangesError, Skip};
use storage::{Digest, ImageId, NewImage, Reference, ReferenceError, StoreError, UnpackOptions};

use crate::container::{now_rfc3339, Container, Status};
use crate::{Engine, EngineError};

/// sha256 of an empty tar (two zero blocks): Docker records such a layer
/// as an `empty_layer` history entry, without a diff id.
const EMPTY_TAR_DIFF_ID: &str =
    "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef";

/// What `berth commit` was asked for.
#[derive(Debug, Clone)]
pub struct CommitOptions {
    /// `-m`: the history comment.
    pub message: String,
    /// `-a`: the author.
    pub author: String,
    /// `-c`: Dockerfile instructions applied to the new config.
    pub changes: Vec<String>,
    /// `-p` (default true): freeze a running container while its upper
    /// dir is read.
    pub pause: bool,
    /// `REPO[:TAG]` to tag the new image with.
    pub reference: Option<String>,
}

impl Default for CommitOptions {
    fn default() -> Self {
        CommitOptions {
            message: String::new(),
            author: String::new(),
            changes: Vec::new(),
            pause: true,
            reference: None,
        }
    }
}

/// Why a commit, diff, export or cp failed; each names the object.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The container lookup or its state failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The image store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The repository name is not a valid reference.
    #[error("invalid reference format: {0}")]
    Reference(#[from] ReferenceError),
    /// A `-c` instruction is not valid.
    #[error(transparent)]
    Change(#[from] storage::archive::ChangeError),
    /// A reference with a digest cannot name a new image.
    #[error("invalid reference format: {0:?}: a committed image cannot be named by digest")]
    DigestReference(String),
    /// Reading the container's changes failed.
    #[error("container {id}: {source}")]
    Changes {
        /// The container.
        id: String,
        /// The cause.
        source: ChangesError,
    },
    /// The parent image's config is not what berth stored.
    #[error("container {id}: image {image} config: {reason}")]
    ParentConfig {
        /// The container.
        id: String,
        /// The image.
        image: String,
        /// What is wrong.
        reason: String,
    },
    /// Freezing or thawing the container failed.
    #[error("container {id}: cannot {op}: {source}")]
    Freeze {
        /// The container.
        id: String,
        /// pause or unpause.
        op: &'static str,
        /// The cgroup error.
        source: cgroups::CgroupError,
    },
    /// A file system operation failed (export, cp).
    #[error("container {id}: {op} {path}: {source}")]
    Io {
        /// The container.
        id: String,
        /// The operation.
        op: &'static str,
        /// The path.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A `cp` path that is refused (Docker's wording where it has one).
    #[error("{0}")]
    BadPath(String),
}

/// Thaws a container frozen for a commit, even on error.
struct Frozen<'a> {
    manager: Option<cgroups::Manager>,
    id: &'a str,
}

impl Drop for Frozen<'_> {
    fn drop(&mut self) {
        if let Some(m) = &self.manager {
            if let Err(e) = m.thaw() {
                eprintln!(
                    "berth: container {}: cannot unpause after commit: {e}",
                    self.id
                );
            }
        }
    }
}

impl Engine {
    /// `docker diff`: the container's changes, init files and volume
    /// content left out.
    pub fn diff(&self, reference: &str) -> Result<Vec<Change>, CommitError> {
        let c = self.find(reference)?;
        let layout = self.layout(&c)?;
        let skip = self.skip(&c, &layout)?;
        changes::diff(&layout.upper, &layout.lower[1..], &skip).map_err(|source| {
            CommitError::Changes {
                id: c.id.clone(),
                source,
            }
        })
    }

    /// `docker commit`: a new image whose top layer is the container's
    /// upper dir. Returns the new image id.
    pub fn commit(&self, reference: &str, opts: &CommitOptions) -> Result<ImageId, CommitError> {
        // Everything that can be refused is checked before any work.
        let tag = match &opts.reference {
            None => None,
            Some(r) => {
                let r = Reference::parse_with_default_tag(r)?;
                if r.digest().is_some() {
                    return Err(CommitError::DigestReference(r.familiar_string()));
                }
                Some(r)
            }
        };
        let c = self.find(reference)?;
        let image: ImageId = self.image_of(&c)?;
        let parent_bytes = self.store().image_config_bytes(&image)?;
        let parent: Value =
            serde_json::from_slice(&parent_bytes).map_err(|e| CommitError::ParentConfig {
                id: c.id.clone(),
                image: image.to_string(),
                reason: e.to_string(),
            })?;
        let mut config = new_config(&parent, &c);
        // The same Dockerfile subset as `import --change`.
        storage::archive::apply_changes(&mut config, &opts.changes)?;

        let layout = self.layout(&c)?;
        let skip = self.skip(&c, &layout)?;
        let parent_chain = self
            .store()
            .image_layers(&image)?
            .last()
            .map(|l| l.chain_id.clone());
        let layer = {
            let _frozen = self.freeze_for_commit(&c, opts.pause)?;
            self.write_layer(&c, &layout.upper, &skip, parent_chain)?
        };

        let created = now_rfc3339();
        let doc = image_config(&parent, &c, config, opts, &created, &layer.diff_id);
        let bytes = serde_json::to_vec(&doc).expect("a JSON value serializes");
        let id = self.store().add_image(
            &bytes,
            &NewImage {
                tags: tag.into_iter().collect(),
                manifest_digest: None,
            },
        )?;
        Ok(id)
    }

    /// The tar of the upper dir, made on a thread and unpacked as the new
    /// layer in the same pass (hashed, kept as a blob, unpacked).
    fn write_layer(
        &self,
        c: &Container,
        upper: &std::path::Path,
        skip: &Skip,
        parent: Option<Digest>,
    ) -> Result<storage::Layer, CommitError> {
        let (reader, writer) = std::io::pipe().map_err(|source| CommitError::Io {
            id: c.id.clone(),
            op: "create pipe for",
            path: "layer".into(),
            source,
        })?;
        let opts = UnpackOptions {
            parent,
            store_blob: true,
            ..UnpackOptions::default()
        };
        let (written, unpacked) = std::thread::scope(|s| {
            let producer = s.spawn(move || -> Result<(), ChangesError> {
                let w = changes::layer_tar(upper, skip, BufWriter::with_capacity(1 << 20, writer))?;
                w.into_inner()
                    .map_err(|e| ChangesError::Write {
                        path: "(end of archive)".into(),
                        source: e.into_error(),
                    })?
                    .flush()
                    .map_err(|source| ChangesError::Write {
                        path: "(end of archive)".into(),
                        source,
                    })
            });
            let unpacked = self.store().unpack_layer(reader, &opts);
            let written = producer.join().unwrap_or_else(|_| {
                Err(ChangesError::Write {
                    path: "(layer writer)".into(),
                    source: std::io::Error::other("layer writer thread panicked"),
                })
            });
            (written, unpacked)
        });
        // The producer's error is the cause when both fail (a cut stream).
        written.map_err(|source| CommitError::Changes {
            id: c.id.clone(),
            source,
        })?;
        Ok(unpacked?)
    }

    fn freeze_for_commit<'a>(
        &self,
        c: &'a Container,
        pause: bool,
    ) -> Result<Frozen<'a>, CommitError> {
        let mut frozen = Frozen {
            manager: None,
            id: &c.id,
        };
        // A container paused by the user stays paused; only a running one
        // is frozen for the read, as Docker does.
        if pause && c.state.status == Status::Running {
            let m = self.cgroup(&c.id)?;
            m.freeze().map_err(|source| CommitError::Freeze {
                id: c.id.clone(),
                op: "pause",
                source,
            })?;
            frozen.manager = Some(m);
        }
        Ok(frozen)
    }

    pub(crate) fn image_of(&self, c: &Container) -> Result<ImageId, CommitError> {
        Ok(c.image_id.parse().map_err(|_| EngineError::Corrupt {
            id: c.id.clone(),
            reason: format!("image id {:?}", c.image_id),
        })?)
    }

    pub(crate) fn layout(&self, c: &Container) -> Result<storage::RootfsLayout, CommitError> {
        let image = self.image_of(c)?;
        Ok(self.store().container_rootfs_layout(&image, &c.id)?)
    }

    /// What diff, commit and export leave out: the init layer's files and
    /// what lies below the container's mount points.
    pub(crate) fn skip(
        &self,
        c: &Container,
        layout: &storage::RootfsLayout,
    ) -> Result<Skip, CommitError> {
        Skip::new(Some(&layout.lower[0]), &self.mount_points(c)).map_err(|source| {
            CommitError::Changes {
                id: c.id.clone(),
                source,
            }
        })
    }

    /// The destinations of the container's mounts (volumes, binds, tmpfs,
    /// and the runtime's own /proc, /dev...), from the spec of its last
    /// start. Nothing written below them reaches the upper dir, except what
    /// was there before the mount: Docker leaves it out, and so do we.
    pub(crate) fn mount_points(&self, c: &Container) -> Vec<PathBuf> {
        let spec = self.container_dir(&c.id).join("config.json");
        let Ok(bytes) = fs::read(&spec) else {
            return Vec::new();
        };
        let Ok(v) = serde_json::from_slice::<Value>(&bytes) else {
            return Vec::new();
        };
        v["mounts"]
            .as_array()
            .map(|ms| {
                ms.iter()
                    .filter_map(|m| m["destination"].as_str())
                    .filter(|d| *d != "/")
                    .map(PathBuf::from)
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The new image's `config`: the parent's, with the container's own
/// settings (Docker commits the container's Config), before `-c`.
fn new_config(parent: &Value, c: &Container) -> Map<String, Value> {
    let mut config = parent["config"].as_object().cloned().unwrap_or_default();
    let cc = &c.config;
    let list = |v: &Vec<String>| {
        if v.is_empty() {
            Value::Null
        } else {
            json!(v)
        }
    };
    config.insert("User".into(), json!(cc.user));
    config.insert("Env".into(), list(&cc.env));
    config.insert("Cmd".into(), list(&cc.cmd));
    config.insert("Entrypoint".into(), list(&cc.entrypoint));
    config.insert("WorkingDir".into(), json!(cc.working_dir));
    config.insert(
        "Labels".into(),
        if cc.labels.is_empty() {
            Value::Null
        } else {
            json!(cc.labels)
        },
    );
    if let Some(s) = &cc.stop_signal {
        config.insert("StopSignal".into(), json!(s));
    }
    // `-v /path` (anonymous) is part of Docker's container Config.Volumes,
    // and so of the committed image; named volumes and binds are not.
    let anonymous: Vec<&str> = c
        .host_config
        .mounts
        .volumes
        .iter()
        .filter_map(|v| match v.split(':').collect::<Vec<_>>()[..] {
            [target] => Some(target),
            [target, mode] if !mode.starts_with('/') && target.starts_with('/') => Some(target),
            _ => None,
        })
        .collect();
    if !anonymous.is_empty() {
        let slot = config.entry("Volumes").or_insert(Value::Null);
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        if let Some(vols) = slot.as_object_mut() {
            for t in anonymous {
                vols.insert(t.to_string(), json!({}));
            }
        }
    }
    config
}

/// moby `image.NewChildImage`: platform of the parent, the new config,
/// the container, history and diff ids grown by one.
fn image_config(
    parent: &Value,
    c: &Container,
    config: Map<String, Value>,
    opts: &CommitOptions,
    created: &str,
    diff_id: &Digest,
) -> Value {
    let empty = diff_id.to_string() == EMPTY_TAR_DIFF_ID;
    let mut diff_ids = parent["rootfs"]["diff_ids"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !empty {
        diff_ids.push(json!(diff_id.to_string()));
    }
    let mut entry = Map::new();
    entry.insert("created".into(), json!(created));
    if !opts.author.is_empty() {
        entry.insert("author".into(), json!(opts.author));
    }
    entry.insert("created_by".into(), json!(c.config.cmd.join(" ")));
    if !opts.message.is_empty() {
        entry.insert("comment".into(), json!(opts.message));
    }
    if empty {
        entry.insert("empty_layer".into(), json!(true));
    }
    let mut history = parent["history"].as_array().cloned().unwrap_or_default();
    history.push(Value::Object(entry));

    let mut doc = Map::new();
    for k in ["architecture", "variant", "os", "os.version", "os.features"] {
        if let Some(v) = parent.get(k) {
            doc.insert(k.into(), v.clone());
        }
    }
    if !opts.author.is_empty() {
        doc.insert("author".into(), json!(opts.author));
    }
    doc.insert("config".into(), Value::Object(config));
    doc.insert("container".into(), json!(c.id));
    doc.insert(
        "container_config".into(),
        serde_json::to_value(&c.config).unwrap_or(Value::Null),
    );
    doc.insert("created".into(), json!(created));
    doc.insert("history".into(), Value::Array(history));
    doc.insert(
        "rootfs".into(),
        json!({"type": "layers", "diff_ids": diff_ids}),
    );
    Value::Object(doc)
}
