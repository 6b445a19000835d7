//! The init's sync points as `create`/`start` use them: the exec fifo, the
//! console socket, joining another container's namespace, user namespaces.

#[path = "process_common.rs"]
mod common;

use std::fs::{self, File};
use std::io::{IoSliceMut, Read};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;

use common::{in_child, run, spec, with_user_namespace, Bundle};
use nix::sys::signal::{kill, Signal};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use oci_spec::runtime::{LinuxNamespaceBuilder, LinuxNamespaceType};
use runtime::spawn::wait_exit_code;
use runtime::{spawn_exec, spawn_init, ExecOptions, InitOptions, NoHooks, Stdio};

fn opts<'a>(b: &'a Bundle, s: &'a oci_spec::runtime::Spec) -> InitOptions<'a> {
    common::init_opts("sync-test", b, s)
}

#[test]
fn exec_fifo_holds_the_process_until_opened() {
    let b = Bundle::busybox();
    let fifo = b.path().join("exec.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let out = b.path().join("out");
    let result = b.path().join("result");
    let s = spec(&["echo", "started"]);
    in_child(|| {
        let o = File::create(&out).unwrap();
        let mut io = opts(&b, &s);
        io.exec_fifo = Some(&fifo);
        io.stdio = Stdio {
            stdin: None,
            stdout: Some(o.as_fd()),
            stderr: None,
        };
        let init = spawn_init(&io, &mut NoHooks).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        let before = fs::read_to_string(&out).unwrap();
        // `start`: open the fifo for reading, take runc's one byte.
        let mut byte = Vec::new();
        File::open(&fifo).unwrap().read_to_end(&mut byte).unwrap();
        let code = init.wait().unwrap();
        let after = fs::read_to_string(&out).unwrap();
        fs::write(&result, format!("{before:?} {byte:?} {code} {after:?}")).unwrap();
        0
    });
    assert_eq!(
        fs::read_to_string(&result).unwrap(),
        "\"\" [0] 0 \"started\\n\""
    );
}

/// Accepts the runtime's connection, takes the pty master it sends and
/// reads it until the slave side is closed (EIO on a pty master).
fn read_console(listener: &UnixListener) -> Vec<u8> {
    let (conn, _) = listener.accept().unwrap();
    let mut name = [0u8; 64];
    let mut iov = [IoSliceMut::new(&mut name)];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        std::os::fd::AsRawFd::as_raw_fd(&conn),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::empty(),
    )
    .unwrap();
    let mut master = None;
    for c in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY: the fd was just received and is owned by nobody else.
            master = Some(unsafe { OwnedFd::from_raw_fd(fds[0]) });
        }
    }
    let mut master = File::from(master.expect("no fd in console message"));
    let mut text = Vec::new();
    let mut buf = [0u8; 256];
    while let Ok(n) = master.read(&mut buf) {
        if n == 0 {
            break;
        }
        text.extend_from_slice(&buf[..n]);
    }
    text
}

#[test]
fn exec_with_a_terminal() {
    let b = Bundle::busybox();
    let sock = b.path().join("console.sock");
    let result = b.path().join("result");
    let s = spec(&["sleep", "30"]);
    in_child(|| {
        let listener = UnixListener::bind(&sock).unwrap();
        let init = spawn_init(&opts(&b, &s), &mut NoHooks).unwrap();
        let mut p = s.process().clone().unwrap();
        p.set_terminal(Some(true));
        p.set_args(Some(vec!["sh".into(), "-c".into(), "tty; hostname".into()]));
        let eo = ExecOptions {
            id: "exec-tty",
            init_pid: init.pid,
            process: &p,
            seccomp: None,
            cgroup_procs: &[],
            console_socket: Some(&sock),
            stdio: Stdio::default(),
        };
        let pid = spawn_exec(&eo).unwrap();
        let text = read_console(&listener);
        let code = wait_exit_code(pid).unwrap();
        let _ = kill(init.pid, Signal::SIGKILL);
        let _ = init.wait();
        fs::write(
            &result,
            format!("{code} {}", String::from_utf8_lossy(&text)),
        )
        .unwrap();
        0
    });
    let text = fs::read_to_string(&result).unwrap();
    assert_eq!(text, "0 /dev/pts/0\r\nbox\r\n");
}

