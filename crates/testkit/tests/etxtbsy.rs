//! The busybox copy must be runnable at once even while other threads of
//! the test process fork: a child that has not exec'd yet holds a copy of
//! every fd, and a write fd to the new binary makes its exec fail with
//! "text file busy" (ETXTBSY) for as long as that child lives.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// Forks a child that sleeps `ms` without exec'ing and returns its pid.
fn fork_and_hold(ms: i64) -> libc::pid_t {
    let ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: ms * 1_000_000,
    };
    // SAFETY: the child calls only async-signal-safe functions (nanosleep,
    // _exit) before it ends, as required after fork in a threaded process.
    unsafe {
        let pid = libc::fork();
        if pid == 0 {
            libc::nanosleep(&ts, std::ptr::null_mut());
            libc::_exit(0);
        }
        pid
    }
}

/// Reaps those of `pids` that have ended, without blocking; only these,
/// so the test's own `Command`s keep their children.
fn reap(pids: &mut Vec<libc::pid_t>) {
    // SAFETY: waitpid on our own child's pid with WNOHANG only reads and
    // clears its exit state.
    pids.retain(|&p| unsafe { libc::waitpid(p, std::ptr::null_mut(), libc::WNOHANG) } == 0);
}

#[test]
fn copied_busybox_runs_while_other_threads_fork() {
    let stop = Arc::new(AtomicBool::new(false));
    let forker = {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut pids = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let pid = fork_and_hold(300);
                assert!(pid > 0, "fork failed");
                pids.push(pid);
                reap(&mut pids);
                thread::sleep(Duration::from_micros(500));
            }
            while !pids.is_empty() {
                reap(&mut pids);
                thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let base = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for i in 0..10 {
        let root = base.path().join(i.to_string());
        testkit::busybox_rootfs(&root).unwrap();
        match Command::new(root.join("bin/busybox")).arg("true").status() {
            Ok(s) if s.success() => {}
            Ok(s) => failures.push(format!("round {i}: {s}")),
            Err(e) => failures.push(format!("round {i}: {e}")),
        }
    }
    stop.store(true, Ordering::Relaxed);
    forker.join().unwrap();
    assert!(failures.is_empty(), "{failures:?}");
}
