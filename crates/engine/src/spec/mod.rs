//! The OCI runtime spec of a container, built from the image config and the
//! run options as Docker's daemon builds it (moby `daemon/oci_linux.go`).

mod caps;
mod defaults;
mod process;
mod seccomp;
mod user;

use std::collections::BTreeMap;
use std::path::Path;

use oci_spec::image::Config as ImageConfig;
use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub use self::caps::{all_caps, effective_caps, normalize as normalize_caps, DEFAULT_CAPS};
pub use self::defaults::{default_mounts, device_rules, MASKED_PATHS, READONLY_PATHS};
pub use self::process::{
    config_env, entrypoint_and_cmd, process_args, process_env, replace_or_append, DEFAULT_PATH,
};
pub use self::seccomp::default_profile as default_seccomp;
pub use self::user::{resolve_user, ExecUser};
use crate::options::{parse_signal, NetworkMode, RunOptions};

/// Where `--init`'s reaper is bound inside the container.
pub const INIT_PATH: &str = "/sbin/berth-init";

/// CFS period Docker uses with `--cpus`.
const CPU_PERIOD: u64 = 100_000;

/// A spec that cannot be built; the text is Docker's where Docker has one.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// `--cap-add`/`--cap-drop` named no capability.
    #[error("invalid {field}: unknown capability: \"{cap}\"")]
    UnknownCapability {
        /// `CapAdd` or `CapDrop`.
        field: &'static str,
        /// The normalised name.
        cap: String,
    },
    /// Neither the image nor the command line gave a command.
    #[error("No command specified")]
    NoCommand,
    /// `-u name` absent from the image's passwd.
    #[error("unable to find user {0}: no matching entries in passwd file")]
    UnknownUser(String),
    /// `-u user:name` absent from the image's group file.
    #[error("unable to find group {0}: no matching entries in group file")]
    UnknownGroup(String),
    /// A numeric id beyond `i32::MAX`.
    #[error("uids and gids must be in range 0-2147483647")]
    IdRange,
    /// `-w` not absolute.
    #[error("the working directory '{0}' is invalid, it needs to be an absolute path")]
    RelativeWorkdir(String),
    /// The shipped seccomp profile does not parse (a build defect).
    #[error("default seccomp profile: {0}")]
    SeccompProfile(String),
    /// `--init` asked for but no reaper binary is available.
    #[error("--init: no init binary available")]
    NoInitBinary,
    /// The assembled JSON is not a valid OCI spec.
    #[error("generated runtime spec is invalid: {0}")]
    Invalid(String),
}

/// The container's `Config` as Docker's `inspect` shows it: the image config
/// with the run options applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    /// Hostname (default: the first 12 hex digits of the id).
    pub hostname: String,
    /// `user[:group]` as given (may be empty for root).
    pub user: String,
    /// Allocate a tty.
    pub tty: bool,
    /// Keep stdin open.
    pub open_stdin: bool,
    /// The environment (image env with `-e` on top).
    pub env: Vec<String>,
    /// Cmd.
    pub cmd: Vec<String>,
    /// The image reference the container was created from.
    pub image: String,
    /// Working directory ("" means `/`).
    pub working_dir: String,
    /// Entrypoint.
    pub entrypoint: Vec<String>,
    /// Labels: the image's, then `--label`.
    pub labels: BTreeMap<String, String>,
    /// Stop signal name, if any.
    pub stop_signal: Option<String>,
    /// Stop timeout in seconds, if set.
    pub stop_timeout: Option<i64>,
}

impl ContainerConfig {
    /// Applies `opts` and the arguments after the image to the image config.
    pub fn new(
        id: &str,
        image: &str,
        image_config: Option<&ImageConfig>,
        opts: &RunOptions,
        args: &[String],
    ) -> Result<Self, SpecError> {
        let list = |v: Option<&Vec<String>>| v.cloned().unwrap_or_default();
        let img_ep = list(image_config.and_then(|c| c.entrypoint().as_ref()));
        let img_cmd = list(image_config.and_then(|c| c.cmd().as_ref()));
        let img_env = list(image_config.and_then(|c| c.env().as_ref()));
        let (entrypoint, cmd) =
            entrypoint_and_cmd(&img_ep, &img_cmd, opts.entrypoint.as_deref(), args);
        process_args(&entrypoint, &cmd)?;
        let working_dir = match &opts.workdir {
            Some(w) if !w.starts_with('/') => return Err(SpecError::RelativeWorkdir(w.clone())),
            Some(w) => w.clone(),
            None => image_config
                .and_then(|c| c.working_dir().clone())
                .unwrap_or_default(),
        };
        let mut labels: BTreeMap<String, String> = image_config
            .and_then(|c| c.labels().clone())
            .map(|l| l.into_iter().collect())
            .unwrap_or_default();
        labels.extend(opts.labels.clone());
        Ok(ContainerConfig {
            hostname: opts
                .hostname
                .clone()
                .unwrap_or_else(|| id.chars().take(12).collect()),
            user: opts
                .user
                .clone()
                .or_else(|| image_config.and_then(|c| c.user().clone()))
                .unwrap_or_default(),
            tty: opts.tty,
            open_stdin: opts.interactive,
            env: config_env(&img_env, &opts.env),
            cmd,
            image: image.to_string(),
            working_dir,
            entrypoint,
            labels,
            stop_signal: opts
                .stop_signal
                .clone()
                .or_else(|| image_config.and_then(|c| c.stop_signal().clone())),
            stop_timeout: opts.stop_timeout,
        })
    }

