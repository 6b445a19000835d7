//! Privileged tests on the host's own cgroup layout (hybrid on the CI
//! machine: v1 controllers, a named systemd hierarchy and an empty
//! cgroup2 mount). Each test makes its own uniquely named cgroup.

mod common;

use std::path::{Path, PathBuf};

use cgroups::{CgroupError, FreezerState, LayoutKind, Manager};
use common::{
    device_rules, proc_cgroup, proc_state, runs, stays_still, unique, wait_signal, Fixture,
    DEVICE_EXPECTED, DEVICE_SCRIPT,
};
use nix::sys::signal::Signal;
use oci_spec::runtime::{
    LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResources, LinuxResourcesBuilder,
};

const MIB: i64 = 1 << 20;

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.join(file).display()))
        .trim()
        .to_string()
}

/// The container's directory in the hierarchy whose mount point ends in
/// `ctrl` (v1), or the single v2 directory.
fn dir_of(mgr: &Manager, ctrl: &str) -> PathBuf {
    let dirs = mgr.dirs();
    if mgr.kind() == LayoutKind::V2 {
        return dirs[0].clone();
    }
    dirs.into_iter()
        .find(|d| {
            d.strip_prefix("/sys/fs/cgroup")
                .ok()
                .and_then(|r| r.components().next())
                .is_some_and(|c| {
                    c.as_os_str()
                        .to_string_lossy()
                        .split(',')
                        .any(|x| x == ctrl)
                })
        })
        .unwrap_or_else(|| panic!("no {ctrl} hierarchy"))
}

