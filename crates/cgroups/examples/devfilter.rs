//! Measures the cgroup v2 device filter for Docker's default rules: the
//! verifier's statistics, and the time `Manager::apply` takes to attach
//! the filter with a cold cache (a load each time), without a cache, and
//! with a warm one. Root, on a pure cgroup2 layout (e.g. under
//! `unshare -m` with cgroup2 mounted on /sys/fs/cgroup):
//! `cargo run --release -p cgroups --example devfilter [iterations]`.

use std::time::{Duration, Instant};

use cgroups::{device_filter_stats, Layout, LayoutKind, Manager};
use oci_spec::runtime::{
    LinuxDeviceCgroup, LinuxDeviceCgroupBuilder, LinuxDeviceType, LinuxResourcesBuilder,
};

fn rule(
    allow: bool,
    typ: Option<LinuxDeviceType>,
    mm: Option<(i64, Option<i64>)>,
    access: &str,
) -> LinuxDeviceCgroup {
    let mut b = LinuxDeviceCgroupBuilder::default()
        .allow(allow)
        .access(access);
    if let Some(t) = typ {
        b = b.typ(t);
    }
    if let Some((major, minor)) = mm {
        b = b.major(major);
        if let Some(m) = minor {
            b = b.minor(m);
        }
    }
    b.build().unwrap()
}

/// Docker's default rules, as the engine's spec has them.
fn docker() -> Vec<LinuxDeviceCgroup> {
    use LinuxDeviceType::{B, C};
    let c = |major, minor| rule(true, Some(C), Some((major, minor)), "rwm");
    vec![
        rule(false, None, None, "rwm"),
        rule(true, Some(C), None, "m"),
        rule(true, Some(B), None, "m"),
        c(1, Some(3)),
        c(1, Some(8)),
        c(1, Some(7)),
        c(5, Some(0)),
        c(1, Some(5)),
        c(1, Some(9)),
        c(136, None),
        c(5, Some(2)),
        c(10, Some(200)),
    ]
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Creates a cgroup, times `apply` of `rules`, removes it; `n` times.
fn time_apply(n: usize, parent: &str, cache: Option<&std::path::Path>, cold: bool) -> Duration {
    let res = LinuxResourcesBuilder::default()
        .devices(docker())
        .build()
        .unwrap();
    let mut times = Vec::new();
    for i in 0..n {
        let mut m = Manager::new(Some(&format!("{parent}/c{i}")), "x").unwrap();
        m.set_device_filter_cache(cache.map(Into::into));
        if let (true, Some(c)) = (cold, cache) {
            let _ = std::fs::remove_dir(c);
        }
        m.create().unwrap();
        let t = Instant::now();
        m.apply(&res).unwrap();
        times.push(t.elapsed());
        m.remove().unwrap();
    }
    median(times)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let layout = Layout::detect().expect("detect");
    assert_eq!(layout.kind(), LayoutKind::V2, "needs a pure cgroup2 layout");
    let Layout::Unified(mount) = layout else {
        unreachable!()
    };
    let mut runtime = docker();
    runtime.extend(docker()[1..11].iter().cloned());
    for (name, rules) in [("docker", docker()), ("runtime", runtime)] {
        println!("{name} rules: {:?}", device_filter_stats(&rules).unwrap());
    }
    let parent = format!("berth-devfilter-bench-{}", std::process::id());
    let root = mount.mount_point.join(&parent);
    let cache = root.join("cache");
    std::fs::create_dir(&root).unwrap();
    let parent = format!("/{parent}");
    for (label, cache, cold) in [
        ("cold cache (load + store)", Some(cache.as_path()), true),
        ("no cache (load)", None, false),
        ("warm cache (take by id)", Some(cache.as_path()), false),
    ] {
        let t = time_apply(n, &parent, cache, cold);
        println!(
            "apply(devices), {label}: median {:.1} µs",
            t.as_secs_f64() * 1e6
        );
    }
    let _ = std::fs::remove_dir(&cache);
    std::fs::remove_dir(&root).unwrap();
}
