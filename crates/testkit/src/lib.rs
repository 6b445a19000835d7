//! Test helpers shared by berth's crates: a busybox root filesystem built
//! from Debian's `busybox-static`, as a directory or as a rootfs tarball,
//! and a way to run a test's body in a single-threaded child.

use std::fs;
use std::io;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where Debian's `busybox-static` installs its binary.
pub const BUSYBOX: &str = "/bin/busybox";

/// Fills `root` with a minimal busybox root filesystem: the static binary
/// at `/bin/busybox`, one symlink per applet, and the usual empty dirs.
pub fn busybox_rootfs(root: &Path) -> io::Result<()> {
    for d in [
        "bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root", "var",
        "run",
    ] {
        fs::create_dir_all(root.join(d))?;
    }
    fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777))?;
    copy_executable(Path::new(BUSYBOX), &root.join("bin/busybox"))?;
    for applet in applets()? {
        let link = root.join(applet.trim_start_matches('/'));
        if link.exists() || link.symlink_metadata().is_ok() || applet.ends_with("/busybox") {
            continue;
        }
        if let Some(parent) = link.parent() {
            fs::create_dir_all(parent)?;
        }
        symlink("/bin/busybox", &link)?;
    }
    fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )?;
    fs::write(root.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n")?;
    Ok(())
}

/// Copies an executable in a `cp` child process. A write fd opened here
/// would be inherited by any child another test thread forks meanwhile,
/// and while such a child lives (a container init before its exec holds it
/// for milliseconds) every exec of the copy fails with "text file busy".
/// The mode is kept exactly (as `fs::copy` did), whatever the umask.
fn copy_executable(from: &Path, to: &Path) -> io::Result<()> {
    let status = Command::new("cp")
        .arg("--preserve=mode")
        .arg("--")
        .arg(from)
        .arg(to)
        .status()?;
    if !status.success() {
        return Err(io::Error::other(format!(
            "cp {} {}: {status}",
            from.display(),
            to.display()
        )));
    }
    Ok(())
}

/// Runs `f` in a forked child and returns its exit code (`f`'s value, or
/// 99 if it panicked, its message written to fd 2). The runtime clones
/// without atfork handlers, so a container must not be spawned from a
/// thread of the (multi-threaded) test harness: another thread may hold a
/// lock (malloc's, stdout's) at that moment, which the clone would keep
/// locked forever. A forked child has one thread, and glibc's fork leaves
/// its malloc usable.
pub fn in_child(f: impl FnOnce() -> i32) -> i32 {
    // SAFETY: the child only runs `f` (malloc works after glibc's fork)
    // and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", io::Error::last_os_error());
    if pid == 0 {
        // The harness captures output per thread, in memory this copy
        // would never hand back: a panic is written to fd 2 itself.
        std::panic::set_hook(Box::new(|info| {
            let msg = format!("test child: {info}\n");
            // SAFETY: writes a live buffer of that length to fd 2.
            unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
        }));
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(99);
        // SAFETY: leave the forked copy without running the harness's
        // destructors or flushing its copied buffers.
        unsafe { libc::_exit(code) }
    }
    let mut status = 0;
    // SAFETY: waits for our own child, writing its status to a local.
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(r, pid, "waitpid: {}", io::Error::last_os_error());
    assert!(
        libc::WIFEXITED(status),
        "test child ended with status {status:#x}"
    );
    libc::WEXITSTATUS(status)
}

/// Writes a busybox rootfs as an uncompressed tar file (the input of
/// `docker import`) and returns its path.
pub fn busybox_tar(dir: &Path) -> io::Result<PathBuf> {
    let root = dir.join("busybox-rootfs");
    busybox_rootfs(&root)?;
    let out = dir.join("busybox.tar");
    let mut builder = tar::Builder::new(fs::File::create(&out)?);
    builder.follow_symlinks(false);
    builder.append_dir_all(".", &root)?;
    builder.into_inner()?;
    fs::remove_dir_all(&root)?;
    Ok(out)
}

/// The applets the static busybox provides, as absolute install paths.
fn applets() -> io::Result<Vec<String>> {
    let out = Command::new(BUSYBOX).arg("--list-full").output()?;
    if !out.status.success() {
        return Err(io::Error::other("busybox --list-full failed"));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| format!("/{}", l.trim()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rootfs_has_shell_and_applets() {
        let dir = std::env::temp_dir().join(format!("testkit-{}", std::process::id()));
        busybox_rootfs(&dir).unwrap();
        assert!(dir.join("bin/busybox").is_file());
        assert_eq!(
            fs::read_link(dir.join("bin/sh")).unwrap(),
            Path::new("/bin/busybox")
        );
        assert!(dir.join("bin/ps").symlink_metadata().is_ok());
        fs::remove_dir_all(&dir).unwrap();
    }
}
