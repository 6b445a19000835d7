//! The `docker inspect` document of a container as typed structs whose
//! field order is Docker's (`types.ContainerJSON` of API 1.41): serde
//! writes struct fields in declaration order, while a `serde_json::Value`
//! would sort them. Fields Docker omits when empty carry
//! `skip_serializing_if`.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::container::{Container, Status};
use crate::engine::Engine;

/// `docker inspect CONTAINER`, one element.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerDoc {
    id: String,
    created: String,
    path: String,
    args: Vec<String>,
    state: StateDoc,
    image: String,
    resolv_conf_path: String,
    hostname_path: String,
    hosts_path: String,
    log_path: String,
    name: String,
    restart_count: i32,
    driver: &'static str,
    platform: &'static str,
    /// berth applies no SELinux labels and no AppArmor profile.
    mount_label: &'static str,
    process_label: &'static str,
    app_armor_profile: &'static str,
    /// Docker lists the ids of the container's exec sessions here, `null`
    /// without any (no omitempty); berth keeps no exec sessions.
    #[serde(rename = "ExecIDs")]
    exec_ids: Option<Vec<String>>,
    host_config: HostConfigDoc,
    graph_driver: Option<GraphDriverDoc>,
    /// With `--size` only, as Docker.
    #[serde(skip_serializing_if = "Option::is_none")]
    size_rw: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size_root_fs: Option<u64>,
    mounts: Vec<MountDoc>,
    config: ConfigDoc,
    network_settings: NetworkSettingsDoc,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
