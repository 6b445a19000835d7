//! The one-pass unpack pipeline: raw stream → blob hash (+ optional copy
//! into the blob store) → decompressor → diff-id hash → tar entries applied
//! into a locked staging dir → verify → rename into `layers/` → record.
//! For a compressed layer the tar entries are applied on a second thread
//! (through a `pipe`), so decompressing and writing files use two cores.

use std::fs;
use std::io::{self, Read, Write};
use std::path::Path;

use rusqlite::params;

use super::compression::{self, Compression};
use super::entry::Unpacker;
use super::{chain_id, now_secs, Layer, LayerError, UnpackOptions};
use crate::blobs::BlobWriter;
use crate::digest::{Digest, HashingReader};
use crate::pipe::{pipe, read_full, CHUNK};
use crate::staging::StagingDir;
use crate::store::Store;

/// Copies what is read into an optional blob writer.
struct Tee<'a, R> {
    inner: R,
    out: Option<&'a mut BlobWriter>,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(w) = self.out.as_deref_mut() {
            w.write_all(&buf[..n])?;
        }
        Ok(n)
    }
}

/// What one pass over the stream produced.
pub(super) struct Pass {
    pub(super) compression: Compression,
    pub(super) blob: (Digest, u64),
    pub(super) diff_id: Digest,
    pub(super) size: u64,
}

pub(super) fn unpack_layer<R: Read>(
    store: &Store,
    reader: R,
    opts: &UnpackOptions,
) -> Result<Layer, LayerError> {
    let label = opts.label();
    if let Some(p) = &opts.parent {
        if !store.has_layer(p) {
            return Err(LayerError::UnknownParent(p.clone()));
        }
    }
    let io_err = |op: &'static str, path: &Path| {
        let (layer, path) = (label.clone(), path.display().to_string());
        move |source| LayerError::Io {
            layer,
            op,
            path,
            source,
        }
    };
    let mut blob = if opts.store_blob {
        Some(store.blobs().writer()?)
    } else {
        None
    };

    // Known chain id already on disk: only drain and verify the stream.
    let known = opts
        .expected_diff_id
        .as_ref()
        .map(|d| chain_id(opts.parent.as_ref(), d));
    let existing = known.as_ref().filter(|c| store.has_layer(c)).cloned();

    let staging = if existing.is_none() {
        let s = StagingDir::create(&store.tmp_dir(), "layer")
            .map_err(io_err("create staging dir", &store.tmp_dir()))?;
        let diff = s.path().join("diff");
        fs::create_dir(&diff).map_err(io_err("create", &diff))?;
        Some(s)
    } else {
        None
    };

    let pass = run_pass(
        reader,
        blob.as_mut(),
        staging.as_ref().map(|s| s.path().join("diff")).as_deref(),
        &label,
        None,
    )?;
    verify(
        &label,
        "blob digest",
        opts.expected_blob.as_ref(),
        &pass.blob.0,
    )?;
    verify(
        &label,
        "diff id",
        opts.expected_diff_id.as_ref(),
        &pass.diff_id,
    )?;
    let chain = chain_id(opts.parent.as_ref(), &pass.diff_id);

    let blob_digest = match blob {
        Some(w) => Some(w.commit(Some(&pass.blob.0))?),
        None => None,
    };

    if let Some(s) = staging {
        place(store, s, &chain, &label)?;
    }

    let size = match existing {
        // Only drained: the size comes from the record, or from the files
        // if a crash came between rename and record.
        Some(_) => match store.layer_record(&chain) {
            Ok(l) => l.size,
            Err(_) => dir_size(&store.layer_path(&chain)),
        },
        None => pass.size,
    };
    let layer = Layer {
        chain_id: chain.clone(),
        diff_id: pass.diff_id.clone(),
        parent: opts.parent.clone(),
        size,
        blob_digest: blob_digest.clone(),
        blob_size: blob_digest.as_ref().map(|_| pass.blob.1),
        compression: pass.compression,
    };
    record(store, &layer)?;
    // An existing layer keeps its first recorded size and blob.
    store.layer_record(&chain)
}

