//! Generates the filter: an architecture dispatch, then per ABI a binary
//! search over runs of syscall numbers that share a verdict.
//!
//! Layout (x86_64 with `[X86_64, X86, X32]` listed):
//!
//! ```text
//!   ld arch; jeq X86_64 → s64; jeq I386 → s32; ret KILL_PROCESS   (bad arch)
//! s64: ld nr; jset X32_BIT → x32; tree
//! x32: tree          (reached only through the jset)
//! s32: ld nr; tree
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
//! **Spans.** Each ABI's number space is cut into spans, runs of
//! consecutive numbers with the same verdict: the numbers the profile does
//! not name take the default action, those above every number it names get
//! runc's -ENOSYS stub, and a named number without conditions shares a span
//! with its neighbours when their actions agree. Only numbers with argument
//! conditions need code of their own. Docker's allow-list profile has a few
//! dozen spans per ABI where it names about 350 syscalls, so the search
//! runs over span starts and the program is about a fifth of a
//! per-syscall one: the kernel converts, JITs and (5.11+) emulates it for
//! its action cache that much faster.
//!
//! **Search.** A balanced tree of `jge start` nodes whose both branches may
//! go straight to a shared `ret` (or a span's condition code): one jump per
//! span boundary and no more. A subtree small enough for 8-bit jump offsets
//! is a *chunk* with its own pool of returns; larger trees split into
//! chunks, and the assembler adds a trampoline for the few far jumps.

use super::abi::{x32, Abi, X32_SYSCALL_BIT};
use super::bpf::{Assembler, Cmp, Label, SockFilter, Target};
use super::error::SeccompError;
use super::rules::{Cond, Op, Profile, Rule, ENOSYS, RET_ERRNO, RET_KILL_PROCESS};

/// The action for a syscall of an ABI the filter has no section for.
pub(crate) const RET_BAD_ARCH: u32 = RET_KILL_PROCESS;

// Offsets in `struct seccomp_data` (<linux/seccomp.h>).
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const OFF_ARGS: u32 = 16;

/// The most instructions a chunk's jumps and condition code may take, so
/// that its jumps reach its returns without trampolines (offsets are 8 bits).
const CHUNK: usize = 200;

/// The verdict for a span of syscall numbers.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Verdict<'a> {
    /// Always this action.
    Ret(u32),
    /// The conditional rules in profile order, then the first unconditional
    /// one, if any (later ones could never match); the default action when
    /// none matches.
    Rules(Vec<&'a Rule>),
}

/// The numbers from `start` to the next span's start take `verdict`.
#[derive(Debug)]
struct Span<'a> {
    start: u32,
    verdict: Verdict<'a>,
}

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
        let spans = spans(profile, *abi, numbers.of(*abi));
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
        let resolve = |abi: Abi| {
            let table = abi.table();
            profile
                .names
                .iter()
                .map(|(n, _)| table.resolve(n))
                .collect()
        };
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

/// Cuts `abi`'s number space into spans, in order, neighbours always with
/// different verdicts. `numbers` are those of `profile.names`.
fn spans<'a>(profile: &'a Profile, abi: Abi, numbers: Vec<Option<u32>>) -> Vec<Span<'a>> {
    // (number, position in the profile, rule), sorted by number; the sort
    // is stable, so each number's rules stay in profile order.
    let mut named: Vec<(u32, &Rule)> = profile
        .names
        .iter()
        .zip(&numbers)
        .filter_map(|((_, rule), nr)| Some(((*nr)?, &profile.rules[(*rule)?])))
        .collect();
    named.sort_by_key(|(nr, _)| *nr);

    let default = profile.default_action;
    let mut out = Spans(vec![Span {
        start: 0,
        verdict: Verdict::Ret(default),
    }]);
    let mut rest = named.as_slice();
    while let [(nr, _), ..] = rest {
        let nr = *nr;
        let count = rest.iter().take_while(|(n, _)| *n == nr).count();
        let (same, tail) = rest.split_at(count);
        rest = tail;
        let verdict = verdict(same.iter().map(|(_, rule)| *rule), default);
        out.push(nr, verdict);
        if let Some(next) = nr.checked_add(1) {
            out.push(next, Verdict::Ret(default));
        }
    }
    if profile.wants_enosys_stub() {
        let max = numbers.iter().flatten().max();
        if let Some(above) = max.and_then(|max| max.checked_add(1)) {
            out.push(above, Verdict::Ret(RET_ERRNO | ENOSYS));
        }
    }
    let mut spans = out.0;
    // x32 numbers all carry the x32 bit, so the numbers below it never
    // reach the x32 section: the span starting at the bit may cover them
    // too, which saves a boundary when x32's first syscall (read) has a
    // verdict of its own.
    if abi == Abi::X32 && spans.get(1).is_some_and(|s| s.start == X32_SYSCALL_BIT) {
        spans.remove(0);
        spans[0].start = 0;
    }
    spans
}

