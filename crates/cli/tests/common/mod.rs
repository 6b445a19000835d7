//! Helpers for the `berth` integration tests: a private store per test,
//! running the real binary, and a private podman store for cross-tool
//! checks. Every helper cleans up in `Drop`, also when a test fails.

#![allow(dead_code)]

pub mod archives;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The `berth` binary under test.
pub const BERTH: &str = env!("CARGO_BIN_EXE_berth");

/// A temporary directory holding a berth store (`root/`) and runroot;
/// removed on drop.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::Builder::new()
                .prefix("berth-it-")
                .tempdir()
                .unwrap(),
        }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// A `berth` command with this env's `--root`/`--runroot`.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BERTH);
        c.arg("--root")
            .arg(self.root())
            .arg("--runroot")
            .arg(self.dir.path().join("run"))
            .args(args)
            .env_remove("BERTH_ROOT")
            .env_remove("BERTH_RUNROOT");
        c
    }

    /// Runs berth with empty stdin.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).stdin(Stdio::null()).output().unwrap()
    }

    /// Runs berth with `input` on stdin.
    pub fn run_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        // The child may fail before reading everything; a broken pipe is
        // part of what is being tested then.
        let _ = stdin.write_all(input);
        drop(stdin);
        child.wait_with_output().unwrap()
    }

    /// Runs berth and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "berth {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs berth, asserts it fails with 125 and one `berth: ` line
    /// containing `needle`; returns stderr.
    pub fn fails(&self, args: &[&str], needle: &str) -> String {
        let out = self.run(args);
        check_failure(args, &out, needle)
    }
}

/// Asserts a Docker-style failure: exit 125 and a one-line message.
pub fn check_failure(args: &[&str], out: &Output, needle: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        out.status.code(),
        Some(125),
        "berth {args:?}: expected exit 125, stderr: {err}"
    );
    assert!(err.starts_with("berth: "), "berth {args:?}: stderr {err:?}");
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err:?}");
    assert!(
        err.contains(needle),
        "berth {args:?}: stderr {err:?} lacks {needle:?}"
    );
    err
}

/// A busybox rootfs tarball in `dir`.
pub fn busybox_tar(dir: &Path) -> PathBuf {
    testkit::busybox_tar(dir).unwrap()
}

/// A podman with a private store, runroot and tmpdir in a temp dir (vfs
/// driver, so nothing is mounted on the host). Drop removes every image
/// and the temp dir.
pub struct Podman {
    pub dir: tempfile::TempDir,
}

impl Podman {
    pub fn new() -> Podman {
        Podman {
            dir: tempfile::Builder::new()
                .prefix("berth-podman-")
                .tempdir()
                .unwrap(),
        }
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("podman");
        c.arg("--root")
            .arg(self.dir.path().join("root"))
            .arg("--runroot")
            .arg(self.dir.path().join("run"))
            .arg("--tmpdir")
            .arg(self.dir.path().join("tmp"))
            .arg("--volumepath")
            .arg(self.dir.path().join("volumes"))
            .args([
                "--storage-driver",
                "vfs",
                "--cgroup-manager",
                "cgroupfs",
                "--events-backend",
                "file",
            ])
            .args(args);
        c
    }

    /// Runs podman and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args).stdin(Stdio::null()).output().unwrap();
        assert!(
            out.status.success(),
            "podman {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.cmd(&["image", "unmount", "--all", "--force"]).output();
        // Not `system reset`: it also touches host-wide podman state.
        let _ = self.cmd(&["rmi", "--all", "--force"]).output();
    }
}

/// The image ids `berth images -q --no-trunc` lists, sorted.
pub fn image_ids(env: &Env) -> Vec<String> {
    let mut v: Vec<String> = env
        .ok(&["images", "-q", "--no-trunc"])
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Every path under `dir` (relative), for "nothing written elsewhere".
pub fn tree(dir: &Path) -> Vec<String> {
    let out = Command::new("find")
        .arg(dir)
        .args(["-mindepth", "1", "-printf", "%P\n"])
        .output()
        .unwrap();
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}
