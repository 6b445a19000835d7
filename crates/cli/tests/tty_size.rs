//! `-t` relays the terminal size, as Docker's CLI does: `berth` runs on
//! the slave of a pty pair the test opens (as its controlling terminal, so
//! the kernel sends it SIGWINCH when the test resizes the master), and the
//! container's `stty size` must print the size the test set — at start for
//! `run -t`, `start -a` and `exec -t`, and after a resize for `run -it`.

mod containers_support;

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use containers_support::{Env, IMAGE};
use nix::pty::{openpty, Winsize};

fn winsize(rows: u16, cols: u16) -> Winsize {
    Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

/// A `berth` process on a pty's slave, with everything it prints
/// collected from the master by a thread. Drop kills it if still running.
struct OnPty {
    child: Child,
    master: File,
    output: Arc<Mutex<Vec<u8>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl OnPty {
    fn spawn(env: &Env, rows: u16, cols: u16, args: &[&str]) -> OnPty {
        let pty = openpty(Some(&winsize(rows, cols)), None).unwrap();
        let slave: OwnedFd = pty.slave;
        let mut cmd = env.cmd(args);
        cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave.try_clone().unwrap()));
        // SAFETY: setsid(2) and ioctl(2) are async-signal-safe; the closure
        // touches no memory shared with the parent.
        unsafe {
            cmd.pre_exec(|| {
                // Own session with the pty as controlling terminal: resizing
                // the master then signals berth, as a terminal emulator does.
                if nix::libc::setsid() < 0 || nix::libc::ioctl(0, nix::libc::TIOCSCTTY as _, 0) < 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap();
        // Only berth holds the slave now: the master reads EIO when it exits.
        drop(slave);
        let master = File::from(pty.master);
        let output = Arc::new(Mutex::new(Vec::new()));
        let mut from = master.try_clone().unwrap();
        let sink = output.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = from.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        OnPty {
            child,
            master,
            output,
            reader: Some(reader),
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// Waits up to 20 s for `needle` in the output, running `poke` between
    /// looks; fails the test with the output otherwise.
    fn expect(&mut self, needle: &str, mut poke: impl FnMut(&mut File)) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.text().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in the pty output: {:?}",
                self.text()
            );
            poke(&mut self.master);
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn resize(&self, rows: u16, cols: u16) {
        let ws = winsize(rows, cols);
        // SAFETY: TIOCSWINSZ reads the winsize we own; the fd is our master.
        let rc = unsafe { nix::libc::ioctl(self.master.as_raw_fd(), nix::libc::TIOCSWINSZ, &ws) };
        assert_eq!(rc, 0, "TIOCSWINSZ: {}", std::io::Error::last_os_error());
    }

    /// Waits for berth to exit (20 s at most) and returns its exit code and
    /// everything it printed.
    fn finish(mut self) -> (i32, String) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let code = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < deadline,
                "berth did not exit: {:?}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        if let Some(r) = self.reader.take() {
            r.join().unwrap();
        }
        (code, self.text())
    }
}

impl Drop for OnPty {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
fn run_t_starts_with_the_terminal_size() {
    let env = Env::new();
    let p = OnPty::spawn(&env, 37, 91, &["run", "--rm", "-t", IMAGE, "stty", "size"]);
    let (code, out) = p.finish();
    assert_eq!(code, 0, "{out:?}");
    assert_eq!(out.trim(), "37 91");
}

#[test]
fn run_it_follows_every_resize() {
    let env = Env::new();
    let mut p = OnPty::spawn(
        &env,
        24,
        80,
        &[
            "run",
            "--rm",
            "-i",
            "-t",
            IMAGE,
            "sh",
            "-c",
            "stty size; while read x; do stty size; done",
        ],
    );
    p.expect("24 80", |_| {});
    // Each Enter makes the container print its current size: the new one
    // must show up once berth has relayed the SIGWINCH.
    p.resize(50, 132);
    p.expect("50 132", |m| m.write_all(b"\r").unwrap());
    p.resize(10, 40);
    p.expect("10 40", |m| m.write_all(b"\r").unwrap());
    // ^D through the raw relay is EOF for the container's cooked pty.
    p.master.write_all(b"\x04").unwrap();
    let (code, out) = p.finish();
    assert_eq!(code, 0, "{out:?}");
}

#[test]
fn start_a_takes_the_terminal_size() {
    let env = Env::new();
    env.ok(&["create", "-t", "--name", "sized", IMAGE, "stty", "size"]);
    let p = OnPty::spawn(&env, 41, 101, &["start", "-a", "sized"]);
    let (code, out) = p.finish();
    assert_eq!(code, 0, "{out:?}");
    assert_eq!(out.trim(), "41 101");
}

#[test]
fn exec_t_takes_the_terminal_size() {
    let env = Env::new();
    env.ok(&["run", "-d", "--name", "idle", IMAGE, "sleep", "1000"]);
    let p = OnPty::spawn(&env, 23, 77, &["exec", "-t", "idle", "stty", "size"]);
    let (code, out) = p.finish();
    assert_eq!(code, 0, "{out:?}");
    assert_eq!(out.trim(), "23 77");
}

/// With a terminal, `/dev/console` is the container's pty (the runtime
/// spec's MUST, and what Docker shows): the same device as stdin.
#[test]
fn run_t_binds_the_pty_over_dev_console() {
    let env = Env::new();
    let p = OnPty::spawn(
        &env,
        24,
        80,
        &[
            "run",
            "--rm",
            "-t",
            IMAGE,
            "stat",
            "-L",
            "-c",
            "%t:%T",
            "/dev/console",
            "/dev/stdin",
        ],
    );
    let (code, out) = p.finish();
    assert_eq!(code, 0, "{out:?}");
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert_eq!(lines.len(), 2, "{out:?}");
    assert_eq!(lines[0], lines[1], "{out:?}");
}
