//! The command tree and the parsing of argv into it. Building clap's whole
//! tree (every subcommand, the global options copied into each) cost more
//! than the rest of a `berth ps`, so a call that names a top-level
//! subcommand builds only that one; anything else gets the whole tree.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::error::ErrorKind;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::commands::{archive, changes, inspect, stats, volume};
use crate::commands::{container_ops as ops, container_ps, containers, images};

// `C` is `Command` for parsing; the fast path builds the top level with
// `Bare` (no subcommand) and adds the one subcommand argv names. (A plain
// comment: a second doc paragraph would become clap's `long_about` and
// change `berth --help`.)
/// A daemonless, Docker-compatible container engine.
#[derive(Parser)]
#[command(name = "berth", version, disable_help_subcommand = true)]
pub struct Cli<C: Subcommand = Command> {
    /// Root of the persistent state (images, containers, volumes).
    #[arg(
        long,
        global = true,
        env = "BERTH_ROOT",
        default_value = "/var/lib/berth"
    )]
    pub root: PathBuf,
    /// Root of the runtime state (pids, locks), gone at reboot.
    #[arg(
        long,
        global = true,
        env = "BERTH_RUNROOT",
        default_value = "/run/berth"
    )]
    pub runroot: PathBuf,
    /// Print debugging details of errors.
    #[arg(long, short = 'D', global = true)]
    pub debug: bool,
    /// The command to run.
    #[command(subcommand)]
    pub command: C,
}

/// One top-level subcommand on its own: how to recognise its name (or an
/// alias) and how to add it, as the full tree has it, to a command.
struct Sub {
    has: fn(&str) -> bool,
    augment: fn(clap::Command) -> clap::Command,
}

/// Declares [`Command`] and, from the very same variant list, the table
/// [`SUBCOMMANDS`] of each variant derived on its own (a one-variant enum
/// with the variant's attributes), so the two cannot drift apart.
macro_rules! top_level {
    ($($(#[$attr:meta])* $variant:ident($ty:ty),)*) => {
        /// The top-level subcommands.
        #[derive(Subcommand)]
        pub enum Command {
            $($(#[$attr])* $variant($ty),)*
        }

        /// Every top-level subcommand alone, in [`Command`]'s order.
        const SUBCOMMANDS: &[Sub] = &[$({
            #[derive(Subcommand)]
            enum Only {
                $(#[$attr])* $variant($ty),
            }
            Sub {
                has: <Only as Subcommand>::has_subcommand,
                augment: <Only as Subcommand>::augment_subcommands,
            }
        },)*];
    };
}

top_level! {
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
    Inspect(inspect::InspectArgs),
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
    Stats(stats::StatsArgs),
    /// Manage containers
    #[command(subcommand)]
    Container(ContainerCommand),
    /// The detached monitor of one container (started by `run -d`)
    #[command(name = "__monitor", hide = true)]
    Monitor(containers::MonitorArgs),
    /// Create a new image from a container's changes
    Commit(changes::CommitArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(changes::DiffArgs),
    /// Export a container's filesystem as a tar archive
    Export(changes::ExportArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(changes::CpArgs),
    /// Show the history of an image
    History(changes::HistoryArgs),
    /// Manage volumes
    #[command(subcommand)]
    Volume(volume::VolumeCommand),
}

/// `berth container …`.
#[derive(Subcommand)]
pub enum ContainerCommand {
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
    Stats(stats::StatsArgs),
}

/// `berth image …`.
#[derive(Subcommand)]
pub enum ImageCommand {
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

/// No subcommand at all: [`Cli<Bare>`] is the top level alone (its
/// attributes and global options), to which the fast path adds one.
pub enum Bare {}

impl FromArgMatches for Bare {
    fn from_arg_matches(_: &ArgMatches) -> Result<Self, clap::Error> {
        // Never parsed into: argv is always parsed into `Cli<Command>`.
        Err(clap::Error::new(ErrorKind::MissingSubcommand))
    }

    fn update_from_arg_matches(&mut self, _: &ArgMatches) -> Result<(), clap::Error> {
        match *self {}
    }
}

impl Subcommand for Bare {
    fn augment_subcommands(cmd: clap::Command) -> clap::Command {
        cmd
    }

    fn augment_subcommands_for_update(cmd: clap::Command) -> clap::Command {
        cmd
    }

    fn has_subcommand(_: &str) -> bool {
        false
    }
}

/// The command tree argv needs: the top level with only the subcommand
/// argv names (after the global options), the top level alone for a bare
/// `--version`/`-V`, or else (no subcommand, `--help`, an unknown name that
/// needs the suggestions of the whole list) the full tree.
pub fn command_for(args: &[OsString]) -> clap::Command {
    let top = Cli::<Bare>::command();
    match scan(&top, args) {
        Scan::Sub(sub) => (sub.augment)(top),
        Scan::Version => top,
        Scan::Full => Cli::<Command>::command(),
    }
}

/// What [`scan`] found after the global options.
enum Scan {
    Sub(&'static Sub),
    Version,
    Full,
}

/// Skips the global options of `top` (and their values) in argv and looks
/// the first other word up in [`SUBCOMMANDS`]. Anything it does not
/// understand exactly as clap would sends the call down the full tree.
fn scan(top: &clap::Command, args: &[OsString]) -> Scan {
    let mut rest = args.iter().skip(1);
    while let Some(word) = rest.next() {
        let Some(word) = word.to_str() else {
            return Scan::Full;
        };
        if !word.starts_with('-') {
            return match SUBCOMMANDS.iter().find(|s| (s.has)(word)) {
                Some(sub) => Scan::Sub(sub),
                None => Scan::Full,
            };
        }
        if (word == "--version" || word == "-V") && rest.len() == 0 {
            return Scan::Version;
        }
        let (name, inline) = match word.split_once('=') {
            Some((n, _)) => (n, true),
            None => (word, false),
        };
        let Some(arg) = top.get_arguments().find(|a| is_named(a, name)) else {
            return Scan::Full;
        };
        if arg.get_action().takes_values() && !inline {
            // A value that looks like an option is an error clap words
            // with the whole tree in mind; leave it to the full tree.
            match rest.next().and_then(|v| v.to_str()) {
                Some(v) if !v.starts_with('-') => {}
                _ => return Scan::Full,
            }
        } else if inline && !arg.get_action().takes_values() {
            return Scan::Full;
        }
    }
    Scan::Full
}

/// True if `name` (`--long` or `-s`, no value attached) is `arg`'s.
fn is_named(arg: &clap::Arg, name: &str) -> bool {
    if let Some(long) = name.strip_prefix("--") {
        return arg.get_long() == Some(long);
    }
    let mut short = name.strip_prefix('-').unwrap_or_default().chars();
    match (short.next(), short.next()) {
        (Some(c), None) => arg.get_short() == Some(c),
        _ => false,
    }
}

/// Parses argv (program name first) as `Cli::parse` would, building only
/// the part of the tree argv needs.
pub fn parse_from(args: Vec<OsString>) -> Result<Cli, clap::Error> {
    let mut cmd = command_for(&args);
    let mut matches = cmd.try_get_matches_from_mut(args)?;
    Cli::<Command>::from_arg_matches_mut(&mut matches).map_err(|e| e.format(&mut cmd))
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
