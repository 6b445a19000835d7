//! The options of `run`/`create` as the CLI hands them over (strings, as
//! typed), and their validation into [`RunOptions`] with Docker's messages.

mod env;
mod signal;
mod ulimit;
mod units;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use self::env::{parse_env_file, validate_env};
pub use self::signal::parse_signal;
pub use self::ulimit::Ulimit;
pub use self::units::{parse_nano_cpus, parse_ram_bytes, CpusParseError};

/// Docker's smallest accepted `--memory` (daemon `verifyPlatformContainerResources`).
pub const MIN_MEMORY: i64 = 6 * 1024 * 1024;

/// A refused option; the text is what Docker prints for the same input.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OptionsError {
    /// A flag value that does not parse (cobra/pflag's wording).
    #[error("invalid argument \"{value}\" for \"{flag}\" flag: {reason}")]
    InvalidArgument {
        /// The flag as pflag names it, e.g. `-m, --memory`.
        flag: &'static str,
        /// The value given.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// An `--env-file` that cannot be read or parsed.
    #[error("{0}")]
    EnvFile(String),
    /// `--memory` below the kernel-workable minimum.
    #[error("Minimum memory limit allowed is 6MB")]
    MemoryTooSmall,
    /// `--cpus` beyond what the host has.
    #[error("Range of CPUs is from 0.01 to {max}.00, as there are only {max} CPUs available")]
    CpusOutOfRange {
        /// The number of online CPUs.
        max: usize,
    },
    /// `--network` naming something other than `none`/`host`.
    #[error("network {0} not found")]
    UnknownNetwork(String),
    /// A `--security-opt` berth does not know.
    #[error("invalid --security-opt: {0:?}")]
    SecurityOpt(String),
    /// A container name outside Docker's `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
    #[error("Invalid container name ({0}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")]
    InvalidName(String),
    /// `--stop-signal` naming no signal.
    #[error("Invalid signal: {0}")]
    InvalidSignal(String),
    /// A bad `-v`/`--mount`/`--tmpfs`/`--volumes-from` (Docker's text).
    #[error("{0}")]
    Mount(String),
}

/// How the container is networked. Bridge networking does not exist yet, so
/// the default is `none`: an own network namespace holding only `lo`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum NetworkMode {
    /// A private network namespace with only the loopback device.
    #[default]
    None,
    /// The host's network namespace.
    Host,
}

impl NetworkMode {
    /// The name Docker shows in `HostConfig.NetworkMode`.
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkMode::None => "none",
            NetworkMode::Host => "host",
        }
    }
}

/// The flags of `berth run`/`create` exactly as typed, before validation.
#[derive(Debug, Clone, Default)]
pub struct RunFlags {
    /// `--name`.
    pub name: Option<String>,
    /// `-d`.
    pub detach: bool,
    /// `--rm`.
    pub rm: bool,
    /// `-i`.
    pub interactive: bool,
    /// `-t`.
    pub tty: bool,
    /// `-e`, in order.
    pub env: Vec<String>,
    /// `--env-file`, in order (read before `-e`, which wins).
    pub env_files: Vec<PathBuf>,
    /// `-w`.
    pub workdir: Option<String>,
    /// `-u`.
    pub user: Option<String>,
    /// `-h`/`--hostname`.
    pub hostname: Option<String>,
    /// `--entrypoint`.
    pub entrypoint: Option<String>,
    /// `--init`.
    pub init: bool,
    /// `--read-only`.
    pub read_only: bool,
    /// `--network`.
    pub network: Option<String>,
    /// `-m`/`--memory`.
    pub memory: Option<String>,
    /// `--cpus`.
    pub cpus: Option<String>,
    /// `--pids-limit`.
    pub pids_limit: Option<String>,
    /// `--cap-add`.
    pub cap_add: Vec<String>,
    /// `--cap-drop`.
    pub cap_drop: Vec<String>,
    /// `--privileged`.
    pub privileged: bool,
    /// `--ulimit`.
    pub ulimits: Vec<String>,
    /// `--stop-signal`.
    pub stop_signal: Option<String>,
    /// `--stop-timeout`.
    pub stop_timeout: Option<String>,
    /// `-l`/`--label`.
    pub labels: Vec<String>,
    /// `--security-opt`.
    pub security_opt: Vec<String>,
    /// `-v`, `--mount`, `--tmpfs`, `--volumes-from` (see `crate::volume`).
    pub mounts: crate::volume::MountFlags,
}

