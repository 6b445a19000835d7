//! A foreground run's stdio, as Docker's (root): stdout and stderr are
//! pipes the CLI relays and logs to the json-file log, stdin is a pipe fed
//! from the CLI's with `-i`, a non-tty container never sees the CLI's
//! terminal; plus `run -it` without a terminal and `create`'s attach flags.

mod containers_support;

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::process::Stdio;
use std::time::{Duration, Instant};

use containers_support::{Env, IMAGE};

/// The (stream, line) entries of a container's json-file log.
fn log_entries(env: &Env, name: &str) -> Vec<(String, String)> {
    let id = env.inspect(name, "{{.Id}}");
    let path = env.root().join("containers").join(id).join("ctr.log");
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert!(v["time"].as_str().unwrap().ends_with('Z'), "{l}");
            let s = |k: &str| v[k].as_str().unwrap().to_string();
            (s("stream"), s("log"))
        })
        .collect()
}

#[test]
fn foreground_output_is_relayed_and_logged_per_stream() {
    let env = Env::new();
    let r = env.berth(&[
        "run",
        "--name",
        "fg-logs",
        IMAGE,
        "sh",
        "-c",
        "echo out1; echo err1 >&2; echo out2; exit 3",
    ]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_eq!(r.stdout, "out1\nout2\n");
    assert_eq!(r.stderr, "err1\n");
    let logs = env.berth(&["logs", "fg-logs"]);
    assert_eq!(logs.stdout, "out1\nout2\n");
    assert_eq!(logs.stderr, "err1\n");
    let entries = log_entries(&env, "fg-logs");
    let want = [
        ("stdout", "out1\n"),
        ("stderr", "err1\n"),
        ("stdout", "out2\n"),
    ];
    for (stream, line) in want {
        assert!(
            entries.iter().any(|(s, l)| s == stream && l == line),
            "{entries:?}"
        );
    }
    assert_eq!(entries.len(), 3, "{entries:?}");
    // `start -a` appends to the same log.
    let r = env.berth(&["start", "-a", "fg-logs"]);
    assert_eq!(r.code, 3);
    assert_eq!(r.stdout, "out1\nout2\n");
    assert_eq!(log_entries(&env, "fg-logs").len(), 6);
}

#[test]
fn logs_of_a_running_foreground_container() {
    let env = Env::new();
    let mut child = env
        .cmd(&[
            "run",
            "--name",
            "fg-live",
            IMAGE,
            "sh",
            "-c",
            "echo early; sleep 30",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = env.berth(&["logs", "fg-live"]);
        if r.stdout == "early\n" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "logs never showed it: {r:?}",
            r = r.stdout
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    env.ok(&["kill", "fg-live"]);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(137));
}

#[test]
fn non_tty_container_does_not_see_the_cli_terminal() {
    let env = Env::new();
    let pty = nix::pty::openpty(None, None).unwrap();
    let slave: OwnedFd = pty.slave;
    let mut child = env
        .cmd(&[
            "run",
            "--rm",
            IMAGE,
            "sh",
            "-c",
            "[ -t 1 ] && echo tty1; [ -t 2 ] && echo tty2; echo done",
        ])
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave.try_clone().unwrap()))
        .spawn()
        .unwrap();
    drop(slave);
    let mut master = File::from(pty.master);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    // EIO once berth, the only slave holder, has exited.
    while let Ok(n) = master.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    assert!(child.wait().unwrap().success());
    let out = String::from_utf8_lossy(&out);
    assert!(out.contains("done"), "{out}");
    assert!(!out.contains("tty"), "{out}");
}

