//! `berth-runtime`: the runc-compatible OCI runtime command line. Parsing
//! and printing only; the lifecycle is `runtime::container`.

mod cli;
mod features;
mod log;
mod print;
mod spec;
mod update;

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use runtime::container::{self, CreateOptions, ExecProcess, ExecRequest};
use runtime::state::Store;

use crate::cli::{Cli, Command, CreateArgs};
use crate::log::Logger;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Before anything opens an fd (the log file, state, sockets).
    let preserved = reserve_preserved_fds(&cli);
    let mut log = Logger::new(cli.log.as_deref(), cli.log_format, cli.debug);
    if let Err(e) = preserved {
        log.error(&one_line(&e));
        return ExitCode::from(1);
    }
    log.debug(&format!(
        "berth-runtime {:?}",
        std::env::args().collect::<Vec<_>>()
    ));
    match dispatch(&cli, &mut log) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            log.error(&one_line(&e));
            ExitCode::from(1)
        }
    }
}

/// The error and its causes on one line; a cause whose text the message
/// already quotes (the library's messages name their cause) is not repeated.
fn one_line(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg = format!("{msg}: {c}");
        }
    }
    msg.replace('\n', " ")
}

fn create_options(a: &CreateArgs, systemd_cgroup: bool) -> CreateOptions {
    CreateOptions {
        id: a.id.clone(),
        bundle: a.bundle.clone(),
        pid_file: a.pid_file.clone(),
        console_socket: a.console_socket.clone(),
        no_pivot: a.no_pivot,
        systemd_cgroup,
        preserve_fds: a.preserve_fds,
    }
}

/// `exec` does not pass extra fds: a caller asking for them gets an error
/// rather than a process silently without them.
fn refuse_preserve_fds(n: u32) -> anyhow::Result<()> {
    if n > 0 {
        anyhow::bail!("--preserve-fds {n}: exec does not pass extra fds to the process");
    }
    Ok(())
}

/// `create`/`run --preserve-fds N` pass the caller's fds 3 .. 3+N to the
/// container process (as runc). A number in that range the caller left
/// closed is filled with /dev/null now, so that no fd the runtime opens
/// later (state, sync socket, cgroup dir) takes it and leaks into the
/// container.
fn reserve_preserved_fds(cli: &Cli) -> anyhow::Result<()> {
    use nix::errno::Errno;
    use nix::fcntl::{fcntl, open, FcntlArg, OFlag};
    use nix::sys::resource::{getrlimit, Resource};
    use nix::sys::stat::Mode;
    use std::os::fd::{BorrowedFd, IntoRawFd};

    let n = match &cli.command {
        Command::Create(a) => a.preserve_fds,
        Command::Run { create, .. } => create.preserve_fds,
        _ => 0,
    };
    if n == 0 {
        return Ok(());
    }
    let (soft, _) = getrlimit(Resource::RLIMIT_NOFILE)?;
    let end = 3 + u64::from(n);
    if end > soft {
        anyhow::bail!("--preserve-fds {n}: fds 3..{end} exceed the open file limit {soft}");
    }
    for fd in 3..end as i32 {
        // SAFETY: fd is only probed with F_GETFD, never used or closed.
        let probe = unsafe { BorrowedFd::borrow_raw(fd) };
        match fcntl(probe, FcntlArg::F_GETFD) {
            Err(Errno::EBADF) => {
                // Every lower number is open, so this lands on `fd`. No
                // O_CLOEXEC: it is passed like the caller's.
                let null = open("/dev/null", OFlag::O_RDWR, Mode::empty())
                    .context("--preserve-fds: open /dev/null")?;
                let got = null.into_raw_fd();
                anyhow::ensure!(
                    got == fd,
                    "--preserve-fds: /dev/null landed on fd {got}, not {fd}"
                );
            }
            _ => continue,
        }
    }
    Ok(())
}

/// Runs the verb; returns the process exit code.
fn dispatch(cli: &Cli, log: &mut Logger) -> anyhow::Result<u8> {
    let store = Store::new(&cli.root);
    match &cli.command {
        Command::Create(a) => {
            container::create(&store, &create_options(a, cli.systemd_cgroup))?;
        }
        Command::Start { id } => {
            for w in container::start(&store, id)? {
                log.warn(&w);
            }
        }
        Command::State { id } => {
            let st = container::state(&store, id)?;
            println!("{}", serde_json::to_string_pretty(&st)?);
        }
        Command::Kill { all, id, signal } => {
            let sig = container::parse_signal(signal)?;
            container::kill(&store, id, sig, *all)?;
        }
        Command::Delete { force, id } => {
            for w in container::delete(&store, id, *force)? {
                log.warn(&w);
            }
        }
        Command::Run {
            create,
            detach,
            keep: _,
        } => {
            let out = container::run(&store, &create_options(create, cli.systemd_cgroup), *detach)?;
            for w in &out.warnings {
                log.warn(w);
            }
            return Ok(out.status.clamp(0, 255) as u8);
        }
        Command::Exec(a) => {
            refuse_preserve_fds(a.preserve_fds)?;
            let process = match &a.process {
                Some(p) => ExecProcess::File(p.clone()),
                None => ExecProcess::Args(container::ExecArgs {
                    args: a.args.clone(),
                    tty: a.tty,
                    cwd: a.cwd.clone(),
                    env: a.env.clone(),
                    user: a.user.clone(),
                    additional_gids: a.additional_gids.clone(),
                    no_new_privs: a.no_new_privs,
                }),
            };
            let req = ExecRequest {
                id: a.id.clone(),
                process,
                console_socket: a.console_socket.clone(),
                pid_file: a.pid_file.clone(),
                detach: a.detach,
            };
            let code = container::exec(&store, &req)?;
            return Ok(code.clamp(0, 255) as u8);
        }
        Command::Ps {
            format,
            id,
            ps_args,
        } => {
            let pids = container::ps_pids(&store, id)?;
            print::ps(format, &pids, ps_args)?;
        }
        Command::List { format, quiet } => {
            let entries = container::list(&store)?;
            print::list(format, *quiet, &entries)?;
        }
        Command::Features => {
            println!("{}", serde_json::to_string_pretty(&features::features())?);
        }
        Command::Spec { bundle, rootless } => {
            spec::write_default(bundle, *rootless).context("spec")?;
        }
        Command::Pause { id } => container::pause(&store, id)?,
        Command::Resume { id } => container::resume(&store, id)?,
        Command::Update(a) => container::update(&store, &a.id, &update::resources(a)?)?,
    }
    Ok(0)
}
