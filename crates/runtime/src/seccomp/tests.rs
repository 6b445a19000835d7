//! Compiles profiles and checks the verdicts of the resulting programs with
//! the interpreter in `interp`.

use oci_spec::runtime::LinuxSeccomp;
use serde_json::json;

use super::abi::{Abi, AUDIT_ARCH_AARCH64, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT};
use super::codegen::RET_BAD_ARCH;
use super::interp::{run, SeccompData};
use super::rules::{RET_ALLOW, RET_ERRNO, RET_KILL_THREAD, RET_LOG, RET_TRACE, RET_TRAP};
use super::{compile, compile_for, Program, SeccompError, MAX_INSNS};

const NATIVE: u32 = if cfg!(target_arch = "x86_64") {
    AUDIT_ARCH_X86_64
} else {
    AUDIT_ARCH_AARCH64
};

fn profile(value: serde_json::Value) -> LinuxSeccomp {
    serde_json::from_value(value).expect("valid LinuxSeccomp")
}

fn fixture(name: &str) -> LinuxSeccomp {
    let path = format!("{}/src/seccomp/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("fixture");
    serde_json::from_str(&text).expect("fixture parses as LinuxSeccomp")
}

fn nr(name: &str) -> u32 {
    Abi::NATIVE.resolve(name).expect("known syscall")
}

/// The verdict of `prog` for a native syscall.
fn verdict(prog: &Program, name: &str, args: &[u64]) -> u32 {
    run(
        prog.instructions(),
        &SeccompData::new(NATIVE, nr(name), args),
    )
}

fn errno(e: u32) -> u32 {
    RET_ERRNO | e
}

/// Docker's and podman's profiles are for amd64; they are compiled for an
/// x86_64 kernel whatever the host.
mod docker {
    use super::*;

    fn compile_for_x86_64(profile: &LinuxSeccomp) -> Result<Program, SeccompError> {
        compile_for(profile, Abi::X86_64)
    }

    fn verdict_x86_64(prog: &Program, name: &str, args: &[u64]) -> u32 {
        let nr = Abi::X86_64.resolve(name).expect("known syscall");
        run(
            prog.instructions(),
            &SeccompData::new(AUDIT_ARCH_X86_64, nr, args),
        )
    }

    const CLONE_NEWUSER: u64 = 0x1000_0000;
    const CLONE_NEWNS: u64 = 0x0002_0000;
    // What glibc's fork() passes: CLONE_CHILD_SETTID|CLONE_CHILD_CLEARTID|SIGCHLD.
    const FORK_FLAGS: u64 = 0x0120_0011;
    // pthread_create: VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID.
    const THREAD_FLAGS: u64 = 0x003d_0f00;

    /// The kernel converts, JITs and emulates (for its action cache) every
    /// instruction at each container start: a longer program is a slower
    /// start. Per-syscall code took 1634 and 1870 instructions; spans with
    /// exceptions, set tests and shared returns take 245 and 268.
    #[test]
    fn default_profiles_compile_to_short_programs() {
        let prog = compile_for_x86_64(&fixture("docker-default-amd64.json")).unwrap();
        eprintln!("docker default profile: {} instructions", prog.len());
        assert!(prog.len() <= 260, "{} instructions", prog.len());
        let prog = compile_for_x86_64(&fixture("podman-default-amd64.json")).unwrap();
        eprintln!("podman default profile: {} instructions", prog.len());
        assert!(prog.len() <= 285, "{} instructions", prog.len());
    }

    #[test]
    fn docker_default_verdicts() {
        let prog = compile_for_x86_64(&fixture("docker-default-amd64.json")).unwrap();
        let eperm = errno(1);
        for allowed in [
            "read",
            "write",
            "execve",
            "getcwd",
            "mkdir",
            "exit_group",
            "chroot",
        ] {
            assert_eq!(verdict_x86_64(&prog, allowed, &[]), RET_ALLOW, "{allowed}");
        }
        for denied in ["mount", "reboot", "unshare", "setns", "bpf", "kexec_load"] {
            assert_eq!(verdict_x86_64(&prog, denied, &[]), eperm, "{denied}");
        }
        // personality: only the listed personas.
        assert_eq!(verdict_x86_64(&prog, "personality", &[0]), RET_ALLOW);
        assert_eq!(
            verdict_x86_64(&prog, "personality", &[0x0002_0008]),
            RET_ALLOW
        );
        assert_eq!(
            verdict_x86_64(&prog, "personality", &[0xffff_ffff]),
            RET_ALLOW
        );
        assert_eq!(verdict_x86_64(&prog, "personality", &[0x0040_0000]), eperm);
        // Same low half, different high half: not the listed 0.
        assert_eq!(verdict_x86_64(&prog, "personality", &[1 << 32]), eperm);
        // clone: namespaces need CAP_SYS_ADMIN (MASKED_EQ on the flags).
        assert_eq!(verdict_x86_64(&prog, "clone", &[FORK_FLAGS]), RET_ALLOW);
        assert_eq!(verdict_x86_64(&prog, "clone", &[THREAD_FLAGS]), RET_ALLOW);
        assert_eq!(
            verdict_x86_64(&prog, "clone", &[FORK_FLAGS | CLONE_NEWUSER]),
            eperm
        );
        assert_eq!(verdict_x86_64(&prog, "clone", &[CLONE_NEWNS]), eperm);
        assert_eq!(verdict_x86_64(&prog, "clone3", &[]), errno(38));
        // socket: anything but AF_VSOCK.
        assert_eq!(verdict_x86_64(&prog, "socket", &[2, 1, 0]), RET_ALLOW);
        assert_eq!(verdict_x86_64(&prog, "socket", &[40, 1, 0]), eperm);
    }

    #[test]
    fn other_abis_use_their_own_numbers() {
        let prog = compile_for_x86_64(&fixture("docker-default-amd64.json")).unwrap();
        let at =
            |arch, nr, args: &[u64]| run(prog.instructions(), &SeccompData::new(arch, nr, args));
        // i386: getcwd is 183, mount 21, socketcall 102.
        assert_eq!(at(AUDIT_ARCH_I386, 183, &[]), RET_ALLOW);
        assert_eq!(at(AUDIT_ARCH_I386, 21, &[]), errno(1));
        assert_eq!(at(AUDIT_ARCH_I386, 102, &[]), RET_ALLOW);
        // x32: common syscalls carry the x86_64 number, x32-only ones 512+.
        assert_eq!(at(AUDIT_ARCH_X86_64, X32_SYSCALL_BIT, &[]), RET_ALLOW);
        assert_eq!(at(AUDIT_ARCH_X86_64, 520 | X32_SYSCALL_BIT, &[]), RET_ALLOW);
        // x86_64's own execve (59) is not an x32 syscall.
        assert_eq!(at(AUDIT_ARCH_X86_64, 59 | X32_SYSCALL_BIT, &[]), errno(1));
        // 165 is mount on x86_64 and x32.
        assert_eq!(at(AUDIT_ARCH_X86_64, 165 | X32_SYSCALL_BIT, &[]), errno(1));
        // An architecture the profile does not list.
        assert_eq!(at(AUDIT_ARCH_AARCH64, 17, &[]), RET_BAD_ARCH);
        assert_eq!(at(0x4000_0028, 183, &[]), RET_BAD_ARCH);
    }

    #[test]
    fn unlisted_x32_and_i386_are_bad_arches() {
        let prog = compile_for_x86_64(&profile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["mount"], "action": "SCMP_ACT_ERRNO"}]
        })))
        .unwrap();
        let at = |arch, nr| run(prog.instructions(), &SeccompData::new(arch, nr, &[]));
        assert_eq!(at(AUDIT_ARCH_X86_64, 0), RET_ALLOW);
        assert_eq!(at(AUDIT_ARCH_X86_64, 165), errno(1));
        assert_eq!(at(AUDIT_ARCH_X86_64, X32_SYSCALL_BIT), RET_BAD_ARCH);
        assert_eq!(at(AUDIT_ARCH_I386, 21), RET_BAD_ARCH);
    }

    #[test]
    fn syscalls_newer_than_the_profile_get_enosys() {
        let prog = compile_for_x86_64(&fixture("docker-default-amd64.json")).unwrap();
        let at = |arch, nr| run(prog.instructions(), &SeccompData::new(arch, nr, &[]));
        // Above everything the profile names: ENOSYS, not the default EPERM.
        assert_eq!(at(AUDIT_ARCH_X86_64, 1000), errno(38));
        assert_eq!(at(AUDIT_ARCH_I386, 1000), errno(38));
        assert_eq!(at(AUDIT_ARCH_X86_64, 1000 | X32_SYSCALL_BIT), errno(38));
        // Within the range the profile knows: the default.
        assert_eq!(verdict_x86_64(&prog, "swapon", &[]), errno(1));
    }

    #[test]
    fn podman_default_verdicts() {
        let prog = compile_for_x86_64(&fixture("podman-default-amd64.json")).unwrap();
        const AF_NETLINK: u64 = 16;
        const NETLINK_AUDIT: u64 = 9;
        assert_eq!(verdict_x86_64(&prog, "read", &[]), RET_ALLOW);
        assert_eq!(verdict_x86_64(&prog, "kexec_load", &[]), errno(1));
        // Unlisted: the default ENOSYS.
        assert_eq!(verdict_x86_64(&prog, "swapon", &[]), errno(1));
        assert_eq!(verdict_x86_64(&prog, "add_key", &[]), errno(38));
        assert_eq!(
            verdict_x86_64(&prog, "socket", &[AF_NETLINK, 3, NETLINK_AUDIT]),
            errno(22)
        );
        assert_eq!(
            verdict_x86_64(&prog, "socket", &[AF_NETLINK, 3, 0]),
            RET_ALLOW
        );
        assert_eq!(
            verdict_x86_64(&prog, "socket", &[2, 1, NETLINK_AUDIT]),
            RET_ALLOW
        );
        assert_eq!(verdict_x86_64(&prog, "personality", &[8]), RET_ALLOW);
        assert_eq!(verdict_x86_64(&prog, "personality", &[9]), errno(38));
    }
}

