//! `berth`: the Docker-compatible command line. Parses, calls the
//! libraries, prints; every failure is one `berth: ...` line and exit 125.

mod commands;
mod listing;
mod tabwriter;
mod template;
mod units;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::commands::{archive, container_ops as ops, container_ps, containers, images};

/// A daemonless, Docker-compatible container engine.
#[derive(Parser)]
#[command(name = "berth", version, disable_help_subcommand = true)]
struct Cli {
    /// Root of the persistent state (images, containers, volumes).
    #[arg(
        long,
        global = true,
        env = "BERTH_ROOT",
        default_value = "/var/lib/berth"
    )]
    root: PathBuf,
    /// Root of the runtime state (pids, locks), gone at reboot.
    #[arg(
        long,
        global = true,
        env = "BERTH_RUNROOT",
        default_value = "/run/berth"
    )]
    runroot: PathBuf,
    /// Print debugging details of errors.
    #[arg(long, short = 'D', global = true)]
    debug: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Import the contents from a tarball to create a filesystem image
    Import(archive::ImportArgs),
    /// Load an image from a tar archive or STDIN
    Load(archive::LoadArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(archive::SaveArgs),
    /// List images
    Images(images::ListArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(images::TagArgs),
    /// Remove one or more images
    Rmi(images::RmiArgs),
    /// Return low-level information on containers and images
    Inspect(commands::inspect::InspectArgs),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCommand),
    /// Create and run a new container from an image
    Run(containers::RunArgs),
    /// Create a new container
    Create(containers::CreateArgs),
    /// Start one or more stopped containers
    Start(containers::StartArgs),
    /// List containers
    Ps(container_ps::PsArgs),
    /// Stop one or more running containers
    Stop(ops::StopArgs),
    /// Kill one or more running containers
    Kill(ops::KillArgs),
    /// Restart one or more containers
    Restart(ops::StopArgs),
    /// Remove one or more containers
    Rm(ops::RmArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(ops::WaitArgs),
    /// Fetch the logs of a container
    Logs(ops::LogsArgs),
    /// Execute a command in a running container
    Exec(ops::ExecArgs),
    /// Display the running processes of a container
    Top(ops::TopArgs),
    /// Pause all processes within one or more containers
    Pause(ops::PauseArgs),
    /// Unpause all processes within one or more containers
    Unpause(ops::PauseArgs),
    /// Rename a container
    Rename(ops::RenameArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(commands::stats::StatsArgs),
    /// Manage containers
    #[command(subcommand)]
    Container(ContainerCommand),
    /// The detached monitor of one container (started by `run -d`)
    #[command(name = "__monitor", hide = true)]
    Monitor(containers::MonitorArgs),
    /// Create a new image from a container's changes
    Commit(commands::changes::CommitArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(commands::changes::DiffArgs),
    /// Export a container's filesystem as a tar archive
    Export(commands::changes::ExportArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(commands::changes::CpArgs),
    /// Show the history of an image
    History(commands::changes::HistoryArgs),
    /// Manage volumes
    #[command(subcommand)]
    Volume(commands::volume::VolumeCommand),
}

#[derive(Subcommand)]
enum ContainerCommand {
    /// Create and run a new container from an image
    Run(containers::RunArgs),
    /// Create a new container
    Create(containers::CreateArgs),
    /// Start one or more stopped containers
    Start(containers::StartArgs),
    /// List containers
    #[command(visible_alias = "list", alias = "ps")]
    Ls(container_ps::PsArgs),
    /// Stop one or more running containers
    Stop(ops::StopArgs),
    /// Kill one or more running containers
    Kill(ops::KillArgs),
    /// Restart one or more containers
    Restart(ops::StopArgs),
    /// Remove one or more containers
    Rm(ops::RmArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(ops::WaitArgs),
    /// Fetch the logs of a container
    Logs(ops::LogsArgs),
    /// Execute a command in a running container
    Exec(ops::ExecArgs),
    /// Display the running processes of a container
    Top(ops::TopArgs),
    /// Pause all processes within one or more containers
    Pause(ops::PauseArgs),
    /// Unpause all processes within one or more containers
    Unpause(ops::PauseArgs),
    /// Rename a container
    Rename(ops::RenameArgs),
    /// Display detailed information on one or more containers
    Inspect(ops::InspectArgs),
    /// Remove all stopped containers
    Prune(ops::PruneArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(commands::stats::StatsArgs),
}

#[derive(Subcommand)]
enum ImageCommand {
    /// List images
    #[command(visible_alias = "list")]
    Ls(images::ListArgs),
    /// Display detailed information on one or more images
    Inspect(images::InspectArgs),
    /// Remove unused images
    Prune(images::PruneArgs),
    /// Remove one or more images
    Rm(images::RmiArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(images::TagArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(archive::ImportArgs),
    /// Load an image from a tar archive or STDIN
    Load(archive::LoadArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(archive::SaveArgs),
}

/// Global options every command sees.
pub struct Globals {
    /// `--root`.
    pub root: PathBuf,
    /// `--runroot`.
    pub runroot: PathBuf,
    /// `--debug`.
    pub debug: bool,
}

/// Exit status for errors of berth itself, as Docker's CLI uses.
const EXIT_ENGINE: u8 = 125;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            let code = match e.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => 0,
                _ => EXIT_ENGINE,
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let g = Globals {
        root: cli.root,
        runroot: cli.runroot,
        debug: cli.debug,
    };
    let result = match cli.command {
        Command::Import(a) | Command::Image(ImageCommand::Import(a)) => archive::import(&g, a),
        Command::Load(a) | Command::Image(ImageCommand::Load(a)) => archive::load(&g, a),
        Command::Save(a) | Command::Image(ImageCommand::Save(a)) => archive::save(&g, a),
        Command::Images(a) | Command::Image(ImageCommand::Ls(a)) => images::list(&g, a),
        Command::Tag(a) | Command::Image(ImageCommand::Tag(a)) => images::tag(&g, a),
        Command::Rmi(a) | Command::Image(ImageCommand::Rm(a)) => images::rmi(&g, a),
        Command::Inspect(a) => commands::inspect::inspect(&g, a),
        Command::Image(ImageCommand::Inspect(a)) => images::inspect(&g, a),
        Command::Image(ImageCommand::Prune(a)) => images::prune(&g, a),
        Command::Run(a) | Command::Container(ContainerCommand::Run(a)) => containers::run(&g, a),
        Command::Create(a) | Command::Container(ContainerCommand::Create(a)) => {
            containers::create(&g, a)
        }
        Command::Start(a) | Command::Container(ContainerCommand::Start(a)) => {
            containers::start(&g, a)
        }
        Command::Ps(a) | Command::Container(ContainerCommand::Ls(a)) => container_ps::ps(&g, a),
        Command::Stop(a) | Command::Container(ContainerCommand::Stop(a)) => ops::stop(&g, a),
        Command::Kill(a) | Command::Container(ContainerCommand::Kill(a)) => ops::kill(&g, a),
        Command::Restart(a) | Command::Container(ContainerCommand::Restart(a)) => {
            ops::restart(&g, a)
        }
        Command::Rm(a) | Command::Container(ContainerCommand::Rm(a)) => ops::rm(&g, a),
        Command::Wait(a) | Command::Container(ContainerCommand::Wait(a)) => ops::wait(&g, a),
        Command::Logs(a) | Command::Container(ContainerCommand::Logs(a)) => ops::logs(&g, a),
        Command::Exec(a) | Command::Container(ContainerCommand::Exec(a)) => ops::exec(&g, a),
        Command::Top(a) | Command::Container(ContainerCommand::Top(a)) => ops::top(&g, a),
        Command::Pause(a) | Command::Container(ContainerCommand::Pause(a)) => ops::pause(&g, a),
        Command::Unpause(a) | Command::Container(ContainerCommand::Unpause(a)) => {
            ops::unpause(&g, a)
        }
        Command::Rename(a) | Command::Container(ContainerCommand::Rename(a)) => ops::rename(&g, a),
        Command::Container(ContainerCommand::Inspect(a)) => ops::inspect(&g, a),
        Command::Container(ContainerCommand::Prune(a)) => ops::prune(&g, a),
        Command::Stats(a) | Command::Container(ContainerCommand::Stats(a)) => {
            commands::stats::stats(&g, a)
        }
        Command::Monitor(a) => containers::monitor(&g, a),
        Command::Commit(a) => commands::changes::commit(&g, a),
        Command::Diff(a) => commands::changes::diff(&g, a),
        Command::Export(a) => commands::changes::export(&g, a),
        Command::Cp(a) => commands::changes::cp(&g, a),
        Command::History(a) => commands::changes::history(&g, a),
        Command::Volume(c) => commands::volume::run(&g, c),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if g.debug {
                eprintln!("berth: {e:?}");
            } else {
                eprintln!("berth: {}", one_line(&e));
            }
            ExitCode::from(EXIT_ENGINE)
        }
    }
}

/// The error and its causes on one line, `outer: inner`, without repeating
/// a cause its parent already quotes.
fn one_line(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !out.contains(&c) {
            out.push_str(": ");
            out.push_str(&c);
        }
    }
    out.replace('\n', " ")
}
