//! Starting a container's init: the spec (user resolved from the image's
//! passwd), the overlay, the cgroup, `runtime::spawn_init` in-process; and
//! recording what happened (started, failed, exited).

use std::fs;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use cgroups::{own_cgroups, CgroupsPath, Layout, Manager};
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxResources, Spec};
use runtime::spawn::HookError;
use runtime::{InitHooks, InitOptions, InitProcess, Overlay, Stdio};

use crate::container::{boot_id, now_rfc3339, process_start_time, Container, Status, EXIT_UNKNOWN};
use crate::engine::Engine;
use crate::error::EngineError;
use crate::spec::{build_spec, host_is_cgroup2, resolve_user, SpecInput};

/// Everything needed to spawn the init, computed before any process exists.
pub(crate) struct Launch {
    pub(crate) spec: Spec,
    pub(crate) overlay: Overlay,
    pub(crate) bundle: PathBuf,
}

/// The cgroup path of a container.
pub(crate) fn cgroup_path(id: &str) -> String {
    format!("/berth/{id}")
}

impl Engine {
    /// The container's cgroup (nothing is created by building it). The
    /// host's cgroup layout and this process's own cgroups are read once
    /// per engine (two `/proc` files to parse): `run` needs the cgroup to
    /// spawn and again to remove it.
    pub(crate) fn cgroup(&self, id: &str) -> Result<Manager, EngineError> {
        let err = |source| EngineError::Cgroup {
            id: id.to_string(),
            source,
        };
        let path = CgroupsPath::parse(Some(&cgroup_path(id)), id).map_err(err)?;
        if self.cgroup_layout.get().is_none() {
            let detected = (Layout::detect().map_err(err)?, own_cgroups().map_err(err)?);
            let _ = self.cgroup_layout.set(detected);
        }
        let (layout, own) = self
            .cgroup_layout
            .get()
            .expect("cgroup layout set just above");
        Ok(Manager::with_layout(layout, own, &path))
    }
}

/// A file of the merged rootfs, read from the layer directories top-down
/// (the overlay is only ever mounted inside the container). A whiteout
/// hides the layers below.
fn read_rootfs_file(layers: &[PathBuf], rel: &str) -> Option<String> {
    for layer in layers {
        let p = layer.join(rel);
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_char_device() => return None,
            Ok(m) if m.is_file() => return fs::read_to_string(&p).ok(),
            _ => continue,
        }
    }
    None
}

/// Creates the cgroup before the clone (the init starts inside it on
/// cgroup2), moves the init into the v1 hierarchies if any and applies the
/// limits right after, before the init runs any user code.
struct CgroupHooks<'a> {
    manager: &'a Manager,
    resources: Option<&'a LinuxResources>,
}

impl InitHooks for CgroupHooks<'_> {
    fn before_clone(&mut self) -> Result<Option<OwnedFd>, HookError> {
        self.manager.create()?;
        Ok(self.manager.open_unified()?)
    }

    fn after_clone(&mut self, pid: Pid, in_cgroup: bool) -> Result<(), HookError> {
        if in_cgroup {
            self.manager.add_task_except_unified(pid.as_raw())?;
        } else {
            self.manager.add_task(pid.as_raw())?;
        }
        if let Some(r) = self.resources {
            self.manager.apply(r)?;
        }
        Ok(())
    }

    /// Docker runs no OCI hooks: the init need not stop before pivot_root.
    fn wants_before_pivot(&self) -> bool {
        false
    }
}

