//! The syscall ABIs a filter has a section for: the native one and the
//! compat ABIs the same kernel runs (i386 and x32 on x86_64, arm on aarch64),
//! with their `AUDIT_ARCH_*` values and syscall name → number tables.
//!
//! Names come from the `syscalls` crate's per-architecture tables (generated
//! from the kernel's syscall tables). x32 has no table there: x32 numbers are
//! the x86_64 ones with `__X32_SYSCALL_BIT` set, except the 36 syscalls the
//! kernel gives x32-specific entries 512-547 (`arch/x86/entry/syscalls/
//! syscall_64.tbl`, ABI "x32").

use oci_spec::runtime::Arch;

use super::names;

/// Set in `seccomp_data.nr` by x32 processes, whose `arch` is x86_64's.
pub(crate) const X32_SYSCALL_BIT: u32 = 0x4000_0000;

// From <linux/audit.h>: EM_* | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE.
pub(crate) const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
pub(crate) const AUDIT_ARCH_I386: u32 = 0x4000_0003;
pub(crate) const AUDIT_ARCH_AARCH64: u32 = 0xC000_00B7;
pub(crate) const AUDIT_ARCH_ARM: u32 = 0x4000_0028;

/// A syscall ABI the filter can recognise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Abi {
    X86_64,
    X32,
    I386,
    Aarch64,
    Arm,
}

impl Abi {
    /// The ABI of the running kernel's native syscalls.
    #[cfg(target_arch = "x86_64")]
    pub(crate) const NATIVE: Abi = Abi::X86_64;
    /// The ABI of the running kernel's native syscalls.
    #[cfg(target_arch = "aarch64")]
    pub(crate) const NATIVE: Abi = Abi::Aarch64;

    /// The ABI an OCI architecture names, if a kernel whose native ABI is
    /// `native` runs it. Architectures of other machines can never show up
    /// in `seccomp_data`, so leaving them out changes nothing.
    pub(crate) fn from_oci(arch: Arch, native: Abi) -> Option<Abi> {
        let abi = match arch {
            Arch::ScmpArchNative => native,
            Arch::ScmpArchX86_64 => Abi::X86_64,
            Arch::ScmpArchX32 => Abi::X32,
            Arch::ScmpArchX86 => Abi::I386,
            Arch::ScmpArchAarch64 => Abi::Aarch64,
            Arch::ScmpArchArm => Abi::Arm,
            _ => return None,
        };
        native.runs(abi).then_some(abi)
    }

    /// Whether a kernel of this (native) ABI runs processes of `other`.
    fn runs(self, other: Abi) -> bool {
        match self {
            Abi::X86_64 => matches!(other, Abi::X86_64 | Abi::X32 | Abi::I386),
            Abi::Aarch64 => matches!(other, Abi::Aarch64 | Abi::Arm),
            _ => self == other,
        }
    }

    /// The `seccomp_data.arch` value of this ABI's syscalls.
    pub(crate) fn audit_arch(self) -> u32 {
        match self {
            Abi::X86_64 | Abi::X32 => AUDIT_ARCH_X86_64,
            Abi::I386 => AUDIT_ARCH_I386,
            Abi::Aarch64 => AUDIT_ARCH_AARCH64,
            Abi::Arm => AUDIT_ARCH_ARM,
        }
    }

    /// Whether syscall arguments are 64 bits wide. On 32-bit ABIs only the
    /// low half of `seccomp_data.args[i]` is compared, as libseccomp does.
    pub(crate) fn is_64bit(self) -> bool {
        matches!(self, Abi::X86_64 | Abi::Aarch64)
    }

