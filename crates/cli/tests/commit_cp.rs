//! `export` and `cp` as root: the merged filesystem without volume content
//! (re-imported by `berth import`), copies in both directions for stopped
//! and running containers, Docker's `/.` rule, tar streams on `-`, and the
//! host's mount table untouched.

mod common;
mod containers_support;

use std::fs;
use std::io::Read;

use containers_support::{Env, IMAGE};

fn mountinfo() -> String {
    fs::read_to_string("/proc/self/mountinfo").unwrap()
}

fn tar_names(bytes: &[u8]) -> Vec<String> {
    let mut a = tar::Archive::new(bytes);
    a.entries()
        .unwrap()
        .map(|e| String::from_utf8(e.unwrap().path_bytes().to_vec()).unwrap())
        .collect()
}

#[test]
fn export_is_the_merged_tree_without_volume_content() {
    let env = Env::new();
    let mounts = mountinfo();
    env.ok(&[
        "run",
        "--name",
        "ctr",
        "-v",
        "/test",
        IMAGE,
        "sh",
        "-c",
        "echo vol > /test/in-volume && echo out > /etc/outside-volume && rm /etc/group",
    ]);
    let out = env.cmd(&["export", "ctr"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names = tar_names(&out.stdout);
    for want in [
        "etc/",
        "etc/outside-volume",
        "etc/passwd",
        "bin/busybox",
        "test/",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} missing: {names:?}");
    }
    for unwanted in ["etc/group", "test/in-volume"] {
        assert!(!names.iter().any(|n| n == unwanted), "{unwanted} exported");
    }
    assert!(
        !names.iter().any(|n| n.contains(".wh.")),
        "whiteout exported"
    );
    assert_eq!(mountinfo(), mounts, "export changed the mount table");

    // `-o FILE`, then `berth import` of it runs.
    let file = env.dir.path().join("ctr.tar");
    env.ok(&["export", "-o", file.to_str().unwrap(), "ctr"]);
    assert_eq!(
        fs::read(&file).unwrap(),
        out.stdout,
        "export is deterministic"
    );
    env.ok(&["import", file.to_str().unwrap(), "exported:1"]);
    let cat = env.ok(&[
        "run",
        "--rm",
        "exported:1",
        "sh",
        "-c",
        "cat /etc/outside-volume; test -e /etc/group || echo no-group",
    ]);
    assert_eq!(cat, "out\nno-group\n");
}

#[test]
fn cp_both_ways_on_a_stopped_container() {
    let env = Env::new();
    let mounts = mountinfo();
    env.ok(&[
        "run",
        "--name",
        "ctr",
        IMAGE,
        "sh",
        "-c",
        "mkdir -p /srv/d/sub && echo one > /srv/d/one && echo two > /srv/d/sub/two \
         && ln -s one /srv/d/link && chmod 640 /srv/d/one",
    ]);
    let host = env.dir.path().join("host");
    fs::create_dir(&host).unwrap();
    let h = host.to_str().unwrap();

    // A directory into an existing dir keeps its name; `/.` copies content.
    env.ok(&["cp", "ctr:/srv/d", h]);
    assert_eq!(
        common::tree(&host),
        ["d", "d/link", "d/one", "d/sub", "d/sub/two"]
    );
    assert_eq!(
        fs::read_link(host.join("d/link")).unwrap().to_str(),
        Some("one")
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(host.join("d/one"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640);
    let flat = env.dir.path().join("flat");
    fs::create_dir(&flat).unwrap();
    env.ok(&["cp", "ctr:/srv/d/.", flat.to_str().unwrap()]);
    assert_eq!(common::tree(&flat), ["link", "one", "sub", "sub/two"]);
    // A file to a new name.
    let renamed = env.dir.path().join("renamed");
    env.ok(&["cp", "ctr:/srv/d/sub/two", renamed.to_str().unwrap()]);
    assert_eq!(fs::read_to_string(&renamed).unwrap(), "two\n");

    // Into the stopped container: lands in its upper dir.
    let payload = env.dir.path().join("payload");
    fs::create_dir_all(payload.join("inner")).unwrap();
    fs::write(payload.join("inner/f"), "from host\n").unwrap();
    env.ok(&["cp", payload.to_str().unwrap(), "ctr:/srv/"]);
    env.ok(&["cp", renamed.to_str().unwrap(), "ctr:/etc/two-copy"]);
    let diff = env.ok(&["diff", "ctr"]);
    for line in [
        "A /srv/payload",
        "A /srv/payload/inner/f",
        "A /etc/two-copy",
    ] {
        assert!(diff.lines().any(|l| l == line), "{line} not in {diff}");
    }
    let img = env.ok(&["commit", "ctr", "copied:1"]);
    assert!(img.starts_with("sha256:"));
    let out = env.ok(&[
        "run",
        "--rm",
        "copied:1",
        "cat",
        "/srv/payload/inner/f",
        "/etc/two-copy",
    ]);
    assert_eq!(out, "from host\ntwo\n");
    assert_eq!(mountinfo(), mounts, "cp changed the mount table");
}

#[test]
fn cp_tar_streams_and_running_container() {
    let env = Env::new();
    env.ok(&["run", "-d", "--name", "live", IMAGE, "sleep", "60"]);
    // `cp CONTAINER:PATH -` writes a tar named after the source.
    let out = env.cmd(&["cp", "live:/etc", "-"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names = tar_names(&out.stdout);
    assert!(names.contains(&"etc/".to_string()), "{names:?}");
    assert!(names.contains(&"etc/passwd".to_string()), "{names:?}");
    assert!(names.contains(&"etc/hostname".to_string()), "{names:?}");

    // `cp - CONTAINER:DIR` extracts a tar into a running container.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o755);
    h.set_size(0);
    b.append_data(&mut h, "streamed/", std::io::empty())
        .unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(3);
    b.append_data(&mut h, "streamed/x", &b"hi\n"[..]).unwrap();
    let bytes = b.into_inner().unwrap();
    let mut child = env
        .cmd(&["cp", "-", "live:/tmp"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), &bytes).unwrap();
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    assert_eq!(env.ok(&["exec", "live", "cat", "/tmp/streamed/x"]), "hi\n");

    // A file out of the running container.
    let host = env.dir.path().join("hostname");
    env.ok(&["cp", "live:/etc/hostname", host.to_str().unwrap()]);
    let mut s = String::new();
    fs::File::open(&host)
        .unwrap()
        .read_to_string(&mut s)
        .unwrap();
    assert_eq!(s.trim(), env.inspect("live", "{{.Config.Hostname}}"));
}

/// `cp CTR:/file -` is one regular entry named by the file's base name
/// with its content (Docker); it once came out as a `fa/` directory entry.
/// A directory to `-` keeps its `dir/…` entries.
#[test]
fn cp_single_file_to_stdout_is_one_named_entry() {
    let env = Env::new();
    env.ok(&["create", "--name", "one", IMAGE, "true"]);
    let out = env.cmd(&["cp", "one:/etc/passwd", "-"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut a = tar::Archive::new(&out.stdout[..]);
    let mut entries = a.entries().unwrap();
    let mut e = entries.next().unwrap().unwrap();
    assert_eq!(e.path_bytes().as_ref(), b"passwd");
    assert_eq!(e.header().entry_type(), tar::EntryType::Regular);
    let mut content = String::new();
    e.read_to_string(&mut content).unwrap();
    assert!(content.starts_with("root:"), "{content:?}");
    drop(e);
    assert!(entries.next().is_none(), "more than one entry");

    let out = env.cmd(&["cp", "one:/etc", "-"]).output().unwrap();
    assert!(out.status.success());
    let names = tar_names(&out.stdout);
    assert_eq!(names[0], "etc/", "{names:?}");
    assert!(names.contains(&"etc/passwd".to_string()), "{names:?}");
    assert!(names.iter().all(|n| n.starts_with("etc/")), "{names:?}");
}
