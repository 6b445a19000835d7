//! The OCI profile checked and reduced to what the code generator needs:
//! actions as `SECCOMP_RET_*` values, conditions, and per-name rule lists.
//!
//! Choices that follow runc (libcontainer/seccomp): a rule whose action is
//! the default action is dropped (libseccomp refuses it; it changes nothing
//! for a syscall without other rules); `SCMP_ACT_KILL` is `KILL_THREAD`;
//! `errnoRet` defaults to EPERM for ERRNO and TRACE; names this build does
//! not know are skipped, since profiles list syscalls of newer kernels and
//! other architectures.

use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompOperator, LinuxSyscall,
};

use super::abi::Abi;
use super::error::SeccompError;

// SECCOMP_RET_* from <linux/seccomp.h>.
pub(crate) const RET_KILL_PROCESS: u32 = 0x8000_0000;
pub(crate) const RET_KILL_THREAD: u32 = 0x0000_0000;
pub(crate) const RET_TRAP: u32 = 0x0003_0000;
pub(crate) const RET_ERRNO: u32 = 0x0005_0000;
pub(crate) const RET_TRACE: u32 = 0x7ff0_0000;
pub(crate) const RET_LOG: u32 = 0x7ffc_0000;
pub(crate) const RET_ALLOW: u32 = 0x7fff_0000;

const EPERM: u32 = libc::EPERM as u32;
pub(crate) const ENOSYS: u32 = libc::ENOSYS as u32;
/// The largest errno the kernel hands back (`MAX_ERRNO`).
const MAX_ERRNO: u32 = 4095;

/// A comparison of one 64-bit syscall argument, as libseccomp's `SCMP_CMP_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    /// `(arg & mask) == value`
    MaskedEq {
        mask: u64,
    },
}

/// One argument condition of a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cond {
    pub(crate) index: u32,
    pub(crate) op: Op,
    pub(crate) value: u64,
}

/// The verdict for a syscall when all its conditions hold (ANDed; a rule
/// without conditions always matches).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rule {
    pub(crate) conds: Vec<Cond>,
    pub(crate) action: u32,
}

/// The checked profile. Names borrow from the OCI profile, and a rule is
/// kept once for all the names it lists: compiling Docker's profile copied
/// 370 names and rules for nothing.
#[derive(Debug)]
pub(crate) struct Profile<'a> {
    pub(crate) default_action: u32,
    /// Sections of the filter, the native ABI first.
    pub(crate) abis: Vec<Abi>,
    /// One per OCI rule whose action is not the default action.
    pub(crate) rules: Vec<Rule>,
    /// Every syscall name the profile mentions, in profile order, with the
    /// index in `rules` of its rule, or `None` for a dropped rule (the name
    /// still counts for runc's -ENOSYS stub, which looks at the largest
    /// number named).
    pub(crate) names: Vec<(&'a str, Option<usize>)>,
}

impl<'a> Profile<'a> {
    /// Checks `spec` for a kernel whose native ABI is `native`.
    pub(crate) fn from_oci(spec: &'a LinuxSeccomp, native: Abi) -> Result<Self, SeccompError> {
        let default_action = action(spec.default_action(), spec.default_errno_ret(), || {
            "the default action".to_owned()
        })?;
        let mut abis = vec![native];
        for arch in spec.architectures().iter().flatten() {
            if let Some(abi) = Abi::from_oci(*arch, native) {
                if !abis.contains(&abi) {
                    abis.push(abi);
                }
            }
        }
        let calls = spec.syscalls().as_deref().unwrap_or_default();
        let mut rules = Vec::with_capacity(calls.len());
        let mut names = Vec::with_capacity(calls.iter().map(|c| c.names().len()).sum());
        for (i, call) in calls.iter().enumerate() {
            // The rule is checked when its first name is met (an error names
            // that syscall), so a bad name and a bad rule are reported in
            // the order the profile lists them.
            let mut index = None;
            for (n, name) in call.names().iter().enumerate() {
                if name.is_empty() {
                    return Err(SeccompError::EmptySyscallName { rule: i });
                }
                if n == 0 {
                    let rule = rule(call, name)?;
                    if rule.action != default_action {
                        index = Some(rules.len());
                        rules.push(rule);
                    }
                }
                names.push((name.as_str(), index));
            }
        }
        Ok(Self {
            default_action,
            abis,
            rules,
            names,
        })
    }

