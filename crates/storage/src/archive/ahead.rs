//! Unpack-ahead: while the scan streams an archive's big entries into the
//! blob store (reading, hashing, writing the blob), a second thread
//! unpacks the same bytes as a layer into staging, so `load` needs no
//! second pass over the stored blobs and uses both cores. The manifest
//! that says which entries are layers may come last, so every big entry
//! is tried; one that is not a tar (or is refused) is simply dropped and,
//! if it does turn out to be a layer, unpacked again from its stored blob,
//! which reports the error with its name.
//!
//! The bytes travel through a `pipe`, so memory stays flat whatever the
//! archive's size.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::{channel, Sender};
use std::thread::{Scope, ScopedJoinHandle};

use crate::digest::Digest;
use crate::layers::{prestage, Prestaged};
use crate::pipe::{pipe, PipeReader, PipeWriter};

/// One entry to unpack: its bytes arrive on `reader`.
struct Job {
    id: usize,
    reader: PipeReader,
}

/// The scan's side: starts an entry, feeds it, names it by digest.
pub(super) struct Ahead {
    jobs: Sender<Job>,
    /// The blob digest of each started entry, once fed completely.
    digests: Vec<Option<Digest>>,
}

/// The unpacker thread; [`Worker::finish`] collects what it staged.
pub(super) struct Worker<'s> {
    handle: Option<ScopedJoinHandle<'s, Vec<(usize, Prestaged)>>>,
}

/// Starts the unpacker thread on `scope`, staging into `tmp`.
pub(super) fn start<'s, 'e>(scope: &'s Scope<'s, 'e>, tmp: PathBuf) -> (Ahead, Worker<'s>) {
    let (jobs_tx, jobs_rx) = channel::<Job>();
    // Without a thread to spare (a pids limit) the receiver is dropped
    // with the closure: every feed stops at its first send, and load
    // unpacks from the stored blobs as before.
    let spawned = std::thread::Builder::new()
        .name("berth-ahead".into())
        .spawn_scoped(scope, move || {
            let mut out = Vec::new();
            for job in jobs_rx {
                // A failure only means this entry is not (usable as) a layer;
                // the reader is dropped, which tells the scan to stop feeding.
                if let Ok(p) = prestage(&tmp, job.reader) {
                    out.push((job.id, p));
                }
            }
            out
        });
    let ahead = Ahead {
        jobs: jobs_tx,
        digests: Vec::new(),
    };
    (
        ahead,
        Worker {
            handle: spawned.ok(),
        },
    )
}

impl Ahead {
    /// Starts a new entry.
    pub(super) fn begin(&mut self) -> Feed {
        let (writer, reader) = pipe();
        let id = self.digests.len();
        self.digests.push(None);
        // If the worker is gone the reader is dropped with the job, and
        // the feed notices at its first send.
        let _ = self.jobs.send(Job { id, reader });
        Feed { id, writer }
    }

    /// Marks the entry as completely fed, with the digest of its bytes.
    pub(super) fn end(&mut self, feed: Feed, digest: &Digest) {
        if feed.writer.finish() {
            self.digests[feed.id] = Some(digest.clone());
        }
    }
}

/// One entry being fed to the unpacker.
pub(super) struct Feed {
    id: usize,
    writer: PipeWriter,
}

impl Feed {
    /// A buffer to fill and [`Feed::send`].
    pub(super) fn buffer(&self) -> Vec<u8> {
        self.writer.buffer()
    }

    /// Hands `buf` to the unpacker (waits while it is behind).
    pub(super) fn send(&mut self, buf: Vec<u8>) {
        self.writer.send(buf);
    }
}

impl Worker<'_> {
    /// Waits for the unpacker (`ahead` is consumed: no more entries) and
    /// returns the completely fed entries it staged, by blob digest.
    pub(super) fn finish(self, ahead: Ahead) -> HashMap<Digest, Prestaged> {
        let Ahead { jobs, digests } = ahead;
        drop(jobs);
        // Only in an unwinding build (tests) can a panicked unpacker be
        // joined: it then loses just the head start. Release builds abort,
        // and the next store open removes the staging left behind.
        let staged = match self.handle {
            Some(h) => h.join().unwrap_or_default(),
            None => Vec::new(),
        };
        let mut out = HashMap::new();
        for (id, p) in staged {
            if let Some(Some(d)) = digests.get(id) {
                out.entry(d.clone()).or_insert(p);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipe::CHUNK;
    use crate::store::Store;

    fn feed_all(ahead: &mut Ahead, data: &[u8], end: bool) -> Digest {
        let mut f = ahead.begin();
        for c in data.chunks(CHUNK / 3) {
            let mut b = f.buffer();
            b.clear();
            b.extend_from_slice(c);
            f.send(b);
        }
        let d = Digest::of_bytes(data);
        if end {
            ahead.end(f, &d);
        }
        d
    }

    fn tar_with(name: &str, len: usize) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_size(len as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, name, &vec![7u8; len][..]).unwrap();
        b.into_inner().unwrap()
    }

    #[test]
    fn stages_complete_entries_only_and_commits_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let layer = tar_with("f", 3 * CHUNK);
        let other = tar_with("g", 10);
        let staged = std::thread::scope(|s| {
            let (mut ahead, worker) = start(s, store.tmp_dir());
            let d = feed_all(&mut ahead, &layer, true);
            // Fed but aborted (the scan failed mid-entry): not staged.
            feed_all(&mut ahead, &other, false);
            // Not a tar: refused by the unpacker, not staged.
            feed_all(&mut ahead, &[1u8; 5000], true);
            let staged = worker.finish(ahead);
            assert_eq!(staged.keys().collect::<Vec<_>>(), [&d]);
            staged
        });
        let d = Digest::of_bytes(&layer);
        let mut staged = staged;
        let p = staged.remove(&d).unwrap();
        let l = store.commit_prestaged(p, &d, None, &d).unwrap();
        assert_eq!(l.diff_id, d);
        assert_eq!(
            std::fs::read(store.layer_path(&l.chain_id).join("f")).unwrap(),
            vec![7u8; 3 * CHUNK]
        );
        assert_eq!(std::fs::read_dir(store.tmp_dir()).unwrap().count(), 0);
    }

    #[test]
    fn dropping_staged_layers_removes_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let layer = tar_with("f", 100);
        let staged = std::thread::scope(|s| {
            let (mut ahead, worker) = start(s, store.tmp_dir());
            feed_all(&mut ahead, &layer, true);
            worker.finish(ahead)
        });
        assert_eq!(staged.len(), 1);
        assert_eq!(std::fs::read_dir(store.tmp_dir()).unwrap().count(), 1);
        drop(staged);
        assert_eq!(std::fs::read_dir(store.tmp_dir()).unwrap().count(), 0);
    }
}
