//! The busybox copy must be runnable at once even while other threads of
//! the test process fork: a child that has not exec'd yet holds a copy of
//! every fd, and a write fd to the new binary makes its exec fail with
//! "text file busy" (ETXTBSY) for as long as that child lives.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// Forks a child that sleeps for `hold` without exec'ing and returns its
/// pid.
fn fork_and_hold(hold: Duration) -> libc::pid_t {
    let ts = libc::timespec {
        tv_sec: hold.as_secs() as libc::time_t,
        tv_nsec: hold.subsec_nanos() as libc::c_long,
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

/// How long each forked child keeps its copy of the fds: longer than
/// building a rootfs takes between the copy and the exec.
const HOLD: Duration = Duration::from_millis(150);
/// How often the thread forks; with `HOLD`, ~150 children at a time.
const FORK_EVERY: Duration = Duration::from_millis(1);

/// Tells the forking thread to stop when the test ends, passed or not.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

#[test]
fn copied_busybox_runs_while_other_threads_fork() {
    let stop = Arc::new(AtomicBool::new(false));
    let _stop_guard = StopOnDrop(stop.clone());
    let forker = {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut pids = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let pid = fork_and_hold(HOLD);
                assert!(pid > 0, "fork failed");
                pids.push(pid);
                reap(&mut pids);
                thread::sleep(FORK_EVERY);
            }
            while !pids.is_empty() {
                reap(&mut pids);
                thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let base = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for i in 0..20 {
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
