//! Checking `linux.resources` before anything is written, and the value
//! conversions between the OCI spec, cgroup v1 and cgroup v2.

use oci_spec::runtime::LinuxResources;

use crate::error::CgroupError;

/// Smallest and largest CFS period the kernel accepts, in µs
/// (`cpu.cfs_period_us`: 1 ms .. 1 s).
const PERIOD_RANGE: std::ops::RangeInclusive<u64> = 1_000..=1_000_000;
/// Smallest CFS quota, in µs (Docker: "CPU cfs quota can not be less than 1ms").
const MIN_QUOTA: i64 = 1_000;

fn invalid(field: &'static str, value: impl ToString, reason: &str) -> CgroupError {
    CgroupError::InvalidResource {
        field,
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

/// A byte limit: -1 (unlimited), 0 (unset) or positive.
fn check_limit(field: &'static str, v: Option<i64>) -> Result<(), CgroupError> {
    match v {
        Some(n) if n < -1 => Err(invalid(field, n, "must be -1 (unlimited) or >= 0")),
        _ => Ok(()),
    }
}

/// Refuses every out-of-range value of `res` so that a bad spec fails
/// before the first control file is written.
pub fn validate(res: &LinuxResources) -> Result<(), CgroupError> {
    if let Some(mem) = res.memory() {
        check_limit("memory.limit", mem.limit())?;
        check_limit("memory.reservation", mem.reservation())?;
        check_limit("memory.swap", mem.swap())?;
        if let Some(s) = mem.swappiness() {
            if s > 100 {
                return Err(invalid("memory.swappiness", s, "must be 0..=100"));
            }
        }
        // Docker semantics: swap is memory+swap, so it needs a memory limit
        // and cannot be below it.
        swap_v2(mem.limit(), mem.swap())?;
    }
    if let Some(cpu) = res.cpu() {
        if let Some(q) = cpu.quota() {
            if q != -1 && q != 0 && q < MIN_QUOTA {
                return Err(invalid(
                    "cpu.quota",
                    q,
                    "must be -1 or at least 1000 µs (1 ms)",
                ));
            }
        }
        if let Some(p) = cpu.period() {
            if p != 0 && !PERIOD_RANGE.contains(&p) {
                return Err(invalid(
                    "cpu.period",
                    p,
                    "must be between 1000 and 1000000 µs",
                ));
            }
        }
        if let Some(cpus) = cpu.cpus() {
            check_cpuset("cpu.cpus", cpus)?;
        }
        if let Some(mems) = cpu.mems() {
            check_cpuset("cpu.mems", mems)?;
        }
        if let Some(idle) = cpu.idle() {
            if idle != 0 && idle != 1 {
                return Err(invalid("cpu.idle", idle, "must be 0 or 1"));
            }
        }
    }
    if let Some(pids) = res.pids() {
        if pids.limit() < -1 {
            return Err(invalid(
                "pids.limit",
                pids.limit(),
                "must be -1, 0 (unlimited) or positive",
            ));
        }
    }
    for h in res.hugepage_limits().iter().flatten() {
        if !valid_page_size(h.page_size()) {
            return Err(invalid(
                "hugepageLimits.pageSize",
                h.page_size(),
                "expected a size like 2MB or 1GB",
            ));
        }
        check_limit("hugepageLimits.limit", Some(h.limit()))?;
    }
    if let Some(unified) = res.unified() {
        for key in unified.keys() {
            if key.contains('/') || key.starts_with('.') || !key.contains('.') {
                return Err(invalid("unified", key, "not a cgroup2 control file name"));
            }
        }
    }
    Ok(())
}

fn valid_page_size(s: &str) -> bool {
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &s[digits.len()..];
    !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit())
        && ["KB", "MB", "GB"].contains(&unit)
}

/// The controllers `res` needs, named as on v2 (`io`) or v1 (`blkio`,
/// `devices`), so that a missing one fails before anything is written.
pub fn required_controllers(res: &LinuxResources, v2: bool) -> Vec<&'static str> {
    let mut out = Vec::new();
    if let Some(m) = res.memory() {
        let set = |v: Option<i64>| v.is_some_and(|v| v != 0);
        if set(m.limit())
            || set(m.swap())
            || set(m.reservation())
            || (!v2 && (m.swappiness().is_some() || m.disable_oom_killer().is_some()))
        {
            out.push("memory");
        }
    }
    if let Some(c) = res.cpu() {
        let nonzero = |v: Option<u64>| v.is_some_and(|v| v != 0);
        if nonzero(c.shares())
            || nonzero(c.period())
            || c.quota().is_some_and(|q| q != 0)
            || c.burst().is_some()
            || c.idle().is_some()
            || c.realtime_period().is_some()
            || c.realtime_runtime().is_some()
        {
            out.push("cpu");
        }
        let listed = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
        if listed(c.cpus()) || listed(c.mems()) {
            out.push("cpuset");
        }
    }
    if res.pids().is_some() {
        out.push("pids");
    }
    if res
        .hugepage_limits()
        .as_ref()
        .is_some_and(|h| !h.is_empty())
    {
        out.push("hugetlb");
    }
    if let Some(b) = res.block_io() {
        let any = |d: &Option<Vec<_>>| d.as_ref().is_some_and(|d: &Vec<_>| !d.is_empty());
        if b.weight().is_some_and(|w| w != 0)
            || b.weight_device().as_ref().is_some_and(|d| !d.is_empty())
            || any(b.throttle_read_bps_device())
            || any(b.throttle_write_bps_device())
            || any(b.throttle_read_iops_device())
            || any(b.throttle_write_iops_device())
        {
            out.push(if v2 { "io" } else { "blkio" });
        }
    }
    if !v2 && res.devices().as_ref().is_some_and(|d| !d.is_empty()) {
        out.push("devices");
    }
    out
}