struct StateDoc {
    status: &'static str,
    running: bool,
    paused: bool,
    restarting: bool,
    #[serde(rename = "OOMKilled")]
    oom_killed: bool,
    dead: bool,
    pid: i32,
    exit_code: i32,
    error: String,
    started_at: String,
    finished_at: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
struct LogConfigDoc {
    #[serde(rename = "Type")]
    kind: &'static str,
    config: BTreeMap<String, String>,
}

/// go-units' `Ulimit`: Name, Hard, Soft.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
struct UlimitDoc {
    name: String,
    hard: i64,
    soft: i64,
}

/// The `HostConfig` fields berth has, in Docker's order (its own fields,
/// then the embedded `Resources`, then `Init`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
struct HostConfigDoc {
    log_config: LogConfigDoc,
    network_mode: &'static str,
    auto_remove: bool,
    /// Lists Docker prints as `null` when empty.
    cap_add: Option<Vec<String>>,
    cap_drop: Option<Vec<String>>,
    privileged: bool,
    readonly_rootfs: bool,
    security_opt: Option<Vec<String>>,
    shm_size: i64,
    memory: i64,
    nano_cpus: i64,
    cgroup_parent: &'static str,
    pids_limit: Option<i64>,
    ulimits: Vec<UlimitDoc>,
    /// Only with `--init`, as Docker's `*bool` with `omitempty`.
    #[serde(skip_serializing_if = "Option::is_none")]
    init: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
struct GraphDriverDoc {
    data: GraphDataDoc,
    name: &'static str,
}

/// Docker's `Data` is a map, so its keys print sorted.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
struct GraphDataDoc {
    lower_dir: String,
    merged_dir: String,
    upper_dir: String,
    work_dir: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ConfigDoc {
    hostname: String,
    domainname: &'static str,
    user: String,
    attach_stdin: bool,
    attach_stdout: bool,
    attach_stderr: bool,
    tty: bool,
    open_stdin: bool,
    stdin_once: bool,
    env: Vec<String>,
    cmd: Vec<String>,
    image: String,
    volumes: Option<()>,
    working_dir: String,
    entrypoint: Option<Vec<String>>,
    on_build: Option<()>,
    labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_signal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_timeout: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
struct NetworkSettingsDoc {
    networks: BTreeMap<String, Value>,
}

/// One `Mounts` element in Docker's `MountPoint` order; `Name` and
/// `Driver` only for volumes.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
struct MountDoc {
    #[serde(rename = "Type")]
    kind: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<Value>,
    source: Value,
    destination: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    driver: Option<Value>,
    mode: Value,
    #[serde(rename = "RW")]
    rw: Value,
    propagation: Value,
}

fn null_if_empty(v: &[String]) -> Option<Vec<String>> {
    (!v.is_empty()).then(|| v.to_vec())
}

/// Re-orders the volume module's mount objects (a `Value` sorts keys).
fn ordered_mounts(mounts: Value) -> Vec<MountDoc> {
    let Value::Array(list) = mounts else {
        return Vec::new();
    };
    list.into_iter()
        .map(|m| {
            let get = |k: &str| m.get(k).cloned();
            MountDoc {
                kind: get("Type").unwrap_or(Value::Null),
                name: get("Name"),
                source: get("Source").unwrap_or(Value::Null),
                destination: get("Destination").unwrap_or(Value::Null),
                driver: get("Driver"),
                mode: get("Mode").unwrap_or(Value::Null),
                rw: get("RW").unwrap_or(Value::Null),
                propagation: get("Propagation").unwrap_or(Value::Null),
            }
        })
        .collect()
}

impl Engine {
    /// The container as `docker inspect` prints it; with `size`, also
    /// `SizeRw` and `SizeRootFs` (`inspect --size`).
    pub fn inspect_doc(&self, c: &Container, size: bool) -> ContainerDoc {
        let dir = self.container_dir(&c.id);
        let layout = c
            .image_id
            .parse()
            .ok()
            .and_then(|id| self.store().container_rootfs_layout(&id, &c.id).ok());
        let graph_driver = layout.map(|l| {
            let lower: Vec<String> = l.lower.iter().map(|p| p.display().to_string()).collect();
            GraphDriverDoc {
                data: GraphDataDoc {
                    lower_dir: lower.join(":"),
                    merged_dir: l.rootfs.display().to_string(),
                    upper_dir: l.upper.display().to_string(),
                    work_dir: l.work.display().to_string(),
                },
                name: "overlay2",
            }
        });
        let sizes = size.then(|| self.container_size(c));
        let h = &c.host_config;
        let mut args = c.config.entrypoint.iter().chain(&c.config.cmd).cloned();
        let path = args.next().unwrap_or_default();
        let s = &c.state;
        let shown = |p: std::path::PathBuf| p.display().to_string();
        ContainerDoc {
            id: c.id.clone(),
            created: c.created.clone(),
            path,
            args: args.collect(),
            state: StateDoc {
                status: s.status.as_str(),
                running: s.status.is_active(),
                paused: s.status == Status::Paused,
                restarting: s.status == Status::Restarting,
                oom_killed: false,
                dead: s.status == Status::Dead,
                pid: if s.status.is_active() { s.pid } else { 0 },
                exit_code: s.exit_code,
                error: s.error.clone(),
                started_at: s.started_at.clone(),
                finished_at: s.finished_at.clone(),
            },
            image: c.image_id.clone(),
            resolv_conf_path: shown(dir.join("init/etc/resolv.conf")),
            hostname_path: shown(dir.join("init/etc/hostname")),
            hosts_path: shown(dir.join("init/etc/hosts")),
            log_path: shown(self.log_path(&c.id)),
            name: format!("/{}", c.name),
            restart_count: 0,
            driver: "overlay2",
            platform: "linux",
            mount_label: "",
            process_label: "",
            app_armor_profile: "",
            exec_ids: None,
            host_config: HostConfigDoc {
                log_config: LogConfigDoc {
                    kind: "json-file",
                    config: BTreeMap::new(),
                },
                network_mode: h.network.as_str(),
                auto_remove: h.auto_remove,
                cap_add: null_if_empty(&h.cap_add),
                cap_drop: null_if_empty(&h.cap_drop),
                privileged: h.privileged,
                readonly_rootfs: h.read_only,
                security_opt: null_if_empty(&h.security_opt),
                shm_size: 67108864,
                memory: h.memory.unwrap_or(0),
                nano_cpus: h.nano_cpus.unwrap_or(0),
                cgroup_parent: "",
                pids_limit: h.pids_limit,
                ulimits: h
                    .ulimits
                    .iter()
                    .map(|u| UlimitDoc {
                        name: u.name.clone(),
                        hard: u.hard,
                        soft: u.soft,
                    })
                    .collect(),
                init: h.init.then_some(true),
            },
            graph_driver,
            size_rw: sizes.map(|s| s.rw),
            size_root_fs: sizes.map(|s| s.root_fs),
            mounts: ordered_mounts(crate::volume::inspect_mounts(self.store(), &c.id)),
            config: ConfigDoc {
                hostname: c.config.hostname.clone(),
                domainname: "",
                user: c.config.user.clone(),
                attach_stdin: h.interactive && !h.detach,
                attach_stdout: !h.detach,
                attach_stderr: !h.detach,
                tty: c.config.tty,
                open_stdin: c.config.open_stdin,
                stdin_once: h.interactive && !h.detach,
                env: c.config.env.clone(),
                cmd: c.config.cmd.clone(),
                image: c.config.image.clone(),
                volumes: None,
                working_dir: c.config.working_dir.clone(),
                entrypoint: (!c.config.entrypoint.is_empty()).then(|| c.config.entrypoint.clone()),
                on_build: None,
                labels: c.config.labels.clone(),
                stop_signal: c.config.stop_signal.clone(),
                stop_timeout: c.config.stop_timeout,
            },
            network_settings: NetworkSettingsDoc {
                networks: BTreeMap::new(),
            },
        }
    }
}
