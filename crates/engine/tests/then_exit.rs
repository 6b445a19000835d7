//! `Engine::run_foreground_then_exit` (root): the process exits with the
//! container's code, the --rm container is gone by then, and its tree,
//! moved into `tmp/`, is deleted by a detached child afterwards. Without
//! libtest (`harness = false`): the path forks only in a single-threaded
//! process, and libtest always runs tests on threads of its own.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use engine::options::RunFlags;
use engine::Engine;

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

/// Runs a --rm container that leaves a small tree in its upper layer and
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
        "mkdir -p /a/b; echo x > /a/b/f; exit 5".into(),
    ];
    let c = engine
        .create_owned("busybox", flags.parse().unwrap(), &args)
        .unwrap();
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let threads = status.lines().find(|l| l.starts_with("Threads:")).unwrap();
    println!("{threads}");
    let e = engine.run_foreground_then_exit(&c, None);
    panic!("run_foreground_then_exit returned: {e}");
}

fn then_exit_reports_the_code_and_the_tree_goes_after() {
    let dir = tempfile::tempdir().unwrap();
    drop(common::engine_with_busybox(dir.path()));
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
    assert!(started.elapsed() < Duration::from_secs(30));
    // A single thread: the deletion really went to a forked child.
    assert!(stdout.contains("Threads:\t1"), "{stdout}");
    let engine = Engine::open(&dir.path().join("root"), &dir.path().join("run")).unwrap();
    assert!(engine.list().unwrap().is_empty());
    assert_eq!(
        std::fs::read_dir(engine.store().containers_dir())
            .unwrap()
            .count(),
        0
    );
    // The moved-aside tree is deleted by the detached child shortly after.
    let tmp = dir.path().join("root/tmp");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_dir(&tmp).unwrap().count() != 0 {
        assert!(Instant::now() < deadline, "tmp/ never emptied");
        std::thread::sleep(Duration::from_millis(10));
    }
}
