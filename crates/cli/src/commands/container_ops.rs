//! The other container verbs: `stop`, `kill`, `restart`, `rm`, `wait`,
//! `logs` (`--since`/`--until`/`--tail`/`-t`/`-f`), `inspect`, `exec`, `top`, `pause`, `unpause`, `rename`,
//! `container prune` — Docker's flags, output and messages.

use std::io::{self, Write};

use anyhow::Result;
use clap::{ArgAction, Args};
use engine::logs::{print_logs, LogsOptions};
use engine::options::{parse_signal, validate_env};
use engine::{EngineError, ExecRequest};

use super::containers::{fail, open_engine};
use super::timestamp::parse_log_time;
use super::{
    docker_json_compact, docker_json_indent, is_whole_json, template_value, CONTAINER_NILS,
};
use crate::template::Template;
use crate::Globals;

/// Runs `f` for each container, prints what it returns, and fails at the
/// end if any failed (Docker carries on past a failing container).
fn each(
    names: &[String],
    mut f: impl FnMut(&str) -> Result<Option<String>, EngineError>,
) -> Result<()> {
    let mut failed = None;
    for n in names {
        match f(n) {
            Ok(Some(line)) => println!("{line}"),
            Ok(None) => {}
            Err(e) => {
                eprintln!("berth: {}", e.to_string().replace('\n', " "));
                failed = Some(e);
            }
        }
    }
    match failed {
        Some(e) => {
            let _ = io::stdout().flush();
            std::process::exit(e.exit_code().max(1))
        }
        None => Ok(()),
    }
}

/// `berth stop` / `berth restart`.
#[derive(Args, Debug)]
pub struct StopArgs {
    /// Seconds to wait before killing the container.
    #[arg(
        short = 't',
        long = "time",
        alias = "timeout",
        value_name = "int",
        allow_hyphen_values = true
    )]
    time: Option<i64>,
    /// Signal to send to the container.
    #[arg(short = 's', long, value_name = "string")]
    signal: Option<String>,
    /// Containers.
    #[arg(value_name = "CONTAINER", required = true)]
    containers: Vec<String>,
}

/// `berth stop`.
pub fn stop(g: &Globals, a: StopArgs) -> Result<()> {
    let engine = open_engine(g).unwrap_or_else(|e| fail(&e));
    each(&a.containers, |n| {
        engine.stop(n, a.time).map(|_| Some(n.to_string()))
    })
}

/// `berth restart`.
pub fn restart(g: &Globals, a: StopArgs) -> Result<()> {
    let engine = open_engine(g).unwrap_or_else(|e| fail(&e));
    each(&a.containers, |n| {
        engine.restart(n, a.time).map(|_| Some(n.to_string()))
    })
}

/// `berth kill`.
#[derive(Args, Debug)]
pub struct KillArgs {
    /// Signal to send to the container.
    #[arg(short = 's', long, value_name = "string", default_value = "KILL")]
    signal: String,
    /// Containers.
    #[arg(value_name = "CONTAINER", required = true)]
    containers: Vec<String>,
}

/// `berth kill`.
pub fn kill(g: &Globals, a: KillArgs) -> Result<()> {
    let sig = parse_signal(&a.signal).unwrap_or_else(|e| fail(&e.into()));
    let engine = open_engine(g).unwrap_or_else(|e| fail(&e));
    each(&a.containers, |n| {
        engine
            .kill(n, sig)
            .map(|_| Some(n.to_string()))
            .map_err(|e| match e {
                EngineError::NotRunning(id) => EngineError::Monitor(format!(
                    "cannot kill container: {n}: container {id} is not running"
                )),
                e => e,
            })
    })
}

/// `berth rm`.
#[derive(Args, Debug)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL).
    #[arg(short = 'f', long)]
    force: bool,
    /// Remove anonymous volumes associated with the container.
    #[arg(short = 'v', long)]
    volumes: bool,
    /// Containers.
    #[arg(value_name = "CONTAINER", required = true)]
    containers: Vec<String>,
}

/// `berth rm`.
pub fn rm(g: &Globals, a: RmArgs) -> Result<()> {
    let engine = open_engine(g).unwrap_or_else(|e| fail(&e));
    each(&a.containers, |n| {
        if a.volumes {
            return engine
                .remove_with_volumes(n, a.force)
                .map(|_| Some(n.to_string()));
        }
        engine.remove(n, a.force).map(|_| Some(n.to_string()))
    })
}

/// `berth wait`.
#[derive(Args, Debug)]
pub struct WaitArgs {
    /// Containers.
    #[arg(value_name = "CONTAINER", required = true)]
    containers: Vec<String>,
}