#[test]
fn personality_zero_allowed_but_not_all_ones() {
    let prog = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 38,
        "syscalls": [
            {"names": ["read", "personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]}
        ]
    })))
    .unwrap();
    assert_eq!(verdict(&prog, "personality", &[0]), RET_ALLOW);
    assert_eq!(verdict(&prog, "personality", &[0xffff_ffff]), errno(38));
    assert_eq!(verdict(&prog, "personality", &[u64::MAX]), errno(38));
    assert_eq!(verdict(&prog, "read", &[0]), RET_ALLOW);
    assert_eq!(verdict(&prog, "read", &[3]), errno(38));
}

#[test]
fn comparisons_match_their_64_bit_meaning() {
    use super::rules::Op;
    let samples: [u64; 12] = [
        0,
        1,
        7,
        8,
        0xffff_fffe,
        0xffff_ffff,
        1 << 32,
        (1 << 32) | 7,
        (8 << 32) | 8,
        (8 << 32) | 0xffff_ffff,
        u64::MAX - 1,
        u64::MAX,
    ];
    let ops = [
        ("SCMP_CMP_NE", Op::Ne),
        ("SCMP_CMP_LT", Op::Lt),
        ("SCMP_CMP_LE", Op::Le),
        ("SCMP_CMP_EQ", Op::Eq),
        ("SCMP_CMP_GE", Op::Ge),
        ("SCMP_CMP_GT", Op::Gt),
        ("SCMP_CMP_MASKED_EQ", Op::MaskedEq { mask: 0 }),
    ];
    for (name, op) in ops {
        for value in samples {
            // For MASKED_EQ, `value` is the mask and 8 the datum.
            let prog = compile(&profile(json!({
                "defaultAction": "SCMP_ACT_ERRNO",
                "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
                    "args": [{"index": 3, "value": value, "valueTwo": 8, "op": name}]}]
            })))
            .unwrap();
            for arg in samples {
                let expect = match op {
                    Op::Ne => arg != value,
                    Op::Lt => arg < value,
                    Op::Le => arg <= value,
                    Op::Eq => arg == value,
                    Op::Ge => arg >= value,
                    Op::Gt => arg > value,
                    Op::MaskedEq { .. } => arg & value == 8,
                };
                let got = verdict(&prog, "read", &[0, 0, 0, arg]) == RET_ALLOW;
                assert_eq!(got, expect, "arg {arg:#x} {name} {value:#x}");
            }
        }
    }
}

