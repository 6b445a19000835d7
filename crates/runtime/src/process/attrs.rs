//! Smaller per-process attributes runc 1.2 applies: the execution domain
//! (`linux.personality`, personality(2)) and the I/O priority
//! (`process.ioPriority`, ioprio_set(2)).

use oci_spec::runtime::{
    IOPriorityClass, LinuxIOPriority, LinuxPersonality, LinuxPersonalityDomain,
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

#[cfg(test)]
mod tests {
    use oci_spec::runtime::LinuxIOPriorityBuilder;

    use super::*;

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