/// `berth wait`: prints each exit code.
pub fn wait(g: &Globals, a: WaitArgs) -> Result<()> {
    let engine = open_engine(g).unwrap_or_else(|e| fail(&e));
    each(&a.containers, |n| {
        engine.wait(n).map(|code| Some(code.to_string()))
    })
}

/// `berth logs`.
#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Follow log output.
    #[arg(short = 'f', long)]
    follow: bool,
    /// Number of lines to show from the end of the logs ("all" for all).
    #[arg(short = 'n', long, value_name = "string", default_value = "all")]
    tail: String,
    /// Show timestamps.
    #[arg(short = 't', long)]
    timestamps: bool,
    /// Show extra details provided to logs.
    #[arg(long)]
    details: bool,
    /// Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative
    /// (e.g. 42m for 42 minutes).
    #[arg(long, value_name = "string", allow_hyphen_values = true)]
    since: Option<String>,
    /// Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or
    /// relative (e.g. 42m for 42 minutes).
    #[arg(long, value_name = "string", allow_hyphen_values = true)]
    until: Option<String>,
    /// The container.
    #[arg(value_name = "CONTAINER")]
    container: String,
}

/// `berth logs`.
pub fn logs(g: &Globals, a: LogsArgs) -> Result<()> {
    let now = chrono::Local::now();
    let since = parse_log_time("since", a.since.as_deref().unwrap_or(""), now);
    let until = parse_log_time("until", a.until.as_deref().unwrap_or(""), now);
    let (since, until) = (
        since.map_err(anyhow::Error::msg)?,
        until.map_err(anyhow::Error::msg)?,
    );
    let engine = open_engine(g).unwrap_or_else(|e| fail(&e));
    let c = engine.find(&a.container).unwrap_or_else(|e| fail(&e));
    let tail = match a.tail.as_str() {
        "all" | "" => None,
        n => Some(
            n.parse::<i64>()
                .map_or(None, |v| (v >= 0).then_some(v as usize)),
        ),
    }
    .flatten();
    let opts = LogsOptions {
        follow: a.follow,
        tail,
        timestamps: a.timestamps,
        details: a.details,
        since,
        until,
    };
    let id = c.id.clone();
    let mut running = || {
        engine
            .find(&id)
            .map(|c| c.state.status.is_active())
            .unwrap_or(false)
    };
    print_logs(
        &engine.log_path(&c.id),
        &opts,
        &mut running,
        &mut io::stdout(),
        &mut io::stderr(),
    )?;
    Ok(())
}

/// `berth container inspect`.
#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format output using a custom template.
    #[arg(short = 'f', long, value_name = "string")]
    format: Option<String>,
    /// Display total file sizes.
    #[arg(short = 's', long)]
    size: bool,
    /// Containers.
    #[arg(value_name = "CONTAINER", required = true)]
    containers: Vec<String>,
}

/// `berth container inspect`: Docker's key order for the JSON, a value
/// for templates.
pub fn inspect(g: &Globals, a: InspectArgs) -> Result<()> {
    let engine = open_engine(g).unwrap_or_else(|e| fail(&e));
    let mut docs = Vec::new();
    let mut failed = None;
    for n in &a.containers {
        match engine.find(n) {
            Ok(c) => docs.push(engine.inspect_doc(&c, a.size)),
            Err(e) => {
                eprintln!("berth: {e}");
                failed = Some(e);
            }
        }
    }
    let mut out = io::stdout().lock();
    match &a.format {
        Some(f) => {
            let tpl = Template::parse(f)?;
            for d in &docs {
                if is_whole_json(f) {
                    writeln!(out, "{}", docker_json_compact(d)?)?;
                } else {
                    writeln!(out, "{}", tpl.render(&template_value(d, CONTAINER_NILS)?)?)?;
                }
            }
        }
        None => writeln!(out, "{}", docker_json_indent(&docs)?)?,
    }
    drop(out);
    match failed {
        Some(e) => fail(&e),
        None => Ok(()),
    }
}

/// `berth exec`.
#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Detached mode: run command in the background.
    #[arg(short = 'd', long)]
    detach: bool,
    /// Keep STDIN open even if not attached.
    #[arg(short = 'i', long)]
    interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short = 't', long)]
    tty: bool,
    /// Set environment variables.
    #[arg(short = 'e', long = "env", value_name = "list")]
    env: Vec<String>,
    /// Working directory inside the container.
    #[arg(short = 'w', long = "workdir", value_name = "string")]
    workdir: Option<String>,
    /// Username or UID (format: "<name|uid>[:<group|gid>]").
    #[arg(short = 'u', long, value_name = "string")]
    user: Option<String>,
    /// The container.
    #[arg(value_name = "CONTAINER")]
    container: String,
    /// The command and its arguments.
    #[arg(
        value_name = "COMMAND",
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    command: Vec<String>,
}

