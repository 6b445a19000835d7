//! Layer unpacking as root, on real files: every entry kind and its
//! metadata, whiteouts, compression variants, digest checks, bad streams,
//! and hostile entries that must be refused without a trace.

mod store_common;

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

use storage::{Compression, LayerError, StoreError, UnpackOptions};
use store_common::{gzip, sha, zstd, Tar, TestStore, E};
use tar::EntryType;

fn full_layer() -> Vec<u8> {
    let mut t = Tar::new();
    t.dir("./", 0o755)
        .entry(E {
            mode: 0o750,
            uid: 1000,
            gid: 1001,
            mtime: 1_500_000_000,
            ..E::new("etc/", EntryType::Directory)
        })
        .entry(E {
            data: b"root:x:0:0\n",
            uid: 1000,
            gid: 1001,
            mtime: 1_400_000_000,
            ..E::new("etc/passwd", EntryType::Regular)
        })
        .entry(E {
            data: b"#!/bin/sh\n",
            mode: 0o4755,
            ..E::new("bin/su", EntryType::Regular)
        })
        .entry(E {
            mode: 0o1777,
            ..E::new("tmp/", EntryType::Directory)
        })
        .symlink("bin/sh", "/bin/busybox")
        .symlink("etc/rel", "passwd")
        .hardlink("etc/passwd-hard", "etc/passwd")
        .entry(E {
            dev: (1, 3),
            mode: 0o666,
            ..E::new("dev/null", EntryType::Char)
        })
        .entry(E {
            dev: (7, 0),
            mode: 0o660,
            ..E::new("dev/loop0", EntryType::Block)
        })
        .entry(E {
            mode: 0o600,
            ..E::new("run/fifo", EntryType::Fifo)
        })
        .pax(&[
            ("SCHILY.xattr.user.color", b"blue"),
            ("SCHILY.xattr.trusted.overlay.redirect", b"/etc"),
            ("mtime", b"1600000000.25"),
        ])
        .file("etc/xattr-file", b"x")
        .file(".wh.gone", b"")
        .dir("opaque/", 0o755)
        .file("opaque/.wh..wh..opq", b"")
        .file("opaque/kept", b"kept")
        .file("deep/implicit/parent/file", b"parents created");
    t.finish()
}

