//! `archive::load` / `save` / `import` on hand-made archives covering the
//! format variants: docker-archive as Docker 20.10 writes it (`<id>/layer.tar`
//! symlinks, legacy `repositories`), several images and tags in one
//! archive, OCI layouts with gzip/zstd layers, nested indexes and
//! containerd's name annotation, untagged images, and layers shared
//! between images.

use std::io::{Cursor, Read, Write};

use serde_json::json;
use storage::archive::{self, ArchiveFormat};
use storage::{Digest, Reference, Store};

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    (dir, s)
}

/// A layer tar with one file per `(path, content)`.
fn layer(files: &[(&str, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (p, c) in files {
        let mut h = tar::Header::new_ustar();
        h.set_size(c.len() as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, p, c.as_bytes()).unwrap();
    }
    b.into_inner().unwrap()
}

fn config(diff_ids: &[&Vec<u8>], tag: &str) -> Vec<u8> {
    let ids: Vec<String> = diff_ids
        .iter()
        .map(|l| Digest::of_bytes(l).to_string())
        .collect();
    serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Labels": {"which": tag}},
        "rootfs": {"type": "layers", "diff_ids": ids},
    }))
    .unwrap()
}

enum E {
    File(String, Vec<u8>),
    Link(String, String),
}

fn tar_of(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o644);
        match e {
            E::File(p, d) => {
                h.set_size(d.len() as u64);
                h.set_entry_type(tar::EntryType::Regular);
                b.append_data(&mut h, p, &d[..]).unwrap();
            }
            E::Link(p, t) => {
                h.set_size(0);
                h.set_entry_type(tar::EntryType::Symlink);
                b.append_link(&mut h, p, t).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

fn names(s: &Store, id: &Digest) -> Vec<String> {
    s.image(id)
        .unwrap()
        .repo_tags
        .iter()
        .map(Reference::familiar_string)
        .collect()
}

#[test]
fn docker_2010_layout_with_symlinks_multi_image_and_repositories() {
    let base = layer(&[("etc/base", "base\n")]);
    let top_a = layer(&[("a", "a\n")]);
    let top_b = layer(&[("b", "b\n")]);
    let cfg_a = config(&[&base, &top_a], "a");
    let cfg_b = config(&[&base, &top_b], "b");
    let hex = |b: &[u8]| Digest::of_bytes(b).hex().to_string();
    // Docker 20.10: v1-id directories, a repeated layer as a symlink to the
    // first copy, config as <id>.json, manifest.json and repositories last.
    let entries = vec![
        E::File("v1base/layer.tar".into(), base.clone()),
        E::File("v1a/layer.tar".into(), top_a.clone()),
        E::Link("v1base2/layer.tar".into(), "../v1base/layer.tar".into()),
        E::File("v1b/layer.tar".into(), top_b.clone()),
        E::File(format!("{}.json", hex(&cfg_a)), cfg_a.clone()),
        E::File(format!("{}.json", hex(&cfg_b)), cfg_b.clone()),
        E::File(
            "manifest.json".into(),
            serde_json::to_vec(&json!([
                {"Config": format!("{}.json", hex(&cfg_a)), "RepoTags": ["a:1", "a:2", "registry.local:5000/x/a:3"],
                 "Layers": ["v1base/layer.tar", "v1a/layer.tar"]},
                {"Config": format!("{}.json", hex(&cfg_b)), "RepoTags": null,
                 "Layers": ["v1base2/layer.tar", "v1b/layer.tar"]},
            ]))
            .unwrap(),
        ),
        E::File("repositories".into(), br#"{"b":{"legacy":"v1b"}}"#.to_vec()),
    ];
    let (_d, s) = store();
    let loaded = archive::load(&s, Cursor::new(tar_of(&entries))).unwrap();
    assert_eq!(loaded.len(), 2);
    assert_eq!(loaded[0].id, Digest::of_bytes(&cfg_a));
    assert_eq!(
        names(&s, &loaded[0].id),
        ["a:1", "a:2", "registry.local:5000/x/a:3"]
    );
    // Untagged in manifest.json, named by the legacy repositories file.
    assert_eq!(names(&s, &loaded[1].id), ["b:legacy"]);
    // The base layer is shared: 3 layers for 2 images of 2 layers.
    assert_eq!(std::fs::read_dir(s.layers_dir()).unwrap().count(), 3);
    let la = s.image_layers(&loaded[0].id).unwrap();
    let lb = s.image_layers(&loaded[1].id).unwrap();
    assert_eq!(la[0].chain_id, lb[0].chain_id);
    assert!(s.layer_path(&la[1].chain_id).join("a").is_file());
}

fn gzip(d: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(d).unwrap();
    e.finish().unwrap()
}

fn blob(entries: &mut Vec<E>, data: &[u8]) -> Digest {
    let d = Digest::of_bytes(data);
    entries.push(E::File(format!("blobs/sha256/{}", d.hex()), data.to_vec()));
    d
}

#[test]
fn oci_nested_index_compressed_layers_and_annotations() {
    let l1 = layer(&[("one", "1\n")]);
    let l2 = layer(&[("two", "2\n")]);
    let gz = gzip(&l1);
    let zs = zstd::encode_all(&l2[..], 3).unwrap();
    let cfg = config(&[&l1, &l2], "oci");
    let mut entries = vec![E::File(
        "oci-layout".into(),
        br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
    )];
    let gz_d = blob(&mut entries, &gz);
    let zs_d = blob(&mut entries, &zs);
    let cfg_d = blob(&mut entries, &cfg);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg_d.to_string(), "size": cfg.len()},
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": gz_d.to_string(), "size": gz.len()},
            {"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd", "digest": zs_d.to_string(), "size": zs.len()},
        ],
    }))
    .unwrap();
    let m_d = blob(&mut entries, &manifest);
    // A nested index with another platform first.
    let nested = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": format!("sha256:{}", "0".repeat(64)), "size": 1,
             "platform": {"os": "linux", "architecture": "s390x-not-this"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": m_d.to_string(), "size": manifest.len(),
             "platform": {"os": "linux", "architecture": archive::go_arch()}},
        ],
    }))
    .unwrap();
    let n_d = blob(&mut entries, &nested);
    let index = json!({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": n_d.to_string(), "size": nested.len(),
         "annotations": {"io.containerd.image.name": "docker.io/library/multi:arch", "org.opencontainers.image.ref.name": "arch"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": m_d.to_string(), "size": manifest.len(),
         "annotations": {"org.opencontainers.image.ref.name": "just-a-tag"}},
    ]});
    entries.push(E::File(
        "index.json".into(),
        serde_json::to_vec(&index).unwrap(),
    ));
    let (_d, s) = store();
    let loaded = archive::load(&s, Cursor::new(tar_of(&entries))).unwrap();
    assert_eq!(loaded.len(), 2);
    let id = Digest::of_bytes(&cfg);
    assert!(loaded.iter().all(|l| l.id == id));
    assert_eq!(names(&s, &id), ["multi:arch"]);
    // A bare tag names no repository: that entry loads untagged.
    assert!(loaded[1].names.is_empty());
    let layers = s.image_layers(&id).unwrap();
    assert_eq!(layers[0].blob_digest.as_ref(), Some(&gz_d));
    assert_eq!(layers[1].blob_digest.as_ref(), Some(&zs_d));
    assert!(s.layer_path(&layers[1].chain_id).join("two").is_file());

    // OCI save keeps the original compressed blobs; docker-archive save
    // writes them uncompressed, named by diff id.
    let mut oci = Vec::new();
    archive::save(
        &s,
        &["multi:arch".to_string()],
        &mut oci,
        ArchiveFormat::OciArchive,
    )
    .unwrap();
    let mut docker = Vec::new();
    archive::save(
        &s,
        &["multi:arch".to_string()],
        &mut docker,
        ArchiveFormat::DockerArchive,
    )
    .unwrap();
    let list = |b: &[u8]| -> Vec<String> {
        tar::Archive::new(b)
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect()
    };
    let ol = list(&oci);
    assert!(
        ol.contains(&format!("blobs/sha256/{}", gz_d.hex())),
        "{ol:?}"
    );
    assert!(
        ol.contains(&format!("blobs/sha256/{}", zs_d.hex())),
        "{ol:?}"
    );
    assert_eq!(ol.last().unwrap(), "oci-layout");
    let dl = list(&docker);
    assert!(
        dl.contains(&format!("blobs/sha256/{}", Digest::of_bytes(&l1).hex())),
        "{dl:?}"
    );
    assert!(
        dl.contains(&format!("blobs/sha256/{}", Digest::of_bytes(&l2).hex())),
        "{dl:?}"
    );
    let mut manifest = String::new();
    for e in tar::Archive::new(&docker[..]).entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap().to_str() == Some("manifest.json") {
            e.read_to_string(&mut manifest).unwrap();
        }
    }
    assert!(
        manifest.contains(r#""RepoTags":["multi:arch"]"#),
        "{manifest}"
    );

    // Both load back into a fresh store with the same id.
    for bytes in [oci, docker] {
        let (_d2, s2) = store();
        let back = archive::load(&s2, Cursor::new(bytes)).unwrap();
        assert_eq!(back[0].id, id);
        assert_eq!(names(&s2, &id), ["multi:arch"]);
    }
}

