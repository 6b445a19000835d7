//! The container log in Docker's json-file format: one JSON object per
//! line, `{"log":"hi\n","stream":"stdout","time":"…Z"}`; written by the
//! monitor, read by `logs` (with Docker's `--tail`, `--since`, `--until`,
//! `-t` and `-f`).

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use serde::{Deserialize, Serialize};

use crate::container::now_rfc3339;

/// Docker splits lines longer than this into several entries.
const MAX_ENTRY: usize = 16 * 1024;

/// One log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// The bytes, usually ending with `\n` (lossily UTF-8).
    pub log: String,
    /// `stdout` or `stderr`.
    pub stream: String,
    /// RFC 3339 nanosecond timestamp.
    pub time: String,
}

/// [`LogEntry`] borrowed, for writing (same fields, same order).
#[derive(Serialize)]
struct EntryRef<'a> {
    log: &'a str,
    stream: &'a str,
    time: &'a str,
}

/// Appends entries to a container's log.
pub struct LogWriter {
    path: PathBuf,
    /// None until the first entry when created by [`LogWriter::lazy`];
    /// buffered so a read of many lines is one write(2), flushed before
    /// [`LogWriter::feed`] returns (a `logs -f` sees every complete line).
    file: Option<BufWriter<File>>,
}

/// One output stream being logged: its name and the bytes after its last
/// newline, held until the line ends (or grows to Docker's entry limit).
pub struct LogStream {
    name: &'static str,
    pending: Vec<u8>,
}

impl LogStream {
    /// A stream named `name` (`stdout` or `stderr`) with nothing pending.
    pub fn new(name: &'static str) -> Self {
        LogStream {
            name,
            pending: Vec::new(),
        }
    }
}

impl LogWriter {
    /// Opens (creating) the log for appending.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let mut w = LogWriter::lazy(path);
        w.file()?;
        Ok(w)
    }

    /// A writer that creates the log with its first entry: a container
    /// that prints nothing costs no file create (readers treat a missing
    /// log as an empty one).
    pub fn lazy(path: &Path) -> Self {
        LogWriter {
            path: path.to_path_buf(),
            file: None,
        }
    }

    fn file(&mut self) -> std::io::Result<&mut BufWriter<File>> {
        if self.file.is_none() {
            let f = File::options().create(true).append(true).open(&self.path)?;
            self.file = Some(BufWriter::with_capacity(64 * 1024, f));
        }
        Ok(self.file.as_mut().expect("just opened"))
    }

    /// Writes one entry.
    pub fn write(&mut self, stream: &str, bytes: &[u8]) -> std::io::Result<()> {
        self.entry(stream, bytes, &now_rfc3339())?;
        self.flush()
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }

    /// Buffers one entry, serialised straight into the buffer (a copy of
    /// 100 MB of short lines is ~1M entries: no allocation per entry).
    fn entry(&mut self, stream: &str, bytes: &[u8], time: &str) -> std::io::Result<()> {
        let entry = EntryRef {
            log: &String::from_utf8_lossy(bytes),
            stream,
            time,
        };
        let file = self.file()?;
        serde_json::to_writer(&mut *file, &entry).map_err(std::io::Error::other)?;
        file.write_all(b"\n")
    }

    /// Logs `bytes` read from `stream`: one entry per complete line, lines
    /// longer than Docker's limit split; a partial line waits for the rest.
    /// Write errors are dropped: a full disk must not stop the container.
    pub fn feed(&mut self, stream: &mut LogStream, bytes: &[u8]) {
        let pending = &mut stream.pending;
        pending.extend_from_slice(bytes);
        // The lines of one read arrived together: one timestamp for all.
        let time = now_rfc3339();
        let mut start = 0;
        while let Some(pos) = pending[start..].iter().position(|b| *b == b'\n') {
            let end = start + pos + 1;
            // A long complete line is split too, as Docker's 16 KiB copier.
            while end - start > MAX_ENTRY {
                let _ = self.entry(stream.name, &pending[start..start + MAX_ENTRY], &time);
                start += MAX_ENTRY;
            }
            let _ = self.entry(stream.name, &pending[start..end], &time);
            start = end;
        }
        while pending.len() - start >= MAX_ENTRY {
            let _ = self.entry(stream.name, &pending[start..start + MAX_ENTRY], &time);
            start += MAX_ENTRY;
        }
        pending.drain(..start);
        let _ = self.flush();
    }

    /// Logs what is left of `stream` once it has ended: its last line,
    /// without a newline.
    pub fn finish(&mut self, stream: &mut LogStream) {
        if !stream.pending.is_empty() {
            let _ = self.write(stream.name, &stream.pending);
            stream.pending.clear();
        }
    }

    /// Copies the container's stdout and stderr pipes into the log, line by
    /// line, until both are closed.
    pub fn pump(&mut self, stdout: OwnedFd, stderr: OwnedFd) {
        let mut streams = [
            (Some(stdout), LogStream::new("stdout")),
            (Some(stderr), LogStream::new("stderr")),
        ];
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            let open: Vec<usize> = (0..2).filter(|i| streams[*i].0.is_some()).collect();
            if open.is_empty() {
                break;
            }
            let ready: Vec<(usize, bool)> = {
                let mut fds: Vec<PollFd> = open
                    .iter()
                    .map(|i| {
                        let fd = streams[*i].0.as_ref().map(|f| f.as_fd());
                        PollFd::new(fd.expect("open stream has an fd"), PollFlags::POLLIN)
                    })
                    .collect();
                match poll(&mut fds, PollTimeout::NONE) {
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(_) => break,
                    Ok(_) => {}
                }
                open.iter()
                    .zip(fds.iter())
                    .map(|(i, f)| (*i, f.revents().is_some_and(|r| !r.is_empty())))
                    .collect()
            };
            for (i, is_ready) in ready {
                if !is_ready {
                    continue;
                }
                let (fd, stream) = &mut streams[i];
                let n = match fd.as_ref().map(|f| nix::unistd::read(f, &mut buf)) {
                    Some(Ok(n)) => n,
                    Some(Err(nix::errno::Errno::EINTR)) => continue,
                    _ => 0,
                };
                if n == 0 {
                    self.finish(stream);
                    *fd = None;
                    continue;
                }
                self.feed(stream, &buf[..n]);
            }
        }
    }
}

