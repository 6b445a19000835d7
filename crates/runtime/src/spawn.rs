//! The runtime's process API: turn a spec + rootfs into a running, isolated
//! init process (`spawn_init`), and exec an extra process into it (`spawn_exec`).
//!
//! Both clone without re-executing the runtime (as crun) and without
//! `pthread_atfork` handlers: call them from a single-threaded process (the
//! CLI and the engine are; tests fork first).

use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxSeccomp, Process, Spec};

use crate::error::{ChildErrorKind, SpawnError};

/// An overlay the runtime mounts onto the spec's `root.path` inside the new
/// mount namespace (used by the engine, so the host never sees the mount).
#[derive(Debug, Clone)]
pub struct Overlay {
    /// Read-only layers, top first (overlayfs `lowerdir` order).
    pub lower: Vec<PathBuf>,
    /// The writable layer.
    pub upper: PathBuf,
    /// overlayfs' work dir, on the same filesystem as `upper`.
    pub work: PathBuf,
    /// overlayfs `volatile` (Linux 5.10+): the upper filesystem is never
    /// synced, not even when the last user of the mount exits, which
    /// otherwise waits for writeback of the whole host filesystem. For
    /// throwaway containers (`run --rm`, as podman does): a host crash
    /// may lose what they wrote. Ignored by kernels without it.
    pub volatile: bool,
}

/// Where the container process's stdin/stdout/stderr come from. `None`
/// inherits the caller's fd. Ignored for fds replaced by a terminal
/// (`process.terminal`).
#[derive(Debug, Default, Clone, Copy)]
pub struct Stdio<'a> {
    /// fd that becomes the process's fd 0.
    pub stdin: Option<BorrowedFd<'a>>,
    /// fd that becomes the process's fd 1.
    pub stdout: Option<BorrowedFd<'a>>,
    /// fd that becomes the process's fd 2.
    pub stderr: Option<BorrowedFd<'a>>,
}

/// Everything `spawn_init` needs to create a container's init process.
#[derive(Debug, Clone, Copy)]
pub struct InitOptions<'a> {
    /// Container id (used in error messages only).
    pub id: &'a str,
    /// The runtime spec (`config.json`).
    pub spec: &'a Spec,
    /// The bundle directory; a relative `root.path` resolves against it.
    pub bundle: &'a Path,
    /// An overlay to mount onto `root.path` first, inside the container's
    /// mount namespace.
    pub overlay: Option<&'a Overlay>,
    /// With `process.terminal`: the unix socket the pty master is sent over
    /// (one message, `SCM_RIGHTS`), as runc's `--console-socket`.
    pub console_socket: Option<&'a Path>,
    /// `MS_MOVE` + `chroot` instead of `pivot_root` (runc `--no-pivot`, for
    /// roots on ramfs where `pivot_root` fails).
    pub no_pivot: bool,
    /// `Some`: when set up, the init blocks until someone opens this fifo
    /// for reading (runc's `exec.fifo`, opened by `start`), then execs.
    /// `None`: exec right after setup (`run`, the engine).
    pub exec_fifo: Option<&'a Path>,
    /// The process's stdio.
    pub stdio: Stdio<'a>,
    /// The caller's fds 3 .. 3 + this are passed to the process (runc
    /// `--preserve-fds`); the caller must have them open without
    /// `FD_CLOEXEC`. Every other fd is closed at execve.
    pub preserve_fds: u32,
    /// A fresh network namespace, made ahead by [`crate::NetnsAhead`], that
    /// the init joins instead of creating one. Used only when the spec
    /// asks for a new network namespace, no new user namespace, and joins
    /// no namespace by path; ignored otherwise. The init joins it first
    /// thing, concurrently with [`InitHooks::after_clone`], which may still
    /// see the caller's namespace in `/proc/<pid>/ns/net`. The caller
    /// closes it once `spawn_init` returned (the init holds it from then).
    pub netns: Option<BorrowedFd<'a>>,
}

/// Error type returned by hook callbacks.
pub type HookError = Box<dyn std::error::Error + Send + Sync>;

/// Points in the init's setup where the caller runs its own work. Every
/// method has a no-op default.
pub trait InitHooks {
    /// Parent side, before the clone: create the container's cgroup and
    /// return an fd of its cgroup2 directory (`O_PATH` will do), so that
    /// the init is cloned straight into it (`clone3` with
    /// `CLONE_INTO_CGROUP`, as crun): no migration, which would wait for
    /// an RCU grace period. `None`: the init starts in the caller's cgroup.
    fn before_clone(&mut self) -> Result<Option<OwnedFd>, HookError> {
        Ok(None)
    }

