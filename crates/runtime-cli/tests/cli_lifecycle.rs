//! Drives `berth-runtime` as containerd and podman do: `create` with a pid
//! file and a console socket (the pty master arrives over SCM_RIGHTS),
//! `state`, `start`, talk to the shell through the pty, `kill`, `delete`.
//! Also `run` in the foreground, `exec`, `ps`, `list`, `pause`/`resume`.
//! Runs as root (privileged tests, never skipped).

mod common;

use std::fs::{self, File};
use std::io::{IoSliceMut, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

use common::{assert_one_line_error, stderr, Env};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use serde_json::Value;

/// Accepts one connection on `listener` and returns the fd it carries.
fn receive_pty_master(listener: UnixListener) -> OwnedFd {
    let (conn, _) = listener.accept().expect("accept console socket");
    let mut buf = [0u8; 4096];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        std::os::fd::AsRawFd::as_raw_fd(&conn),
        &mut iov,
        Some(&mut space),
        MsgFlags::empty(),
    )
    .expect("recvmsg");
    for c in msg.cmsgs().expect("cmsgs") {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY: the kernel just installed this fd for us via
            // SCM_RIGHTS; nothing else owns it.
            return unsafe { OwnedFd::from_raw_fd(fds[0]) };
        }
    }
    panic!("no fd received over the console socket");
}

/// Reads from the pty until `want` shows up (or 10 s pass).
fn read_until(pty: &mut File, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = String::new();
    let fd = std::os::fd::AsFd::as_fd(pty);
    let mut buf = [0u8; 1024];
    while Instant::now() < deadline {
        let mut fds = [nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLIN)];
        if nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(200u16)).unwrap_or(0) == 0 {
            continue;
        }
        match nix::unistd::read(fd, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
        if seen.contains(want) {
            return;
        }
    }
    panic!("{want:?} never appeared on the pty; got {seen:?}");
}

#[test]
fn containerd_style_lifecycle_with_console_socket() {
    let mut env = Env::new("lifecycle", &["sh"]);
    env.edit_config(|c| c["process"]["terminal"] = Value::Bool(true));
    let id = "lifecycle";
    let sock = env.tmp.path().join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let receiver = std::thread::spawn(move || receive_pty_master(listener));
    let pid_file = env.tmp.path().join("init.pid");
    let (ok, err) = env.create(
        id,
        &[
            "--pid-file",
            pid_file.to_str().unwrap(),
            "--console-socket",
            sock.to_str().unwrap(),
        ],
    );
    assert!(ok, "create failed: {err}");
    let master = receiver.join().expect("console receiver");
    let mut pty = File::from(master);

    let st = env.state(id);
    assert_eq!(st["status"], "created");
    assert_eq!(st["id"], id);
    assert_eq!(st["bundle"], env.bundle.display().to_string());
    let pid: i64 = fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(st["pid"], pid);

    let out = env.run(&["start", id]);
    assert!(out.status.success(), "start: {}", stderr(&out));
    assert_eq!(env.state(id)["status"], "running");

    // The shell reads the pty: compute something only it would print.
    // The pty echoes the typed line, so only the shell's expansion matches.
    pty.write_all(b"echo marker-$((6*7)) $(hostname)\n")
        .unwrap();
    read_until(&mut pty, "marker-42 berth");

    // `list` shows it running, `ps` shows the init.
    let out = env.run(&["list", "--format", "json"]);
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == id && c["status"] == "running"));
    let out = env.run(&["ps", "--format", "json", id]);
    let pids: Vec<i64> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(pids.contains(&pid), "{pids:?} lacks {pid}");

    let out = env.run(&["kill", id, "KILL"]);
    assert!(out.status.success(), "kill: {}", stderr(&out));
    env.wait_status(id, "stopped");
    assert_eq!(env.state(id)["pid"], 0);

    let out = env.run(&["delete", id]);
    assert!(out.status.success(), "delete: {}", stderr(&out));
    let out = env.run(&["state", id]);
    assert_one_line_error(&out, &format!("container {id} does not exist"));
    env.assert_clean(id);
}

#[test]
fn run_in_foreground_returns_the_exit_status_and_cleans_up() {
    let env = Env::new(
        "run",
        &["sh", "-c", "echo out-$((2+3)); echo err >&2; exit 7"],
    );
    let out = env
        .cmd()
        .args(["run", "--bundle"])
        .arg(&env.bundle)
        .arg("fg")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "stderr: {}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out-5\n");
    assert_eq!(stderr(&out), "err\n");
    env.assert_clean("fg");
}

