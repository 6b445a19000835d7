//! The container init, run for real as root on a busybox rootfs.

#[path = "process_common.rs"]
mod common;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::PathBuf;

use common::{run, spec, Bundle, Outcome};
use oci_spec::runtime::{Capability, LinuxCapabilitiesBuilder, MountBuilder, UserBuilder};

#[test]
fn hostname_pid_namespace_and_exit_code() {
    let b = Bundle::busybox();
    let s = spec(&["sh", "-c", "hostname; ps -ef; exit 3"]);
    let (code, out, err) = run(&b, &s, None).ok();
    assert_eq!(code, 3, "stderr: {err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "box");
    // ps header, PID 1 (sh) and ps itself: nothing from the host.
    assert_eq!(lines.len(), 4, "{out}");
    assert!(lines[2].trim_start().starts_with("1 "), "{out}");
    assert!(lines[3].contains("ps -ef"), "{out}");
}

#[test]
fn mounts_are_private_both_ways() {
    let b = Bundle::busybox();
    let mut s = spec(&[
        "sh",
        "-c",
        "mount -t tmpfs inside /mnt && cat /proc/self/mountinfo && sleep 0.3",
    ]);
    fs::create_dir_all(b.rootfs().join("mnt")).unwrap();
    let mut p = s.process().clone().unwrap();
    let all: oci_spec::runtime::Capabilities = [Capability::SysAdmin, Capability::Kill]
        .into_iter()
        .collect();
    p.set_capabilities(Some(
        LinuxCapabilitiesBuilder::default()
            .bounding(all.clone())
            .effective(all.clone())
            .permitted(all.clone())
            .inheritable(all.clone())
            .ambient(all.clone())
            .build()
            .unwrap(),
    ));
    s.set_process(Some(p));
    let host_before = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let (code, out, err) = run(&b, &s, None).ok();
    assert_eq!(code, 0, "stderr: {err}");
    assert!(out.contains(" /mnt "), "{out}");
    let tmp = b.path().display().to_string();
    for line in out.lines() {
        let mp = line.split(' ').nth(4).unwrap();
        assert!(
            !mp.contains(&tmp),
            "host path in container mountinfo: {line}"
        );
        assert!(
            !mp.starts_with("/work") && !mp.starts_with("/home"),
            "host mount: {line}"
        );
    }
    let host_after = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !host_after.contains("inside"),
        "container mount leaked to host"
    );
    // Other processes on the host may mount meanwhile: only look for
    // mounts under this test's bundle.
    assert_eq!(
        new_mounts_under(&host_before, b.path()),
        Vec::<String>::new()
    );
}

/// Host mountinfo lines that were not in `before` and mention `dir`.
fn new_mounts_under(before: &str, dir: &std::path::Path) -> Vec<String> {
    let after = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let dir = dir.display().to_string();
    after
        .lines()
        .filter(|l| !before.lines().any(|b| b == *l) && l.contains(&dir))
        .map(str::to_string)
        .collect()
}

#[test]
fn write_through_ro_bind_fails() {
    let b = Bundle::busybox();
    let data = b.path().join("data");
    fs::create_dir_all(&data).unwrap();
    let mut s = spec(&["sh", "-c", "echo x > /data/f"]);
    let mut mounts = s.mounts().clone().unwrap();
    mounts.push(
        MountBuilder::default()
            .destination("/data")
            .typ("bind")
            .source(&data)
            .options(vec!["rbind".into(), "ro".into()])
            .build()
            .unwrap(),
    );
    s.set_mounts(Some(mounts));
    let (code, _out, err) = run(&b, &s, None).ok();
    assert_ne!(code, 0);
    assert!(err.contains("Read-only file system"), "{err}");
    assert!(!data.join("f").exists());
}

#[test]
fn recursive_read_only_bind_covers_submounts() {
    let b = Bundle::busybox();
    let data = b.path().join("data");
    fs::create_dir_all(data.join("sub")).unwrap();
    // A submount in the bind source, made inside the container's mount
    // namespace by a first bind, then the whole tree bound rro.
    let mut s = spec(&[
        "sh",
        "-c",
        "touch /data/f; echo rc=$?; touch /data/sub/f; echo rc=$?",
    ]);
    let mut mounts = s.mounts().clone().unwrap();
    let tmpfs = MountBuilder::default()
        .destination(
            data.join("sub")
                .to_str()
                .unwrap()
                .trim_start_matches('/')
                .to_string(),
        )
        .typ("tmpfs")
        .source("tmpfs")
        .build()
        .unwrap();
    // The tmpfs lands inside the rootfs at <rootfs>/<data>/sub; bind that
    // tree (with its submount) to /data instead, recursively read-only.
    let inner = b
        .rootfs()
        .join(data.to_str().unwrap().trim_start_matches('/'));
    fs::create_dir_all(inner.join("sub")).unwrap();
    mounts.push(tmpfs);
    mounts.push(
        MountBuilder::default()
            .destination("/data")
            .typ("bind")
            .source(&inner)
            .options(vec!["rbind".into(), "rro".into()])
            .build()
            .unwrap(),
    );
    s.set_mounts(Some(mounts));
    let (code, out, err) = run(&b, &s, None).ok();
    assert_eq!(code, 0, "stderr: {err}");
    assert_eq!(out, "rc=1\nrc=1\n", "{err}");
    assert_eq!(err.matches("Read-only file system").count(), 2, "{err}");
}

