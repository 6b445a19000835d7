//! Child side of `spawn_init`: runs in the cloned process, in the new
//! namespaces, and either execs the container process or reports a
//! one-line error to the parent and exits.

use std::io::Write;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::fcntl::{open, OFlag};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::signal::{signal, sigprocmask, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::stat::Mode;
use nix::unistd::{sethostname, setresgid, setresuid, Gid, Uid};
use oci_spec::runtime::Spec;

use crate::channel::{Channel, Msg};
use crate::error::{ChildError, ChildErrorKind, Context};
use crate::init::{clone_init, SyncPlan};
use crate::namespaces::{self, NamespacePlan};
use crate::process::{self, ExecPlan};
use crate::rootfs::{self, RootfsSetup};
use crate::spawn::{InitHooks, InitOptions, Stdio};

/// What the init child needs beyond the caller's options.
pub(crate) struct InitChild<'a, 'b> {
    pub(crate) opts: &'a InitOptions<'b>,
    pub(crate) hooks: &'a mut dyn InitHooks,
    pub(crate) channel: Channel,
    pub(crate) rootfs: &'a Path,
    pub(crate) plan: &'a NamespacePlan,
    /// Namespaces are joined/unshared here, then a second clone makes the
    /// init (instead of one clone with all flags).
    pub(crate) double_fork: bool,
    pub(crate) console: Option<OwnedFd>,
    /// `linux.seccomp`, compiled by the parent.
    pub(crate) seccomp: Option<&'a crate::seccomp::Program>,
    pub(crate) fifo: Option<OwnedFd>,
    /// With a double fork: the cgroup2 directory to clone the init into.
    pub(crate) cgroup: Option<&'a OwnedFd>,
    /// The optional waits, as the parent expects them.
    pub(crate) sync: SyncPlan,
    /// A network namespace made ahead, joined instead of a new one (then
    /// the clone had no `CLONE_NEWNET`).
    pub(crate) netns: Option<BorrowedFd<'a>>,
}

/// Entry point in the child; never returns.
pub(crate) fn init_main(mut c: InitChild) -> ! {
    let mut after_ready = false;
    let err = no_unwind(|| run(&mut c, &mut after_ready));
    exit_with(&c.channel, err, after_ready)
}

/// Runs the child's work so that a panic (in our code or a caller's
/// hook) becomes a reported error: unwinding further would return into
/// the caller's code in a copy of its process. (With `panic = "abort"`
/// the child dies of SIGABRT instead, which its exit status shows.)
pub(crate) fn no_unwind(f: impl FnOnce() -> ChildError) -> ChildError {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|p| {
        let what = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        ChildError::other("container setup panicked", what)
    })
}

/// Reports `err` (to the parent, or to stderr once the parent is gone)
/// and exits with Docker's code for its kind.
pub(crate) fn exit_with(ch: &Channel, err: ChildError, parent_gone: bool) -> ! {
    let code = match err.kind {
        ChildErrorKind::NotFound => 127,
        ChildErrorKind::NotExecutable => 126,
        ChildErrorKind::Other => 1,
    };
    let sent = !parent_gone
        && ch
            .send(&Msg::Error {
                kind: err.kind,
                message: err.message.clone(),
            })
            .is_ok();
    if !sent {
        let _ = writeln!(std::io::stderr(), "berth: {}", err.message);
    }
    // SAFETY: _exit ends this forked child without running the parent's
    // atexit handlers or destructors on its copied state.
    unsafe { libc::_exit(code) }
}

/// Resets what the runtime's own process changed and a container must not
/// inherit: execve keeps ignored signals ignored (Rust ignores SIGPIPE, a
/// caller may ignore SIGINT) and keeps the signal mask.
pub(crate) fn reset_signals() -> Result<(), ChildError> {
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
        .ctx(|| "reset signal mask".into())?;
    for sig in Signal::iterator() {
        if matches!(sig, Signal::SIGKILL | Signal::SIGSTOP) {
            continue;
        }
        // SAFETY: installing SIG_DFL involves no handler code.
        unsafe { signal(sig, SigHandler::SigDfl) }.ctx(|| format!("reset {sig}"))?;
    }
    Ok(())
}

