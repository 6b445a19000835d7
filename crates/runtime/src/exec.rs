//! `spawn_exec`: run an extra process inside a running container. An
//! intermediate child joins the init's namespaces (user first), then a
//! second clone with `CLONE_PARENT` creates the process inside the pid
//! namespace (setns on a pid namespace only applies to children) as a
//! child of the caller, which places it in the cgroup and releases it.
//! The second clone starts it in the cgroup2 directory right away
//! (`CLONE_INTO_CGROUP`, no migration and so no RCU grace period); it
//! joins the cgroup namespace only then, as the kernel checks that the
//! cloning process's own cgroup is inside the namespace's root.

use std::fs::{self, File};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{open, OFlag};
use nix::sched::{setns, CloneFlags};
use nix::sys::stat::Mode;
use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};
use nix::unistd::Pid;

use crate::channel::{self, Msg};
use crate::child::{apply_stdio, exit_with, no_unwind, reset_signals};
use crate::error::{ChildError, Context, SpawnError};
use crate::init::{clone_init, recv, send, unexpected, ChildGuard};
use crate::process::caps::CapSets;
use crate::process::{self, ExecPlan};
use crate::spawn::ExecOptions;
use crate::sys::clone_fork;

/// The `cgroup.procs` of `procs` that is on cgroup2, with an `O_PATH` fd
/// of its directory to clone into; `None` on pure v1 (or if it cannot be
/// opened: the process is then moved as on v1).
fn unified_dir(procs: &[PathBuf]) -> Option<(&Path, OwnedFd)> {
    procs.iter().find_map(|p| {
        let dir = p.parent()?;
        if statfs(dir).ok()?.filesystem_type() != CGROUP2_SUPER_MAGIC {
            return None;
        }
        let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        Some((p.as_path(), open(dir, flags, Mode::empty()).ok()?))
    })
}

/// The namespaces joined, in order: user first (it owns the others), mnt
/// last among those that change paths we still need.
const NAMESPACES: [(&str, CloneFlags); 8] = [
    ("user", CloneFlags::CLONE_NEWUSER),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("pid", CloneFlags::CLONE_NEWPID),
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("time", crate::namespaces::CLONE_NEWTIME),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

/// Opens the init's namespaces that differ from ours (joining our own
/// user namespace is EINVAL).
fn open_namespaces(pid: Pid) -> io::Result<Vec<(File, CloneFlags)>> {
    let mut out = Vec::new();
    for (name, flag) in NAMESPACES {
        let theirs = format!("/proc/{pid}/ns/{name}");
        let ino = fs::metadata(&theirs)?.ino();
        if fs::metadata(format!("/proc/self/ns/{name}"))
            .map(|m| m.ino())
            .ok()
            == Some(ino)
        {
            continue;
        }
        out.push((File::open(&theirs)?, flag));
    }
    Ok(out)
}

/// What an exec inherits from the init when its process does not say.
struct InitLimits {
    caps: Option<CapSets>,
    no_new_privs: bool,
}

/// The init's capability sets and no_new_privs (read before the exec
/// leaves the host's /proc behind).
fn read_init_limits(pid: Pid) -> io::Result<InitLimits> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    let caps = CapSets::from_status(&status).map_err(io::Error::other)?;
    let no_new_privs = status
        .lines()
        .any(|l| l.replace(char::is_whitespace, "") == "NoNewPrivs:1");
    Ok(InitLimits {
        caps: Some(caps),
        no_new_privs,
    })
}

