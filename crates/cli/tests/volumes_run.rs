//! Volumes through the real `berth` binary, as root: anonymous, named and
//! bind mounts in the container's own mount namespace, copy-up, image
//! VOLUMEs, `--volumes-from`, tmpfs, symlinked targets that must not lead
//! out of the rootfs, and removal with `rm -v` / `--rm`.

mod containers_support;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use containers_support::{Env, IMAGE};

/// Imports an image made of busybox plus what `setup` adds to its rootfs,
/// with `docker import --change` instructions.
fn image(env: &Env, name: &str, changes: &[&str], setup: impl FnOnce(&Path)) {
    let root = env.dir.path().join(format!("rootfs-{name}"));
    testkit::busybox_rootfs(&root).unwrap();
    setup(&root);
    let tar = env.dir.path().join(format!("{name}.tar"));
    let st = Command::new("tar")
        .args(["--numeric-owner", "--xattrs", "-C"])
        .arg(&root)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    let mut args = vec!["import".to_string()];
    for c in changes {
        args.push("--change".into());
        args.push(c.to_string());
    }
    args.push(tar.display().to_string());
    args.push(name.to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    env.ok(&args);
    fs::remove_dir_all(&root).unwrap();
    fs::remove_file(&tar).unwrap();
}

/// The host's mount table lines whose mount point or source mention `needle`.
fn host_mounts_with(needle: &str) -> Vec<String> {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(needle))
        .map(String::from)
        .collect()
}

fn mount_points(mountinfo: &str) -> Vec<String> {
    mountinfo
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4).map(String::from))
        .collect()
}

#[test]
fn anonymous_volume_lives_in_the_container_namespace_only() {
    let env = Env::new();
    let id = env
        .ok(&["run", "-d", "-v", "/test", IMAGE, "sleep", "10000"])
        .trim()
        .to_string();
    let ls = env.ok(&["volume", "ls"]);
    let lines: Vec<&str> = ls.lines().collect();
    assert_eq!(lines.len(), 2, "{ls}");
    assert_eq!(lines[0], "DRIVER    VOLUME NAME");
    let (driver, name) = lines[1].split_once("     ").unwrap();
    assert_eq!(driver, "local");
    assert_eq!(name.len(), 64, "{name}");
    assert!(name.bytes().all(|b| b.is_ascii_hexdigit()));
    let mp = env.ok(&["volume", "inspect", "-f", "{{.Mountpoint}}", name]);
    let mp = mp.trim();
    assert!(mp.ends_with("/_data"), "{mp}");
    assert_eq!(
        mp,
        env.root()
            .join("volumes")
            .join(name)
            .join("_data")
            .display()
            .to_string()
    );

    env.ok(&["exec", &id, "sh", "-c", "echo written > /test/file"]);
    assert_eq!(
        fs::read_to_string(Path::new(mp).join("file")).unwrap(),
        "written\n"
    );

    // Host: no mount at /test, none of the volume; container: the bind.
    let host = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mount_points(&host).iter().any(|m| m == "/test"), "{host}");
    assert!(host_mounts_with(name).is_empty());
    let inside = env.ok(&["exec", &id, "cat", "/proc/self/mountinfo"]);
    let line = inside
        .lines()
        .find(|l| l.split_whitespace().nth(4) == Some("/test"))
        .unwrap_or_else(|| panic!("no /test in the container:\n{inside}"));
    assert!(line.contains(name), "{line}");
    // The init's own table (read from the host side) agrees.
    let pid = env.inspect(&id, "{{.State.Pid}}");
    let init = fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    assert!(mount_points(&init).iter().any(|m| m == "/test"));

    // Docker's Mounts entry.
    let mounts = env.inspect(&id, "{{json .Mounts}}");
    let v: serde_json::Value = serde_json::from_str(&mounts).unwrap();
    assert_eq!(
        v,
        serde_json::json!([{"Type": "volume", "Name": name, "Source": mp, "Destination": "/test",
            "Driver": "local", "Mode": "", "RW": true, "Propagation": ""}])
    );

    // In use, running or not.
    let r = env.berth(&["volume", "rm", name]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains(&format!(
            "Error response from daemon: remove {name}: volume is in use - [{id}]"
        )),
        "{}",
        r.stderr
    );
    env.ok(&["stop", "-t", "0", &id]);
    assert!(env
        .berth(&["volume", "rm", name])
        .stderr
        .contains("volume is in use"));
    assert!(Path::new(mp).join("file").exists(), "refused rm lost data");
    // rm -v removes the anonymous volume with the container.
    env.ok(&["rm", "-v", &id]);
    assert_eq!(env.ok(&["volume", "ls", "-q"]), "");
    assert!(!Path::new(mp).exists());
    assert!(host_mounts_with(&env.root().display().to_string()).is_empty());
}