#[test]
fn exec_ps_pause_resume_and_forced_delete() {
    let mut env = Env::new("exec", &["sleep", "1000"]);
    let id = "execme";
    let (ok, err) = env.create(id, &[]);
    assert!(ok, "create: {err}");
    assert!(env.run(&["start", id]).status.success());
    env.wait_status(id, "running");

    let out = env.run(&[
        "exec",
        "--env",
        "GREETING=hey",
        id,
        "sh",
        "-c",
        "echo $GREETING; exit 4",
    ]);
    assert_eq!(out.status.code(), Some(4), "exec: {}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hey\n");

    // Table `ps` has the header and the init line.
    let out = env.run(&["ps", id]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().next().unwrap().contains("PID"), "{text}");
    assert!(text.contains("sleep 1000"), "{text}");

    assert!(env.run(&["pause", id]).status.success());
    assert_eq!(env.state(id)["status"], "paused");
    assert!(env.run(&["resume", id]).status.success());
    assert_eq!(env.state(id)["status"], "running");

    // SIGTERM is ignored by a pid-1 `sleep`; SIGKILL via --all is not.
    let pid = env.state(id)["pid"].as_i64().unwrap();
    let out = env.run(&["delete", "--force", id]);
    assert!(out.status.success(), "delete -f: {}", stderr(&out));
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}/cmdline")).exists()
            || fs::read(format!("/proc/{pid}/cmdline")).unwrap().is_empty()
    );
    env.assert_clean(id);
}

#[test]
fn hooks_run_at_their_points_with_the_state_on_stdin() {
    let mut env = Env::new("hooks", &["sleep", "1000"]);
    let out = env.tmp.path().join("hooks");
    fs::create_dir(&out).unwrap();
    let hook = |name: &str| {
        // Each hook saves its stdin (the state JSON) and notes the moment.
        let script = format!(
            "cat > {0}/{name}.json; echo {name} >> {0}/order",
            out.display()
        );
        serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", script]})
    };
    env.edit_config(|c| {
        c["hooks"] = serde_json::json!({
            "prestart": [hook("prestart")],
            "createRuntime": [hook("createRuntime")],
            // In the container's namespaces: its hostname, not the host's.
            "createContainer": [{"path": "/bin/sh", "args": ["sh", "-c",
                format!("hostname > {}/createContainer.host", out.display())]}],
            "poststart": [hook("poststart")],
            "poststop": [hook("poststop")],
        });
    });
    let id = "hooked";
    let (ok, err) = env.create(id, &[]);
    assert!(ok, "create: {err}");
    let order = || fs::read_to_string(out.join("order")).unwrap_or_default();
    assert_eq!(order(), "prestart\ncreateRuntime\n");
    let host = fs::read_to_string(out.join("createContainer.host")).unwrap();
    assert_eq!(
        host, "berth\n",
        "createContainer ran outside the UTS namespace"
    );
    let st: Value =
        serde_json::from_slice(&fs::read(out.join("createRuntime.json")).unwrap()).unwrap();
    assert_eq!(st["id"], id);
    assert_eq!(st["status"], "creating");
    assert_eq!(st["pid"], env.state(id)["pid"]);
    assert_eq!(st["bundle"], env.bundle.display().to_string());

    assert!(env.run(&["start", id]).status.success());
    assert_eq!(order(), "prestart\ncreateRuntime\npoststart\n");
    let st: Value = serde_json::from_slice(&fs::read(out.join("poststart.json")).unwrap()).unwrap();
    assert_eq!(st["status"], "running");

    assert!(env.run(&["delete", "--force", id]).status.success());
    assert_eq!(order(), "prestart\ncreateRuntime\npoststart\npoststop\n");
    let st: Value = serde_json::from_slice(&fs::read(out.join("poststop.json")).unwrap()).unwrap();
    assert_eq!(st["status"], "stopped");
    env.assert_clean(id);
}

#[test]
fn failing_create_runtime_hook_fails_create_and_cleans_up() {
    let env = Env::new("badhook", &["true"]);
    env.edit_config(|c| {
        c["hooks"] = serde_json::json!({
            "createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 5"]}],
        });
    });
    let out = env
        .cmd()
        .args(["run", "--bundle"])
        .arg(&env.bundle)
        .arg("bh")
        .output()
        .unwrap();
    common::assert_one_line_error(&out, "createRuntime hook /bin/sh failed: exit status: 5");
    env.assert_clean("bh");
}

