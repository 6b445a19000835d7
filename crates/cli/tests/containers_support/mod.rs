//! Shared helpers of the container integration tests (run as root): a temp
//! store with a busybox image imported by `berth import`, a `berth` runner,
//! and a guard that removes every container, process and cgroup the test
//! made, even when the test fails.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The image name the tests import busybox under.
pub const IMAGE: &str = "busybox";

/// A temp `--root`/`--runroot` with busybox imported. Dropping it force-
/// removes every container (which kills processes and removes cgroups),
/// kills any monitor left and deletes the directories.
pub struct Env {
    pub dir: tempfile::TempDir,
}

/// The output of one `berth` call.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Env {
    /// A fresh store with the busybox image.
    pub fn new() -> Env {
        let dir = tempfile::Builder::new()
            .prefix("berth-ctr-test")
            .tempdir()
            .unwrap();
        let env = Env { dir };
        let tar = testkit::busybox_tar(env.dir.path()).unwrap();
        let r = env.berth(&["import", tar.to_str().unwrap(), IMAGE]);
        assert_eq!(r.code, 0, "import failed: {}", r.stderr);
        std::fs::remove_file(tar).unwrap();
        env
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn runroot(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// A `berth` command with this store's `--root`/`--runroot`.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_berth"));
        c.arg("--root")
            .arg(self.root())
            .arg("--runroot")
            .arg(self.runroot());
        c.args(args);
        c.stdin(Stdio::null());
        c
    }

    /// Runs `berth ARGS` to completion.
    pub fn berth(&self, args: &[&str]) -> Run {
        self.cmd(args).output().unwrap().into()
    }

    /// Runs `berth ARGS` and asserts it succeeded; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let r = self.berth(args);
        assert_eq!(r.code, 0, "berth {args:?} failed: {}{}", r.stdout, r.stderr);
        r.stdout
    }

    /// `inspect -f TEMPLATE`.
    pub fn inspect(&self, container: &str, template: &str) -> String {
        self.ok(&["container", "inspect", "-f", template, container])
            .trim()
            .to_string()
    }

    /// Polls `ps -a` until the container's status starts with `prefix`.
    pub fn wait_status(&self, container: &str, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let s = self.inspect(container, "{{.State.Status}} {{.State.ExitCode}}");
            if s.starts_with(prefix) || Instant::now() > deadline {
                return s;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Pids of `__monitor` processes of this store.
    pub fn monitors(&self) -> Vec<i32> {
        let root = self.root().display().to_string();
        let mut out = Vec::new();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                continue;
            };
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(&root) && cmdline.contains("__monitor") {
                out.push(pid);
            }
        }
        out
    }
}

/// Every cgroup directory a container `id` could have on this host
/// (`<hierarchy>/berth/<id>` for each v1 hierarchy, the v2 tree).
pub fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    let mut out = vec![Path::new("/sys/fs/cgroup/berth").join(id)];
    if let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") {
        for e in entries.flatten() {
            out.push(e.path().join("berth").join(id));
        }
    }
    out
}

/// True if the process exists and is not a zombie.
pub fn process_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => {
            let state = s
                .rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().next());
            !matches!(state, Some("Z") | Some("X"))
        }
        Err(_) => false,
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let ids = self.berth(&["ps", "-aq", "--no-trunc"]).stdout;
        for id in ids.lines() {
            let _ = self.berth(&["rm", "-f", id]);
        }
        for pid in self.monitors() {
            kill9(pid);
        }
    }
}

/// SIGKILLs a process (through kill(1): the tests have no libc binding).
pub fn kill9(pid: i32) {
    let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
}
