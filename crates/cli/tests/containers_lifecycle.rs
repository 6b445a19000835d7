//! The detached lifecycle with its monitor: `run -d`, `ps`, `logs`,
//! `exec`, `top`, `stop` (with the timeout when SIGTERM is ignored),
//! `kill`, `pause`, `rename`, `rm`; 50 concurrent containers; bad input.

mod containers_support;

use std::time::{Duration, Instant};

use containers_support::{cgroup_dirs, process_alive, Env, IMAGE};

#[test]
fn detached_container_lifecycle() {
    let env = Env::new();
    let id = env
        .ok(&[
            "run",
            "-d",
            "--name",
            "web",
            "--stop-timeout",
            "1",
            IMAGE,
            "sh",
            "-c",
            "echo hello; echo oops >&2; trap '' TERM; while true; do sleep 1; done",
        ])
        .trim()
        .to_string();
    assert_eq!(id.len(), 64);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));

    let ps = env.ok(&["ps"]);
    let header = ps.lines().next().unwrap();
    for col in [
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ] {
        assert!(header.contains(col), "{header}");
    }
    assert!(
        ps.contains(&id[..12]) && ps.contains(" web") && ps.contains("Up "),
        "{ps}"
    );
    assert_eq!(env.ok(&["ps", "-q", "--no-trunc"]).trim(), id);
    assert_eq!(
        env.ok(&["ps", "--format", "{{.Names}} {{.ID}}"]).trim(),
        format!("web {}", &id[..12])
    );
    assert_eq!(
        env.ok(&["ps", "-a", "-f", "name=web", "-q"]).trim(),
        &id[..12]
    );
    assert_eq!(
        env.ok(&["ps", "-a", "-f", "status=exited", "-q"]).trim(),
        ""
    );

    // Logs: both streams, in the json-file log.
    std::thread::sleep(Duration::from_millis(200));
    let r = env.berth(&["logs", "web"]);
    assert_eq!(
        (r.stdout.as_str(), r.stderr.as_str()),
        ("hello\n", "oops\n")
    );
    let log =
        std::fs::read_to_string(env.root().join("containers").join(&id).join("ctr.log")).unwrap();
    assert!(
        log.lines()
            .next()
            .unwrap()
            .starts_with("{\"log\":\"hello\\n\",\"stream\":\"stdout\",\"time\":\""),
        "{log}"
    );

    // exec joins the namespaces; its exit code is its own.
    let ps = env.ok(&["exec", "web", "ps", "-o", "pid,comm"]);
    assert!(
        ps.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["1", "sh"]),
        "{ps}"
    );
    assert_eq!(
        env.berth(&["exec", "-e", "X=5", "web", "sh", "-c", "exit $X"])
            .code,
        5
    );
    assert_eq!(
        env.ok(&[
            "exec",
            "-w",
            "/tmp",
            "-u",
            "nobody",
            "web",
            "sh",
            "-c",
            "pwd; id -u"
        ]),
        "/tmp\n65534\n"
    );

    // top lists the container's processes from the host's view.
    let top = env.ok(&["top", "web"]);
    assert!(top.lines().next().unwrap().contains("PID"));
    assert!(top.contains("sh -c echo hello"), "{top}");

    // pause / unpause / rename.
    env.ok(&["pause", "web"]);
    assert!(env.ok(&["ps"]).contains("(Paused)"));
    env.ok(&["unpause", "web"]);
    env.ok(&["rename", "web", "web2"]);
    assert_eq!(env.inspect(&id[..8], "{{.Name}}"), "/web2");

    // inspect in Docker's shape.
    let doc: serde_json::Value =
        serde_json::from_str(&env.ok(&["container", "inspect", "web2"])).unwrap();
    let d = &doc[0];
    assert_eq!(d["Id"], id.as_str());
    assert_eq!(d["State"]["Status"], "running");
    assert_eq!(d["Path"], "sh");
    assert!(d["GraphDriver"]["Data"]["UpperDir"]
        .as_str()
        .unwrap()
        .ends_with("/upper"));
    assert_eq!(d["Config"]["StopTimeout"], 1);
    let pid: i32 = d["State"]["Pid"].as_i64().unwrap() as i32;

    // stop: SIGTERM is ignored, so it takes the 1 s timeout, then SIGKILL.
    let t = Instant::now();
    env.ok(&["stop", "web2"]);
    assert!(t.elapsed() >= Duration::from_secs(1), "{:?}", t.elapsed());
    assert_eq!(env.wait_status(&id, "exited"), "exited 137");
    assert!(!process_alive(pid));
    assert!(env.ok(&["ps", "-a"]).contains("Exited (137)"));
    assert_eq!(env.ok(&["wait", &id]).trim(), "137");

    // start again, kill -s, rm.
    env.ok(&["start", "web2"]);
    assert_eq!(env.wait_status(&id, "running"), "running 0");
    // PID 1 ignores signals it does not handle, so SIGKILL (from outside
    // the namespace) is the one that ends it.
    env.ok(&["kill", "-s", "SIGKILL", "web2"]);
    assert_eq!(env.wait_status(&id, "exited"), "exited 137");
    env.ok(&["rm", "web2"]);
    assert!(!env.root().join("containers").join(&id).exists());
    assert!(cgroup_dirs(&id).iter().all(|d| !d.exists()));
    assert!(env.monitors().is_empty());
}

