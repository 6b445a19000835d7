//! `update`'s input: the `--resources` document with the single-value
//! flags applied on top, as runc merges them.

use std::io::Read;

use anyhow::Context;
use oci_spec::runtime::LinuxResources;

use crate::cli::UpdateArgs;

/// The resources to apply.
pub fn resources(a: &UpdateArgs) -> anyhow::Result<LinuxResources> {
    let mut res: LinuxResources = match &a.resources {
        None => LinuxResources::default(),
        Some(p) => {
            let mut text = String::new();
            if p.as_os_str() == "-" {
                std::io::stdin().read_to_string(&mut text)?;
            } else {
                text = std::fs::read_to_string(p)
                    .with_context(|| format!("read resources {}", p.display()))?;
            }
            serde_json::from_str(&text)
                .with_context(|| format!("invalid resources {}", p.display()))?
        }
    };
    if let Some(m) = a.memory {
        let mut mem = res.memory().unwrap_or_default();
        mem.set_limit(Some(m));
        res.set_memory(Some(mem));
    }
    if let Some(n) = a.pids_limit {
        let mut pids = res.pids().unwrap_or_default();
        pids.set_limit(n);
        res.set_pids(Some(pids));
    }
    if a.cpu_shares.is_some()
        || a.cpu_quota.is_some()
        || a.cpu_period.is_some()
        || a.cpuset_cpus.is_some()
    {
        let mut cpu = res.cpu().clone().unwrap_or_default();
        if a.cpu_shares.is_some() {
            cpu.set_shares(a.cpu_shares);
        }
        if a.cpu_quota.is_some() {
            cpu.set_quota(a.cpu_quota);
        }
        if a.cpu_period.is_some() {
            cpu.set_period(a.cpu_period);
        }
        if a.cpuset_cpus.is_some() {
            cpu.set_cpus(a.cpuset_cpus.clone());
        }
        res.set_cpu(Some(cpu));
    }
    Ok(res)
}
