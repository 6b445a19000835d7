//! Loads real seccomp filters (as root) in forked children and checks what
//! the kernel then answers to allowed, denied and argument-filtered calls.
//!
//! Each test forks; the child sets no_new_privs, installs the profile, makes
//! its calls and reports the first wrong answer through a pipe. The filter
//! dies with the child, so nothing leaks into the test process.

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::panic::AssertUnwindSafe;

use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, pipe, ForkResult};
use oci_spec::runtime::LinuxSeccomp;
use runtime::seccomp::{compile, install, SeccompError};
use serde_json::json;

fn profile(value: serde_json::Value) -> LinuxSeccomp {
    serde_json::from_value(value).expect("valid LinuxSeccomp")
}

fn docker_default() -> LinuxSeccomp {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/seccomp/testdata/docker-default-amd64.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// What a forked child reported and how it ended.
struct Outcome {
    status: WaitStatus,
    report: String,
}

/// Runs `body` in a forked child after no_new_privs; `body` returns `Err`
/// with a description of the first call that answered wrongly.
fn in_child(body: impl FnOnce() -> Result<(), String>) -> Outcome {
    let (read, write): (OwnedFd, OwnedFd) = pipe().unwrap();
    // SAFETY: the child runs only `body` (syscalls, fork-safe glibc allocs)
    // and leaves with _exit, never returning into the test harness.
    match unsafe { fork() }.unwrap() {
        ForkResult::Child => {
            drop(read);
            let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
                nix::sys::prctl::set_no_new_privs().map_err(|e| format!("no_new_privs: {e}"))?;
                body()
            }));
            let (code, msg) = match result {
                Ok(Ok(())) => (0, String::new()),
                Ok(Err(msg)) => (1, msg),
                Err(_) => (2, "child panicked".to_owned()),
            };
            // SAFETY: writes `msg`'s bytes to the pipe we own, then exits
            // the child without unwinding or running the harness's atexit.
            unsafe {
                libc::write(write.as_raw_fd(), msg.as_ptr().cast(), msg.len());
                libc::_exit(code)
            }
        }
        ForkResult::Parent { child } => {
            drop(write);
            let mut report = String::new();
            std::fs::File::from(read)
                .read_to_string(&mut report)
                .unwrap();
            let status = waitpid(child, None).unwrap();
            Outcome { status, report }
        }
    }
}

fn assert_exited_ok(outcome: Outcome) {
    assert!(
        matches!(outcome.status, WaitStatus::Exited(_, 0)),
        "child: {:?}: {}",
        outcome.status,
        outcome.report
    );
}

/// The result of a raw syscall, read at once: `Ok(value)` or `Err(errno)`.
fn sys(result: libc::c_long) -> Result<libc::c_long, i32> {
    if result == -1 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap())
    } else {
        Ok(result)
    }
}

fn expect(what: &str, got: Result<libc::c_long, i32>, want: Result<(), i32>) -> Result<(), String> {
    match (got, want) {
        (Ok(_), Ok(())) => Ok(()),
        (Err(e), Err(w)) if e == w => Ok(()),
        _ => Err(format!("{what}: got {got:?}, want {want:?} (Err = errno)")),
    }
}

#[test]
fn denied_syscalls_return_the_configured_errno_and_others_work() {
    let dir = tempfile::tempdir().unwrap();
    let denied = std::ffi::CString::new(dir.path().join("denied").to_str().unwrap()).unwrap();
    let allowed = std::ffi::CString::new(dir.path().join("allowed").to_str().unwrap()).unwrap();
    let seccomp = profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
        ]
    }));
    let outcome = in_child(|| {
        install(&seccomp).map_err(|e| e.to_string())?;
        let mut buf = [0u8; 256];
        // SAFETY: raw syscalls with valid buffers and NUL-terminated paths.
        let (getcwd, mkdir, mkdirat, getpid) = unsafe {
            (
                sys(libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len())),
                sys(libc::syscall(libc::SYS_mkdir, denied.as_ptr(), 0o755)),
                sys(libc::syscall(
                    libc::SYS_mkdirat,
                    libc::AT_FDCWD,
                    allowed.as_ptr(),
                    0o755,
                )),
                sys(libc::syscall(libc::SYS_getpid)),
            )
        };
        expect("getcwd", getcwd, Err(libc::EPERM))?;
        expect("mkdir", mkdir, Err(libc::ENOSYS))?;
        expect("mkdirat", mkdirat, Ok(()))?;
        expect("getpid", getpid, Ok(()))
    });
    assert_exited_ok(outcome);
    assert!(!dir.path().join("denied").exists(), "denied mkdir ran");
    assert!(dir.path().join("allowed").is_dir());
}

