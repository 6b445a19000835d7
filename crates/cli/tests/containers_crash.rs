//! Crash consistency: a SIGKILLed monitor or foreground CLI leaves records
//! that the next command reports truthfully, and `rm -f` cleans up every
//! process, cgroup and directory.

mod containers_support;

use std::time::{Duration, Instant};

use containers_support::{cgroup_dirs, kill9, process_alive, Env, IMAGE};

fn init_pid(env: &Env, id: &str) -> i32 {
    env.inspect(id, "{{.State.Pid}}").parse().unwrap()
}

#[test]
fn killed_monitor_then_init_exit_is_reported_exited() {
    let env = Env::new();
    let id = env
        .ok(&["run", "-d", IMAGE, "sleep", "1000"])
        .trim()
        .to_string();
    let monitors = env.monitors();
    assert_eq!(monitors.len(), 1);
    let pid = init_pid(&env, &id);
    kill9(monitors[0]);
    // The init still runs: it is reported running, truthfully.
    assert_eq!(env.wait_status(&id, "running"), "running 0");
    assert!(process_alive(pid));
    // It dies with nobody to witness it: exited, code unknown (255).
    kill9(pid);
    assert_eq!(env.wait_status(&id, "exited"), "exited 255");
    assert!(env.ok(&["ps", "-a"]).contains("Exited (255)"));
    env.ok(&["rm", &id]);
    assert!(cgroup_dirs(&id).iter().all(|d| !d.exists()));
}

#[test]
fn killed_monitor_rm_f_cleans_up() {
    let env = Env::new();
    let id = env
        .ok(&["run", "-d", IMAGE, "sleep", "1000"])
        .trim()
        .to_string();
    let pid = init_pid(&env, &id);
    for m in env.monitors() {
        kill9(m);
    }
    env.ok(&["rm", "-f", &id]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while process_alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!process_alive(pid));
    assert!(cgroup_dirs(&id).iter().all(|d| !d.exists()));
    assert!(!env.root().join("containers").join(&id).exists());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&env.root().display().to_string()));
}

#[test]
fn killed_foreground_cli_is_reconciled() {
    let env = Env::new();
    let mut cli = env
        .cmd(&["run", "--name", "fg", IMAGE, "sleep", "1000"])
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while env
        .berth(&["ps", "-q", "-f", "name=fg"])
        .stdout
        .trim()
        .is_empty()
    {
        assert!(Instant::now() < deadline, "container never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = init_pid(&env, "fg");
    cli.kill().unwrap();
    cli.wait().unwrap();
    // The CLI is gone, the init lives on: still running, truthfully.
    assert!(env.ok(&["ps"]).contains(" fg"));
    kill9(pid);
    assert_eq!(env.wait_status("fg", "exited"), "exited 255");
    // And it can be started again, under a monitor this time.
    env.ok(&["start", "fg"]);
    assert_eq!(env.wait_status("fg", "running"), "running 0");
    let id = env.inspect("fg", "{{.Id}}");
    env.ok(&["rm", "-f", "fg"]);
    assert!(cgroup_dirs(&id).iter().all(|d| !d.exists()));
}
