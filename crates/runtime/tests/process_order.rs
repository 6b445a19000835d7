//! The ordering the init's setup guarantees when the optional waits are
//! skipped (no user namespace, a caller without `before_pivot` work): the
//! child still runs nothing of the container before its cgroup placement
//! and limits, and a `before_pivot` the caller says it does not need is
//! never called.

#[path = "process_common.rs"]
mod common;

use std::fs::{self, File};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{in_child, init_opts, spec, Bundle};
use nix::unistd::Pid;
use runtime::spawn::HookError;
use runtime::{spawn_init, InitHooks, Stdio};

/// A cgroup dir of the pids controller (the v1 hierarchy of a v1 or
/// hybrid host, else the cgroup2 root's child), removed on drop.
struct PidsCgroup(PathBuf);

impl Drop for PidsCgroup {
    fn drop(&mut self) {
        let _ = fs::remove_dir(&self.0);
    }
}

fn pids_cgroup(name: &str) -> PidsCgroup {
    let v1 = Path::new("/sys/fs/cgroup/pids");
    let root = if v1.join("cgroup.procs").exists() {
        v1
    } else {
        let v2 = Path::new("/sys/fs/cgroup");
        let controllers = fs::read_to_string(v2.join("cgroup.subtree_control")).unwrap();
        assert!(
            controllers.split_whitespace().any(|c| c == "pids"),
            "no pids controller delegated below {}: {controllers:?}",
            v2.display()
        );
        v2
    };
    let dir = root.join(format!("{name}-{}", std::process::id()));
    fs::create_dir(&dir).unwrap();
    PidsCgroup(dir)
}

/// Places the init and limits it to one process only after a delay, and
/// has nothing to do before the root switch.
struct LateLimit {
    cgroup: PathBuf,
    pivot_called: PathBuf,
}

impl InitHooks for LateLimit {
    fn after_clone(&mut self, pid: Pid, _in_cgroup: bool) -> Result<(), HookError> {
        // Long enough for a child that does not wait to have exec'd and
        // forked by now.
        std::thread::sleep(Duration::from_millis(300));
        fs::write(self.cgroup.join("pids.max"), "1")?;
        fs::write(self.cgroup.join("cgroup.procs"), pid.to_string())?;
        Ok(())
    }

    fn before_pivot(&mut self, _pid: Pid) -> Result<(), HookError> {
        fs::write(&self.pivot_called, "called")?;
        Ok(())
    }

    fn wants_before_pivot(&self) -> bool {
        false
    }
}

#[test]
fn a_late_limit_is_in_force_before_exec_without_the_pivot_stop() {
    let b = Bundle::busybox();
    // With pids.max 1 the shell (the cgroup's only process) cannot fork.
    let s = spec(&["sh", "-c", "sleep 0 && echo forked"]);
    let cg = pids_cgroup("berth-order-late");
    let out = b.path().join("out");
    let result = b.path().join("result");
    let pivot_called = b.path().join("pivot_called");
    in_child(|| {
        let o = File::create(&out).unwrap();
        let mut opts = init_opts("late-limit", &b, &s);
        opts.stdio = Stdio {
            stdin: None,
            stdout: Some(o.as_fd()),
            stderr: Some(o.as_fd()),
        };
        let mut hooks = LateLimit {
            cgroup: cg.0.clone(),
            pivot_called: pivot_called.clone(),
        };
        let text = match spawn_init(&opts, &mut hooks) {
            Ok(init) => format!("{}", init.wait().unwrap()),
            Err(e) => format!("err {e}"),
        };
        fs::write(&result, text).unwrap();
        0
    });
    let out = fs::read_to_string(&out).unwrap();
    let result = fs::read_to_string(&result).unwrap();
    assert_ne!(result, "0", "the shell forked: {out}");
    assert!(!out.contains("forked") && out.contains("fork"), "{out}");
    assert!(
        !pivot_called.exists(),
        "before_pivot ran though the hooks said they need not"
    );
}