pub(crate) fn spawn(opts: &ExecOptions) -> Result<Pid, SpawnError> {
    let id = opts.id;
    let sys = |op: String| {
        move |source: io::Error| SpawnError::Sys {
            id: id.into(),
            op,
            source,
        }
    };
    if !opts.process.cwd().is_absolute() {
        return Err(SpawnError::InvalidSpec {
            id: id.into(),
            reason: format!(
                "process.cwd {:?} is not an absolute path",
                opts.process.cwd()
            ),
        });
    }
    if opts.process.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(SpawnError::InvalidSpec {
            id: id.into(),
            reason: "process.args is empty".into(),
        });
    }
    let terminal = opts.process.terminal().unwrap_or(false);
    if terminal && opts.console_socket.is_none() {
        return Err(SpawnError::InvalidSpec {
            id: id.into(),
            reason: "process.terminal needs a console socket".into(),
        });
    }
    let seccomp = crate::init::compile_seccomp(id, opts.seccomp)?;
    let inherited = read_init_limits(opts.init_pid)
        .map_err(sys(format!("read /proc/{}/status", opts.init_pid)))?;
    let namespaces = open_namespaces(opts.init_pid).map_err(sys(format!(
        "open namespaces of init process {}",
        opts.init_pid
    )))?;
    let console = match opts.console_socket.filter(|_| terminal) {
        Some(p) => Some(
            crate::tty::connect(p)
                .map_err(sys(format!("connect console socket {}", p.display())))?,
        ),
        None => None,
    };
    let unified = unified_dir(opts.cgroup_procs);
    let (parent_ch, child_ch) = channel::pair().map_err(sys("create sync socket".into()))?;
    let first = match clone_fork(0).map_err(sys("clone exec process".into()))? {
        Some(pid) => pid,
        None => {
            drop(parent_ch);
            let err = no_unwind(|| {
                (|| -> Result<ChildError, ChildError> {
                    reset_signals()?;
                    apply_stdio(&opts.stdio)?;
                    crate::process::hide_from_container()?;
                    let cgroup_fd = unified.as_ref().map(|(_, fd)| fd);
                    let mut cgroupns = None;
                    for (file, flag) in &namespaces {
                        if *flag == CloneFlags::CLONE_NEWCGROUP && cgroup_fd.is_some() {
                            cgroupns = Some(file);
                            continue;
                        }
                        setns(file.as_fd(), *flag)
                            .ctx(|| format!("join container namespace {flag:?}"))?;
                    }
                    let (cloned, in_cgroup) = clone_init(libc::CLONE_PARENT, cgroup_fd);
                    if let Some(pid) = cloned.ctx(|| "clone exec process".into())? {
                        let msg = if in_cgroup {
                            Msg::PidInCgroup(pid.as_raw())
                        } else {
                            Msg::Pid(pid.as_raw())
                        };
                        let _ = child_ch.send(&msg);
                        // SAFETY: _exit ends the intermediate without running
                        // the parent's destructors on its copied state.
                        unsafe { libc::_exit(0) }
                    }
                    if let Some(ns) = cgroupns {
                        setns(ns.as_fd(), CloneFlags::CLONE_NEWCGROUP)
                            .ctx(|| "join container namespace CLONE_NEWCGROUP".into())?;
                    }
                    drop(namespaces);
                    child_ch.wait_go().ctx(|| "wait for runtime".into())?;
                    match &console {
                        Some(sock) => crate::tty::setup(sock, opts.process, false)?,
                        None => crate::tty::new_session()?,
                    }
                    let plan = ExecPlan {
                        process: opts.process,
                        seccomp: seccomp.as_ref(),
                        personality: None,
                        default_caps: inherited.caps.clone(),
                        force_no_new_privs: inherited.no_new_privs,
                        extra_fds: 0,
                    };
                    Ok(process::setup_and_exec(&plan, &mut || Ok(())))
                })()
                .unwrap_or_else(|e| e)
            });
            exit_with(&child_ch, err, false)
        }
    };
    drop(child_ch);
    drop(console);
    let mut guard = ChildGuard(Some(first));
    let (pid, in_cgroup) = guard.adopt_grandchild(id, &parent_ch)?;
    let placed = unified.map(|(p, _)| p).filter(|_| in_cgroup);
    for procs in opts.cgroup_procs {
        if Some(procs.as_path()) == placed {
            continue;
        }
        fs::write(procs, pid.to_string())
            .map_err(sys(format!("add exec process to {}", procs.display())))?;
    }
    send(id, &parent_ch, Msg::Go)?;
    match recv(id, &parent_ch)? {
        None => {}
        other => return Err(unexpected(id, other)),
    }
    guard.0 = None;
    Ok(pid)
}
