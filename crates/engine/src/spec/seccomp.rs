//! Docker's default seccomp profile, shipped as data, turned into the OCI
//! `linux.seccomp` for this host's architecture and the container's
//! capabilities (moby `profiles/seccomp` `setupSeccomp` semantics).

use oci_spec::runtime::{Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSyscall};
use serde::Deserialize;

use super::SpecError;

/// The profile, in Docker's own format (`archMap`, `includes`/`excludes`).
/// Same rules as Docker's default: errno EPERM by default, the
/// namespace-creating calls gated on CAP_SYS_ADMIN, `clone3` answered with
/// ENOSYS so that libc falls back to `clone`, whose flags are checked.
const DEFAULT_PROFILE: &str = include_str!("seccomp_default.json");

// The profile's actions and argument matches are OCI's own types, so a
// rule becomes a `LinuxSyscall` without passing through a JSON tree.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    default_action: LinuxSeccompAction,
    default_errno_ret: Option<u32>,
    arch_map: Vec<ArchMap>,
    syscalls: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArchMap {
    architecture: String,
    sub_architectures: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    names: Vec<String>,
    action: LinuxSeccompAction,
    errno_ret: Option<u32>,
    #[serde(default)]
    args: Vec<LinuxSeccompArg>,
    #[serde(default)]
    includes: Filter,
    #[serde(default)]
    excludes: Filter,
}

#[derive(Deserialize, Default)]
struct Filter {
    #[serde(default)]
    caps: Vec<String>,
    #[serde(default)]
    arches: Vec<String>,
}

/// Go's name for this machine's architecture, as the profile uses.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "arm" => "arm",
        "s390x" => "s390x",
        "powerpc64" => "ppc64le",
        "riscv64" => "riscv64",
        other => other,
    }
}

/// The seccomp native architecture name for this machine.
fn native_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "SCMP_ARCH_X86_64",
        "aarch64" => "SCMP_ARCH_AARCH64",
        "x86" => "SCMP_ARCH_X86",
        "arm" => "SCMP_ARCH_ARM",
        "s390x" => "SCMP_ARCH_S390X",
        "riscv64" => "SCMP_ARCH_RISCV64",
        _ => "SCMP_ARCH_NATIVE",
    }
}

/// The OCI `linux.seccomp` of Docker's default profile for a container
/// whose bounding set is `caps`.
pub fn default_profile(caps: &[String]) -> Result<LinuxSeccomp, SpecError> {
    let profile: Profile = serde_json::from_str(DEFAULT_PROFILE)
        .map_err(|e| SpecError::SeccompProfile(e.to_string()))?;
    let arch = go_arch();
    let native = native_arch();
    let arch_of = |name: &str| -> Result<Arch, SpecError> {
        serde_json::from_value(serde_json::Value::String(name.to_string()))
            .map_err(|e| SpecError::SeccompProfile(format!("architecture {name}: {e}")))
    };
    let mut architectures = vec![arch_of(native)?];
    if let Some(m) = profile.arch_map.iter().find(|m| m.architecture == native) {
        for sub in &m.sub_architectures {
            architectures.push(arch_of(sub)?);
        }
    }
    let has = |c: &String| caps.contains(c);
    let mut syscalls = Vec::new();
    for rule in profile.syscalls {
        if !rule.includes.arches.is_empty() && !rule.includes.arches.iter().any(|a| a == arch) {
            continue;
        }
        if !rule.includes.caps.iter().all(has) {
            continue;
        }
        if rule.excludes.arches.iter().any(|a| a == arch) || rule.excludes.caps.iter().any(has) {
            continue;
        }
        let mut entry = LinuxSyscall::default();
        entry.set_names(rule.names);
        entry.set_action(rule.action);
        entry.set_errno_ret(rule.errno_ret);
        if !rule.args.is_empty() {
            entry.set_args(Some(rule.args));
        }
        syscalls.push(entry);
    }
    let mut seccomp = LinuxSeccomp::default();
    seccomp.set_default_action(profile.default_action);
    seccomp.set_default_errno_ret(profile.default_errno_ret);
    seccomp.set_architectures(Some(architectures));
    seccomp.set_syscalls(Some(syscalls));
    Ok(seccomp)
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn profile_json(caps: &[String]) -> Value {
        serde_json::to_value(default_profile(caps).unwrap()).unwrap()
    }

    fn names_with_action(v: &Value, name: &str) -> Vec<(String, bool)> {
        v["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["names"].as_array().unwrap().iter().any(|n| n == name))
            .map(|r| {
                (
                    r["action"].as_str().unwrap().to_string(),
                    r.get("args").is_some(),
                )
            })
            .collect()
    }

    #[test]
    fn default_caps_gate_mount_and_clone() {
        let caps: Vec<String> = super::super::caps::DEFAULT_CAPS
            .iter()
            .map(|c| c.to_string())
            .collect();
        let p = profile_json(&caps);
        assert_eq!(p["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(p["defaultErrnoRet"], 1);
        assert!(names_with_action(&p, "mount").is_empty());
        assert!(names_with_action(&p, "unshare").is_empty());
        assert_eq!(
            names_with_action(&p, "read"),
            vec![("SCMP_ACT_ALLOW".into(), false)]
        );
        // clone only with the namespace flags masked out; clone3 gets ENOSYS.
        assert_eq!(
            names_with_action(&p, "clone"),
            vec![("SCMP_ACT_ALLOW".into(), true)]
        );
        assert_eq!(
            names_with_action(&p, "clone3"),
            vec![("SCMP_ACT_ERRNO".into(), false)]
        );
        assert!(names_with_action(&p, "chroot").len() == 1);
        // It is a valid OCI seccomp object.
        let _: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(p).unwrap();
    }

    #[test]
    fn sys_admin_opens_mount_and_plain_clone() {
        let mut caps: Vec<String> = super::super::caps::DEFAULT_CAPS
            .iter()
            .map(|c| c.to_string())
            .collect();
        caps.push("CAP_SYS_ADMIN".into());
        let p = profile_json(&caps);
        assert_eq!(
            names_with_action(&p, "mount"),
            vec![("SCMP_ACT_ALLOW".into(), false)]
        );
        assert_eq!(
            names_with_action(&p, "clone"),
            vec![("SCMP_ACT_ALLOW".into(), false)]
        );
        assert_eq!(
            names_with_action(&p, "clone3"),
            vec![("SCMP_ACT_ALLOW".into(), false)]
        );
    }
}
