//! `load` of archives whose layers are big enough (over 1 MiB) to be
//! unpacked ahead, on a second thread, while the archive streams past: the
//! trees must equal a plain one-layer-at-a-time unpack (docker-archive with
//! plain tars, OCI with gzip and zstd), every owner and mode must be exact
//! (files are created with their final mode when that is possible), and a
//! failing layer, a wrong diff id or a truncated archive must leave no
//! image and nothing in `tmp/`.

mod store_common;

use std::collections::BTreeMap;
use std::io::Cursor;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use serde_json::json;
use storage::archive;
use storage::{Digest, Store};
use store_common::{config, gzip, sha, zstd, Tar, TestStore, E};
use tar::EntryType;

/// Incompressible-looking but deterministic bytes (xorshift).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A layer over 1 MiB with owners, modes, special files and links.
fn base_layer() -> Vec<u8> {
    let mut t = Tar::new();
    t.dir("etc", 0o755)
        .file("etc/a", b"a\n")
        .entry(E {
            mode: 0o4755,
            data: b"#!/bin/sh\n",
            ..E::new("etc/suid", EntryType::Regular)
        })
        .entry(E {
            uid: 1000,
            gid: 1000,
            mode: 0o600,
            data: b"private\n",
            ..E::new("etc/owned", EntryType::Regular)
        })
        .entry(E {
            mode: 0o777,
            data: b"all\n",
            ..E::new("etc/wide", EntryType::Regular)
        })
        .entry(E {
            gid: 50,
            mode: 0o2775,
            ..E::new("shared", EntryType::Directory)
        })
        .file("shared/root-group", b"g\n")
        .symlink("etc/link", "a")
        .hardlink("etc/hard", "etc/a")
        .entry(E {
            mode: 0o600,
            ..E::new("etc/fifo", EntryType::Fifo)
        })
        .dir("big", 0o755);
    let big = noise(1_200_000, 1);
    t.file("big/one", &big);
    t.finish()
}

fn top_layer(seed: u64) -> Vec<u8> {
    let mut t = Tar::new();
    t.dir("etc", 0o755)
        .file("etc/.wh.a", b"")
        .dir("opt", 0o750)
        .file("opt/.wh..wh..opq", b"")
        .pax(&[("SCHILY.xattr.user.note", b"hello")])
        .file("opt/noted", b"n\n");
    let big = noise(1_100_000, seed);
    t.file(&format!("opt/big{seed}"), &big);
    t.finish()
}

/// Everything observable about a tree, by relative path.
fn snapshot(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let ft = m.file_type();
            let what = if ft.is_dir() {
                stack.push(p.clone());
                "dir".to_string()
            } else if ft.is_symlink() {
                format!("link->{}", std::fs::read_link(&p).unwrap().display())
            } else if ft.is_file() {
                format!("file {}", sha(&std::fs::read(&p).unwrap()))
            } else if ft.is_fifo() {
                "fifo".to_string()
            } else {
                format!("dev {:x}", m.rdev())
            };
            let mut xattrs: Vec<String> = xattr_names(&p);
            xattrs.sort();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            // A whiteout is made when it is unpacked: its time is "now".
            let mtime = if what == "dev 0" { 0 } else { m.mtime() };
            out.insert(
                rel,
                format!(
                    "{what} mode={:o} {}:{} nlink={} mtime={} size={} xattrs={xattrs:?}",
                    m.mode(),
                    m.uid(),
                    m.gid(),
                    m.nlink(),
                    mtime,
                    if ft.is_dir() { 0 } else { m.size() },
                ),
            );
        }
    }
    out
}