/// Checks a cpuset list such as `0-3,5,7-8` (cpuset(7) "List format").
pub fn check_cpuset(field: &'static str, list: &str) -> Result<(), CgroupError> {
    if list.is_empty() {
        return Ok(());
    }
    for item in list.split(',') {
        let num = |s: &str| s.parse::<u32>().ok().filter(|_| !s.starts_with('+'));
        let ok = match item.split_once('-') {
            Some((a, b)) => matches!((num(a), num(b)), (Some(a), Some(b)) if a <= b),
            None => num(item).is_some(),
        };
        if !ok {
            return Err(invalid(
                field,
                list,
                &format!("bad item {item:?}; expected a list like 0-3,5"),
            ));
        }
    }
    Ok(())
}

/// Converts cpu shares (v1, 2..=262144, default 1024) to cpu.weight (v2,
/// 1..=10000, default 100) the way runc's `ConvertCPUSharesToCgroupV2Value`
/// does since 1.3: a quadratic in log2(shares) that maps 2→1, 1024→100
/// and 262144→10000 exactly (the old linear formula turned 1024 into 39).
/// 0 means unset.
pub fn shares_to_weight(shares: u64) -> u64 {
    match shares {
        0 => 0,
        1..=2 => 1,
        262_144.. => 10_000,
        s => {
            let l = (s as f64).log2();
            let exponent = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
            10f64.powf(exponent).ceil() as u64
        }
    }
}

/// The v2 `memory.swap.max` for OCI `memory.swap` (memory+swap, Docker's
/// meaning) and `memory.limit`: `None` = leave unset, `Some(-1)` = "max",
/// else the swap alone (swap - limit). Unlimited memory with unset swap
/// means unlimited swap too, as on v1.
pub fn swap_v2(limit: Option<i64>, swap: Option<i64>) -> Result<Option<i64>, CgroupError> {
    let limit = limit.unwrap_or(0);
    match swap.unwrap_or(0) {
        0 if limit == -1 => Ok(Some(-1)),
        0 => Ok(None),
        -1 => Ok(Some(-1)),
        s if limit <= 0 => Err(invalid(
            "memory.swap",
            s,
            "a swap limit needs a memory limit",
        )),
        s if s < limit => Err(invalid(
            "memory.swap",
            s,
            &format!("memory+swap must be >= memory limit {limit}"),
        )),
        s => Ok(Some(s - limit)),
    }
}

/// `-1` as the kernel's "max", anything else as its number.
pub fn max_or(v: i64) -> String {
    if v < 0 {
        "max".to_string()
    } else {
        v.to_string()
    }
}

/// The v2 `cpu.max` line for a quota and period, or `None` if neither is
/// set. A quota of -1 (or unset with a period) is "max".
pub fn cpu_max(quota: Option<i64>, period: Option<u64>) -> Option<String> {
    let quota = quota.filter(|&q| q != 0);
    let period = period.filter(|&p| p != 0);
    if quota.is_none() && period.is_none() {
        return None;
    }
    let q = quota.map_or_else(|| "max".to_string(), max_or);
    Some(match period {
        Some(p) => format!("{q} {p}"),
        None => q,
    })
}

#[cfg(test)]
mod tests {
    use oci_spec::runtime::{
        LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResourcesBuilder,
    };

    use super::*;

