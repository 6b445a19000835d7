//! `podman --runtime <berth-runtime> run --rm` on an image podman imported
//! from a busybox tar: podman (through conmon) drives create, start,
//! state, kill and delete exactly as it drives runc. Runs as root with a
//! private podman store (root, runroot, tmpdir in a temp dir).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{stderr, BIN};

/// A private podman store that is taken apart on drop: mounts under it
/// (podman's shm tmpfs) are detached before the files are removed.
struct Podman {
    tmp: tempfile::TempDir,
}

impl Podman {
    fn new() -> Podman {
        Podman {
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("podman")
            .arg("--root")
            .arg(self.dir("root"))
            .arg("--runroot")
            .arg(self.dir("runroot"))
            .arg("--tmpdir")
            .arg(self.dir("tmp"))
            .args([
                "--storage-driver",
                "vfs",
                "--cgroup-manager",
                "cgroupfs",
                "--events-backend",
                "file",
                "--runtime",
                BIN,
            ])
            .args(args)
            .output()
            .expect("run podman")
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.run(&["rm", "--all", "--force"]);
        let base = self.tmp.path().display().to_string();
        let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut targets: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|t| t.starts_with(&base))
            .collect();
        targets.sort_by_key(|t| std::cmp::Reverse(t.len()));
        for t in targets {
            let _ = nix::mount::umount2(Path::new(t), nix::mount::MntFlags::MNT_DETACH);
        }
        // podman's cgroupfs parent and conmon's cgroup in it, if nothing
        // else uses them (rmdir of a busy cgroup just fails).
        let mut hierarchies = vec![PathBuf::from("/sys/fs/cgroup")];
        if let Ok(rd) = fs::read_dir("/sys/fs/cgroup") {
            hierarchies.extend(rd.flatten().map(|h| h.path()));
        }
        for h in hierarchies {
            let _ = fs::remove_dir(h.join("libpod_parent/conmon"));
            let _ = fs::remove_dir(h.join("libpod_parent"));
        }
    }
}

#[test]
fn podman_run_rm_with_berth_runtime() {
    let podman = Podman::new();
    let tar = testkit::busybox_tar(podman.tmp.path()).unwrap();
    let out = podman.run(&["import", tar.to_str().unwrap(), "localhost/berth-bb:test"]);
    assert!(out.status.success(), "podman import: {}", stderr(&out));
    let out = podman.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--ulimit",
        "nofile=1024:20000",
        "--ulimit",
        "nproc=1024:1024",
        "localhost/berth-bb:test",
        "echo",
        "hi",
    ]);
    assert!(
        out.status.success(),
        "podman run: {} {}",
        out.status,
        stderr(&out)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n");
    // --rm: podman deleted it through berth-runtime.
    let out = podman.run(&["ps", "--all", "--quiet"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "");
}