fn xattr_names(p: &Path) -> Vec<String> {
    let mut buf = vec![0u8; 4096];
    let n = rustix::fs::llistxattr(p, &mut buf[..]).unwrap();
    buf[..n]
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// A docker-archive (plain layers, manifest.json last).
fn docker_archive(layers: &[&[u8]], diff_ids: &[Digest], tag: &str) -> Vec<u8> {
    let cfg = config(diff_ids, tag);
    let mut t = Tar::new();
    let mut paths = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let p = format!("l{i}/layer.tar");
        t.file(&p, l);
        paths.push(p);
    }
    let cname = format!("{}.json", sha(&cfg).hex());
    t.file(&cname, &cfg);
    let manifest = json!([{"Config": cname, "RepoTags": [tag], "Layers": paths}]);
    t.file("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    t.finish()
}

/// The layers of the one image loaded into `s`, each as a snapshot.
fn loaded_trees(s: &Store, id: &Digest) -> Vec<BTreeMap<String, String>> {
    s.image_layers(id)
        .unwrap()
        .iter()
        .map(|l| snapshot(&s.layer_path(&l.chain_id)))
        .collect()
}

/// The same layers unpacked one by one through `unpack_layer`.
fn reference_trees(blobs: &[&[u8]]) -> Vec<BTreeMap<String, String>> {
    let t = TestStore::new();
    let mut parent = None;
    let mut out = Vec::new();
    for b in blobs {
        let l = t.unpack(b, parent.as_ref());
        out.push(snapshot(&t.store.layer_path(&l.chain_id)));
        parent = Some(l);
    }
    out
}

#[test]
fn docker_archive_layers_unpacked_ahead_equal_a_plain_unpack() {
    let layers = [base_layer(), top_layer(2), top_layer(3)];
    let refs: Vec<&[u8]> = layers.iter().map(|l| &l[..]).collect();
    let diff_ids: Vec<Digest> = layers.iter().map(|l| sha(l)).collect();
    let t = TestStore::new();
    let loaded = archive::load(
        &t.store,
        Cursor::new(docker_archive(&refs, &diff_ids, "a:1")),
    )
    .unwrap();
    assert_eq!(
        loaded_trees(&t.store, &loaded[0].id),
        reference_trees(&refs)
    );
    assert_eq!(t.tmp_entries(), Vec::<String>::new());
    // Loading it again (blobs and layers present) changes nothing.
    let again = archive::load(
        &t.store,
        Cursor::new(docker_archive(&refs, &diff_ids, "a:1")),
    )
    .unwrap();
    assert_eq!(again[0].id, loaded[0].id);
    assert_eq!(t.layer_dirs().len(), 3);
    assert_eq!(t.tmp_entries(), Vec::<String>::new());
}

#[test]
fn oci_gzip_and_zstd_layers_unpacked_ahead_equal_a_plain_unpack() {
    let plain = [base_layer(), top_layer(4)];
    let blobs = [gzip(&plain[0]), zstd(&plain[1])];
    let diff_ids: Vec<Digest> = plain.iter().map(|l| sha(l)).collect();
    let cfg = config(&diff_ids, "oci");
    let desc = |mt: &str, b: &[u8]| json!({"mediaType": mt, "digest": sha(b).to_string(), "size": b.len()});
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": desc("application/vnd.oci.image.config.v1+json", &cfg),
        "layers": [
            desc("application/vnd.oci.image.layer.v1.tar+gzip", &blobs[0]),
            desc("application/vnd.oci.image.layer.v1.tar+zstd", &blobs[1]),
        ],
    }))
    .unwrap();
    let mut d = desc("application/vnd.oci.image.manifest.v1+json", &manifest);
    d["annotations"] = json!({"org.opencontainers.image.ref.name": "o/ci:1"});
    let mut t = Tar::new();
    t.file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    for b in [&blobs[0], &blobs[1], &cfg, &manifest] {
        t.file(&format!("blobs/sha256/{}", sha(b).hex()), b);
    }
    t.file(
        "index.json",
        &serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": [d]})).unwrap(),
    );
    let s = TestStore::new();
    let loaded = archive::load(&s.store, Cursor::new(t.finish())).unwrap();
    let refs: Vec<&[u8]> = blobs.iter().map(|b| &b[..]).collect();
    assert_eq!(
        loaded_trees(&s.store, &loaded[0].id),
        reference_trees(&refs)
    );
    let layers = s.store.image_layers(&loaded[0].id).unwrap();
    assert_eq!(layers[0].blob_digest.as_ref(), Some(&sha(&blobs[0])));
    assert_eq!(layers[1].diff_id, diff_ids[1]);
    assert_eq!(s.tmp_entries(), Vec::<String>::new());
}

#[test]
fn files_get_exact_owners_and_modes() {
    let layer = base_layer();
    let s = TestStore::new();
    let l = s.unpack(&layer, None);
    let root = s.store.layer_path(&l.chain_id);
    let meta = |p: &str| std::fs::symlink_metadata(root.join(p)).unwrap();
    // Plain files: created with their final mode (umask not applied).
    assert_eq!(meta("etc/a").mode() & 0o7777, 0o644);
    assert_eq!(meta("etc/wide").mode() & 0o7777, 0o777);
    assert_eq!(meta("etc/suid").mode() & 0o7777, 0o4755);
    let owned = meta("etc/owned");
    assert_eq!(
        (owned.uid(), owned.gid(), owned.mode() & 0o7777),
        (1000, 1000, 0o600)
    );
    // A setgid directory would hand its group to a new file: the tar's 0
    // must still win.
    assert_eq!(meta("shared").gid(), 50);
    assert_eq!(meta("shared/root-group").gid(), 0);
    assert_eq!(meta("etc/a").mtime(), 1_600_000_000);
}

