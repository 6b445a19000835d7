//! `changes::diff` and `changes::layer_tar` on hand-made upper and lower
//! dirs (root: whiteouts are 0:0 character devices, opaque dirs carry a
//! `trusted.` xattr). No container is needed.

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use storage::changes::{diff, layer_tar, Skip};
use storage::{Store, UnpackOptions};

fn whiteout(p: &Path) {
    mknod(
        p,
        SFlag::S_IFCHR,
        Mode::from_bits_truncate(0o600),
        makedev(0, 0),
    )
    .unwrap();
}

fn opaque(p: &Path) {
    rustix::fs::setxattr(
        p,
        "trusted.overlay.opaque",
        b"y",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
}

fn write(p: &Path, content: &str) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, content).unwrap();
}

fn set_mtime(p: &Path, secs: i64) {
    let t = rustix::fs::Timespec {
        tv_sec: secs,
        tv_nsec: 0,
    };
    rustix::fs::utimensat(
        rustix::fs::CWD,
        p,
        &rustix::fs::Timestamps {
            last_access: t,
            last_modification: t,
        },
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .unwrap();
}

/// An image layer, an init layer and an upper dir recording: a file added
/// in /etc, /etc/group changed, /etc/passwd deleted, /etc/dir deleted and
/// re-created with one new file, /var/cache emptied, a volume at /test with
/// a file in it, /etc/hostname rewritten (init file), a file added in a
/// directory that was only copied up (/usr/lib).
struct Fixture {
    _tmp: tempfile::TempDir,
    lower: PathBuf,
    init: PathBuf,
    upper: PathBuf,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let lower = tmp.path().join("lower");
    let init = tmp.path().join("init");
    let upper = tmp.path().join("upper");
    for f in [
        "etc/passwd",
        "etc/group",
        "etc/dir/a",
        "etc/dir/b",
        "var/cache/x",
        "var/cache/y",
        "usr/lib/libc.so",
        "bin/sh",
    ] {
        write(&lower.join(f), f);
    }
    write(&init.join("etc/hostname"), "init\n");
    write(&init.join("etc/hosts"), "127.0.0.1 localhost\n");
    fs::create_dir_all(lower.join("test")).unwrap();

    write(&upper.join("etc/outside-volume"), "hello\n");
    write(&upper.join("etc/group"), "changed\n");
    write(&upper.join("etc/hostname"), "rewritten\n");
    whiteout(&upper.join("etc/passwd"));
    write(&upper.join("etc/dir/c"), "new\n");
    opaque(&upper.join("etc/dir"));
    fs::create_dir_all(upper.join("var/cache")).unwrap();
    whiteout(&upper.join("var/cache/x"));
    whiteout(&upper.join("var/cache/y"));
    write(&upper.join("test/in-volume"), "volume\n");
    write(&upper.join("usr/lib/new.so"), "new\n");
    // /usr and /usr/lib only copied up: same mode, size and mtime as below.
    for d in ["usr", "usr/lib"] {
        let m = fs::metadata(lower.join(d)).unwrap();
        fs::set_permissions(upper.join(d), fs::Permissions::from_mode(m.mode())).unwrap();
    }
    set_mtime(&lower.join("usr/lib"), 1_000_000);
    set_mtime(&upper.join("usr/lib"), 1_000_000);
    set_mtime(&lower.join("usr"), 1_000_000);
    set_mtime(&upper.join("usr"), 1_000_000);
    set_mtime(&upper.join("etc"), 2_000_000);
    set_mtime(&upper.join("var"), 2_000_000);
    set_mtime(&upper.join("var/cache"), 2_000_000);
    Fixture {
        _tmp: tmp,
        lower,
        init,
        upper,
    }
}

#[test]
fn diff_lines_as_docker() {
    let f = fixture();
    let skip = Skip::new(Some(&f.init), &[PathBuf::from("/test")]).unwrap();
    let lines: Vec<String> = diff(&f.upper, std::slice::from_ref(&f.lower), &skip)
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(
        lines,
        [
            "C /etc",
            "C /etc/dir",
            "D /etc/dir/a",
            "D /etc/dir/b",
            "A /etc/dir/c",
            "C /etc/group",
            "A /etc/outside-volume",
            "D /etc/passwd",
            "C /test",
            "C /usr/lib",
            "A /usr/lib/new.so",
            "C /var",
            "C /var/cache",
            "D /var/cache/x",
            "D /var/cache/y",
        ]
    );
}

#[test]
fn diff_without_skip_shows_init_files_and_volume_content() {
    let f = fixture();
    let lines: Vec<String> = diff(&f.upper, std::slice::from_ref(&f.lower), &Skip::none())
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert!(lines.contains(&"A /etc/hostname".to_string()), "{lines:?}");
    assert!(
        lines.contains(&"A /test/in-volume".to_string()),
        "{lines:?}"
    );
}

#[test]
fn diff_of_missing_upper_names_it() {
    let err = diff(Path::new("/nonexistent/upper"), &[], &Skip::none()).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/upper"), "{err}");
}

/// name, type, uid, mode, pax records
type Entry = (String, tar::EntryType, u64, u32, Vec<(String, Vec<u8>)>);

fn tar_entries(bytes: &[u8]) -> Vec<Entry> {
    let mut a = tar::Archive::new(bytes);
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let path = String::from_utf8(e.path_bytes().to_vec()).unwrap();
            let h = e.header().clone();
            let mut x = Vec::new();
            if let Some(ext) = e.pax_extensions().unwrap() {
                for r in ext {
                    let r = r.unwrap();
                    x.push((r.key().unwrap().to_string(), r.value_bytes().to_vec()));
                }
            }
            (path, h.entry_type(), h.uid().unwrap(), h.mode().unwrap(), x)
        })
        .collect()
}

