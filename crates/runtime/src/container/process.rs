//! The process of an `exec`: read from a `--process` JSON file, or built
//! from the container's own process with the command line's changes, as
//! runc's `exec` does.

use std::fs;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Process;

use super::ContainerError;

/// The `exec` command line's view of the process.
#[derive(Debug, Clone, Default)]
pub struct ExecArgs {
    /// The command and its arguments.
    pub args: Vec<String>,
    /// `--tty`.
    pub tty: bool,
    /// `--cwd`.
    pub cwd: Option<PathBuf>,
    /// `--env KEY=VALUE`, added to (and overriding) the container's env.
    pub env: Vec<String>,
    /// `--user UID[:GID]`.
    pub user: Option<String>,
    /// `--additional-gids`.
    pub additional_gids: Vec<u32>,
    /// `--no-new-privs`.
    pub no_new_privs: bool,
}

/// Where the exec'd process comes from.
#[derive(Debug, Clone)]
pub enum ExecProcess {
    /// `--process FILE`: a runtime-spec `process` object.
    File(PathBuf),
    /// Arguments and flags on the command line.
    Args(ExecArgs),
}

/// Reads a `--process` file.
pub fn load_process_file(path: &Path) -> Result<Process, ContainerError> {
    let data = fs::read(path).map_err(|e| ContainerError::Config {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    serde_json::from_slice(&data).map_err(|e| ContainerError::Config {
        path: path.to_path_buf(),
        reason: format!("invalid process: {e}"),
    })
}

/// The container's process `template` with `a`'s changes applied.
pub fn process_from_args(template: &Process, a: &ExecArgs) -> Result<Process, ContainerError> {
    if a.args.is_empty() {
        return Err(ContainerError::Usage(
            "exec: no command given (args or --process)".into(),
        ));
    }
    let mut p = template.clone();
    p.set_args(Some(a.args.clone()));
    p.set_terminal(Some(a.tty));
    if let Some(cwd) = &a.cwd {
        p.set_cwd(cwd.clone());
    }
    let mut env = p.env().clone().unwrap_or_default();
    for kv in &a.env {
        let key = kv.split('=').next().unwrap_or(kv);
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(kv.clone());
    }
    p.set_env(Some(env));
    if let Some(u) = &a.user {
        let (uid, gid) = parse_user(u)?;
        p.user_mut().set_uid(uid);
        p.user_mut().set_gid(gid);
    }
    if !a.additional_gids.is_empty() {
        p.user_mut()
            .set_additional_gids(Some(a.additional_gids.clone()));
    }
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    Ok(p)
}

/// `UID[:GID]`, numeric as in runc (a name would need the container's
/// `/etc/passwd`).
fn parse_user(s: &str) -> Result<(u32, u32), ContainerError> {
    let bad = || ContainerError::Usage(format!("invalid --user {s:?}: want UID[:GID]"));
    let (u, g) = s.split_once(':').unwrap_or((s, "0"));
    Ok((u.parse().map_err(|_| bad())?, g.parse().map_err(|_| bad())?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_override_the_template() {
        let t = Process::default();
        let p = process_from_args(
            &t,
            &ExecArgs {
                args: vec!["ls".into()],
                env: vec!["PATH=/x".into(), "A=1".into()],
                user: Some("1000:100".into()),
                cwd: Some("/tmp".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(p.args().as_ref().unwrap(), &["ls".to_string()]);
        let env = p.env().as_ref().unwrap();
        assert_eq!(env.iter().filter(|e| e.starts_with("PATH=")).count(), 1);
        assert!(env.contains(&"PATH=/x".to_string()) && env.contains(&"A=1".to_string()));
        assert_eq!((p.user().uid(), p.user().gid()), (1000, 100));
        assert_eq!(p.cwd(), Path::new("/tmp"));
        assert!(process_from_args(&t, &ExecArgs::default()).is_err());
        assert!(parse_user("x:1").is_err());
    }
}
