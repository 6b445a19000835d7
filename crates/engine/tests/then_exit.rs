//! `Engine::run_foreground_then_exit` (root): the process exits with the
//! container's code and all its output, the --rm container is gone by
//! then, and its tree, moved into `tmp/`, is deleted by a detached child
//! (sharing the exited process's memory, on a stack of its own) afterwards,
//! however deep. Without
//! libtest (`harness = false`): the path forks only in a single-threaded
//! process, and libtest always runs tests on threads of its own.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use engine::options::RunFlags;
use engine::Engine;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use rustix::fs::{Mode, OFlags};

/// Set in the re-executed binary: the directory of the store to run in.
const CHILD_ENV: &str = "BERTH_TEST_THEN_EXIT_DIR";

fn main() {
    match std::env::var_os(CHILD_ENV) {
        Some(dir) => child(&PathBuf::from(dir)),
        None => {
            then_exit_reports_the_code_and_the_tree_goes_after();
            println!("test then_exit_reports_the_code_and_the_tree_goes_after ... ok");
        }
    }
}

/// Levels of the directory chain in the container's upper layer: deeper
/// than a small stack would let the deleting child recurse, within the
/// usual limit of 1024 open files (the recursion holds one per level).
const DEPTH: usize = 600;

/// Runs a --rm container that leaves a small tree in its upper layer (and
/// a [`DEPTH`]-deep chain), writes a last line without a newline and
/// exits 5; never returns.
fn child(dir: &Path) {
    let engine = Engine::open(&dir.join("root"), &dir.join("run")).unwrap();
    let flags = RunFlags {
        rm: true,
        ..RunFlags::default()
    };
    let args = [
        "sh".to_string(),
        "-c".into(),
        "mkdir -p /a/b; echo x > /a/b/f; printf 'no newline'; exit 5".into(),
    ];
    let c = engine
        .create_owned("busybox", flags.parse().unwrap(), &args)
        .unwrap();
    // Made here, relative to each level (the chain is far longer than
    // PATH_MAX).
    let upper = engine.store().containers_dir().join(&c.id).join("upper");
    let mut level =
        rustix::fs::open(&upper, OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).unwrap();
    for _ in 0..DEPTH {
        rustix::fs::mkdirat(&level, "d", Mode::RWXU).unwrap();
        level = rustix::fs::openat(
            &level,
            "d",
            OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap();
    }
    drop(level);
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let threads = status.lines().find(|l| l.starts_with("Threads:")).unwrap();
    println!("{threads}");
    let e = engine.run_foreground_then_exit(&c, None);
    panic!("run_foreground_then_exit returned: {e}");
}

fn then_exit_reports_the_code_and_the_tree_goes_after() {
    let dir = tempfile::tempdir().unwrap();
    drop(common::engine_with_busybox(dir.path()));
    // The detached child is reparented to us when the run's process
    // exits, so its own exit status can be checked.
    // SAFETY: prctl(2) with plain integers, on this process only.
    let r = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    assert_eq!(r, 0);
    let started = Instant::now();
    let out = Command::new(std::env::current_exe().unwrap())
        .env(CHILD_ENV, dir.path())
        .output()
        .unwrap();
    // `output()` returning at all shows the detached child holds none of
    // our pipes.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stdout}{stderr}");
    // Flushed before the raw exit.
    assert!(stdout.ends_with("no newline"), "{stdout}");
    assert!(started.elapsed() < Duration::from_secs(30));
    // A single thread: the deletion really went to a detached child.
    assert!(stdout.contains("Threads:\t1"), "{stdout}");
    // That child deleted the whole moved-aside tree and exited cleanly
    // (not killed by an overflow of its stack); checked before any store
    // open, which would delete a leftover itself.
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)).unwrap() {
            WaitStatus::StillAlive => {
                assert!(Instant::now() < deadline, "the deleting child never ended");
                std::thread::sleep(Duration::from_millis(10));
            }
            other => break other,
        }
    };
    assert!(matches!(status, WaitStatus::Exited(_, 0)), "{status:?}");
    let tmp = dir.path().join("root/tmp");
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
    let engine = Engine::open(&dir.path().join("root"), &dir.path().join("run")).unwrap();
    assert!(engine.list().unwrap().is_empty());
    assert_eq!(
        std::fs::read_dir(engine.store().containers_dir())
            .unwrap()
            .count(),
        0
    );
}
