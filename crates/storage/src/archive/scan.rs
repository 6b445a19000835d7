//! The single streaming pass over an archive: small JSON documents are kept
//! in memory, every other regular file is streamed into the blob store as it
//! passes (so `manifest.json` may come last and no layer is ever held in
//! memory), and links between entries are remembered.

use std::collections::HashMap;
use std::io::{self, Read};
use std::path::{Component, Path};

use super::ArchiveError;
use crate::blobs::BlobStore;
use crate::digest::{Digest, HashingReader};

/// Entries up to this size are kept in memory (manifests, configs,
/// indexes, `VERSION` files, tiny layers) while [`MEMORY_BUDGET`] lasts;
/// everything else is streamed into the blob store.
const SMALL_MAX: u64 = 1 << 20;

/// How many bytes of small entries may be held in memory; JSON documents
/// are always kept (they must be parsed), other small entries spill to the
/// blob store beyond this, so memory stays bounded whatever the archive.
const MEMORY_BUDGET: u64 = 16 << 20;

/// How many symlink hops are followed before giving up.
const MAX_LINK_HOPS: usize = 16;

/// What one pass over an archive found.
#[derive(Default)]
pub(crate) struct Scan {
    /// JSON-like entries, by normalised path.
    small: HashMap<String, Vec<u8>>,
    /// Entries streamed into the blob store: path -> (digest, size).
    stored: HashMap<String, (Digest, u64)>,
    /// Symlinks and hard links: path -> normalised target path.
    links: HashMap<String, String>,
    /// Bytes of non-JSON entries held in `small`.
    held: u64,
}

/// An archive entry resolved through links.
pub(crate) enum Source<'a> {
    /// Held in memory.
    Bytes(&'a [u8]),
    /// Already in the blob store.
    Blob(&'a Digest, u64),
}

impl Scan {
    /// Reads the whole archive from `reader`.
    /// Blobs it adds to the store (not there before) are pushed to
    /// `created`, also when it fails, so the caller can clean them up.
    pub(crate) fn read<R: Read>(
        blobs: &BlobStore,
        reader: R,
        created: &mut Vec<Digest>,
    ) -> Result<Scan, ArchiveError> {
        let mut scan = Scan::default();
        let mut ar = tar::Archive::new(reader);
        for entry in ar.entries().map_err(ArchiveError::Read)? {
            let mut e = entry.map_err(ArchiveError::Read)?;
            let raw = e.path().map_err(ArchiveError::Read)?.into_owned();
            let path =
                normalise(&raw).ok_or_else(|| ArchiveError::BadPath(raw.display().to_string()))?;
            let kind = e.header().entry_type();
            if kind.is_symlink() || kind.is_hard_link() {
                let target = e
                    .link_name()
                    .map_err(ArchiveError::Read)?
                    .ok_or_else(|| ArchiveError::BadPath(path.clone()))?;
                // A symlink is relative to its own directory; a hard link
                // names a path from the archive root.
                let joined = if kind.is_symlink() && target.is_relative() {
                    Path::new(&path)
                        .parent()
                        .unwrap_or(Path::new(""))
                        .join(&target)
                } else {
                    target.to_path_buf()
                };
                let target = normalise(&joined)
                    .ok_or_else(|| ArchiveError::BadPath(target.display().to_string()))?;
                scan.links.insert(path, target);
                continue;
            }
            if !kind.is_file() {
                continue;
            }
            let size = e.size();
            if size <= SMALL_MAX {
                let mut buf = Vec::with_capacity(size as usize);
                (&mut e)
                    .take(size)
                    .read_to_end(&mut buf)
                    .map_err(ArchiveError::Read)?;
                check_len(&path, buf.len() as u64, size)?;
                if looks_like_json(&buf) || scan.held + size <= MEMORY_BUDGET {
                    if !looks_like_json(&buf) {
                        scan.held += size;
                    }
                    scan.small.insert(path, buf);
                    continue;
                }
                let d = store_blob(blobs, &path, &buf[..], size, created)?;
                scan.stored.insert(path, (d, size));
            } else {
                let d = store_blob(blobs, &path, &mut e, size, created)?;
                scan.stored.insert(path, (d, size));
            }
        }
        Ok(scan)
    }

    /// Whether the archive has a regular file at `path`.
    pub(crate) fn has(&self, path: &str) -> bool {
        self.get(path).is_some()
    }

    /// The entry at `path`, following links.
    pub(crate) fn get(&self, path: &str) -> Option<Source<'_>> {
        let mut p = normalise(Path::new(path))?;
        for _ in 0..MAX_LINK_HOPS {
            if let Some(b) = self.small.get(&p) {
                return Some(Source::Bytes(b));
            }
            if let Some((d, n)) = self.stored.get(&p) {
                return Some(Source::Blob(d, *n));
            }
            p = self.links.get(&p)?.clone();
        }
        None
    }

    /// The bytes of a small (JSON) entry at `path`.
    pub(crate) fn bytes(&self, path: &str) -> Option<&[u8]> {
        match self.get(path)? {
            Source::Bytes(b) => Some(b),
            Source::Blob(..) => None,
        }
    }
}

/// Streams one entry of `size` bytes into the blob store, noting
/// whether the blob is new.
fn store_blob<R: Read>(
    blobs: &BlobStore,
    path: &str,
    data: R,
    size: u64,
    created: &mut Vec<Digest>,
) -> Result<Digest, ArchiveError> {
    let mut w = blobs.writer()?;
    let mut r = HashingReader::new(data.take(size));
    let n = io::copy(&mut r, &mut w).map_err(ArchiveError::Read)?;
    check_len(path, n, size)?;
    let (d, _) = r.finish();
    let existed = blobs.has(&d);
    w.commit(Some(&d))?;
    if !existed {
        created.push(d.clone());
    }
    Ok(d)
}

fn check_len(path: &str, got: u64, want: u64) -> Result<(), ArchiveError> {
    if got == want {
        Ok(())
    } else {
        Err(ArchiveError::Truncated {
            path: path.to_string(),
            got,
            want,
        })
    }
}

/// Whether the bytes start like a JSON object or array. Layers are tar,
/// gzip or zstd streams and never do.
fn looks_like_json(b: &[u8]) -> bool {
    matches!(
        b.iter().find(|c| !c.is_ascii_whitespace()),
        Some(b'{') | Some(b'[')
    )
}

/// `./a//b/` -> `a/b`; `None` for paths that leave the archive root
/// (`..` above the top) or are absolute.
pub(crate) fn normalise(p: &Path) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_str()?),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_and_refuses_escapes() {
        assert_eq!(normalise(Path::new("./a//b/")).as_deref(), Some("a/b"));
        assert_eq!(normalise(Path::new("a/../b")).as_deref(), Some("b"));
        assert_eq!(normalise(Path::new("../x")), None);
        assert_eq!(normalise(Path::new("/abs")), None);
    }

    #[test]
    fn json_sniffing() {
        assert!(looks_like_json(b"  {\"a\":1}"));
        assert!(looks_like_json(b"[{}]"));
        assert!(!looks_like_json(b"\x1f\x8b\x08"));
        assert!(!looks_like_json(b""));
    }
}
