//! Classic BPF as seccomp runs it: the instruction encoding, and a small
//! assembler with forward labels that turns out-of-range jumps into `ja` hops.
//!
//! Conditional jumps in classic BPF carry 8-bit offsets (at most 255
//! instructions forward) while `ja` carries a 32-bit one, so a far
//! conditional target is reached through a trampoline `ja` placed right after
//! the jump — the same trick libseccomp and runc's `patchbpf` use.

use super::error::SeccompError;

/// The kernel's limit on a classic BPF program (`BPF_MAXINSNS`).
pub const MAX_INSNS: usize = 4096;

// Instruction classes and fields from <linux/bpf_common.h>.
pub(crate) const BPF_LD: u16 = 0x00;
pub(crate) const BPF_ALU: u16 = 0x04;
pub(crate) const BPF_JMP: u16 = 0x05;
pub(crate) const BPF_RET: u16 = 0x06;
pub(crate) const BPF_W: u16 = 0x00;
pub(crate) const BPF_ABS: u16 = 0x20;
pub(crate) const BPF_K: u16 = 0x00;
pub(crate) const BPF_AND: u16 = 0x50;
pub(crate) const BPF_JA: u16 = 0x00;
pub(crate) const BPF_JEQ: u16 = 0x10;
pub(crate) const BPF_JGT: u16 = 0x20;
pub(crate) const BPF_JGE: u16 = 0x30;
pub(crate) const BPF_JSET: u16 = 0x40;

/// One classic BPF instruction, laid out as the kernel's `struct sock_filter`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SockFilter {
    /// Opcode: class | size | mode, or class | op | source.
    pub code: u16,
    /// Offset to add to the next instruction's index when the jump is taken.
    pub jt: u8,
    /// Offset to add to the next instruction's index when it is not.
    pub jf: u8,
    /// The constant operand: an offset, a value to compare with, a verdict.
    pub k: u32,
}

impl SockFilter {
    const fn stmt(code: u16, k: u32) -> Self {
        Self {
            code,
            jt: 0,
            jf: 0,
            k,
        }
    }
}

/// A forward jump target, placed once with [`Assembler::place`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Label(usize);

/// Where a conditional jump goes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Target {
    /// The instruction that follows the jump in the emitted stream.
    Next,
    /// A label placed later.
    To(Label),
}

/// The comparison of a conditional jump.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Cmp {
    Eq,
    Gt,
    Ge,
    Set,
}

impl Cmp {
    fn code(self) -> u16 {
        BPF_JMP
            | BPF_K
            | match self {
                Cmp::Eq => BPF_JEQ,
                Cmp::Gt => BPF_JGT,
                Cmp::Ge => BPF_JGE,
                Cmp::Set => BPF_JSET,
            }
    }
}

enum Item {
    Stmt(SockFilter),
    Jump {
        cmp: Cmp,
        k: u32,
        targets: [Target; 2],
    },
    Place(Label),
}

/// Builds a program from statements, jumps and labels, then lays it out.
#[derive(Default)]
pub(crate) struct Assembler {
    items: Vec<Item>,
    labels: usize,
}