#[test]
fn unpacks_every_entry_kind_with_metadata() {
    let ts = TestStore::new();
    let data = full_layer();
    let layer = ts.unpack(&data, None);
    assert_eq!(layer.diff_id, sha(&data));
    assert_eq!(layer.chain_id, layer.diff_id);
    assert_eq!(layer.compression, Compression::None);
    let root = ts.store.layer_path(&layer.chain_id);

    let etc = fs::symlink_metadata(root.join("etc")).unwrap();
    assert_eq!(
        (etc.uid(), etc.gid(), etc.mode() & 0o7777),
        (1000, 1001, 0o750)
    );
    assert_eq!(
        etc.mtime(),
        1_500_000_000,
        "dir mtime set after its children"
    );
    let passwd = fs::symlink_metadata(root.join("etc/passwd")).unwrap();
    assert_eq!(
        (passwd.uid(), passwd.gid(), passwd.mtime()),
        (1000, 1001, 1_400_000_000)
    );
    assert_eq!(fs::read(root.join("etc/passwd")).unwrap(), b"root:x:0:0\n");
    assert_eq!(
        fs::symlink_metadata(root.join("bin/su")).unwrap().mode() & 0o7777,
        0o4755
    );
    assert_eq!(
        fs::symlink_metadata(root.join("tmp")).unwrap().mode() & 0o7777,
        0o1777
    );
    assert_eq!(
        fs::read_link(root.join("bin/sh")).unwrap().to_str(),
        Some("/bin/busybox")
    );
    assert_eq!(
        fs::read_link(root.join("etc/rel")).unwrap().to_str(),
        Some("passwd")
    );
    let hard = fs::symlink_metadata(root.join("etc/passwd-hard")).unwrap();
    assert_eq!(hard.ino(), passwd.ino());
    let null = fs::symlink_metadata(root.join("dev/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(
        (
            nix::sys::stat::major(null.rdev()),
            nix::sys::stat::minor(null.rdev())
        ),
        (1, 3)
    );
    assert_eq!(null.mode() & 0o7777, 0o666);
    assert!(fs::symlink_metadata(root.join("dev/loop0"))
        .unwrap()
        .file_type()
        .is_block_device());
    assert!(fs::symlink_metadata(root.join("run/fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    let x = rustix::fs::getxattr(
        root.join("etc/xattr-file"),
        "user.color",
        &mut [0u8; 16][..],
    )
    .unwrap();
    assert_eq!(x, 4);
    let mut buf16 = [0u8; 16];
    let redirect = rustix::fs::getxattr(
        root.join("etc/xattr-file"),
        "trusted.overlay.redirect",
        &mut buf16[..],
    );
    assert!(
        redirect.is_err(),
        "overlay's private xattrs are not taken from a layer"
    );
    let xm = fs::symlink_metadata(root.join("etc/xattr-file")).unwrap();
    assert_eq!((xm.mtime(), xm.mtime_nsec()), (1_600_000_000, 250_000_000));
    // Whiteout: a 0:0 character device; opaque: the overlay xattr.
    let wh = fs::symlink_metadata(root.join("gone")).unwrap();
    assert!(wh.file_type().is_char_device());
    assert_eq!(wh.rdev(), 0);
    assert!(!root.join(".wh.gone").exists());
    let mut buf = [0u8; 4];
    let n =
        rustix::fs::getxattr(root.join("opaque"), "trusted.overlay.opaque", &mut buf[..]).unwrap();
    assert_eq!(&buf[..n], b"y");
    assert!(!root.join("opaque/.wh..wh..opq").exists());
    assert!(root.join("deep/implicit/parent/file").is_file());
    assert_eq!(
        fs::symlink_metadata(root.join("deep/implicit"))
            .unwrap()
            .mode()
            & 0o7777,
        0o755
    );
    // Size counts regular file bytes and symlink target lengths.
    let expected: u64 = [11, 10, 1, 4, 15, 12, 6].iter().sum();
    assert_eq!(layer.size, expected);
    assert!(
        ts.tmp_entries().is_empty(),
        "staging left: {:?}",
        ts.tmp_entries()
    );
    assert_eq!(ts.store.layer(&layer.chain_id).unwrap(), layer);
}

#[test]
fn gzip_and_zstd_give_the_same_diff_id_and_keep_the_blob() {
    let plain = full_layer();
    for (data, c) in [
        (gzip(&plain), Compression::Gzip),
        (zstd(&plain), Compression::Zstd),
    ] {
        let ts = TestStore::new();
        let opts = UnpackOptions {
            expected_blob: Some(sha(&data)),
            expected_diff_id: Some(sha(&plain)),
            store_blob: true,
            ..Default::default()
        };
        let layer = ts.store.unpack_layer(&data[..], &opts).unwrap();
        assert_eq!(layer.compression, c);
        assert_eq!(layer.diff_id, sha(&plain));
        assert_eq!(layer.blob_digest, Some(sha(&data)));
        assert_eq!(layer.blob_size, Some(data.len() as u64));
        assert_eq!(fs::read(ts.store.blobs().path(&sha(&data))).unwrap(), data);
        assert!(ts
            .store
            .layer_path(&layer.chain_id)
            .join("etc/passwd")
            .is_file());
        assert!(ts.tmp_entries().is_empty());
    }
}

#[test]
fn existing_chain_is_shared_not_unpacked_again() {
    let ts = TestStore::new();
    let data = full_layer();
    let first = ts.unpack(&data, None);
    let marker = ts.store.layer_path(&first.chain_id).join("etc/passwd");
    let ino = fs::metadata(&marker).unwrap().ino();
    let gz = gzip(&data);
    let opts = UnpackOptions {
        expected_diff_id: Some(first.diff_id.clone()),
        store_blob: true,
        ..Default::default()
    };
    let again = ts.store.unpack_layer(&gz[..], &opts).unwrap();
    assert_eq!(again.chain_id, first.chain_id);
    assert_eq!(again.size, first.size);
    assert_eq!(
        fs::metadata(&marker).unwrap().ino(),
        ino,
        "layer was unpacked again"
    );
    // The blob of the second pass completes the record.
    assert_eq!(again.blob_digest, Some(sha(&gz)));
    // Without an expected diff id, the duplicate is unpacked aside and dropped.
    let third = ts.unpack(&data, None);
    assert_eq!(third.chain_id, first.chain_id);
    assert_eq!(fs::metadata(&marker).unwrap().ino(), ino);
    assert_eq!(ts.layer_dirs().len(), 1);
    assert!(ts.tmp_entries().is_empty());
    // A wrong diff id on the drain-only path is still caught.
    let mut other = Tar::new();
    other.file("x", b"other");
    let other = other.finish();
    let opts = UnpackOptions {
        expected_diff_id: Some(first.diff_id.clone()),
        ..Default::default()
    };
    let err = ts.store.unpack_layer(&other[..], &opts).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Layer(LayerError::DigestMismatch {
                what: "diff id",
                ..
            })
        ),
        "{err}"
    );
}

#[test]
fn chain_ids_follow_parents() {
    let ts = TestStore::new();
    let base = ts.unpack(&full_layer(), None);
    let mut t = Tar::new();
    t.file("top", b"top");
    let top_data = t.finish();
    let top = ts.unpack(&top_data, Some(&base));
    assert_eq!(
        top.chain_id,
        storage::chain_id(Some(&base.chain_id), &sha(&top_data))
    );
    assert_eq!(top.parent, Some(base.chain_id.clone()));
    let unknown = sha(b"nope");
    let opts = UnpackOptions {
        parent: Some(unknown),
        ..Default::default()
    };
    let err = ts.store.unpack_layer(&top_data[..], &opts).unwrap_err();
    assert!(err.to_string().contains("is not in the store"), "{err}");
}

/// Unpacks `data` expecting a failure; checks that nothing is left in the
/// store and nothing was written next to it. Returns the message.
fn refused(data: &[u8]) -> String {
    let ts = TestStore::new();
    let label = sha(data);
    let opts = UnpackOptions {
        expected_blob: Some(label.clone()),
        ..Default::default()
    };
    let err = ts.store.unpack_layer(data, &opts).unwrap_err();
    let msg = err.to_string();
    eprintln!("refused: {msg}");
    assert!(
        msg.contains(&label.to_string()),
        "error does not name the layer: {msg}"
    );
    assert!(
        ts.tmp_entries().is_empty(),
        "staging left: {:?}",
        ts.tmp_entries()
    );
    assert!(
        ts.layer_dirs().is_empty(),
        "layer recorded: {:?}",
        ts.layer_dirs()
    );
    assert!(
        store_common::names(&ts.sentinel()).is_empty(),
        "written outside the store"
    );
    let rows: i64 = ts
        .store
        .db()
        .conn()
        .query_row("SELECT count(*) FROM layers", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 0);
    msg
}

#[test]
fn refuses_dotdot() {
    let mut t = Tar::new();
    t.file("ok", b"fine").file("../x", b"escape");
    let msg = refused(&t.finish());
    assert!(
        msg.contains("\"../x\"") && msg.contains("climbs out"),
        "{msg}"
    );
    let mut t = Tar::new();
    t.dir("a/", 0o755)
        .file("a/../../../../sentinel/x", b"escape");
    refused(&t.finish());
}

#[test]
fn refuses_absolute_names() {
    let mut t = Tar::new();
    t.file("ok", b"fine").file("/abs/file", b"escape");
    let msg = refused(&t.finish());
    assert!(
        msg.contains("\"/abs/file\"") && msg.contains("absolute path"),
        "{msg}"
    );
}

#[test]
fn refuses_writing_through_an_absolute_symlink() {
    let mut t = Tar::new();
    t.symlink("etc", "/etc").file("etc/pwned", b"escape");
    let msg = refused(&t.finish());
    assert!(msg.contains("outside the layer"), "{msg}");
    assert!(!std::path::Path::new("/etc/pwned").exists());
}

#[test]
fn refuses_writing_through_a_relative_symlink_out() {
    // diff/ is root/tmp/layer-*/diff while unpacking: four levels below the
    // temp dir that holds the sentinel.
    let mut t = Tar::new();
    t.symlink("s", "../../../../sentinel")
        .file("s/pwned", b"escape");
    refused(&t.finish());
    let mut t = Tar::new();
    t.symlink("s", "../../../../sentinel").dir("s/d/", 0o755);
    refused(&t.finish());
}

#[test]
fn refuses_hard_links_out_of_the_layer() {
    let mut t = Tar::new();
    t.hardlink("h", "../../../../sentinel/x");
    let msg = refused(&t.finish());
    assert!(msg.contains("climbs out"), "{msg}");
    let mut t = Tar::new();
    t.symlink("e", "/etc").hardlink("h", "e/passwd");
    let msg = refused(&t.finish());
    assert!(msg.contains("outside the layer"), "{msg}");
    let mut t = Tar::new();
    t.hardlink("h", "missing");
    let msg = refused(&t.finish());
    assert!(msg.contains("missing"), "{msg}");
}

#[test]
fn symlink_inside_the_layer_may_be_written_through() {
    let ts = TestStore::new();
    let mut t = Tar::new();
    t.dir("real/", 0o755)
        .symlink("link", "real")
        .file("link/f", b"in");
    let layer = ts.unpack(&t.finish(), None);
    assert_eq!(
        fs::read(ts.store.layer_path(&layer.chain_id).join("real/f")).unwrap(),
        b"in"
    );
}

#[test]
fn later_entries_replace_earlier_ones() {
    let ts = TestStore::new();
    let mut t = Tar::new();
    t.file("a", b"1")
        .file("a", b"2")
        .symlink("b", "x")
        .file("b", b"file")
        .dir("c/", 0o755)
        .file("c/in", b"")
        .file("c", b"file over dir")
        .dir("d/", 0o700)
        .dir("d/", 0o755);
    let layer = ts.unpack(&t.finish(), None);
    let root = ts.store.layer_path(&layer.chain_id);
    assert_eq!(fs::read(root.join("a")).unwrap(), b"2");
    assert_eq!(fs::read(root.join("b")).unwrap(), b"file");
    assert_eq!(fs::read(root.join("c")).unwrap(), b"file over dir");
    assert_eq!(
        fs::metadata(root.join("d")).unwrap().permissions().mode() & 0o777,
        0o755
    );
}

#[test]
fn wrong_digests_leave_nothing() {
    let data = full_layer();
    let gz = gzip(&data);
    for opts in [
        UnpackOptions {
            expected_blob: Some(sha(b"x")),
            store_blob: true,
            ..Default::default()
        },
        UnpackOptions {
            expected_diff_id: Some(sha(b"x")),
            store_blob: true,
            ..Default::default()
        },
    ] {
        let ts = TestStore::new();
        let err = ts.store.unpack_layer(&gz[..], &opts).unwrap_err();
        assert!(
            matches!(err, StoreError::Layer(LayerError::DigestMismatch { .. })),
            "{err}"
        );
        assert!(err.to_string().contains(&sha(b"x").to_string()));
        assert!(ts.tmp_entries().is_empty());
        assert!(ts.layer_dirs().is_empty());
        assert!(store_common::names(&ts.root().join("blobs/sha256")).is_empty());
    }
}

#[test]
fn truncated_and_garbage_streams_are_clear_errors() {
    let data = full_layer();
    // Cut inside a file's content.
    let cut = &data[..512 + 5];
    let msg = refused(cut);
    assert!(msg.contains("invalid tar stream"), "{msg}");
    // Cut inside a header.
    let mut t = Tar::new();
    t.file("a", &[7u8; 1024]);
    let d = t.finish();
    let msg = refused(&d[..512 + 1024 + 100]);
    assert!(msg.contains("invalid tar stream"), "{msg}");
    // Truncated gzip.
    let gz = gzip(&data);
    let msg = refused(&gz[..gz.len() / 2]);
    assert!(
        msg.contains("corrupt gzip stream") || msg.contains("invalid tar stream"),
        "{msg}"
    );
    // gzip magic followed by garbage.
    let mut garbage = vec![0x1f, 0x8b, 0x08, 0x00];
    garbage.extend((0..4096u32).map(|i| (i * 7 % 251) as u8));
    let msg = refused(&garbage);
    assert!(msg.contains("corrupt gzip stream"), "{msg}");
    // zstd magic followed by garbage.
    let mut garbage = vec![0x28, 0xb5, 0x2f, 0xfd];
    garbage.extend((0..4096u32).map(|i| (i * 13 % 251) as u8));
    let msg = refused(&garbage);
    assert!(msg.contains("corrupt zstd stream"), "{msg}");
    // Not a tar at all.
    let msg = refused(&[b'x'; 2048]);
    assert!(msg.contains("invalid tar stream"), "{msg}");
}

#[test]
fn fsync_option_unpacks_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        storage::Store::open_with(dir.path(), storage::StoreOptions { fsync: true }).unwrap();
    assert!(store.options().fsync);
    let plain = full_layer();
    let gz = gzip(&plain);
    let opts = UnpackOptions {
        store_blob: true,
        ..Default::default()
    };
    let layer = store.unpack_layer(&gz[..], &opts).unwrap();
    assert_eq!(layer.diff_id, sha(&plain));
    assert_eq!(fs::read(store.blobs().path(&sha(&gz))).unwrap(), gz);
    assert!(store
        .layer_path(&layer.chain_id)
        .join("etc/passwd")
        .is_file());
}

