//! `run`, `create`, `start`: the container-starting commands, with
//! Docker's flags (parsed into `engine::options::RunFlags`) and exit codes
//! (125 berth's own errors, 126/127 not executable / not found, else the
//! container's status).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Result;
use clap::{ArgAction, Args};
use engine::options::{NetworkMode, RunFlags};
use engine::{Engine, EngineError};

use crate::Globals;

/// Opens the engine at `--root` / `--runroot`.
pub fn open_engine(g: &Globals) -> Result<Engine, EngineError> {
    Engine::open(&g.root, &g.runroot)
}

/// Prints `berth: <error>` and exits with Docker's code for it.
pub fn fail(e: &EngineError) -> ! {
    let _ = std::io::stdout().flush();
    eprintln!("berth: {}", e.to_string().replace('\n', " "));
    std::process::exit(e.exit_code())
}

/// The flags shared by `run` and `create`.
#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct CreateArgs {
    /// Print help.
    #[arg(long, action = ArgAction::Help)]
    help: Option<bool>,
    /// Assign a name to the container.
    #[arg(long, value_name = "string")]
    name: Option<String>,
    /// Set environment variables.
    #[arg(short = 'e', long = "env", value_name = "list")]
    env: Vec<String>,
    /// Read in a file of environment variables.
    #[arg(long = "env-file", value_name = "list")]
    env_file: Vec<PathBuf>,
    /// Working directory inside the container.
    #[arg(short = 'w', long = "workdir", value_name = "string")]
    workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short = 'u', long = "user", value_name = "string")]
    user: Option<String>,
    /// Container host name.
    #[arg(short = 'h', long = "hostname", value_name = "string")]
    hostname: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image.
    #[arg(long, value_name = "string")]
    entrypoint: Option<String>,
    /// Keep STDIN open even if not attached.
    #[arg(short = 'i', long)]
    interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short = 't', long)]
    tty: bool,
    /// Run an init inside the container that forwards signals and reaps processes.
    #[arg(long)]
    init: bool,
    /// Mount the container's root filesystem as read only.
    #[arg(long = "read-only")]
    read_only: bool,
    /// Connect a container to a network: "none" (the default: only a
    /// loopback device; bridge networking does not exist yet) or "host".
    #[arg(long = "network", alias = "net", value_name = "network")]
    network: Option<String>,
    /// Memory limit (b, k, m, g).
    #[arg(short = 'm', long, value_name = "bytes")]
    memory: Option<String>,
    /// Number of CPUs.
    #[arg(long, value_name = "decimal")]
    cpus: Option<String>,
    /// Tune container pids limit (set -1 for unlimited).
    #[arg(long = "pids-limit", value_name = "int", allow_hyphen_values = true)]
    pids_limit: Option<String>,
    /// Add Linux capabilities.
    #[arg(long = "cap-add", value_name = "list")]
    cap_add: Vec<String>,
    /// Drop Linux capabilities.
    #[arg(long = "cap-drop", value_name = "list")]
    cap_drop: Vec<String>,
    /// Give extended privileges to this container.
    #[arg(long)]
    privileged: bool,
    /// Ulimit options (name=soft[:hard]).
    #[arg(long, value_name = "ulimit")]
    ulimit: Vec<String>,
    /// Signal to stop the container.
    #[arg(long = "stop-signal", value_name = "string")]
    stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container.
    #[arg(long = "stop-timeout", value_name = "int", allow_hyphen_values = true)]
    stop_timeout: Option<String>,
    /// Set meta data on a container.
    #[arg(short = 'l', long = "label", value_name = "list")]
    label: Vec<String>,
    /// Security options (no-new-privileges, seccomp=unconfined).
    #[arg(long = "security-opt", value_name = "list")]
    security_opt: Vec<String>,
    #[command(flatten)]
    mounts: super::volume::MountArgs,
    /// Automatically remove the container and its associated anonymous volumes when it exits.
    #[arg(long)]
    rm: bool,
    /// The image to run.
    #[arg(value_name = "IMAGE")]
    image: String,
    /// The command and its arguments (replace the image's CMD).
    #[arg(
        value_name = "COMMAND",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    command: Vec<String>,
}

/// `berth run`.
#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Run container in background and print container ID.
    #[arg(short = 'd', long)]
    detach: bool,
    #[command(flatten)]
    create: CreateArgs,
}

impl CreateArgs {
    fn flags(&self, detach: bool) -> RunFlags {
        RunFlags {
            name: self.name.clone(),
            detach,
            rm: self.rm,
            interactive: self.interactive,
            tty: self.tty,
            env: self.env.clone(),
            env_files: self.env_file.clone(),
            workdir: self.workdir.clone(),
            user: self.user.clone(),
            hostname: self.hostname.clone(),
            entrypoint: self.entrypoint.clone(),
            init: self.init,
            read_only: self.read_only,
            network: self.network.clone(),
            memory: self.memory.clone(),
            cpus: self.cpus.clone(),
            pids_limit: self.pids_limit.clone(),
            cap_add: self.cap_add.clone(),
            cap_drop: self.cap_drop.clone(),
            privileged: self.privileged,
            ulimits: self.ulimit.clone(),
            stop_signal: self.stop_signal.clone(),
            stop_timeout: self.stop_timeout.clone(),
            labels: self.label.clone(),
            security_opt: self.security_opt.clone(),
            mounts: self.mounts.flags(),
        }
    }
}