impl Engine {
    /// Builds the spec and overlay for `c` and writes `config.json`.
    pub(crate) fn prepare_launch(&self, c: &Container) -> Result<Launch, EngineError> {
        let image_id = c.image_id.parse().map_err(|_| EngineError::Corrupt {
            id: c.id.clone(),
            reason: format!("image id {:?}", c.image_id),
        })?;
        let layout = self.store().container_rootfs_layout(&image_id, &c.id)?;
        // The init layer (lower[0]) holds only berth's own /etc files.
        let mut files_from: Vec<PathBuf> = vec![layout.upper.clone()];
        files_from.extend(layout.lower.iter().skip(1).cloned());
        let passwd = read_rootfs_file(&files_from, "etc/passwd");
        let group = read_rootfs_file(&files_from, "etc/group");
        let user = resolve_user(&c.config.user, passwd.as_deref(), group.as_deref())?;
        let init_binary = if c.host_config.init {
            self.init_binary()?
        } else {
            None
        };
        let cg = cgroup_path(&c.id);
        let spec = build_spec(&SpecInput {
            config: &c.config,
            options: &c.host_config,
            user: &user,
            rootfs: &layout.rootfs,
            cgroups_path: &cg,
            private_cgroupns: host_is_cgroup2(),
            init_binary: init_binary.as_deref(),
        })?;
        let spec = crate::volume::add_to_spec(self.store(), &c.id, spec)?;
        let bundle = self.container_dir(&c.id);
        let config_path = bundle.join("config.json");
        // Compact: every reader (runc-compatible runtimes, `exec`, `commit`)
        // parses it; pretty printing only made it larger to format and write.
        let json = serde_json::to_vec(&spec).unwrap_or_default();
        fs::write(&config_path, json).map_err(EngineError::io(&c.id, "write", &config_path))?;
        Ok(Launch {
            spec,
            overlay: Overlay {
                lower: layout.lower,
                upper: layout.upper,
                work: layout.work,
                // `--rm`: the upper dir is deleted at exit, so the unmount
                // need not wait for the host filesystem's writeback.
                volatile: c.host_config.auto_remove,
            },
            bundle,
        })
    }