impl LogWriter {
    /// Copies a `-t` container's pty into the log until every slave fd is
    /// closed (EIO), as Docker does: one `stdout` stream, lines as the
    /// terminal wrote them (`\r\n`).
    pub fn pump_pty(&mut self, master: OwnedFd) {
        let mut stream = LogStream::new("stdout");
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            let n = match nix::unistd::read(&master, &mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR) => continue,
                // EIO: the container and everything it started are gone.
                Err(_) => break,
            };
            self.feed(&mut stream, &buf[..n]);
        }
        self.finish(&mut stream);
    }
}

/// What `logs` prints.
#[derive(Debug, Clone, Default)]
pub struct LogsOptions {
    /// Keep printing new entries while the container runs.
    pub follow: bool,
    /// Only the last N entries.
    pub tail: Option<usize>,
    /// Prefix each line with its timestamp.
    pub timestamps: bool,
    /// `--details`: each line after its log attributes and a space; berth
    /// records no attributes (no `--log-opt labels/env`), so a space.
    pub details: bool,
    /// Skip entries older than this (`--since`).
    pub since: Option<DateTime<Utc>>,
    /// Stop at the first entry newer than this (`--until`); a follow ends
    /// when this time has passed.
    pub until: Option<DateTime<Utc>>,
}

/// What to do with one entry under `--since`/`--until`.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Emit,
    Skip,
    Stop,
}

impl LogsOptions {
    /// Docker's json-file reader: `--tail` picks lines first, then entries
    /// before `since` are skipped and the first after `until` ends it all.
    fn judge(&self, entry: &LogEntry) -> Verdict {
        if self.since.is_none() && self.until.is_none() {
            return Verdict::Emit;
        }
        // An entry whose time cannot be read is shown, as nothing says
        // it is out of range.
        let Ok(t) = DateTime::parse_from_rfc3339(&entry.time) else {
            return Verdict::Emit;
        };
        if self.since.is_some_and(|s| t < s) {
            return Verdict::Skip;
        }
        if self.until.is_some_and(|u| t > u) {
            return Verdict::Stop;
        }
        Verdict::Emit
    }