#[test]
fn stdin_is_relayed_with_i_and_closed_at_eof() {
    let env = Env::new();
    // 1 MB both ways at once: the relay must feed cat while draining it.
    let input: Vec<u8> = (0..1_000_000u32)
        .map(|i| b"0123456789abcdef\n"[(i % 17) as usize])
        .collect();
    let mut child = env
        .cmd(&["run", "-i", "--rm", IMAGE, "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feed = input.clone();
    let writer = std::thread::spawn(move || {
        stdin.write_all(&feed).unwrap();
        // Dropping it is the EOF that must end cat.
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout == input, "{} bytes back", out.stdout.len());

    // Without -i the container reads /dev/null.
    let mut child = env
        .cmd(&["run", "--rm", IMAGE, "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"ignored\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
}

#[test]
fn large_output_arrives_complete_and_rm_leaves_nothing() {
    let env = Env::new();
    let line = "0123456789".repeat(10);
    let script = format!("yes {line} | head -c 10000000; echo tail >&2");
    let out = env
        .cmd(&["run", "--rm", IMAGE, "sh", "-c", &script])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout.len(), 10_000_000);
    assert!(out.stdout.starts_with(format!("{line}\n").as_bytes()));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "tail\n");
    // --rm: no container, and the moved-aside tree goes shortly after.
    assert_eq!(env.ok(&["ps", "-aq"]), "");
    let containers = env.root().join("containers");
    assert_eq!(std::fs::read_dir(&containers).unwrap().count(), 0);
    let tmp = env.root().join("tmp");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_dir(&tmp).map_or(0, |d| d.count()) != 0 {
        assert!(Instant::now() < deadline, "tmp/ never emptied");
        std::thread::sleep(Duration::from_millis(20));
    }

    // The same output kept: the log holds all of it, line by line.
    let script = format!("yes {line} | head -n 20000");
    let out = env
        .cmd(&["run", "--name", "fg-big", IMAGE, "sh", "-c", &script])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout.len(), 20000 * 101);
    let logs = env.cmd(&["logs", "fg-big"]).output().unwrap();
    assert!(logs.stdout == out.stdout);
}

#[test]
fn it_without_a_terminal_fails_as_docker() {
    let env = Env::new();
    for args in [
        &["run", "-it", "--rm", IMAGE, "true"][..],
        &["run", "-i", "-t", "--name", "fg-it", IMAGE, "true"][..],
    ] {
        let r = env.berth(args);
        assert_eq!(r.code, 1, "{args:?}");
        assert_eq!(r.stderr, "the input device is not a TTY\n");
    }
    // Checked before anything is created, as Docker's CLI does.
    assert_eq!(env.ok(&["ps", "-aq"]), "");
    // -t alone, or -it detached, need no terminal on stdin.
    assert_eq!(env.berth(&["run", "-t", "--rm", IMAGE, "true"]).code, 0);
    // Docker's `start -ai` of a -t container does not check (and runs).
    env.ok(&["create", "-it", "--name", "fg-it2", IMAGE, "true"]);
    assert_eq!(env.berth(&["start", "-a", "-i", "fg-it2"]).code, 0);
}

#[test]
fn create_records_stdout_and_stderr_attached() {
    let env = Env::new();
    env.ok(&["create", "--name", "fg-att", IMAGE, "true"]);
    let t = "{{.Config.AttachStdin}} {{.Config.AttachStdout}} {{.Config.AttachStderr}}";
    assert_eq!(env.inspect("fg-att", t), "false true true");
    env.ok(&["create", "-i", "--name", "fg-att-i", IMAGE, "true"]);
    assert_eq!(env.inspect("fg-att-i", t), "true true true");
    env.ok(&["run", "-d", "--name", "fg-att-d", IMAGE, "true"]);
    assert_eq!(env.inspect("fg-att-d", t), "false false false");
}

#[test]
fn tty_foreground_output_is_logged_as_docker() {
    let env = Env::new();
    let r = env.berth(&["run", "-t", "--name", "fg-tty", IMAGE, "echo", "ttyout"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "ttyout\r\n");
    // One stdout stream, lines as the terminal wrote them (docker 20.10).
    let entries = log_entries(&env, "fg-tty");
    assert_eq!(
        entries,
        vec![("stdout".to_string(), "ttyout\r\n".to_string())]
    );
    assert_eq!(env.ok(&["logs", "fg-tty"]), "ttyout\r\n");
}

#[test]
fn inspect_mode_of_volumes_is_dockers() {
    let env = Env::new();
    env.ok(&[
        "create",
        "--name",
        "fg-modes",
        "-v",
        "fgvol1:/a",
        "-v",
        "fgvol2:/b:ro",
        "-v",
        "/c",
        "--mount",
        "type=volume,src=fgvol3,dst=/d,readonly",
        IMAGE,
        "true",
    ]);
    let t = "{{range .Mounts}}{{.Destination}}={{.Mode}} {{end}}";
    let got = env.inspect("fg-modes", t);
    // As dockerd 20.10 printed for the same flags.
    let mut got: Vec<&str> = got.split(' ').collect();
    got.sort();
    assert_eq!(got, ["/a=z", "/b=ro", "/c=", "/d=z"]);
    env.ok(&["rm", "-v", "fg-modes"]);
    for v in ["fgvol1", "fgvol2", "fgvol3"] {
        env.ok(&["volume", "rm", v]);
    }
}
