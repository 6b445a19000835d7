//! The search over one ABI's spans: a balanced tree of `jge start` nodes
//! whose both branches may go straight to a shared `ret` or to the code of
//! a verdict with conditions (`conds`).
//!
//! One jump per span boundary and one `jeq` per exception, no more. A
//! subtree small enough for 8-bit jump offsets is a *chunk* with its own
//! pool of returns; larger trees split into chunks, and the assembler adds
//! a trampoline for the few far jumps. The syscall number is in A
//! throughout the tree: only jumps, no loads, so the kernel's action cache
//! can still tell which numbers are always allowed.

use super::bpf::{Assembler, Cmp, Label, Target};
use super::conds::{body, body_size};
use super::rules::Rule;
use super::spans::{Span, Verdict};

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
    let code = |verdict: &Verdict| match verdict {
        Verdict::Ret(_) => 0,
        Verdict::Rules(rules) => body_size(rules, wide),
    };
    let exceptions: usize = span.exceptions.iter().map(|(_, v)| 1 + code(v)).sum();
    1 + code(&span.verdict) + exceptions
}

/// Where a chunk's jumps go: one return per action, one block of code per
/// distinct conditional verdict.
#[derive(Default)]
pub(super) struct Pool<'v, 'a> {
    returns: Vec<(u32, Label)>,
    bodies: Vec<(&'v [&'a Rule], Label)>,
}

impl<'v, 'a> Pool<'v, 'a> {
    /// The chunk's `ret action`.
    pub(super) fn ret(&mut self, asm: &mut Assembler, action: u32) -> Target {
        let label = match self.returns.iter().find(|(a, _)| *a == action) {
            Some((_, label)) => *label,
            None => {
                let label = asm.label();
                self.returns.push((action, label));
                label
            }
        };
        Target::To(label)
    }

    fn target(&mut self, asm: &mut Assembler, verdict: &'v Verdict<'a>) -> Target {
        let rules = match verdict {
            Verdict::Ret(action) => return self.ret(asm, *action),
            Verdict::Rules(rules) => rules,
        };
        let label = match self.bodies.iter().find(|(r, _)| r == rules) {
            Some((_, label)) => *label,
            None => {
                let label = asm.label();
                self.bodies.push((rules, label));
                label
            }
        };
        Target::To(label)
    }
}

/// A subtree of the search, then the code of its conditional verdicts,
/// then its returns (all jumps go forward).
fn chunk(asm: &mut Assembler, spans: &[Span], default: u32, wide: bool) {
    let mut pool = Pool::default();
    match spans {
        [only] if only.exceptions.is_empty() => match &only.verdict {
            Verdict::Ret(action) => return asm.ret(*action),
            Verdict::Rules(rules) => body(asm, rules, default, wide, &mut pool),
        },
        _ => subtree(asm, spans, &mut pool),
    }
    for (rules, label) in std::mem::take(&mut pool.bodies) {
        asm.place(label);
        body(asm, rules, default, wide, &mut pool);
    }
    for (action, label) in pool.returns {
        asm.place(label);
        asm.ret(action);
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
