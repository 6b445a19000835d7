//! `berth`: the Docker-compatible command line. Parses, calls the
//! libraries, prints; every failure is one `berth: ...` line and exit 125.

// The C `main` below replaces std's start-up (see there why); the unit
// tests keep the harness's own.
#![cfg_attr(not(test), no_main)]

mod commands;
mod listing;
mod parse;
mod start;
mod tabwriter;
mod template;
mod units;

use std::io::Write;
use std::path::PathBuf;

use crate::commands::{archive, container_ops as ops, container_ps, containers, images};
use crate::parse::{Command, ContainerCommand, ImageCommand};

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

/// The process entry, called by libc. std's start-up for `fn main` also
/// installs a stack-overflow reporter, whose set-up reads all of
/// `/proc/self/maps` (glibc's `pthread_getattr_np` for the main thread) and
/// maps (and at exit unmaps) an alternate signal stack: ~0.1 ms here.
/// berth keeps what it relies on ([`start::init`]) and flushes stdout at
/// the end as std's clean-up did; an overflow is a plain SIGSEGV instead
/// of a message.
#[cfg(not(test))]
// SAFETY: `#![no_main]` leaves this the binary's only `main` symbol, and
// its signature is the one C's start-up calls (`int main(int, char **)`).
#[unsafe(no_mangle)]
extern "C" fn main(
    _argc: std::ffi::c_int,
    _argv: *const *const std::ffi::c_char,
) -> std::ffi::c_int {
    std::ffi::c_int::from(entry())
}

/// The unit-test harness brings its own entry; this keeps [`entry`] in use
/// there as in the binary.
#[cfg(test)]
fn main() {
    entry();
}

/// Start-up, the command, and stdout flushed: the exit status.
fn entry() -> u8 {
    start::init();
    let code = run();
    let _ = std::io::stdout().flush();
    code
}

/// Parses argv and runs the command; the process's exit status.
fn run() -> u8 {
    let cli = match parse::parse_from(std::env::args_os().collect()) {
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
            return code;
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
        Ok(()) => 0,
        Err(e) => {
            if g.debug {
                eprintln!("berth: {e:?}");
            } else {
                eprintln!("berth: {}", one_line(&e));
            }
            EXIT_ENGINE
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
