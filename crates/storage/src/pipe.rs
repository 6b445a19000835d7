//! A byte pipe between two threads, so that one stage of a stream (reading
//! and hashing, decompressing) runs on one core while the next (parsing tar
//! and writing files) runs on the other. The bytes travel in a few
//! fixed-size buffers over a bounded channel and come back through a return
//! channel for reuse: memory stays flat whatever the stream's length.

use std::io::{self, Read};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};

/// Bytes per buffer.
pub(crate) const CHUNK: usize = 256 * 1024;
/// Buffers in flight before the writer waits for the reader.
const DEPTH: usize = 4;

enum Msg {
    Data(Vec<u8>),
    /// The stream is complete; one that ends without it was aborted.
    End,
}

/// A new pipe.
pub(crate) fn pipe() -> (PipeWriter, PipeReader) {
    let (tx, rx) = sync_channel(DEPTH);
    let (spare_tx, spare_rx) = channel();
    (
        PipeWriter {
            tx: Some(tx),
            spare: spare_rx,
        },
        PipeReader {
            rx,
            cur: Vec::new(),
            pos: 0,
            ended: false,
            spare: spare_tx,
        },
    )
}

/// The sending end. Dropping it without [`PipeWriter::finish`] makes the
/// reader fail instead of seeing a clean end of stream.
pub(crate) struct PipeWriter {
    /// `None` once the reader is gone.
    tx: Option<SyncSender<Msg>>,
    spare: Receiver<Vec<u8>>,
}

impl PipeWriter {
    /// A buffer of [`CHUNK`] bytes capacity, recycled when possible (old
    /// contents are left for the caller to overwrite: no memset).
    pub(crate) fn buffer(&self) -> Vec<u8> {
        self.spare
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK))
    }

    /// Hands `buf` to the reader, waiting while it is [`DEPTH`] buffers
    /// behind. Returns `false` (and drops `buf`) once the reader is gone.
    pub(crate) fn send(&mut self, buf: Vec<u8>) -> bool {
        if let Some(tx) = &self.tx {
            if tx.send(Msg::Data(buf)).is_ok() {
                return true;
            }
            self.tx = None;
        }
        false
    }

    /// Whether the reader still takes bytes.
    pub(crate) fn is_open(&self) -> bool {
        self.tx.is_some()
    }

    /// Ends the stream cleanly; returns whether the reader was still there.
    pub(crate) fn finish(mut self) -> bool {
        match self.tx.take() {
            Some(tx) => tx.send(Msg::End).is_ok(),
            None => false,
        }
    }
}

/// The receiving end, a plain `Read`.
pub(crate) struct PipeReader {
    rx: Receiver<Msg>,
    cur: Vec<u8>,
    pos: usize,
    /// `End` was received: every later read is end of stream.
    ended: bool,
    spare: Sender<Vec<u8>>,
}

impl Read for PipeReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            if self.ended {
                return Ok(0);
            }
            let next = match self.rx.recv() {
                Ok(Msg::Data(b)) => b,
                Ok(Msg::End) => {
                    self.ended = true;
                    return Ok(0);
                }
                Err(_) => return Err(io::Error::other("stream was not read to its end")),
            };
            let done = std::mem::replace(&mut self.cur, next);
            self.pos = 0;
            if done.capacity() > 0 {
                let _ = self.spare.send(done);
            }
        }
        let n = out.len().min(self.cur.len() - self.pos);
        out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
pub(crate) fn read_full<R: Read + ?Sized>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carries_every_byte_and_recycles_buffers() {
        let data: Vec<u8> = (0..(3 * CHUNK + 17)).map(|i| i as u8).collect();
        let (mut w, mut r) = pipe();
        let got = std::thread::scope(|s| {
            let h = s.spawn(move || {
                let mut out = Vec::new();
                r.read_to_end(&mut out).map(|_| out)
            });
            for c in data.chunks(CHUNK) {
                let mut b = w.buffer();
                b.clear();
                b.extend_from_slice(c);
                assert!(w.send(b));
            }
            assert!(w.finish());
            h.join().unwrap()
        });
        assert_eq!(got.unwrap(), data);
    }

    #[test]
    fn an_abandoned_stream_is_an_error_and_a_gone_reader_is_noticed() {
        let (mut w, mut r) = pipe();
        assert!(w.send(vec![1, 2, 3]));
        drop(w);
        let mut out = Vec::new();
        assert!(r.read_to_end(&mut out).is_err());
        let (mut w, r) = pipe();
        drop(r);
        assert!(!w.send(vec![1]));
        assert!(!w.is_open());
        assert!(!w.finish());
    }
}
