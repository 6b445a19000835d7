//! The JSON `docker image inspect` prints for an image, fields in Docker's
//! order, built from the store's record and the raw config blob.

use serde::Serialize;
use serde_json::{Map, Value};
use storage::{Digest, Store, StoreError};

/// Docker's `ImageInspect` (API 1.4x), minus fields that describe the
/// daemon's build of the image (`Container`, `ContainerConfig`).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageInspect {
    id: String,
    repo_tags: Vec<String>,
    repo_digests: Vec<String>,
    parent: String,
    comment: String,
    created: String,
    docker_version: String,
    author: String,
    config: ContainerConfig,
    architecture: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    variant: String,
    os: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    os_version: String,
    size: u64,
    graph_driver: GraphDriver,
    #[serde(rename = "RootFS")]
    root_fs: RootFs,
    history: Vec<Value>,
    metadata: Metadata,
}

/// Docker's `container.Config` as an image carries it, with Docker's
/// `omitempty` fields left out when empty.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ContainerConfig {
    hostname: String,
    domainname: String,
    user: String,
    attach_stdin: bool,
    attach_stdout: bool,
    attach_stderr: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    exposed_ports: Option<Value>,
    tty: bool,
    open_stdin: bool,
    stdin_once: bool,
    env: Value,
    cmd: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    healthcheck: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    args_escaped: Option<Value>,
    image: String,
    volumes: Value,
    working_dir: String,
    entrypoint: Value,
    on_build: Value,
    labels: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_signal: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_timeout: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shell: Option<Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GraphDriver {
    data: Map<String, Value>,
    name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RootFs {
    #[serde(rename = "Type")]
    kind: String,
    layers: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Metadata {
    last_tag_time: String,
}

/// Go's zero time, which Docker prints for unknown times.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn string(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn field(v: &Value, k: &str) -> Value {
    v.get(k).cloned().unwrap_or(Value::Null)
}

fn optional(v: &Value, k: &str) -> Option<Value> {
    v.get(k).filter(|x| !x.is_null()).cloned()
}

/// The inspect document of image `id`.
pub fn inspect_doc(store: &Store, id: &Digest) -> Result<ImageInspect, StoreError> {
    let img = store.image(id)?;
    let raw = store.image_config_bytes(id)?;
    let cfg: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    let c = cfg.get("config").cloned().unwrap_or(Value::Null);
    let config = ContainerConfig {
        hostname: string(&c, "Hostname"),
        domainname: string(&c, "Domainname"),
        user: string(&c, "User"),
        attach_stdin: false,
        attach_stdout: false,
        attach_stderr: false,
        exposed_ports: optional(&c, "ExposedPorts"),
        tty: false,
        open_stdin: false,
        stdin_once: false,
        env: field(&c, "Env"),
        cmd: field(&c, "Cmd"),
        healthcheck: optional(&c, "Healthcheck"),
        args_escaped: optional(&c, "ArgsEscaped"),
        image: string(&c, "Image"),
        volumes: field(&c, "Volumes"),
        working_dir: string(&c, "WorkingDir"),
        entrypoint: field(&c, "Entrypoint"),
        on_build: field(&c, "OnBuild"),
        labels: field(&c, "Labels"),
        stop_signal: optional(&c, "StopSignal"),
        stop_timeout: optional(&c, "StopTimeout"),
        shell: optional(&c, "Shell"),
    };
    let dirs: Vec<String> = img
        .layers
        .iter()
        .rev()
        .map(|l| store.layer_path(l).display().to_string())
        .collect();
    let mut data = Map::new();
    if dirs.len() > 1 {
        data.insert("LowerDir".into(), Value::String(dirs[1..].join(":")));
    }
    if let Some(top) = dirs.first() {
        data.insert("UpperDir".into(), Value::String(top.clone()));
    }
    let doc = ImageInspect {
        id: img.id.to_string(),
        repo_tags: img.repo_tags.iter().map(|r| r.familiar_string()).collect(),
        repo_digests: img
            .repo_digests
            .iter()
            .map(|r| r.familiar_string())
            .collect(),
        parent: String::new(),
        comment: string(&cfg, "comment"),
        created: img.created.clone().unwrap_or_else(|| ZERO_TIME.to_string()),
        docker_version: string(&cfg, "docker_version"),
        author: string(&cfg, "author"),
        config,
        architecture: string(&cfg, "architecture"),
        variant: string(&cfg, "variant"),
        os: string(&cfg, "os"),
        os_version: string(&cfg, "os.version"),
        size: img.size,
        graph_driver: GraphDriver {
            data,
            name: "overlay".into(),
        },
        root_fs: RootFs {
            kind: "layers".into(),
            layers: img.diff_ids.iter().map(|d| d.to_string()).collect(),
        },
        history: cfg
            .get("history")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        metadata: Metadata {
            last_tag_time: ZERO_TIME.into(),
        },
    };
    Ok(doc)
}
