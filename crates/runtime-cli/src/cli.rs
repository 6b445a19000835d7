//! The command line, flag for flag as runc's (containerd, CRI-O, podman
//! and conmon call it with these).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// `--version` output in runc's shape (`runc version X` / `spec: Y`).
const VERSION: &str = concat!("version ", env!("CARGO_PKG_VERSION"), "\nspec: 1.0.2");

/// A runc-compatible OCI runtime.
#[derive(Debug, Parser)]
#[command(name = "berth-runtime", version = VERSION, about, disable_help_subcommand = true)]
pub struct Cli {
    /// Root directory for container state.
    #[arg(long, global = true, default_value = runtime::state::DEFAULT_ROOT)]
    pub root: PathBuf,
    /// Also write log lines (errors, warnings, debug) to this file.
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Format of log lines.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log debug lines.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Accepted for compatibility; cgroupfs is used (no systemd here).
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,
    /// Accepted for compatibility (`true|false|auto`).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub rootless: Option<String>,
    /// The verb.
    #[command(subcommand)]
    pub command: Command,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// `time="..." level=error msg="..."` (logrus text, as runc).
    Text,
    /// `{"level":"error","msg":"...","time":"..."}`.
    Json,
}

/// Options shared by `create` and `run`.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Container id.
    pub id: String,
    /// Path to the bundle directory.
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Unix socket that receives the pty master (with `process.terminal`).
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// File to write the init process's pid to.
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Do not use pivot_root (for a rootfs on ramfs).
    #[arg(long)]
    pub no_pivot: bool,
    /// Accepted for compatibility: no session keyring is created.
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass the caller's fds 3 .. 3+N to the container process (as runc).
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a container; its init waits for `start`.
    Create(CreateArgs),
    /// Start a created container.
    Start {
        /// Container id.
        id: String,
    },
    /// Print the state of a container as JSON.
    State {
        /// Container id.
        id: String,
    },
    /// Send a signal to a container's init (default SIGTERM).
    Kill {
        /// Signal every process of the container.
        #[arg(short, long)]
        all: bool,
        /// Container id.
        id: String,
        /// Signal name (with or without SIG) or number.
        #[arg(default_value = "SIGTERM")]
        signal: String,
    },
    /// Delete a container and its resources.
    Delete {
        /// Kill a running container first.
        #[arg(short, long)]
        force: bool,
        /// Container id.
        id: String,
    },
    /// Create and start a container; wait for it unless detached.
    Run {
        #[command(flatten)]
        create: CreateArgs,
        /// Return once the container runs.
        #[arg(short, long)]
        detach: bool,
        /// Accepted for compatibility (do not delete after exit).
        #[arg(long)]
        keep: bool,
    },
    /// Run a new process in a running container.
    Exec(ExecArgs),
    /// List the processes of a container.
    Ps {
        /// table or json.
        #[arg(short, long, default_value = "table")]
        format: String,
        /// Container id.
        id: String,
        /// Options for ps(1) (default -ef).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// List containers.
    List {
        /// table or json.
        #[arg(short, long, default_value = "table")]
        format: String,
        /// Only print ids.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Print the features this runtime supports, as JSON.
    Features,
    /// Write a default config.json into the bundle.
    Spec {
        /// Bundle directory.
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
        /// A spec for a container run by an unprivileged user.
        #[arg(long)]
        rootless: bool,
    },
    /// Freeze every process of a container.
    Pause {
        /// Container id.
        id: String,
    },
    /// Thaw a paused container.
    Resume {
        /// Container id.
        id: String,
    },
    /// Change a container's cgroup limits.
    Update(UpdateArgs),
}

/// `update` flags: a `linux.resources` JSON document, and/or single limits
/// on top of it.
#[derive(Debug, clap::Args)]
pub struct UpdateArgs {
    /// A `linux.resources` JSON file, `-` for stdin.
    #[arg(short, long)]
    pub resources: Option<PathBuf>,
    /// Memory limit in bytes.
    #[arg(long)]
    pub memory: Option<i64>,
    /// Maximum number of tasks.
    #[arg(long)]
    pub pids_limit: Option<i64>,
    /// CPU shares (relative weight).
    #[arg(long)]
    pub cpu_shares: Option<u64>,
    /// CPU CFS quota in microseconds.
    #[arg(long)]
    pub cpu_quota: Option<i64>,
    /// CPU CFS period in microseconds.
    #[arg(long)]
    pub cpu_period: Option<u64>,
    /// CPUs to use (cpuset list).
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// Container id.
    pub id: String,
}

/// `exec` flags.
#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// A runtime-spec `process` JSON file.
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    /// Allocate a pty (sent over --console-socket).
    #[arg(short, long)]
    pub tty: bool,
    /// Return once the process runs.
    #[arg(short, long)]
    pub detach: bool,
    /// File to write the process's pid to.
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Unix socket that receives the pty master.
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Working directory.
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Environment variable KEY=VALUE (repeatable).
    #[arg(short, long)]
    pub env: Vec<String>,
    /// UID[:GID].
    #[arg(short, long)]
    pub user: Option<String>,
    /// Additional group id (repeatable).
    #[arg(short = 'g', long)]
    pub additional_gids: Vec<u32>,
    /// Set no_new_privs.
    #[arg(long)]
    pub no_new_privs: bool,
    /// Only 0 is accepted: extra fds are not passed (anything else fails).
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    /// Container id.
    pub id: String,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}
