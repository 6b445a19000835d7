//! Exec into a running container, and the engine's overlay root with more
//! lower layers than fit in one page of mount options.

#[path = "process_common.rs"]
mod common;

use std::fs::{self, File};
use std::os::fd::AsFd;

use common::{in_child, init_opts, run, spec, Bundle};
use nix::sys::signal::{kill, Signal};
use oci_spec::runtime::Process;
use runtime::spawn::wait_exit_code;
use runtime::{spawn_exec, spawn_init, ExecOptions, InitOptions, NoHooks, Overlay, Stdio};

/// Starts a busybox container whose init is `sleep 30`, execs `sh -c
/// script` into it, kills the init; returns the exec's exit code (or
/// error) and its output.
fn exec_script(id: &str, script: &str) -> (String, String) {
    let b = Bundle::busybox();
    let s = spec(&["sleep", "30"]);
    let out = b.path().join("exec-out");
    let result = b.path().join("result");
    in_child(|| {
        let o = File::create(&out).unwrap();
        let opts = init_opts(id, &b, &s);
        let init = spawn_init(&opts, &mut NoHooks).unwrap();
        let mut p = s.process().clone().unwrap();
        p.set_args(Some(vec!["sh".into(), "-c".into(), script.into()]));
        let text = exec_code(id, init.pid, &p, &o);
        let _ = kill(init.pid, Signal::SIGKILL);
        let _ = init.wait();
        fs::write(&result, text).unwrap();
        0
    });
    (
        fs::read_to_string(&result).unwrap(),
        fs::read_to_string(&out).unwrap(),
    )
}

#[test]
fn exec_sees_the_containers_hostname_and_pids() {
    let (code, out) = exec_script("exec-test", "hostname; ps -o pid,args; exit 7");
    assert_eq!(code, "7", "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "box", "{out}");
    // The init is PID 1 of the namespace the exec'd shell is in.
    assert!(
        lines
            .iter()
            .any(|l| l.trim_start().starts_with("1 sleep 30")),
        "{out}"
    );
    assert_eq!(lines.len(), 5, "header, sleep, sh, ps: {out}");
}

/// Without a terminal the init and an exec'd process each lead a session
/// of their own (as runc's), so neither keeps the caller's controlling
/// terminal. Before, both stayed in the caller's session, which is
/// outside the container's pid namespace and reads as session 0.
#[test]
fn init_and_exec_lead_their_own_sessions() {
    let (code, out) = exec_script(
        "exec-session",
        "read a b c d e f r < /proc/1/stat; echo init $a $f; \
         read a b c d e f r < /proc/$$/stat; echo exec $a $f",
    );
    assert_eq!(code, "0", "{out}");
    let lines: Vec<Vec<&str>> = out.lines().map(|l| l.split(' ').collect()).collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(lines[0], ["init", "1", "1"], "{out}");
    assert_eq!(lines[1][0], "exec", "{out}");
    assert_eq!(
        lines[1][1], lines[1][2],
        "exec'd sh leads its session: {out}"
    );
}

#[test]
fn overlay_with_250_lower_layers_mounts() {
    let b = Bundle::busybox();
    let layers = b.path().join("layers-with-a-longish-directory-name");
    let mut lower = Vec::new();
    for i in (0..250).rev() {
        let dir = layers.join(format!("layer-{i:04}/diff"));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(format!("l{i}")), format!("{i}")).unwrap();
        lower.push(dir);
    }
    // The busybox tree is the bottom layer.
    lower.push(b.rootfs());
    let joined: usize = lower.iter().map(|p| p.as_os_str().len() + 1).sum();
    assert!(joined > 4096, "the test must exceed one page ({joined})");
    let (upper, work, merged) = (
        b.path().join("upper"),
        b.path().join("work"),
        b.path().join("merged"),
    );
    for d in [&upper, &work, &merged] {
        fs::create_dir_all(d).unwrap();
    }
    let ov = Overlay {
        lower,
        upper: upper.clone(),
        work,
        volatile: false,
    };
    let mut s = spec(&["sh", "-c", "cat /l0 /l249; echo up > /new"]);
    let mut root = s.root().clone().unwrap();
    root.set_path("merged".into());
    root.set_readonly(Some(false));
    s.set_root(Some(root));
    let (code, out, err) = run(&b, &s, Some(&ov)).ok();
    assert_eq!(code, 0, "stderr: {err}");
    assert_eq!(out, "0249");
    assert_eq!(fs::read_to_string(upper.join("new")).unwrap(), "up\n");
    // Mounted in the container's namespace only: the host sees an empty dir.
    assert_eq!(fs::read_dir(&merged).unwrap().count(), 0);
}

