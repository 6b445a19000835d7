//! The code of a verdict with argument conditions: its rules tried in
//! order, each jumping straight to its chunk's shared returns.
//!
//! A run of rules that each allow one value of the same argument (Docker's
//! five `personality` personas) is one set test: the high half loaded once
//! per distinct high half, the low half once, then a `jeq` per value. A
//! 64-bit argument is compared as two 32-bit halves, the high one first; on
//! 32-bit ABIs only the low half exists, as libseccomp does.

use super::bpf::{Assembler, Cmp, Target};
use super::rules::{Cond, Op, Rule};
use super::search::Pool;

// Offset of `args` in `struct seccomp_data` (<linux/seccomp.h>).
const OFF_ARGS: u32 = 16;

/// About the instructions [`body`] emits for `rules`.
pub(super) fn body_size(rules: &[&Rule], wide: bool) -> usize {
    let per_cond = if wide { 5 } else { 3 };
    rules
        .iter()
        .map(|r| per_cond * r.conds.len())
        .sum::<usize>()
        + 1
}

/// `rules` tried in order: the first that matches decides; the default
/// when none does. A last unconditional rule always matches.
pub(super) fn body(
    asm: &mut Assembler,
    rules: &[&Rule],
    default: u32,
    wide: bool,
    pool: &mut Pool,
) {
    let (conditional, fallback) = match rules.split_last() {
        Some((last, init)) if last.conds.is_empty() => (init, last.action),
        _ => (rules, default),
    };
    if conditional.is_empty() {
        return asm.ret(fallback);
    }
    let mut rest = conditional;
    while let [rule, ..] = rest {
        let run = set_run(rest);
        let done = run == rest.len();
        // Where to go when this rule (or set) does not match.
        let (fail, fail_label) = if done {
            (pool.ret(asm, fallback), None)
        } else {
            let label = asm.label();
            (Target::To(label), Some(label))
        };
        let pass = pool.ret(asm, rule.action);
        if run > 1 {
            set_test(asm, &rest[..run], pass, fail, wide);
        } else {
            let (last, init) = rule.conds.split_last().expect("conditional rule");
            for cond in init {
                condition(asm, cond, Target::Next, fail, wide);
            }
            condition(asm, last, pass, fail, wide);
        }
        if let Some(label) = fail_label {
            asm.place(label);
        }
        rest = &rest[run..];
    }
}

/// How many rules from the first form a set test: each with a single
/// `==` on the same argument and the same action.
fn set_run(rules: &[&Rule]) -> usize {
    let is_eq = |r: &Rule| matches!(r.conds.as_slice(), [c] if c.op == Op::Eq);
    let Some(first) = rules.first().filter(|r| is_eq(r)) else {
        return 1;
    };
    let index = first.conds[0].index;
    rules
        .iter()
        .take_while(|r| is_eq(r) && r.conds[0].index == index && r.action == first.action)
        .count()
}

/// Jumps to `pass` when the argument equals one of the rules' values, to
/// `fail` otherwise.
fn set_test(asm: &mut Assembler, rules: &[&Rule], pass: Target, fail: Target, wide: bool) {
    let index = rules[0].conds[0].index;
    let (lo_off, hi_off) = offsets(index);
    let mut values: Vec<u64> = rules
        .iter()
        .map(|r| {
            let value = r.conds[0].value;
            if wide {
                value
            } else {
                value & 0xffff_ffff
            }
        })
        .collect();
    values.sort_unstable();
    values.dedup();
    // Grouped by high half (sorted, so each group is a run).
    let mut rest = values.as_slice();
    while let [first, ..] = rest {
        let hi = (first >> 32) as u32;
        let count = rest.iter().take_while(|v| (**v >> 32) as u32 == hi).count();
        let (group, tail) = rest.split_at(count);
        rest = tail;
        let next = asm.label();
        let miss = if rest.is_empty() {
            fail
        } else {
            Target::To(next)
        };
        if wide {
            asm.load(hi_off);
            asm.jump(Cmp::Eq, hi, Target::Next, miss);
        }
        asm.load(lo_off);
        for (i, value) in group.iter().enumerate() {
            let other = if i + 1 == group.len() {
                miss
            } else {
                Target::Next
            };
            asm.jump(Cmp::Eq, *value as u32, pass, other);
        }
        asm.place(next);
    }
}

/// The offsets of argument `index`'s low and high halves.
fn offsets(index: u32) -> (u32, u32) {
    let arg = OFF_ARGS + 8 * index;
    if cfg!(target_endian = "little") {
        (arg, arg + 4)
    } else {
        (arg + 4, arg)
    }
}

/// Goes to `pass` when `cond` holds (`Target::Next`: falls through), to
/// `fail` when not.
fn condition(asm: &mut Assembler, cond: &Cond, pass: Target, fail: Target, wide: bool) {
    let (lo_off, hi_off) = offsets(cond.index);
    let (hi, lo) = ((cond.value >> 32) as u32, cond.value as u32);
    let next = Target::Next;
    // A pass decided by the high half must skip the low half's code.
    let end = asm.label();
    let early = match pass {
        Target::Next => Target::To(end),
        to => to,
    };
    match cond.op {
        Op::Eq | Op::Ne | Op::MaskedEq { .. } => {
            let (mask_hi, mask_lo) = match cond.op {
                Op::MaskedEq { mask } => (Some((mask >> 32) as u32), Some(mask as u32)),
                _ => (None, None),
            };
            // Eq and MaskedEq: both halves equal. Ne: either differs.
            let (hi_differs, lo_equal, lo_differs) = match cond.op {
                Op::Ne => (early, fail, pass),
                _ => (fail, pass, fail),
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
                let above = if greater { early } else { fail };
                asm.jump(Cmp::Gt, hi, above, next);
                let below = if greater { fail } else { early };
                asm.jump(Cmp::Eq, hi, next, below);
            }
            asm.load(lo_off);
            match cond.op {
                Op::Gt => asm.jump(Cmp::Gt, lo, pass, fail),
                Op::Ge => asm.jump(Cmp::Ge, lo, pass, fail),
                Op::Lt => asm.jump(Cmp::Ge, lo, fail, pass),
                _ => asm.jump(Cmp::Gt, lo, fail, pass),
            }
        }
    }
    asm.place(end);
}
