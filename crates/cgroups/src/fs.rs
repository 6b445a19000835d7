//! Reading and writing cgroup control files and directories, each failure
//! naming the file and the value.

use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::CgroupError;

/// Writes `value` to control file `dir/file` in a single write(2), as the
/// kernel parses each write as one request.
pub fn write(dir: &Path, file: &str, value: &str) -> Result<(), CgroupError> {
    let path = dir.join(file);
    let res = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|mut f| f.write_all(value.as_bytes()));
    res.map_err(|source| CgroupError::Write {
        path,
        value: value.to_string(),
        source,
    })
}

/// Reads control file `dir/file`, trimmed.
pub fn read(dir: &Path, file: &str) -> Result<String, CgroupError> {
    let path = dir.join(file);
    std::fs::read_to_string(&path)
        .map(|s| s.trim().to_string())
        .map_err(|source| CgroupError::Read { path, source })
}

/// Reads `dir/file` if it exists (a controller not enabled here).
pub fn read_opt(dir: &Path, file: &str) -> Result<Option<String>, CgroupError> {
    match read(dir, file) {
        Err(CgroupError::Read { source, .. }) if source.kind() == ErrorKind::NotFound => Ok(None),
        other => other.map(Some),
    }
}

/// Reads a number, or `None` for "max" and a missing file.
pub fn read_u64_opt(dir: &Path, file: &str) -> Result<Option<u64>, CgroupError> {
    match read_opt(dir, file)? {
        None => Ok(None),
        Some(s) if s == "max" => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| CgroupError::Parse {
            path: dir.join(file),
            content: s,
        }),
    }
}

/// The value of `key` in a flat keyed file such as `cpu.stat` or
/// `memory.stat` (`key value` per line).
pub fn keyed(dir: &Path, file: &str, key: &str) -> Result<Option<u64>, CgroupError> {
    let Some(text) = read_opt(dir, file)? else {
        return Ok(None);
    };
    for line in text.lines() {
        if let Some((k, v)) = line.split_once(' ') {
            if k == key {
                return v.trim().parse().map(Some).map_err(|_| CgroupError::Parse {
                    path: dir.join(file),
                    content: line.to_string(),
                });
            }
        }
    }
    Ok(None)
}

/// Creates `dir` and its missing parents; returns the directories that
/// were created, outermost first.
pub fn mkdir_all(dir: &Path) -> Result<Vec<PathBuf>, CgroupError> {
    let mut missing = Vec::new();
    let mut cur = dir;
    while !cur.exists() {
        missing.push(cur.to_path_buf());
        match cur.parent() {
            Some(p) => cur = p,
            None => break,
        }
    }
    missing.reverse();
    for d in &missing {
        match std::fs::create_dir(d) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(source) => {
                return Err(CgroupError::CreateDir {
                    path: d.clone(),
                    source,
                })
            }
        }
    }
    Ok(missing)
}

/// The pids in `dir/cgroup.procs` and in every cgroup below it.
pub fn procs_recursive(dir: &Path) -> Result<Vec<i32>, CgroupError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Some(text) = read_opt(&d, "cgroup.procs")? else {
            continue; // removed meanwhile
        };
        for line in text.lines() {
            out.push(line.trim().parse().map_err(|_| CgroupError::Parse {
                path: d.join("cgroup.procs"),
                content: line.to_string(),
            })?);
        }
        stack.extend(subdirs(&d)?);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The child cgroups of `dir` (none if `dir` is gone).
pub fn subdirs(dir: &Path) -> Result<Vec<PathBuf>, CgroupError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(CgroupError::Read {
                path: dir.into(),
                source,
            })
        }
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| CgroupError::Read {
            path: dir.into(),
            source,
        })?;
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            out.push(entry.path());
        }
    }
    Ok(out)
}

/// Removes cgroup `dir` and every cgroup below it, leaves first. A cgroup
/// whose last process is still exiting answers EBUSY for a moment, so
/// that is retried until `timeout`. A missing `dir` is success.
pub fn rmdir_tree(dir: &Path, timeout: Duration) -> Result<(), CgroupError> {
    for child in subdirs(dir)? {
        rmdir_tree(&child, timeout)?;
    }
    let start = Instant::now();
    let mut delay = Duration::from_millis(1);
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                if start.elapsed() >= timeout {
                    return Err(CgroupError::Busy {
                        path: dir.into(),
                        source: e,
                    });
                }
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(50));
            }
            Err(source) => {
                return Err(CgroupError::RemoveDir {
                    path: dir.into(),
                    source,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_files_and_numbers() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("cpu.stat"),
            "usage_usec 1234\nuser_usec 1000\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("pids.max"), "max\n").unwrap();
        std::fs::write(dir.path().join("pids.current"), "7\n").unwrap();
        assert_eq!(
            keyed(dir.path(), "cpu.stat", "user_usec").unwrap(),
            Some(1000)
        );
        assert_eq!(keyed(dir.path(), "cpu.stat", "nope").unwrap(), None);
        assert_eq!(keyed(dir.path(), "missing", "x").unwrap(), None);
        assert_eq!(read_u64_opt(dir.path(), "pids.max").unwrap(), None);
        assert_eq!(read_u64_opt(dir.path(), "pids.current").unwrap(), Some(7));
        let err = write(&dir.path().join("nodir"), "f", "1").unwrap_err();
        assert!(
            err.to_string().contains("failed to write \"1\" to"),
            "{err}"
        );
        assert!(
            err.to_string().ends_with("No such file or directory"),
            "{err}"
        );
    }

    #[test]
    fn mkdir_all_reports_what_it_made() {
        let dir = tempfile::tempdir().unwrap();
        let made = mkdir_all(&dir.path().join("a/b")).unwrap();
        assert_eq!(made, vec![dir.path().join("a"), dir.path().join("a/b")]);
        assert!(mkdir_all(&dir.path().join("a/b")).unwrap().is_empty());
        rmdir_tree(&dir.path().join("a"), Duration::from_millis(10)).unwrap();
        assert!(!dir.path().join("a").exists());
    }
}