fn limits() -> LinuxResources {
    LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(64 * MIB)
                .swap(128 * MIB)
                .reservation(32 * MIB)
                .build()
                .unwrap(),
        )
        .pids(LinuxPidsBuilder::default().limit(20).build().unwrap())
        .cpu(
            LinuxCpuBuilder::default()
                .shares(512u64)
                .quota(50_000)
                .period(100_000u64)
                .burst(10_000u64)
                .cpus("0")
                .mems("0")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

#[test]
fn limits_freeze_kill_and_remove() {
    let name = unique("host");
    let mgr = Manager::new(Some(&format!("/{name}")), "unused").unwrap();
    let mut fx = Fixture::new(mgr.clone());
    mgr.create().unwrap();
    assert!(mgr.exists());
    for d in mgr.dirs() {
        assert!(d.is_dir(), "{} not created", d.display());
    }

    let pid = fx.spawn_busy();
    mgr.add_task(pid).unwrap();
    // Every hierarchy, named systemd and hybrid's cgroup2 included.
    let cg = proc_cgroup(pid);
    for line in cg.lines() {
        assert!(line.ends_with(&format!("/{name}")), "{line} in\n{cg}");
    }

    mgr.apply(&limits()).unwrap();
    if mgr.kind() == LayoutKind::V2 {
        let d = &mgr.dirs()[0];
        assert_eq!(read(d, "memory.max"), (64 * MIB).to_string());
        assert_eq!(read(d, "memory.swap.max"), (64 * MIB).to_string());
        assert_eq!(read(d, "memory.low"), (32 * MIB).to_string());
        assert_eq!(read(d, "pids.max"), "20");
        assert_eq!(read(d, "cpu.max"), "50000 100000");
        assert_eq!(read(d, "cpu.weight"), "59");
        assert_eq!(read(d, "cpu.max.burst"), "10000");
        assert_eq!(read(d, "cpuset.cpus"), "0");
    } else {
        let mem = dir_of(&mgr, "memory");
        assert_eq!(read(&mem, "memory.limit_in_bytes"), (64 * MIB).to_string());
        assert_eq!(
            read(&mem, "memory.memsw.limit_in_bytes"),
            (128 * MIB).to_string()
        );
        assert_eq!(
            read(&mem, "memory.soft_limit_in_bytes"),
            (32 * MIB).to_string()
        );
        assert_eq!(read(&dir_of(&mgr, "pids"), "pids.max"), "20");
        let cpu = dir_of(&mgr, "cpu");
        assert_eq!(read(&cpu, "cpu.cfs_quota_us"), "50000");
        assert_eq!(read(&cpu, "cpu.cfs_period_us"), "100000");
        assert_eq!(read(&cpu, "cpu.shares"), "512");
        assert_eq!(read(&cpu, "cpu.cfs_burst_us"), "10000");
        assert_eq!(read(&dir_of(&mgr, "cpuset"), "cpuset.cpus"), "0");
    }

    // v1 refuses memory > memsw at every moment, so raising and lowering
    // both need the right order of writes.
    if mgr.kind() != LayoutKind::V2 {
        let mem = dir_of(&mgr, "memory");
        for (limit, swap) in [(256 * MIB, 512 * MIB), (32 * MIB, 48 * MIB), (-1, -1)] {
            let res = LinuxResourcesBuilder::default()
                .memory(
                    LinuxMemoryBuilder::default()
                        .limit(limit)
                        .swap(swap)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap();
            mgr.apply(&res)
                .unwrap_or_else(|e| panic!("{limit}/{swap}: {e}"));
            let unlimited = |v: String| {
                if limit == -1 {
                    v.len() > 15
                } else {
                    v == limit.to_string()
                }
            };
            assert!(unlimited(read(&mem, "memory.limit_in_bytes")));
            let memsw = read(&mem, "memory.memsw.limit_in_bytes");
            assert!(if swap == -1 {
                memsw.len() > 15
            } else {
                memsw == swap.to_string()
            });
        }
        mgr.apply(&limits()).unwrap();
    }

    assert_eq!(mgr.pids().unwrap(), vec![pid]);
    assert!(runs(pid), "process does not run before freeze");
    let stats = mgr.stats().unwrap();
    assert_eq!(stats.memory_limit, Some(64 * MIB as u64));
    assert_eq!(stats.pids_limit, Some(20));
    assert!(stats.pids_current >= Some(1), "{stats:?}");
    // v1 does not move charges on migration: usage may be 0 here.
    assert!(stats.memory_usage.is_some(), "{stats:?}");
    assert!(stats.cpu_usage_ns > Some(0), "{stats:?}");

    mgr.freeze().unwrap();
    assert_eq!(mgr.freezer_state().unwrap(), FreezerState::Frozen);
    assert!(stays_still(pid), "process runs while frozen");
    let state = proc_state(pid);
    assert!("DST".contains(state), "frozen process in state {state}");
    mgr.thaw().unwrap();
    assert_eq!(mgr.freezer_state().unwrap(), FreezerState::Thawed);
    assert!(runs(pid), "process does not resume after thaw");

    mgr.kill_all(Signal::SIGKILL).unwrap();
    assert_eq!(wait_signal(&mut fx.children[0]), Some(libc::SIGKILL));
    assert_eq!(mgr.pids().unwrap(), Vec::<i32>::new());

    mgr.remove().unwrap();
    assert!(!mgr.exists());
    for d in mgr.dirs() {
        assert!(!d.exists(), "{} left behind", d.display());
    }
    // Removing again is fine: delete after a crash must not fail.
    mgr.remove().unwrap();
}

#[test]
fn kill_all_reaches_nested_cgroups_and_remove_goes_leaf_first() {
    let name = unique("nested");
    let mgr = Manager::new(Some(&format!("/{name}")), "unused").unwrap();
    let sub = Manager::new(Some(&format!("/{name}/sub")), "unused").unwrap();
    let mut fx = Fixture::new(mgr.clone());
    let _sub_fx = Fixture::new(sub.clone());
    if mgr.kind() != LayoutKind::V2 {
        // A parent made by someone else, with an empty cpuset: creating
        // the child must fill it too, or the kernel refuses tasks (ENOSPC).
        std::fs::create_dir(dir_of(&mgr, "cpuset")).unwrap();
        assert_eq!(read(&dir_of(&mgr, "cpuset"), "cpuset.cpus"), "");
    }
    // The child first: its create fills the whole cpuset chain.
    sub.create().unwrap();
    mgr.create().unwrap();
    let top_pid = fx.spawn_sleep();
    let sub_pid = fx.spawn_sleep();
    mgr.add_task(top_pid).unwrap();
    sub.add_task(sub_pid).unwrap();

    let mut expected = vec![top_pid, sub_pid];
    expected.sort_unstable();
    assert_eq!(mgr.pids().unwrap(), expected);
    assert_eq!(sub.pids().unwrap(), vec![sub_pid]);

    // SIGTERM takes the freeze/signal/thaw path on every layout.
    mgr.kill_all(Signal::SIGTERM).unwrap();
    assert_eq!(wait_signal(&mut fx.children[0]), Some(libc::SIGTERM));
    assert_eq!(wait_signal(&mut fx.children[1]), Some(libc::SIGTERM));
    assert_eq!(mgr.freezer_state().unwrap(), FreezerState::Thawed);

    mgr.remove().unwrap();
    assert!(!sub.exists() && !mgr.exists());
}

#[test]
fn bad_values_fail_before_writing_and_kernel_refusals_name_the_file() {
    let name = unique("bad");
    let mgr = Manager::new(Some(&format!("/{name}")), "unused").unwrap();
    let _fx = Fixture::new(mgr.clone());
    mgr.create().unwrap();

    // Quota below 1 ms together with a valid memory limit: the memory
    // limit must not be written either.
    let res = LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(64 * MIB)
                .build()
                .unwrap(),
        )
        .cpu(LinuxCpuBuilder::default().quota(500).build().unwrap())
        .build()
        .unwrap();
    let err = mgr.apply(&res).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid resource cpu.quota = 500: must be -1 or at least 1000 µs (1 ms)"
    );
    let stats = mgr.stats().unwrap();
    assert_eq!(
        stats.memory_limit, None,
        "memory limit written despite bad quota"
    );

    let bad_cpuset = LinuxResourcesBuilder::default()
        .cpu(LinuxCpuBuilder::default().cpus("0-").build().unwrap())
        .build()
        .unwrap();
    assert!(matches!(
        mgr.apply(&bad_cpuset),
        Err(CgroupError::InvalidResource {
            field: "cpu.cpus",
            ..
        })
    ));

    // Well-formed but refused by the kernel: no such CPU.
    let no_cpu = LinuxResourcesBuilder::default()
        .cpu(LinuxCpuBuilder::default().cpus("1000").build().unwrap())
        .build()
        .unwrap();
    let err = mgr.apply(&no_cpu).unwrap_err().to_string();
    assert!(
        err.starts_with("failed to write \"1000\" to /sys/fs/cgroup/")
            && err.contains(&format!("{name}/cpuset.cpus: ")),
        "{err}"
    );

    // Unlimited values read back as the kernel's maximum.
    let unlimited = LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(-1)
                .swap(-1)
                .build()
                .unwrap(),
        )
        .pids(LinuxPidsBuilder::default().limit(-1).build().unwrap())
        .build()
        .unwrap();
    mgr.apply(&unlimited).unwrap();
    let stats = mgr.stats().unwrap();
    assert_eq!(
        (stats.memory_limit, stats.pids_limit),
        (None, None),
        "{stats:?}"
    );
    assert_eq!(read(&dir_of(&mgr, "pids"), "pids.max"), "max");
}