/// Spans under construction: pushing merges a span into the previous one
/// when their verdicts agree, and replaces a span that would be empty.
struct Spans<'a>(Vec<Span<'a>>);

impl<'a> Spans<'a> {
    fn push(&mut self, start: u32, verdict: Verdict<'a>) {
        let spans = &mut self.0;
        let last = spans.last_mut().expect("spans start with one");
        if last.start == start {
            last.verdict = verdict;
            if let [.., before, last] = spans.as_slice() {
                if before.verdict == last.verdict {
                    spans.pop();
                }
            }
        } else if last.verdict != verdict {
            spans.push(Span { start, verdict });
        }
    }
}

/// The verdict of a number with `rules` (in profile order, at least one).
fn verdict<'a>(rules: impl Iterator<Item = &'a Rule>, default: u32) -> Verdict<'a> {
    let mut conditional: Vec<&Rule> = Vec::new();
    let mut unconditional = None;
    for rule in rules {
        if !rule.conds.is_empty() {
            conditional.push(rule);
        } else if unconditional.is_none() {
            unconditional = Some(rule);
        }
    }
    let fallback = unconditional.map_or(default, |r| r.action);
    // A last conditional rule with the fallback's action decides nothing:
    // matched or not, the verdict is the same.
    while conditional.last().is_some_and(|r| r.action == fallback) {
        conditional.pop();
    }
    if conditional.is_empty() {
        return Verdict::Ret(fallback);
    }
    conditional.extend(unconditional);
    Verdict::Rules(conditional)
}

/// The search over `spans`; the syscall number is in A.
fn search(asm: &mut Assembler, spans: &[Span], default: u32, wide: bool) {
    let size: usize = spans.iter().map(|s| 1 + code_size(&s.verdict, wide)).sum();
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
        return match &only.verdict {
            Verdict::Ret(action) => asm.ret(*action),
            Verdict::Rules(rules) => body(asm, rules, default, wide),
        };
    }
    let mut pool = Pool::default();
    node(asm, spans, &mut pool);
    for (action, label) in pool.returns {
        asm.place(label);
        asm.ret(action);
    }
    for (rules, label) in pool.bodies {
        asm.place(label);
        body(asm, rules, default, wide);
    }
}

/// The jumps of a subtree of at least two spans, entered at the next
/// instruction: `jge` the first start of the right half, each branch going
/// to a subtree emitted here or, for a single span, into the pool.
fn node<'v, 'a>(asm: &mut Assembler, spans: &'v [Span<'a>], pool: &mut Pool<'v, 'a>) {
    let mid = spans.len() / 2;
    let (left, right) = spans.split_at(mid);
    let right_label = asm.label();
    let jt = match right {
        [only] => pool.target(asm, &only.verdict),
        _ => Target::To(right_label),
    };
    let jf = match left {
        [only] => pool.target(asm, &only.verdict),
        _ => Target::Next,
    };
    asm.jump(Cmp::Ge, right[0].start, jt, jf);
    if left.len() > 1 {
        node(asm, left, pool);
    }
    if right.len() > 1 {
        asm.place(right_label);
        node(asm, right, pool);
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
