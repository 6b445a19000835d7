//! Parent side of `spawn_init`: validate, clone the init with its
//! namespaces, write user namespace maps, run the caller's hooks at the
//! sync points, and return once the child waits on the fifo or exec'd.
//!
//! The conversation on the sync channel (`channel::Msg`); the steps in
//! brackets happen only when they have a reason to:
//!
//! ```text
//! parent                                child (the init)
//! before_clone (cgroup made)
//! clone3 into it (or clone) ─────────▶  [joins/unshares, clones again and
//!                                        sends Pid(n) if it must]
//! [user ns: uid/gid maps, Go] ───────▶  [user ns: waits for Go, setuid 0]
//!                                       mounts up to the first cgroup one
//! after_clone (cgroup), Placed ──────▶  cgroup ns, the other mounts, /dev
//! [before_pivot wanted:]   ◀───────────  [MountsDone]
//! [before_pivot (hooks), Go] ────────▶  [waits for Go]
//!                                       pivot_root, masks, process setup
//!                          ◀───────────  Ready (then blocks on the fifo)
//!                                        or the channel closes on execve
//! ```
//!
//! Every wait of the child is for something the parent does: the maps
//! (nothing in a user namespace works as root before them), the cgroup
//! placement and limits (everything from the cgroup namespace on, so no
//! device node, no pivot and no user code before the device rules and
//! limits are in force), the caller's `before_pivot`. Without a user
//! namespace there are no maps to wait for; when the caller's
//! `before_pivot` does nothing (`InitHooks::wants_before_pivot`), the
//! child does not stop before `pivot_root`: each skipped wait is a
//! wake-up of a sleeping process, which in a VM can cost up to a
//! millisecond.
//!
//! Any step of the child may instead send `Error` and exit; the parent
//! then kills and reaps it and returns that error.

use std::fs;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use nix::fcntl::{open, OFlag};
use nix::sched::CloneFlags;
use nix::sys::signal::{kill, Signal};
use nix::sys::stat::Mode;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxIdMapping, Spec};

use crate::channel::{self, Channel, Msg};
use crate::child::{init_main, InitChild};
use crate::error::SpawnError;
use crate::namespaces::NamespacePlan;
use crate::spawn::{InitHooks, InitOptions, InitProcess};
use crate::sys::{clone_fork, clone_into_cgroup};

/// Kills and reaps a half-started child unless disarmed.
pub(crate) struct ChildGuard(pub(crate) Option<Pid>);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.0.take() {
            let _ = kill(pid, Signal::SIGKILL);
            let _ = waitpid(pid, None);
        }
    }
}

