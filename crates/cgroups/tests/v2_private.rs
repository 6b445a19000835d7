//! Privileged test of the cgroup v2 code path on the hybrid CI machine:
//! the test re-runs itself in a private mount namespace with cgroup2
//! mounted on `/sys/fs/cgroup`, so layout detection sees pure v2.
//!
//! The unified hierarchy is the same one the host shows at
//! `/sys/fs/cgroup/unified`; controllers bound to v1 there (memory, pids,
//! cpu on the CI machine) are absent, so their limits are checked to fail
//! with `ControllerUnavailable`, and read back where a host offers them.

mod common;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use cgroups::{CgroupError, FreezerState, Layout, LayoutKind, Manager};
use common::{
    device_rules, proc_cgroup, proc_state, runs, stays_still, unique, wait_signal, Fixture,
    DEVICE_EXPECTED, DEVICE_SCRIPT,
};
use nix::mount::{mount, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use oci_spec::runtime::{
    LinuxCpuBuilder, LinuxHugepageLimitBuilder, LinuxMemoryBuilder, LinuxPidsBuilder,
    LinuxResources, LinuxResourcesBuilder,
};

const CHILD_ENV: &str = "BERTH_CGROUPS_V2_CHILD";
const TEST_NAME: &str = "v2_manager_in_private_cgroup2_view";
const HOST_UNIFIED: &str = "/sys/fs/cgroup/unified";

#[test]
fn v2_manager_in_private_cgroup2_view() {
    match std::env::var(CHILD_ENV) {
        Ok(name) => in_private_view(&name),
        Err(_) => run_child(),
    }
}

/// Where the unified hierarchy is seen from the host's mount namespace.
fn host_unified_root() -> PathBuf {
    match Layout::detect().expect("detect host layout") {
        Layout::Unified(m) => m.mount_point,
        Layout::Legacy {
            unified: Some(m), ..
        } => m.mount_point,
        Layout::Legacy { unified: None, .. } => PathBuf::from(HOST_UNIFIED),
    }
}

/// Undoes on the host side whatever a crashed child left: processes and
/// the cgroup in the unified hierarchy, and controllers it enabled at the
/// root.
struct HostGuard {
    dir: PathBuf,
    root: PathBuf,
    root_subtree: String,
}

impl Drop for HostGuard {
    fn drop(&mut self) {
        if self.dir.exists() {
            let _ = std::fs::write(self.dir.join("cgroup.kill"), "1");
            for sub in ["sub", "dev2", "devcache", ""] {
                let d = self.dir.join(sub);
                for _ in 0..100 {
                    if std::fs::remove_dir(&d).is_ok() || !d.exists() {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
            }
        }
        restore_subtree(&self.root, &self.root_subtree);
    }
}

/// Disables at `root` the controllers enabled since `before` was read.
fn restore_subtree(root: &Path, before: &str) {
    let now = std::fs::read_to_string(root.join("cgroup.subtree_control")).unwrap_or_default();
    for c in now.split_whitespace() {
        if !before.split_whitespace().any(|b| b == c) {
            let _ = std::fs::write(root.join("cgroup.subtree_control"), format!("-{c}"));
        }
    }
}

fn run_child() {
    let name = unique("v2");
    let root = host_unified_root();
    let mounts_before = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let _guard = HostGuard {
        dir: root.join(&name),
        root_subtree: std::fs::read_to_string(root.join("cgroup.subtree_control")).unwrap(),
        root: root.clone(),
    };
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &name);
    // SAFETY: the closure only makes the unshare(2) syscall, which is
    // async-signal-safe and allocates nothing, between fork and exec.
    unsafe {
        cmd.pre_exec(|| nix::sched::unshare(CloneFlags::CLONE_NEWNS).map_err(std::io::Error::from));
    }
    let out = cmd.output().expect("re-run test binary");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "child failed:\n{text}");
    assert!(text.contains("1 passed"), "child ran no test:\n{text}");
    eprintln!("--- child in private cgroup2 view ---\n{text}");
    assert!(
        !root.join(&name).exists(),
        "cgroup left in {}",
        root.display()
    );
    let mounts_after = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert_eq!(mounts_before, mounts_after, "host mount table changed");
}

/// Runs in the child, alone in its mount namespace.
fn in_private_view(name: &str) {
    // Nothing below may propagate back to the host.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .expect("make / rprivate");
    mount(
        Some("cgroup2"),
        "/sys/fs/cgroup",
        Some("cgroup2"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .expect("mount cgroup2");
    assert_eq!(Layout::detect().unwrap().kind(), LayoutKind::V2);

    let root = Path::new("/sys/fs/cgroup");
    let available = read(root, "cgroup.controllers");
    let has = |c: &str| available.split_whitespace().any(|a| a == c);
    eprintln!("cgroup2 controllers available in the private view: {available:?}");

    let mut mgr = Manager::new(Some(&format!("/{name}")), "unused").unwrap();
    // The device filter cache inside the test's cgroup, not at the root
    // of the host's hierarchy: it goes with the cgroup.
    mgr.set_device_filter_cache(Some(root.join(name).join("devcache")));
    assert_eq!(mgr.kind(), LayoutKind::V2);
    assert_eq!(mgr.dirs(), [root.join(name)]);
    let mut fx = Fixture::new(mgr.clone());
    mgr.create().unwrap();
    let dir = root.join(name);
    // Every controller of the root was delegated down to the new cgroup.
    assert_eq!(read(&dir, "cgroup.controllers"), available);

    let pid = fx.spawn_busy();
    mgr.add_task(pid).unwrap();
    assert_eq!(
        proc_cgroup(pid).lines().last().unwrap(),
        format!("0::/{name}")
    );
    assert_eq!(mgr.pids().unwrap(), vec![pid]);

    check_limit(
        &mgr,
        &dir,
        has("hugetlb"),
        hugetlb(),
        "hugetlb",
        &[("hugetlb.2MB.max", "4194304")],
    );
    check_limit(
        &mgr,
        &dir,
        has("memory"),
        memory(),
        "memory",
        &[("memory.max", "67108864"), ("memory.swap.max", "67108864")],
    );
    check_limit(
        &mgr,
        &dir,
        has("pids"),
        pids(),
        "pids",
        &[("pids.max", "20")],
    );
    check_limit(
        &mgr,
        &dir,
        has("cpu"),
        cpu(),
        "cpu",
        &[("cpu.max", "50000 100000"), ("cpu.weight", "59")],
    );

    let stats = mgr.stats().unwrap();
    assert!(stats.cpu_usage_ns.is_some(), "{stats:?}");
    assert_eq!(stats.pids_current.is_some(), has("pids"), "{stats:?}");

    assert!(runs(pid), "process does not run before freeze");
    mgr.freeze().unwrap();
    assert_eq!(read(&dir, "cgroup.freeze"), "1");
    assert_eq!(mgr.freezer_state().unwrap(), FreezerState::Frozen);
    assert!(stays_still(pid), "process runs while frozen");
    eprintln!("frozen process state: {}", proc_state(pid));
    mgr.thaw().unwrap();
    assert_eq!(mgr.freezer_state().unwrap(), FreezerState::Thawed);
    assert!(runs(pid), "process does not resume after thaw");

    // A nested cgroup: listed, signalled and removed with its parent. Its
    // parent holds a process, so delegating to it is refused and
    // tolerated (the no-internal-process rule).
    let sub = Manager::new(Some(&format!("/{name}/sub")), "unused").unwrap();
    sub.create().unwrap();
    let sub_pid = fx.spawn_sleep();
    sub.add_task(sub_pid).unwrap();
    let mut all = vec![pid, sub_pid];
    all.sort_unstable();
    assert_eq!(mgr.pids().unwrap(), all);

    // SIGTERM: freeze, signal each, thaw.
    mgr.kill_all(Signal::SIGTERM).unwrap();
    assert_eq!(wait_signal(&mut fx.children[0]), Some(libc::SIGTERM));
    assert_eq!(wait_signal(&mut fx.children[1]), Some(libc::SIGTERM));
    assert_eq!(mgr.freezer_state().unwrap(), FreezerState::Thawed);

    // SIGKILL: cgroup.kill.
    let pid = fx.spawn_sleep();
    mgr.add_task(pid).unwrap();
    mgr.kill_all(Signal::SIGKILL).unwrap();
    assert_eq!(wait_signal(&mut fx.children[2]), Some(libc::SIGKILL));

    // Device rules become an eBPF program attached to the cgroup.
    let pid = fx.spawn_gated(DEVICE_SCRIPT);
    mgr.add_task(pid).unwrap();
    let res = LinuxResourcesBuilder::default()
        .devices(device_rules())
        .build()
        .unwrap();
    mgr.apply(&res).unwrap();
    assert_eq!(fx.release(3), DEVICE_EXPECTED);
    assert!(dir.join("devcache").is_dir(), "the filter was not cached");
    // A second container with the same rules takes the cached filter;
    // the policy is the same.
    let mut dev2 = Manager::new(Some(&format!("/{name}/dev2")), "unused").unwrap();
    dev2.set_device_filter_cache(Some(dir.join("devcache")));
    dev2.create().unwrap();
    let pid = fx.spawn_gated(DEVICE_SCRIPT);
    dev2.add_task(pid).unwrap();
    dev2.apply(&res).unwrap();
    assert_eq!(fx.release(4), DEVICE_EXPECTED);

    mgr.remove().unwrap();
    assert!(!mgr.exists() && !sub.exists());
    assert!(!dir.exists());
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.join(file).display()))
        .trim()
        .to_string()
}

/// Applies `res`: where `controller` is delegated, each file must read
/// back as written; where it is not, the error must say so.
fn check_limit(
    mgr: &Manager,
    dir: &Path,
    available: bool,
    res: LinuxResources,
    controller: &str,
    files: &[(&str, &str)],
) {
    let result = mgr.apply(&res);
    if available {
        result.unwrap_or_else(|e| panic!("{controller}: {e}"));
        for (file, value) in files {
            assert_eq!(read(dir, file), *value, "{file}");
        }
    } else {
        match result {
            Err(CgroupError::ControllerUnavailable {
                controller: c,
                path,
            }) => {
                assert_eq!(c, controller);
                assert_eq!(path, dir);
            }
            other => panic!("{controller} not delegated, yet apply gave {other:?}"),
        }
        eprintln!("{controller}: not available on cgroup2 here (bound to v1)");
    }
}

fn hugetlb() -> LinuxResources {
    let limit = LinuxHugepageLimitBuilder::default()
        .page_size("2MB")
        .limit(4 << 20)
        .build()
        .unwrap();
    LinuxResourcesBuilder::default()
        .hugepage_limits(vec![limit])
        .build()
        .unwrap()
}

fn memory() -> LinuxResources {
    let mem = LinuxMemoryBuilder::default()
        .limit(64 << 20)
        .swap(128 << 20)
        .build()
        .unwrap();
    LinuxResourcesBuilder::default()
        .memory(mem)
        .build()
        .unwrap()
}

fn pids() -> LinuxResources {
    let pids = LinuxPidsBuilder::default().limit(20).build().unwrap();
    LinuxResourcesBuilder::default().pids(pids).build().unwrap()
}

fn cpu() -> LinuxResources {
    let cpu = LinuxCpuBuilder::default()
        .shares(512u64)
        .quota(50_000)
        .period(100_000u64)
        .build()
        .unwrap();
    LinuxResourcesBuilder::default().cpu(cpu).build().unwrap()
}
