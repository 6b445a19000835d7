//! Spec details the init applies: masked and read-only paths, devices,
//! sysctl, rlimits above the hard limit, oom score, seccomp, the caller's
//! hooks, and the cgroup mount.

#[path = "process_common.rs"]
mod common;

use std::fs::{self, File};
use std::os::fd::AsFd;

use common::{in_child, init_opts, run, spec, Bundle, Outcome};
use nix::sys::resource::{getrlimit, Resource};
use nix::unistd::Pid;
use oci_spec::runtime::{
    LinuxDeviceBuilder, LinuxDeviceType, LinuxSeccomp, PosixRlimitBuilder, PosixRlimitType,
};
use runtime::spawn::HookError;
use runtime::{spawn_init, InitHooks, InitOptions, Stdio};

#[test]
fn masked_and_readonly_paths() {
    let b = Bundle::busybox();
    let s = spec(&[
        "sh",
        "-c",
        "wc -c < /proc/timer_list; ls /sys/firmware | wc -l; echo 1 > /proc/sys/kernel/domainname; echo rc=$?",
    ]);
    let (code, out, err) = run(&b, &s, None).ok();
    assert_eq!(code, 0, "stderr: {err}");
    let l: Vec<&str> = out.lines().map(str::trim).collect();
    assert_eq!(l, ["0", "0", "rc=1"], "{out}");
    // Not empty on the host: the zeros above come from the masks.
    assert!(!fs::read("/proc/timer_list").unwrap().is_empty());
    assert!(fs::read_dir("/sys/firmware").unwrap().count() > 0);
    assert!(err.contains("Read-only file system"), "{err}");
}

#[test]
fn default_and_spec_devices() {
    let b = Bundle::busybox();
    let mut s = spec(&[
        "sh",
        "-c",
        "ls -l /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty /dev/fuse; for l in ptmx fd stdin; do readlink /dev/$l; done",
    ]);
    let mut linux = s.linux().clone().unwrap();
    let fuse = LinuxDeviceBuilder::default()
        .path("/dev/fuse")
        .typ(LinuxDeviceType::C)
        .major(10)
        .minor(229)
        .file_mode(0o600u32)
        .build()
        .unwrap();
    linux.set_devices(Some(vec![fuse]));
    s.set_linux(Some(linux));
    let (code, out, err) = run(&b, &s, None).ok();
    assert_eq!(code, 0, "stderr: {err}");
    for (name, numbers) in [
        ("null", "1,   3"),
        ("zero", "1,   5"),
        ("full", "1,   7"),
        ("random", "1,   8"),
        ("urandom", "1,   9"),
        ("tty", "5,   0"),
    ] {
        let line = out
            .lines()
            .find(|l| l.ends_with(&format!("/dev/{name}")))
            .unwrap();
        assert!(
            line.starts_with("crw-rw-rw-") && line.contains(numbers),
            "{line}"
        );
    }
    let fuse = out.lines().find(|l| l.ends_with("/dev/fuse")).unwrap();
    assert!(
        fuse.starts_with("crw-------") && fuse.contains("10, 229"),
        "{fuse}"
    );
    assert!(
        out.contains("pts/ptmx\n/proc/self/fd\n/proc/self/fd/0\n"),
        "{out}"
    );
}

#[test]
fn sysctl_and_oom_score_adj() {
    let b = Bundle::busybox();
    let mut s = spec(&[
        "sh",
        "-c",
        "cat /proc/sys/net/ipv4/ip_forward /proc/self/oom_score_adj",
    ]);
    let mut linux = s.linux().clone().unwrap();
    linux.set_sysctl(Some(
        [("net.ipv4.ip_forward".to_string(), "1".to_string())].into(),
    ));
    s.set_linux(Some(linux));
    let mut p = s.process().clone().unwrap();
    p.set_oom_score_adj(Some(500));
    s.set_process(Some(p));
    let (code, out, err) = run(&b, &s, None).ok();
    assert_eq!(code, 0, "stderr: {err}");
    assert_eq!(out, "1\n500\n");
}

#[test]
fn rlimit_above_the_hard_limit_is_clamped_not_fatal() {
    let b = Bundle::busybox();
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    let mut s = spec(&["sh", "-c", "ulimit -n; ulimit -Hn; ulimit -u"]);
    let mut p = s.process().clone().unwrap();
    let rl = |typ, soft: u64, hard: u64| {
        PosixRlimitBuilder::default()
            .typ(typ)
            .soft(soft)
            .hard(hard)
            .build()
            .unwrap()
    };
    p.set_rlimits(Some(vec![
        // Docker's and podman's usual ask; fails without CAP_SYS_RESOURCE
        // when the host's hard limit is lower.
        rl(PosixRlimitType::RlimitNofile, hard + 1, hard + 1),
        rl(PosixRlimitType::RlimitNproc, 777, 888),
    ]));
    s.set_process(Some(p));
    let (code, out, err) = run(&b, &s, None).ok();
    assert_eq!(code, 0, "stderr: {err}");
    assert_eq!(out, format!("{hard}\n{hard}\n777\n"));
}