    /// `(name, rule)` for every rule the profile keeps, in profile order.
    #[cfg(test)]
    pub(crate) fn named_rules(&self) -> impl Iterator<Item = (&'a str, &Rule)> + '_ {
        self.names
            .iter()
            .filter_map(|(name, rule)| Some((*name, &self.rules[(*rule)?])))
    }

    /// Whether to answer -ENOSYS for syscalls numbered above every one the
    /// profile names, as runc's `patchbpf` does, so that programs fall back
    /// from syscalls newer than the profile (clone3 → clone) instead of
    /// failing on EPERM. Not done when the default already allows or is
    /// ENOSYS.
    pub(crate) fn wants_enosys_stub(&self) -> bool {
        let action = self.default_action & 0xffff_0000;
        !matches!(action, RET_ALLOW | RET_LOG | RET_TRACE)
            && self.default_action != (RET_ERRNO | ENOSYS)
    }
}

fn rule(call: &LinuxSyscall, name: &str) -> Result<Rule, SeccompError> {
    let action = action(call.action(), call.errno_ret(), || {
        format!("syscall {name:?}")
    })?;
    let conds = call
        .args()
        .iter()
        .flatten()
        .map(|arg| cond(arg, name))
        .collect::<Result<_, _>>()?;
    Ok(Rule { conds, action })
}

fn cond(arg: &LinuxSeccompArg, name: &str) -> Result<Cond, SeccompError> {
    let index = arg.index();
    if index > 5 {
        return Err(SeccompError::ArgIndexOutOfRange {
            syscall: name.to_owned(),
            index,
        });
    }
    let (op, value) = match arg.op() {
        LinuxSeccompOperator::ScmpCmpNe => (Op::Ne, arg.value()),
        LinuxSeccompOperator::ScmpCmpLt => (Op::Lt, arg.value()),
        LinuxSeccompOperator::ScmpCmpLe => (Op::Le, arg.value()),
        LinuxSeccompOperator::ScmpCmpEq => (Op::Eq, arg.value()),
        LinuxSeccompOperator::ScmpCmpGe => (Op::Ge, arg.value()),
        LinuxSeccompOperator::ScmpCmpGt => (Op::Gt, arg.value()),
        // The OCI spec puts the mask in `value` and the datum in `valueTwo`.
        LinuxSeccompOperator::ScmpCmpMaskedEq => (
            Op::MaskedEq { mask: arg.value() },
            arg.value_two().unwrap_or(0),
        ),
    };
    Ok(Cond {
        index: index as u32,
        op,
        value,
    })
}

/// The `SECCOMP_RET_*` value of an OCI action.
/// `what` names the rule for an error message.
fn action(
    action: LinuxSeccompAction,
    errno_ret: Option<u32>,
    what: impl Fn() -> String,
) -> Result<u32, SeccompError> {
    Ok(match action {
        // libseccomp's SCMP_ACT_KILL has always meant the thread.
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => RET_KILL_THREAD,
        LinuxSeccompAction::ScmpActKillProcess => RET_KILL_PROCESS,
        LinuxSeccompAction::ScmpActTrap => RET_TRAP,
        LinuxSeccompAction::ScmpActErrno => {
            let errno = errno_ret.unwrap_or(EPERM);
            if errno > MAX_ERRNO {
                return Err(SeccompError::ErrnoOutOfRange {
                    what: what(),
                    errno,
                });
            }
            RET_ERRNO | errno
        }
        LinuxSeccompAction::ScmpActTrace => {
            let value = errno_ret.unwrap_or(EPERM);
            if value > 0xffff {
                return Err(SeccompError::TraceValueOutOfRange {
                    what: what(),
                    value,
                });
            }
            RET_TRACE | value
        }
        LinuxSeccompAction::ScmpActLog => RET_LOG,
        LinuxSeccompAction::ScmpActAllow => RET_ALLOW,
        LinuxSeccompAction::ScmpActNotify => {
            return Err(SeccompError::NotifyUnsupported { what: what() })
        }
    })
}
