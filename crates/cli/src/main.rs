//! `berth`: the Docker-compatible command line. Parses, calls the
//! libraries, prints; every failure is one `berth: ...` line and exit 125.

mod commands;
mod tabwriter;
mod template;
mod units;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::commands::{archive, images};

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
    /// Return low-level information on images
    Inspect(images::InspectArgs),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCommand),
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
        Command::Inspect(a) | Command::Image(ImageCommand::Inspect(a)) => images::inspect(&g, a),
        Command::Image(ImageCommand::Prune(a)) => images::prune(&g, a),
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
