//! `create`: set up a container's init from a bundle and leave it waiting
//! on the exec fifo (runtime spec "create"; runc's `exec.fifo` model).

use std::fs;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use cgroups::Manager;
use nix::sys::signal::{kill, Signal};
use nix::sys::stat::Mode;
use nix::unistd::Pid;
use oci_spec::runtime::{ContainerState, Hook, Spec};

use super::bundle::{load_bundle, Bundle};
use super::cgroup::{manager_for, own_cgroups_text, with_default_devices};
use super::ContainerError;
use crate::hooks::{run_hooks, run_hooks_in_namespaces_of};
use crate::spawn::{self, HookError as SpawnHookError};
use crate::state::{proc_stat, ContainerDir, Record, Store};
use crate::{InitHooks, InitOptions, Stdio};

/// The options of `create` (and of `run`).
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// Container id.
    pub id: String,
    /// Bundle directory.
    pub bundle: PathBuf,
    /// Where to write the init's pid.
    pub pid_file: Option<PathBuf>,
    /// Where to send the pty master with `process.terminal`.
    pub console_socket: Option<PathBuf>,
    /// `--no-pivot`.
    pub no_pivot: bool,
    /// `--systemd-cgroup` (recorded; cgroupfs is used).
    pub systemd_cgroup: bool,
    /// `--preserve-fds`: the caller's fds 3 .. 3 + n go to the process.
    pub preserve_fds: u32,
}

/// What `create` set up, for `run` to continue from.
#[derive(Debug)]
pub(crate) struct Created {
    pub dir: ContainerDir,
    pub record: Record,
}

/// Creates container `opts.id`: its init is set up and blocks on the exec
/// fifo until `start`. On failure nothing is left: no state dir, no
/// process, no cgroup.
pub fn create(store: &Store, opts: &CreateOptions) -> Result<(), ContainerError> {
    let bundle = load_bundle(&opts.bundle)?;
    create_inner(store, opts, &bundle, true).map(|_| ())
}

/// `create` from a loaded bundle, with or without the exec fifo (`run`
/// execs at once).
pub(crate) fn create_inner(
    store: &Store,
    opts: &CreateOptions,
    bundle: &Bundle,
    wait_for_start: bool,
) -> Result<Created, ContainerError> {
    check_terminal(&bundle.spec, opts, wait_for_start)?;
    let dir = store.create(&opts.id)?;
    let mut guard = Cleanup {
        dir: Some(dir),
        pid: None,
        cgroup: None,
    };
    let rec = match setup(&mut guard, bundle, opts, wait_for_start) {
        Ok(rec) => rec,
        Err(err) => {
            let failed = guard.undo();
            if failed.is_empty() {
                return Err(err);
            }
            return Err(ContainerError::CleanupFailed {
                id: opts.id.clone(),
                source: Box::new(err),
                leftovers: failed.join("; "),
            });
        }
    };
    let dir = guard.dir.take().expect("dir is set until disarmed");
    guard.pid = None;
    guard.cgroup = None;
    Ok(Created { dir, record: rec })
}

fn setup(
    guard: &mut Cleanup,
    bundle: &Bundle,
    opts: &CreateOptions,
    wait_for_start: bool,
) -> Result<Record, ContainerError> {
    let dir = guard.dir.as_ref().expect("dir is set");
    let fifo = dir.exec_fifo();
    if wait_for_start {
        nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o622))
            .map_err(|e| ContainerError::sys(format!("create exec fifo {}", fifo.display()), e))?;
    }
    let own = own_cgroups_text();
    let cgroups_path = bundle
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().as_ref())
        .map(|p| p.display().to_string());
    let cgroup = manager_for(&opts.id, cgroups_path.as_deref(), &own)?;
    guard.cgroup = Some(cgroup.clone());
    let mut rec = Record {
        id: opts.id.clone(),
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        pid: 0,
        pid_start_time: 0,
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        owner: owner_name(),
        own_cgroups: own,
        systemd_cgroup: opts.systemd_cgroup,
        config: bundle.spec.clone(),
    };
    let mut hooks = CreateHooks {
        rec: &rec,
        cgroup: &cgroup,
    };
    let init_opts = InitOptions {
        id: &opts.id,
        spec: &bundle.spec,
        bundle: &bundle.dir,
        overlay: None,
        console_socket: opts.console_socket.as_deref(),
        no_pivot: opts.no_pivot,
        exec_fifo: wait_for_start.then_some(fifo.as_path()),
        stdio: Stdio::default(),
        preserve_fds: opts.preserve_fds,
        netns: None,
    };
    let init = spawn::spawn_init(&init_opts, &mut hooks)?;
    guard.pid = Some(init.pid);
    rec.pid = init.pid.as_raw();
    rec.pid_start_time = proc_stat(rec.pid)
        .map(|s| s.start_time)
        .ok_or(ContainerError::InitGone(opts.id.clone()))?;
    dir.save(&rec)?;
    if let Some(pf) = &opts.pid_file {
        write_pid_file(pf, rec.pid)?;
    }
    Ok(rec)
}

