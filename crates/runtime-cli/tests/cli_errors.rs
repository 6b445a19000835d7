//! Bad input to `berth-runtime`: each case fails with one clear line on
//! stderr and exit status 1, and leaves no state dir, process or cgroup.
//! Runs as root (privileged tests, never skipped).

mod common;

use std::fs;

use common::{assert_one_line_error, stderr, Env};
use serde_json::Value;

fn create_out(env: &Env, id: &str) -> std::process::Output {
    env.cmd()
        .args(["create", "--bundle"])
        .arg(&env.bundle)
        .arg(id)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn missing_config_json() {
    let env = Env::new("noconfig", &["true"]);
    fs::remove_file(env.bundle.join("config.json")).unwrap();
    let out = create_out(&env, "c");
    assert_one_line_error(&out, "config.json: JSON specification file not found");
    assert!(!env.root.join("c").exists());
}

#[test]
fn malformed_config_json() {
    let env = Env::new("badjson", &["true"]);
    fs::write(env.bundle.join("config.json"), "{\"ociVersion\": ").unwrap();
    let out = create_out(&env, "c");
    assert_one_line_error(&out, "config.json: invalid runtime spec");
    assert!(!env.root.join("c").exists());
}

#[test]
fn missing_rootfs() {
    let env = Env::new("norootfs", &["true"]);
    fs::remove_dir_all(env.bundle.join("rootfs")).unwrap();
    let out = create_out(&env, "c");
    assert_one_line_error(&out, "rootfs");
    assert!(stderr(&out).contains("does not exist"));
    env.assert_clean("c");
}

#[test]
fn unknown_namespace_type() {
    let env = Env::new("badns", &["true"]);
    env.edit_config(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "bogus"}));
    });
    let out = create_out(&env, "c");
    assert_one_line_error(&out, "unknown variant `bogus`");
    env.assert_clean("c");
}

#[test]
fn invalid_id_and_signal() {
    let env = Env::new("badid", &["true"]);
    let out = create_out(&env, "a/b");
    assert_one_line_error(&out, "invalid container ID format");
    let out = env.run(&["kill", "nosuch", "NOSIG"]);
    assert_one_line_error(&out, "invalid signal: NOSIG");
    let out = env.run(&["delete", "nosuch"]);
    assert_one_line_error(&out, "container nosuch does not exist");
}

#[test]
fn duplicate_id_start_twice_delete_running() {
    let mut env = Env::new("dup", &["sleep", "1000"]);
    let id = "dup";
    let (ok, err) = env.create(id, &[]);
    assert!(ok, "create: {err}");
    let out = create_out(&env, id);
    assert_one_line_error(&out, "container with id exists: dup");
    // The first one is untouched.
    assert_eq!(env.state(id)["status"], "created");

    assert!(env.run(&["start", id]).status.success());
    let out = env.run(&["start", id]);
    assert_one_line_error(&out, "cannot start an already running container");

    let out = env.run(&["delete", id]);
    assert_one_line_error(
        &out,
        "cannot delete container dup that is not stopped: running",
    );
    assert_eq!(env.state(id)["status"], "running");

    assert!(env.run(&["kill", id, "9"]).status.success());
    env.wait_status(id, "stopped");
    let out = env.run(&["start", id]);
    assert_one_line_error(&out, "cannot start a container that has stopped");
    let out = env.run(&["kill", id, "KILL"]);
    assert_one_line_error(&out, "container not running");
    assert!(env.run(&["delete", id]).status.success());
    env.assert_clean(id);
}

#[test]
fn command_not_found_fails_create_and_cleans_up() {
    let env = Env::new("notfound", &["/no/such/cmd"]);
    let out = env
        .cmd()
        .args(["run", "--bundle"])
        .arg(&env.bundle)
        .arg("nf")
        .output()
        .unwrap();
    assert_one_line_error(&out, "/no/such/cmd");
    env.assert_clean("nf");
}

#[test]
fn json_log_gets_the_error_line() {
    let env = Env::new("jsonlog", &["true"]);
    let log = env.tmp.path().join("log.json");
    let out = env
        .cmd()
        .arg("--log")
        .arg(&log)
        .args(["--log-format", "json", "state", "ghost"])
        .output()
        .unwrap();
    assert_one_line_error(&out, "container ghost does not exist");
    let text = fs::read_to_string(&log).unwrap();
    let line: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(line["level"], "error");
    assert_eq!(line["msg"], "container ghost does not exist");
    assert!(line["time"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn delete_removes_the_dir_of_an_interrupted_create() {
    // What a create killed between reserving the id and saving the record
    // leaves: the id's directory with a lock file and no state.json.
    let mut env = Env::new("aborted", &["true"]);
    let dir = env.root.join("aborted");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("lock"), "").unwrap();
    let (ok, err) = env.create("aborted", &[]);
    assert!(!ok, "the id is taken");
    assert!(err.contains("exists"), "{err}");

    let out = env.run(&["delete", "aborted"]);
    assert!(!out.status.success(), "runc: not found without --force");
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
    assert!(!dir.exists(), "the aborted create's dir is removed");

    // --force: a success, as runc (containerd deletes with --force).
    fs::create_dir_all(&dir).unwrap();
    let out = env.run(&["delete", "--force", "aborted"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!dir.exists());
    let out = env.run(&["delete", "--force", "never-was"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (ok, err) = env.create("aborted", &[]);
    assert!(ok, "the id is usable again: {err}");
}

/// Clears the immutable attribute even when an assertion fails, so the
/// temp dir and the container can be removed.
struct Immutable(std::path::PathBuf);

impl Immutable {
    fn set(path: &std::path::Path) -> Immutable {
        let st = std::process::Command::new("chattr")
            .arg("+i")
            .arg(path)
            .status()
            .unwrap();
        assert!(st.success(), "chattr +i {}", path.display());
        Immutable(path.to_path_buf())
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let st = std::process::Command::new("chattr")
            .arg("-i")
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(st.success(), "chattr -i {}", self.0.display());
    }
}

#[test]
fn start_reports_an_exec_fifo_it_cannot_remove() {
    let mut env = Env::new("fifo", &["sleep", "30"]);
    let (ok, err) = env.create("fifo", &[]);
    assert!(ok, "{err}");
    // An immutable state dir: the fifo in it cannot be unlinked.
    let guard = Immutable::set(&env.root.join("fifo"));
    let out = env.run(&["start", "fifo"]);
    drop(guard);
    assert!(!out.status.success(), "a fifo left behind is an error");
    assert!(
        stderr(&out).contains("remove exec fifo"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn exec_preserve_fds_is_refused_not_ignored() {
    let env = Env::new("pfds", &["true"]);
    let out = env.run(&["exec", "--preserve-fds", "2", "pfds", "true"]);
    assert_one_line_error(&out, "--preserve-fds 2: exec does not pass extra fds");
    env.assert_clean("pfds");
}
