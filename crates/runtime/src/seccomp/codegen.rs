//! Generates the filter: an architecture dispatch, then per ABI a binary
//! search on the syscall number whose leaves hold the rules.
//!
//! Layout (x86_64 with `[X86_64, X86, X32]` listed):
//!
//! ```text
//!   ld arch; jeq X86_64 → s64; jeq I386 → s32; ret KILL_PROCESS   (bad arch)
//! s64: ld nr; jset X32_BIT → x32; [jgt max → ret ENOSYS]; tree
//! x32: ld nr; [stub]; tree          (reached only through the jset)
//! s32: ld nr; [stub]; tree
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
//! Each tree leaf (a few syscalls) jumps from its `jeq` to a return local to
//! the leaf, so only the tree's `jge` nodes jump far; the assembler adds
//! trampolines for those. Docker's default profile takes about 1650
//! instructions on x86_64 with three ABIs.

use std::collections::BTreeMap;

use super::abi::{Abi, X32_SYSCALL_BIT};
use super::bpf::{Assembler, Cmp, Label, SockFilter, Target};
use super::error::SeccompError;
use super::rules::{Cond, Op, Profile, Rule, ENOSYS, RET_ERRNO, RET_KILL_PROCESS};

/// The action for a syscall of an ABI the filter has no section for.
pub(crate) const RET_BAD_ARCH: u32 = RET_KILL_PROCESS;

// Offsets in `struct seccomp_data` (<linux/seccomp.h>).
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const OFF_ARGS: u32 = 16;

/// Syscalls per tree leaf, compared one by one.
const LEAF: usize = 8;

/// The rules for one syscall number: conditional ones in profile order,
/// then the first unconditional one (later ones could never match).
type Group<'a> = (u32, Vec<&'a Rule>);

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

    for (abi, label) in &sections {
        asm.place(*label);
        asm.load(OFF_NR);
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
        section(&mut asm, profile, *abi);
    }
    asm.assemble()
}

/// The code for one ABI; the syscall number is in A.
fn section(asm: &mut Assembler, profile: &Profile, abi: Abi) {
    let names = abi.table();
    let mut by_nr: BTreeMap<u32, (Vec<&Rule>, Option<&Rule>)> = BTreeMap::new();
    for (name, rule) in &profile.rules {
        if let Some(nr) = names.resolve(name) {
            let (conditional, unconditional) = by_nr.entry(nr).or_default();
            if !rule.conds.is_empty() {
                conditional.push(rule);
            } else if unconditional.is_none() {
                *unconditional = Some(rule);
            }
        }
    }
    let groups: Vec<Group> = by_nr
        .into_iter()
        .map(|(nr, (mut rules, last))| {
            rules.extend(last);
            (nr, rules)
        })
        .collect();

    if profile.wants_enosys_stub() {
        if let Some(max) = profile.names.iter().filter_map(|n| names.resolve(n)).max() {
            let known = asm.label();
            asm.jump(Cmp::Gt, max, Target::Next, Target::To(known));
            asm.ret(RET_ERRNO | ENOSYS);
            asm.place(known);
        }
    }
    tree(asm, &groups, profile.default_action, abi.is_64bit());
}

fn tree(asm: &mut Assembler, groups: &[Group], default: u32, wide: bool) {
    if groups.len() <= LEAF {
        return leaf(asm, groups, default, wide);
    }
    let mid = groups.len() / 2;
    let right = asm.label();
    asm.jump(Cmp::Ge, groups[mid].0, Target::To(right), Target::Next);
    tree(asm, &groups[..mid], default, wide);
    asm.place(right);
    tree(asm, &groups[mid..], default, wide);
}

fn leaf(asm: &mut Assembler, groups: &[Group], default: u32, wide: bool) {
    let mut returns: Vec<(u32, Label)> = Vec::new();
    let mut bodies: Vec<(Label, &[&Rule])> = Vec::new();
    for (nr, rules) in groups {
        let target = match rules.as_slice() {
            [only] if only.conds.is_empty() => {
                match returns.iter().find(|(action, _)| *action == only.action) {
                    Some((_, label)) => *label,
                    None => {
                        let label = asm.label();
                        returns.push((only.action, label));
                        label
                    }
                }
            }
            _ => {
                let label = asm.label();
                bodies.push((label, rules));
                label
            }
        };
        asm.jump(Cmp::Eq, *nr, Target::To(target), Target::Next);
    }
    asm.ret(default);
    for (action, label) in returns {
        asm.place(label);
        asm.ret(action);
    }
    for (label, rules) in bodies {
        asm.place(label);
        for rule in rules {
            let fail = asm.label();
            for cond in &rule.conds {
                condition(asm, cond, fail, wide);
            }
            asm.ret(rule.action);
            asm.place(fail);
        }
        asm.ret(default);
    }
}

/// Falls through when `cond` holds, jumps to `fail` when not. A 64-bit
/// argument is compared as two 32-bit halves, the high one first; on 32-bit
/// ABIs only the low half exists.
fn condition(asm: &mut Assembler, cond: &Cond, fail: Label, wide: bool) {
    let lo_off = OFF_ARGS + 8 * cond.index + if cfg!(target_endian = "little") { 0 } else { 4 };
    let hi_off = OFF_ARGS + 8 * cond.index + if cfg!(target_endian = "little") { 4 } else { 0 };
    let (hi, lo) = ((cond.value >> 32) as u32, cond.value as u32);
    let fail = Target::To(fail);
    let next = Target::Next;
    let pass = asm.label();
    let to_pass = Target::To(pass);
    match cond.op {
        Op::Eq | Op::Ne | Op::MaskedEq { .. } => {
            let (mask_hi, mask_lo) = match cond.op {
                Op::MaskedEq { mask } => (Some((mask >> 32) as u32), Some(mask as u32)),
                _ => (None, None),
            };
            // Eq and MaskedEq: both halves equal. Ne: either differs.
            let (hi_differs, lo_equal, lo_differs) = match cond.op {
                Op::Ne => (to_pass, fail, next),
                _ => (fail, next, fail),
            };
            if wide {
                asm.load(hi_off);
                if let Some(mask) = mask_hi {
                    asm.and(mask);
                }
                asm.jump(Cmp::Eq, hi, next, hi_differs);
            }
            asm.load(lo_off);
            if let Some(mask) = mask_lo {
                asm.and(mask);
            }
            asm.jump(Cmp::Eq, lo, lo_equal, lo_differs);
        }
        Op::Gt | Op::Ge | Op::Lt | Op::Le => {
            // Gt/Ge hold when hi is above; Lt/Le when hi is below.
            let greater = matches!(cond.op, Op::Gt | Op::Ge);
            if wide {
                asm.load(hi_off);
                let (above, not_above) = if greater {
                    (to_pass, next)
                } else {
                    (fail, next)
                };
                asm.jump(Cmp::Gt, hi, above, not_above);
                let below = if greater { fail } else { to_pass };
                asm.jump(Cmp::Eq, hi, next, below);
            }
            asm.load(lo_off);
            match cond.op {
                Op::Gt => asm.jump(Cmp::Gt, lo, next, fail),
                Op::Ge => asm.jump(Cmp::Ge, lo, next, fail),
                Op::Lt => asm.jump(Cmp::Ge, lo, fail, next),
                _ => asm.jump(Cmp::Gt, lo, fail, next),
            }
        }
    }
    asm.place(pass);
}