#[test]
fn named_volume_outlives_its_containers() {
    let env = Env::new();
    env.ok(&[
        "run",
        "--rm",
        "-v",
        "data:/data",
        IMAGE,
        "sh",
        "-c",
        "echo kept > /data/f",
    ]);
    // --rm removes anonymous volumes only.
    assert_eq!(env.ok(&["volume", "ls", "-q"]), "data\n");
    let out = env.ok(&["run", "--rm", "-v", "data:/data", IMAGE, "cat", "/data/f"]);
    assert_eq!(out, "kept\n");
    let id = env
        .ok(&["create", "-v", "data:/d", IMAGE, "true"])
        .trim()
        .to_string();
    env.ok(&["rm", "-v", &id]);
    assert_eq!(env.ok(&["volume", "ls", "-q"]), "data\n");
    // --rm with an anonymous volume: gone with the container.
    env.ok(&["run", "--rm", "-v", "/anon", IMAGE, "true"]);
    assert_eq!(env.ok(&["volume", "ls", "-q"]), "data\n");
    env.ok(&["volume", "rm", "data"]);
    assert_eq!(env.ok(&["volume", "ls", "-q"]), "");
}

#[test]
fn read_only_binds_refuse_writes() {
    let env = Env::new();
    let host = env.dir.path().join("hostdir");
    fs::create_dir(&host).unwrap();
    fs::write(host.join("in"), "from host\n").unwrap();
    let spec = format!("{}:/b:ro", host.display());
    let r = env.berth(&[
        "run",
        "--rm",
        "-v",
        &spec,
        IMAGE,
        "sh",
        "-c",
        "cat /b/in; touch /b/x",
    ]);
    assert_ne!(r.code, 0);
    assert_eq!(r.stdout, "from host\n");
    assert!(r.stderr.contains("Read-only file system"), "{}", r.stderr);
    let m = format!("type=bind,source={},target=/b,readonly", host.display());
    let r = env.berth(&["run", "--rm", "--mount", &m, IMAGE, "touch", "/b/x"]);
    assert!(r.stderr.contains("Read-only file system"), "{}", r.stderr);
    assert!(!host.join("x").exists());
    // Writable bind: the host sees the write; a missing -v source is created.
    let missing = env.dir.path().join("made/by/v");
    let spec = format!("{}:/w", missing.display());
    env.ok(&[
        "run",
        "--rm",
        "-v",
        &spec,
        IMAGE,
        "sh",
        "-c",
        "echo w > /w/f",
    ]);
    assert_eq!(fs::read_to_string(missing.join("f")).unwrap(), "w\n");
}

fn copy_up_image(env: &Env) {
    image(env, "cu", &["VOLUME /data"], |root| {
        let d = root.join("data");
        fs::create_dir_all(d.join("sub")).unwrap();
        fs::write(d.join("f1"), "one\n").unwrap();
        std::os::unix::fs::chown(d.join("f1"), Some(1000), Some(1001)).unwrap();
        fs::set_permissions(d.join("f1"), fs::Permissions::from_mode(0o640)).unwrap();
        fs::hard_link(d.join("f1"), d.join("hard")).unwrap();
        std::os::unix::fs::symlink("f1", d.join("link")).unwrap();
        fs::write(d.join("sub/f2"), "two\n").unwrap();
        std::os::unix::fs::chown(&d, Some(7), Some(8)).unwrap();
        fs::set_permissions(&d, fs::Permissions::from_mode(0o750)).unwrap();
    });
}