#[test]
fn argument_conditions_decide_per_value() {
    let dir = tempfile::tempdir().unwrap();
    let file = std::fs::File::create(dir.path().join("f")).unwrap();
    let fd = file.as_raw_fd();
    let seccomp = profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            // personality(0) allowed, any other persona denied.
            {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
             "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_NE"}]},
            // Offsets beyond 4 GiB (a 64-bit comparison) denied.
            {"names": ["lseek"], "action": "SCMP_ACT_ERRNO", "errnoRet": 27,
             "args": [{"index": 1, "value": 0xffff_ffff_u64, "op": "SCMP_CMP_GT"}]}
        ]
    }));
    let outcome = in_child(|| {
        install(&seccomp).map_err(|e| e.to_string())?;
        // SAFETY: personality and lseek on an fd we own; no memory is passed.
        let (p0, p_all, near, far) = unsafe {
            (
                sys(libc::syscall(libc::SYS_personality, 0)),
                sys(libc::syscall(libc::SYS_personality, 0xffff_ffff_u64)),
                sys(libc::syscall(
                    libc::SYS_lseek,
                    fd,
                    0xffff_ffff_u64,
                    libc::SEEK_SET,
                )),
                sys(libc::syscall(
                    libc::SYS_lseek,
                    fd,
                    0x1_0000_0000_u64,
                    libc::SEEK_SET,
                )),
            )
        };
        expect("personality(0)", p0, Ok(()))?;
        expect("personality(0xffffffff)", p_all, Err(libc::EACCES))?;
        expect("lseek(4 GiB - 1)", near, Ok(()))?;
        expect("lseek(4 GiB)", far, Err(libc::EFBIG))
    });
    assert_exited_ok(outcome);
}

#[cfg(target_arch = "x86_64")]
#[test]
fn docker_default_profile_confines_a_real_process() {
    const CLONE_NEWUSER: libc::c_ulong = 0x1000_0000;
    let seccomp = docker_default();
    let outcome = in_child(|| {
        install(&seccomp).map_err(|e| e.to_string())?;
        // A missing target: should the filter fail, mount fails too.
        let target = c"/nonexistent-berth-seccomp-test";
        // SAFETY: raw syscalls; mount gets valid strings, clone3 a null
        // pointer (refused before it is read), unshare and personality none.
        let (mount, unshare, clone3, unknown, persona, persona_rie) = unsafe {
            (
                sys(libc::syscall(
                    libc::SYS_mount,
                    c"none".as_ptr(),
                    target.as_ptr(),
                    c"tmpfs".as_ptr(),
                    0,
                    0,
                )),
                sys(libc::syscall(libc::SYS_unshare, CLONE_NEWUSER)),
                sys(libc::syscall(libc::SYS_clone3, std::ptr::null::<u8>(), 0)),
                sys(libc::syscall(1000)),
                sys(libc::syscall(libc::SYS_personality, 0xffff_ffff_u64)),
                sys(libc::syscall(libc::SYS_personality, 0x0040_0000)),
            )
        };
        expect("mount", mount, Err(libc::EPERM))?;
        expect("unshare(CLONE_NEWUSER)", unshare, Err(libc::EPERM))?;
        expect("clone3", clone3, Err(libc::ENOSYS))?;
        expect("syscall 1000", unknown, Err(libc::ENOSYS))?;
        expect("personality(query)", persona, Ok(()))?;
        expect(
            "personality(READ_IMPLIES_EXEC)",
            persona_rie,
            Err(libc::EPERM),
        )?;
        // clone with CLONE_NEWUSER is denied by the MASKED_EQ rule; a plain
        // fork-style clone passes.
        // SAFETY: clone without CLONE_VM and a null stack behaves as fork;
        // the child exits at once.
        let (userns, plain) = unsafe {
            let userns = sys(libc::syscall(
                libc::SYS_clone,
                CLONE_NEWUSER | libc::SIGCHLD as libc::c_ulong,
                0,
                0,
                0,
                0,
            ));
            if userns == Ok(0) {
                libc::_exit(0);
            }
            let plain = sys(libc::syscall(
                libc::SYS_clone,
                libc::SIGCHLD as libc::c_ulong,
                0,
                0,
                0,
                0,
            ));
            if plain == Ok(0) {
                libc::_exit(0);
            }
            (userns, plain)
        };
        expect("clone(CLONE_NEWUSER)", userns, Err(libc::EPERM))?;
        expect("clone(SIGCHLD)", plain, Ok(()))?;
        waitpid(nix::unistd::Pid::from_raw(plain.unwrap_or(0) as i32), None)
            .map_err(|e| e.to_string())?;
        Ok(())
    });
    assert_exited_ok(outcome);
}