    /// The signal `stop` sends first (SIGTERM unless configured).
    pub fn stop_signal_number(&self) -> i32 {
        self.stop_signal
            .as_deref()
            .and_then(|s| parse_signal(s).ok())
            .unwrap_or(libc::SIGTERM)
    }
}

/// Everything the spec depends on besides the options.
pub struct SpecInput<'a> {
    /// The container's resolved config.
    pub config: &'a ContainerConfig,
    /// The validated run options.
    pub options: &'a RunOptions,
    /// The resolved process user (see [`resolve_user`]).
    pub user: &'a ExecUser,
    /// Where the runtime mounts the overlay (spec `root.path`).
    pub rootfs: &'a Path,
    /// The cgroup path, e.g. `/berth/<id>`.
    pub cgroups_path: &'a str,
    /// Give the container its own cgroup namespace (Docker does on cgroup v2).
    pub private_cgroupns: bool,
    /// The static reaper bound in as [`INIT_PATH`] for `--init`.
    pub init_binary: Option<&'a Path>,
}

/// True when `/sys/fs/cgroup` is a pure cgroup v2 mount.
pub fn host_is_cgroup2() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// Builds the OCI runtime spec.
pub fn build_spec(input: &SpecInput<'_>) -> Result<Spec, SpecError> {
    let opts = input.options;
    let cfg = input.config;
    let caps = effective_caps(&opts.cap_add, &opts.cap_drop, opts.privileged)?;

    let mut args = process_args(&cfg.entrypoint, &cfg.cmd)?;
    let mut mounts = default_mounts(opts.privileged);
    if opts.init {
        let init = input.init_binary.ok_or(SpecError::NoInitBinary)?;
        mounts.push(
            json!({"destination": INIT_PATH, "type": "bind", "source": init,
                           "options": ["rbind", "ro", "nosuid", "nodev"]}),
        );
        args.splice(0..0, [INIT_PATH.to_string(), "--".to_string()]);
    }

    let mut namespaces = vec![
        json!({"type": "pid"}),
        json!({"type": "ipc"}),
        json!({"type": "uts"}),
        json!({"type": "mount"}),
    ];
    if opts.network == NetworkMode::None {
        namespaces.push(json!({"type": "network"}));
    }
    if input.private_cgroupns {
        namespaces.push(json!({"type": "cgroup"}));
    }

    let mut resources = json!({"devices": device_rules(opts.privileged)});
    if let Some(limit) = opts.memory {
        resources["memory"] = json!({"limit": limit});
    }
    if let Some(nano) = opts.nano_cpus {
        let quota = (nano as i128 * CPU_PERIOD as i128 / 1_000_000_000) as i64;
        resources["cpu"] = json!({"quota": quota, "period": CPU_PERIOD});
    }
    if let Some(pids) = opts.pids_limit.filter(|p| *p > 0) {
        resources["pids"] = json!({"limit": pids});
    }

    let mut seccomp = None;
    let mut linux = json!({
        "namespaces": namespaces,
        "resources": resources,
        "cgroupsPath": input.cgroups_path,
    });
    if opts.privileged {
        linux["devices"] = json!(defaults::host_devices());
    } else {
        linux["maskedPaths"] = json!(MASKED_PATHS);
        linux["readonlyPaths"] = json!(READONLY_PATHS);
        if !opts.seccomp_unconfined {
            // Set on the typed spec below: the profile's few hundred
            // names need no trip through a JSON tree.
            seccomp = Some(default_seccomp(&caps)?);
        }
    }

    let rlimits: Vec<Value> = opts
        .ulimits
        .iter()
        .map(|u| json!({"type": u.rlimit_type(), "soft": u.soft as u64, "hard": u.hard as u64}))
        .collect();
    let mut user = json!({"uid": input.user.uid, "gid": input.user.gid});
    if !input.user.additional_gids.is_empty() {
        user["additionalGids"] = json!(input.user.additional_gids);
    }
    let cwd = if cfg.working_dir.is_empty() {
        "/"
    } else {
        cfg.working_dir.as_str()
    };
    let spec = json!({
        "ociVersion": "1.2.0",
        "process": {
            "terminal": opts.tty,
            "user": user,
            "args": args,
            "env": process_env(&cfg.env, &cfg.hostname, opts.tty, &input.user.home),
            "cwd": cwd,
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "noNewPrivileges": opts.no_new_privileges,
            "rlimits": rlimits,
        },
        "root": {"path": input.rootfs, "readonly": opts.read_only},
        "hostname": cfg.hostname,
        "mounts": mounts,
        "linux": linux,
    });
    let mut spec: Spec =
        serde_json::from_value(spec).map_err(|e| SpecError::Invalid(e.to_string()))?;
    if let Some(linux) = spec.linux_mut() {
        linux.set_seccomp(seccomp);
    }
    Ok(spec)
}

#[cfg(test)]
mod tests;
