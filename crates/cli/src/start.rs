//! What std's runtime start-up did for `fn main` that berth relies on, done
//! here for the C `main` in `main.rs`, without the rest (see there why).

use std::fs::OpenOptions;
use std::os::fd::{AsRawFd, IntoRawFd};

use nix::sys::signal::{signal, SigHandler, Signal};

/// Makes the process as std's start-up leaves it for `fn main`:
/// - fds 0, 1 and 2 are open (a closed one gets `/dev/null`), so that no
///   file berth opens later takes the number of stdout and receives its
///   output;
/// - SIGPIPE is ignored: a write to a closed pipe fails with EPIPE, which
///   the foreground relay and the printers handle, instead of killing
///   berth (the runtime resets it to the default for the container).
pub fn init() {
    reopen_closed_stdio();
    // SAFETY: SIG_IGN installs no handler code, and no other thread runs
    // yet that could race on the disposition.
    if let Err(e) = unsafe { signal(Signal::SIGPIPE, SigHandler::SigIgn) } {
        eprintln!("berth: cannot ignore SIGPIPE: {e}");
        std::process::abort();
    }
}

/// Points each closed standard fd at `/dev/null`, as std does (one
/// `poll`: a closed fd reports POLLNVAL). Raw `libc::poll`, because nix's
/// takes borrowed fds, which a closed number is not.
fn reopen_closed_stdio() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    // SAFETY: `fds` is a valid array of three pollfd for the duration of
    // the call; a timeout of 0 returns at once.
    if unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) } < 0 {
        // std aborts too: without stdio berth cannot report anything.
        std::process::abort();
    }
    for p in fds {
        if p.revents & libc::POLLNVAL != 0 {
            // The lowest free number is the closed one, so open() takes it.
            match OpenOptions::new().read(true).write(true).open("/dev/null") {
                Ok(f) if f.as_raw_fd() == p.fd => {
                    let _ = f.into_raw_fd();
                }
                _ => std::process::abort(),
            }
        }
    }
}
