//! A foreground `run --rm` container seen from other processes: `stop`,
//! `rm -f` and `wait` succeed as Docker's although the foreground CLI
//! deletes the row itself (without writing Exited first); and `cp` both
//! ways works on a container whose work dir kept the marker of a
//! `volatile` overlay mount (a `--rm` run whose CLI was killed).

mod containers_support;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use containers_support::{Env, Run, IMAGE};

/// A call's code and output, for assertion messages.
fn show(r: &Run) -> String {
    format!("exit {}: {}{}", r.code, r.stdout, r.stderr)
}

/// The foreground `berth run`, killed and reaped on drop.
struct Foreground(Child);

impl Drop for Foreground {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `run --rm --name race IMAGE args…` in the background and waits
/// until the container runs.
fn start_foreground(env: &Env, args: &[&str]) -> Foreground {
    let mut argv = vec!["run", "--rm", "--name", "race", IMAGE];
    argv.extend_from_slice(args);
    let child = env
        .cmd(&argv)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let fg = Foreground(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = env.berth(&["inspect", "-f", "{{.State.Status}}", "race"]);
        if r.stdout.trim() == "running" {
            return fg;
        }
        assert!(Instant::now() < deadline, "never running: {}", show(&r));
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The foreground run's own exit code, and that the row is gone.
fn finish(env: &Env, mut fg: Foreground) -> i32 {
    let code = fg.0.wait().unwrap().code().unwrap_or(-1);
    let r = env.berth(&["ps", "-aq"]);
    assert_eq!(r.stdout.trim(), "", "--rm container left: {}", show(&r));
    code
}

#[test]
fn stop_rm_and_wait_of_a_foreground_rm_container() {
    let env = Env::new();

    // busybox sleep as pid 1 ignores SIGTERM: the kill after 1 s ends it.
    let fg = start_foreground(&env, &["sleep", "30"]);
    let r = env.berth(&["stop", "-t", "1", "race"]);
    assert_eq!((r.code, r.stdout.trim()), (0, "race"), "stop: {}", show(&r));
    assert_eq!(finish(&env, fg), 137);

    let fg = start_foreground(&env, &["sleep", "30"]);
    let r = env.berth(&["rm", "-f", "race"]);
    assert_eq!(
        (r.code, r.stdout.trim()),
        (0, "race"),
        "rm -f: {}",
        show(&r)
    );
    assert_eq!(finish(&env, fg), 137);

    let fg = start_foreground(&env, &["sh", "-c", "sleep 1; exit 3"]);
    let r = env.berth(&["wait", "race"]);
    assert_eq!(r.code, 0, "wait: {}", show(&r));
    // The code kept by the removal's commit.
    assert_eq!(r.stdout.trim(), "3", "wait printed {}", show(&r));
    assert_eq!(finish(&env, fg), 3);
}

#[test]
fn cp_both_ways_despite_a_volatile_marker() {
    let env = Env::new();
    // A `--rm` container, as only those are mounted volatile.
    let id = env.ok(&["create", "--rm", "--name", "vol", IMAGE, "true"]);
    let work = env.root().join("containers").join(id.trim()).join("work");
    // What overlayfs leaves in the work dir of a volatile mount never
    // unmounted cleanly (overlayfs.rst, "Volatile mount").
    let marker = work.join("work/incompat/volatile");
    std::fs::create_dir_all(&marker).unwrap();

    let src = env.dir.path().join("from-host");
    std::fs::write(&src, "hello\n").unwrap();
    env.ok(&["cp", src.to_str().unwrap(), "vol:/from-host"]);
    assert!(!marker.exists(), "marker left after a writable mount");

    // Out of a read-only mount, which needs no clearing: marker again.
    std::fs::create_dir_all(&marker).unwrap();
    let back = env.dir.path().join("back");
    env.ok(&["cp", "vol:/from-host", back.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "hello\n");
    assert!(marker.exists(), "a copy out touched the work dir");
    env.ok(&[
        "export",
        "-o",
        env.dir.path().join("x.tar").to_str().unwrap(),
        "vol",
    ]);

    // And it still starts (its runtime mount clears the marker too).
    env.ok(&["start", "-a", "vol"]);
    assert_eq!(env.ok(&["ps", "-aq"]).trim(), "", "--rm container left");
}

/// A detached `run -d --rm` container: `wait` prints its real exit code
/// although the monitor removes it right after recording the exit (a
/// waiter polling every few ms often sees only the row vanish).
#[test]
fn wait_on_a_detached_rm_container_prints_its_code() {
    let env = Env::new();
    for _ in 0..4 {
        let r = env.berth(&["run", "-d", "--rm", IMAGE, "sh", "-c", "sleep 0.3; exit 3"]);
        assert_eq!(r.code, 0, "run -d: {}", show(&r));
        let id = r.stdout.trim().to_string();
        let w = env.berth(&["wait", &id]);
        assert_eq!((w.code, w.stdout.trim()), (0, "3"), "wait: {}", show(&w));
    }
}

/// `berth run … | head -1`: once the reader is gone the container gets
/// EPIPE/SIGPIPE as in a host pipeline, so `yes` ends and the run returns
/// (it kept draining `yes` into the log forever).
#[test]
fn a_run_whose_reader_goes_away_ends() {
    let env = Env::new();
    let mut child = env
        .cmd(&["run", "--rm", IMAGE, "yes"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut first = [0u8; 2];
    std::io::Read::read_exact(&mut out, &mut first).unwrap();
    assert_eq!(&first, b"y\n");
    drop(out);
    let fg = Foreground(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut fg = fg;
    loop {
        if fg.0.try_wait().unwrap().is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "berth run | head never ended");
        std::thread::sleep(Duration::from_millis(50));
    }
    let ps = env.berth(&["ps", "-aq"]);
    assert_eq!(ps.stdout.trim(), "", "--rm container left: {}", show(&ps));
}