/// `berth exec`: the exit status is the process's.
pub fn exec(g: &Globals, a: ExecArgs) -> Result<()> {
    let mut env = Vec::new();
    for e in &a.env {
        match validate_env(e) {
            Ok(Some(v)) => env.push(v),
            Ok(None) => {}
            Err(r) => fail(&EngineError::Monitor(format!(
                "invalid argument \"{e}\" for \"-e, --env\" flag: {r}"
            ))),
        }
    }
    let engine = open_engine(g).unwrap_or_else(|e| fail(&e));
    let req = ExecRequest {
        args: a.command,
        env,
        workdir: a.workdir,
        user: a.user,
        tty: a.tty,
        interactive: a.interactive,
        detach: a.detach,
    };
    match engine.exec(&a.container, &req) {
        Ok(code) => {
            let _ = io::stdout().flush();
            std::process::exit(code)
        }
        Err(e) => fail(&e),
    }
}

/// `berth top`.
#[derive(Args, Debug)]
pub struct TopArgs {
    /// The container.
    #[arg(value_name = "CONTAINER")]
    container: String,
    /// `ps` options (default `-ef`).
    #[arg(
        value_name = "ps OPTIONS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    ps_args: Vec<String>,
}

/// `berth top`: the host's `ps` filtered to the container's processes, as
/// Docker does.
pub fn top(g: &Globals, a: TopArgs) -> Result<()> {
    let engine = open_engine(g).unwrap_or_else(|e| fail(&e));
    let (_, pids) = engine.pids(&a.container).unwrap_or_else(|e| fail(&e));
    let args = if a.ps_args.is_empty() {
        vec!["-ef".to_string()]
    } else {
        a.ps_args
    };
    let output = std::process::Command::new("ps").args(&args).output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        anyhow::bail!("ps printed nothing");
    };
    let Some(pid_col) = header.split_whitespace().position(|h| h == "PID") else {
        anyhow::bail!("Couldn't find PID field in ps output");
    };
    let mut out = io::stdout().lock();
    writeln!(out, "{header}")?;
    for line in lines {
        let pid = line
            .split_whitespace()
            .nth(pid_col)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

/// `berth pause` / `unpause`.
#[derive(Args, Debug)]
pub struct PauseArgs {
    /// Containers.
    #[arg(value_name = "CONTAINER", required = true)]
    containers: Vec<String>,
}

/// `berth pause`.
pub fn pause(g: &Globals, a: PauseArgs) -> Result<()> {
    let engine = open_engine(g).unwrap_or_else(|e| fail(&e));
    each(&a.containers, |n| {
        engine.pause(n).map(|_| Some(n.to_string()))
    })
}

/// `berth unpause`.
pub fn unpause(g: &Globals, a: PauseArgs) -> Result<()> {
    let engine = open_engine(g).unwrap_or_else(|e| fail(&e));
    each(&a.containers, |n| {
        engine.unpause(n).map(|_| Some(n.to_string()))
    })
}

/// `berth rename`.
#[derive(Args, Debug)]
pub struct RenameArgs {
    /// The container.
    #[arg(value_name = "CONTAINER")]
    container: String,
    /// Its new name.
    #[arg(value_name = "NEW_NAME")]
    new_name: String,
}

/// `berth rename`.
pub fn rename(g: &Globals, a: RenameArgs) -> Result<()> {
    let engine = open_engine(g).unwrap_or_else(|e| fail(&e));
    engine
        .rename(&a.container, &a.new_name)
        .unwrap_or_else(|e| fail(&e));
    Ok(())
}

/// `berth container prune`.
#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Do not prompt for confirmation.
    #[arg(short = 'f', long, action = ArgAction::SetTrue)]
    force: bool,
}

/// `berth container prune`: removes every stopped container.
pub fn prune(g: &Globals, a: PruneArgs) -> Result<()> {
    if !a.force {
        eprint!("WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ");
        let mut answer = String::new();
        io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Ok(());
        }
    }
    let engine = open_engine(g).unwrap_or_else(|e| fail(&e));
    let removed = engine.prune().unwrap_or_else(|e| fail(&e));
    let mut out = io::stdout().lock();
    if !removed.is_empty() {
        writeln!(out, "Deleted Containers:")?;
        for id in &removed {
            writeln!(out, "{id}")?;
        }
        writeln!(out)?;
    }
    writeln!(out, "Total reclaimed space: 0B")?;
    Ok(())
}