#[test]
fn comparisons_on_32_bit_abis_use_the_low_half() {
    let prog = compile_for(
        &profile(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86"],
            "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                "args": [{"index": 0, "value": 0xffff_ffff_u64, "op": "SCMP_CMP_EQ"}]}]
        })),
        Abi::X86_64,
    )
    .unwrap();
    let i386 = |arg| {
        run(
            prog.instructions(),
            &SeccompData::new(AUDIT_ARCH_I386, 136, &[arg]),
        )
    };
    assert_eq!(i386(0xffff_ffff), RET_ALLOW);
    assert_eq!(i386(0), errno(1));
}

#[test]
fn conditions_in_a_rule_are_anded_and_rules_ored() {
    let prog = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["openat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
             "args": [{"index": 0, "value": 5, "op": "SCMP_CMP_EQ"},
                      {"index": 2, "value": 1, "op": "SCMP_CMP_MASKED_EQ", "valueTwo": 1}]},
            {"names": ["openat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 30,
             "args": [{"index": 0, "value": 6, "op": "SCMP_CMP_EQ"}]},
            {"names": ["openat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 2,
             "args": [{"index": 1, "value": 10, "op": "SCMP_CMP_GT"},
                      {"index": 1, "value": 20, "op": "SCMP_CMP_LT"}]}
        ]
    })))
    .unwrap();
    assert_eq!(verdict(&prog, "openat", &[5, 0, 1]), errno(13));
    assert_eq!(verdict(&prog, "openat", &[5, 0, 0]), RET_ALLOW);
    assert_eq!(verdict(&prog, "openat", &[6, 0, 0]), errno(30));
    assert_eq!(verdict(&prog, "openat", &[0, 15, 0]), errno(2));
    assert_eq!(verdict(&prog, "openat", &[0, 25, 0]), RET_ALLOW);
    assert_eq!(verdict(&prog, "openat", &[0, 5, 0]), RET_ALLOW);
}

