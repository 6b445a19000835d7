//! Loading a compiled filter into the kernel with seccomp(2).

use nix::errno::Errno;
use oci_spec::runtime::LinuxSeccompFilterFlag;

use super::bpf::SockFilter;
use super::error::SeccompError;

// From <linux/seccomp.h>.
const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;
const SECCOMP_FILTER_FLAG_TSYNC: u32 = 1 << 0;
const SECCOMP_FILTER_FLAG_LOG: u32 = 1 << 1;
const SECCOMP_FILTER_FLAG_SPEC_ALLOW: u32 = 1 << 2;

// `SockFilter` stands in for the kernel's `struct sock_filter`.
const _: () =
    assert!(std::mem::size_of::<SockFilter>() == std::mem::size_of::<libc::sock_filter>());

/// The `SECCOMP_FILTER_FLAG_*` bits for the profile's `flags`.
///
/// `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV` only qualifies a notify
/// listener, which berth never creates (the kernel refuses it alone), so it
/// is left out.
pub(crate) fn filter_flags(flags: &[LinuxSeccompFilterFlag]) -> u32 {
    flags
        .iter()
        .map(|flag| match flag {
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => SECCOMP_FILTER_FLAG_TSYNC,
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => SECCOMP_FILTER_FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => SECCOMP_FILTER_FLAG_SPEC_ALLOW,
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => 0,
        })
        .fold(0, |all, bit| all | bit)
}

/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, prog)`. The caller must have
/// set no_new_privs or hold CAP_SYS_ADMIN, or the kernel answers EACCES.
pub(crate) fn set_mode_filter(insns: &[SockFilter], flags: u32) -> Result<(), SeccompError> {
    let len = u16::try_from(insns.len()).map_err(|_| SeccompError::TooLong { len: insns.len() })?;
    let prog = libc::sock_fprog {
        len,
        filter: insns.as_ptr().cast::<libc::sock_filter>().cast_mut(),
    };
    // SAFETY: `prog` points at `len` live `sock_filter`-layout instructions
    // (checked above); the kernel copies the program, never writes to it.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            libc::c_ulong::from(flags),
            &prog as *const libc::sock_fprog,
        )
    };
    if ret < 0 {
        return Err(SeccompError::Load {
            flags,
            source: Errno::last(),
        });
    }
    // With TSYNC a positive return is the id of a thread that could not sync.
    if ret > 0 {
        return Err(SeccompError::Tsync { tid: ret });
    }
    Ok(())
}