#[test]
fn relative_path_lands_under_own_cgroup_in_each_hierarchy() {
    let name = unique("rel");
    let mgr = Manager::new(Some(&name), "unused").unwrap();
    let mut fx = Fixture::new(mgr.clone());
    mgr.create().unwrap();
    let pid = fx.spawn_sleep();
    mgr.add_task(pid).unwrap();
    let own = std::fs::read_to_string("/proc/thread-self/cgroup").unwrap();
    let theirs = proc_cgroup(pid);
    for (mine, line) in own.lines().zip(theirs.lines()) {
        let base = mine.rsplit_once(':').unwrap().1.trim_end_matches('/');
        let (head, path) = line.rsplit_once(':').unwrap();
        assert!(mine.starts_with(head), "{mine} vs {line}");
        if mgr.kind() == LayoutKind::V2 {
            let parent = Path::new(base).parent().unwrap_or(Path::new("/"));
            assert_eq!(Path::new(path), parent.join(&name));
        } else {
            assert_eq!(path, format!("{base}/{name}"), "{line}");
        }
    }
    fx.children[0].kill().unwrap();
    fx.children[0].wait().unwrap();
    mgr.remove().unwrap();
    assert!(!mgr.exists());
}

#[test]
fn device_rules_are_enforced() {
    let name = unique("dev");
    let mgr = Manager::new(Some(&format!("/{name}")), "unused").unwrap();
    let mut fx = Fixture::new(mgr.clone());
    mgr.create().unwrap();
    // Outside the cgroup every access works: the script itself is sound.
    fx.spawn_gated(DEVICE_SCRIPT);
    assert_eq!(
        fx.release(0),
        "zero-read-ok\nzero-write-ok\nnull-ok\nurandom-ok\n"
    );
    let pid = fx.spawn_gated(DEVICE_SCRIPT);
    mgr.add_task(pid).unwrap();
    let res = LinuxResourcesBuilder::default()
        .devices(device_rules())
        .build()
        .unwrap();
    mgr.apply(&res).unwrap();
    assert_eq!(fx.release(1), DEVICE_EXPECTED);
    mgr.remove().unwrap();
}

#[test]
fn block_io_throttle_and_weight() {
    use oci_spec::runtime::{LinuxBlockIoBuilder, LinuxThrottleDeviceBuilder};
    let name = unique("blkio");
    let mgr = Manager::new(Some(&format!("/{name}")), "unused").unwrap();
    let _fx = Fixture::new(mgr.clone());
    mgr.create().unwrap();
    // The first whole disk of /proc/partitions.
    let parts = std::fs::read_to_string("/proc/partitions").unwrap();
    let (major, minor) = parts
        .lines()
        .skip(2)
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 4).then(|| (f[0].parse::<i64>().unwrap(), f[1].parse::<i64>().unwrap()))
        })
        .expect("a block device");
    let throttle = LinuxThrottleDeviceBuilder::default()
        .major(major)
        .minor(minor)
        .rate(1_048_576u64)
        .build()
        .unwrap();
    let res = LinuxResourcesBuilder::default()
        .block_io(
            LinuxBlockIoBuilder::default()
                .weight(300u16)
                .throttle_read_bps_device(vec![throttle])
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    mgr.apply(&res).unwrap();
    if mgr.kind() == LayoutKind::V2 {
        let d = &mgr.dirs()[0];
        assert!(read(d, "io.max").contains(&format!("{major}:{minor} rbps=1048576")));
    } else {
        let d = dir_of(&mgr, "blkio");
        assert_eq!(
            read(&d, "blkio.throttle.read_bps_device"),
            format!("{major}:{minor} 1048576")
        );
        let weight = if d.join("blkio.weight").exists() {
            "blkio.weight"
        } else {
            "blkio.bfq.weight"
        };
        assert!(read(&d, weight).contains("300"), "{}", read(&d, weight));
    }
    mgr.remove().unwrap();
}