/// Renames a complete, verified staging directory into `layers/<chain>`.
/// With fsync the layer is made durable first: a layer path that exists is
/// then complete even after a power cut.
pub(super) fn place(
    store: &Store,
    mut s: StagingDir,
    chain: &Digest,
    label: &str,
) -> Result<(), LayerError> {
    let io_err = |op: &'static str, path: &Path| {
        let (layer, path) = (label.to_string(), path.display().to_string());
        move |source| LayerError::Io {
            layer,
            op,
            path,
            source,
        }
    };
    if store.options().fsync {
        nix::unistd::syncfs(s.file()).map_err(|e| io_err("syncfs", s.path())(e.into()))?;
    }
    let dst = store.layers_dir().join(chain.hex());
    // A failed rename means another process put the same layer in place
    // first (share it; the StagingDir removes ours) — unless it was removed
    // again meanwhile, then ours takes its place.
    let mut attempt = fs::rename(s.path(), &dst);
    if attempt.is_err() && !dst.exists() {
        attempt = fs::rename(s.path(), &dst);
    }
    match attempt {
        Ok(()) => s.keep(),
        Err(e) if dst.join("diff").is_dir() => drop(e),
        Err(e) => return Err(io_err("rename into place", &dst)(e)),
    }
    Ok(())
}

/// Bytes held by the files below `dir` (symlinks count their target's
/// length), each inode once: Docker's `directory.Size`, used for layer and
/// volume sizes alike.
pub fn dir_size(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut seen = std::collections::HashSet::new();
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            } else if seen.insert((m.dev(), m.ino())) {
                total += m.len();
            }
        }
    }
    total
}

pub(super) fn verify(
    label: &str,
    what: &'static str,
    expected: Option<&Digest>,
    actual: &Digest,
) -> Result<(), LayerError> {
    match expected {
        Some(e) if e != actual => Err(LayerError::DigestMismatch {
            layer: label.to_string(),
            what,
            expected: e.clone(),
            actual: actual.clone(),
        }),
        _ => Ok(()),
    }
}

/// Reads the whole stream once, unpacking into `dest` if given. With
/// `known_blob` (the stream's digest, computed by whoever produced it) the
/// raw bytes are only counted, not hashed a second time.
pub(super) fn run_pass<R: Read>(
    reader: R,
    blob: Option<&mut BlobWriter>,
    dest: Option<&Path>,
    label: &str,
    known_blob: Option<&Digest>,
) -> Result<Pass, LayerError> {
    let mut raw = match known_blob {
        Some(_) => HashingReader::counting(reader),
        None => HashingReader::new(reader),
    };
    let mut tee = Tee {
        inner: &mut raw,
        out: blob,
    };
    let read_err = |compression, source: io::Error| {
        if compression == Compression::None {
            LayerError::Tar {
                layer: label.to_string(),
                reason: source.to_string(),
            }
        } else {
            LayerError::Decompress {
                layer: label.to_string(),
                compression,
                source,
            }
        }
    };
    let (compression, head) =
        compression::sniff(&mut tee).map_err(|e| read_err(Compression::None, e))?;
    let decoder = compression::decoder(compression, head).map_err(|e| read_err(compression, e))?;
    // A plain tar is its own diff: the blob hash is the diff id.
    let mut diff = if compression == Compression::None {
        HashingReader::counting(decoder)
    } else {
        HashingReader::new(decoder)
    };
    let size = match dest {
        // Decompressing and hashing on this thread, parsing the tar and
        // writing the files on another: the two halves of a compressed
        // layer's work run on two cores.
        Some(d) if compression != Compression::None => {
            let (unpacked, read_error) = unpack_beside(d, label, &mut diff);
            if let Some(e) = read_error {
                return Err(read_err(compression, e));
            }
            unpacked?
        }
        Some(d) => {
            let mut u = Unpacker::new(d, label)?;
            u.unpack(&mut diff, compression)?
        }
        None => 0,
    };
    // The diff id covers the whole uncompressed stream, including what
    // follows the end-of-archive blocks; the blob digest covers every byte.
    io::copy(&mut diff, &mut io::sink()).map_err(|e| read_err(compression, e))?;
    let (diff_id, _) = diff.finish_opt();
    io::copy(&mut tee, &mut io::sink()).map_err(|e| read_err(compression, e))?;
    let blob = match (raw.finish_opt(), known_blob) {
        ((Some(d), n), _) => (d, n),
        ((None, n), Some(d)) => (d.clone(), n),
        ((None, n), None) => (Digest::of_bytes(b""), n),
    };
    Ok(Pass {
        compression,
        diff_id: diff_id.unwrap_or_else(|| blob.0.clone()),
        blob,
        size,
    })
}