impl ChildGuard {
    /// Double fork: receives the grandchild's pid from the intermediate
    /// child `self` guards, reaps the intermediate (it exits once it has
    /// reported) and guards the grandchild instead. Also returns whether
    /// the grandchild was cloned into its cgroup.
    pub(crate) fn adopt_grandchild(
        &mut self,
        id: &str,
        ch: &Channel,
    ) -> Result<(Pid, bool), SpawnError> {
        let (pid, in_cgroup) = match recv(id, ch) {
            Ok(Some(Msg::Pid(p))) => (Pid::from_raw(p), false),
            Ok(Some(Msg::PidInCgroup(p))) => (Pid::from_raw(p), true),
            Ok(other) => return Err(unexpected(id, other)),
            Err(e @ SpawnError::Child { .. }) => {
                self.adopt_after_error(ch);
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        if let Some(first) = self.0.take() {
            // Its exit status says nothing the pid message did not.
            let _ = waitpid(first, None);
        }
        self.0 = Some(pid);
        Ok((pid, in_cgroup))
    }

    /// After a child error that came first: the grandchild does not wait
    /// before its first steps, so its error can overtake the
    /// intermediate's pid message. Reaps the intermediate (it exits right
    /// after sending the pid, or failing), then reads what it left: the
    /// pid of a grandchild to guard (and so kill and reap on drop, as it
    /// is the caller's child through CLONE_PARENT) or EOF. This cannot
    /// block for good: the only other holder of the child's end is the
    /// grandchild, which exits right after sending its error.
    fn adopt_after_error(&mut self, ch: &Channel) {
        if let Some(first) = self.0.take() {
            let _ = waitpid(first, None);
        }
        if let Ok(Some(Msg::Pid(p) | Msg::PidInCgroup(p))) = ch.recv() {
            self.0 = Some(Pid::from_raw(p));
        }
    }
}

fn sys(id: &str, op: &str) -> impl FnOnce(io::Error) -> SpawnError {
    let (id, op) = (id.to_string(), op.to_string());
    move |source| SpawnError::Sys { id, op, source }
}

/// Checks the spec and resolves the rootfs path.
fn validate(opts: &InitOptions) -> Result<(PathBuf, NamespacePlan), SpawnError> {
    let inval = |reason: String| SpawnError::InvalidSpec {
        id: opts.id.into(),
        reason,
    };
    let spec: &Spec = opts.spec;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| inval("no process".into()))?;
    if process.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(inval("process.args is empty".into()));
    }
    if !process.cwd().is_absolute() {
        // runtime-spec: "cwd MUST be an absolute path" (runc refuses too).
        return Err(inval(format!(
            "process.cwd {:?} is not an absolute path",
            process.cwd()
        )));
    }
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| inval("no root".into()))?;
    let rootfs = opts.bundle.join(root.path());
    let rootfs = fs::canonicalize(&rootfs)
        .map_err(|e| inval(format!("root.path {}: {e}", rootfs.display())))?;
    if !rootfs.is_dir() {
        return Err(inval(format!(
            "root.path {}: not a directory",
            rootfs.display()
        )));
    }
    let plan = NamespacePlan::from_spec(spec).map_err(inval)?;
    let has = |f: CloneFlags| plan.create.contains(f) || plan.join.iter().any(|(j, _)| *j == f);
    if !plan.create.contains(CloneFlags::CLONE_NEWNS) {
        return Err(inval("a new mount namespace is required".into()));
    }
    if spec.hostname().as_deref().is_some_and(|h| !h.is_empty()) && !has(CloneFlags::CLONE_NEWUTS) {
        return Err(inval("hostname needs a private UTS namespace".into()));
    }
    if process.terminal().unwrap_or(false) && opts.console_socket.is_none() {
        return Err(inval("process.terminal needs a console socket".into()));
    }
    Ok((rootfs, plan))
}