    /// Parent side, right after clone (user namespace maps already written):
    /// place `pid` in its cgroup and apply resources. `in_cgroup` says the
    /// kernel already started it in the directory `before_clone` returned;
    /// otherwise (no fd, a kernel without `CLONE_INTO_CGROUP`, a double
    /// fork) it is still in the caller's cgroups and must be moved. The
    /// child meanwhile mounts the rootfs and the spec's mounts up to the
    /// first `cgroup` one; it creates its cgroup namespace, mounts
    /// cgroupfs, makes device nodes and runs any user code only after
    /// this returns.
    fn after_clone(&mut self, _pid: Pid, _in_cgroup: bool) -> Result<(), HookError> {
        Ok(())
    }

    /// Parent side, when the child has done every mount and waits before
    /// `pivot_root`: the spec's `prestart`, `createRuntime` and
    /// `createContainer` hooks run here.
    fn before_pivot(&mut self, _pid: Pid) -> Result<(), HookError> {
        Ok(())
    }

    /// Whether [`InitHooks::before_pivot`] has work to do. `false` spares
    /// a round trip (the child reports its mounts done and waits for the
    /// parent, two wake-ups on the path to exec): the child then goes on
    /// to `pivot_root` without stopping, and `before_pivot` is not called.
    /// Asked once, before the clone.
    fn wants_before_pivot(&self) -> bool {
        true
    }

    /// CHILD side (runs in the container process, which holds a copy of the
    /// caller's memory: side effects on `self` are not seen by the caller):
    /// after the exec fifo was opened (or right after setup without one),
    /// just before seccomp and `execve`. The spec's `startContainer` hooks
    /// run here, inside the container's namespaces.
    fn before_exec_in_child(&mut self) -> Result<(), HookError> {
        Ok(())
    }
}

/// Hooks that do nothing (tests, or callers without cgroups/hooks).
#[derive(Debug, Default)]
pub struct NoHooks;

impl InitHooks for NoHooks {
    fn wants_before_pivot(&self) -> bool {
        false
    }
}

/// A container init that has been set up: it waits on the exec fifo, or
/// has already exec'd `process.args`.
#[derive(Debug)]
pub struct InitProcess {
    /// The init's pid in the caller's pid namespace. It is a child of the
    /// caller, so the caller can `waitpid` it.
    pub pid: Pid,
}

impl InitProcess {
    /// Waits for the process to end; returns its exit code, or 128 + the
    /// signal number when a signal killed it (shell convention).
    pub fn wait(&self) -> Result<i32, SpawnError> {
        wait_exit_code(self.pid)
    }
}

/// Everything `spawn_exec` needs to run an extra process in a container.
#[derive(Debug, Clone, Copy)]
pub struct ExecOptions<'a> {
    /// Container id (used in error messages only).
    pub id: &'a str,
    /// The running container's init pid (in the caller's pid namespace);
    /// its `/proc/<pid>/ns/*` are joined.
    pub init_pid: Pid,
    /// The process to run (`exec --process` or built from args).
    pub process: &'a Process,
    /// The container's seccomp profile, applied last as runc does for exec.
    pub seccomp: Option<&'a LinuxSeccomp>,
    /// `cgroup.procs` files the new process is written into before it runs
    /// (one per v1 hierarchy, or the one v2 file).
    pub cgroup_procs: &'a [PathBuf],
    /// With `process.terminal`: where the pty master is sent.
    pub console_socket: Option<&'a Path>,
    /// The process's stdio.
    pub stdio: Stdio<'a>,
}

/// Creates the container's init process from `opts.spec`: namespaces,
/// mounts, root switch, process attributes. Returns once the child is fully
/// set up and waits on `opts.exec_fifo`, or — without a fifo — once it has
/// exec'd `process.args` (an exec failure is returned as a
/// [`SpawnError::Child`] with its [`ChildErrorKind`]).
pub fn spawn_init(
    opts: &InitOptions,
    hooks: &mut dyn InitHooks,
) -> Result<InitProcess, SpawnError> {
    crate::init::spawn(opts, hooks)
}

/// Execs `opts.process` inside the namespaces and cgroup of a running
/// container. Returns the new process's pid (a child of the caller, so it
/// can be waited for with [`wait_exit_code`]) once it has exec'd.
pub fn spawn_exec(opts: &ExecOptions) -> Result<Pid, SpawnError> {
    crate::exec::spawn(opts)
}

/// Waits for child `pid`; returns its exit code, or 128 + signal number.
pub fn wait_exit_code(pid: Pid) -> Result<i32, SpawnError> {
    loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => {
                return Err(SpawnError::Wait {
                    pid: pid.as_raw(),
                    source: e,
                })
            }
        }
    }
}

/// Docker's exit code for an error that kept the process from starting:
/// 127 command not found, 126 cannot execute, else 125 (engine error).
pub fn docker_exit_code(err: &SpawnError) -> i32 {
    match err {
        SpawnError::Child {
            kind: ChildErrorKind::NotFound,
            ..
        } => 127,
        SpawnError::Child {
            kind: ChildErrorKind::NotExecutable,
            ..
        } => 126,
        _ => 125,
    }
}