#[test]
fn conditional_rules_come_before_an_unconditional_one() {
    let prog = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_KILL_PROCESS",
        "syscalls": [
            {"names": ["kill"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 1, "value": 9, "op": "SCMP_CMP_EQ"}]}
        ]
    })))
    .unwrap();
    assert_eq!(verdict(&prog, "kill", &[1, 9]), errno(1));
    assert_eq!(verdict(&prog, "kill", &[1, 15]), RET_ALLOW);
    assert_eq!(verdict(&prog, "getpid", &[]), 0x8000_0000);
}

#[test]
fn every_action_has_its_kernel_value() {
    let prog = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["getpid"], "action": "SCMP_ACT_KILL"},
            {"names": ["getppid"], "action": "SCMP_ACT_KILL_THREAD"},
            {"names": ["getuid"], "action": "SCMP_ACT_KILL_PROCESS"},
            {"names": ["getgid"], "action": "SCMP_ACT_TRAP"},
            {"names": ["geteuid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 99},
            {"names": ["getegid"], "action": "SCMP_ACT_TRACE", "errnoRet": 7},
            {"names": ["gettid"], "action": "SCMP_ACT_LOG"},
            {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["no_such_syscall_in_any_kernel"], "action": "SCMP_ACT_KILL"}
        ]
    })))
    .unwrap();
    assert_eq!(verdict(&prog, "getpid", &[]), RET_KILL_THREAD);
    assert_eq!(verdict(&prog, "getppid", &[]), RET_KILL_THREAD);
    assert_eq!(verdict(&prog, "getuid", &[]), 0x8000_0000);
    assert_eq!(verdict(&prog, "getgid", &[]), RET_TRAP);
    assert_eq!(verdict(&prog, "geteuid", &[]), errno(99));
    assert_eq!(verdict(&prog, "getegid", &[]), RET_TRACE | 7);
    assert_eq!(verdict(&prog, "gettid", &[]), RET_LOG);
    assert_eq!(verdict(&prog, "getcwd", &[]), errno(1));
    assert_eq!(verdict(&prog, "read", &[]), RET_ALLOW);
    // An allow-by-default filter needs no -ENOSYS stub.
    assert_eq!(
        run(prog.instructions(), &SeccompData::new(NATIVE, 4000, &[])),
        RET_ALLOW
    );
}

