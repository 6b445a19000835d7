//! Docker's default seccomp profile on a real busybox container (root):
//! everything the runtime does after loading the filter, and an ordinary
//! shell session, still work, while what the profile forbids fails — shown
//! by running the same script with and without the profile.

#[path = "process_common.rs"]
mod common;

use common::{run, spec, Bundle};
use oci_spec::runtime::{LinuxSeccomp, Spec};

fn docker_default() -> LinuxSeccomp {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/seccomp/testdata/docker-default-amd64.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A writable-root container running `script`, with `seccomp` if given.
fn container(script: &str, seccomp: Option<LinuxSeccomp>, no_new_privs: bool) -> Spec {
    let mut s = spec(&["sh", "-c", script]);
    let mut linux = s.linux().clone().unwrap();
    linux.set_seccomp(seccomp);
    s.set_linux(Some(linux));
    let mut root = s.root().clone().unwrap();
    root.set_readonly(Some(false));
    s.set_root(Some(root));
    let mut p = s.process().clone().unwrap();
    p.set_no_new_privileges(Some(no_new_privs));
    s.set_process(Some(p));
    s
}

#[cfg(target_arch = "x86_64")]
#[test]
fn docker_default_profile_confines_a_container() {
    // unshare(CLONE_NEWUSER) needs no capability, so only seccomp stops it;
    // linux32 is personality(PER_LINUX32), one of the allowed personas.
    let script = "mkdir /tmp/d && echo mkdir=ok; \
                  unshare -U true; echo unshare=$?; \
                  linux32 true; echo linux32=$?; \
                  ls / >/dev/null && echo ls=ok";
    let b = Bundle::busybox();
    let (code, out, err) = run(&b, &container(script, None, true), None).ok();
    assert_eq!(code, 0, "stderr: {err}");
    assert_eq!(
        out, "mkdir=ok\nunshare=0\nlinux32=0\nls=ok\n",
        "without seccomp"
    );

    for no_new_privs in [true, false] {
        let b = Bundle::busybox();
        let s = container(script, Some(docker_default()), no_new_privs);
        let (code, out, err) = run(&b, &s, None).ok();
        assert_eq!(code, 0, "stderr: {err}");
        assert_eq!(
            out, "mkdir=ok\nunshare=1\nlinux32=0\nls=ok\n",
            "with the profile, no_new_privs={no_new_privs}; stderr: {err}"
        );
        assert!(err.contains("Operation not permitted"), "{err}");
    }
}

#[test]
fn an_unloadable_profile_fails_the_start_with_its_reason() {
    let profile: LinuxSeccomp = serde_json::from_value(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["ioctl"], "action": "SCMP_ACT_NOTIFY"}]
    }))
    .unwrap();
    let b = Bundle::busybox();
    let outcome = run(&b, &container("true", Some(profile), true), None);
    let text = format!("{outcome:?}");
    assert!(
        matches!(outcome, common::Outcome::Failed { .. }) && text.contains("SCMP_ACT_NOTIFY"),
        "{text}"
    );
}

#[test]
fn a_profile_denying_fd_and_affinity_calls_still_starts() {
    // The runtime closes inherited fds (close_range) before it loads the
    // filter, as runc does: a profile may deny close_range to the
    // container's process without breaking the runtime's own last steps.
    let profile: LinuxSeccomp = serde_json::from_value(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["close_range"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
    }))
    .unwrap();
    let b = Bundle::busybox();
    let (code, out, err) = run(&b, &container("echo started", Some(profile), true), None).ok();
    assert_eq!((code, out.as_str()), (0, "started\n"), "stderr: {err}");
}