#[test]
fn copy_up_fills_new_volumes_only() {
    let env = Env::new();
    copy_up_image(&env);
    env.ok(&["run", "--rm", "-v", "cu:/data", "cu", "true"]);
    let data = env.root().join("volumes/cu/_data");
    assert_eq!(fs::read_to_string(data.join("f1")).unwrap(), "one\n");
    assert_eq!(fs::read_to_string(data.join("sub/f2")).unwrap(), "two\n");
    let f1 = fs::metadata(data.join("f1")).unwrap();
    assert_eq!(
        (f1.uid(), f1.gid(), f1.mode() & 0o7777),
        (1000, 1001, 0o640)
    );
    assert_eq!(f1.ino(), fs::metadata(data.join("hard")).unwrap().ino());
    assert_eq!(fs::read_link(data.join("link")).unwrap(), Path::new("f1"));
    let top = fs::metadata(&data).unwrap();
    assert_eq!((top.uid(), top.gid(), top.mode() & 0o7777), (7, 8, 0o750));

    // A non-empty volume is never overwritten.
    env.ok(&[
        "run",
        "--rm",
        "-v",
        "cu:/data",
        "cu",
        "sh",
        "-c",
        "rm -r /data/*; echo mine > /data/m",
    ]);
    env.ok(&["run", "--rm", "-v", "cu:/data", "cu", "true"]);
    let names: Vec<String> = fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["m".to_string()]);

    // nocopy, and binds are never copied into.
    env.ok(&["run", "--rm", "-v", "nc:/data:nocopy", "cu", "true"]);
    assert_eq!(
        fs::read_dir(env.root().join("volumes/nc/_data"))
            .unwrap()
            .count(),
        0
    );
    env.ok(&[
        "run",
        "--rm",
        "--mount",
        "source=nc2,target=/data,volume-nocopy",
        "cu",
        "true",
    ]);
    assert_eq!(
        fs::read_dir(env.root().join("volumes/nc2/_data"))
            .unwrap()
            .count(),
        0
    );
    let host = env.dir.path().join("bindsrc");
    fs::create_dir(&host).unwrap();
    let spec = format!("{}:/data", host.display());
    env.ok(&["run", "--rm", "-v", &spec, "cu", "true"]);
    assert_eq!(fs::read_dir(&host).unwrap().count(), 0);
}

#[test]
fn image_volumes_become_anonymous_volumes() {
    let env = Env::new();
    copy_up_image(&env);
    let id = env.ok(&["create", "cu", "true"]).trim().to_string();
    let names = env.ok(&["volume", "ls", "-q"]);
    let name = names.trim();
    assert_eq!(name.len(), 64, "{names}");
    assert_eq!(
        fs::read_to_string(env.root().join("volumes").join(name).join("_data/f1")).unwrap(),
        "one\n"
    );
    assert_eq!(
        env.inspect(&id, "{{range .Mounts}}{{.Destination}} {{.Name}}{{end}}"),
        format!("/data {name}")
    );
    // A -v on the same path replaces the image's VOLUME.
    let id2 = env
        .ok(&["create", "-v", "mine:/data", "cu", "true"])
        .trim()
        .to_string();
    assert_eq!(env.ok(&["volume", "ls", "-q"]), format!("{name}\nmine\n"));
    // prune keeps volumes in use, and named ones without -a.
    assert!(env
        .ok(&["volume", "prune", "-f"])
        .ends_with("Total reclaimed space: 0B\n"));
    env.ok(&["rm", &id]);
    env.ok(&["rm", &id2]);
    let out = env.ok(&["volume", "prune", "-f"]);
    assert_eq!(
        out,
        format!("Deleted Volumes:\n{name}\n\nTotal reclaimed space: 10B\n")
    );
    assert_eq!(env.ok(&["volume", "ls", "-q"]), "mine\n");
    let out = env.ok(&["volume", "prune", "-f", "-a"]);
    // `mine` was filled by copy-up too (named volumes are, as in Docker).
    assert_eq!(
        out,
        "Deleted Volumes:\nmine\n\nTotal reclaimed space: 10B\n"
    );
}

