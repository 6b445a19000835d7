//! Finding `process.args[0]` in the container's `$PATH` and turning exec
//! failures into runc/Docker-style messages and the 126/127 kinds.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use crate::error::{ChildError, ChildErrorKind};

/// `$PATH` when `process.env` has none (runc and Docker use this one).
pub(crate) const DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The value of `PATH` in an env list, or [`DEFAULT_PATH`].
pub(crate) fn path_from_env(env: &[String]) -> &str {
    env.iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH)
}

/// Resolves `cmd` like Go's `exec.LookPath` (what runc uses): a name with a
/// `/` is used as is; otherwise the first executable regular file in
/// `path`'s dirs (an empty entry means the cwd).
pub(crate) fn look_path(cmd: &str, path: &str) -> Result<PathBuf, ChildError> {
    if cmd.is_empty() {
        return Err(ChildError {
            kind: ChildErrorKind::NotFound,
            message: "exec: \"\": empty command".into(),
        });
    }
    if cmd.contains('/') {
        return Ok(PathBuf::from(cmd));
    }
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let cand = Path::new(dir).join(cmd);
        if let Ok(meta) = fs::metadata(&cand) {
            if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
                return Ok(cand);
            }
        }
    }
    Err(ChildError {
        kind: ChildErrorKind::NotFound,
        message: format!("exec: {cmd:?}: executable file not found in $PATH"),
    })
}

/// The error for a failed `execve(path)`: ENOENT (also a missing script
/// interpreter) is "not found", permission/format errors "cannot execute".
pub(crate) fn exec_error(cmd: &str, path: &Path, err: Errno) -> ChildError {
    let kind = match err {
        Errno::ENOENT | Errno::ENOTDIR => ChildErrorKind::NotFound,
        Errno::EACCES | Errno::EPERM | Errno::ENOEXEC | Errno::EISDIR | Errno::ETXTBSY => {
            ChildErrorKind::NotExecutable
        }
        _ => ChildErrorKind::Other,
    };
    let cause = match err {
        Errno::ENOENT => "no such file or directory".to_string(),
        Errno::EACCES => "permission denied".to_string(),
        Errno::EISDIR => "is a directory".to_string(),
        e => e.desc().to_lowercase(),
    };
    ChildError {
        kind,
        message: format!("exec: {cmd:?}: {}: {cause}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn path_from_env_takes_last_or_default() {
        let env = vec!["A=1".to_string(), "PATH=/x".into(), "PATH=/y:/z".into()];
        assert_eq!(path_from_env(&env), "/y:/z");
        assert_eq!(path_from_env(&[]), DEFAULT_PATH);
    }

    #[test]
    fn look_path_skips_non_executables() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        fs::create_dir_all(&a).unwrap();
        fs::create_dir_all(&b).unwrap();
        fs::write(a.join("tool"), "x").unwrap();
        fs::write(b.join("tool"), "x").unwrap();
        fs::set_permissions(b.join("tool"), fs::Permissions::from_mode(0o755)).unwrap();
        let path = format!("{}:{}", a.display(), b.display());
        assert_eq!(look_path("tool", &path).unwrap(), b.join("tool"));
        let err = look_path("nope", &path).unwrap_err();
        assert_eq!(err.kind, ChildErrorKind::NotFound);
        assert_eq!(
            err.message,
            "exec: \"nope\": executable file not found in $PATH"
        );
        assert_eq!(look_path("/abs/x", "").unwrap(), PathBuf::from("/abs/x"));
    }

    #[test]
    fn exec_errors_map_to_kinds() {
        let p = Path::new("/etc/passwd");
        assert_eq!(
            exec_error("x", p, Errno::EACCES).kind,
            ChildErrorKind::NotExecutable
        );
        assert_eq!(
            exec_error("x", p, Errno::ENOENT).kind,
            ChildErrorKind::NotFound
        );
        assert_eq!(
            exec_error("x", p, Errno::EACCES).message,
            "exec: \"x\": /etc/passwd: permission denied"
        );
    }
}
