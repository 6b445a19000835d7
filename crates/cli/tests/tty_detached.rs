//! `run -d -t` and `start` of a `create -t` container: the detached
//! monitor gives the container a pty and logs its stream (one `stdout`
//! stream with the terminal's `\r\n`), as Docker does.

mod containers_support;

use std::time::{Duration, Instant};

use containers_support::{Env, IMAGE};

/// Polls `logs` until it holds `needle` (10 s at most); returns the log.
fn wait_for_log(env: &Env, name: &str, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = env.berth(&["logs", name]);
        if r.stdout.contains(needle) || Instant::now() > deadline {
            return r.stdout + &r.stderr;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn detached_tty_containers_run_on_a_pty_and_are_logged() {
    let env = Env::new();
    env.ok(&[
        "run",
        "-d",
        "-t",
        "--name",
        "dt",
        IMAGE,
        "sh",
        "-c",
        "tty; echo out; echo err >&2; sleep 1000",
    ]);
    let log = wait_for_log(&env, "dt", "err\r\n");
    // stderr goes to the same pty: one stream, in order.
    assert!(log.starts_with("/dev/pts/"), "{log:?}");
    assert!(log.ends_with("\r\nout\r\nerr\r\n"), "{log:?}");
    let stderr_only = env.berth(&["logs", "dt"]).stderr;
    assert_eq!(stderr_only, "");
    assert_eq!(
        env.inspect("dt", "{{.Config.Tty}} {{.State.Status}}"),
        "true running"
    );

    env.ok(&["create", "-t", "--name", "later", IMAGE, "sh", "-c", "tty"]);
    env.ok(&["start", "later"]);
    assert_eq!(env.wait_status("later", "exited"), "exited 0");
    assert!(env.ok(&["logs", "later"]).starts_with("/dev/pts/"));
}
