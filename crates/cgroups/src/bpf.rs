//! The cgroup v2 device filter: v2 has no `devices.allow`, so the OCI
//! device rules become a small eBPF program (`BPF_PROG_TYPE_CGROUP_DEVICE`)
//! attached to the container's cgroup, as runc and crun do.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use crate::error::CgroupError;

// From include/uapi/linux/bpf.h.
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
/// Lets nested cgroups add their own filters; all must allow an access.
const BPF_F_ALLOW_MULTI: u32 = 2;
const BPF_DEVCG_DEV_BLOCK: i32 = 1;
const BPF_DEVCG_DEV_CHAR: i32 = 2;
const BPF_DEVCG_ACC_MKNOD: i32 = 1;
const BPF_DEVCG_ACC_READ: i32 = 2;
const BPF_DEVCG_ACC_WRITE: i32 = 4;

/// One eBPF instruction (`struct bpf_insn`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// `dst = *(u32 *)(src + off)`
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
/// `if dst != imm goto +off`
const fn jne_imm(dst: u8, imm: i32, off: i16) -> Insn {
    insn(0x55, dst, 0, off, imm)
}
/// `if dst == imm goto +off`
const fn jeq_imm(dst: u8, imm: i32, off: i16) -> Insn {
    insn(0x15, dst, 0, off, imm)
}
/// `if dst != src goto +off`
const fn jne_reg(dst: u8, src: u8, off: i16) -> Insn {
    insn(0x5d, dst, src, off, 0)
}
const EXIT: Insn = insn(0x95, 0, 0, 0, 0);

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
/// deny rule when it names any of them.
///
/// The program's context is `struct bpf_cgroup_dev_ctx { u32 access_type;
/// u32 major; u32 minor; }`, access_type being `(access << 16) | type`.
pub fn device_filter(rules: &[LinuxDeviceCgroup]) -> Vec<Insn> {
    let mut prog = vec![
        ldx_w(2, 1, 0),
        and32(2, 0xffff), // r2 = device type
        ldx_w(3, 1, 0),
        rsh32(3, 16),   // r3 = requested access
        ldx_w(4, 1, 4), // r4 = major
        ldx_w(5, 1, 8), // r5 = minor
    ];
    for rule in rules.iter().rev() {
        // Each check jumps to the end of the block (the next rule) on a
        // mismatch; `true` marks those jumps, whose offsets are set once
        // the block's length is known.
        let mut block: Vec<(Insn, bool)> = Vec::new();
        match rule.typ().unwrap_or(LinuxDeviceType::A) {
            LinuxDeviceType::B => block.push((jne_imm(2, BPF_DEVCG_DEV_BLOCK, 0), true)),
            LinuxDeviceType::C | LinuxDeviceType::U => {
                block.push((jne_imm(2, BPF_DEVCG_DEV_CHAR, 0), true))
            }
            // A fifo is no device: a rule for it never matches one.
            LinuxDeviceType::P => block.push((jne_imm(2, -1, 0), true)),
            LinuxDeviceType::A => {}
        }
        if let Some(major) = rule.major().filter(|&m| m >= 0) {
            block.push((jne_imm(4, major as i32, 0), true));
        }
        if let Some(minor) = rule.minor().filter(|&m| m >= 0) {
            block.push((jne_imm(5, minor as i32, 0), true));
        }
        let bits = access_bits(rule.access().as_deref());
        block.push((mov32_reg(1, 3), false));
        block.push((and32(1, bits), false));
        if rule.allow() {
            block.push((jne_reg(1, 3, 0), true));
        } else {
            block.push((jeq_imm(1, 0, 0), true));
        }
        block.push((mov32_imm(0, i32::from(rule.allow())), false));
        block.push((EXIT, false));
        let len = block.len();
        for (i, (mut ins, jumps)) in block.into_iter().enumerate() {
            if jumps {
                ins.off = (len - i - 1) as i16;
            }
            prog.push(ins);
        }
    }
    prog.push(mov32_imm(0, 1));
    prog.push(EXIT);
    prog
}

