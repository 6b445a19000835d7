//! Safe paths inside a layer directory: tar names are cleaned lexically
//! (absolute names and `..` that would climb above the root are refused —
//! Docker strips a leading `/`, but no image tool writes one and issue 3
//! lists `/abs` among the traversals to refuse), and directories are
//! opened with `openat2(RESOLVE_BENEATH)` from the root's fd, so no
//! symlink — absolute, or relative and climbing out — is ever followed out
//! of the layer.

use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{mkdirat, Mode};

/// Cleans a tar entry name into its components below the layer root.
/// `Err` if the name is absolute or `..` climbs above the root.
pub(super) fn normalize(name: &[u8]) -> Result<Vec<&OsStr>, &'static str> {
    if name.first() == Some(&b'/') {
        return Err("absolute path in a layer (entries must be relative to the layer root)");
    }
    let mut out: Vec<&OsStr> = Vec::new();
    for c in name.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                if out.pop().is_none() {
                    return Err("path climbs out of the layer directory with \"..\"");
                }
            }
            _ => out.push(OsStr::from_bytes(c)),
        }
    }
    Ok(out)
}

/// Joins components into a relative path ("." when empty).
pub(super) fn join(comps: &[&OsStr]) -> PathBuf {
    if comps.is_empty() {
        return PathBuf::from(".");
    }
    comps.iter().collect()
}

/// Opens directory `rel` beneath `root` for reading, never leaving it.
/// `EXDEV` means the path resolved outside the root (through a symlink).
pub(super) fn open_dir_beneath(root: &impl AsFd, rel: &Path) -> Result<OwnedFd, Errno> {
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    loop {
        match openat2(root.as_fd(), rel, how) {
            // openat2 asks to retry when a concurrent rename raced it.
            Err(Errno::EAGAIN) | Err(Errno::EINTR) => continue,
            r => return r,
        }
    }
}

/// Opens directory `comps` beneath `root`, creating missing directories
/// (mode 0755, owned by us, as Docker's unpacker does for implicit parents).
pub(super) fn open_or_create_dir(root: &impl AsFd, comps: &[&OsStr]) -> Result<OwnedFd, Errno> {
    match open_dir_beneath(root, &join(comps)) {
        Err(Errno::ENOENT) => {}
        r => return r,
    }
    let mut cur = open_dir_beneath(root, Path::new("."))?;
    for i in 0..comps.len() {
        let next = match open_dir_beneath(root, &join(&comps[..=i])) {
            Err(Errno::ENOENT) => {
                match mkdirat(&cur, comps[i], Mode::from_bits_truncate(0o755)) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(e),
                }
                open_dir_beneath(root, &join(&comps[..=i]))?
            }
            r => r?,
        };
        cur = next;
    }
    Ok(cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> Result<String, &'static str> {
        normalize(s.as_bytes()).map(|c| join(&c).to_string_lossy().into_owned())
    }

    #[test]
    fn cleans_names() {
        assert_eq!(norm("./etc/passwd").unwrap(), "etc/passwd");
        assert_eq!(norm("a/./b//c/").unwrap(), "a/b/c");
        assert_eq!(norm("a/../b").unwrap(), "b");
        assert_eq!(norm("./").unwrap(), ".");
    }

    #[test]
    fn refuses_climbing_out() {
        assert!(norm("../x").is_err());
        assert!(norm("a/../../x").is_err());
        assert!(norm("/../x").is_err());
        assert!(norm("/abs/x").is_err());
        assert!(norm("/").is_err());
        assert!(norm("..").is_err());
    }
}