    #[test]
    fn shares_to_weight_matches_runc() {
        assert_eq!(shares_to_weight(0), 0);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 100);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(1_000_000), 10_000);
        assert_eq!(shares_to_weight(512), 59);
        assert_eq!(shares_to_weight(2048), 174);
        // Monotone over the whole range.
        let mut last = 0;
        for s in (2..262_144).step_by(97) {
            let w = shares_to_weight(s);
            assert!(w >= last && (1..=10_000).contains(&w), "{s} -> {w}");
            last = w;
        }
    }

    #[test]
    fn swap_conversion() {
        assert_eq!(swap_v2(None, None).unwrap(), None);
        assert_eq!(swap_v2(Some(-1), None).unwrap(), Some(-1));
        assert_eq!(swap_v2(Some(100), Some(-1)).unwrap(), Some(-1));
        assert_eq!(swap_v2(Some(100), Some(300)).unwrap(), Some(200));
        assert_eq!(swap_v2(Some(100), Some(100)).unwrap(), Some(0));
        assert!(swap_v2(Some(100), Some(50)).is_err());
        assert!(swap_v2(None, Some(50)).is_err());
        assert!(swap_v2(Some(-1), Some(50)).is_err());
    }

    #[test]
    fn cpuset_lists() {
        for ok in ["", "0", "0-3", "0-3,5,7-8", "1,2"] {
            assert!(check_cpuset("cpu.cpus", ok).is_ok(), "{ok}");
        }
        for bad in ["a", "3-1", "0-", ",", "1,,2", "-1", "0 1", "+1"] {
            assert!(check_cpuset("cpu.cpus", bad).is_err(), "{bad}");
        }
        let err = check_cpuset("cpu.cpus", "3-1").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid resource cpu.cpus = 3-1: bad item"),
            "{err}"
        );
    }

    #[test]
    fn cpu_max_lines() {
        assert_eq!(cpu_max(None, None), None);
        assert_eq!(
            cpu_max(Some(50_000), Some(100_000)).unwrap(),
            "50000 100000"
        );
        assert_eq!(cpu_max(Some(-1), Some(100_000)).unwrap(), "max 100000");
        assert_eq!(cpu_max(None, Some(20_000)).unwrap(), "max 20000");
        assert_eq!(cpu_max(Some(30_000), None).unwrap(), "30000");
    }

    fn resources(
        mem: Option<(i64, i64)>,
        quota: Option<i64>,
        period: Option<u64>,
        pids: i64,
    ) -> LinuxResources {
        let mut cpu = LinuxCpuBuilder::default();
        if let Some(q) = quota {
            cpu = cpu.quota(q);
        }
        if let Some(p) = period {
            cpu = cpu.period(p);
        }
        let mut b = LinuxResourcesBuilder::default()
            .cpu(cpu.build().unwrap())
            .pids(LinuxPidsBuilder::default().limit(pids).build().unwrap());
        if let Some((limit, swap)) = mem {
            b = b.memory(
                LinuxMemoryBuilder::default()
                    .limit(limit)
                    .swap(swap)
                    .build()
                    .unwrap(),
            );
        }
        b.build().unwrap()
    }

    #[test]
    fn controllers_needed() {
        let res = resources(Some((1 << 20, 0)), Some(50_000), None, 5);
        assert_eq!(required_controllers(&res, true), ["memory", "cpu", "pids"]);
        let empty = LinuxResourcesBuilder::default()
            .memory(LinuxMemoryBuilder::default().build().unwrap())
            .cpu(LinuxCpuBuilder::default().build().unwrap())
            .build()
            .unwrap();
        assert!(required_controllers(&empty, true).is_empty());
        let cpuset = LinuxResourcesBuilder::default()
            .cpu(LinuxCpuBuilder::default().cpus("0").build().unwrap())
            .build()
            .unwrap();
        assert_eq!(required_controllers(&cpuset, false), ["cpuset"]);
    }

    #[test]
    fn validation() {
        assert!(validate(&resources(
            Some((1 << 20, 2 << 20)),
            Some(50_000),
            Some(100_000),
            10
        ))
        .is_ok());
        assert!(validate(&resources(Some((-1, -1)), Some(-1), None, -1)).is_ok());
        let err = validate(&resources(Some((-2, 0)), None, None, 0)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid resource memory.limit = -2: must be -1 (unlimited) or >= 0"
        );
        assert!(validate(&resources(None, Some(999), None, 0)).is_err());
        assert!(validate(&resources(None, None, Some(999), 0)).is_err());
        assert!(validate(&resources(None, None, Some(1_000_001), 0)).is_err());
        assert!(validate(&resources(None, None, None, -5)).is_err());
        assert!(validate(&resources(Some((100, 50)), None, None, 0)).is_err());
        assert!(
            valid_page_size("2MB")
                && valid_page_size("1GB")
                && !valid_page_size("2M")
                && !valid_page_size("MB")
        );
    }
}