#[test]
fn foreground_run_relays_a_terminal_without_console_socket() {
    let env = Env::new("runtty", &["sh"]);
    env.edit_config(|c| c["process"]["terminal"] = Value::Bool(true));
    let mut child = env
        .cmd()
        .args(["run", "--bundle"])
        .arg(&env.bundle)
        .arg("tty")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"tty; echo hi-$((3*4)); exit 3\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(3),
        "stdout {text:?}, stderr {}",
        stderr(&out)
    );
    assert!(text.contains("/dev/pts/0"), "{text:?}");
    assert!(text.contains("hi-12"), "{text:?}");
    env.assert_clean("tty");
}

#[test]
fn foreground_run_forwards_signals() {
    // The shell is pid 1 of its namespace, so only a trapped signal
    // reaches it: exit 42 proves SIGTERM was forwarded.
    let env = Env::new(
        "sigfwd",
        &[
            "sh",
            "-c",
            "trap 'exit 42' TERM; echo ready; while :; do sleep 0.1; done",
        ],
    );
    let mut child = env
        .cmd()
        .args(["run", "--bundle"])
        .arg(&env.bundle)
        .arg("sig")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    assert_eq!(line, "ready\n");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(42));
    env.assert_clean("sig");
}

#[test]
fn concurrent_creates_of_one_id_make_one_container() {
    let mut env = Env::new("race", &["sleep", "1000"]);
    env.track("race");
    // stderr to files: the winner's init inherits it and lives on, so a
    // pipe would never reach EOF.
    let errs: Vec<_> = (0..6)
        .map(|i| env.tmp.path().join(format!("race-{i}.err")))
        .collect();
    let children: Vec<_> = errs
        .iter()
        .map(|e| {
            env.cmd()
                .args(["create", "--bundle"])
                .arg(&env.bundle)
                .arg("race")
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(File::create(e).unwrap())
                .spawn()
                .unwrap()
        })
        .collect();
    let oks: Vec<bool> = children
        .into_iter()
        .map(|mut c| c.wait().unwrap().success())
        .collect();
    assert_eq!(
        oks.iter().filter(|ok| **ok).count(),
        1,
        "exactly one create wins"
    );
    for (ok, e) in oks.iter().zip(&errs) {
        let text = fs::read_to_string(e).unwrap();
        if !ok {
            assert!(text.contains("container with id exists: race"), "{text}");
        }
    }
    assert_eq!(env.state("race")["status"], "created");
    assert!(env.run(&["delete", "race"]).status.success());
    env.assert_clean("race");
}

#[test]
fn exec_with_a_process_file() {
    let mut env = Env::new("execproc", &["sleep", "1000"]);
    let id = "ep";
    let (ok, err) = env.create(id, &[]);
    assert!(ok, "create: {err}");
    assert!(env.run(&["start", id]).status.success());
    let proc_file = env.tmp.path().join("process.json");
    fs::write(
        &proc_file,
        serde_json::to_vec(&serde_json::json!({
            "user": {"uid": 65534, "gid": 65534},
            "args": ["sh", "-c", "id -u; pwd; echo $ONLY"],
            "env": ["PATH=/bin", "ONLY=this"],
            "cwd": "/tmp"
        }))
        .unwrap(),
    )
    .unwrap();
    let out = env.run(&["exec", "--process", proc_file.to_str().unwrap(), id]);
    assert!(out.status.success(), "exec: {}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "65534\n/tmp\nthis\n");
    let out = env.run(&["exec", "--process", "/nonexistent.json", id]);
    common::assert_one_line_error(&out, "/nonexistent.json");
    assert!(env.run(&["delete", "--force", id]).status.success());
    env.assert_clean(id);
}

#[test]
fn update_changes_the_pids_limit() {
    let mut env = Env::new("update", &["sleep", "1000"]);
    let id = "upd";
    let (ok, err) = env.create(id, &[]);
    assert!(ok, "create: {err}");
    assert!(env.run(&["start", id]).status.success());
    let out = env.run(&["update", "--pids-limit", "77", id]);
    assert!(out.status.success(), "update: {}", stderr(&out));
    let m = cgroups::Manager::new(Some(&env.cgroups_path()), id).unwrap();
    let limits: Vec<String> = m
        .dirs()
        .iter()
        .filter_map(|d| fs::read_to_string(d.join("pids.max")).ok())
        .collect();
    assert!(!limits.is_empty(), "no pids controller in {:?}", m.dirs());
    assert!(limits.iter().all(|l| l.trim() == "77"), "{limits:?}");
    assert!(env.run(&["delete", "--force", id]).status.success());
    let out = env.run(&["update", "--pids-limit", "5", id]);
    common::assert_one_line_error(&out, "does not exist");
    env.assert_clean(id);
}