#[test]
fn volumes_from_shares_the_same_data() {
    let env = Env::new();
    let host = env.dir.path().join("shared-bind");
    fs::create_dir(&host).unwrap();
    let bind = format!("{}:/hb", host.display());
    env.ok(&[
        "create",
        "--name",
        "src",
        "-v",
        "vf:/shared",
        "-v",
        "/anon",
        "-v",
        &bind,
        IMAGE,
        "true",
    ]);
    env.ok(&[
        "run",
        "--rm",
        "-v",
        "vf:/shared",
        IMAGE,
        "sh",
        "-c",
        "echo shared > /shared/f",
    ]);
    let out = env.ok(&[
        "run",
        "--rm",
        "--volumes-from",
        "src",
        IMAGE,
        "sh",
        "-c",
        "cat /shared/f; echo a > /anon/a; echo b > /hb/b; cat /anon/a",
    ]);
    assert_eq!(out, "shared\na\n");
    assert_eq!(fs::read_to_string(host.join("b")).unwrap(), "b\n");
    let r = env.berth(&[
        "run",
        "--rm",
        "--volumes-from",
        "src:ro",
        IMAGE,
        "touch",
        "/shared/x",
    ]);
    assert!(r.stderr.contains("Read-only file system"), "{}", r.stderr);
    // The anonymous volume of `src` survived the --rm of the borrower.
    assert_eq!(env.ok(&["volume", "ls", "-q"]).lines().count(), 2);
    let r = env.berth(&["run", "--rm", "--volumes-from", "nosuch", IMAGE, "true"]);
    assert!(
        r.stderr.contains("No such container: nosuch"),
        "{}",
        r.stderr
    );
}

#[test]
fn symlinked_targets_stay_inside_the_rootfs() {
    let env = Env::new();
    image(&env, "evil", &[], |root| {
        std::os::unix::fs::symlink("/etc", root.join("test")).unwrap();
        std::os::unix::fs::symlink("../../../../host", root.join("up")).unwrap();
        std::os::unix::fs::symlink("../../../../../tmp/berth-escape", root.join("esc")).unwrap();
    });
    let host = env.dir.path().join("payload");
    fs::create_dir(&host).unwrap();
    fs::write(host.join("marker"), "payload\n").unwrap();
    let spec = format!("{}:/test", host.display());
    // The bind lands on the container's /etc, not the host's.
    let out = env.ok(&["run", "--rm", "-v", &spec, "evil", "cat", "/etc/marker"]);
    assert_eq!(out, "payload\n");
    assert!(!Path::new("/etc/marker").exists());
    assert!(fs::read_to_string("/etc/passwd").unwrap().contains("root"));
    // Relative escapes clamp at the container's root.
    env.ok(&[
        "run",
        "--rm",
        "-v",
        "esc:/up",
        "-v",
        "esc2:/esc",
        "evil",
        "sh",
        "-c",
        "echo in > /up/f; echo in > /esc/f; ls /host/f /tmp/berth-escape/f",
    ]);
    assert!(!Path::new("/host").exists());
    assert!(!Path::new("/tmp/berth-escape").exists());
    assert_eq!(
        fs::read_to_string(env.root().join("volumes/esc/_data/f")).unwrap(),
        "in\n"
    );
    assert!(host_mounts_with(&env.root().display().to_string()).is_empty());
}