#[test]
fn layer_tar_writes_whiteouts_opaque_and_skips() {
    let f = fixture();
    let skip = Skip::new(Some(&f.init), &[PathBuf::from("/test")]).unwrap();
    let bytes = layer_tar(&f.upper, &skip, Vec::new()).unwrap();
    let names: Vec<String> = tar_entries(&bytes).into_iter().map(|e| e.0).collect();
    assert_eq!(
        names,
        [
            "etc/",
            "etc/dir/",
            "etc/dir/.wh..wh..opq",
            "etc/dir/c",
            "etc/group",
            "etc/outside-volume",
            "etc/.wh.passwd",
            "test/",
            "usr/",
            "usr/lib/",
            "usr/lib/new.so",
            "var/",
            "var/cache/",
            "var/cache/.wh.x",
            "var/cache/.wh.y",
        ]
    );
    // Deterministic: the same tree gives the same bytes.
    assert_eq!(bytes, layer_tar(&f.upper, &skip, Vec::new()).unwrap());
}

#[test]
fn layer_tar_keeps_metadata_and_round_trips_through_unpack() {
    let tmp = tempfile::tempdir().unwrap();
    let upper = tmp.path().join("upper");
    fs::create_dir_all(upper.join("d")).unwrap();
    write(&upper.join("d/file"), "content");
    fs::hard_link(upper.join("d/file"), upper.join("d/link")).unwrap();
    symlink("../d/file", upper.join("d/sym")).unwrap();
    mknod(
        &upper.join("d/null"),
        SFlag::S_IFCHR,
        Mode::from_bits_truncate(0o666),
        makedev(1, 3),
    )
    .unwrap();
    nix::unistd::mkfifo(&upper.join("d/fifo"), Mode::from_bits_truncate(0o640)).unwrap();
    write(&upper.join("suid"), "x");
    std::os::unix::fs::chown(upper.join("suid"), Some(1000), Some(1001)).unwrap();
    fs::set_permissions(upper.join("suid"), fs::Permissions::from_mode(0o4755)).unwrap();
    rustix::fs::setxattr(
        upper.join("suid"),
        "user.note",
        b"kept",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    rustix::fs::setxattr(
        upper.join("suid"),
        "trusted.overlay.origin",
        b"dropped",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    set_mtime(&upper.join("suid"), 1_234_567);
    whiteout(&upper.join("gone"));
    opaque(&upper.join("d"));

    let bytes = layer_tar(&upper, &Skip::none(), Vec::new()).unwrap();
    let entries = tar_entries(&bytes);
    let by_name = |n: &str| {
        entries
            .iter()
            .find(|e| e.0 == n)
            .unwrap_or_else(|| panic!("{n}: {entries:?}"))
    };
    assert_eq!(by_name("d/link").1, tar::EntryType::Link);
    assert_eq!(by_name("d/file").1, tar::EntryType::Regular);
    assert_eq!(by_name("d/sym").1, tar::EntryType::Symlink);
    assert_eq!(by_name("d/null").1, tar::EntryType::Char);
    assert_eq!(by_name("d/fifo").1, tar::EntryType::Fifo);
    let suid = by_name("suid");
    assert_eq!((suid.2, suid.3), (1000, 0o4755));
    assert_eq!(
        suid.4,
        [("SCHILY.xattr.user.note".to_string(), b"kept".to_vec())]
    );
    assert!(entries.iter().any(|e| e.0 == ".wh.gone"));
    assert!(entries.iter().any(|e| e.0 == "d/.wh..wh..opq"));

    // The store unpacks it back into overlay form.
    let root = tmp.path().join("store");
    let store = Store::open(&root).unwrap();
    let layer = store
        .unpack_layer(&bytes[..], &UnpackOptions::default())
        .unwrap();
    let dir = store.layer_path(&layer.chain_id);
    let m = fs::symlink_metadata(dir.join("suid")).unwrap();
    assert_eq!(
        (m.uid(), m.gid(), m.mode() & 0o7777, m.mtime()),
        (1000, 1001, 0o4755, 1_234_567)
    );
    let link = fs::metadata(dir.join("d/link")).unwrap();
    assert_eq!(link.ino(), fs::metadata(dir.join("d/file")).unwrap().ino());
    assert_eq!(
        fs::read_link(dir.join("d/sym")).unwrap(),
        Path::new("../d/file")
    );
    let gone = fs::symlink_metadata(dir.join("gone")).unwrap();
    assert_eq!(gone.rdev(), 0);
    assert!(
        rustix::fs::lgetxattr(dir.join("d"), "trusted.overlay.opaque", &mut [0u8; 8][..]).is_ok()
    );
    assert_eq!(layer.diff_id, storage::Digest::of_bytes(&bytes));
}
