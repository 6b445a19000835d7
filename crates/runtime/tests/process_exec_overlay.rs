//! Exec into a running container, and the engine's overlay root with more
//! lower layers than fit in one page of mount options.

#[path = "process_common.rs"]
mod common;

use std::fs::{self, File};
use std::os::fd::AsFd;

use common::{in_child, run, spec, Bundle};
use nix::sys::signal::{kill, Signal};
use runtime::spawn::wait_exit_code;
use runtime::{spawn_exec, spawn_init, ExecOptions, InitOptions, NoHooks, Overlay, Stdio};

#[test]
fn exec_sees_the_containers_hostname_and_pids() {
    let b = Bundle::busybox();
    let s = spec(&["sleep", "30"]);
    let out = b.path().join("exec-out");
    let result = b.path().join("result");
    in_child(|| {
        let o = File::create(&out).unwrap();
        let opts = InitOptions {
            id: "exec-test",
            spec: &s,
            bundle: b.path(),
            overlay: None,
            console_socket: None,
            no_pivot: false,
            exec_fifo: None,
            stdio: Stdio::default(),
        };
        let init = spawn_init(&opts, &mut NoHooks).unwrap();
        let mut p = s.process().clone().unwrap();
        p.set_args(Some(vec![
            "sh".into(),
            "-c".into(),
            "hostname; ps -o pid,args; exit 7".into(),
        ]));
        let eo = ExecOptions {
            id: "exec-test",
            init_pid: init.pid,
            process: &p,
            seccomp: None,
            cgroup_procs: &[],
            console_socket: None,
            stdio: Stdio {
                stdin: None,
                stdout: Some(o.as_fd()),
                stderr: Some(o.as_fd()),
            },
        };
        let text = match spawn_exec(&eo) {
            Ok(pid) => format!("{}", wait_exit_code(pid).unwrap()),
            Err(e) => format!("err {e}"),
        };
        let _ = kill(init.pid, Signal::SIGKILL);
        let _ = init.wait();
        fs::write(&result, text).unwrap();
        0
    });
    let code = fs::read_to_string(&result).unwrap();
    let out = fs::read_to_string(&out).unwrap();
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
