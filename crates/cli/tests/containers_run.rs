//! `berth run` in the foreground, as root on a busybox image imported by
//! the test: hostname, PID namespace, mounts, exit codes, Docker's defaults.

mod containers_support;

use containers_support::{Env, IMAGE};

#[test]
fn hostname_is_set_and_rm_removes() {
    let env = Env::new();
    let r = env.berth(&["run", "--rm", "--hostname", "container", IMAGE, "hostname"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "container\n"),
        "{}",
        r.stderr
    );
    assert_eq!(env.ok(&["ps", "-aq"]), "");
    // Default hostname: the first 12 hex digits of the id.
    let id = env.ok(&["create", IMAGE, "hostname"]).trim().to_string();
    let r = env.berth(&["start", "-a", &id]);
    assert_eq!(r.stdout.trim(), &id[..12]);
}

#[test]
fn ps_sees_only_its_own_pid_namespace() {
    let env = Env::new();
    let out = env.ok(&["run", "--rm", IMAGE, "ps", "-ef"]);
    let lines: Vec<&str> = out.lines().skip(1).collect();
    assert_eq!(lines.len(), 1, "{out}");
    let fields: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        (fields[0], fields[2], fields[3]),
        ("1", "ps", "-ef"),
        "{out}"
    );
}

#[test]
fn network_none_is_a_namespace_of_its_own_and_host_is_the_hosts() {
    let env = Env::new();
    let host = std::fs::read_link("/proc/self/ns/net").unwrap();
    let host = host.to_str().unwrap();
    let script = "readlink /proc/self/ns/net; cat /proc/net/dev";
    // A live container (its namespace made by the monitor's clone): the
    // foreground ones must not share it. (Sequential runs may see the
    // same number: a freed namespace's inode number is reused.)
    let id = env
        .ok(&["run", "-d", IMAGE, "sleep", "100"])
        .trim()
        .to_string();
    let live = env.ok(&["exec", &id, "sh", "-c", script]);
    // Foreground without a pty (namespace made ahead), and with a pty.
    let first = env.ok(&["run", "--rm", IMAGE, "sh", "-c", script]);
    let second = env.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        IMAGE,
        "sh",
        "-c",
        script,
    ]);
    let tty = env.ok(&["run", "--rm", "-t", IMAGE, "sh", "-c", script]);
    let live_ns = live.lines().next().unwrap().to_string();
    for out in [&live, &first, &second, &tty] {
        let lines: Vec<&str> = out.lines().map(|l| l.trim_end_matches('\r')).collect();
        assert!(lines[0].starts_with("net:["), "{out}");
        assert_ne!(lines[0], host, "{out}");
        if !std::ptr::eq(out, &live) {
            assert_ne!(lines[0], live_ns, "{out}");
        }
        // Two header lines and the loopback device only.
        assert_eq!(lines.len(), 4, "{out}");
        assert!(lines[3].trim_start().starts_with("lo:"), "{out}");
    }
    let out = env.ok(&[
        "run",
        "--rm",
        "--network",
        "host",
        IMAGE,
        "readlink",
        "/proc/self/ns/net",
    ]);
    assert_eq!(out.trim(), host);
    env.ok(&["rm", "-f", &id]);
}

#[test]
fn mounts_stay_inside_the_container() {
    let env = Env::new();
    let root = env.root().display().to_string();
    let id = env
        .ok(&["run", "-d", IMAGE, "sleep", "100"])
        .trim()
        .to_string();
    let host = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !host.contains(&root),
        "host mount table shows the container's overlay:\n{host}"
    );
    assert!(!host.contains(&id));
    // The container's table holds only its own mounts.
    let inside = env.ok(&["exec", &id, "cat", "/proc/self/mountinfo"]);
    for line in inside.lines() {
        let mount_point = line.split_whitespace().nth(4).unwrap();
        let ok = ["/", "/proc", "/dev", "/sys"]
            .iter()
            .any(|p| mount_point == *p || mount_point.starts_with(&format!("{p}/")));
        assert!(ok, "unexpected mount in the container: {line}");
        assert!(
            !mount_point.starts_with("/work") && !mount_point.starts_with("/tmp"),
            "{line}"
        );
    }
    env.ok(&["rm", "-f", &id]);
}

