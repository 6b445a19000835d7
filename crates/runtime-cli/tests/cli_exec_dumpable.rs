//! An exec'd process is non-dumpable from before it joins the container's
//! namespaces until its `execve`: in that window it still holds the
//! runtime's fds (close-on-exec only), and a container process must not
//! reach them through `/proc/PID/fd`. strace holds the exec'd process at
//! its `execve` so the window is wide enough to look into.

mod common;

use std::process::{Command, Stdio};

use common::{stderr, Env, BIN};

/// The scan run inside the container: finds a process still running the
/// runtime's binary (the held exec) and says whether any of its fds can be
/// followed (the fd directory itself stays listable). The needle is
/// assembled so this script's own cmdline lacks it.
const SCAN: &str = r#"n=berth; n="$n-runtime"
for i in $(seq 1 150); do
  for p in /proc/[0-9]*; do
    [ "${p#/proc/}" = "$$" ] && continue
    c=$(tr '\0' ' ' < $p/cmdline 2>/dev/null)
    case "$c" in *"$n"*)
      v=hidden
      for f in $p/fd/*; do readlink $f >/dev/null 2>&1 && v=visible; done
      echo $v
      exit 0;;
    esac
  done
  sleep 0.1
done
echo none"#;

#[test]
fn exec_process_fds_are_hidden_until_execve() {
    let mut env = Env::new("dumpable", &["sleep", "60"]);
    let id = "dumpable";
    let (ok, err) = env.create(id, &[]);
    assert!(ok, "create: {err}");
    let out = env.run(&["start", id]);
    assert!(out.status.success(), "start: {}", stderr(&out));
    env.wait_status(id, "running");

    // Every execve under strace waits 2 s at entry: the runtime's own,
    // then the exec'd process's, which is then in the container's pid
    // namespace with the runtime's fds still open.
    let mut held = Command::new("strace")
        .args(["-f", "-qq", "-o", "/dev/null", "-e", "trace=execve"])
        .args(["-e", "inject=execve:delay_enter=2000000", BIN, "--root"])
        .arg(&env.root)
        .args(["exec", id, "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("strace (Debian package strace)");
    let scan = env.run(&["exec", id, "sh", "-c", SCAN]);
    let _ = held.wait();
    assert!(scan.status.success(), "scan: {}", stderr(&scan));
    assert_eq!(
        String::from_utf8_lossy(&scan.stdout).trim(),
        "hidden",
        "{}",
        stderr(&scan)
    );
}