/// Puts the given fds on 0, 1, 2.
pub(crate) fn apply_stdio(stdio: &Stdio) -> Result<(), ChildError> {
    for (fd, target) in [(stdio.stdin, 0), (stdio.stdout, 1), (stdio.stderr, 2)] {
        if let Some(fd) = fd {
            if fd.as_raw_fd() != target {
                crate::sys::dup2_raw(fd.as_raw_fd(), target)
                    .ctx(|| format!("set up stdio fd {target}"))?;
            }
        }
    }
    Ok(())
}

fn run(c: &mut InitChild, after_ready: &mut bool) -> ChildError {
    match setup(c, after_ready) {
        Ok(e) | Err(e) => e,
    }
}

fn setup(c: &mut InitChild, after_ready: &mut bool) -> Result<ChildError, ChildError> {
    let spec: &Spec = c.opts.spec;
    reset_signals()?;
    apply_stdio(&c.opts.stdio)?;
    if let Some(fd) = c.netns {
        // Before any mount: sysfs shows the namespace it is mounted in.
        setns(fd, CloneFlags::CLONE_NEWNET).ctx(|| "join network namespace".into())?;
    }
    if c.double_fork {
        process::hide_from_container()?;
        namespaces::join(&c.plan.join)?;
        unshare(c.plan.create - CloneFlags::CLONE_NEWCGROUP).ctx(|| "unshare namespaces".into())?;
        if c.plan.create.contains(namespaces::CLONE_NEWTIME) {
            write_time_offsets(spec)?;
        }
        // CLONE_PARENT: the init becomes the caller's child, so the caller
        // can wait for it; CLONE_NEWPID was unshared above, so it is PID 1.
        let (cloned, in_cgroup) = clone_init(libc::CLONE_PARENT, c.cgroup);
        if let Some(pid) = cloned.ctx(|| "clone init".into())? {
            let msg = if in_cgroup {
                Msg::PidInCgroup(pid.as_raw())
            } else {
                Msg::Pid(pid.as_raw())
            };
            let _ = c.channel.send(&msg);
            // SAFETY: see exit_with; the intermediate's job is done.
            unsafe { libc::_exit(0) }
        }
    }
    if c.sync.maps {
        c.channel
            .wait_go()
            .ctx(|| "wait for user namespace maps".into())?;
    }
    let channel = &c.channel;
    let new_cgroupns = c.plan.create.contains(CloneFlags::CLONE_NEWCGROUP);
    let mut placed = || -> Result<(), ChildError> {
        match channel.recv().ctx(|| "wait for cgroup placement".into())? {
            Some(Msg::Placed) => {}
            other => {
                return Err(ChildError::other(
                    "sync",
                    format!("expected placed, got {other:?}"),
                ))
            }
        }
        if new_cgroupns {
            // Only now: the runtime has placed us in the container's
            // cgroup, which becomes the namespace's root (runc does the
            // same; at clone time it would have been the runtime's own).
            unshare(CloneFlags::CLONE_NEWCGROUP).ctx(|| "unshare cgroup namespace".into())?;
        }
        Ok(())
    };
    let userns = c.sync.maps;
    if userns {
        // Become the namespace's root (uid/gid maps are written by now).
        setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))
            .ctx(|| "setgid 0 in user namespace".into())?;
        setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0))
            .ctx(|| "setuid 0 in user namespace".into())?;
    }
    rootfs::prepare(
        &RootfsSetup {
            rootfs: c.rootfs,
            bundle: c.opts.bundle,
            spec,
            overlay: c.opts.overlay,
            userns,
        },
        &mut placed,
    )?;
    if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        sethostname(h).ctx(|| format!("set hostname {h:?}"))?;
    }
    if let Some(d) = spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        // SAFETY: the pointer and length describe the live string `d`.
        let ret = unsafe { libc::setdomainname(d.as_ptr().cast(), d.len()) };
        if ret != 0 {
            return Err(ChildError::other(
                format!("set domainname {d:?}"),
                std::io::Error::last_os_error(),
            ));
        }
    }
    if c.sync.before_pivot {
        c.channel
            .send(&Msg::MountsDone)
            .ctx(|| "sync with runtime".into())?;
        c.channel
            .wait_go()
            .ctx(|| "wait for the runtime's before_pivot".into())?;
    }
    rootfs::switch_root(c.rootfs, c.opts.no_pivot)?;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| ChildError::other("spec", "no process"))?;
    // runc creates a missing cwd, before the root may become read-only.
    let cwd = process.cwd();
    if !cwd.as_os_str().is_empty() {
        std::fs::create_dir_all(cwd).ctx(|| format!("create cwd {}", cwd.display()))?;
    }
    // Before finalize: /proc/sys is usually among the read-only paths.
    write_sysctls(spec)?;
    // Before finalize, as runc: /dev/console's mount point may need
    // creating, and the root may become read-only.
    match &c.console {
        Some(sock) => crate::tty::setup(sock, process, true)?,
        None => crate::tty::new_session()?,
    }
    rootfs::finalize(spec)?;
    let plan = ExecPlan {
        process,
        seccomp: c.seccomp,
        personality: spec.linux().as_ref().and_then(|l| l.personality().as_ref()),
        default_caps: None,
        force_no_new_privs: false,
        extra_fds: c.opts.preserve_fds,
    };
    let channel = &c.channel;
    let fifo = c.fifo.take();
    let hooks = &mut *c.hooks;
    let mut before_exec = || -> Result<(), ChildError> {
        if let Some(fifo) = &fifo {
            channel
                .send(&Msg::Ready)
                .ctx(|| "sync with runtime".into())?;
            *after_ready = true;
            wait_fifo(fifo)?;
        }
        hooks
            .before_exec_in_child()
            .ctx(|| "startContainer hook".into())
    };
    Ok(process::setup_and_exec(&plan, &mut before_exec))
}

