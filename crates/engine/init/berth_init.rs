//! berth-init: the tiny PID 1 of `run --init` (Docker uses tini). It runs
//! the command after `--` as its child, forwards every catchable signal to
//! it, reaps every orphan re-parented to it, and exits with the child's
//! status (128 + signal if killed).
//!
//! Built by the engine's build script as a standalone static executable
//! (`-C target-feature=+crt-static`): it must run in any image, with no
//! libc of its own. It uses only std plus four libc calls, declared here
//! because no crate is available to a bare `rustc` build.

use std::process::{exit, Command};
use std::sync::atomic::{AtomicI32, Ordering};

extern "C" {
    fn signal(signum: i32, handler: usize) -> usize;
    fn kill(pid: i32, sig: i32) -> i32;
    fn waitpid(pid: i32, status: *mut i32, options: i32) -> i32;
    fn __errno_location() -> *mut i32;
}

const EINTR: i32 = 4;
const SIGKILL: i32 = 9;
const SIGCHLD: i32 = 17;
const SIGSTOP: i32 = 19;

/// The child signals are forwarded to.
static CHILD: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: i32) {
    let pid = CHILD.load(Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill(2) is async-signal-safe.
        unsafe {
            kill(pid, sig);
        }
    }
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--") {
        args.remove(0);
    }
    if args.is_empty() {
        eprintln!("berth-init: usage: berth-init -- COMMAND [ARG...]");
        exit(2);
    }
    for sig in 1..32 {
        if sig != SIGKILL && sig != SIGSTOP && sig != SIGCHLD {
            // SAFETY: installs a handler that only reads an atomic and
            // calls kill(2); exec resets it in the child.
            unsafe {
                signal(sig, forward as *const () as usize);
            }
        }
    }
    let child = match Command::new(&args[0]).args(&args[1..]).spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("berth-init: exec {:?}: {e}", args[0]);
            exit(if e.kind() == std::io::ErrorKind::NotFound { 127 } else { 126 });
        }
    };
    let pid = child.id() as i32;
    CHILD.store(pid, Ordering::Relaxed);
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes the status into our local.
        let reaped = unsafe { waitpid(-1, &mut status, 0) };
        if reaped < 0 {
            // SAFETY: errno is thread-local and always valid to read.
            if unsafe { *__errno_location() } == EINTR {
                continue;
            }
            exit(0);
        }
        if reaped == pid {
            let code = if status & 0x7f == 0 { (status >> 8) & 0xff } else { 128 + (status & 0x7f) };
            exit(code);
        }
    }
}