/// Validated `run`/`create` options: what the container record keeps and
/// the spec builder reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunOptions {
    /// The requested name, without the leading `/`.
    pub name: Option<String>,
    /// Run detached (`-d`).
    pub detach: bool,
    /// Remove the container when it exits (`--rm`).
    pub auto_remove: bool,
    /// Keep stdin open (`-i`).
    pub interactive: bool,
    /// Allocate a pseudo-terminal (`-t`).
    pub tty: bool,
    /// `KEY=VALUE` pairs from `--env-file` then `-e`, in order.
    pub env: Vec<String>,
    /// Working directory override.
    pub workdir: Option<String>,
    /// `user[:group]` override.
    pub user: Option<String>,
    /// Hostname override.
    pub hostname: Option<String>,
    /// Entrypoint override; `Some("")` clears the image's entrypoint.
    pub entrypoint: Option<String>,
    /// Run a reaper as PID 1.
    pub init: bool,
    /// Mount the rootfs read-only.
    pub read_only: bool,
    /// Network mode.
    pub network: NetworkMode,
    /// Memory limit in bytes.
    pub memory: Option<i64>,
    /// CPU limit in nano-CPUs.
    pub nano_cpus: Option<i64>,
    /// Pids limit; `None`, 0 or negative mean unlimited.
    pub pids_limit: Option<i64>,
    /// Capabilities to add (as typed; normalised by the spec builder).
    pub cap_add: Vec<String>,
    /// Capabilities to drop (as typed).
    pub cap_drop: Vec<String>,
    /// Give the container every capability and device, no masking.
    pub privileged: bool,
    /// Resource limits.
    pub ulimits: Vec<Ulimit>,
    /// Stop signal override, as typed (validated).
    pub stop_signal: Option<String>,
    /// Seconds `stop` waits before SIGKILL.
    pub stop_timeout: Option<i64>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Set `no_new_privs` (`--security-opt no-new-privileges`).
    pub no_new_privileges: bool,
    /// No seccomp filter (`--security-opt seccomp=unconfined`).
    pub seccomp_unconfined: bool,
    /// `--security-opt` values as typed, for `inspect`.
    pub security_opt: Vec<String>,
    /// The mount flags as typed (resolved by `crate::volume::attach`).
    #[serde(default)]
    pub mounts: crate::volume::MountFlags,
}

fn invalid(flag: &'static str, value: &str, reason: impl Into<String>) -> OptionsError {
    OptionsError::InvalidArgument {
        flag,
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// Checks a container name against Docker's `^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$`.
pub fn validate_name(name: &str) -> Result<&str, OptionsError> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    let mut chars = bare.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && bare.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(bare)
    } else {
        Err(OptionsError::InvalidName(name.to_string()))
    }
}

