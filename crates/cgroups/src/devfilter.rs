//! The cgroup v2 device filter program: v2 has no `devices.allow`, so the
//! OCI device rules become a small eBPF program
//! (`BPF_PROG_TYPE_CGROUP_DEVICE`), as runc and crun make.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

// From include/uapi/linux/bpf.h.
const BPF_DEVCG_DEV_BLOCK: i32 = 1;
const BPF_DEVCG_DEV_CHAR: i32 = 2;
const BPF_DEVCG_ACC_MKNOD: i32 = 1;
const BPF_DEVCG_ACC_READ: i32 = 2;
const BPF_DEVCG_ACC_WRITE: i32 = 4;

/// One eBPF instruction (`struct bpf_insn`).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    code: u8,
    /// dst_reg in the low nibble, src_reg in the high one.
    regs: u8,
    off: i16,
    imm: i32,
}

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
}

/// `w_dst = *(u32 *)(src + off)`
const fn ldx_w(dst: u8, src: u8, off: i16) -> Insn {
    insn(0x61, dst, src, off, 0)
}
/// `w_dst &= imm`
const fn and32(dst: u8, imm: i32) -> Insn {
    insn(0x54, dst, 0, 0, imm)
}
/// `w_dst >>= imm`
const fn rsh32(dst: u8, imm: i32) -> Insn {
    insn(0x74, dst, 0, 0, imm)
}
/// `w_dst = imm`
const fn mov32_imm(dst: u8, imm: i32) -> Insn {
    insn(0xb4, dst, 0, 0, imm)
}
/// `w_dst = w_src`
const fn mov32_reg(dst: u8, src: u8) -> Insn {
    insn(0xbc, dst, src, 0, 0)
}
/// `if w_dst != imm goto +off` (a 32-bit compare: the fields are u32)
const fn jne32_imm(dst: u8, imm: i32, off: i16) -> Insn {
    insn(0x56, dst, 0, off, imm)
}
/// `if w_dst == imm goto +off`
const fn jeq32_imm(dst: u8, imm: i32, off: i16) -> Insn {
    insn(0x16, dst, 0, off, imm)
}
/// `if w_dst != w_src goto +off`
const fn jne32_reg(dst: u8, src: u8, off: i16) -> Insn {
    insn(0x5e, dst, src, off, 0)
}
const EXIT: Insn = insn(0x95, 0, 0, 0, 0);

/// Offsets in `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major;
/// u32 minor; }`, access_type being `(access << 16) | type`.
const CTX_ACCESS_TYPE: i16 = 0;
const CTX_MAJOR: i16 = 4;
const CTX_MINOR: i16 = 8;

fn access_bits(access: Option<&str>) -> i32 {
    let access = access.filter(|a| !a.is_empty()).unwrap_or("rwm");
    access.chars().fold(0, |bits, c| {
        bits | match c {
            'r' => BPF_DEVCG_ACC_READ,
            'w' => BPF_DEVCG_ACC_WRITE,
            'm' => BPF_DEVCG_ACC_MKNOD,
            _ => 0,
        }
    })
}

/// Compiles `rules` with cgroup v1's meaning: the last rule that matches
/// an access decides, and an access no rule matches is allowed, as in a
/// fresh v1 cgroup (every OCI runtime's list starts with "deny all").
/// An allow rule matches when it grants every requested access bit; a
/// deny rule when it names any of them. A negative major or minor is a
/// wildcard, as a missing one; a rule for a fifo (`p`) or with a number
/// beyond u32 names no device and never matches.
///
/// Each rule is one block, last rule first, that reads the device fields
/// it tests into r2 afresh: no register carries what an earlier block
/// learnt (`major == 1` after a failed minor test...), so every path
/// reaches the next block in the same state, the verifier sees a single
/// state there and checks each instruction about once instead of once per
/// path through the blocks above. The requested access is read once into
/// r6: it is only ever copied and masked, so no test teaches the verifier
/// anything about it on the way to the next block. Nothing in the program is dead code to
/// the verifier either, so the kernel keeps it as given, which lets
/// [`crate::devcache`] recognise it.
pub fn device_filter(rules: &[LinuxDeviceCgroup]) -> Vec<Insn> {
    let mut prog = vec![
        ldx_w(6, 1, CTX_ACCESS_TYPE),
        rsh32(6, 16), // w6 = requested access
    ];
    for rule in rules.iter().rev() {
        if let Some(block) = rule_block(rule) {
            prog.extend(block);
        }
    }
    prog.push(mov32_imm(0, 1));
    prog.push(EXIT);
    prog
}