#[test]
fn seccomp_profile_is_installed() {
    let b = Bundle::busybox();
    let mut s = spec(&["sh", "-c", "mkdir /tmp/x; echo rc=$?"]);
    let profile: LinuxSeccomp = serde_json::from_value(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
    }))
    .unwrap();
    let mut linux = s.linux().clone().unwrap();
    linux.set_seccomp(Some(profile));
    s.set_linux(Some(linux));
    let mut root = s.root().clone().unwrap();
    root.set_readonly(Some(false));
    s.set_root(Some(root));
    for nnp in [true, false] {
        let mut p = s.process().clone().unwrap();
        p.set_no_new_privileges(Some(nnp));
        s.set_process(Some(p));
        let (code, out, err) = run(&b, &s, None).ok();
        assert_eq!(code, 0, "stderr: {err}");
        assert_eq!(out, "rc=1\n", "nnp={nnp}");
        assert!(err.contains("Operation not permitted"), "{err}");
    }
}

#[test]
fn a_bad_seccomp_profile_fails_before_anything_runs() {
    let b = Bundle::busybox();
    let mut s = spec(&["true"]);
    let profile: LinuxSeccomp = serde_json::from_value(serde_json::json!({
        "defaultAction": "SCMP_ACT_NOTIFY",
        "architectures": ["SCMP_ARCH_X86_64"]
    }))
    .unwrap();
    let mut linux = s.linux().clone().unwrap();
    linux.set_seccomp(Some(profile));
    s.set_linux(Some(linux));
    match run(&b, &s, None) {
        Outcome::Failed { kind, message } => {
            assert_eq!(kind, "Other");
            assert!(
                message.starts_with("container test: invalid spec: linux.seccomp: "),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
}

/// Records where each hook point ran, into files the test reads back.
struct Recorder {
    dir: std::path::PathBuf,
    cgroup: std::path::PathBuf,
}

/// A cgroup2 dir under the host's unified mount, removed on drop.
struct TestCgroup(std::path::PathBuf);

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let _ = fs::remove_dir(&self.0);
    }
}

fn test_cgroup(name: &str) -> TestCgroup {
    // Hybrid hosts have cgroup2 at /sys/fs/cgroup/unified, pure v2 hosts
    // at /sys/fs/cgroup.
    let unified = std::path::Path::new("/sys/fs/cgroup/unified");
    let root = if unified.join("cgroup.procs").exists() {
        unified
    } else {
        std::path::Path::new("/sys/fs/cgroup")
    };
    let dir = root.join(format!("{name}-{}", std::process::id()));
    fs::create_dir(&dir).unwrap();
    TestCgroup(dir)
}

impl InitHooks for Recorder {
    fn after_clone(&mut self, pid: Pid, _in_cgroup: bool) -> Result<(), HookError> {
        fs::write(self.dir.join("after_clone"), pid.to_string())?;
        // What r2's create does here: place the init in its cgroup.
        fs::write(self.cgroup.join("cgroup.procs"), pid.to_string())?;
        Ok(())
    }
    fn before_pivot(&mut self, pid: Pid) -> Result<(), HookError> {
        // The child waits here with its mounts done: its /proc is there.
        let mounts = fs::read_to_string(format!("/proc/{pid}/mounts"))?;
        fs::write(self.dir.join("before_pivot"), mounts)?;
        Ok(())
    }
    fn before_exec_in_child(&mut self) -> Result<(), HookError> {
        // In the container: after pivot_root, as the spec's process sees it.
        fs::write("/tmp/start-hook", std::process::id().to_string())?;
        Ok(())
    }
}

struct Panicky;

impl InitHooks for Panicky {
    fn before_exec_in_child(&mut self) -> Result<(), HookError> {
        panic!("hook blew up");
    }
}

#[test]
fn a_panic_in_the_child_is_reported_not_unwound_into_the_caller() {
    let b = Bundle::busybox();
    let s = spec(&["true"]);
    let result = b.path().join("result");
    let code = in_child(|| {
        let opts = init_opts("panic", &b, &s);
        // Only the test's forked process may get past this line: if the
        // container child unwound into here it would write "returned" too.
        let text = match spawn_init(&opts, &mut Panicky) {
            Ok(_) => "ok\n".to_string(),
            Err(e) => format!("{e}\n"),
        };
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&result)
            .unwrap();
        std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
        0
    });
    assert_eq!(code, 0);
    let text = fs::read_to_string(&result).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains("panicked") && text.contains("hook blew up"),
        "{text}"
    );
}