#[test]
fn tmpfs_mounts_and_local_driver_options() {
    let env = Env::new();
    let out = env.ok(&[
        "run",
        "--rm",
        "--tmpfs",
        "/t1:size=64k",
        "--mount",
        "type=tmpfs,target=/t2,tmpfs-size=1m,tmpfs-mode=1770",
        IMAGE,
        "sh",
        "-c",
        "grep -E ' /t[12] ' /proc/self/mountinfo; stat -c %a /t2",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    let t1 = lines.iter().find(|l| l.contains(" /t1 ")).unwrap();
    assert!(
        t1.contains(" /t1 rw,nosuid,nodev,noexec") && t1.contains("tmpfs tmpfs rw,size=64k"),
        "{out}"
    );
    let t2 = lines.iter().find(|l| l.contains(" /t2 ")).unwrap();
    assert!(t2.contains("size=1024k,mode=1770"), "{out}");
    assert_eq!(lines[2], "1770");
    // A local tmpfs volume is mounted in the container, never on the host.
    env.ok(&[
        "volume",
        "create",
        "--opt",
        "type=tmpfs",
        "--opt",
        "device=tmpfs",
        "--opt",
        "o=size=2m",
        "tv",
    ]);
    let out = env.ok(&[
        "run",
        "--rm",
        "-v",
        "tv:/tv",
        IMAGE,
        "sh",
        "-c",
        "grep ' /tv ' /proc/self/mountinfo",
    ]);
    assert!(out.contains("tmpfs tmpfs rw,size=2048k"), "{out}");
    // A local bind volume.
    let dev = env.dir.path().join("device");
    fs::create_dir(&dev).unwrap();
    let d = format!("device={}", dev.display());
    env.ok(&[
        "volume",
        "create",
        "-o",
        "type=none",
        "-o",
        "o=bind",
        "-o",
        &d,
        "bv",
    ]);
    env.ok(&[
        "run",
        "--rm",
        "-v",
        "bv:/bv",
        IMAGE,
        "sh",
        "-c",
        "echo dev > /bv/f",
    ]);
    assert_eq!(fs::read_to_string(dev.join("f")).unwrap(), "dev\n");
    assert!(host_mounts_with(&env.root().display().to_string()).is_empty());
    assert!(host_mounts_with(&dev.display().to_string()).is_empty());
}

#[test]
fn modes_propagation_and_inspect_fields() {
    let env = Env::new();
    let host = env.dir.path().join("prop");
    fs::create_dir(&host).unwrap();
    let spec = format!("{}:/p:rslave,z", host.display());
    let m = format!(
        "type=bind,src={},dst=/m,bind-propagation=rshared",
        host.display()
    );
    let id = env
        .ok(&[
            "run",
            "-d",
            "-v",
            &spec,
            "--mount",
            &m,
            "--mount",
            "source=mv,target=/mv,volume-opt=type=tmpfs,volume-opt=device=tmpfs",
            "-v",
            "ro1:/r:ro,Z",
            IMAGE,
            "sleep",
            "100",
        ])
        .trim()
        .to_string();
    let inside = env.ok(&["exec", &id, "cat", "/proc/self/mountinfo"]);
    let line = |mp: &str| {
        inside
            .lines()
            .find(|l| l.split_whitespace().nth(4) == Some(mp))
            .unwrap_or_else(|| panic!("no {mp}:\n{inside}"))
            .to_string()
    };
    // A shared bind makes the container's root shared, as Docker's
    // rootfsPropagation rule (only inside the container's namespace).
    assert!(line("/").contains(" shared:"), "{}", line("/"));
    assert!(line("/m").contains(" rw,"), "{}", line("/m"));
    assert!(line("/r").contains(" ro,"), "{}", line("/r"));
    assert!(line("/mv").contains(" - tmpfs tmpfs "), "{}", line("/mv"));
    let mounts: serde_json::Value =
        serde_json::from_str(&env.inspect(&id, "{{json .Mounts}}")).unwrap();
    let by_dest = |d: &str| {
        mounts
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["Destination"] == d)
            .unwrap()
            .clone()
    };
    let p = by_dest("/p");
    assert_eq!(
        (
            p["Type"].as_str(),
            p["Mode"].as_str(),
            p["Propagation"].as_str()
        ),
        (Some("bind"), Some("rslave,z"), Some("rslave"))
    );
    assert!(p.get("Name").is_none() && p.get("Driver").is_none());
    let r = by_dest("/r");
    assert_eq!(
        (r["Mode"].as_str(), r["RW"].as_bool()),
        (Some("ro,Z"), Some(false))
    );
    let mv = by_dest("/mv");
    assert_eq!(
        (
            mv["Name"].as_str(),
            mv["Mode"].as_str(),
            mv["Driver"].as_str()
        ),
        (Some("mv"), Some("z"), Some("local"))
    );
    let opts = env.ok(&["volume", "inspect", "-f", "{{json .Options}}", "mv"]);
    assert_eq!(opts, "{\"device\":\"tmpfs\",\"type\":\"tmpfs\"}\n");
    env.ok(&["rm", "-f", &id]);
    assert!(host_mounts_with(&host.display().to_string()).is_empty());
}