#[test]
fn terminal_master_is_sent_over_the_console_socket() {
    let b = Bundle::busybox();
    let sock = b.path().join("console.sock");
    let result = b.path().join("result");
    let mut s = spec(&["sh", "-c", "tty; echo hi"]);
    let mut p = s.process().clone().unwrap();
    p.set_terminal(Some(true));
    s.set_process(Some(p));
    in_child(|| {
        let listener = UnixListener::bind(&sock).unwrap();
        let mut io = opts(&b, &s);
        io.console_socket = Some(&sock);
        let init = spawn_init(&io, &mut NoHooks).unwrap();
        let text = read_console(&listener);
        let code = init.wait().unwrap();
        fs::write(
            &result,
            format!("{code} {}", String::from_utf8_lossy(&text)),
        )
        .unwrap();
        0
    });
    let text = fs::read_to_string(&result).unwrap();
    assert!(text.starts_with("0 /dev/pts/0\r\nhi\r\n"), "{text:?}");
}

#[test]
fn joining_another_containers_uts_namespace() {
    let b = Bundle::busybox();
    let result = b.path().join("result");
    let first = spec(&["sleep", "30"]);
    let out = b.path().join("out");
    in_child(|| {
        let holder = spawn_init(&opts(&b, &first), &mut NoHooks).unwrap();
        let mut s = spec(&["hostname"]);
        s.set_hostname(None);
        let mut linux = s.linux().clone().unwrap();
        let mut ns = linux.namespaces().clone().unwrap();
        ns.retain(|n| n.typ() != LinuxNamespaceType::Uts);
        ns.push(
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::Uts)
                .path(format!("/proc/{}/ns/uts", holder.pid))
                .build()
                .unwrap(),
        );
        linux.set_namespaces(Some(ns));
        s.set_linux(Some(linux));
        let o = File::create(&out).unwrap();
        let mut io = opts(&b, &s);
        io.stdio = Stdio {
            stdin: None,
            stdout: Some(o.as_fd()),
            stderr: Some(o.as_fd()),
        };
        let text = match spawn_init(&io, &mut NoHooks) {
            Ok(init) => format!("{}", init.wait().unwrap()),
            Err(e) => format!("err {e}"),
        };
        let _ = kill(holder.pid, Signal::SIGKILL);
        let _ = holder.wait();
        fs::write(&result, text).unwrap();
        0
    });
    let out = fs::read_to_string(&out).unwrap();
    assert_eq!(fs::read_to_string(&result).unwrap(), "0", "{out}");
    assert_eq!(out, "box\n");
}

#[test]
fn user_namespace_maps_root() {
    let b = Bundle::busybox();
    let s = with_user_namespace(spec(&["sh", "-c", "id -u; cat /proc/self/uid_map"]));
    let (code, out, err) = run(&b, &s, None).ok();
    assert_eq!(code, 0, "stderr: {err}");
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l[0], "0");
    assert_eq!(
        l[1].split_whitespace().collect::<Vec<_>>(),
        ["0", "100000", "65536"]
    );
}

#[test]
fn time_namespace_with_boottime_offset() {
    let b = Bundle::busybox();
    let mut s = spec(&["sh", "-c", "cut -d. -f1 /proc/uptime"]);
    let mut linux = s.linux().clone().unwrap();
    let mut ns = linux.namespaces().clone().unwrap();
    ns.push(
        LinuxNamespaceBuilder::default()
            .typ(LinuxNamespaceType::Time)
            .build()
            .unwrap(),
    );
    linux.set_namespaces(Some(ns));
    let offsets: std::collections::HashMap<String, oci_spec::runtime::LinuxTimeOffset> =
        serde_json::from_value(serde_json::json!({"boottime": {"secs": 864000}})).unwrap();
    linux.set_time_offsets(Some(offsets));
    s.set_linux(Some(linux));
    let host: u64 = fs::read_to_string("/proc/uptime")
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let (code, out, err) = run(&b, &s, None).ok();
    assert_eq!(code, 0, "stderr: {err}");
    let inside: u64 = out.trim().parse().unwrap();
    assert!(
        inside >= host + 864000 && inside < host + 864000 + 60,
        "{inside} vs host {host}"
    );
}