#[test]
fn exit_codes_are_dockers() {
    let env = Env::new();
    assert_eq!(
        env.berth(&["run", "--rm", IMAGE, "sh", "-c", "exit 3"])
            .code,
        3
    );
    let r = env.berth(&["run", "--rm", IMAGE, "nosuchcommand"]);
    assert_eq!(r.code, 127);
    assert!(
        r.stderr.contains("executable file not found"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    let r = env.berth(&["run", "--rm", IMAGE, "/etc/passwd"]);
    assert_eq!(r.code, 126, "{}", r.stderr);
    // PID 1 ignores signals it has no handler for; a killed child's
    // status is what the shell passes on.
    let r = env.berth(&[
        "run",
        "--rm",
        IMAGE,
        "sh",
        "-c",
        "sleep 10 & kill -9 $!; wait $!",
    ]);
    assert_eq!(r.code, 137);
}

/// `--privileged` gets every capability berth holds itself: on a host
/// whose bounding set lacks one (this CI has no CAP_SYS_RESOURCE) asking
/// for it made every privileged run fail in capset.
#[test]
fn privileged_runs_with_every_capability_we_hold() {
    let env = Env::new();
    let ours = std::fs::read_to_string("/proc/self/status").unwrap();
    let bnd = ours.lines().find(|l| l.starts_with("CapBnd:")).unwrap();
    let status = env.ok(&[
        "run",
        "--rm",
        "--privileged",
        IMAGE,
        "cat",
        "/proc/self/status",
    ]);
    let eff = bnd.replace("CapBnd:", "CapEff:");
    assert!(status.contains(&eff), "want {eff:?} in {status}");
    assert!(status.contains(bnd), "want {bnd:?} in {status}");
}

#[test]
fn docker_defaults_and_flags_apply() {
    let env = Env::new();
    // Docker's 14 default capabilities (CapEff 00000000a80425fb).
    let status = env.ok(&["run", "--rm", IMAGE, "cat", "/proc/self/status"]);
    assert!(status.contains("CapEff:\t00000000a80425fb"), "{status}");
    assert!(status.contains("NoNewPrivs:\t0"), "{status}");
    assert!(status.contains("Seccomp:\t2"), "{status}");
    let status = env.ok(&[
        "run",
        "--rm",
        "--security-opt",
        "no-new-privileges",
        "--cap-drop",
        "ALL",
        IMAGE,
        "cat",
        "/proc/self/status",
    ]);
    assert!(
        status.contains("CapEff:\t0000000000000000") && status.contains("NoNewPrivs:\t1"),
        "{status}"
    );
    // Env, workdir, user.
    let out = env.ok(&[
        "run",
        "--rm",
        "-e",
        "A=1",
        "-w",
        "/tmp",
        "-u",
        "nobody",
        IMAGE,
        "sh",
        "-c",
        "echo $A $HOSTNAME; pwd; id -u",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("1 "), "{out}");
    assert_eq!(&lines[1..], ["/tmp", "65534"]);
    // Read-only rootfs and masked paths.
    let r = env.berth(&["run", "--rm", "--read-only", IMAGE, "touch", "/x"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("Read-only file system"), "{}", r.stderr);
    assert!(!std::fs::read_to_string("/proc/timer_list")
        .unwrap()
        .is_empty());
    assert_eq!(
        env.ok(&["run", "--rm", IMAGE, "cat", "/proc/timer_list"]),
        ""
    );
    // Limits land in the cgroup / rlimits.
    let r = env.berth(&[
        "run",
        "--rm",
        "--ulimit",
        "nofile=100:200",
        IMAGE,
        "sh",
        "-c",
        "ulimit -n",
    ]);
    assert_eq!(r.stdout.trim(), "100", "{}", r.stderr);
    // Entrypoint override resets the image's Cmd.
    assert_eq!(
        env.ok(&["run", "--rm", "--entrypoint", "echo", IMAGE, "hi"]),
        "hi\n"
    );
}

#[test]
fn init_is_a_reaper_as_pid_one() {
    let env = Env::new();
    let out = env.ok(&["run", "--rm", "--init", IMAGE, "ps", "-o", "pid,args"]);
    let pid1 = out.lines().nth(1).unwrap();
    assert!(
        pid1.trim_start().starts_with("1 /sbin/berth-init -- ps"),
        "{out}"
    );
    assert_eq!(
        env.berth(&["run", "--rm", "--init", IMAGE, "sh", "-c", "exit 4"])
            .code,
        4
    );
    assert_eq!(
        env.berth(&["run", "--rm", "--init", IMAGE, "nosuch"]).code,
        127
    );
    // The init forwards SIGTERM to `sleep`, which (not being PID 1) dies
    // of it at once: no stop timeout needed.
    let id = env
        .ok(&["run", "-d", "--init", IMAGE, "sleep", "1000"])
        .trim()
        .to_string();
    // A signal that reaches PID 1 before it installed its handlers is
    // ignored (as with tini), so wait for them.
    let pid = env.inspect(&id, "{{.State.Pid}}");
    let caught = || {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        status
            .lines()
            .any(|l| l.starts_with("SigCgt:") && !l.ends_with("0000000000000000"))
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !caught() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let t = std::time::Instant::now();
    env.ok(&["stop", "-t", "20", &id]);
    assert!(
        t.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(env.wait_status(&id, "exited"), "exited 143");
}

#[test]
fn tty_is_a_pty_relayed_to_stdout() {
    let env = Env::new();
    let r = env.berth(&[
        "run",
        "--rm",
        "-t",
        IMAGE,
        "sh",
        "-c",
        "tty; echo $TERM; exit 3",
    ]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (3, "/dev/pts/0\r\nxterm\r\n"),
        "{}",
        r.stderr
    );
    let id = env
        .ok(&["run", "-d", IMAGE, "sleep", "100"])
        .trim()
        .to_string();
    let out = env.ok(&["exec", "-t", &id, "tty"]);
    assert!(out.starts_with("/dev/pts/"), "{out}");
    env.ok(&["rm", "-f", &id]);
}
