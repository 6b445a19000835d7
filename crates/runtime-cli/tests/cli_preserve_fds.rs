//! `run --preserve-fds N` passes the caller's fds 3 .. 3+N to the
//! container process, as runc does, and no other fd.

mod common;

use std::fs::{self, File};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;

use common::{stderr, Env};

/// `dup2` in the spawned runtime (between fork and exec): `src` becomes
/// `dst`, without FD_CLOEXEC as dup2 leaves it.
fn dup2(src: RawFd, dst: RawFd) -> std::io::Result<()> {
    // SAFETY: dup2 only changes the fd table of the forked child.
    if unsafe { libc::dup2(src, dst) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[test]
fn run_passes_preserved_fds_and_only_those() {
    let env = Env::new(
        "pfds-run",
        &[
            "sh",
            "-c",
            "echo three >&3; cat <&4; \
             for f in 5 6 7; do [ -e /proc/$$/fd/$f ] && echo leaked $f; done; true",
        ],
    );
    let out_path = env.tmp.path().join("three");
    let in_path = env.tmp.path().join("four");
    fs::write(&in_path, "four\n").unwrap();
    let three = File::create(&out_path).unwrap();
    let four = File::open(&in_path).unwrap();
    let (t, f) = (three.as_raw_fd(), four.as_raw_fd());
    let mut cmd = env.cmd();
    cmd.args(["run", "--preserve-fds", "2", "--bundle"])
        .arg(&env.bundle)
        .arg("pfds-run");
    // SAFETY: only async-signal-safe dup2 calls run between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            // Through high numbers first, in case t or f is 3 or 4.
            dup2(t, 100)?;
            dup2(f, 101)?;
            dup2(100, 3)?;
            dup2(101, 4)?;
            // Nothing else of ours in the way: 5.. are left closed.
            libc::close(100);
            libc::close(101);
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "four\n");
    assert_eq!(fs::read_to_string(&out_path).unwrap(), "three\n");
    env.assert_clean("pfds-run");
}

#[test]
fn a_preserved_fd_the_caller_left_closed_is_dev_null() {
    // fd 3 is not open in the runtime: it must not become one of the
    // runtime's own fds inside the container.
    let env = Env::new("pfds-hole", &["sh", "-c", "readlink /proc/$$/fd/3"]);
    let mut cmd = env.cmd();
    cmd.args(["run", "--preserve-fds", "1", "--bundle"])
        .arg(&env.bundle)
        .arg("pfds-hole");
    // SAFETY: close_range is async-signal-safe; it closes every fd from 3.
    unsafe {
        cmd.pre_exec(|| {
            libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "/dev/null");
    env.assert_clean("pfds-hole");
}
