//! `kill`: send a signal to the container's init (or, with `--all`, to
//! every process of its cgroup). The init is addressed through a pidfd
//! opened and then checked against the recorded start time, so a recycled
//! pid is never signalled.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::str::FromStr;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;

use super::cgroup::{is_frozen, manager};
use super::ContainerError;
use crate::state::{Record, Status, Store};

/// Parses a signal as runc does: a number, or a name with or without the
/// `SIG` prefix, in any case (`9`, `KILL`, `sigterm`).
pub fn parse_signal(s: &str) -> Result<Signal, ContainerError> {
    let bad = || ContainerError::InvalidSignal(s.to_string());
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| bad());
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    Signal::from_str(&name).map_err(|_| bad())
}

/// Sends `signal` to container `id`: to its init, or with `all` to every
/// process in its cgroup. A stopped container is refused ("container not
/// running") unless `all` is given.
pub fn kill(store: &Store, id: &str, signal: Signal, all: bool) -> Result<(), ContainerError> {
    let dir = store.open(id)?;
    let rec = dir.load()?;
    let status = dir.status(&rec, || is_frozen(&rec));
    if all {
        let cg = manager(&rec)?;
        return cg
            .kill_all(signal)
            .map_err(|source| ContainerError::Cgroup {
                id: id.to_string(),
                source,
            });
    }
    if status == Status::Stopped || !signal_init(&rec, signal)? {
        return Err(ContainerError::NotRunning);
    }
    Ok(())
}

/// A pidfd for the recorded init, or `None` if that process is gone (or
/// its pid now names another process).
pub(crate) fn init_pidfd(rec: &Record) -> Result<Option<OwnedFd>, ContainerError> {
    if rec.pid <= 0 {
        return Ok(None);
    }
    // SAFETY: pidfd_open(2) takes a pid and flags and returns a new fd or
    // -1; no memory is passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, rec.pid, 0) };
    if fd < 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ESRCH) {
            return Ok(None);
        }
        return Err(ContainerError::sys(format!("pidfd_open {}", rec.pid), e));
    }
    // SAFETY: the syscall returned a fresh fd that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    // Checked after opening: if the pid had been recycled before the open,
    // the start time differs; after the open the pidfd pins this process.
    Ok(rec.init_alive().then_some(fd))
}

/// Signals the init through a pidfd; `Ok(false)` if it is gone.
pub(crate) fn signal_init(rec: &Record, signal: Signal) -> Result<bool, ContainerError> {
    let Some(fd) = init_pidfd(rec)? else {
        return Ok(false);
    };
    // SAFETY: pidfd_send_signal(2) with a valid pidfd, a signal number, a
    // null siginfo (the kernel fills it as for kill(2)) and no flags.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            signal as i32,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if r < 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ESRCH) {
            return Ok(false);
        }
        return Err(ContainerError::sys(
            format!("signal {signal} to container {} (pid {})", rec.id, rec.pid),
            e,
        ));
    }
    Ok(true)
}

/// Waits until the init has exited (a pidfd turns readable at exit, even
/// for a process that is not our child), at most `limit`. True if gone.
pub(crate) fn wait_init_gone(rec: &Record, limit: Duration) -> Result<bool, ContainerError> {
    let Some(fd) = init_pidfd(rec)? else {
        return Ok(true);
    };
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = left.as_millis().min(u16::MAX as u128) as u16;
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(n) if n > 0 => return Ok(true),
            Ok(_) if left.is_zero() => return Ok(false),
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(ContainerError::sys("poll pidfd", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_number_and_prefix() {
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("KILL").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("SIGTERM").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("hup").unwrap(), Signal::SIGHUP);
        for bad in ["FOO", "0x9", "99", ""] {
            let e = parse_signal(bad).unwrap_err();
            assert_eq!(e.to_string(), format!("invalid signal: {bad}"));
        }
    }
}
