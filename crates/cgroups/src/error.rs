//! The one error type of this crate: a variant per failing step, each
//! carrying the cgroup file or directory it failed on.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Why a cgroup operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// `/proc/self/mountinfo` (or a given text) could not be read.
    #[error("failed to read {path}: {}", Cause(.source))]
    ReadMountinfo {
        /// The file that was read.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// No cgroup filesystem is mounted at all.
    #[error("no cgroup or cgroup2 filesystem is mounted (checked {path})")]
    NoCgroupMounts {
        /// The mountinfo file that was inspected.
        path: PathBuf,
    },
    /// A line of `/proc/<pid>/cgroup` or of mountinfo did not parse.
    #[error("malformed line in {path}: {line:?}")]
    MalformedLine {
        /// The file that was read.
        path: PathBuf,
        /// The offending line.
        line: String,
    },
    /// The OCI `cgroupsPath` is not usable.
    #[error("invalid cgroupsPath {path:?}: {reason}")]
    InvalidPath {
        /// The path as given in the spec.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A `linux.resources` value is out of range; nothing was written.
    #[error("invalid resource {field} = {value}: {reason}")]
    InvalidResource {
        /// The spec field, e.g. `memory.limit`.
        field: &'static str,
        /// The value as given.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// A cgroup directory could not be created.
    #[error("failed to create cgroup {path}: {}", Cause(.source))]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A cgroup directory could not be removed.
    #[error("failed to remove cgroup {path}: {}", Cause(.source))]
    RemoveDir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A resource needs a controller this cgroup does not have.
    #[error("cgroup controller {controller} is not available for {path}")]
    ControllerUnavailable {
        /// The controller, e.g. `memory`.
        controller: &'static str,
        /// The cgroup directory (or hierarchy) that lacks it.
        path: PathBuf,
    },
    /// No cgroup v1 hierarchy carries a controller a resource needs.
    #[error("cgroup controller {controller} is not mounted on this cgroup v1 host")]
    ControllerNotMounted {
        /// The controller, e.g. `hugetlb`.
        controller: &'static str,
    },
    /// Writing a control file failed.
    #[error("failed to write {value:?} to {path}: {}", Cause(.source))]
    Write {
        /// The control file.
        path: PathBuf,
        /// What was written.
        value: String,
        /// The OS error.
        source: io::Error,
    },
    /// Reading a control file failed.
    #[error("failed to read {path}: {}", Cause(.source))]
    Read {
        /// The control file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A control file held something we could not parse.
    #[error("unexpected content {content:?} in {path}")]
    Parse {
        /// The control file.
        path: PathBuf,
        /// What it held.
        content: String,
    },
    /// The cgroup did not reach the frozen state in time.
    #[error("cgroup {path} did not freeze within {millis} ms (state {state:?})")]
    FreezeTimeout {
        /// The cgroup directory.
        path: PathBuf,
        /// How long we waited.
        millis: u128,
        /// The last state read.
        state: String,
    },
    /// The kernel refused the device filter program.
    #[error("failed to load the device filter for cgroup {path}: {}{}", Cause(.source), if .verifier.is_empty() { String::new() } else { format!(" (verifier: {})", .verifier) })]
    BpfLoad {
        /// The cgroup directory.
        path: PathBuf,
        /// The verifier log, if any.
        verifier: String,
        /// The OS error.
        source: io::Error,
    },
    /// The device filter could not be attached to the cgroup.
    #[error("failed to attach the device filter to cgroup {path}: {}", Cause(.source))]
    BpfAttach {
        /// The cgroup directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// Sending a signal to a process of the cgroup failed.
    #[error("failed to send signal {signal} to pid {pid}: {source}")]
    Signal {
        /// The process.
        pid: i32,
        /// The signal number.
        signal: i32,
        /// The OS error.
        source: nix::errno::Errno,
    },
    /// The cgroup still holds processes after they were killed.
    #[error("cgroup {path} is still busy: {}", Cause(.source))]
    Busy {
        /// The directory that could not be removed.
        path: PathBuf,
        /// The last OS error (EBUSY).
        source: io::Error,
    },
}

/// Shows an OS error as its strerror text ("Invalid argument") without
/// std's "(os error 22)" suffix, so messages read like runc's.
struct Cause<'a>(&'a io::Error);

impl fmt::Display for Cause<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.raw_os_error() {
            Some(code) => f.write_str(nix::errno::Errno::from_raw(code).desc()),
            None => write!(f, "{}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_error_names_path_value_and_cause() {
        let err = CgroupError::Write {
            path: "/sys/fs/cgroup/x/cpu.max".into(),
            value: "100000 50000".into(),
            source: io::Error::from_raw_os_error(libc::EINVAL),
        };
        assert_eq!(
            err.to_string(),
            "failed to write \"100000 50000\" to /sys/fs/cgroup/x/cpu.max: Invalid argument"
        );
    }
}