impl Assembler {
    pub(crate) fn label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels - 1)
    }

    /// Makes `label` point at the next instruction emitted.
    pub(crate) fn place(&mut self, label: Label) {
        self.items.push(Item::Place(label));
    }

    /// `A = *(u32 *)(seccomp_data + offset)`
    pub(crate) fn load(&mut self, offset: u32) {
        self.items.push(Item::Stmt(SockFilter::stmt(
            BPF_LD | BPF_W | BPF_ABS,
            offset,
        )));
    }

    /// `A &= k`
    pub(crate) fn and(&mut self, k: u32) {
        self.items
            .push(Item::Stmt(SockFilter::stmt(BPF_ALU | BPF_AND | BPF_K, k)));
    }

    /// `return k` — the verdict.
    pub(crate) fn ret(&mut self, k: u32) {
        self.items
            .push(Item::Stmt(SockFilter::stmt(BPF_RET | BPF_K, k)));
    }

    /// `if (A cmp k) goto jt else goto jf`
    pub(crate) fn jump(&mut self, cmp: Cmp, k: u32, jt: Target, jf: Target) {
        self.items.push(Item::Jump {
            cmp,
            k,
            targets: [jt, jf],
        });
    }

    /// Resolves the labels and returns the instructions.
    ///
    /// A conditional branch further than 255 instructions away gets a
    /// trampoline. Adding trampolines only ever lengthens distances, so
    /// marking them until nothing changes terminates.
    pub(crate) fn assemble(self) -> Result<Vec<SockFilter>, SeccompError> {
        let mut far = vec![[false; 2]; self.items.len()];
        let (pos, labels) = loop {
            let (pos, labels) = self.layout(&far);
            let mut changed = false;
            for (i, item) in self.items.iter().enumerate() {
                let Item::Jump { targets, .. } = item else {
                    continue;
                };
                for branch in 0..2 {
                    if let Target::To(label) = targets[branch] {
                        let target = labels[label.0].expect("label placed");
                        if !far[i][branch] && target.saturating_sub(pos[i] + 1) > 255 {
                            far[i][branch] = true;
                            changed = true;
                        }
                    }
                }
            }
            if !changed {
                break (pos, labels);
            }
        };
        let len = self.size(&far);
        if len > MAX_INSNS {
            return Err(SeccompError::TooLong { len });
        }
        let mut out = Vec::with_capacity(len);
        for (i, item) in self.items.iter().enumerate() {
            match item {
                Item::Stmt(insn) => out.push(*insn),
                Item::Place(_) => {}
                Item::Jump { cmp, k, targets } => {
                    let here = pos[i];
                    let next = here + 1 + far[i].iter().filter(|f| **f).count();
                    let dest = |t: Target| match t {
                        Target::Next => next,
                        Target::To(label) => labels[label.0].expect("label placed"),
                    };
                    // Trampolines sit right after the jump, jt's first.
                    let mut hop = here + 1;
                    let mut offsets = [0u8; 2];
                    let mut hops = Vec::new();
                    for branch in 0..2 {
                        let target = dest(targets[branch]);
                        let via = if far[i][branch] {
                            hops.push((hop, target));
                            hop += 1;
                            hop - 1
                        } else {
                            target
                        };
                        offsets[branch] = u8::try_from(offset32(via, here + 1)?)
                            .map_err(|_| SeccompError::Internal("jump offset over 255"))?;
                    }
                    out.push(SockFilter {
                        code: cmp.code(),
                        jt: offsets[0],
                        jf: offsets[1],
                        k: *k,
                    });
                    for (at, target) in hops {
                        out.push(SockFilter::stmt(
                            BPF_JMP | BPF_JA,
                            offset32(target, at + 1)?,
                        ));
                    }
                }
            }
        }
        debug_assert_eq!(out.len(), len);
        Ok(out)
    }

    fn size(&self, far: &[[bool; 2]]) -> usize {
        self.items
            .iter()
            .zip(far)
            .map(|(item, far)| match item {
                Item::Place(_) => 0,
                Item::Jump { .. } => 1 + far.iter().filter(|f| **f).count(),
                _ => 1,
            })
            .sum()
    }

    /// The position of every item and of every label, given the trampolines.
    fn layout(&self, far: &[[bool; 2]]) -> (Vec<usize>, Vec<Option<usize>>) {
        let mut pos = Vec::with_capacity(self.items.len());
        let mut labels = vec![None; self.labels];
        let mut at = 0;
        for (item, far) in self.items.iter().zip(far) {
            pos.push(at);
            match item {
                Item::Place(label) => labels[label.0] = Some(at),
                Item::Jump { .. } => at += 1 + far.iter().filter(|f| **f).count(),
                _ => at += 1,
            }
        }
        (pos, labels)
    }
}

/// The forward distance from `from` to `target`; BPF cannot jump backwards.
fn offset32(target: usize, from: usize) -> Result<u32, SeccompError> {
    target
        .checked_sub(from)
        .and_then(|d| u32::try_from(d).ok())
        .ok_or(SeccompError::Internal("backward jump"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn far_conditional_jumps_get_a_trampoline() {
        let mut asm = Assembler::default();
        let far = asm.label();
        asm.load(0);
        asm.jump(Cmp::Eq, 7, Target::To(far), Target::Next);
        for _ in 0..300 {
            asm.ret(1);
        }
        asm.place(far);
        asm.ret(2);
        let prog = asm.assemble().unwrap();
        // ld, jeq, ja, 300 rets, ret 2
        assert_eq!(prog.len(), 304);
        assert_eq!((prog[1].jt, prog[1].jf), (0, 1));
        assert_eq!(prog[2].code, BPF_JMP | BPF_JA);
        assert_eq!(3 + prog[2].k as usize, 303);
        assert_eq!(prog[303].k, 2);
    }

    #[test]
    fn near_jumps_stay_direct() {
        let mut asm = Assembler::default();
        let l = asm.label();
        asm.jump(Cmp::Gt, 1, Target::Next, Target::To(l));
        asm.ret(1);
        asm.place(l);
        asm.ret(2);
        let prog = asm.assemble().unwrap();
        assert_eq!(prog.len(), 3);
        assert_eq!((prog[0].jt, prog[0].jf), (0, 1));
    }

    #[test]
    fn programs_over_the_kernel_limit_are_refused() {
        let mut asm = Assembler::default();
        for _ in 0..=MAX_INSNS {
            asm.ret(0);
        }
        assert!(matches!(
            asm.assemble(),
            Err(SeccompError::TooLong { len }) if len == MAX_INSNS + 1
        ));
    }
}