/// Parses the flags, opens the store and creates the container. For a
/// foreground run (`owned`) without a pty in a network namespace of its
/// own (`--network none`), that namespace is made on a thread meanwhile.
fn create_container(
    g: &Globals,
    a: &CreateArgs,
    detach: bool,
    owned: bool,
) -> Result<Created, EngineError> {
    let opts = a.flags(detach).parse()?;
    let netns = (owned && !opts.tty && opts.network == NetworkMode::None)
        .then(runtime::NetnsAhead::start)
        .and_then(Result::ok);
    let engine = open_engine(g)?;
    // A foreground run claims the record as it writes it (see
    // `Engine::create_owned`); `create` and `run -d` leave it unclaimed.
    let c = if owned {
        engine.create_owned(&a.image, opts, &a.command)?
    } else {
        engine.create(&a.image, opts, &a.command)?
    };
    Ok((engine, c, netns))
}

/// A created container, its engine, and the network namespace made ahead.
type Created = (
    Engine,
    engine::container::Container,
    Option<runtime::NetnsAhead>,
);

/// `berth create`: prints the new id.
pub fn create(g: &Globals, a: CreateArgs) -> Result<()> {
    // Not detached: `create` records stdout/stderr as attached, as Docker's
    // (AttachStdout/AttachStderr in inspect; -i adds stdin).
    match create_container(g, &a, false, false) {
        Ok((_, c, _)) => {
            println!("{}", c.id);
            Ok(())
        }
        Err(e) => fail(&e),
    }
}

/// `berth run`: foreground (exit status = the container's) or `-d`.
pub fn run(g: &Globals, a: RunArgs) -> Result<()> {
    if !a.detach && a.create.tty && a.create.interactive {
        require_tty_stdin();
    }
    let (engine, c, netns) = match create_container(g, &a.create, a.detach, !a.detach) {
        Ok(v) => v,
        Err(e) => fail(&e),
    };
    if a.detach {
        return match engine.run_detached(&c) {
            Ok(()) => {
                println!("{}", c.id);
                Ok(())
            }
            Err(e) => fail(&e),
        };
    }
    // Exits with the container's code (after a --rm removal).
    let e = engine.run_foreground_then_exit(&c, netns);
    fail(&e)
}

/// Docker's check before attaching a terminal to our stdin: a pipe or
/// file there cannot drive a pty (no raw mode, no size), so it fails with
/// Docker's message and exit status 1 before anything is created.
fn require_tty_stdin() {
    if !std::io::stdin().is_terminal() {
        eprintln!("the input device is not a TTY");
        std::process::exit(1);
    }
}

/// `berth start`.
#[derive(Args, Debug)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals.
    #[arg(short = 'a', long)]
    attach: bool,
    /// Attach container's STDIN.
    #[arg(short = 'i', long)]
    interactive: bool,
    /// Containers to start.
    #[arg(value_name = "CONTAINER", required = true)]
    containers: Vec<String>,
}

/// `berth start [-a]`: detached under a monitor, or attached in the
/// foreground (then the exit status is the container's).
pub fn start(g: &Globals, a: StartArgs) -> Result<()> {
    let engine = open_engine(g).unwrap_or_else(|e| fail(&e));
    if a.attach {
        let c = engine.find(&a.containers[0]).unwrap_or_else(|e| fail(&e));
        if c.state.status.is_active() {
            fail(&EngineError::BadState {
                id: c.id,
                state: "already running".into(),
            });
        }
        let mut c = c;
        c.host_config.interactive |= a.interactive;
        // Exits with the container's code, as `run` does.
        let e = engine.run_foreground_then_exit(&c, None);
        fail(&e)
    }
    let mut failed = None;
    for name in &a.containers {
        match engine.start(name) {
            Ok(_) => println!("{name}"),
            Err(e) => {
                eprintln!("berth: {e}");
                failed = Some(e);
            }
        }
    }
    match failed {
        Some(e) => fail(&e),
        None => Ok(()),
    }
}

/// The hidden `__monitor ID` command.
#[derive(Args, Debug)]
pub struct MonitorArgs {
    /// The container.
    id: String,
}

/// Runs the detached monitor of a container (see `engine::monitor_main`).
pub fn monitor(g: &Globals, a: MonitorArgs) -> Result<()> {
    std::process::exit(engine::monitor_main(&g.root, &g.runroot, &a.id))
}
