//! seccomp for containers: compiles the OCI profile in `linux.seccomp` into
//! a classic BPF filter (no libseccomp) and loads it before the entrypoint.
//!
//! What the filter does, and where it follows libseccomp / runc:
//!
//! - **Architectures.** The filter has a section for the native ABI and for
//!   each listed ABI this kernel also runs (`SCMP_ARCH_X86` and
//!   `SCMP_ARCH_X32` on x86_64, `SCMP_ARCH_ARM` on aarch64), each with its
//!   own syscall numbers. Listed architectures of other machines are left
//!   out: their syscalls can never reach this kernel. x32 syscalls arrive
//!   with x86_64's `arch` and `__X32_SYSCALL_BIT` set in the number, and are
//!   never matched as x86_64 ones. A syscall of an ABI without a section
//!   kills the process (libseccomp's "bad arch" action, but for the whole
//!   process rather than the thread; see `codegen`).
//! - **Names** resolve per ABI; unknown ones are skipped, as runc does.
//! - **Rules.** Several conditions in one rule are ANDed (libseccomp ≥ 2.5;
//!   runc ORs conditions that repeat an argument index, we do not: stricter).
//!   Several rules for one syscall are tried in profile order, conditional
//!   ones before an unconditional one; the first that matches decides. A
//!   rule whose action is the default action is dropped, as runc does.
//! - **-ENOSYS stub.** Unless the default action allows or already answers
//!   ENOSYS, a syscall numbered above every syscall the profile names gets
//!   ENOSYS, as runc's `patchbpf` does, so that programs fall back from
//!   syscalls newer than the profile.
//! - **Actions** KILL/KILL_THREAD, KILL_PROCESS, TRAP, ERRNO (errnoRet,
//!   default EPERM), TRACE (errnoRet as the message, default EPERM), LOG and
//!   ALLOW. `SCMP_ACT_NOTIFY` is refused: it needs the listener fd sent to
//!   a seccomp agent at `listenerPath`, which berth does not implement.

mod abi;
mod bpf;
mod codegen;
mod conds;
mod error;
pub mod features;
mod load;
mod names;
mod rules;
mod search;
mod spans;

#[cfg(test)]
mod interp;
#[cfg(test)]
mod prop;
#[cfg(test)]
mod tests;

use oci_spec::runtime::LinuxSeccomp;

pub use bpf::{SockFilter, MAX_INSNS};
pub use error::SeccompError;

/// A compiled seccomp filter, ready for `seccomp(SECCOMP_SET_MODE_FILTER)`.
///
/// Compiling in the parent and only [`Program::load`]ing in the container
/// process reports profile errors before the process exists and keeps the
/// child's last steps free of allocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    insns: Vec<SockFilter>,
    /// `SECCOMP_FILTER_FLAG_*` from the profile's `flags`.
    flags: u32,
}

impl Program {
    /// The BPF instructions.
    pub fn instructions(&self) -> &[SockFilter] {
        &self.insns
    }

    /// The number of instructions (at most [`MAX_INSNS`]).
    pub fn len(&self) -> usize {
        self.insns.len()
    }

    /// Whether the program is empty (never, for a compiled profile).
    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }

    /// Loads the filter into the calling thread with the profile's flags
    /// (LOG, SPEC_ALLOW, TSYNC). Needs no_new_privs or CAP_SYS_ADMIN.
    pub fn load(&self) -> Result<(), SeccompError> {
        load::set_mode_filter(&self.insns, self.flags)
    }
}

/// Compiles an OCI seccomp profile into a BPF program for this machine.
pub fn compile(profile: &LinuxSeccomp) -> Result<Program, SeccompError> {
    compile_for(profile, abi::Abi::NATIVE)
}

/// Compiles for a kernel whose native ABI is `native` (tests build aarch64
/// filters on x86_64 hosts and the reverse).
fn compile_for(spec: &LinuxSeccomp, native: abi::Abi) -> Result<Program, SeccompError> {
    let profile = rules::Profile::from_oci(spec, native)?;
    Ok(Program {
        insns: codegen::generate(&profile)?,
        flags: load::filter_flags(spec.flags().as_deref().unwrap_or_default()),
    })
}

/// Compiles `profile` and loads it into the calling thread, honouring its
/// `flags` (LOG, SPEC_ALLOW, TSYNC). Call it last before execve, after
/// no_new_privs is set (or with CAP_SYS_ADMIN): every later syscall of this
/// thread, execve included, goes through the filter.
pub fn install(profile: &LinuxSeccomp) -> Result<(), SeccompError> {
    compile(profile)?.load()
}