#[test]
fn oom_kill_is_counted() {
    let name = unique("oom");
    let mgr = Manager::new(Some(&format!("/{name}")), "unused").unwrap();
    let mut fx = Fixture::new(mgr.clone());
    mgr.create().unwrap();
    let limit = LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(16 * MIB)
                .swap(16 * MIB)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    mgr.apply(&limit).unwrap();
    assert_eq!(mgr.stats().unwrap().oom_kills, Some(0));
    // A shell variable of 64 MiB cannot fit in 16 MiB without swap.
    let pid = fx.spawn_gated("x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo survived");
    mgr.add_task(pid).unwrap();
    let out = fx.release(0);
    let stats = mgr.stats().unwrap();
    assert!(
        stats.oom_kills >= Some(1),
        "{stats:?}, child printed {out:?}"
    );
    mgr.remove().unwrap();
}

/// Puts back the controllers a test enabled at a cgroup2 root.
struct SubtreeGuard {
    root: PathBuf,
    before: String,
}

impl Drop for SubtreeGuard {
    fn drop(&mut self) {
        let file = self.root.join("cgroup.subtree_control");
        let now = std::fs::read_to_string(&file).unwrap_or_default();
        for c in now.split_whitespace() {
            if !self.before.split_whitespace().any(|b| b == c) {
                let _ = std::fs::write(&file, format!("-{c}"));
            }
        }
    }
}

#[test]
fn hybrid_sends_cgroup2_only_limits_to_the_unified_hierarchy() {
    use std::collections::HashMap;

    use cgroups::Layout;
    use oci_spec::runtime::LinuxHugepageLimitBuilder;

    let name = unique("hyb");
    let mgr = Manager::new(Some(&format!("/{name}")), "unused").unwrap();
    let unified_root = match Layout::detect().unwrap() {
        Layout::Unified(m) => Some(m.mount_point),
        Layout::Legacy { unified, .. } => unified.map(|m| m.mount_point),
    };
    let _restore = unified_root.as_ref().map(|root| SubtreeGuard {
        root: root.clone(),
        before: read(root, "cgroup.subtree_control"),
    });
    let _fx = Fixture::new(mgr.clone());
    mgr.create().unwrap();
    let limit = LinuxHugepageLimitBuilder::default()
        .page_size("2MB")
        .limit(4 << 20)
        .build()
        .unwrap();
    let res = LinuxResourcesBuilder::default()
        .hugepage_limits(vec![limit])
        .unified(HashMap::from([(
            "cgroup.max.depth".to_string(),
            "3".to_string(),
        )]))
        .build()
        .unwrap();
    let result = mgr.apply(&res);
    match (mgr.kind(), &unified_root) {
        (LayoutKind::V1, _) => {
            let err = result.unwrap_err();
            assert!(
                matches!(
                    err,
                    CgroupError::InvalidResource {
                        field: "unified",
                        ..
                    }
                ),
                "{err}"
            );
        }
        (_, Some(root)) => {
            let offered = read(root, "cgroup.controllers");
            let v1_hugetlb = mgr
                .dirs()
                .iter()
                .any(|d| d.starts_with("/sys/fs/cgroup/hugetlb"));
            let dir = mgr
                .dirs()
                .into_iter()
                .find(|d| d.starts_with(root))
                .unwrap();
            if offered.split_whitespace().any(|c| c == "hugetlb") || v1_hugetlb {
                result.unwrap();
                assert_eq!(read(&dir, "cgroup.max.depth"), "3");
                if !v1_hugetlb {
                    assert_eq!(read(&dir, "hugetlb.2MB.max"), "4194304");
                }
            } else {
                assert!(matches!(
                    result,
                    Err(CgroupError::ControllerUnavailable {
                        controller: "hugetlb",
                        ..
                    })
                ));
            }
        }
        (kind, None) => panic!("{kind:?} without a cgroup2 mount"),
    }
    mgr.remove().unwrap();
    assert!(!mgr.exists());
}