    /// The number `seccomp_data.nr` carries for `name`, if this ABI has it.
    /// A linear match over the table, independent of [`Abi::number`].
    #[cfg(test)]
    pub(crate) fn resolve(self, name: &str) -> Option<u32> {
        macro_rules! id {
            ($sysno:ty) => {
                <$sysno as std::str::FromStr>::from_str(name)
                    .ok()
                    .map(|s| s.id() as u32)
            };
        }
        match self {
            Abi::X86_64 => id!(syscalls::x86_64::Sysno),
            Abi::X32 => x32_by_name(name).or_else(|| Abi::X86_64.resolve(name).map(x32)),
            Abi::I386 => id!(syscalls::x86::Sysno),
            Abi::Aarch64 => id!(syscalls::aarch64::Sysno),
            Abi::Arm => id!(syscalls::arm::Sysno),
        }
    }

    /// The number `seccomp_data.nr` carries for `name`, if this ABI has
    /// it, through the static indexes of `names`.
    pub(crate) fn number(self, name: &str) -> Option<u32> {
        match self {
            Abi::X86_64 => names::x86_64(name),
            Abi::X32 => names::x86_64(name).map(x32),
            Abi::I386 => names::i386(name),
            Abi::Aarch64 => names::aarch64(name),
            Abi::Arm => names::arm(name),
        }
    }
}

/// The x32 number of the syscall whose x86_64 number is `x86_64`.
pub(crate) fn x32(x86_64: u32) -> u32 {
    let specific = X32_BY_NATIVE
        .get(x86_64 as usize)
        .filter(|nr| **nr != 0)
        .map(|nr| u32::from(*nr));
    specific.unwrap_or(x86_64) | X32_SYSCALL_BIT
}

/// [`X32_SPECIFIC`] indexed by x86_64 number (0: none), so that resolving a
/// profile's few hundred names needs no search.
const X32_BY_NATIVE: [u16; 512] = {
    let mut table = [0u16; 512];
    let mut i = 0;
    while i < X32_SPECIFIC.len() {
        let (x32, native) = X32_SPECIFIC[i];
        table[native as usize] = x32 as u16;
        i += 1;
    }
    table
};

/// The x32-only entries of `syscall_64.tbl` (numbers without the x32 bit),
/// each with the x86_64 number of its namesake. Those namesakes are "64"-ABI
/// only, so x32 callers must use these. Matched by number, not name: the
/// profile's names are resolved once on x86_64 for both ABIs.
const X32_SPECIFIC: [(u32, u32); 36] = [
    (512, 13),  // rt_sigaction
    (513, 15),  // rt_sigreturn
    (514, 16),  // ioctl
    (515, 19),  // readv
    (516, 20),  // writev
    (517, 45),  // recvfrom
    (518, 46),  // sendmsg
    (519, 47),  // recvmsg
    (520, 59),  // execve
    (521, 101), // ptrace
    (522, 127), // rt_sigpending
    (523, 128), // rt_sigtimedwait
    (524, 129), // rt_sigqueueinfo
    (525, 131), // sigaltstack
    (526, 222), // timer_create
    (527, 244), // mq_notify
    (528, 246), // kexec_load
    (529, 247), // waitid
    (530, 273), // set_robust_list
    (531, 274), // get_robust_list
    (532, 278), // vmsplice
    (533, 279), // move_pages
    (534, 295), // preadv
    (535, 296), // pwritev
    (536, 297), // rt_tgsigqueueinfo
    (537, 299), // recvmmsg
    (538, 307), // sendmmsg
    (539, 310), // process_vm_readv
    (540, 311), // process_vm_writev
    (541, 54),  // setsockopt
    (542, 55),  // getsockopt
    (543, 206), // io_setup
    (544, 209), // io_submit
    (545, 322), // execveat
    (546, 327), // preadv2
    (547, 328), // pwritev2
];

