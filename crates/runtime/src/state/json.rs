//! The container state as `state` and `list --format json` print it.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{Record, Status, OCI_VERSION};

/// The state JSON printed by `state` and `list --format json`, field for
/// field as runc prints it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StateJson {
    /// Runtime-spec version.
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    /// Container id.
    pub id: String,
    /// Init pid; 0 once stopped.
    pub pid: i32,
    /// created|running|paused|stopped.
    pub status: String,
    /// Bundle directory.
    pub bundle: String,
    /// Root filesystem.
    pub rootfs: String,
    /// Creation time.
    pub created: String,
    /// Spec annotations.
    #[serde(skip_serializing_if = "HashMap::is_empty", default)]
    pub annotations: HashMap<String, String>,
    /// Creating user.
    pub owner: String,
}

impl StateJson {
    /// Builds the printed state of `rec` in `status`.
    pub fn new(rec: &Record, status: Status) -> Self {
        StateJson {
            oci_version: OCI_VERSION.to_string(),
            id: rec.id.clone(),
            pid: if status == Status::Stopped {
                0
            } else {
                rec.pid
            },
            status: status.as_str().to_string(),
            bundle: rec.bundle.display().to_string(),
            rootfs: rec.rootfs.display().to_string(),
            created: rec.created.clone(),
            annotations: rec.annotations(),
            owner: rec.owner.clone(),
        }
    }
}
