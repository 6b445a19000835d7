//! What this seccomp implementation supports, in the OCI names that
//! `runc features` reports under `linux.seccomp`.

/// Actions a profile may use (`SCMP_ACT_NOTIFY` is refused).
pub const ACTIONS: [&str; 8] = [
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_LOG",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_TRAP",
];

/// Argument comparisons.
pub const OPERATORS: [&str; 7] = [
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_LE",
    "SCMP_CMP_LT",
    "SCMP_CMP_MASKED_EQ",
    "SCMP_CMP_NE",
];

/// Architectures the filter has sections for on this machine.
#[cfg(target_arch = "x86_64")]
pub const ARCHS: [&str; 3] = ["SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32"];
/// Architectures the filter has sections for on this machine.
#[cfg(target_arch = "aarch64")]
pub const ARCHS: [&str; 2] = ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"];

/// `flags` values passed on to seccomp(2). `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV`
/// is accepted too but has no effect without a notify listener.
pub const FLAGS: [&str; 3] = [
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
];

#[cfg(test)]
mod tests {
    use oci_spec::runtime::{
        Arch, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
    };
    use serde_json::json;

    use super::*;

    /// Every name listed parses and compiles.
    #[test]
    fn every_listed_name_is_accepted() {
        for action in ACTIONS {
            let _: LinuxSeccompAction = serde_json::from_value(json!(action)).unwrap();
            let profile = serde_json::from_value(json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "architectures": ARCHS,
                "flags": FLAGS,
                "syscalls": [{"names": ["getpid"], "action": action,
                    "args": OPERATORS.iter().map(|op| json!({"index": 0, "value": 1, "op": op})).collect::<Vec<_>>()}]
            }))
            .unwrap();
            super::super::compile(&profile).unwrap();
        }
        for op in OPERATORS {
            let _: LinuxSeccompOperator = serde_json::from_value(json!(op)).unwrap();
        }
        for arch in ARCHS {
            let _: Arch = serde_json::from_value(json!(arch)).unwrap();
        }
        for flag in FLAGS {
            let _: LinuxSeccompFilterFlag = serde_json::from_value(json!(flag)).unwrap();
        }
    }
}