/// Unpacks the tar stream read from `src` into `dest` on a second thread,
/// fed through a pipe. Returns the unpack's result and, separately, an error
/// reading `src` (which the unpacker sees only as an aborted stream). Once
/// the tar has ended the rest of `src` is left for the caller to drain.
fn unpack_beside<R: Read>(
    dest: &Path,
    label: &str,
    src: &mut R,
) -> (Result<u64, LayerError>, Option<io::Error>) {
    let (mut w, r) = pipe();
    std::thread::scope(|s| {
        let spawned = std::thread::Builder::new()
            .name("berth-unpack".into())
            .spawn_scoped(s, move || {
                Unpacker::new(dest, label)?.unpack(r, Compression::None)
            });
        let Ok(unpacker) = spawned else {
            // No thread to spare (a pids limit): all of it on this one.
            let mut src = Recording {
                inner: src,
                error: None,
            };
            let unpacked =
                Unpacker::new(dest, label).and_then(|mut u| u.unpack(&mut src, Compression::None));
            return (unpacked, src.error);
        };
        let mut read_error = None;
        while w.is_open() {
            let mut buf = w.buffer();
            buf.resize(CHUNK, 0);
            match read_full(src, &mut buf) {
                Ok(0) => break,
                Ok(k) => {
                    buf.truncate(k);
                    w.send(buf);
                }
                Err(e) => {
                    read_error = Some(e);
                    break;
                }
            }
        }
        if read_error.is_none() {
            w.finish();
        } else {
            // Without an end mark the unpacker fails instead of taking a
            // cut stream for a complete one.
            drop(w);
        }
        // Unwinding builds (tests) pass a panic on; release builds abort.
        let unpacked = unpacker
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        (unpacked, read_error)
    })
}

/// Keeps the first error reading `inner`, which the tar parser would
/// otherwise report as its own.
struct Recording<'a, R> {
    inner: &'a mut R,
    error: Option<io::Error>,
}

impl<R: Read> Read for Recording<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            if self.error.is_none() {
                self.error = Some(io::Error::new(e.kind(), e.to_string()));
            }
        })
    }
}

pub(super) fn record(store: &Store, l: &Layer) -> Result<(), LayerError> {
    store.db().write(|tx| -> Result<(), LayerError> {
        tx.execute(
            "INSERT INTO layers (chain_id, diff_id, parent, size, blob_digest, blob_size, compression, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT(chain_id) DO UPDATE SET
                blob_digest = COALESCE(layers.blob_digest, excluded.blob_digest),
                blob_size = COALESCE(layers.blob_size, excluded.blob_size),
                compression = CASE WHEN layers.blob_digest IS NULL THEN excluded.compression ELSE layers.compression END,
                created_at = excluded.created_at",
            params![
                l.chain_id.to_string(),
                l.diff_id.to_string(),
                l.parent.as_ref().map(|p| p.to_string()),
                l.size as i64,
                l.blob_digest.as_ref().map(|d| d.to_string()),
                l.blob_size.map(|s| s as i64),
                l.compression.as_str(),
                now_secs(),
            ],
        )?;
        Ok(())
    })
}
