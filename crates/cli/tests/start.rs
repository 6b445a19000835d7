//! The process start and end berth does itself instead of std's runtime
//! (`main.rs`, `start.rs`): what a caller sees of it stays as before.

use std::process::{Command, Stdio};

const BERTH: &str = env!("CARGO_BIN_EXE_berth");

#[test]
fn version_is_printed_whole_and_exits_zero() {
    for flag in ["--version", "-V"] {
        let out = Command::new(BERTH).arg(flag).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{flag}");
        let want = format!("berth {}\n", env!("CARGO_PKG_VERSION"));
        assert_eq!(String::from_utf8_lossy(&out.stdout), want, "{flag}");
        assert!(out.stderr.is_empty(), "{flag}");
    }
}

/// std ignored SIGPIPE for `fn main`; berth's own start must too, or a
/// reader that goes away (`berth --help | head -1`) kills it by signal.
#[test]
fn a_closed_pipe_gives_epipe_not_sigpipe() {
    let (rd, wr) = nix::unistd::pipe().unwrap();
    drop(rd);
    let status = Command::new(BERTH)
        .arg("--help")
        .stdout(Stdio::from(wr))
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
}

/// The top-level help is the one-line about and the compact layout, for
/// `-h` and `--help` alike: no second paragraph of the source's doc
/// comment may turn into a `long_about`.
#[test]
fn top_level_help_is_the_one_line_about() {
    for flag in ["--help", "-h"] {
        let out = Command::new(BERTH).arg(flag).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{flag}");
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("A daemonless, Docker-compatible container engine"),
            "{flag}: {text}"
        );
        assert_eq!(lines.next(), Some(""), "{flag}: {text}");
        assert!(
            lines.next().is_some_and(|l| l.starts_with("Usage: berth")),
            "{flag}: {text}"
        );
        assert!(!text.contains("see a summary with"), "{flag}: {text}");
        assert!(!text.contains("see more with"), "{flag}: {text}");
    }
}