/// A cgroup2 dir under the host's unified mount, removed on drop.
struct TestCgroup(std::path::PathBuf);

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let _ = fs::remove_dir(&self.0);
    }
}

fn unified_root() -> &'static str {
    // Hybrid hosts have cgroup2 at /sys/fs/cgroup/unified, pure v2 hosts at
    // /sys/fs/cgroup.
    if std::path::Path::new("/sys/fs/cgroup/unified/cgroup.procs").exists() {
        "/sys/fs/cgroup/unified"
    } else {
        "/sys/fs/cgroup"
    }
}

#[test]
fn exec_runs_as_the_process_user_in_the_given_cgroup() {
    let b = Bundle::busybox();
    let s = spec(&["sleep", "30"]);
    let name = format!("berth-r1-exec-{}", std::process::id());
    let cg = TestCgroup(std::path::Path::new(unified_root()).join(&name));
    fs::create_dir(&cg.0).unwrap();
    let procs = vec![cg.0.join("cgroup.procs")];
    let out = b.path().join("exec-out");
    let result = b.path().join("result");
    in_child(|| {
        let o = File::create(&out).unwrap();
        let opts = init_opts("exec-user", &b, &s);
        let init = spawn_init(&opts, &mut NoHooks).unwrap();
        let mut p = s.process().clone().unwrap();
        p.set_args(Some(vec![
            "sh".into(),
            "-c".into(),
            "id -u; pwd; grep '^0::' /proc/self/cgroup".into(),
        ]));
        p.set_user(
            oci_spec::runtime::UserBuilder::default()
                .uid(1234u32)
                .gid(1234u32)
                .build()
                .unwrap(),
        );
        p.set_cwd("/tmp".into());
        let stdio = Stdio {
            stdin: None,
            stdout: Some(o.as_fd()),
            stderr: Some(o.as_fd()),
        };
        let eo = ExecOptions {
            id: "exec-user",
            init_pid: init.pid,
            process: &p,
            seccomp: None,
            cgroup_procs: &procs,
            console_socket: None,
            stdio,
        };
        let code = match spawn_exec(&eo) {
            Ok(pid) => format!("{}", wait_exit_code(pid).unwrap()),
            Err(e) => format!("err {e}"),
        };
        let mut q = p.clone();
        q.set_args(Some(vec!["no-such-tool".into()]));
        let missing = match spawn_exec(&ExecOptions {
            process: &q,
            cgroup_procs: &[],
            ..eo
        }) {
            Ok(_) => "started".to_string(),
            Err(e) => format!("{:?}: {e}", e.kind()),
        };
        let _ = kill(init.pid, Signal::SIGKILL);
        let _ = init.wait();
        fs::write(&result, format!("{code}\n{missing}")).unwrap();
        0
    });
    let result = fs::read_to_string(&result).unwrap();
    let out = fs::read_to_string(&out).unwrap();
    assert_eq!(
        result, "0\nNotFound: exec: \"no-such-tool\": executable file not found in $PATH",
        "{out}"
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1234", "{out}");
    assert_eq!(lines[1], "/tmp", "{out}");
    // Seen through the container's cgroup namespace (rooted at the init's
    // cgroup) the path is relative, but it ends in our test cgroup.
    assert!(
        lines[2].starts_with("0::/") && lines[2].ends_with(&format!("/{name}")),
        "{out}"
    );
    // No process is left in the cgroup once all is done.
    assert_eq!(fs::read_to_string(&procs[0]).unwrap(), "");
}

#[test]
fn exec_without_capabilities_gets_the_inits_not_more() {
    let b = Bundle::busybox();
    let mut s = spec(&["sleep", "30"]);
    let mut p = s.process().clone().unwrap();
    p.set_no_new_privileges(Some(true));
    s.set_process(Some(p));
    let out = b.path().join("exec-out");
    let result = b.path().join("result");
    in_child(|| {
        let o = File::create(&out).unwrap();
        let opts = init_opts("exec-caps", &b, &s);
        let init = spawn_init(&opts, &mut NoHooks).unwrap();
        let mut p = s.process().clone().unwrap();
        p.set_capabilities(None);
        p.set_no_new_privileges(None);
        p.set_args(Some(vec![
            "grep".into(),
            "-E".into(),
            "^(CapBnd|CapEff|NoNewPrivs)".into(),
            "/proc/self/status".into(),
        ]));
        let code = exec_code("exec-caps", init.pid, &p, &o);
        let _ = kill(init.pid, Signal::SIGKILL);
        let _ = init.wait();
        fs::write(&result, code).unwrap();
        0
    });
    let out = fs::read_to_string(&out).unwrap();
    assert_eq!(fs::read_to_string(&result).unwrap(), "0", "{out}");
    assert!(out.contains("CapEff:\t0000000020000420"), "{out}");
    assert!(out.contains("CapBnd:\t0000000020000420"), "{out}");
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
}

#[test]
fn exec_into_a_no_pivot_container_sees_its_root() {
    let b = Bundle::busybox();
    fs::write(b.rootfs().join("marker"), "in-rootfs").unwrap();
    let s = spec(&["sleep", "30"]);
    let out = b.path().join("exec-out");
    let result = b.path().join("result");
    in_child(|| {
        let o = File::create(&out).unwrap();
        let opts = InitOptions {
            no_pivot: true,
            ..init_opts("exec-nopivot", &b, &s)
        };
        let init = spawn_init(&opts, &mut NoHooks).unwrap();
        let mut p = s.process().clone().unwrap();
        p.set_args(Some(vec!["cat".into(), "/marker".into()]));
        let code = exec_code("exec-nopivot", init.pid, &p, &o);
        let _ = kill(init.pid, Signal::SIGKILL);
        let _ = init.wait();
        fs::write(&result, code).unwrap();
        0
    });
    let out = fs::read_to_string(&out).unwrap();
    assert_eq!(fs::read_to_string(&result).unwrap(), "0", "{out}");
    assert_eq!(out, "in-rootfs");
}

/// Execs `p` into the container of `init_pid` with stdout and stderr on
/// `out`; its exit code, or `err <error>` when the exec failed.
fn exec_code(id: &str, init_pid: nix::unistd::Pid, p: &Process, out: &File) -> String {
    let eo = ExecOptions {
        id,
        init_pid,
        process: p,
        seccomp: None,
        cgroup_procs: &[],
        console_socket: None,
        stdio: Stdio {
            stdin: None,
            stdout: Some(out.as_fd()),
            stderr: Some(out.as_fd()),
        },
    };
    match spawn_exec(&eo) {
        Ok(pid) => format!("{}", wait_exit_code(pid).unwrap()),
        Err(e) => format!("err {e}"),
    }
}

#[test]
fn volatile_overlay_mounts_again_over_its_own_marker() {
    let b = Bundle::busybox();
    let (upper, work, merged) = (
        b.path().join("upper"),
        b.path().join("work"),
        b.path().join("merged"),
    );
    for d in [&upper, &work, &merged] {
        fs::create_dir_all(d).unwrap();
    }
    let ov = Overlay {
        lower: vec![b.rootfs()],
        upper: upper.clone(),
        work: work.clone(),
        volatile: true,
    };
    let mut s = spec(&[
        "sh",
        "-c",
        "grep ' / / ' /proc/self/mountinfo; echo up >> /new",
    ]);
    let mut root = s.root().clone().unwrap();
    root.set_path("merged".into());
    root.set_readonly(Some(false));
    s.set_root(Some(root));
    let (code, out, err) = run(&b, &s, Some(&ov)).ok();
    assert_eq!(code, 0, "stderr: {err}");
    let opts = out.rsplit(' ').next().unwrap_or_default().trim();
    assert!(
        // 6.x shows it as fsync=volatile.
        opts.split(',')
            .any(|o| o == "volatile" || o == "fsync=volatile"),
        "root overlay options: {out}"
    );
    // overlayfs leaves work/work/incompat/volatile behind and refuses a
    // second mount over it; the runtime clears it first.
    assert!(work.join("work/incompat/volatile").is_dir());
    let (code, _, err) = run(&b, &s, Some(&ov)).ok();
    assert_eq!(code, 0, "second mount, stderr: {err}");
    assert_eq!(fs::read_to_string(upper.join("new")).unwrap(), "up\nup\n");
}