#[test]
fn idmapped_bind_mount_shows_mapped_owners() {
    let b = Bundle::busybox();
    let data = b.path().join("data");
    fs::create_dir_all(&data).unwrap();
    fs::write(data.join("f"), "x").unwrap(); // owned by 0:0 on disk
    let mut s = spec(&["sh", "-c", "stat -c '%u %g' /data/f /etc/passwd"]);
    let mut mounts = s.mounts().clone().unwrap();
    let map = |c: u32, h: u32, n: u32| {
        oci_spec::runtime::LinuxIdMappingBuilder::default()
            .container_id(c)
            .host_id(h)
            .size(n)
            .build()
            .unwrap()
    };
    let mut m = MountBuilder::default()
        .destination("/data")
        .typ("bind")
        .source(&data)
        .options(vec!["rbind".into(), "idmap".into()])
        .build()
        .unwrap();
    m.set_uid_mappings(Some(vec![map(0, 1000, 1)]));
    m.set_gid_mappings(Some(vec![map(0, 2000, 1)]));
    mounts.push(m);
    s.set_mounts(Some(mounts));
    let (code, out, err) = run(&b, &s, None).ok();
    assert_eq!(code, 0, "stderr: {err}");
    // On-disk 0 is shown through the mount's namespace as 1000/2000; the
    // rest of the rootfs is untouched.
    assert_eq!(out, "1000 2000\n0 0\n");
    // The file itself did not change owner.
    use std::os::unix::fs::MetadataExt;
    assert_eq!(fs::metadata(data.join("f")).unwrap().uid(), 0);
}

#[test]
fn user_groups_env_cwd_and_caps() {
    let b = Bundle::busybox();
    let mut s = spec(&[
        "sh",
        "-c",
        "id -u; id -g; id -G; echo $FOO; pwd; echo $HOME; umask; grep -E '^Cap(Eff|Prm|Bnd|Amb)' /proc/self/status",
    ]);
    let mut p = s.process().clone().unwrap();
    p.set_user(
        UserBuilder::default()
            .uid(1000u32)
            .gid(1001u32)
            .additional_gids(vec![10u32])
            .build()
            .unwrap(),
    );
    p.set_env(Some(vec![
        "PATH=/bin:/usr/bin".into(),
        "FOO=bar baz".into(),
    ]));
    p.set_cwd(PathBuf::from("/work/dir"));
    s.set_process(Some(p));
    let (code, out, err) = run(&b, &s, None).ok();
    assert_eq!(code, 0, "stderr: {err}");
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(
        &l[..7],
        // uid 1000 is not in the rootfs' /etc/passwd: HOME=/ (runc);
        // no umask in the spec: 0022 (runc).
        &[
            "1000",
            "1001",
            "1001 10",
            "bar baz",
            "/work/dir",
            "/",
            "0022"
        ],
        "{out}"
    );
    // Default spec: AUDIT_WRITE(29), KILL(5), NET_BIND_SERVICE(10) in every
    // set; a non-root process keeps them through exec via ambient.
    for set in ["CapEff", "CapPrm", "CapBnd", "CapAmb"] {
        assert!(
            out.contains(&format!("{set}:\t0000000020000420")),
            "{set}: {out}"
        );
    }
}

