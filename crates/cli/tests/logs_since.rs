//! `berth logs --since/--until` with RFC 3339 times, Unix timestamps and
//! Go durations, combined with `--tail`, `-t` and `-f`, on a real
//! container's log; bad values fail with one line naming the flag.

mod containers_support;

use std::time::{Duration, Instant};

use containers_support::{Env, IMAGE};

/// Polls `logs` until it holds `needle` (10 s at most).
fn wait_for_log(env: &Env, name: &str, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = env.berth(&["logs", name]);
        if r.stdout.contains(needle) || r.stderr.contains(needle) {
            return;
        }
        assert!(Instant::now() < deadline, "no {needle:?} in the log");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn logs_since_and_until() {
    let env = Env::new();
    env.ok(&[
        "run",
        "-d",
        "--name",
        "clock",
        IMAGE,
        "sh",
        "-c",
        "echo first; sleep 1.2; echo second >&2; sleep 1000",
    ]);
    wait_for_log(&env, "clock", "second");

    // The times the log recorded, from `-t`.
    let stamped = env.berth(&["logs", "-t", "clock"]);
    let time_of = |line: &str| -> String {
        let all = format!("{}{}", stamped.stdout, stamped.stderr);
        let l = all.lines().find(|l| l.ends_with(line)).unwrap().to_string();
        l.split(' ').next().unwrap().to_string()
    };
    let (t1, t2) = (time_of(" first"), time_of(" second"));
    assert!(t1 < t2, "{t1} {t2}");

    let logs = |args: &[&str]| {
        let mut all = vec!["logs"];
        all.extend_from_slice(args);
        all.push("clock");
        let r = env.berth(&all);
        assert_eq!(r.code, 0, "logs {args:?}: {}", r.stderr);
        format!("{}{}", r.stdout, r.stderr)
    };
    // RFC 3339, both ends inclusive.
    assert_eq!(logs(&["--since", &t2]), "second\n");
    assert_eq!(logs(&["--until", &t1]), "first\n");
    assert_eq!(logs(&["--since", &t1, "--until", &t1]), "first\n");
    // Go durations count back from now; in the future there is nothing.
    assert_eq!(logs(&["--since", "1h"]), "first\nsecond\n");
    assert_eq!(logs(&["--since", "-1h"]), "");
    assert_eq!(logs(&["--until", "1h"]), "");
    // A Unix timestamp: the whole second before `second`, so both lines
    // when `first` was printed in that second, else only `second`.
    let t2_secs = chrono::DateTime::parse_from_rfc3339(&t2)
        .unwrap()
        .timestamp();
    let t1_secs = chrono::DateTime::parse_from_rfc3339(&t1)
        .unwrap()
        .timestamp();
    let expect = if t1_secs == t2_secs {
        "first\nsecond\n"
    } else {
        "second\n"
    };
    assert_eq!(logs(&["--since", &t2_secs.to_string()]), expect);
    // --tail takes the last lines first; -t prints the recorded times.
    assert_eq!(logs(&["--tail", "1", "--since", "1h"]), "second\n");
    assert_eq!(logs(&["--tail", "1", "--until", &t1]), "");
    assert_eq!(logs(&["-t", "--since", &t2]), format!("{t2} second\n"));
    // --details: no log attributes, so one space, after the time (Docker).
    assert_eq!(logs(&["--details"]), " first\n second\n");
    assert_eq!(
        logs(&["--details", "-t", "--since", &t2]),
        format!("{t2}  second\n")
    );

    // -f ends once --until has passed although the container still runs.
    let start = Instant::now();
    assert_eq!(logs(&["-f", "--until", "-2s"]), "first\nsecond\n");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(8),
        "{took:?}"
    );

    for (flag, value, needle) in [
        (
            "--since",
            "yesterday",
            "invalid value for \"since\": failed to parse value as time or duration: \"yesterday\"",
        ),
        ("--until", "2024-13-45", "invalid value for \"until\""),
    ] {
        let r = env.berth(&["logs", flag, value, "clock"]);
        assert_eq!(r.code, 125, "{}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
        assert!(r.stderr.contains(needle), "{}", r.stderr);
    }
}