#[test]
fn default_errno_ret_is_used() {
    let prog = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 6,
        "syscalls": [{"names": ["write", "exit_group"], "action": "SCMP_ACT_ALLOW"}]
    })))
    .unwrap();
    assert_eq!(verdict(&prog, "write", &[]), RET_ALLOW);
    assert_eq!(verdict(&prog, "read", &[]), errno(6));
}

#[test]
fn large_profiles_need_long_jumps_and_still_decide_right() {
    // 300 syscall numbers with conditions, each its own (the limit differs),
    // so no two share a span: the tree's left branches jump over hundreds
    // of instructions.
    let syscalls: Vec<_> = syscalls_of_native_abi()
        .take(300)
        .enumerate()
        .map(|(i, name)| {
            json!({"names": [name], "action": "SCMP_ACT_ALLOW",
                   "args": [{"index": 0, "value": i, "op": "SCMP_CMP_LE"}]})
        })
        .collect();
    let names: Vec<&str> = syscalls_of_native_abi().take(300).collect();
    let prog = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": syscalls
    })))
    .unwrap();
    let trampolines = prog
        .instructions()
        .iter()
        .filter(|i| i.code == super::bpf::BPF_JMP | super::bpf::BPF_JA)
        .count();
    assert!(trampolines > 0, "{} instructions", prog.len());
    for (i, name) in names.into_iter().enumerate() {
        let i = i as u64;
        assert_eq!(verdict(&prog, name, &[i]), RET_ALLOW, "{name}");
        assert_eq!(verdict(&prog, name, &[i + 1]), errno(1), "{name}");
    }
}

#[test]
fn profiles_too_big_for_the_kernel_are_refused() {
    let syscalls: Vec<_> = syscalls_of_native_abi()
        .take(300)
        .enumerate()
        .map(|(i, name)| {
            json!({"names": [name], "action": "SCMP_ACT_ALLOW",
                   "args": [{"index": 0, "value": i, "op": "SCMP_CMP_LE"},
                            {"index": 1, "value": 3, "op": "SCMP_CMP_GE"},
                            {"index": 2, "value": 3, "op": "SCMP_CMP_NE"}]})
        })
        .collect();
    let err = compile(&profile(
        json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": syscalls}),
    ))
    .unwrap_err();
    assert!(
        matches!(err, SeccompError::TooLong { len } if len > MAX_INSNS),
        "{err}"
    );
}

fn syscalls_of_native_abi() -> impl Iterator<Item = &'static str> {
    syscalls::Sysno::iter().map(|s| s.name())
}