#[test]
fn import_builds_a_one_layer_image() {
    let (_d, s) = store();
    let root = layer(&[("bin/hello", "hi\n")]);
    let r = Reference::parse_with_default_tag("imported").unwrap();
    let changes = vec!["ENV X=1".to_string(), "CMD [\"/bin/hello\"]".to_string()];
    let id = archive::import(
        &s,
        Cursor::new(gzip(&root)),
        Some(&r),
        &changes,
        "rootfs.tgz",
        None,
    )
    .unwrap();
    let img = s.image(&id).unwrap();
    assert_eq!(img.diff_ids, vec![Digest::of_bytes(&root)]);
    let cfg: serde_json::Value =
        serde_json::from_slice(&s.image_config_bytes(&id).unwrap()).unwrap();
    assert_eq!(cfg["config"]["Env"], json!(["X=1"]));
    assert_eq!(cfg["config"]["Cmd"], json!(["/bin/hello"]));
    assert_eq!(cfg["history"][0]["comment"], "Imported from rootfs.tgz");
    assert_eq!(cfg["os"], "linux");
    // The original (gzip) blob is kept for save.
    let l = &s.image_layers(&id).unwrap()[0];
    assert_eq!(l.compression, storage::Compression::Gzip);
    assert!(s.has_blob(l.blob_digest.as_ref().unwrap()));
}
