//! A classic BPF interpreter for the instructions the compiler emits, so
//! tests can ask a compiled filter for its verdict on a `seccomp_data`.

use super::bpf::*;

/// `struct seccomp_data` from <linux/seccomp.h>.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SeccompData {
    pub(crate) nr: u32,
    pub(crate) arch: u32,
    pub(crate) instruction_pointer: u64,
    pub(crate) args: [u64; 6],
}

impl SeccompData {
    pub(crate) fn new(arch: u32, nr: u32, args: &[u64]) -> Self {
        let mut data = Self {
            nr,
            arch,
            ..Self::default()
        };
        data.args[..args.len()].copy_from_slice(args);
        data
    }

    fn bytes(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        out[0..4].copy_from_slice(&self.nr.to_ne_bytes());
        out[4..8].copy_from_slice(&self.arch.to_ne_bytes());
        out[8..16].copy_from_slice(&self.instruction_pointer.to_ne_bytes());
        for (i, arg) in self.args.iter().enumerate() {
            out[16 + 8 * i..24 + 8 * i].copy_from_slice(&arg.to_ne_bytes());
        }
        out
    }
}

/// Runs `prog` on `data` and returns the verdict; panics on what the
/// kernel's checker would refuse (bad opcode, unaligned or out-of-range
/// load, running off the end).
pub(crate) fn run(prog: &[SockFilter], data: &SeccompData) -> u32 {
    let mem = data.bytes();
    let mut a: u32 = 0;
    let mut pc = 0usize;
    let mut steps = 0;
    loop {
        let insn = prog[pc];
        pc += 1;
        steps += 1;
        assert!(steps <= prog.len(), "BPF programs cannot loop");
        let jump = |taken: bool| usize::from(if taken { insn.jt } else { insn.jf });
        match insn.code {
            c if c == BPF_LD | BPF_W | BPF_ABS => {
                let k = insn.k as usize;
                assert!(k & 3 == 0 && k + 4 <= mem.len(), "bad load offset {k}");
                a = u32::from_ne_bytes(mem[k..k + 4].try_into().unwrap());
            }
            c if c == BPF_ALU | BPF_AND | BPF_K => a &= insn.k,
            c if c == BPF_RET | BPF_K => return insn.k,
            c if c == BPF_JMP | BPF_JA => pc += insn.k as usize,
            c if c == BPF_JMP | BPF_JEQ | BPF_K => pc += jump(a == insn.k),
            c if c == BPF_JMP | BPF_JGT | BPF_K => pc += jump(a > insn.k),
            c if c == BPF_JMP | BPF_JGE | BPF_K => pc += jump(a >= insn.k),
            c if c == BPF_JMP | BPF_JSET | BPF_K => pc += jump(a & insn.k != 0),
            c => panic!("unexpected opcode {c:#x} at {}", pc - 1),
        }
    }
}