/// The block of one rule: tests that jump past the block on a mismatch,
/// then `return allow`; `None` for a rule that never matches.
fn rule_block(rule: &LinuxDeviceCgroup) -> Option<Vec<Insn>> {
    // `true` marks the jumps to the block's end, whose offsets are set
    // once its length is known.
    let mut block: Vec<(Insn, bool)> = Vec::new();
    let typ = match rule.typ().unwrap_or(LinuxDeviceType::A) {
        LinuxDeviceType::B => Some(BPF_DEVCG_DEV_BLOCK),
        LinuxDeviceType::C | LinuxDeviceType::U => Some(BPF_DEVCG_DEV_CHAR),
        // A fifo is no device.
        LinuxDeviceType::P => return None,
        LinuxDeviceType::A => None,
    };
    if let Some(typ) = typ {
        block.push((ldx_w(2, 1, CTX_ACCESS_TYPE), false));
        block.push((and32(2, 0xffff), false));
        block.push((jne32_imm(2, typ, 0), true));
    }
    for (value, off) in [(rule.major(), CTX_MAJOR), (rule.minor(), CTX_MINOR)] {
        let Some(n) = value.filter(|&n| n >= 0) else {
            continue;
        };
        let n = u32::try_from(n).ok()?;
        block.push((ldx_w(2, 1, off), false));
        // The immediate is the u32's bit pattern.
        block.push((jne32_imm(2, n as i32, 0), true));
    }
    let bits = access_bits(rule.access().as_deref());
    if !rule.allow() && bits == 0 {
        // Names no access bit, so matches nothing; the verifier would
        // find its return unreachable and drop it.
        return None;
    }
    block.push((mov32_reg(3, 6), false));
    block.push((and32(3, bits), false));
    if rule.allow() {
        block.push((jne32_reg(3, 6, 0), true));
    } else {
        block.push((jeq32_imm(3, 0, 0), true));
    }
    block.push((mov32_imm(0, i32::from(rule.allow())), false));
    block.push((EXIT, false));
    let len = block.len();
    Some(
        block
            .into_iter()
            .enumerate()
            .map(|(i, (mut ins, jumps))| {
                if jumps {
                    ins.off = (len - i - 1) as i16;
                }
                ins
            })
            .collect(),
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use oci_spec::runtime::LinuxDeviceCgroupBuilder;

    use super::*;

    /// One rule; `None` numbers and type are wildcards.
    pub(crate) fn rule(
        allow: bool,
        typ: Option<LinuxDeviceType>,
        major: Option<i64>,
        minor: Option<i64>,
        access: &str,
    ) -> LinuxDeviceCgroup {
        let mut b = LinuxDeviceCgroupBuilder::default()
            .allow(allow)
            .access(access);
        if let Some(t) = typ {
            b = b.typ(t);
        }
        if let Some(m) = major {
            b = b.major(m);
        }
        if let Some(m) = minor {
            b = b.minor(m);
        }
        b.build().unwrap()
    }

    /// Runs `prog` on one device access: a tiny interpreter of the few
    /// instructions `device_filter` emits.
    fn run(prog: &[Insn], typ: u32, major: u32, minor: u32, access: u32) -> u32 {
        let ctx = [(access << 16) | typ, major, minor];
        let mut r = [0u32; 11];
        let mut pc = 0usize;
        loop {
            let i = prog[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            let imm = i.imm as u32;
            let mut next = pc + 1;
            let jump = pc as isize + 1 + i.off as isize;
            match i.code {
                0x61 => {
                    assert_eq!(src, 1, "loads only from the context");
                    r[dst] = ctx[i.off as usize / 4];
                }
                0x54 => r[dst] &= imm,
                0x74 => r[dst] >>= imm,
                0xb4 => r[dst] = imm,
                0xbc => r[dst] = r[src],
                0x56 if r[dst] != imm => next = jump as usize,
                0x16 if r[dst] == imm => next = jump as usize,
                0x5e if r[dst] != r[src] => next = jump as usize,
                0x56 | 0x16 | 0x5e => {}
                0x95 => return r[0],
                c => panic!("unexpected opcode {c:#x}"),
            }
            pc = next;
        }
    }

    /// The rules' meaning, written out plainly: the last matching rule
    /// decides; none matching allows.
    fn reference(rules: &[LinuxDeviceCgroup], typ: u32, major: u32, minor: u32, acc: u32) -> u32 {
        for r in rules.iter().rev() {
            let t = match r.typ().unwrap_or(LinuxDeviceType::A) {
                LinuxDeviceType::A => true,
                LinuxDeviceType::B => typ == 1,
                LinuxDeviceType::C | LinuxDeviceType::U => typ == 2,
                LinuxDeviceType::P => false,
            };
            let num = |want: Option<i64>, have: u32| match want {
                None => true,
                Some(n) if n < 0 => true,
                Some(n) => n == i64::from(have),
            };
            let bits = access_bits(r.access().as_deref()) as u32;
            let a = if r.allow() {
                acc & bits == acc
            } else {
                acc & bits != 0
            };
            if t && num(r.major(), major) && num(r.minor(), minor) && a {
                return u32::from(r.allow());
            }
        }
        1
    }

    /// Docker's default rules (moby `DefaultLinuxSpec`, plus tun).
    pub(crate) fn docker() -> Vec<LinuxDeviceCgroup> {
        use LinuxDeviceType::{B, C};
        let c = |ma, mi| rule(true, Some(C), Some(ma), mi, "rwm");
        vec![
            rule(false, None, None, None, "rwm"),
            rule(true, Some(C), None, None, "m"),
            rule(true, Some(B), None, None, "m"),
            c(1, Some(3)),
            c(1, Some(8)),
            c(1, Some(7)),
            c(5, Some(0)),
            c(1, Some(5)),
            c(1, Some(9)),
            c(136, None),
            c(5, Some(2)),
            c(10, Some(200)),
        ]
    }

    /// Compares the program with [`reference`] on every access to every
    /// device the rules name, its neighbours and a few others.
    fn check_all(rules: &[LinuxDeviceCgroup]) {
        let prog = device_filter(rules);
        let mut nums: Vec<u32> = vec![0, 1, 2, 3, 4095, u32::MAX];
        for r in rules {
            for n in [r.major(), r.minor()].into_iter().flatten() {
                let n = n as u32;
                nums.extend([n, n.wrapping_add(1), n.wrapping_sub(1)]);
            }
        }
        for typ in [1, 2] {
            for &major in &nums {
                for &minor in &nums {
                    for acc in 1..8 {
                        assert_eq!(
                            run(&prog, typ, major, minor, acc),
                            reference(rules, typ, major, minor, acc),
                            "type {typ} {major}:{minor} access {acc} under {rules:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn program_decides_as_the_rules_say() {
        use LinuxDeviceType::{A, B, C, P, U};
        check_all(&docker());
        check_all(&[]);
        // Privileged: deny all, then allow all.
        check_all(&[
            rule(false, None, None, None, "rwm"),
            rule(true, None, None, None, "rwm"),
        ]);
        // Partial access, denies after allows, wildcards of every kind,
        // negative numbers, fifos, numbers beyond u32 and ≥ 2^31, empty
        // and unknown access letters.
        let mut odd = docker();
        odd.extend([
            rule(false, Some(C), Some(1), Some(5), "w"),
            rule(true, Some(B), Some(8), None, "r"),
            rule(false, Some(B), None, Some(0), "m"),
            rule(true, Some(U), Some(-1), Some(7), "rw"),
            rule(true, Some(P), None, None, "rwm"),
            rule(true, Some(A), Some(4), Some(-1), ""),
            rule(true, Some(C), Some(1 << 32 | 3), Some(3), "rwm"),
            rule(true, Some(C), Some(0xffff_fff0), Some(1), "rw"),
            rule(false, Some(C), Some(10), Some(200), "x"),
            rule(true, Some(C), Some(10), Some(201), "x"),
        ]);
        check_all(&odd);
    }

    #[test]
    fn program_shape() {
        let deny_all = rule(false, None, None, None, "rwm");
        let null = rule(true, Some(LinuxDeviceType::C), Some(1), Some(3), "rwm");
        let prog = device_filter(&[deny_all, null]);
        // Prologue 2 (w6 = access), the null rule 12 (type 3, major 2,
        // minor 2, access 2, jump, result, exit), deny-all 5 (access 2,
        // jump, result, exit), default 2.
        assert_eq!(prog.len(), 2 + 12 + 5 + 2);
        assert_eq!(prog[1], rsh32(6, 16));
        // The null rule comes first (last rule wins); each test skips the
        // rest of its block.
        assert_eq!(prog[4], jne32_imm(2, BPF_DEVCG_DEV_CHAR, 9));
        assert_eq!(prog[5], ldx_w(2, 1, CTX_MAJOR));
        assert_eq!(prog[6], jne32_imm(2, 1, 7));
        assert_eq!(prog[8], jne32_imm(2, 3, 5));
        assert_eq!(prog[11], jne32_reg(3, 6, 2));
        assert_eq!(prog[12], mov32_imm(0, 1));
        // deny-all: access intersect check, then return 0.
        assert_eq!(prog[14], mov32_reg(3, 6));
        assert_eq!(prog[16], jeq32_imm(3, 0, 2));
        assert_eq!(prog[17], mov32_imm(0, 0));
        assert_eq!(prog[prog.len() - 2], mov32_imm(0, 1));
        assert_eq!(prog[prog.len() - 1], EXIT);
        assert_eq!(access_bits(Some("rw")), 6);
        assert_eq!(access_bits(None), 7);
    }
}
