//! `process.terminal`: a pty allocated inside the container (its own
//! devpts), the slave as controlling terminal and stdio, the master sent to
//! the caller over `--console-socket` with SCM_RIGHTS (runc's protocol: one
//! message, the fd, with the pty's name as payload).

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, IntoRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use nix::fcntl::{open, OFlag};
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use nix::sys::stat::Mode;
use nix::unistd::setsid;
use oci_spec::runtime::Process;

use crate::error::{ChildError, Context};
use crate::rootfs::safe::Create;

/// Connects to the console socket (parent side, before the root switch
/// hides the host path). The child inherits the fd.
pub(crate) fn connect(path: &Path) -> std::io::Result<OwnedFd> {
    Ok(UnixStream::connect(path)?.into())
}

nix::ioctl_write_int_bad!(tiocsctty, libc::TIOCSCTTY);
nix::ioctl_write_ptr_bad!(tiocswinsz, libc::TIOCSWINSZ, libc::winsize);

/// Child side: allocate the pty, send the master, make the slave our
/// controlling terminal and fds 0-2; for the init (`console`), also bind
/// the slave over `/dev/console`, as the runtime spec requires.
pub(crate) fn setup(socket: &OwnedFd, process: &Process, console: bool) -> Result<(), ChildError> {
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .ctx(|| "open /dev/ptmx".into())?;
    grantpt(&master).ctx(|| "grantpt".into())?;
    unlockpt(&master).ctx(|| "unlockpt".into())?;
    let name = ptsname_r(&master).ctx(|| "ptsname".into())?;
    let slave = open(
        Path::new(&name),
        OFlag::O_RDWR | OFlag::O_NOCTTY,
        Mode::empty(),
    )
    .ctx(|| format!("open pty slave {name}"))?;
    if console {
        bind_console(&name)?;
    }
    if let Some(size) = process.console_size() {
        let ws = libc::winsize {
            ws_row: size.height() as u16,
            ws_col: size.width() as u16,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads one winsize from the valid pointer.
        unsafe { tiocswinsz(slave.as_raw_fd(), &ws) }.ctx(|| "set console size".into())?;
    }
    let fds = [master.as_raw_fd()];
    let iov = [IoSlice::new(name.as_bytes())];
    sendmsg::<()>(
        socket.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .ctx(|| "send pty master over console socket".into())?;
    drop(master);
    setsid().ctx(|| "setsid".into())?;
    // SAFETY: TIOCSCTTY takes an int argument (0: do not steal).
    unsafe { tiocsctty(slave.as_raw_fd(), 0) }.ctx(|| "set controlling terminal".into())?;
    for fd in 0..3 {
        crate::sys::dup2_raw(slave.as_raw_fd(), fd).ctx(|| format!("dup pty slave to fd {fd}"))?;
    }
    if slave.as_raw_fd() > 2 {
        drop(slave);
    } else {
        let _ = slave.into_raw_fd();
    }
    Ok(())
}

/// Without a terminal, the container process still gets a session of its
/// own, as runc's init does: otherwise it keeps the caller's controlling
/// terminal (e.g. the shell that ran `berth run`), whose `TIOCSTI` ioctl
/// would let it type commands into that shell.
pub(crate) fn new_session() -> Result<(), ChildError> {
    setsid().map(drop).ctx(|| "setsid".into())
}

/// Binds the pty slave over `/dev/console` of the (already switched) root,
/// creating the mount point without following a symlink out of it.
fn bind_console(name: &str) -> Result<(), ChildError> {
    let what = || "bind pty over /dev/console".to_string();
    let root = open(
        Path::new("/"),
        OFlag::O_PATH | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(what)?;
    let target =
        crate::rootfs::safe::open_in_root(root.as_fd(), Path::new("/dev/console"), Create::File)
            .ctx(what)?;
    // The slave by name, not /proc/self/fd: a spec need not mount /proc.
    nix::mount::mount(
        Some(Path::new(name)),
        &crate::rootfs::safe::fd_path(&target),
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .ctx(what)
}