pub(crate) fn spawn(
    opts: &InitOptions,
    hooks: &mut dyn InitHooks,
) -> Result<InitProcess, SpawnError> {
    let id = opts.id;
    let (rootfs, plan) = validate(opts)?;
    let seccomp = compile_seccomp(
        id,
        opts.spec
            .linux()
            .as_ref()
            .and_then(|l| l.seccomp().as_ref()),
    )?;
    let terminal = opts
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    let console = match opts.console_socket.filter(|_| terminal) {
        Some(p) => Some(
            crate::tty::connect(p)
                .map_err(sys(id, &format!("connect console socket {}", p.display())))?,
        ),
        None => None,
    };
    let fifo: Option<OwnedFd> = match opts.exec_fifo {
        Some(p) => Some(
            open(p, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
                .map_err(|e| sys(id, &format!("open exec fifo {}", p.display()))(e.into()))?,
        ),
        None => None,
    };
    let (parent_ch, child_ch) = channel::pair().map_err(sys(id, "create sync socket"))?;
    // A second clone is needed to join namespaces before creating the
    // others, and for a time namespace (it can only be unshared, and then
    // applies to children).
    let double_fork =
        !plan.join.is_empty() || plan.create.contains(crate::namespaces::CLONE_NEWTIME);
    // The cgroup namespace is unshared by the child once it is in its
    // cgroup (after `after_clone`), so that cgroup becomes its root.
    // A network namespace made ahead replaces CLONE_NEWNET in the single
    // clone; not with a new user namespace, which would not own it.
    let netns = opts.netns.filter(|_| {
        !double_fork
            && plan.create.contains(CloneFlags::CLONE_NEWNET)
            && !plan.create.contains(CloneFlags::CLONE_NEWUSER)
    });
    let mut create = plan.create - CloneFlags::CLONE_NEWCGROUP;
    if netns.is_some() {
        create -= CloneFlags::CLONE_NEWNET;
    }
    let flags = if double_fork { 0 } else { create.bits() };
    let sync = SyncPlan {
        maps: plan.create.contains(CloneFlags::CLONE_NEWUSER),
        before_pivot: hooks.wants_before_pivot(),
    };
    let cgroup_fd = hooks.before_clone().map_err(|source| SpawnError::Hook {
        id: id.into(),
        stage: "before_clone",
        source,
    })?;
    // With a double fork the intermediate clones the init into the cgroup,
    // after its setns (the first clone stays in the caller's cgroup).
    let into = cgroup_fd.as_ref().filter(|_| !double_fork);
    let (cloned, mut in_cgroup) = clone_init(flags, into);
    let first = match cloned.map_err(sys(id, "clone init process"))? {
        None => {
            drop(parent_ch);
            init_main(InitChild {
                opts,
                hooks,
                channel: child_ch,
                rootfs: &rootfs,
                plan: &plan,
                double_fork,
                console,
                fifo,
                seccomp: seccomp.as_ref(),
                cgroup: cgroup_fd.as_ref().filter(|_| double_fork),
                sync,
                netns,
            })
        }
        Some(pid) => pid,
    };
    drop(child_ch);
    drop(console);
    drop(fifo);
    drop(cgroup_fd);
    let mut guard = ChildGuard(Some(first));
    let pid = if double_fork {
        let (pid, placed) = guard.adopt_grandchild(id, &parent_ch)?;
        in_cgroup = placed;
        pid
    } else {
        first
    };
    if sync.maps {
        write_id_maps(pid, opts.spec).map_err(sys(id, "write user namespace maps"))?;
        send(id, &parent_ch, Msg::Go)?;
    }
    // The child starts on its mounts while the caller places it in its
    // cgroup (moving a task between cgroups waits for an RCU grace period,
    // often longer than all the mounts: only v1 hierarchies, or every one
    // after a fallback, need it) and applies the limits; it waits for
    // `Placed` before anything that depends on the cgroup.
    hooks
        .after_clone(pid, in_cgroup)
        .map_err(|source| SpawnError::Hook {
            id: id.into(),
            stage: "after_clone",
            source,
        })?;
    send(id, &parent_ch, Msg::Placed)?;
    loop {
        match recv(id, &parent_ch)? {
            Some(Msg::MountsDone) if sync.before_pivot => {
                hooks.before_pivot(pid).map_err(|source| SpawnError::Hook {
                    id: id.into(),
                    stage: "before_pivot",
                    source,
                })?;
                send(id, &parent_ch, Msg::Go)?;
            }
            // Ready: waiting on the fifo. EOF: the close-on-exec channel
            // closed, so execve succeeded (an error would have been sent).
            Some(Msg::Ready) | None => break,
            other => return Err(unexpected(id, other)),
        }
    }
    guard.0 = None;
    Ok(InitProcess { pid })
}

/// Which of the optional waits the child makes (see the diagram above);
/// decided once before the clone, so both sides agree.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SyncPlan {
    /// In a new user namespace: wait for `Go` once the parent has written
    /// the uid/gid maps.
    pub(crate) maps: bool,
    /// Send `MountsDone` and wait for `Go` while the parent runs the
    /// caller's `before_pivot`.
    pub(crate) before_pivot: bool,
}