/// runc's rules: a terminal needs a console socket when the runtime does
/// not stay (create, run -d); a console socket needs a terminal.
fn check_terminal(spec: &Spec, opts: &CreateOptions, detached: bool) -> Result<(), ContainerError> {
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    if terminal && detached && opts.console_socket.is_none() {
        return Err(ContainerError::Usage(
            "cannot allocate tty if berth-runtime will detach without setting console socket"
                .into(),
        ));
    }
    if !terminal && opts.console_socket.is_some() {
        return Err(ContainerError::Usage(
            "cannot use console socket if berth-runtime will not detach or allocate tty".into(),
        ));
    }
    Ok(())
}

/// Writes `pid` to `path` through a temp file and a rename, so a reader
/// never sees a partial pid (containerd and conmon poll this file).
pub(crate) fn write_pid_file(path: &Path, pid: i32) -> Result<(), ContainerError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let res = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&tmp)?;
        f.write_all(pid.to_string().as_bytes())?;
        fs::rename(&tmp, path)
    })();
    res.map_err(|e| ContainerError::sys(format!("write pid file {}", path.display()), e))
}

fn owner_name() -> String {
    let uid = nix::unistd::geteuid();
    // Skip the NSS lookup on the common path.
    if uid.is_root() {
        return "root".to_string();
    }
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map_or_else(|| uid.to_string(), |u| u.name)
}

/// Undoes a half-done create: kills the init, removes the cgroup and the
/// state dir. `undo` on the error path reports what could not be undone;
/// dropping it armed (a panic) undoes silently.
struct Cleanup {
    dir: Option<ContainerDir>,
    pid: Option<Pid>,
    cgroup: Option<Manager>,
}

impl Cleanup {
    /// Undoes what is armed; returns one line per step that failed.
    fn undo(&mut self) -> Vec<String> {
        let mut failed = Vec::new();
        if let Some(pid) = self.pid.take() {
            // ESRCH: the init already died of the error; waitpid reaps it.
            if let Err(e) = kill(pid, Signal::SIGKILL).or_else(|e| match e {
                nix::errno::Errno::ESRCH => Ok(()),
                e => Err(e),
            }) {
                failed.push(format!("kill init {pid}: {e}"));
            }
            // ECHILD: already reaped by the spawn error path.
            if let Err(e) = nix::sys::wait::waitpid(pid, None) {
                if e != nix::errno::Errno::ECHILD {
                    failed.push(format!("reap init {pid}: {e}"));
                }
            }
        }
        if let Some(cg) = self.cgroup.take() {
            // Both are no-ops for a cgroup the error came before.
            if let Err(e) = cg.kill_all(Signal::SIGKILL) {
                failed.push(format!("kill the processes of its cgroup: {e}"));
            }
            if let Err(e) = cg.remove() {
                failed.push(format!("remove its cgroup: {e}"));
            }
        }
        if let Some(dir) = self.dir.take() {
            if let Err(e) = dir.remove() {
                failed.push(format!("remove its state dir: {e}"));
            }
        }
        failed
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        // Only reached armed on a panic: nothing to report to.
        self.undo();
    }
}

