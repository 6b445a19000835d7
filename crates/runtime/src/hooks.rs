//! OCI lifecycle hooks: run each hook of a list in order, with the
//! container state JSON on its stdin, as the runtime spec's "POSIX-platform
//! Hooks" section and runc's `Hook.Run` do.
//!
//! The runtime-namespace hooks (`createRuntime`, `prestart`, `poststart`,
//! `poststop`) are run by the lifecycle verbs; `createContainer` and
//! `startContainer` are run by the container's init process.

use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::{Hook, State};

/// A hook that could not be run or did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// The state could not be serialised for the hook's stdin.
    #[error("serialise the state for hook {path}: {source}")]
    State {
        path: PathBuf,
        source: serde_json::Error,
    },
    /// The hook's executable could not be started.
    #[error("start hook {path}: {source}")]
    Spawn { path: PathBuf, source: io::Error },
    /// Writing the state to the hook's stdin or waiting for it failed.
    #[error("run hook {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    /// The hook exited with a non-zero status or was killed by a signal.
    #[error("hook {path} failed: {status}")]
    Failed { path: PathBuf, status: ExitStatus },
    /// The hook ran longer than its `timeout` and was killed.
    #[error("hook {path} timed out after {secs}s")]
    Timeout { path: PathBuf, secs: i64 },
}

/// Runs `hooks` one after another with `state` as JSON on stdin; the first
/// failure stops the list and is returned (the spec says a failing
/// `createRuntime`..`startContainer` hook aborts the operation; callers
/// that only warn, as for `poststart`/`poststop`, log it themselves).
pub fn run_hooks(hooks: &[Hook], state: &State) -> Result<(), HookError> {
    if hooks.is_empty() {
        return Ok(());
    }
    let json = serde_json::to_vec(state).map_err(|source| HookError::State {
        path: hooks[0].path().clone(),
        source,
    })?;
    for hook in hooks {
        run_one(hook, &json)?;
    }
    Ok(())
}

/// Runs `hooks` like [`run_hooks`], but each inside the mount, UTS, IPC
/// and network namespaces of process `pid` (the container's init): the
/// spec runs `createContainer` hooks "in the container namespace", after
/// the mounts and before `pivot_root`.
pub fn run_hooks_in_namespaces_of(
    hooks: &[Hook],
    state: &State,
    pid: i32,
) -> Result<(), HookError> {
    if hooks.is_empty() {
        return Ok(());
    }
    let path = hooks[0].path().clone();
    let mut ns = Vec::new();
    // Mount last: after it, /proc may no longer be the one we opened from.
    for name in ["uts", "ipc", "net", "mnt"] {
        let p = format!("/proc/{pid}/ns/{name}");
        let f = std::fs::File::open(&p).map_err(|source| HookError::Spawn {
            path: path.clone(),
            source: io::Error::new(source.kind(), format!("open {p}: {source}")),
        })?;
        ns.push(OwnedFd::from(f));
    }
    let json = serde_json::to_vec(state).map_err(|source| HookError::State { path, source })?;
    for hook in hooks {
        run_one_with(hook, &json, Some(&ns))?;
    }
    Ok(())
}

/// Runs one hook: `path` is executed with `args` as its full argv (so
/// `args[0]` is argv[0], as in runc) and exactly `env` as its environment.
fn run_one(hook: &Hook, state_json: &[u8]) -> Result<(), HookError> {
    run_one_with(hook, state_json, None)
}

