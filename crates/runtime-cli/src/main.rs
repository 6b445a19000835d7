//! `berth-runtime`: the runc-compatible OCI runtime command line.

use clap::Parser;

/// A runc-compatible OCI runtime.
#[derive(Parser)]
#[command(name = "berth-runtime", version)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
}