#[test]
fn rm_on_exit_detached() {
    let env = Env::new();
    let id = env
        .ok(&["run", "-d", "--rm", IMAGE, "true"])
        .trim()
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    while env.berth(&["container", "inspect", &id]).code == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_ne!(env.berth(&["container", "inspect", &id]).code, 0);
    assert!(!env.root().join("containers").join(&id).exists());
}

#[test]
fn fifty_concurrent_detached_runs() {
    let env = Env::new();
    let children: Vec<_> = (0..50)
        .map(|_| {
            env.cmd(&["run", "-d", IMAGE, "sleep", "1000"])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut ids: Vec<String> = children
        .into_iter()
        .map(|c| {
            let o = c.wait_with_output().unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            String::from_utf8(o.stdout).unwrap().trim().to_string()
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 50);
    let names = env.ok(&["ps", "--format", "{{.Names}}"]);
    let mut names: Vec<&str> = names.lines().collect();
    assert_eq!(names.len(), 50);
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 50, "names must be unique");
    assert_eq!(env.monitors().len(), 50);

    // A clash is Docker's conflict error.
    let taken = names[0];
    let r = env.berth(&["run", "-d", "--name", taken, IMAGE, "true"]);
    assert_eq!(r.code, 125);
    assert!(
        r.stderr.contains(&format!(
            "Conflict. The container name \"/{taken}\" is already in use by container"
        )),
        "{}",
        r.stderr
    );

    let mut args = vec!["rm", "-f"];
    args.extend(ids.iter().map(String::as_str));
    env.ok(&args);
    assert_eq!(env.ok(&["ps", "-aq"]), "");
    for id in &ids {
        assert!(cgroup_dirs(id).iter().all(|d| !d.exists()));
    }
}

#[test]
fn bad_input_is_one_clear_line() {
    let env = Env::new();
    let check = |args: &[&str], needle: &str| {
        let r = env.berth(args);
        assert_ne!(r.code, 0, "{args:?} succeeded");
        assert!(r.stderr.contains(needle), "{args:?}: {}", r.stderr);
        r
    };
    let r = check(&["run", "--rm", "nosuchimage", "true"], "nosuchimage");
    assert_eq!((r.code, r.stderr.lines().count()), (125, 1));
    let r = check(&["run", "--bogus-flag", IMAGE], "--bogus-flag");
    assert_eq!(r.code, 125);
    let r = check(
        &["run", "-e", "=x", IMAGE, "true"],
        "invalid argument \"=x\" for \"-e, --env\" flag: invalid environment variable: =x",
    );
    assert_eq!(r.stderr.lines().count(), 1);
    check(
        &["run", "-m", "lots", IMAGE, "true"],
        "invalid argument \"lots\" for \"-m, --memory\" flag: invalid size: 'lots'",
    );
    check(&["start", "nosuch"], "No such container: nosuch");
    let id = env
        .ok(&["run", "-d", "--name", "busy", IMAGE, "sleep", "1000"])
        .trim()
        .to_string();
    let r = check(
        &["rm", "busy"],
        "cannot remove container \"/busy\": container is running",
    );
    assert_eq!(r.stderr.lines().count(), 1);
    env.ok(&["rm", "-f", "busy"]);
    assert!(!env.root().join("containers").join(&id).exists());
    env.ok(&["create", "--name", "stopped", IMAGE, "true"]);
    check(&["exec", "stopped", "true"], "is not running");
    check(&["kill", "stopped"], "is not running");
    assert_eq!(env.ok(&["ps", "-aq"]).lines().count(), 1);
}

#[test]
fn logs_follow_tail_and_restart() {
    let env = Env::new();
    let id = env
        .ok(&[
            "run",
            "-d",
            IMAGE,
            "sh",
            "-c",
            "echo a; echo b; sleep 1; echo c",
        ])
        .trim()
        .to_string();
    // -f returns once the container has exited, with everything it wrote.
    let t = Instant::now();
    assert_eq!(env.ok(&["logs", "-f", &id]), "a\nb\nc\n");
    assert!(
        t.elapsed() >= Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(env.ok(&["logs", "--tail", "1", &id]), "c\n");
    let stamped = env.ok(&["logs", "-t", "--tail", "1", &id]);
    assert!(
        stamped.ends_with("Z c\n") && stamped.starts_with("20"),
        "{stamped}"
    );
    assert_eq!(env.wait_status(&id, "exited"), "exited 0");

    // {{json .}} is one object per container with Docker's keys.
    let json: serde_json::Value =
        serde_json::from_str(env.ok(&["ps", "-a", "--format", "{{json .}}"]).trim()).unwrap();
    assert_eq!(json["State"], "exited");
    assert!(json["Status"].as_str().unwrap().starts_with("Exited (0)"));

    // restart runs it again under a new monitor: the log grows.
    env.ok(&["restart", &id]);
    assert_eq!(env.ok(&["wait", &id]).trim(), "0");
    assert_eq!(env.ok(&["logs", &id]), "a\nb\nc\na\nb\nc\n");
    env.ok(&["container", "prune", "-f"]);
    assert_eq!(env.ok(&["ps", "-aq"]), "");
}
