//! The single streaming pass over an archive: small JSON documents are kept
//! in memory, every other regular file is streamed into the blob store as it
//! passes (so `manifest.json` may come last and no layer is ever held in
//! memory), and links between entries are remembered. Big entries are also
//! handed to the unpack-ahead thread (see `ahead`) as they pass.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Component, Path};

use super::ahead::{Ahead, Feed};
use super::plan::digest_in_path;
use super::ArchiveError;
use crate::blobs::{BlobError, BlobStore};
use crate::digest::Digest;
use crate::pipe::{read_full, CHUNK};

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
    /// Reads the whole archive from `reader`, feeding big entries to
    /// `ahead` if given.
    /// Blobs it adds to the store (not there before) are pushed to
    /// `created`, also when it fails, so the caller can clean them up.
    pub(crate) fn read<R: Read>(
        blobs: &BlobStore,
        reader: R,
        created: &mut Vec<Digest>,
        mut ahead: Option<&mut Ahead>,
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
                let d = store_blob(blobs, &path, &buf[..], size, created, None)?;
                scan.stored.insert(path, (d, size));
            } else {
                // A blob the store already has is most likely a layer loaded
                // before: unpacking it ahead would be wasted (if it is
                // needed after all, load unpacks it from the store).
                let known = digest_hint(&path).is_some_and(|d| blobs.has(&d));
                let ahead = ahead.as_deref_mut().filter(|_| !known);
                let d = store_blob(blobs, &path, &mut e, size, created, ahead)?;
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

/// Streams one entry of `size` bytes into the blob store (and to the
/// unpack-ahead thread, if given), noting whether the blob is new.
fn store_blob<R: Read>(
    blobs: &BlobStore,
    path: &str,
    data: R,
    size: u64,
    created: &mut Vec<Digest>,
    mut ahead: Option<&mut Ahead>,
) -> Result<Digest, ArchiveError> {
    let mut w = blobs.writer()?;
    let mut feed: Option<Feed> = ahead.as_deref_mut().map(|a| a.begin());
    let mut data = data.take(size);
    let mut own = Vec::new();
    let mut n = 0u64;
    loop {
        let mut buf = match &feed {
            Some(f) => f.buffer(),
            None => std::mem::take(&mut own),
        };
        buf.resize(CHUNK, 0);
        let k = read_full(&mut data, &mut buf).map_err(ArchiveError::Read)?;
        if k == 0 {
            break;
        }
        buf.truncate(k);
        w.write_all(&buf).map_err(|source| BlobError::Io {
            what: "write new blob".into(),
            source,
        })?;
        n += k as u64;
        match &mut feed {
            Some(f) => f.send(buf),
            None => own = buf,
        }
    }
    check_len(path, n, size)?;
    let d = w.digest();
    if let (Some(a), Some(f)) = (ahead, feed) {
        a.end(f, &d);
    }
    let existed = blobs.has(&d);
    w.commit(Some(&d))?;
    if !existed {
        created.push(d.clone());
    }
    Ok(d)
}

/// The digest an entry's path suggests: `blobs/sha256/<hex>`, `<hex>.tar`,
/// or `<hex>/layer.tar` (Docker before 25 names that directory by a v1 id,
/// which tools that write the digest there reuse). Only a hint: a wrong one
/// merely costs the head start.
fn digest_hint(path: &str) -> Option<Digest> {
    digest_in_path(path).or_else(|| Digest::from_hex(path.strip_suffix("/layer.tar")?).ok())
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

#[cfg(test)]
mod feed_tests {
    use super::*;
    use crate::archive::ahead;
    use crate::store::Store;

    fn tar_of(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in entries {
            let mut h = tar::Header::new_ustar();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(1_700_000_000);
            b.append_data(&mut h, name, &data[..]).unwrap();
        }
        b.into_inner().unwrap()
    }

    /// Scans `archive` with an unpack-ahead worker; returns the digests
    /// it staged.
    fn staged(store: &Store, archive: &[u8]) -> Vec<Digest> {
        let mut created = Vec::new();
        std::thread::scope(|s| {
            let (mut a, worker) = ahead::start(s, store.tmp_dir());
            Scan::read(store.blobs(), archive, &mut created, Some(&mut a)).unwrap();
            worker.finish(a).into_keys().collect()
        })
    }

    #[test]
    fn big_entries_are_unpacked_ahead_unless_already_stored() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let layer = tar_of(&[("big", vec![3u8; (SMALL_MAX + 1) as usize])]);
        let small = tar_of(&[("small", vec![4u8; 10])]);
        let d = Digest::of_bytes(&layer);
        let archive = tar_of(&[
            (&format!("{}/layer.tar", d.hex()), layer.clone()),
            ("small/layer.tar", small),
            ("manifest.json", b"[]".to_vec()),
        ]);
        assert_eq!(staged(&store, &archive), std::slice::from_ref(&d));
        // The blob is now stored: a second load gets no head start.
        assert!(store.blobs().has(&d));
        assert_eq!(staged(&store, &archive), Vec::<Digest>::new());
    }
}
