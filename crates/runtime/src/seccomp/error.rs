//! The ways turning an OCI seccomp profile into a loaded filter can fail;
//! each names the syscall, argument or action at fault.

/// An error compiling or loading a seccomp profile.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// `SCMP_ACT_NOTIFY` needs a listener fd handed to a seccomp agent.
    #[error(
        "seccomp: {what} uses SCMP_ACT_NOTIFY, which berth does not support (no seccomp agent listener)"
    )]
    NotifyUnsupported {
        /// `syscall "name"` or `the default action`.
        what: String,
    },
    /// An `errnoRet` the kernel cannot return (`SECCOMP_RET_DATA` is 16 bits
    /// and errno values stop at 4095).
    #[error("seccomp: {what}: errnoRet {errno} is out of range (1-4095)")]
    ErrnoOutOfRange {
        /// `syscall "name"` or `the default action`.
        what: String,
        /// The value given.
        errno: u32,
    },
    /// A trace message value that does not fit `SECCOMP_RET_DATA`.
    #[error("seccomp: {what}: SCMP_ACT_TRACE value {value} is out of range (0-65535)")]
    TraceValueOutOfRange {
        /// `syscall "name"` or `the default action`.
        what: String,
        /// The value given.
        value: u32,
    },
    /// Syscalls have six arguments, numbered 0 to 5.
    #[error("seccomp: syscall {syscall:?}: argument index {index} is out of range (0-5)")]
    ArgIndexOutOfRange {
        /// The syscall whose rule has the condition.
        syscall: String,
        /// The index given.
        index: usize,
    },
    /// A rule lists an empty syscall name.
    #[error("seccomp: syscall rule {rule} has an empty syscall name")]
    EmptySyscallName {
        /// The rule's position in `linux.seccomp.syscalls`.
        rule: usize,
    },
    /// The profile compiles to more instructions than the kernel accepts.
    #[error("seccomp: the filter needs {len} BPF instructions, over the kernel's limit of 4096")]
    TooLong {
        /// The program's length.
        len: usize,
    },
    /// A bug in the compiler, not in the profile.
    #[error("seccomp: internal error: {0}")]
    Internal(&'static str),
    /// `seccomp(SECCOMP_SET_MODE_FILTER)` failed.
    #[error("seccomp: loading the filter (flags {flags:#x}) failed: {source}")]
    Load {
        /// The `SECCOMP_FILTER_FLAG_*` bits passed.
        flags: u32,
        /// The kernel's answer.
        source: nix::errno::Errno,
    },
    /// With `SECCOMP_FILTER_FLAG_TSYNC`, a thread could not take the filter.
    #[error(
        "seccomp: thread {tid} could not be synchronised to the filter (SECCOMP_FILTER_FLAG_TSYNC)"
    )]
    Tsync {
        /// The thread that could not be synchronised.
        tid: i64,
    },
}
