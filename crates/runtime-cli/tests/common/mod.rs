//! Helpers for the `berth-runtime` integration tests: a busybox bundle, a
//! private state root, and a guard that force-deletes every container the
//! test made and checks nothing is left (state, process, cgroup).

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_berth-runtime");

/// A bundle + state root in a temp dir; containers made through it are
/// force-deleted when it drops.
pub struct Env {
    pub tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub bundle: PathBuf,
    cgroups_path: String,
    ids: Vec<String>,
}

impl Env {
    /// A busybox bundle whose process is `args` (no terminal) and whose
    /// cgroup is `/berth-runtime-test-<pid>/<tag>`.
    pub fn new(tag: &str, args: &[&str]) -> Env {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().join("state");
        let bundle = tmp.path().join("bundle");
        fs::create_dir_all(bundle.join("rootfs")).unwrap();
        testkit::busybox_rootfs(&bundle.join("rootfs")).expect("busybox rootfs");
        let out = Command::new(BIN)
            .args(["spec", "--bundle"])
            .arg(&bundle)
            .output()
            .unwrap();
        assert!(out.status.success(), "spec: {}", stderr(&out));
        let env = Env {
            tmp,
            root,
            bundle,
            cgroups_path: format!("/berth-runtime-test-{}/{tag}", std::process::id()),
            ids: Vec::new(),
        };
        env.edit_config(|c| {
            c["process"]["terminal"] = Value::Bool(false);
            c["process"]["args"] = serde_json::json!(args);
            c["linux"]["cgroupsPath"] = Value::String(env.cgroups_path.clone());
        });
        env
    }

    /// Changes `config.json`.
    pub fn edit_config(&self, f: impl FnOnce(&mut Value)) {
        let p = self.bundle.join("config.json");
        let mut v: Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
        f(&mut v);
        fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    }

    /// The spec's cgroupsPath.
    pub fn cgroups_path(&self) -> String {
        self.cgroups_path.clone()
    }

    /// A `berth-runtime --root <root>` command.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--root").arg(&self.root);
        c
    }

    /// Runs a verb with stdin closed and output captured. Not for verbs
    /// that leave a process holding stdout (create, run -d): see `create`.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run berth-runtime")
    }

    /// `create` with stdio on files (the init inherits them and lives on,
    /// so pipes would never reach EOF); returns (status ok, stderr).
    pub fn create(&mut self, id: &str, extra: &[&str]) -> (bool, String) {
        self.ids.push(id.to_string());
        let errf = self.tmp.path().join(format!("create-{id}.err"));
        let status = self
            .cmd()
            .args(["create", "--bundle"])
            .arg(&self.bundle)
            .args(extra)
            .arg(id)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&errf).unwrap())
            .status()
            .unwrap();
        (
            status.success(),
            fs::read_to_string(&errf).unwrap_or_default(),
        )
    }

    /// Remembers `id` for cleanup.
    pub fn track(&mut self, id: &str) {
        self.ids.push(id.to_string());
    }

    /// The `state` JSON of `id`.
    pub fn state(&self, id: &str) -> Value {
        let out = self.run(&["state", id]);
        assert!(out.status.success(), "state {id}: {}", stderr(&out));
        serde_json::from_slice(&out.stdout).expect("state JSON")
    }

    /// Waits until `id` has status `want`.
    pub fn wait_status(&self, id: &str, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let st = self.state(id);
            if st["status"] == want {
                return;
            }
            assert!(Instant::now() < deadline, "{id} never became {want}: {st}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Asserts nothing of container `id` is left: no state dir, no cgroup,
    /// no process started with this state root.
    pub fn assert_clean(&self, id: &str) {
        assert!(!self.root.join(id).exists(), "state dir of {id} left");
        let m = cgroups::Manager::new(Some(&self.cgroups_path()), id).unwrap();
        assert!(!m.exists(), "cgroup of {id} left: {:?}", m.dirs());
        let procs = processes_mentioning(&self.root);
        assert!(procs.is_empty(), "processes left: {procs:?}");
        let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
        let b = self.bundle.display().to_string();
        assert!(!mounts.contains(&b), "mount of the bundle left on the host");
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        for id in self.ids.clone() {
            let _ = self.run(&["delete", "--force", id.as_str()]);
        }
        // Leftovers of a failing test: kill by state root, then remove the
        // cgroup left behind (parent included).
        for pid in processes_mentioning(&self.root) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        if let Ok(m) = cgroups::Manager::new(Some(&self.cgroups_path()), "x") {
            let _ = m.kill_all(nix::sys::signal::Signal::SIGKILL);
            let _ = m.remove();
            // The per-process parent: the last test of this binary to end
            // removes it (rmdir of a non-empty cgroup just fails).
            for d in m.dirs() {
                if let Some(parent) = d.parent() {
                    let _ = fs::remove_dir(parent);
                }
            }
        }
    }
}

/// Pids whose command line mentions `needle` (a state root: the init is a
/// clone of `berth-runtime --root <root> create`).
pub fn processes_mentioning(needle: &Path) -> Vec<i32> {
    let needle = needle.display().to_string();
    let me = std::process::id() as i32;
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(cmd) = fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        // Zombies have an empty cmdline and are gone for every purpose.
        if cmd.contains(&needle) {
            out.push(pid);
        }
    }
    out
}

/// Captured stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts a failed command printed exactly one line on stderr that
/// contains `want`, and exited 1.
pub fn assert_one_line_error(out: &Output, want: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "exit status; stderr: {err}");
    assert_eq!(err.lines().count(), 1, "want one line, got: {err:?}");
    assert!(err.contains(want), "want {want:?} in {err:?}");
}