    /// True once `until` is in the past: a follow has nothing more to wait
    /// for.
    fn until_passed(&self) -> bool {
        self.until.is_some_and(|u| Utc::now() > u)
    }
}

fn emit(
    entry: &LogEntry,
    opts: &LogsOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<()> {
    let w: &mut dyn Write = if entry.stream == "stderr" { err } else { out };
    if opts.timestamps {
        write!(w, "{} ", entry.time)?;
    }
    if opts.details {
        w.write_all(b" ")?;
    }
    w.write_all(entry.log.as_bytes())?;
    w.flush()
}

/// Prints a log file; with `follow`, keeps reading until `running()`
/// turns false and the file has no more data.
pub fn print_logs(
    path: &Path,
    opts: &LogsOptions,
    running: &mut dyn FnMut() -> bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<()> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if !opts.follow {
                return Ok(());
            }
            // The monitor creates the log with its first output.
            loop {
                if let Ok(f) = File::open(path) {
                    break f;
                }
                if !running() {
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Err(e) => return Err(e),
    };
    let mut reader = BufReader::new(file);
    let mut entries = Vec::new();
    let mut line = String::new();
    while reader.read_line(&mut line)? > 0 {
        if line.ends_with('\n') {
            if let Ok(e) = serde_json::from_str::<LogEntry>(&line) {
                entries.push(e);
            }
            line.clear();
        } else {
            break;
        }
    }
    let skip = opts.tail.map_or(0, |n| entries.len().saturating_sub(n));
    for e in &entries[skip..] {
        match opts.judge(e) {
            Verdict::Emit => emit(e, opts, out, err)?,
            Verdict::Skip => {}
            Verdict::Stop => return Ok(()),
        }
    }
    if !opts.follow {
        return Ok(());
    }
    let mut pos = reader.stream_position()? - line.len() as u64;
    let mut file = reader.into_inner();
    loop {
        let alive = running() && !opts.until_passed();
        file.seek(SeekFrom::Start(pos))?;
        let mut reader = BufReader::new(&file);
        let mut got = false;
        let mut l = String::new();
        while reader.read_line(&mut l)? > 0 && l.ends_with('\n') {
            pos += l.len() as u64;
            if let Ok(e) = serde_json::from_str::<LogEntry>(&l) {
                match opts.judge(&e) {
                    Verdict::Emit => emit(&e, opts, out, err)?,
                    Verdict::Skip => {}
                    Verdict::Stop => return Ok(()),
                }
            }
            got = true;
            l.clear();
        }
        if !alive && !got {
            return Ok(());
        }
        if !got {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pump_splits_lines_and_streams() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctr.log");
        let (out_r, out_w) = nix::unistd::pipe().unwrap();
        let (err_r, err_w) = nix::unistd::pipe().unwrap();
        let writer = std::thread::spawn(move || {
            let mut o = File::from(out_w);
            let mut e = File::from(err_w);
            o.write_all(b"hello\nwor").unwrap();
            e.write_all(b"oops\n").unwrap();
            o.write_all(b"ld\nno newline").unwrap();
        });
        let mut log = LogWriter::open(&path).unwrap();
        log.pump(out_r, err_r);
        writer.join().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let entries: Vec<LogEntry> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let stdout: Vec<&str> = entries
            .iter()
            .filter(|e| e.stream == "stdout")
            .map(|e| e.log.as_str())
            .collect();
        assert_eq!(stdout, vec!["hello\n", "world\n", "no newline"]);
        assert!(entries
            .iter()
            .any(|e| e.stream == "stderr" && e.log == "oops\n"));
        assert!(entries[0].time.ends_with('Z'));

        let (mut out, mut err) = (Vec::new(), Vec::new());
        let opts = LogsOptions {
            tail: Some(1),
            ..Default::default()
        };
        print_logs(&path, &opts, &mut || false, &mut out, &mut err).unwrap();
        let all = String::from_utf8(out).unwrap() + &String::from_utf8(err).unwrap();
        assert_eq!(all, entries.last().unwrap().log);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let opts = LogsOptions {
            timestamps: true,
            follow: true,
            ..Default::default()
        };
        print_logs(&path, &opts, &mut || false, &mut out, &mut err).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.lines().next().unwrap().ends_with("Z hello"));
    }

    #[test]
    fn a_long_line_is_split_at_docker_s_16_kib() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctr.log");
        let mut log = LogWriter::lazy(&path);
        let mut out = LogStream::new("stdout");
        let line = "x".repeat(30_000) + "\n";
        log.feed(&mut out, line.as_bytes());
        log.finish(&mut out);
        let text = std::fs::read_to_string(&path).unwrap();
        let sizes: Vec<usize> = text
            .lines()
            .map(|l| serde_json::from_str::<LogEntry>(l).unwrap().log.len())
            .collect();
        assert_eq!(sizes, [16_384, 13_617]);
    }

    /// A log with one entry per second from 10:00:00 to 10:00:04 UTC.
    fn five_entries(dir: &Path) -> std::path::PathBuf {
        let path = dir.join("ctr.log");
        let mut text = String::new();
        for i in 0..5 {
            let e = LogEntry {
                log: format!("line{i}\n"),
                stream: if i == 2 { "stderr" } else { "stdout" }.into(),
                time: format!("2024-05-06T10:00:0{i}.5Z"),
            };
            text += &serde_json::to_string(&e).unwrap();
            text.push('\n');
        }
        std::fs::write(&path, text).unwrap();
        path
    }

    fn printed(path: &Path, opts: &LogsOptions) -> String {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        print_logs(path, opts, &mut || false, &mut out, &mut err).unwrap();
        String::from_utf8(out).unwrap() + &String::from_utf8(err).unwrap()
    }

    #[test]
    fn since_until_and_tail_select_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = five_entries(dir.path());
        let t = |s: &str| Some(DateTime::parse_from_rfc3339(s).unwrap().to_utc());
        let opts = |since, until, tail| LogsOptions {
            since,
            until,
            tail,
            ..Default::default()
        };
        // since is inclusive, until is inclusive, as Docker's Before/After.
        let o = opts(t("2024-05-06T10:00:02.5Z"), None, None);
        assert_eq!(printed(&path, &o), "line3\nline4\nline2\n");
        let o = opts(None, t("2024-05-06T10:00:01.5Z"), None);
        assert_eq!(printed(&path, &o), "line0\nline1\n");
        let o = opts(t("2024-05-06T10:00:01Z"), t("2024-05-06T10:00:03Z"), None);
        assert_eq!(printed(&path, &o), "line1\nline2\n");
        // --tail picks the last lines first, then the times filter them.
        let o = opts(None, t("2024-05-06T10:00:03Z"), Some(3));
        assert_eq!(printed(&path, &o), "line2\n");
        let o = opts(t("2024-05-06T10:00:00Z"), None, Some(2));
        assert_eq!(printed(&path, &o), "line3\nline4\n");
        // A follow whose until has passed ends after the old entries.
        let o = LogsOptions {
            follow: true,
            timestamps: true,
            until: t("2024-05-06T10:00:00.5Z"),
            ..Default::default()
        };
        let running_forever = &mut || true;
        let (mut out, mut err) = (Vec::new(), Vec::new());
        print_logs(&path, &o, running_forever, &mut out, &mut err).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2024-05-06T10:00:00.5Z line0\n"
        );
    }

    #[test]
    fn pump_pty_logs_the_terminal_stream() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctr.log");
        let pty = nix::pty::openpty(None, None).unwrap();
        let slave = pty.slave;
        let writer = std::thread::spawn(move || {
            let mut s = File::from(slave);
            s.write_all(b"hello\nlast").unwrap();
            // Dropping the only slave fd makes the master read EIO.
        });
        writer.join().unwrap();
        let mut log = LogWriter::open(&path).unwrap();
        log.pump_pty(pty.master);
        let entries: Vec<LogEntry> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let logged: Vec<(&str, &str)> = entries
            .iter()
            .map(|e| (e.stream.as_str(), e.log.as_str()))
            .collect();
        // The pty's line discipline turns \n into \r\n, as Docker logs it.
        assert_eq!(logged, vec![("stdout", "hello\r\n"), ("stdout", "last")]);
    }
}