#[test]
fn a_blob_stored_separately_can_be_recorded_on_the_layer() {
    let ts = TestStore::new();
    let plain = full_layer();
    let layer = ts.unpack(&plain, None);
    assert_eq!(layer.blob_digest, None);
    let gz = gzip(&plain);
    let (blob, size) = ts.store.put_blob(&gz[..], Some(&sha(&gz))).unwrap();
    assert_eq!(size, gz.len() as u64);
    ts.store
        .set_layer_blob(&layer.chain_id, &blob, Compression::Gzip)
        .unwrap();
    let back = ts.store.layer(&layer.chain_id).unwrap();
    assert_eq!(back.blob_digest, Some(blob.clone()));
    assert_eq!(back.blob_size, Some(gz.len() as u64));
    assert_eq!(back.compression, Compression::Gzip);
    let err = ts
        .store
        .set_layer_blob(&sha(b"no layer"), &blob, Compression::Gzip)
        .unwrap_err();
    assert!(err.to_string().contains("not found"), "{err}");
    // A wrong digest for a blob leaves nothing behind.
    let err = ts
        .store
        .put_blob(&b"abc"[..], Some(&sha(b"abd")))
        .unwrap_err();
    assert!(err.to_string().contains("digest mismatch"), "{err}");
    assert!(ts.tmp_entries().is_empty());
    assert!(!ts.store.has_blob(&sha(b"abc")));
}