/// The runtime side of the init's setup: the cgroup, made before the
/// clone so the init starts inside it (v2), placement and limits right
/// after, and the hooks that run before the root switch and before exec.
struct CreateHooks<'a> {
    rec: &'a Record,
    cgroup: &'a Manager,
}

impl CreateHooks<'_> {
    fn hooks(&self, pick: impl Fn(&oci_spec::runtime::Hooks) -> Option<&Vec<Hook>>) -> Vec<Hook> {
        self.rec
            .config
            .hooks()
            .as_ref()
            .and_then(pick)
            .cloned()
            .unwrap_or_default()
    }
}

impl InitHooks for CreateHooks<'_> {
    fn before_clone(&mut self) -> Result<Option<OwnedFd>, SpawnHookError> {
        self.cgroup.create()?;
        Ok(self.cgroup.open_unified()?)
    }

    fn after_clone(&mut self, pid: Pid, in_cgroup: bool) -> Result<(), SpawnHookError> {
        if in_cgroup {
            self.cgroup.add_task_except_unified(pid.as_raw())?;
        } else {
            self.cgroup.add_task(pid.as_raw())?;
        }
        let res = self
            .rec
            .config
            .linux()
            .as_ref()
            .and_then(|l| l.resources().clone())
            .unwrap_or_default();
        self.cgroup.apply(&with_default_devices(&res))?;
        Ok(())
    }

    fn wants_before_pivot(&self) -> bool {
        // The hooks `before_pivot` runs; without any, the init need not
        // stop there.
        #[allow(deprecated)] // `prestart`, see below.
        let any = self.rec.config.hooks().as_ref().is_some_and(|h| {
            [h.prestart(), h.create_runtime(), h.create_container()]
                .iter()
                .any(|l| l.as_ref().is_some_and(|l| !l.is_empty()))
        });
        any
    }

    fn before_pivot(&mut self, pid: Pid) -> Result<(), SpawnHookError> {
        let mut rec = self.rec.clone();
        rec.pid = pid.as_raw();
        let state = rec.oci_state(ContainerState::Creating);
        #[allow(deprecated)] // `prestart` is deprecated in the spec but still run, as runc does.
        let prestart = self.hooks(|h| h.prestart().as_ref());
        run_hooks(&prestart, &state).map_err(|e| format!("prestart {e}"))?;
        run_hooks(&self.hooks(|h| h.create_runtime().as_ref()), &state)
            .map_err(|e| format!("createRuntime {e}"))?;
        run_hooks_in_namespaces_of(
            &self.hooks(|h| h.create_container().as_ref()),
            &state,
            pid.as_raw(),
        )
        .map_err(|e| format!("createContainer {e}"))?;
        Ok(())
    }

    fn before_exec_in_child(&mut self) -> Result<(), SpawnHookError> {
        // Child side: the pid recorded by the parent is not in this copy.
        let state = self.rec.oci_state(ContainerState::Created);
        run_hooks(&self.hooks(|h| h.start_container().as_ref()), &state)
            .map_err(|e| format!("startContainer {e}"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use nix::mount::{mount, umount2, MntFlags, MsFlags};

    use super::*;

    /// Unmounts a test mount even when an assertion fails.
    struct Unmount(PathBuf);

    impl Drop for Unmount {
        fn drop(&mut self) {
            umount2(&self.0, MntFlags::MNT_DETACH).expect("unmount test tmpfs");
        }
    }

    #[test]
    fn undo_reports_what_it_could_not_remove() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(tmp.path());
        let dir = store.create("undo").unwrap();
        let busy = dir.path().join("busy");
        fs::create_dir(&busy).unwrap();
        mount(
            Some("tmpfs"),
            &busy,
            Some("tmpfs"),
            MsFlags::empty(),
            None::<&str>,
        )
        .unwrap();
        let unmount = Unmount(busy);
        let mut guard = Cleanup {
            dir: Some(dir),
            pid: None,
            cgroup: None,
        };
        let failed = guard.undo();
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert!(
            failed[0].starts_with("remove its state dir: "),
            "{failed:?}"
        );
        drop(unmount);

        // Nothing armed, nothing to report.
        assert!(guard.undo().is_empty());
    }
}