#[test]
fn bad_profiles_name_the_culprit() {
    let err = |value| compile(&profile(value)).unwrap_err().to_string();
    let e = err(json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["ioctl"], "action": "SCMP_ACT_NOTIFY"}]}));
    assert!(
        e.contains("\"ioctl\"") && e.contains("SCMP_ACT_NOTIFY"),
        "{e}"
    );
    let e = err(json!({"defaultAction": "SCMP_ACT_NOTIFY"}));
    assert!(e.contains("default action"), "{e}");
    let e = err(json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 70000}]}));
    assert!(e.contains("\"read\"") && e.contains("70000"), "{e}");
    let e = err(json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                      "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}));
    assert!(e.contains("\"read\"") && e.contains("index 6"), "{e}");
    let e = err(json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": [""], "action": "SCMP_ACT_ERRNO"}]}));
    assert!(e.contains("empty syscall name"), "{e}");
}

#[test]
fn rules_with_the_default_action_are_dropped() {
    let with = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                     {"names": ["mount"], "action": "SCMP_ACT_ERRNO"}]
    })))
    .unwrap();
    let conditional = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                     {"names": ["mount"], "action": "SCMP_ACT_ERRNO",
                      "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}]
    })))
    .unwrap();
    // mount still counts for the -ENOSYS stub's "largest number named".
    assert_eq!(verdict(&with, "mount", &[]), errno(1));
    assert_eq!(
        run(
            with.instructions(),
            &SeccompData::new(NATIVE, nr("mount") + 1, &[])
        ),
        errno(38)
    );
    // A conditional rule with the default action leaves no code either:
    // nothing loads an argument.
    assert_eq!(with, conditional);
    assert!(!with.instructions().iter().any(|i| i.code
        == super::bpf::BPF_LD | super::bpf::BPF_W | super::bpf::BPF_ABS
        && i.k >= 16));
}

#[test]
fn aarch64_filters_have_native_and_arm_sections() {
    const AUDIT_ARCH_ARM: u32 = 0x4000_0028;
    let listed = json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
        "syscalls": [
            {"names": ["getcwd", "open", "openat"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}
        ]
    });
    let prog = compile_for(&profile(listed), Abi::Aarch64).unwrap();
    let at = |arch, nr, args: &[u64]| run(prog.instructions(), &SeccompData::new(arch, nr, args));
    // aarch64: getcwd 17, openat 56, personality 92, mount 40; no open(2).
    assert_eq!(at(AUDIT_ARCH_AARCH64, 17, &[]), RET_ALLOW);
    assert_eq!(at(AUDIT_ARCH_AARCH64, 56, &[]), RET_ALLOW);
    assert_eq!(at(AUDIT_ARCH_AARCH64, 40, &[]), errno(1));
    assert_eq!(at(AUDIT_ARCH_AARCH64, 92, &[8]), RET_ALLOW);
    assert_eq!(at(AUDIT_ARCH_AARCH64, 92, &[(1 << 32) | 8]), errno(1));
    // arm: getcwd 183, open 5, personality 136 (low half only).
    assert_eq!(at(AUDIT_ARCH_ARM, 183, &[]), RET_ALLOW);
    assert_eq!(at(AUDIT_ARCH_ARM, 5, &[]), RET_ALLOW);
    assert_eq!(at(AUDIT_ARCH_ARM, 136, &[8]), RET_ALLOW);
    assert_eq!(at(AUDIT_ARCH_ARM, 21, &[]), errno(1));
    // No x86 sections on an arm64 kernel, and no x32 check either.
    assert_eq!(at(AUDIT_ARCH_X86_64, 79, &[]), RET_BAD_ARCH);
    assert_eq!(at(AUDIT_ARCH_AARCH64, 17 | X32_SYSCALL_BIT, &[]), errno(38));

    let unlisted = json!({"defaultAction": "SCMP_ACT_ALLOW"});
    let prog = compile_for(&profile(unlisted), Abi::Aarch64).unwrap();
    let at = |arch, nr| run(prog.instructions(), &SeccompData::new(arch, nr, &[]));
    assert_eq!(at(AUDIT_ARCH_AARCH64, 17), RET_ALLOW);
    assert_eq!(at(AUDIT_ARCH_ARM, 183), RET_BAD_ARCH);
}

#[test]
fn filter_flags_map_to_kernel_bits() {
    let prog = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                  "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]
    })))
    .unwrap();
    // TSYNC 1, LOG 2, SPEC_ALLOW 4; WAIT_KILLABLE_RECV only goes with a listener.
    assert_eq!(prog.flags, 0b111);
    assert_eq!(
        compile(&profile(json!({"defaultAction": "SCMP_ACT_ALLOW"})))
            .unwrap()
            .flags,
        0
    );
}
