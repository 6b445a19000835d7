//! Times the cgroup verbs a container start and delete need on this host:
//! `cargo run --release -p cgroups --example lifecycle [iterations]` (root).

use std::process::Command;
use std::time::{Duration, Instant};

use cgroups::{Layout, Manager};
use nix::sys::signal::Signal;
use oci_spec::runtime::{
    LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResourcesBuilder,
};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50);
    println!("layout: {:?}", Layout::detect().expect("detect").kind());
    let res = LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(64 << 20)
                .build()
                .unwrap(),
        )
        .pids(LinuxPidsBuilder::default().limit(100).build().unwrap())
        .cpu(
            LinuxCpuBuilder::default()
                .quota(50_000)
                .period(100_000u64)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let (mut setup, mut freeze, mut teardown) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let mut child = Command::new("sleep")
            .arg("100")
            .spawn()
            .expect("spawn sleep");
        let t = Instant::now();
        let id = format!("berth-bench-{}-{i}", std::process::id());
        let mgr = Manager::new(Some(&format!("/{id}")), &id).expect("manager");
        mgr.create().expect("create");
        mgr.add_task(child.id() as i32).expect("add_task");
        mgr.apply(&res).expect("apply");
        setup.push(t.elapsed());
        let t = Instant::now();
        mgr.freeze().expect("freeze");
        mgr.thaw().expect("thaw");
        freeze.push(t.elapsed());
        let t = Instant::now();
        mgr.kill_all(Signal::SIGKILL).expect("kill_all");
        child.wait().expect("wait");
        mgr.remove().expect("remove");
        teardown.push(t.elapsed());
    }
    println!("median over {n}: new+create+add_task+apply {:?}, freeze+thaw {:?}, kill_all+wait+remove {:?}",
        median(setup), median(freeze), median(teardown));
}