/// `run_one`, optionally joining the namespaces `ns` (open nsfs files)
/// in the child before it execs the hook.
fn run_one_with(hook: &Hook, state_json: &[u8], ns: Option<&[OwnedFd]>) -> Result<(), HookError> {
    let path = hook.path().clone();
    let mut cmd = Command::new(&path);
    if let Some(ns) = ns {
        let fds: Vec<RawFd> = ns.iter().map(|f| f.as_raw_fd()).collect();
        // SAFETY: the pre-exec closure only calls setns(2) on fds opened
        // before the fork: no allocation, no locks, async-signal-safe.
        unsafe {
            cmd.pre_exec(move || {
                for &fd in &fds {
                    if libc::setns(fd, 0) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
    }
    if let Some(args) = hook.args() {
        if let Some((first, rest)) = args.split_first() {
            cmd.arg0(first).args(rest);
        }
    }
    cmd.env_clear();
    for kv in hook.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped());
    let mut child = cmd.spawn().map_err(|source| HookError::Spawn {
        path: path.clone(),
        source,
    })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine: ignore EPIPE.
        match stdin.write_all(state_json) {
            Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(HookError::Io { path, source: e });
            }
            _ => {}
        }
    }
    let status = match hook.timeout() {
        Some(secs) if secs > 0 => wait_timeout(&mut child, Duration::from_secs(secs as u64))
            .map_err(|source| HookError::Io {
                path: path.clone(),
                source,
            })?,
        _ => Some(child.wait().map_err(|source| HookError::Io {
            path: path.clone(),
            source,
        })?),
    };
    match status {
        None => Err(HookError::Timeout {
            path,
            secs: hook.timeout().unwrap_or_default(),
        }),
        Some(s) if s.success() => Ok(()),
        Some(status) => Err(HookError::Failed { path, status }),
    }
}

/// Waits for `child` at most `limit`; on expiry kills and reaps it and
/// returns `None`. Hooks are rare and short, so a polling wait is enough.
fn wait_timeout(
    child: &mut std::process::Child,
    limit: Duration,
) -> io::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            // Reap it; the caller reports the timeout, not the signal.
            child.wait()?;
            return Ok(None);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use oci_spec::runtime::{ContainerState, HookBuilder, StateBuilder};

    use super::*;

    fn state() -> State {
        StateBuilder::default()
            .version("1.0.2")
            .id("hooktest")
            .status(ContainerState::Created)
            .pid(42)
            .bundle("/tmp/bundle")
            .build()
            .unwrap()
    }

    fn hook(script: &str, timeout: Option<i64>) -> Hook {
        let mut b = HookBuilder::default()
            .path("/bin/sh")
            .args(vec!["sh".to_string(), "-c".to_string(), script.to_string()])
            .env(vec!["HOOKVAR=fromspec".to_string()]);
        if let Some(t) = timeout {
            b = b.timeout(t);
        }
        b.build().unwrap()
    }

    #[test]
    fn hook_gets_state_on_stdin_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let env = dir.path().join("env");
        let script = format!(
            "cat > {}; echo \"$HOOKVAR\" > {}",
            out.display(),
            env.display()
        );
        run_hooks(&[hook(&script, None)], &state()).unwrap();
        let got: State = serde_json::from_str(&fs::read_to_string(&out).unwrap()).unwrap();
        assert_eq!(got.id(), "hooktest");
        assert_eq!(got.pid(), &Some(42));
        assert_eq!(fs::read_to_string(&env).unwrap(), "fromspec\n");
    }

    #[test]
    fn failing_hook_stops_the_list() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("second-ran");
        let second = hook(&format!("touch {}", marker.display()), None);
        let err = run_hooks(&[hook("exit 3", None), second], &state()).unwrap_err();
        assert!(matches!(err, HookError::Failed { .. }), "{err}");
        assert!(err.to_string().contains("/bin/sh"));
        assert!(!marker.exists());
    }

    #[test]
    fn hook_timeout_kills_it() {
        let start = Instant::now();
        let err = run_hooks(&[hook("exec sleep 30", Some(1))], &state()).unwrap_err();
        assert!(matches!(err, HookError::Timeout { secs: 1, .. }), "{err}");
        assert!(start.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn missing_hook_binary_is_a_spawn_error() {
        let h = HookBuilder::default()
            .path("/nonexistent/hook")
            .build()
            .unwrap();
        let err = run_hooks(&[h], &state()).unwrap_err();
        assert!(matches!(err, HookError::Spawn { .. }), "{err}");
    }
}