#[test]
fn caller_hooks_run_at_their_points() {
    let b = Bundle::busybox();
    let mut s = spec(&[
        "sh",
        "-c",
        "cat /tmp/start-hook; grep ^0:: /proc/self/cgroup",
    ]);
    let cg = test_cgroup("berth-r1-hooks");
    let mut root = s.root().clone().unwrap();
    root.set_readonly(Some(false));
    s.set_root(Some(root));
    let out = b.path().join("out");
    let result = b.path().join("result");
    in_child(|| {
        let o = File::create(&out).unwrap();
        let opts = InitOptions {
            id: "hooks",
            spec: &s,
            bundle: b.path(),
            overlay: None,
            console_socket: None,
            no_pivot: false,
            exec_fifo: None,
            stdio: Stdio {
                stdin: None,
                stdout: Some(o.as_fd()),
                stderr: Some(o.as_fd()),
            },
            preserve_fds: 0,
            netns: None,
        };
        let mut rec = Recorder {
            dir: b.path().to_path_buf(),
            cgroup: cg.0.clone(),
        };
        let init = spawn_init(&opts, &mut rec).unwrap();
        let code = init.wait().unwrap();
        fs::write(&result, format!("{} {code}", init.pid)).unwrap();
        0
    });
    let result = fs::read_to_string(&result).unwrap();
    let out = fs::read_to_string(&out).unwrap();
    assert!(result.ends_with(" 0"), "{result} {out}");
    let pid = result.split(' ').next().unwrap();
    assert_eq!(
        fs::read_to_string(b.path().join("after_clone")).unwrap(),
        pid
    );
    let mounts = fs::read_to_string(b.path().join("before_pivot")).unwrap();
    assert!(
        mounts.contains(&format!("{}/proc proc", b.rootfs().display())),
        "{mounts}"
    );
    // The hook ran in the init itself (PID 1 in the container), which
    // then exec'd sh, which read the file the hook wrote. The cgroup
    // namespace was created after the placement: its root is that cgroup.
    assert_eq!(out, "10::/\n");
}

#[test]
fn cgroup_mount_shows_the_hierarchies() {
    let b = Bundle::busybox();
    let s = spec(&[
        "sh",
        "-c",
        "ls /sys/fs/cgroup; touch /sys/fs/cgroup/x; echo rc=$?",
    ]);
    match run(&b, &s, None) {
        Outcome::Exited {
            code,
            stdout,
            stderr,
        } => {
            assert_eq!(code, 0, "{stderr}");
            let host: Vec<String> = fs::read_dir("/sys/fs/cgroup")
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            for name in host.iter().filter(|n| !n.contains('.')) {
                assert!(
                    stdout.lines().any(|l| l == name),
                    "{name} missing: {stdout}"
                );
            }
            assert!(stdout.ends_with("rc=1\n"), "ro: {stdout}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn personality_and_io_priority() {
    let b = Bundle::busybox();
    let mut s = spec(&["sh", "-c", "uname -m; ionice"]);
    let mut linux = s.linux().clone().unwrap();
    let pers: oci_spec::runtime::LinuxPersonality =
        serde_json::from_value(serde_json::json!({"domain": "LINUX32"})).unwrap();
    linux.set_personality(Some(pers));
    s.set_linux(Some(linux));
    let mut p = s.process().clone().unwrap();
    let io: oci_spec::runtime::LinuxIOPriority =
        serde_json::from_value(serde_json::json!({"class": "IOPRIO_CLASS_IDLE", "priority": 0}))
            .unwrap();
    p.set_io_priority(Some(io));
    s.set_process(Some(p));
    let (code, out, err) = run(&b, &s, None).ok();
    assert_eq!(code, 0, "stderr: {err}");
    assert_eq!(out, "i686\nidle\n");
}

#[test]
fn scheduler_and_cpu_affinity() {
    let b = Bundle::busybox();
    // /proc/self/stat: field 19 is nice, 41 the policy (3 = SCHED_BATCH).
    let mut s = spec(&[
        "sh",
        "-c",
        "cut -d' ' -f19,41 /proc/self/stat; grep Cpus_allowed_list /proc/self/status",
    ]);
    let mut p = s.process().clone().unwrap();
    p.set_scheduler(Some(
        serde_json::from_value(serde_json::json!({"policy": "SCHED_BATCH", "nice": 5})).unwrap(),
    ));
    p.set_exec_cpu_affinity(Some(
        serde_json::from_value(serde_json::json!({"initial": "0", "final": "0"})).unwrap(),
    ));
    s.set_process(Some(p));
    let (code, out, err) = run(&b, &s, None).ok();
    assert_eq!(code, 0, "stderr: {err}");
    assert_eq!(out, "5 3\nCpus_allowed_list:\t0\n");
}