fn online_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl RunFlags {
    /// Validates every flag, in the order Docker's CLI and daemon do, and
    /// returns the first refusal.
    pub fn parse(self) -> Result<RunOptions, OptionsError> {
        let mut env = Vec::new();
        for file in &self.env_files {
            env.extend(parse_env_file(file).map_err(OptionsError::EnvFile)?);
        }
        for e in &self.env {
            if let Some(v) = validate_env(e).map_err(|r| invalid("-e, --env", e, r))? {
                env.push(v);
            }
        }
        let memory = match &self.memory {
            None => None,
            Some(m) => {
                let bytes = parse_ram_bytes(m)
                    .ok_or_else(|| invalid("-m, --memory", m, format!("invalid size: '{m}'")))?;
                // 0 means "no limit", as in Docker.
                if bytes != 0 && bytes < MIN_MEMORY {
                    return Err(OptionsError::MemoryTooSmall);
                }
                (bytes != 0).then_some(bytes)
            }
        };
        let nano_cpus = match &self.cpus {
            None => None,
            Some(c) => {
                let nano = parse_nano_cpus(c).map_err(|e| match e {
                    CpusParseError::NotRational => invalid(
                        "--cpus",
                        c,
                        format!("failed to parse {c} as a rational number"),
                    ),
                    CpusParseError::TooPrecise => invalid("--cpus", c, "value is too precise"),
                })?;
                let max = online_cpus();
                if nano < 0 || nano > max as i64 * 1_000_000_000 || (nano > 0 && nano < 10_000_000)
                {
                    return Err(OptionsError::CpusOutOfRange { max });
                }
                (nano != 0).then_some(nano)
            }
        };
        let pids_limit = match &self.pids_limit {
            None => None,
            Some(p) => Some(p.parse::<i64>().map_err(|_| {
                invalid(
                    "--pids-limit",
                    p,
                    format!("strconv.ParseInt: parsing \"{p}\": invalid syntax"),
                )
            })?),
        };
        let stop_timeout = match &self.stop_timeout {
            None => None,
            Some(t) => Some(t.parse::<i64>().map_err(|_| {
                invalid(
                    "--stop-timeout",
                    t,
                    format!("strconv.ParseInt: parsing \"{t}\": invalid syntax"),
                )
            })?),
        };
        let ulimits = self
            .ulimits
            .iter()
            .map(|u| Ulimit::parse(u).map_err(|r| invalid("--ulimit", u, r)))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(sig) = &self.stop_signal {
            parse_signal(sig)?;
        }
        let network = match self.network.as_deref() {
            None | Some("none") | Some("default") => NetworkMode::None,
            Some("host") => NetworkMode::Host,
            Some(other) => return Err(OptionsError::UnknownNetwork(other.to_string())),
        };
        let mut no_new_privileges = false;
        let mut seccomp_unconfined = false;
        for opt in &self.security_opt {
            let (k, v) = opt
                .split_once(['=', ':'])
                .map_or((opt.as_str(), None), |(k, v)| (k, Some(v)));
            match (k, v) {
                ("no-new-privileges", None | Some("true")) => no_new_privileges = true,
                ("no-new-privileges", Some("false")) => no_new_privileges = false,
                ("seccomp", Some("unconfined")) => seccomp_unconfined = true,
                // AppArmor and SELinux are not in use on this host; accept
                // what Docker accepts for compatibility and ignore it.
                ("apparmor" | "label", Some(_)) => {}
                _ => return Err(OptionsError::SecurityOpt(opt.clone())),
            }
        }
        let labels = self
            .labels
            .iter()
            .map(|l| match l.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (l.clone(), String::new()),
            })
            .collect();
        let name = match &self.name {
            None => None,
            Some(n) => Some(validate_name(n)?.to_string()),
        };
        self.mounts.validate().map_err(OptionsError::Mount)?;
        Ok(RunOptions {
            name,
            detach: self.detach,
            auto_remove: self.rm,
            interactive: self.interactive,
            tty: self.tty,
            env,
            workdir: self.workdir,
            user: self.user,
            hostname: self.hostname,
            entrypoint: self.entrypoint,
            init: self.init,
            read_only: self.read_only,
            network,
            memory,
            nano_cpus,
            pids_limit,
            cap_add: self.cap_add,
            cap_drop: self.cap_drop,
            privileged: self.privileged,
            ulimits,
            stop_signal: self.stop_signal,
            stop_timeout,
            labels,
            no_new_privileges,
            seccomp_unconfined,
            security_opt: self.security_opt,
            mounts: self.mounts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(f: impl FnOnce(&mut RunFlags)) -> Result<RunOptions, OptionsError> {
        let mut flags = RunFlags::default();
        f(&mut flags);
        flags.parse()
    }

    #[test]
    fn defaults() {
        let o = parse(|_| {}).unwrap();
        assert_eq!(o.network, NetworkMode::None);
        assert_eq!(o.memory, None);
        assert!(o.env.is_empty());
        assert!(!o.no_new_privileges);
    }

    #[test]
    fn bad_memory_is_dockers_message() {
        let e = parse(|f| f.memory = Some("x".into())).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid argument \"x\" for \"-m, --memory\" flag: invalid size: 'x'"
        );
        assert_eq!(
            parse(|f| f.memory = Some("1k".into())).unwrap_err(),
            OptionsError::MemoryTooSmall
        );
        assert_eq!(
            parse(|f| f.memory = Some("64m".into())).unwrap().memory,
            Some(64 << 20)
        );
        assert_eq!(parse(|f| f.memory = Some("0".into())).unwrap().memory, None);
    }

    #[test]
    fn cpus() {
        assert_eq!(
            parse(|f| f.cpus = Some("0.5".into())).unwrap().nano_cpus,
            Some(500_000_000)
        );
        let e = parse(|f| f.cpus = Some("abc".into())).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid argument \"abc\" for \"--cpus\" flag: failed to parse abc as a rational number"
        );
        let e = parse(|f| f.cpus = Some("100000".into())).unwrap_err();
        assert!(e.to_string().starts_with("Range of CPUs is from 0.01 to "));
    }

    #[test]
    fn bad_env_and_ulimit() {
        let e = parse(|f| f.env = vec!["=x".into()]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid argument \"=x\" for \"-e, --env\" flag: invalid environment variable: =x"
        );
        let e = parse(|f| f.ulimits = vec!["nofile".into()]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid argument \"nofile\" for \"--ulimit\" flag: invalid ulimit argument: nofile"
        );
        let o = parse(|f| f.ulimits = vec!["nofile=10:20".into()]).unwrap();
        assert_eq!(o.ulimits[0].hard, 20);
    }

    #[test]
    fn env_file_then_env() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("e");
        std::fs::write(&file, "A=file\nB=file\n").unwrap();
        let o = parse(|f| {
            f.env_files = vec![file.clone()];
            f.env = vec!["A=flag".into()];
        })
        .unwrap();
        assert_eq!(o.env, vec!["A=file", "B=file", "A=flag"]);
    }

    #[test]
    fn network_security_labels_name() {
        assert_eq!(
            parse(|f| f.network = Some("host".into())).unwrap().network,
            NetworkMode::Host
        );
        assert_eq!(
            parse(|f| f.network = Some("bogus".into()))
                .unwrap_err()
                .to_string(),
            "network bogus not found"
        );
        let o = parse(|f| {
            f.security_opt = vec!["no-new-privileges".into(), "seccomp=unconfined".into()]
        })
        .unwrap();
        assert!(o.no_new_privileges && o.seccomp_unconfined);
        assert!(parse(|f| f.security_opt = vec!["bogus".into()]).is_err());
        let o = parse(|f| f.labels = vec!["a=b".into(), "c".into()]).unwrap();
        assert_eq!(o.labels.get("a").unwrap(), "b");
        assert_eq!(o.labels.get("c").unwrap(), "");
        assert_eq!(
            parse(|f| f.name = Some("/web.1".into()))
                .unwrap()
                .name
                .as_deref(),
            Some("web.1")
        );
        assert_eq!(
            parse(|f| f.name = Some("a b".into()))
                .unwrap_err()
                .to_string(),
            "Invalid container name (a b), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        );
    }

    #[test]
    fn pids_stop_timeout_signal() {
        assert_eq!(
            parse(|f| f.pids_limit = Some("100".into()))
                .unwrap()
                .pids_limit,
            Some(100)
        );
        assert!(parse(|f| f.pids_limit = Some("x".into())).is_err());
        assert_eq!(
            parse(|f| f.stop_timeout = Some("3".into()))
                .unwrap()
                .stop_timeout,
            Some(3)
        );
        assert_eq!(
            parse(|f| f.stop_signal = Some("SIGFOO".into()))
                .unwrap_err()
                .to_string(),
            "Invalid signal: SIGFOO"
        );
        assert!(parse(|f| f.stop_signal = Some("usr1".into())).is_ok());
    }
}