/// The x32-specific number of `name` straight from the x32 entries of
/// `syscall_64.tbl`, to check [`X32_SPECIFIC`]'s pairing by number.
#[cfg(test)]
fn x32_by_name(name: &str) -> Option<u32> {
    const X32_NAMES: [&str; 36] = [
        "rt_sigaction",
        "rt_sigreturn",
        "ioctl",
        "readv",
        "writev",
        "recvfrom",
        "sendmsg",
        "recvmsg",
        "execve",
        "ptrace",
        "rt_sigpending",
        "rt_sigtimedwait",
        "rt_sigqueueinfo",
        "sigaltstack",
        "timer_create",
        "mq_notify",
        "kexec_load",
        "waitid",
        "set_robust_list",
        "get_robust_list",
        "vmsplice",
        "move_pages",
        "preadv",
        "pwritev",
        "rt_tgsigqueueinfo",
        "recvmmsg",
        "sendmmsg",
        "process_vm_readv",
        "process_vm_writev",
        "setsockopt",
        "getsockopt",
        "io_setup",
        "io_submit",
        "execveat",
        "preadv2",
        "pwritev2",
    ];
    // 512 + position in the table.
    (512..)
        .zip(X32_NAMES)
        .find(|(_, n)| *n == name)
        .map(|(nr, _)| nr | X32_SYSCALL_BIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x32_specific_numbers_pair_with_their_x86_64_namesakes() {
        for nr in 0..600 {
            // Every x86_64 number maps to the x32 number of the same name.
            let Some(name) = syscalls::x86_64::Sysno::new(nr as usize) else {
                continue;
            };
            let expected = x32_by_name(name.name()).unwrap_or(nr | X32_SYSCALL_BIT);
            assert_eq!(x32(nr), expected, "{name}");
            assert_eq!(Abi::X86_64.number(name.name()), Some(nr), "{name}");
            assert_eq!(Abi::X32.number(name.name()), Some(expected), "{name}");
        }
        for (x32_nr, native) in X32_SPECIFIC {
            assert_eq!(x32(native), x32_nr | X32_SYSCALL_BIT);
        }
    }

    #[test]
    fn names_resolve_per_abi() {
        assert_eq!(Abi::X86_64.resolve("getcwd"), Some(79));
        assert_eq!(Abi::I386.resolve("getcwd"), Some(183));
        assert_eq!(Abi::Aarch64.resolve("getcwd"), Some(17));
        assert_eq!(Abi::Arm.resolve("getcwd"), Some(183));
        assert_eq!(Abi::X32.resolve("getcwd"), Some(79 | X32_SYSCALL_BIT));
        assert_eq!(Abi::X32.resolve("execve"), Some(520 | X32_SYSCALL_BIT));
        // The first and the last entries of a table.
        assert_eq!(Abi::X86_64.number("read"), Some(0));
        assert_eq!(Abi::X86_64.number("file_setattr"), Some(469));
        assert_eq!(Abi::Aarch64.number("io_setup"), Some(0));
        assert_eq!(Abi::Aarch64.number("file_setattr"), Some(469));
        assert_eq!(Abi::X32.number("execve"), Some(520 | X32_SYSCALL_BIT));
        assert_eq!(Abi::X32.number("read"), Some(X32_SYSCALL_BIT));
        assert_eq!(Abi::X32.number("no_such_syscall"), None);
        // A name only newer kernels or other architectures have.
        assert_eq!(Abi::X86_64.resolve("no_such_syscall"), None);
        assert_eq!(Abi::X86_64.resolve("_llseek"), None);
        assert_eq!(Abi::I386.resolve("_llseek"), Some(140));
    }

    #[test]
    fn foreign_architectures_are_left_out() {
        let x86_64 = |arch| Abi::from_oci(arch, Abi::X86_64);
        assert_eq!(x86_64(Arch::ScmpArchX32), Some(Abi::X32));
        assert_eq!(x86_64(Arch::ScmpArchNative), Some(Abi::X86_64));
        assert_eq!(x86_64(Arch::ScmpArchAarch64), None);
        assert_eq!(x86_64(Arch::ScmpArchS390x), None);
        let aarch64 = |arch| Abi::from_oci(arch, Abi::Aarch64);
        assert_eq!(aarch64(Arch::ScmpArchArm), Some(Abi::Arm));
        assert_eq!(aarch64(Arch::ScmpArchNative), Some(Abi::Aarch64));
        assert_eq!(aarch64(Arch::ScmpArchX86), None);
        assert_eq!(aarch64(Arch::ScmpArchX32), None);
    }
}
