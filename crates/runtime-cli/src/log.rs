//! Log lines in runc's formats: logrus text (`time="…" level=error
//! msg="…"`) or JSON (`{"level":"error","msg":"…","time":"…"}`), which
//! containerd and conmon read back from `--log` to report a failure.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use crate::cli::LogFormat;

/// Where log lines go: the `--log` file if given, else stderr.
pub struct Logger {
    file: Option<File>,
    format: LogFormat,
    debug: bool,
}

impl Logger {
    /// Opens `--log` for appending (a file that cannot be opened is
    /// reported on stderr, and logging goes to stderr).
    pub fn new(path: Option<&Path>, format: LogFormat, debug: bool) -> Self {
        let file = path.and_then(|p| {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| eprintln!("berth-runtime: open log file {}: {e}", p.display()))
                .ok()
        });
        Logger {
            file,
            format,
            debug,
        }
    }

    /// Reports a fatal error: one line on stderr, and the same message in
    /// the log file's format.
    pub fn error(&mut self, msg: &str) {
        if self.file.is_some() || self.format == LogFormat::Text {
            eprintln!("berth-runtime: {msg}");
        }
        if self.file.is_some() || self.format == LogFormat::Json {
            self.write("error", msg);
        }
    }

    /// A warning (failed poststart/poststop hook).
    pub fn warn(&mut self, msg: &str) {
        self.write("warning", msg);
    }

    /// A debug line, with `--debug` only.
    pub fn debug(&mut self, msg: &str) {
        if self.debug {
            self.write("debug", msg);
        }
    }

    fn write(&mut self, level: &str, msg: &str) {
        let line = format_line(self.format, level, msg, &now());
        match &mut self.file {
            Some(f) => {
                let _ = f.write_all(line.as_bytes());
            }
            None => {
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
        }
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// One log line, newline-terminated.
pub fn format_line(format: LogFormat, level: &str, msg: &str, time: &str) -> String {
    match format {
        LogFormat::Json => {
            // serde_json's map is sorted: level, msg, time — runc's order.
            let v = serde_json::json!({ "level": level, "msg": msg, "time": time });
            format!("{v}\n")
        }
        LogFormat::Text => format!("time={} level={level} msg={}\n", quote(time), quote(msg)),
    }
}

/// Go's `%q`-style quoting for the text format.
fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_text_lines() {
        let j = format_line(LogFormat::Json, "error", "container \"x\" bad", "T");
        assert_eq!(
            j,
            "{\"level\":\"error\",\"msg\":\"container \\\"x\\\" bad\",\"time\":\"T\"}\n"
        );
        let t = format_line(LogFormat::Text, "error", "a \"b\"", "T");
        assert_eq!(t, "time=\"T\" level=error msg=\"a \\\"b\\\"\"\n");
    }
}
