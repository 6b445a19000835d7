//! Shared helpers of the privileged cgroup tests: unique names, a child
//! process that shows whether it runs, and a guard that kills and removes
//! everything a test made, even when it panics.

#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use cgroups::Manager;
use nix::sys::signal::Signal;

/// A cgroup name no other test (or test run) uses.
pub fn unique(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "berth-test-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A cgroup and the processes a test put in it; dropping it thaws, kills,
/// reaps and removes them.
pub struct Fixture {
    pub mgr: Manager,
    pub children: Vec<Child>,
    pub tmp: tempfile::TempDir,
}

impl Fixture {
    pub fn new(mgr: Manager) -> Self {
        Fixture {
            mgr,
            children: Vec::new(),
            tmp: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// Starts a shell busy loop, whose cpu time shows whether it runs.
    pub fn spawn_busy(&mut self) -> i32 {
        let child = Command::new("/bin/sh")
            .args(["-c", "while :; do :; done"])
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn sh");
        let pid = child.id() as i32;
        self.children.push(child);
        pid
    }

    /// Starts `sh -c script` held at a `read` of stdin, so a test can put it
    /// in a cgroup before it does anything; see [`Fixture::release`].
    pub fn spawn_gated(&mut self, script: &str) -> i32 {
        let child = Command::new("/bin/sh")
            .args(["-c", &format!("read _gate; {script}")])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn sh");
        let pid = child.id() as i32;
        self.children.push(child);
        pid
    }

    /// Lets gated child `i` run and returns what it printed.
    pub fn release(&mut self, i: usize) -> String {
        use std::io::{Read, Write};
        let child = &mut self.children[i];
        let mut stdin = child.stdin.take().expect("gated child");
        stdin.write_all(b"go\n").expect("release child");
        drop(stdin);
        let mut out = String::new();
        child
            .stdout
            .take()
            .expect("gated child")
            .read_to_string(&mut out)
            .expect("read child output");
        child.wait().expect("wait child");
        out
    }

    /// Starts `sleep 1000`.
    pub fn spawn_sleep(&mut self) -> i32 {
        let child = Command::new("sleep")
            .arg("1000")
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn sleep");
        let pid = child.id() as i32;
        self.children.push(child);
        pid
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // A frozen process never dies, so thaw first.
        let _ = self.mgr.thaw();
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = self.mgr.kill_all(Signal::SIGKILL);
        let _ = self.mgr.remove();
    }
}

/// Time `pid` has run on a cpu, in ns (first field of
/// /proc/<pid>/schedstat, exact where /proc/<pid>/stat counts ticks).
pub fn cpu_ns(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/schedstat")).expect("read schedstat");
    stat.split_whitespace().next().unwrap().parse().unwrap()
}

/// Whether `pid` gets cpu time within 5 s (the machine may be loaded:
/// other builds share its cores).
pub fn runs(pid: i32) -> bool {
    let a = cpu_ns(pid);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
        if cpu_ns(pid) != a {
            return true;
        }
    }
    false
}

/// Whether `pid` gets no cpu time at all for 300 ms.
pub fn stays_still(pid: i32) -> bool {
    let a = cpu_ns(pid);
    std::thread::sleep(Duration::from_millis(300));
    cpu_ns(pid) == a
}

/// The state letter of /proc/<pid>/stat (R, S, D, T, Z...).
pub fn proc_state(pid: i32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(") ")
        .and_then(|(_, rest)| rest.chars().next())
        .unwrap_or('?')
}

/// Waits until `child` has exited and returns the signal that killed it.
pub fn wait_signal(child: &mut Child) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status.signal();
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "child did not exit"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The hierarchies of `/proc/<pid>/cgroup`, one line each.
pub fn proc_cgroup(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("read /proc/pid/cgroup")
}

/// Device rules as Docker sends them, trimmed: deny all, then allow
/// /dev/null fully and /dev/zero except writing.
pub fn device_rules() -> Vec<oci_spec::runtime::LinuxDeviceCgroup> {
    use oci_spec::runtime::{LinuxDeviceCgroupBuilder, LinuxDeviceType};
    let rule = |allow: bool, typ: Option<(i64, i64)>, access: &str| {
        let mut b = LinuxDeviceCgroupBuilder::default()
            .allow(allow)
            .access(access);
        if let Some((major, minor)) = typ {
            b = b.typ(LinuxDeviceType::C).major(major).minor(minor);
        }
        b.build().unwrap()
    };
    vec![
        rule(false, None, "rwm"),
        rule(true, Some((1, 3)), "rwm"),
        rule(true, Some((1, 5)), "rwm"),
        rule(false, Some((1, 5)), "w"),
    ]
}

/// Tries each device access [`device_rules`] decides; prints one word each.
pub const DEVICE_SCRIPT: &str = "\
    if head -c1 /dev/zero >/dev/null 2>&1; then echo zero-read-ok; else echo zero-read-denied; fi; \
    if (echo x >/dev/zero) 2>/dev/null; then echo zero-write-ok; else echo zero-write-denied; fi; \
    if (echo x >/dev/null) 2>/dev/null; then echo null-ok; else echo null-denied; fi; \
    if head -c1 /dev/urandom >/dev/null 2>&1; then echo urandom-ok; else echo urandom-denied; fi";

/// What [`DEVICE_SCRIPT`] prints under [`device_rules`].
pub const DEVICE_EXPECTED: &str = "zero-read-ok\nzero-write-denied\nnull-ok\nurandom-denied\n";