#[test]
fn not_found_and_not_executable_kinds() {
    let b = Bundle::busybox();
    match run(&b, &spec(&["nope"]), None) {
        Outcome::Failed { kind, message } => {
            assert_eq!(kind, "NotFound");
            assert_eq!(
                message,
                "exec: \"nope\": executable file not found in $PATH"
            );
        }
        other => panic!("{other:?}"),
    }
    match run(&b, &spec(&["/etc/passwd"]), None) {
        Outcome::Failed { kind, message } => {
            assert_eq!(kind, "NotExecutable", "{message}");
            assert!(message.contains("permission denied"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn symlinked_mount_targets_stay_in_rootfs() {
    let b = Bundle::busybox();
    let src = b.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("marker"), "hi").unwrap();
    symlink("/etc", b.rootfs().join("mnt")).unwrap();
    symlink("../../../../host", b.rootfs().join("up")).unwrap();
    let mut s = spec(&["sh", "-c", "cat /etc/x/marker /host/y/marker"]);
    let mut mounts = s.mounts().clone().unwrap();
    for dest in ["/mnt/x", "/up/y"] {
        mounts.push(
            MountBuilder::default()
                .destination(dest)
                .typ("bind")
                .source(&src)
                .options(vec!["bind".into()])
                .build()
                .unwrap(),
        );
    }
    s.set_mounts(Some(mounts));
    let (code, out, err) = run(&b, &s, None).ok();
    assert_eq!(code, 0, "stderr: {err}");
    assert_eq!(out, "hihi");
    // The targets were created inside the rootfs, never outside it.
    assert!(b.rootfs().join("etc/x").is_dir());
    assert!(b.rootfs().join("host/y").is_dir());
    assert!(!b.path().join("host").exists());
    assert!(!std::path::Path::new("/host").exists());
    assert!(!std::path::Path::new("/etc/x").exists());
}

#[test]
fn no_pivot_moves_the_root_and_chroots() {
    let b = Bundle::busybox();
    let s = spec(&["sh", "-c", "hostname; ls /; exit 4"]);
    let (code, out, err) = common::run_with(&b, &s, None, true).ok();
    assert_eq!(code, 4, "stderr: {err}");
    assert!(out.starts_with("box\n"), "{out}");
    assert!(out.contains("bin") && !out.contains("work"), "{out}");
}

#[test]
fn rootfs_propagation_modes() {
    // The new `/` is a private bind (its parent was made private so that
    // pivot_root accepts it); rslave of a mount without master leaves it
    // private, rshared makes it a new peer group (not the host's).
    for (mode, tag) in [("rslave", ""), ("rshared", "shared:"), ("rprivate", "")] {
        let b = Bundle::busybox();
        let mut s = spec(&["sh", "-c", "awk '$5 == \"/\"' /proc/self/mountinfo"]);
        let mut linux = s.linux().clone().unwrap();
        linux.set_rootfs_propagation(Some(mode.into()));
        s.set_linux(Some(linux));
        let before = fs::read_to_string("/proc/self/mountinfo").unwrap();
        let (code, out, err) = run(&b, &s, None).ok();
        assert_eq!(code, 0, "{mode}: {err}");
        assert_eq!(out.lines().count(), 1, "{out}");
        let optional = out.split(" - ").next().unwrap();
        if tag.is_empty() {
            assert!(
                !optional.contains("shared:") && !optional.contains("master:"),
                "{out}"
            );
        } else {
            assert!(optional.contains(tag), "{mode}: {out}");
        }
        assert_eq!(
            new_mounts_under(&before, b.path()),
            Vec::<String>::new(),
            "{mode} leaked a mount"
        );
    }
}

#[test]
fn bad_input_gives_one_line_errors_naming_the_object() {
    let b = Bundle::busybox();
    let failed = |s: &oci_spec::runtime::Spec| match run(&b, s, None) {
        Outcome::Failed { message, .. } => message,
        other => panic!("{other:?}"),
    };
    let mut s = spec(&["true"]);
    let mut root = s.root().clone().unwrap();
    root.set_path("no-such-rootfs".into());
    s.set_root(Some(root));
    let m = failed(&s);
    assert!(
        m.starts_with("container test: invalid spec: root.path ") && m.contains("no-such-rootfs"),
        "{m}"
    );

    let mut s = spec(&["true"]);
    let mut mounts = s.mounts().clone().unwrap();
    mounts.push(
        MountBuilder::default()
            .destination("/data")
            .typ("bind")
            .source("/no/such/source")
            .options(vec!["bind".into()])
            .build()
            .unwrap(),
    );
    s.set_mounts(Some(mounts));
    let m = failed(&s);
    assert!(
        m.starts_with("bind /no/such/source on /data (source): "),
        "{m}"
    );

    let mut s = spec(&["true"]);
    let mut mounts = s.mounts().clone().unwrap();
    mounts.push(
        MountBuilder::default()
            .destination("/x")
            .typ("nosuchfs")
            .source("none")
            .build()
            .unwrap(),
    );
    s.set_mounts(Some(mounts));
    let m = failed(&s);
    assert!(
        m.starts_with("mount \"nosuchfs\" on /x (mount): ") && m.contains("No such device"),
        "{m}"
    );

    assert!(!m.contains('\n'), "{m}");

    let mut s = spec(&["true"]);
    let mut linux = s.linux().clone().unwrap();
    let mut ns = linux.namespaces().clone().unwrap();
    ns.retain(|n| n.typ() != oci_spec::runtime::LinuxNamespaceType::Network);
    ns.push(
        oci_spec::runtime::LinuxNamespaceBuilder::default()
            .typ(oci_spec::runtime::LinuxNamespaceType::Network)
            .path("/no/such/netns")
            .build()
            .unwrap(),
    );
    linux.set_namespaces(Some(ns));
    s.set_linux(Some(linux));
    let m = failed(&s);
    assert!(m.starts_with("open namespace /no/such/netns: "), "{m}");

    let mut s = spec(&["true"]);
    let mut p = s.process().clone().unwrap();
    p.set_cwd("relative/dir".into());
    s.set_process(Some(p));
    let m = failed(&s);
    assert_eq!(
        m,
        "container test: invalid spec: process.cwd \"relative/dir\" is not an absolute path"
    );
}
