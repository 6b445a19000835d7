//! The bpf(2) commands the device filter needs: load a cgroup device
//! program, attach and detach it, list a cgroup's programs, and open and
//! inspect a loaded program by id. Neither nix nor rustix wrap bpf(2).

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use crate::devfilter::Insn;

// From include/uapi/linux/bpf.h.
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
const BPF_PROG_QUERY: libc::c_long = 16;
/// `bpf_prog_info.type` of a device program.
pub const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
/// Lets nested cgroups add their own filters; all must allow an access.
const BPF_F_ALLOW_MULTI: u32 = 2;
/// `log_level` bit for the verifier's statistics only.
pub const BPF_LOG_STATS: u32 = 4;
/// Programs one cgroup can hold per attach type (BPF_CGROUP_MAX_PROGS).
pub const MAX_PROGS: usize = 64;

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

/// `union bpf_attr` for BPF_PROG_ATTACH and BPF_PROG_DETACH.
#[repr(C)]
#[derive(Default)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// `union bpf_attr` for BPF_PROG_QUERY, up to `prog_cnt`.
#[repr(C)]
#[derive(Default)]
struct ProgQueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _pad: u32,
}

/// `union bpf_attr` for BPF_PROG_GET_FD_BY_ID.
#[repr(C)]
#[derive(Default)]
struct GetFdByIdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// `union bpf_attr` for BPF_OBJ_GET_INFO_BY_FD.
#[repr(C)]
#[derive(Default)]
struct GetInfoAttr {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
}

/// `struct bpf_prog_info` up to `xlated_prog_insns`: the kernel fills in
/// no more than the length we pass.
#[repr(C)]
#[derive(Default)]
struct ProgInfo {
    prog_type: u32,
    id: u32,
    tag: [u8; 8],
    jited_prog_len: u32,
    xlated_prog_len: u32,
    jited_prog_insns: u64,
    xlated_prog_insns: u64,
}

/// The `union bpf_attr` layouts above; only these may reach bpf(2).
trait BpfAttr {}
impl BpfAttr for ProgLoadAttr {}
impl BpfAttr for ProgAttachAttr {}
impl BpfAttr for ProgQueryAttr {}
impl BpfAttr for GetFdByIdAttr {}
impl BpfAttr for GetInfoAttr {}

/// The one wrapper of bpf(2).
fn bpf<T: BpfAttr>(cmd: libc::c_long, attr: &mut T) -> std::io::Result<libc::c_long> {
    let size = std::mem::size_of::<T>();
    // The kernel reads and writes only the `size` bytes passed.
    // SAFETY: `attr` is a live #[repr(C)] prefix of `union bpf_attr`, and
    // every pointer it holds points to a live buffer of the stated size.
    let ret = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut T, size) };
    if ret < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// An fd bpf(2) just returned.
fn owned(fd: libc::c_long) -> OwnedFd {
    // SAFETY: bpf(2) returned a new file descriptor nobody else owns.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

/// BPF_PROG_LOAD of a device program named `berth_devcg`; the verifier
/// writes its log (at `log_level`) into `log` if given.
pub fn load(prog: &[Insn], log: Option<(u32, &mut [u8])>) -> std::io::Result<OwnedFd> {
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
    if let Some((level, log)) = log {
        attr.log_level = level;
        attr.log_size = log.len() as u32;
        attr.log_buf = log.as_mut_ptr() as u64;
    }
    bpf(BPF_PROG_LOAD, &mut attr).map(owned)
}

/// Attaches device program `prog` to `cgroup` (a directory fd), next to
/// any other (BPF_F_ALLOW_MULTI).
pub fn attach(cgroup: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> std::io::Result<()> {
    let mut attr = ProgAttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        ..Default::default()
    };
    bpf(BPF_PROG_ATTACH, &mut attr).map(drop)
}

/// Detaches device program `prog` from `cgroup`.
pub fn detach(cgroup: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> std::io::Result<()> {
    let mut attr = ProgAttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        ..Default::default()
    };
    bpf(BPF_PROG_DETACH, &mut attr).map(drop)
}

/// The ids of the device programs attached to `cgroup` itself, oldest
/// first.
pub fn query(cgroup: BorrowedFd<'_>) -> std::io::Result<Vec<u32>> {
    let mut ids = [0u32; MAX_PROGS];
    let mut attr = ProgQueryAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        prog_ids: ids.as_mut_ptr() as u64,
        prog_cnt: ids.len() as u32,
        ..Default::default()
    };
    bpf(BPF_PROG_QUERY, &mut attr)?;
    let n = (attr.prog_cnt as usize).min(ids.len());
    Ok(ids[..n].to_vec())
}

/// A new fd of loaded program `id` (needs CAP_SYS_ADMIN).
pub fn prog_by_id(id: u32) -> std::io::Result<OwnedFd> {
    let mut attr = GetFdByIdAttr {
        prog_id: id,
        ..Default::default()
    };
    bpf(BPF_PROG_GET_FD_BY_ID, &mut attr).map(owned)
}

/// What the kernel runs for a loaded program: its type and its
/// instructions after verification, which decide everything it does.
#[derive(Debug)]
pub struct Loaded {
    /// `BPF_PROG_TYPE_*`.
    pub prog_type: u32,
    /// How many instructions the kernel holds.
    pub len: usize,
    /// The first of them (up to the `max` asked for); `None` when the
    /// kernel withholds them (kptr_restrict without CAP_SYSLOG).
    pub insns: Option<Vec<Insn>>,
}

/// The type and instructions of program `prog`, reading at most `max`
/// instructions (a longer program's count shows in the returned length).
pub fn inspect(prog: BorrowedFd<'_>, max: usize) -> std::io::Result<Loaded> {
    let mut buf = vec![Insn::default(); max];
    let mut info = ProgInfo {
        xlated_prog_len: std::mem::size_of_val(buf.as_slice()) as u32,
        xlated_prog_insns: buf.as_mut_ptr() as u64,
        ..Default::default()
    };
    let mut attr = GetInfoAttr {
        bpf_fd: prog.as_raw_fd() as u32,
        info_len: std::mem::size_of::<ProgInfo>() as u32,
        info: &mut info as *mut ProgInfo as u64,
    };
    bpf(BPF_OBJ_GET_INFO_BY_FD, &mut attr)?;
    let len = info.xlated_prog_len as usize / std::mem::size_of::<Insn>();
    buf.truncate(len);
    Ok(Loaded {
        prog_type: info.prog_type,
        len,
        insns: (info.xlated_prog_insns != 0).then_some(buf),
    })
}
