//! Smaller per-process attributes runc 1.2 applies: the execution domain
//! (`linux.personality`, personality(2)), the I/O priority
//! (`process.ioPriority`, ioprio_set(2)), the scheduler
//! (`process.scheduler`, sched_setattr(2)) and the CPU affinity
//! (`process.execCPUAffinity`, sched_setaffinity(2)).

use nix::sched::{sched_setaffinity, CpuSet};
use nix::unistd::Pid;
use oci_spec::runtime::{
    IOPriorityClass, LinuxIOPriority, LinuxPersonality, LinuxPersonalityDomain, LinuxSchedulerFlag,
    LinuxSchedulerPolicy, Scheduler,
};

use crate::error::ChildError;

/// PER_LINUX32 from <linux/personality.h>. (nix's `personality` module
/// is not in the workspace's nix feature set, so the libc call is used.)
const PER_LINUX32: libc::c_ulong = 0x0008;

/// Sets the execution domain; flags other than the domain are refused by
/// name, as the spec defines none yet.
pub(crate) fn apply_personality(p: &LinuxPersonality) -> Result<(), ChildError> {
    if let Some(flag) = p.flags().iter().flatten().next() {
        return Err(ChildError::other(
            "linux.personality",
            format!("unknown flag {flag:?}"),
        ));
    }
    let domain = match p.domain() {
        LinuxPersonalityDomain::PerLinux => 0,
        LinuxPersonalityDomain::PerLinux32 => PER_LINUX32,
    };
    // SAFETY: personality(2) takes one integer and no memory.
    if unsafe { libc::personality(domain) } == -1 {
        return Err(ChildError::other(
            format!("set personality {}", p.domain()),
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// The ioprio value: class in the top bits, level below (ioprio_set(2)).
pub(crate) fn ioprio_value(p: &LinuxIOPriority) -> Result<i32, ChildError> {
    let class = match p.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    if !(0..=7).contains(&p.priority()) {
        return Err(ChildError::other(
            "process.ioPriority",
            format!("priority {} is not in 0..=7", p.priority()),
        ));
    }
    Ok((class << 13) | p.priority() as i32)
}

/// Sets this process's I/O priority.
pub(crate) fn apply_io_priority(p: &LinuxIOPriority) -> Result<(), ChildError> {
    let value = ioprio_value(p)?;
    // IOPRIO_WHO_PROCESS with who = 0: the calling process.
    // SAFETY: ioprio_set takes three integers and no memory.
    let ret = unsafe { libc::syscall(libc::SYS_ioprio_set, 1, 0, value) };
    if ret == -1 {
        return Err(ChildError::other(
            format!("set I/O priority {} {}", p.class(), p.priority()),
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// `struct sched_attr` of sched_setattr(2) (not in libc).
#[repr(C)]
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
}

/// Builds the sched_attr for a spec scheduler.
pub(crate) fn sched_attr(s: &Scheduler) -> Result<SchedAttr, ChildError> {
    let policy = match s.policy() {
        LinuxSchedulerPolicy::SchedOther => 0,
        LinuxSchedulerPolicy::SchedFifo => 1,
        LinuxSchedulerPolicy::SchedRr => 2,
        LinuxSchedulerPolicy::SchedBatch => 3,
        LinuxSchedulerPolicy::SchedIdle => 5,
        LinuxSchedulerPolicy::SchedDeadline => 6,
        LinuxSchedulerPolicy::SchedIso => {
            return Err(ChildError::other(
                "process.scheduler",
                "SCHED_ISO is not implemented by Linux",
            ))
        }
    };
    let mut flags = 0u64;
    for f in s.flags().iter().flatten() {
        flags |= match f {
            LinuxSchedulerFlag::SchedResetOnFork => 0x01,
            LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
            LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
            LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
            LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
            LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
            LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
        };
    }
    let nice = s.nice().unwrap_or(0);
    if !(-20..=19).contains(&nice) {
        return Err(ChildError::other(
            "process.scheduler",
            format!("nice {nice} is not in -20..=19"),
        ));
    }
    Ok(SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy,
        flags,
        nice,
        priority: s.priority().unwrap_or(0).max(0) as u32,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
    })
}

/// Applies the scheduler to the calling process.
pub(crate) fn apply_scheduler(s: &Scheduler) -> Result<(), ChildError> {
    let attr = sched_attr(s)?;
    // SAFETY: `attr` is a live, correctly sized sched_attr (its `size`
    // field says so); the kernel only reads it.
    let ret = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) };
    if ret == -1 {
        return Err(ChildError::other(
            format!("set scheduler {}", s.policy()),
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// Parses a CPU list such as `0-3,7` into a CpuSet.
pub(crate) fn parse_cpu_list(list: &str) -> Result<CpuSet, String> {
    let mut set = CpuSet::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let lo: usize = lo
            .parse()
            .map_err(|_| format!("bad cpu {lo:?} in {list:?}"))?;
        let hi: usize = hi
            .parse()
            .map_err(|_| format!("bad cpu {hi:?} in {list:?}"))?;
        if lo > hi {
            return Err(format!("bad range {part:?} in {list:?}"));
        }
        for cpu in lo..=hi {
            set.set(cpu)
                .map_err(|_| format!("cpu {cpu} out of range in {list:?}"))?;
        }
    }
    Ok(set)
}

/// Pins the calling process to `list`.
pub(crate) fn apply_cpu_affinity(list: &str) -> Result<(), ChildError> {
    let set = parse_cpu_list(list).map_err(|e| ChildError::other("process.execCPUAffinity", e))?;
    sched_setaffinity(Pid::from_raw(0), &set)
        .map_err(|e| ChildError::other(format!("set CPU affinity {list}"), e))
}

#[cfg(test)]
mod tests {
    use oci_spec::runtime::LinuxIOPriorityBuilder;

    use super::*;

    #[test]
    fn cpu_lists() {
        let set = parse_cpu_list("0-2,5").unwrap();
        for cpu in [0, 1, 2, 5] {
            assert!(set.is_set(cpu).unwrap());
        }
        assert!(!set.is_set(3).unwrap());
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("x").is_err());
    }

    #[test]
    fn sched_attr_from_spec() {
        let s: Scheduler = serde_json::from_value(serde_json::json!({
            "policy": "SCHED_BATCH", "nice": 5, "flags": ["SCHED_RESET_ON_FORK"]
        }))
        .unwrap();
        let a = sched_attr(&s).unwrap();
        assert_eq!((a.policy, a.nice, a.flags, a.size), (3, 5, 1, 48));
        let bad: Scheduler =
            serde_json::from_value(serde_json::json!({"policy": "SCHED_OTHER", "nice": 30}))
                .unwrap();
        assert!(sched_attr(&bad).is_err());
    }

    #[test]
    fn ioprio_encoding_and_range() {
        let p = |class, priority| {
            LinuxIOPriorityBuilder::default()
                .class(class)
                .priority(priority)
                .build()
                .unwrap()
        };
        assert_eq!(
            ioprio_value(&p(IOPriorityClass::IoprioClassBe, 5)).unwrap(),
            (2 << 13) | 5
        );
        assert_eq!(
            ioprio_value(&p(IOPriorityClass::IoprioClassIdle, 0)).unwrap(),
            3 << 13
        );
        assert!(ioprio_value(&p(IOPriorityClass::IoprioClassRt, 8)).is_err());
    }
}
