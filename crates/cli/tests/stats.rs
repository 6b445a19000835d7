//! `berth stats --no-stream`: Docker's columns from each container's
//! cgroup, on this host's layout (hybrid: v1 controllers) and in a private
//! pure-cgroup2 view of the same machine (where the v2 files are read).

mod containers_support;

use std::process::Command;

use containers_support::{Env, IMAGE};

/// The cells of the row of container `name` in a default stats table:
/// ID, NAME, CPU %, MEM USAGE / LIMIT, MEM %, NET I/O, BLOCK I/O, PIDS.
fn cells(table: &str, name: &str) -> Vec<String> {
    let line = table
        .lines()
        .find(|l| l.split("   ").nth(1).map(str::trim) == Some(name))
        .unwrap_or_else(|| panic!("no {name} in {table}"));
    line.split("   ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}

fn percent(cell: &str) -> f64 {
    cell.strip_suffix('%').unwrap().parse().unwrap()
}

/// "12.5MiB" in bytes.
fn bytes(cell: &str) -> f64 {
    let split = cell.find(|c: char| c.is_ascii_alphabetic()).unwrap();
    let (n, unit) = cell.split_at(split);
    let scale = match unit {
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        other => panic!("unit {other}"),
    };
    n.parse::<f64>().unwrap() * scale
}

#[test]
fn stats_no_stream_reads_the_cgroups() {
    let env = Env::new();
    env.ok(&[
        "run",
        "-d",
        "--name",
        "burn",
        "--memory",
        "64m",
        IMAGE,
        "sh",
        "-c",
        "while :; do :; done",
    ]);
    // 20 MB in the container's /dev/shm is charged to its memory cgroup.
    env.ok(&[
        "run",
        "-d",
        "--name",
        "holder",
        IMAGE,
        "sh",
        "-c",
        "head -c 20000000 /dev/zero > /dev/shm/x; sleep 1000 & sleep 1000 & wait",
    ]);
    env.ok(&["create", "--name", "never", IMAGE, "true"]);
    // Until the holder has written its 20 MB and sleeps.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let table = loop {
        let t = env.ok(&["stats", "--no-stream"]);
        let holder = cells(&t, "holder");
        let used = bytes(holder[3].split(" / ").next().unwrap());
        if (used > 19e6 && holder[2] == "0.00%") || std::time::Instant::now() > deadline {
            break t;
        }
    };
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap()
        .split("   ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        header,
        [
            "CONTAINER ID",
            "NAME",
            "CPU %",
            "MEM USAGE / LIMIT",
            "MEM %",
            "NET I/O",
            "BLOCK I/O",
            "PIDS"
        ]
    );
    assert!(!table.contains("never"), "{table}");

    let burn = cells(&table, "burn");
    assert_eq!(burn[0].len(), 12);
    // A busy loop: well above idle even on a loaded machine, at most all
    // the cpus.
    let cpu = percent(&burn[2]);
    assert!(cpu > 5.0 && cpu < 200.5, "{table}");
    let (used, limit) = burn[3].split_once(" / ").unwrap();
    assert_eq!(limit, "64MiB");
    let mem_pct = percent(&burn[4]);
    let expect = bytes(used) / bytes(limit) * 100.0;
    assert!((mem_pct - expect).abs() < 0.1, "{table}");
    assert_eq!(burn[5], "0B / 0B");
    assert_eq!(burn[7], "1");

    let holder = cells(&table, "holder");
    assert_eq!(holder[2], "0.00%", "{table}");
    let (used, limit) = holder[3].split_once(" / ").unwrap();
    assert!(bytes(used) > 19e6 && bytes(used) < 64e6, "{table}");
    // Unlimited: the host's memory.
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let kb: f64 = meminfo
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (bytes(limit) - kb * 1024.0).abs() / (kb * 1024.0) < 0.001,
        "{limit} vs {kb} kB"
    );
    assert_eq!(holder[7], "3", "sh and two sleeps: {table}");

    // -a adds the created container with zeros; --format and names.
    let all = env.ok(&[
        "stats",
        "--no-stream",
        "-a",
        "--format",
        "{{.Name}}: {{.CPUPerc}} {{.MemUsage}} {{.PIDs}}",
    ]);
    assert!(all.lines().any(|l| l == "never: 0.00% 0B / 0B 0"), "{all}");
    assert_eq!(all.lines().count(), 3, "{all}");
    let one = env.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Container}} {{.Name}}",
        "holder",
    ]);
    assert_eq!(one, "holder holder\n");

    let r = env.berth(&["stats", "--no-stream", "nosuch"]);
    assert_eq!(r.code, 125, "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("No such container: nosuch"),
        "{}",
        r.stderr
    );

    // Without --no-stream: a fresh table every second on a cleared
    // screen, until interrupted.
    let mut child = env
        .cmd(&["stats", "--format", "{{.Name}} {{.PIDs}}", "holder"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut text);
        text
    });
    std::thread::sleep(std::time::Duration::from_millis(3500));
    child.kill().unwrap();
    child.wait().unwrap();
    let text = reader.join().unwrap();
    let frames: Vec<&str> = text.split("\x1b[2J\x1b[H").skip(1).collect();
    assert!(frames.len() >= 2, "{text:?}");
    assert!(frames.iter().all(|f| *f == "holder 3\n"), "{text:?}");
}

/// Runs `script` (with `$B` the berth command line of `env`) in a private
/// mount namespace where /sys/fs/cgroup is cgroup2 only.
fn in_v2_view(env: &Env, script: &str) -> std::process::Output {
    let berth = format!(
        "{} --root {} --runroot {}",
        env!("CARGO_BIN_EXE_berth"),
        env.root().display(),
        env.runroot().display()
    );
    Command::new("unshare")
        .args(["-m", "sh", "-c"])
        .arg(format!(
            "mount --make-rprivate / && umount -R /sys/fs/cgroup && \
             mount -t cgroup2 none /sys/fs/cgroup && B='{berth}' && {script}"
        ))
        .output()
        .unwrap()
}

/// Removes the containers from inside the v2 view (where their cgroups
/// are), even when the test fails; Env's drop then finds nothing left.
struct V2Cleanup<'a>(&'a Env);

impl Drop for V2Cleanup<'_> {
    fn drop(&mut self) {
        let _ = in_v2_view(self.0, "$B rm -f v2burn");
    }
}

#[test]
fn stats_no_stream_in_a_pure_cgroup2_view() {
    let env = Env::new();
    let _cleanup = V2Cleanup(&env);
    let out = in_v2_view(
        &env,
        "$B run -d --name v2burn busybox sh -c 'while :; do :; done' >/dev/null && \
         $B stats --no-stream --format '{{.Name}} {{.CPUPerc}} {{.NetIO}}' v2burn && \
         cat /sys/fs/cgroup/cgroup.controllers",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines = stdout.lines();
    let row: Vec<&str> = lines.next().unwrap().split(' ').collect();
    assert_eq!(row[0], "v2burn");
    // cpu.stat is in every cgroup2 directory, whatever controllers the
    // host bound to v1: the busy loop shows.
    let cpu = percent(row[1]);
    assert!(cpu > 5.0 && cpu < 200.5, "{stdout}");
    assert_eq!(row[2..], ["0B", "/", "0B"]);
}