/// `union bpf_attr` for BPF_PROG_LOAD, up to the fields we set.
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// `union bpf_attr` for BPF_PROG_ATTACH.
#[repr(C)]
#[derive(Default)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// The `union bpf_attr` layouts above; only these may reach bpf(2).
trait BpfAttr {}
impl BpfAttr for ProgLoadAttr {}
impl BpfAttr for ProgAttachAttr {}

/// The one wrapper of bpf(2), which neither nix nor rustix offer.
fn bpf<T: BpfAttr>(cmd: libc::c_long, attr: &mut T) -> std::io::Result<libc::c_long> {
    let size = std::mem::size_of::<T>();
    // The kernel reads and writes only the `size` bytes passed.
    // SAFETY: `attr` is a live #[repr(C)] prefix of `union bpf_attr`.
    let ret = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut T, size) };
    if ret < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// BPF_PROG_LOAD of a device program.
fn load(prog: &[Insn], log: Option<&mut Vec<u8>>) -> std::io::Result<OwnedFd> {
    let license = c"Apache-2.0";
    let mut name = [0u8; 16];
    name[..11].copy_from_slice(b"berth_devcg");
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: prog.len() as u32,
        insns: prog.as_ptr() as u64,
        license: license.as_ptr() as u64,
        prog_name: name,
        ..Default::default()
    };
    if let Some(log) = log {
        attr.log_level = 1;
        attr.log_size = log.len() as u32;
        attr.log_buf = log.as_mut_ptr() as u64;
    }
    let fd = bpf(BPF_PROG_LOAD, &mut attr)?;
    // SAFETY: BPF_PROG_LOAD returned a new file descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Loads the filter for `rules` and attaches it to cgroup `dir`.
pub fn attach_device_filter(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<(), CgroupError> {
    let prog = device_filter(rules);
    let prog_fd = load(&prog, None).map_err(|source| {
        // Load again with the verifier's log only to explain the refusal:
        // a log too small for a good program would itself fail the load.
        let mut log = vec![0u8; 1 << 16];
        let verifier = match load(&prog, Some(&mut log)) {
            Ok(_) => String::new(),
            Err(_) => String::from_utf8_lossy(&log)
                .trim_end_matches('\0')
                .trim()
                .to_string(),
        };
        CgroupError::BpfLoad {
            path: dir.into(),
            verifier,
            source,
        }
    })?;
    let cgroup = std::fs::File::open(dir).map_err(|source| CgroupError::Read {
        path: dir.into(),
        source,
    })?;
    let mut attach = ProgAttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog_fd.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        ..Default::default()
    };
    // The attachment keeps the program alive; our fds may close.
    bpf(BPF_PROG_ATTACH, &mut attach)
        .map(drop)
        .map_err(|source| CgroupError::BpfAttach {
            path: dir.into(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use oci_spec::runtime::LinuxDeviceCgroupBuilder;

    use super::*;

    #[test]
    fn program_shape() {
        let deny_all = LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .build()
            .unwrap();
        let null = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::C)
            .major(1)
            .minor(3)
            .access("rwm")
            .build()
            .unwrap();
        let prog = device_filter(&[deny_all, null]);
        // Prologue 6, the null rule 8 (type, major, minor, 2 access, jump,
        // result, exit), deny-all 5, default 2.
        assert_eq!(prog.len(), 6 + 8 + 5 + 2);
        // The null rule comes first (last rule wins) and its type check
        // skips the rest of its block.
        assert_eq!(prog[6], jne_imm(2, BPF_DEVCG_DEV_CHAR, 7));
        assert_eq!(prog[8], jne_imm(5, 3, 5));
        assert_eq!(prog[12], mov32_imm(0, 1));
        // deny-all: access intersect check, then return 0.
        assert_eq!(prog[16], jeq_imm(1, 0, 2));
        assert_eq!(prog[17], mov32_imm(0, 0));
        assert_eq!(prog[prog.len() - 2], mov32_imm(0, 1));
        assert_eq!(prog[prog.len() - 1], EXIT);
        assert_eq!(access_bits(Some("rw")), 6);
        assert_eq!(access_bits(None), 7);
    }
}
