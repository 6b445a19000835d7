//! `berth`: the Docker-compatible command line.

use clap::Parser;

/// A daemonless, Docker-compatible container engine.
#[derive(Parser)]
#[command(name = "berth", version)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
}