/// Blocks until `start` opens the exec fifo for reading, then writes one
/// byte as runc's init does (the reader takes it as "started").
fn wait_fifo(fifo: &OwnedFd) -> Result<(), ChildError> {
    let path = format!("/proc/self/fd/{}", fifo.as_raw_fd());
    let fd = open(
        Path::new(&path),
        OFlag::O_WRONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| "open exec fifo".into())?;
    nix::unistd::write(&fd, &[0u8]).ctx(|| "write exec fifo".into())?;
    Ok(())
}

/// `linux.timeOffsets`, written before the first process enters the new
/// time namespace (time_namespaces(7)).
fn write_time_offsets(spec: &Spec) -> Result<(), ChildError> {
    let map = spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().as_ref());
    let mut text = String::new();
    for (clock, off) in map.into_iter().flatten() {
        if clock != "monotonic" && clock != "boottime" {
            return Err(ChildError::other(
                "linux.timeOffsets",
                format!("unknown clock {clock:?}"),
            ));
        }
        let (secs, nanos) = (off.secs().unwrap_or(0), off.nanosecs().unwrap_or(0));
        text.push_str(&format!("{clock} {secs} {nanos}\n"));
    }
    if !text.is_empty() {
        std::fs::write("/proc/self/timens_offsets", text)
            .ctx(|| "write time namespace offsets".into())?;
    }
    Ok(())
}

/// `linux.sysctl`, written under the container's /proc/sys.
fn write_sysctls(spec: &Spec) -> Result<(), ChildError> {
    let map = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref());
    for (key, value) in map.into_iter().flatten() {
        if key.contains("..") || key.contains('/') {
            return Err(ChildError::other(format!("sysctl {key:?}"), "invalid name"));
        }
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        std::fs::write(&path, value).ctx(|| format!("sysctl {key}={value}"))?;
    }
    Ok(())
}
