//! One ABI's syscall numbers cut into spans: runs of consecutive numbers
//! that share a verdict, which the filter's search tells apart.
//!
//! The numbers the profile does not name take the default action, those
//! above every number it names get runc's -ENOSYS stub, and a named number
//! shares a span with its neighbours when their verdicts agree; only
//! numbers with argument conditions need code of their own. A span of one
//! number between two spans with the same verdict (a syscall denied in a
//! run of allowed ones) is kept as an *exception* of the span around it:
//! one `jeq` instead of two tree nodes.

use super::abi::{Abi, X32_SYSCALL_BIT};
use super::rules::{Profile, Rule, ENOSYS, RET_ERRNO};

/// The most exceptions a span keeps: each is one more `jeq` on the way to
/// the span's own verdict.
const MAX_EXCEPTIONS: usize = 3;

/// The verdict for a syscall number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Verdict<'a> {
    /// Always this action.
    Ret(u32),
    /// The conditional rules in profile order, then the first unconditional
    /// one, if any (later ones could never match); the default action when
    /// none matches.
    Rules(Vec<&'a Rule>),
}

/// The numbers from `start` to the next span's start take `verdict`, but
/// for the `exceptions`.
#[derive(Debug)]
pub(super) struct Span<'a> {
    pub(super) start: u32,
    pub(super) verdict: Verdict<'a>,
    /// Single numbers inside the span with a verdict of their own.
    pub(super) exceptions: Vec<(u32, Verdict<'a>)>,
}

/// Cuts `abi`'s number space into spans, in order. `numbers` are those of
/// `profile.names` on `abi`.
pub(super) fn spans<'a>(profile: &'a Profile, abi: Abi, numbers: &[Option<u32>]) -> Vec<Span<'a>> {
    let named = by_number(profile, numbers);
    let default = profile.default_action;
    let mut out = Runs(vec![Span {
        start: 0,
        verdict: Verdict::Ret(default),
        exceptions: Vec::new(),
    }]);
    let mut rest = named.as_slice();
    while let [(nr, _), ..] = rest {
        let nr = *nr;
        let count = rest.iter().take_while(|(n, _)| *n == nr).count();
        let (same, tail) = rest.split_at(count);
        rest = tail;
        let rules = same.iter().map(|(_, rule)| &profile.rules[*rule as usize]);
        out.push(nr, verdict(rules, default));
        // The default resumes after `nr`, unless the next number is named.
        if let Some(next) = nr.checked_add(1) {
            if rest.first().map(|(n, _)| *n) != Some(next) {
                out.push(next, Verdict::Ret(default));
            }
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
    with_exceptions(spans)
}

/// `(number, rule index)` of every name with a kept rule, by number, and
/// in profile order for one number.
///
/// A counting sort: numbers are indexes of the kernel's syscall tables, so
/// they span a few hundred values (past the x32 bit on x32), and two passes
/// over the names cost less than a comparison sort's cold branches.
fn by_number(profile: &Profile, numbers: &[Option<u32>]) -> Vec<(u32, u32)> {
    let named = || {
        profile
            .names
            .iter()
            .zip(numbers)
            .filter_map(|((_, rule), nr)| Some(((*nr)?, (*rule)? as u32)))
    };
    let Some((low, high)) = named().fold(None, |range, (nr, _)| match range {
        None => Some((nr, nr)),
        Some((low, high)) => Some((nr.min(low), nr.max(high))),
    }) else {
        return Vec::new();
    };
    let range = (high - low) as usize + 1;
    if range > 4096 {
        let mut all: Vec<(u32, u32)> = named().collect();
        all.sort_by_key(|(nr, _)| *nr);
        return all;
    }
    // Where each number's entries start, then filled in profile order.
    let mut next = vec![0u32; range + 1];
    for (nr, _) in named() {
        next[(nr - low) as usize + 1] += 1;
    }
    for i in 1..next.len() {
        next[i] += next[i - 1];
    }
    let mut out = vec![(0, 0); next[range] as usize];
    for entry in named() {
        let slot = &mut next[(entry.0 - low) as usize];
        out[*slot as usize] = entry;
        *slot += 1;
    }
    out
}

/// Spans under construction: pushing merges a span into the previous one
/// when their verdicts agree, and replaces a span that would be empty.
struct Runs<'a>(Vec<Span<'a>>);

impl<'a> Runs<'a> {
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
            spans.push(Span {
                start,
                verdict,
                exceptions: Vec::new(),
            });
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

/// Folds each one-number span whose neighbours agree into the span before
/// it, as an exception, and the neighbour after it with it.
fn with_exceptions(spans: Vec<Span>) -> Vec<Span> {
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    let mut spans = spans.into_iter().peekable();
    while let Some(span) = spans.next() {
        if let (Some(last), Some(next)) = (out.last_mut(), spans.peek()) {
            let single = span.exceptions.is_empty() && next.start - span.start == 1;
            if single
                && last.exceptions.len() < MAX_EXCEPTIONS
                && next.verdict == last.verdict
                && next.exceptions.is_empty()
            {
                last.exceptions.push((span.start, span.verdict));
                spans.next();
                continue;
            }
        }
        out.push(span);
    }
    out
}

#[cfg(test)]
mod tests {
    use oci_spec::runtime::LinuxSeccomp;
    use serde_json::json;

    use super::*;
    use crate::seccomp::rules::RET_ALLOW;

    /// read 0, write 1, open 2, close 3, stat 4, fstat 5, lstat 6: a denied
    /// number inside an allowed run is an exception, not two boundaries.
    #[test]
    fn a_lone_number_between_agreeing_spans_is_an_exception() {
        let spec: LinuxSeccomp = serde_json::from_value(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [
                {"names": ["read", "write", "close", "stat", "lstat"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["fstat"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}
            ]
        }))
        .unwrap();
        let profile = Profile::from_oci(&spec, Abi::X86_64).unwrap();
        let numbers: Vec<_> = profile
            .names
            .iter()
            .map(|(n, _)| Abi::X86_64.number(n))
            .collect();
        let spans = spans(&profile, Abi::X86_64, &numbers);
        let eperm = Verdict::Ret(RET_ERRNO | 1);
        let shape: Vec<_> = spans
            .iter()
            .map(|s| {
                (
                    s.start,
                    s.verdict == Verdict::Ret(RET_ALLOW),
                    s.exceptions.len(),
                )
            })
            .collect();
        // [0, 7) allowed but for open (2) and fstat (5); then -ENOSYS.
        assert_eq!(shape, [(0, true, 2), (7, false, 0)]);
        assert_eq!(spans[0].exceptions[0], (2, eperm));
        assert!(matches!(&spans[0].exceptions[1], (5, Verdict::Rules(r)) if r.len() == 1));
        assert_eq!(spans[1].verdict, Verdict::Ret(RET_ERRNO | ENOSYS));
    }
}