#[test]
fn kill_process_action_ends_the_process_with_sigsys() {
    let seccomp = profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"],
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}]
    }));
    // Compiled in the parent, only loaded in the child (flags included).
    let program = compile(&seccomp).unwrap();
    let outcome = in_child(|| {
        program.load().map_err(|e| e.to_string())?;
        // SAFETY: getppid takes no arguments.
        unsafe { libc::syscall(libc::SYS_getppid) };
        Err("getppid returned".to_owned())
    });
    assert!(
        matches!(outcome.status, WaitStatus::Signaled(_, Signal::SIGSYS, _)),
        "{:?}: {}",
        outcome.status,
        outcome.report
    );
}

/// getpid through the i386 entry point (`int 0x80`, number 20), which
/// seccomp sees with `arch` AUDIT_ARCH_I386.
#[cfg(target_arch = "x86_64")]
fn i386_getpid() -> Result<libc::c_long, i32> {
    let ret: i64;
    // SAFETY: i386 getpid takes no arguments and touches no memory; the
    // registers the compat entry may clobber are declared.
    unsafe {
        std::arch::asm!(
            "int 0x80",
            inlateout("rax") 20i64 => ret,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _,
            options(nostack)
        );
    }
    let ret = ret as i32;
    if ret < 0 {
        Err(-ret)
    } else {
        Ok(ret.into())
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn i386_syscalls_follow_the_i386_section_or_kill() {
    // Listed: the rule for getpid applies with i386's number.
    let listed = profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
    }));
    assert_exited_ok(in_child(|| {
        let before = i386_getpid();
        expect("i386 getpid before the filter", before, Ok(()))?;
        install(&listed).map_err(|e| e.to_string())?;
        expect("i386 getpid", i386_getpid(), Err(libc::EPERM))?;
        // SAFETY: getpid takes no arguments.
        let ret = unsafe { libc::syscall(libc::SYS_getpid) };
        expect("getpid", sys(ret), Err(libc::EPERM))
    }));
    // Not listed: the process is killed.
    let unlisted = profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"]
    }));
    let outcome = in_child(|| {
        install(&unlisted).map_err(|e| e.to_string())?;
        let _ = i386_getpid();
        Err("i386 getpid returned".to_owned())
    });
    assert!(
        matches!(outcome.status, WaitStatus::Signaled(_, Signal::SIGSYS, _)),
        "{:?}: {}",
        outcome.status,
        outcome.report
    );
}

#[test]
fn loading_without_no_new_privs_or_cap_sys_admin_is_refused() {
    let seccomp = profile(json!({"defaultAction": "SCMP_ACT_ALLOW"}));
    let (read, write): (OwnedFd, OwnedFd) = pipe().unwrap();
    // SAFETY: as in `in_child`; this child skips no_new_privs on purpose.
    match unsafe { fork() }.unwrap() {
        ForkResult::Child => {
            drop(read);
            let msg = match caps::drop(
                None,
                caps::CapSet::Effective,
                caps::Capability::CAP_SYS_ADMIN,
            ) {
                Err(e) => format!("drop CAP_SYS_ADMIN: {e}"),
                Ok(()) => match install(&seccomp) {
                    Err(SeccompError::Load {
                        source: nix::errno::Errno::EACCES,
                        ..
                    }) => String::new(),
                    other => format!("install: {other:?}"),
                },
            };
            // SAFETY: writes to our pipe, then leaves without unwinding.
            unsafe {
                libc::write(write.as_raw_fd(), msg.as_ptr().cast(), msg.len());
                libc::_exit(0)
            }
        }
        ForkResult::Parent { child } => {
            drop(write);
            let mut report = String::new();
            std::fs::File::from(read)
                .read_to_string(&mut report)
                .unwrap();
            waitpid(child, None).unwrap();
            assert_eq!(report, "");
        }
    }
}

#[test]
fn tsync_flag_filters_every_thread() {
    // Returns getcwd's answer in another thread, after the filter went in.
    fn getcwd_in_other_thread(tsync: bool) -> Outcome {
        let flags: &[&str] = if tsync {
            &["SECCOMP_FILTER_FLAG_TSYNC"]
        } else {
            &[]
        };
        let seccomp = profile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "flags": flags,
            "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]
        }));
        in_child(|| {
            let (go, wait) = std::sync::mpsc::channel::<()>();
            let other = std::thread::spawn(move || {
                wait.recv().unwrap();
                let mut buf = [0u8; 256];
                // SAFETY: getcwd writes at most `buf.len()` bytes into `buf`.
                sys(unsafe { libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()) })
            });
            install(&seccomp).map_err(|e| e.to_string())?;
            go.send(()).unwrap();
            let want = if tsync { Err(libc::EACCES) } else { Ok(()) };
            expect("getcwd in the other thread", other.join().unwrap(), want)
        })
    }
    assert_exited_ok(getcwd_in_other_thread(true));
    // Without TSYNC the filter stays with the thread that loaded it.
    assert_exited_ok(getcwd_in_other_thread(false));
}