    /// Spawns the init in-process; returns once it has exec'd the entrypoint.
    /// `netns`: a network namespace made ahead (see [`runtime::NetnsAhead`]).
    pub(crate) fn spawn(
        &self,
        c: &Container,
        launch: &Launch,
        stdio: Stdio<'_>,
        console_socket: Option<&Path>,
        netns: Option<BorrowedFd<'_>>,
    ) -> Result<InitProcess, EngineError> {
        let manager = self.cgroup(&c.id)?;
        let resources = launch
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.resources().as_ref());
        let mut hooks = CgroupHooks {
            manager: &manager,
            resources,
        };
        let opts = InitOptions {
            id: &c.id,
            spec: &launch.spec,
            bundle: &launch.bundle,
            overlay: Some(&launch.overlay),
            console_socket,
            no_pivot: false,
            exec_fifo: None,
            stdio,
            preserve_fds: 0,
            netns,
        };
        match runtime::spawn_init(&opts, &mut hooks) {
            Ok(p) => Ok(p),
            Err(e) => {
                let _ = manager.kill_all(Signal::SIGKILL);
                let _ = manager.remove();
                Err(e.into())
            }
        }
    }

    /// Claims the container for this process (the foreground CLI or the
    /// monitor) before spawning, so a crash mid-start is recognised.
    pub(crate) fn record_owner(&self, id: &str) -> Result<(), EngineError> {
        let me = std::process::id() as i32;
        let start = process_start_time(me).unwrap_or(0);
        self.containers().update_state(id, |s| {
            if s.status.is_active() {
                return Err(EngineError::BadState {
                    id: id.to_string(),
                    state: s.status.as_str().into(),
                });
            }
            s.monitor_pid = me;
            s.monitor_start = start;
            s.boot_id = boot_id().to_string();
            Ok(())
        })?;
        Ok(())
    }

    /// Records a running init.
    pub(crate) fn record_started(&self, id: &str, pid: Pid) -> Result<(), EngineError> {
        let start = process_start_time(pid.as_raw()).unwrap_or(0);
        self.containers().update_state(id, |s| {
            s.status = Status::Running;
            s.pid = pid.as_raw();
            s.pid_start = start;
            s.exit_code = 0;
            s.error.clear();
            s.started_at = now_rfc3339();
            Ok(())
        })?;
        Ok(())
    }

    /// Records a start that failed before the entrypoint ran (Docker keeps
    /// the container, with the error and 126/127/125 as exit code).
    pub(crate) fn record_start_failed(&self, id: &str, err: &EngineError) {
        let _ = self.containers().update_state(id, |s| {
            s.status = if s.started_at == crate::container::ZERO_TIME {
                Status::Created
            } else {
                Status::Exited
            };
            s.exit_code = err.exit_code();
            s.error = err.to_string();
            s.pid = 0;
            s.monitor_pid = 0;
            Ok(())
        });
    }

    /// Records the end of the init with its exit code, and removes the
    /// cgroup (killing any straggler first).
    pub(crate) fn record_exit(&self, id: &str, code: i32) {
        let _ = self.containers().update_state(id, |s| {
            s.status = Status::Exited;
            s.exit_code = code;
            s.pid = 0;
            s.pid_start = 0;
            s.monitor_pid = 0;
            s.finished_at = now_rfc3339();
            Ok(())
        });
        self.remove_cgroup(id);
    }

    /// Kills what is left in the container's cgroup and removes it.
    pub(crate) fn remove_cgroup(&self, id: &str) {
        if let Ok(m) = self.cgroup(id) {
            if m.exists() {
                let _ = m.thaw();
                let _ = m.kill_all(Signal::SIGKILL);
                let _ = m.remove();
            }
        }
    }

    /// Reconciles a record with the system: an active container whose init
    /// and owner are both gone is exited (code unknown: 255); a start that
    /// was interrupted leaves no process behind.
    pub(crate) fn reconcile(&self, c: Container) -> Result<Container, EngineError> {
        let s = &c.state;
        let owner = crate::container::ProcessRef {
            pid: s.monitor_pid,
            start: s.monitor_start,
            boot_id: &s.boot_id,
        };
        let init = crate::container::ProcessRef {
            pid: s.pid,
            start: s.pid_start,
            boot_id: &s.boot_id,
        };
        let stale = match s.status {
            Status::Running | Status::Paused | Status::Restarting => {
                !init.alive() && !owner.alive()
            }
            Status::Created | Status::Exited | Status::Dead | Status::Removing => {
                s.monitor_pid != 0 && !owner.alive()
            }
        };
        if !stale {
            return Ok(c);
        }
        let (pid, monitor) = (s.pid, s.monitor_pid);
        let state = self.containers().update_state(&c.id, |st| {
            // Only if nobody changed it meanwhile.
            if st.pid == pid && st.monitor_pid == monitor {
                if st.status.is_active() || st.status == Status::Restarting {
                    st.status = Status::Exited;
                    st.exit_code = EXIT_UNKNOWN;
                    st.finished_at = now_rfc3339();
                }
                st.pid = 0;
                st.monitor_pid = 0;
            }
            Ok(())
        })?;
        self.remove_cgroup(&c.id);
        Ok(Container { state, ..c })
    }
}

/// The static reaper for `--init`, built by `build.rs` (empty when the
/// build host could not link it statically).
const INIT_BINARY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/berth-init"));

impl Engine {
    /// Installs `berth-init` as `<root>/engine/berth-init` (atomically,
    /// once per content) and returns its path; `None` if this build has none.
    fn init_binary(&self) -> Result<Option<PathBuf>, EngineError> {
        if INIT_BINARY.is_empty() {
            return Ok(None);
        }
        let dir = self.store().root().join("engine");
        let path = dir.join("berth-init");
        if fs::metadata(&path).is_ok_and(|m| m.len() == INIT_BINARY.len() as u64)
            && fs::read(&path).is_ok_and(|b| b == INIT_BINARY)
        {
            return Ok(Some(path));
        }
        fs::create_dir_all(&dir).map_err(EngineError::io("berth-init", "create", &dir))?;
        let tmp = dir.join(format!(".berth-init.{}", std::process::id()));
        fs::write(&tmp, INIT_BINARY).map_err(EngineError::io("berth-init", "write", &tmp))?;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755)).map_err(EngineError::io(
            "berth-init",
            "chmod",
            &tmp,
        ))?;
        fs::rename(&tmp, &path).map_err(EngineError::io("berth-init", "rename", &path))?;
        Ok(Some(path))
    }
}
