//! A caller whose seccomp filter answers `clone3` with EPERM (as older
//! container profiles do) still gets its container: the runtime falls
//! back from `clone3(CLONE_INTO_CGROUP)` to a clone and a migration.

mod common;

use std::os::unix::process::CommandExt;

use common::{stderr, Env};

/// A classic BPF filter: `clone3` (x86_64 number 435) fails with EPERM,
/// everything else is allowed.
fn refuse_clone3() -> std::io::Result<()> {
    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const RET_K: u16 = 0x06;
    let filter = [
        libc::sock_filter {
            code: LD_W_ABS,
            jt: 0,
            jf: 0,
            k: 0,
        },
        libc::sock_filter {
            code: JEQ_K,
            jt: 0,
            jf: 1,
            k: 435,
        },
        libc::sock_filter {
            code: RET_K,
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_ERRNO | libc::EPERM as u32,
        },
        libc::sock_filter {
            code: RET_K,
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_ALLOW,
        },
    ];
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr().cast_mut(),
    };
    // SAFETY: prctl with plain integers; then the kernel copies the filter
    // from `prog`, which points into `filter`, both alive for the call.
    let ok = unsafe {
        libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
            && libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &prog as *const libc::sock_fprog,
            ) == 0
    };
    if ok {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[test]
fn run_works_when_clone3_is_refused_with_eperm() {
    let env = Env::new("clone3-eperm", &["sh", "-c", "echo ran"]);
    let mut cmd = env.cmd();
    cmd.args(["run", "--bundle"])
        .arg(&env.bundle)
        .arg("clone3-eperm")
        .stdin(std::process::Stdio::null());
    // SAFETY: only prctl calls, async-signal-safe, run between fork and exec.
    unsafe {
        cmd.pre_exec(refuse_clone3);
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ran\n");
}