/// Clones the init with namespace `flags`, straight into the cgroup2
/// directory `cgroup` when there is one and the kernel can; returns the
/// clone's result and whether the child started in that cgroup.
pub(crate) fn clone_init(
    flags: libc::c_int,
    cgroup: Option<&OwnedFd>,
) -> (io::Result<Option<Pid>>, bool) {
    if let Some(fd) = cgroup {
        match clone_into_cgroup(flags, fd.as_fd()) {
            Ok(r) => return (Ok(r), true),
            // No clone3 (ENOSYS, or a seccomp filter saying so), no
            // CLONE_INTO_CGROUP (E2BIG/EINVAL before 5.7), a cgroup that
            // cannot take processes this way (EOPNOTSUPP, EBUSY), or one
            // outside a joined cgroup namespace (ENOENT): fall back
            // to a clone + migration, which fails with the clearer
            // cgroup.procs error if the cgroup really is unusable. EPERM
            // and EACCES too: a seccomp filter may answer clone3 so (as
            // older Docker profiles do), and the cgroup's permission check
            // raises them; a namespace the caller may not create fails the
            // plain clone with the same error. EAGAIN (pids.max) is the
            // clone's own.
            Err(e) if can_fall_back(&e) => {}
            Err(e) => return (Err(e), false),
        }
    }
    (clone_fork(flags), false)
}

/// Whether a `clone_into_cgroup` error calls for the clone + migration
/// fallback (see `clone_init`).
fn can_fall_back(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(
            libc::ENOSYS
                | libc::E2BIG
                | libc::EINVAL
                | libc::EOPNOTSUPP
                | libc::EBUSY
                | libc::ENOENT
                | libc::EPERM
                | libc::EACCES
        )
    )
}

/// Compiles the seccomp profile before anything is created, so that a bad
/// profile is a spec error naming the culprit.
pub(crate) fn compile_seccomp(
    id: &str,
    profile: Option<&oci_spec::runtime::LinuxSeccomp>,
) -> Result<Option<crate::seccomp::Program>, SpawnError> {
    profile
        .map(crate::seccomp::compile)
        .transpose()
        .map_err(|e| SpawnError::InvalidSpec {
            id: id.into(),
            reason: format!("linux.seccomp: {e}"),
        })
}

/// Sends a message; if the child is gone, its queued error (if any) is
/// the better explanation than the broken pipe.
pub(crate) fn send(id: &str, ch: &Channel, msg: Msg) -> Result<(), SpawnError> {
    match ch.send(&msg) {
        Ok(()) => Ok(()),
        Err(e) => match ch.recv() {
            Ok(Some(Msg::Error { kind, message })) => Err(SpawnError::Child { kind, message }),
            _ => Err(sys(id, "sync with init")(e)),
        },
    }
}

/// Receives a message; a child error becomes `SpawnError::Child`.
pub(crate) fn recv(id: &str, ch: &Channel) -> Result<Option<Msg>, SpawnError> {
    match ch.recv().map_err(sys(id, "sync with init"))? {
        Some(Msg::Error { kind, message }) => Err(SpawnError::Child { kind, message }),
        other => Ok(other),
    }
}

pub(crate) fn unexpected(id: &str, msg: Option<Msg>) -> SpawnError {
    SpawnError::ChildVanished {
        id: id.into(),
        detail: match msg {
            None => "channel closed".into(),
            Some(m) => format!("unexpected message {m:?}"),
        },
    }
}

/// uid_map/gid_map lines, `container host size` (user_namespaces(7)).
pub(crate) fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

fn write_id_maps(pid: Pid, spec: &Spec) -> io::Result<()> {
    let linux = spec.linux().as_ref();
    let uids = linux
        .and_then(|l| l.uid_mappings().as_ref())
        .map(|m| map_text(m))
        .unwrap_or_default();
    let gids = linux
        .and_then(|l| l.gid_mappings().as_ref())
        .map(|m| map_text(m))
        .unwrap_or_default();
    if !uids.is_empty() {
        fs::write(format!("/proc/{pid}/uid_map"), uids)?;
    }
    if !gids.is_empty() {
        fs::write(format!("/proc/{pid}/gid_map"), gids)?;
    }
    Ok(())
}