fn assert_nothing_loaded(t: &TestStore) {
    assert!(t.store.list_images().unwrap().is_empty());
    assert_eq!(t.tmp_entries(), Vec::<String>::new());
    assert!(store_common::names(&t.sentinel()).is_empty());
}

#[test]
fn a_refused_layer_leaves_no_image_and_no_staging() {
    let mut bad = Tar::new();
    bad.file("ok", &noise(1_300_000, 9))
        .file("../../sentinel/escaped", b"x");
    let bad = bad.finish();
    let layers = [base_layer(), bad, top_layer(5)];
    let refs: Vec<&[u8]> = layers.iter().map(|l| &l[..]).collect();
    let diff_ids: Vec<Digest> = layers.iter().map(|l| sha(l)).collect();
    let t = TestStore::new();
    let err = archive::load(
        &t.store,
        Cursor::new(docker_archive(&refs, &diff_ids, "b:1")),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("refusing entry"), "{err}");
    assert!(err.contains(&sha(&layers[1]).to_string()), "{err}");
    assert_nothing_loaded(&t);
}

#[test]
fn a_wrong_diff_id_leaves_no_image_and_no_staging() {
    let layers = [base_layer(), top_layer(6)];
    let refs: Vec<&[u8]> = layers.iter().map(|l| &l[..]).collect();
    let diff_ids = vec![sha(&layers[0]), sha(b"something else")];
    let t = TestStore::new();
    let err = archive::load(
        &t.store,
        Cursor::new(docker_archive(&refs, &diff_ids, "c:1")),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("diff id"), "{err}");
    assert_nothing_loaded(&t);
}

#[test]
fn a_truncated_archive_leaves_no_image_no_layer_and_no_staging() {
    let layers = [base_layer(), top_layer(7)];
    let refs: Vec<&[u8]> = layers.iter().map(|l| &l[..]).collect();
    let diff_ids: Vec<Digest> = layers.iter().map(|l| sha(l)).collect();
    let full = docker_archive(&refs, &diff_ids, "d:1");
    // Cut inside the second layer: the first was unpacked ahead already.
    let cut = &full[..layers[0].len() + 512 + 700_000];
    let t = TestStore::new();
    let err = archive::load(&t.store, Cursor::new(cut.to_vec()))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("truncated") || err.contains("reading archive"),
        "{err}"
    );
    assert_nothing_loaded(&t);
    assert_eq!(t.layer_dirs(), Vec::<String>::new());
}

#[test]
fn compressed_layers_applied_on_a_second_thread_keep_every_check() {
    let t = TestStore::new();
    let opts = storage::UnpackOptions::default();
    // A refused entry after more than the pipe's buffers hold.
    let mut bad = Tar::new();
    bad.file("ok", &noise(1_300_000, 11))
        .file("../../sentinel/x", b"x");
    let err = t
        .store
        .unpack_layer(&gzip(&bad.finish())[..], &opts)
        .unwrap_err()
        .to_string();
    assert!(err.contains("refusing entry"), "{err}");
    assert_eq!(t.tmp_entries(), Vec::<String>::new());
    assert!(store_common::names(&t.sentinel()).is_empty());

    // Bytes after the end-of-archive blocks still count in the diff id.
    let mut tar = Tar::new();
    tar.file("f", &noise(600_000, 12));
    let mut plain = tar.finish();
    plain.extend_from_slice(&[0u8; 3 * 4096]);
    let l = t
        .store
        .unpack_layer(
            &zstd(&plain)[..],
            &storage::UnpackOptions {
                expected_diff_id: Some(sha(&plain)),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(l.diff_id, sha(&plain));

    // Corrupt compressed data is reported as such, not as a tar error.
    let mut gz = gzip(&plain);
    let mid = gz.len() / 2;
    for b in &mut gz[mid..mid + 64] {
        *b ^= 0x5a;
    }
    let err = t
        .store
        .unpack_layer(&gz[..], &opts)
        .unwrap_err()
        .to_string();
    assert!(err.contains("corrupt gzip stream"), "{err}");
    assert_eq!(t.tmp_entries(), Vec::<String>::new());
}
