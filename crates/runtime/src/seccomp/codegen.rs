//! Generates the filter: an architecture dispatch, then per ABI a search
//! over the spans of syscall numbers that share a verdict (`spans`,
//! `search`).
//!
//! Layout (x86_64 with `[X86_64, X86, X32]` listed):
//!
//! ```text
//!   ld arch; jeq X86_64 → s64; jeq I386 → s32; ret KILL_PROCESS   (bad arch)
//! s64: ld nr; jset X32_BIT → x32; search
//! x32: search        (reached only through the jset, the number loaded)
//! s32: ld nr; search
//! ```
//!
//! A syscall of an architecture the profile does not list (or an x32 one
//! when x32 is not listed) kills the process. libseccomp's default "bad
//! arch" action is `SCMP_ACT_KILL` (the thread) and runc and youki keep it;
//! we kill the whole process, because killing one thread of a
//! multi-threaded process leaves the others running without it. The
//! default action would be the other choice, but under an allow-by-default
//! profile it would let every syscall of the unlisted ABI past the deny
//! rules (the classic `int 0x80` escape).
//!
//! Searching spans instead of single syscalls keeps Docker's default
//! profile (about 350 names, three ABIs) to a few hundred instructions
//! rather than 1634: the kernel converts, JITs and (5.11+) emulates the
//! program for its action cache at every container start, in time that
//! grows with its length.

use super::abi::{x32, Abi, X32_SYSCALL_BIT};
use super::bpf::{Assembler, Cmp, Label, SockFilter, Target};
use super::error::SeccompError;
use super::rules::{Profile, RET_KILL_PROCESS};
use super::search::search;
use super::spans::spans;

/// The action for a syscall of an ABI the filter has no section for.
pub(crate) const RET_BAD_ARCH: u32 = RET_KILL_PROCESS;

// Offsets in `struct seccomp_data` (<linux/seccomp.h>).
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;

pub(crate) fn generate(profile: &Profile) -> Result<Vec<SockFilter>, SeccompError> {
    let mut asm = Assembler::default();
    let sections: Vec<(Abi, Label)> = profile.abis.iter().map(|a| (*a, asm.label())).collect();
    let label_of = |abi: Abi| sections.iter().find(|(a, _)| *a == abi).map(|(_, l)| *l);

    asm.load(OFF_ARCH);
    for (abi, label) in &sections {
        // x32 shares x86_64's arch value; its jset is in the x86_64 section.
        if *abi != Abi::X32 {
            asm.jump(Cmp::Eq, abi.audit_arch(), Target::To(*label), Target::Next);
        }
    }
    asm.ret(RET_BAD_ARCH);

    let mut numbers = Numbers::new(profile);
    for (abi, label) in &sections {
        asm.place(*label);
        // The x32 section is entered from x86_64's with the number loaded.
        if *abi != Abi::X32 {
            asm.load(OFF_NR);
        }
        if *abi == Abi::X86_64 {
            match label_of(Abi::X32) {
                Some(x32) => asm.jump(Cmp::Set, X32_SYSCALL_BIT, Target::To(x32), Target::Next),
                None => {
                    let native = asm.label();
                    asm.jump(Cmp::Set, X32_SYSCALL_BIT, Target::Next, Target::To(native));
                    asm.ret(RET_BAD_ARCH);
                    asm.place(native);
                }
            }
        }
        let spans = spans(profile, *abi, &numbers.of(*abi));
        search(&mut asm, &spans, profile.default_action, abi.is_64bit());
    }
    asm.assemble()
}

/// The syscall number of every name of the profile, per ABI, each name
/// looked up once for x86_64 and x32 (x32 numbers derive from x86_64's).
struct Numbers<'p> {
    profile: &'p Profile<'p>,
    x86_64: Option<Vec<Option<u32>>>,
}

impl<'p> Numbers<'p> {
    fn new(profile: &'p Profile<'p>) -> Self {
        Self {
            profile,
            x86_64: None,
        }
    }

    /// The numbers of `profile.names` on `abi`, in the same order.
    fn of(&mut self, abi: Abi) -> Vec<Option<u32>> {
        let profile = self.profile;
        let resolve = |abi: Abi| profile.names.iter().map(|(n, _)| abi.number(n)).collect();
        match abi {
            Abi::X86_64 | Abi::X32 => {
                let native = self.x86_64.get_or_insert_with(|| resolve(Abi::X86_64));
                match abi {
                    Abi::X32 => native.iter().map(|nr| nr.map(x32)).collect(),
                    _ => native.clone(),
                }
            }
            _ => resolve(abi),
        }
    }
}
