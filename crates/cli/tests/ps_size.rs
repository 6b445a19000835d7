//! `berth ps -s` and `{{.Size}}`: Docker's SIZE column, "<writable layer>
//! (virtual <image + writable layer>)", with each hard link counted once.

mod containers_support;

use containers_support::{Env, IMAGE};

/// Go's `units.HumanSizeWithPrecision(v, 3)` for the sizes this test
/// meets (bytes to tens of megabytes).
fn human3(v: u64) -> String {
    let (v, unit) = match v {
        0..=999 => return format!("{v}B"),
        1000..=999_999 => (v as f64 / 1e3, "kB"),
        _ => (v as f64 / 1e6, "MB"),
    };
    let decimals = if v < 10.0 {
        2
    } else if v < 100.0 {
        1
    } else {
        0
    };
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    format!("{s}{unit}")
}

#[test]
fn ps_size_shows_writable_and_virtual_sizes() {
    let env = Env::new();
    let image: u64 = env
        .ok(&["image", "inspect", "-f", "{{.Size}}", IMAGE])
        .trim()
        .parse()
        .unwrap();
    assert!(image > 100_000, "busybox image of {image} bytes");
    // 1500 bytes written, once more as a hard link (counted once), and a
    // directory (counted 0).
    env.ok(&[
        "run",
        "--name",
        "writer",
        IMAGE,
        "sh",
        "-c",
        "mkdir /d && head -c 1500 /dev/zero > /d/data && ln /d/data /d/link",
    ]);
    env.ok(&["run", "-d", "--name", "idle", IMAGE, "sleep", "1000"]);

    let table = env.ok(&["ps", "-a", "-s"]);
    let mut lines = table.lines();
    let header = lines.next().unwrap();
    assert!(header.ends_with("NAMES     SIZE"), "{table}");
    let writer = table.lines().find(|l| l.contains("writer")).unwrap();
    let expect = format!("1.5kB (virtual {})", human3(image + 1500));
    assert!(writer.ends_with(&expect), "{writer:?} vs {expect:?}");
    let idle = table.lines().find(|l| l.contains("idle")).unwrap();
    let expect_idle = format!("0B (virtual {})", human3(image));
    assert!(idle.ends_with(&expect_idle), "{idle:?} vs {expect_idle:?}");

    // {{.Size}} computes the sizes without -s; without either, no column.
    assert_eq!(
        env.ok(&[
            "ps",
            "-a",
            "-f",
            "name=writer",
            "--format",
            "{{.Names}}: {{.Size}}"
        ])
        .trim(),
        format!("writer: {expect}")
    );
    assert!(!env
        .ok(&["ps", "-a"])
        .lines()
        .next()
        .unwrap()
        .contains("SIZE"));
}
