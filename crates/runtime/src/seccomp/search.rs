//! The search over one ABI's spans: a balanced tree of `jge start` nodes
//! whose both branches may go straight to a shared `ret` (or to the code of
//! a verdict with conditions), then the conditions themselves.
//!
//! One jump per span boundary and one `jeq` per exception, no more. A
//! subtree small enough for 8-bit jump offsets is a *chunk* with its own
//! pool of returns; larger trees split into chunks, and the assembler adds
//! a trampoline for the few far jumps. The syscall number is in A
//! throughout the tree: only jumps, no loads, so the kernel's action cache
//! can still tell which numbers are always allowed.

use super::bpf::{Assembler, Cmp, Label, Target};
use super::rules::{Cond, Op, Rule};
use super::spans::{Span, Verdict};

// Offset of `args` in `struct seccomp_data` (<linux/seccomp.h>).
const OFF_ARGS: u32 = 16;

/// The most instructions a chunk's jumps and condition code may take, so
/// that its jumps reach its returns without trampolines (offsets are 8 bits).
const CHUNK: usize = 200;

/// The search over `spans`; the syscall number is in A.
pub(super) fn search(asm: &mut Assembler, spans: &[Span], default: u32, wide: bool) {
    let size: usize = spans.iter().map(|s| size(s, wide)).sum();
    if size <= CHUNK || spans.len() == 1 {
        return chunk(asm, spans, default, wide);
    }
    let mid = spans.len() / 2;
    let right = asm.label();
    asm.jump(Cmp::Ge, spans[mid].start, Target::To(right), Target::Next);
    search(asm, &spans[..mid], default, wide);
    asm.place(right);
    search(asm, &spans[mid..], default, wide);
}

/// About the instructions `span` adds to a chunk.
fn size(span: &Span, wide: bool) -> usize {
    let exceptions: usize = span
        .exceptions
        .iter()
        .map(|(_, verdict)| 1 + code_size(verdict, wide))
        .sum();
    1 + code_size(&span.verdict, wide) + exceptions
}

/// The instructions a verdict's own code takes (0 for a shared return).
fn code_size(verdict: &Verdict, wide: bool) -> usize {
    let Verdict::Rules(rules) = verdict else {
        return 0;
    };
    let per_cond = if wide { 5 } else { 3 };
    1 + rules
        .iter()
        .map(|r| 1 + per_cond * r.conds.len())
        .sum::<usize>()
}

/// Where a chunk's jumps go: one return per action, one block of code per
/// distinct conditional verdict.
#[derive(Default)]
struct Pool<'v, 'a> {
    returns: Vec<(u32, Label)>,
    bodies: Vec<(&'v [&'a Rule], Label)>,
}

impl<'v, 'a> Pool<'v, 'a> {
    fn target(&mut self, asm: &mut Assembler, verdict: &'v Verdict<'a>) -> Target {
        let label = match verdict {
            Verdict::Ret(action) => match self.returns.iter().find(|(a, _)| a == action) {
                Some((_, label)) => *label,
                None => {
                    let label = asm.label();
                    self.returns.push((*action, label));
                    label
                }
            },
            Verdict::Rules(rules) => match self.bodies.iter().find(|(r, _)| r == rules) {
                Some((_, label)) => *label,
                None => {
                    let label = asm.label();
                    self.bodies.push((rules, label));
                    label
                }
            },
        };
        Target::To(label)
    }
}

/// A subtree of the search with its returns and condition code after it.
fn chunk(asm: &mut Assembler, spans: &[Span], default: u32, wide: bool) {
    if let [only] = spans {
        if only.exceptions.is_empty() {
            return match &only.verdict {
                Verdict::Ret(action) => asm.ret(*action),
                Verdict::Rules(rules) => body(asm, rules, default, wide),
            };
        }
    }
    let mut pool = Pool::default();
    subtree(asm, spans, &mut pool);
    for (action, label) in pool.returns {
        asm.place(label);
        asm.ret(action);
    }
    for (rules, label) in pool.bodies {
        asm.place(label);
        body(asm, rules, default, wide);
    }
}

/// Whether `spans` need jumps of their own, rather than a jump into the pool.
fn needs_code(spans: &[Span]) -> bool {
    spans.len() > 1 || !spans[0].exceptions.is_empty()
}

/// The jumps that tell `spans` apart, entered at the next instruction.
fn subtree<'v, 'a>(asm: &mut Assembler, spans: &'v [Span<'a>], pool: &mut Pool<'v, 'a>) {
    let [only] = spans else {
        return node(asm, spans, pool);
    };
    // A span with exceptions: a `jeq` for each, then the span's verdict.
    let base = pool.target(asm, &only.verdict);
    let last = only.exceptions.len() - 1;
    for (i, (nr, verdict)) in only.exceptions.iter().enumerate() {
        let hit = pool.target(asm, verdict);
        asm.jump(
            Cmp::Eq,
            *nr,
            hit,
            if i == last { base } else { Target::Next },
        );
    }
}

/// `jge` the first start of the right half, each branch going to code
/// emitted here or, for a single span without exceptions, into the pool.
fn node<'v, 'a>(asm: &mut Assembler, spans: &'v [Span<'a>], pool: &mut Pool<'v, 'a>) {
    let (left, right) = spans.split_at(spans.len() / 2);
    let right_label = asm.label();
    let jt = if needs_code(right) {
        Target::To(right_label)
    } else {
        pool.target(asm, &right[0].verdict)
    };
    let jf = if needs_code(left) {
        Target::Next
    } else {
        pool.target(asm, &left[0].verdict)
    };
    asm.jump(Cmp::Ge, right[0].start, jt, jf);
    if needs_code(left) {
        subtree(asm, left, pool);
    }
    if needs_code(right) {
        asm.place(right_label);
        subtree(asm, right, pool);
    }
}

/// The rules of one verdict, tried in order; the default when none matches.
fn body(asm: &mut Assembler, rules: &[&Rule], default: u32, wide: bool) {
    for rule in rules {
        if rule.conds.is_empty() {
            // The unconditional rule comes last and always matches.
            asm.ret(rule.action);
            return;
        }
        let fail = asm.label();
        for cond in &rule.conds {
            condition(asm, cond, fail, wide);
        }
        asm.ret(rule.action);
        asm.place(fail);
    }
    asm.ret(default);
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
