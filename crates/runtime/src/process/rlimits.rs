//! `process.rlimits`. A limit above the current hard limit needs
//! CAP_SYS_RESOURCE; without it (this host, rootless, nested) Docker and
//! podman specs asking e.g. nofile 1048576 would fail outright. Choice:
//! try the exact value; on EPERM clamp the hard limit to the current hard
//! limit and the soft limit to that, and go on — the process gets the
//! closest limits it can have. Only a failure of the clamped call is an
//! error (nothing sensible could be set).

use nix::errno::Errno;
use nix::sys::resource::{getrlimit, setrlimit, Resource};
use oci_spec::runtime::{PosixRlimit, PosixRlimitType};

use crate::error::{ChildError, Context};

/// The nix resource of a spec rlimit type.
pub(crate) fn resource(t: PosixRlimitType) -> Resource {
    match t {
        PosixRlimitType::RlimitCpu => Resource::RLIMIT_CPU,
        PosixRlimitType::RlimitFsize => Resource::RLIMIT_FSIZE,
        PosixRlimitType::RlimitData => Resource::RLIMIT_DATA,
        PosixRlimitType::RlimitStack => Resource::RLIMIT_STACK,
        PosixRlimitType::RlimitCore => Resource::RLIMIT_CORE,
        PosixRlimitType::RlimitRss => Resource::RLIMIT_RSS,
        PosixRlimitType::RlimitNproc => Resource::RLIMIT_NPROC,
        PosixRlimitType::RlimitNofile => Resource::RLIMIT_NOFILE,
        PosixRlimitType::RlimitMemlock => Resource::RLIMIT_MEMLOCK,
        PosixRlimitType::RlimitAs => Resource::RLIMIT_AS,
        PosixRlimitType::RlimitLocks => Resource::RLIMIT_LOCKS,
        PosixRlimitType::RlimitSigpending => Resource::RLIMIT_SIGPENDING,
        PosixRlimitType::RlimitMsgqueue => Resource::RLIMIT_MSGQUEUE,
        PosixRlimitType::RlimitNice => Resource::RLIMIT_NICE,
        PosixRlimitType::RlimitRtprio => Resource::RLIMIT_RTPRIO,
        PosixRlimitType::RlimitRttime => Resource::RLIMIT_RTTIME,
    }
}

/// (soft, hard) to use when (soft, hard) was refused and the current hard
/// limit is `cur_hard`.
pub(crate) fn clamp(soft: u64, hard: u64, cur_hard: u64) -> (u64, u64) {
    let hard = hard.min(cur_hard);
    (soft.min(hard), hard)
}

/// Applies every rlimit (see the module doc for EPERM).
pub(crate) fn apply(list: &[PosixRlimit]) -> Result<(), ChildError> {
    for r in list {
        let res = resource(r.typ());
        let what = || format!("set rlimit {} to {}:{}", r.typ(), r.soft(), r.hard());
        match setrlimit(res, r.soft(), r.hard()) {
            Err(Errno::EPERM) => {
                let (_, cur_hard) = getrlimit(res).ctx(what)?;
                let (soft, hard) = clamp(r.soft(), r.hard(), cur_hard);
                setrlimit(res, soft, hard).ctx(what)?;
            }
            other => other.ctx(what)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamps_to_current_hard_limit() {
        assert_eq!(clamp(1048576, 1048576, 524288), (524288, 524288));
        assert_eq!(clamp(1024, 1048576, 524288), (1024, 524288));
        assert_eq!(clamp(1024, 4096, 524288), (1024, 4096));
    }
}
