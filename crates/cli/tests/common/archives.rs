//! Hand-made image archives for tests: layers with chosen entries (also
//! hostile ones), and docker-archive / OCI layouts around them, so every
//! field can be broken on purpose.

use std::io::Write;

use serde_json::json;
use storage::Digest;

/// One entry of a hand-made layer.
pub enum Entry<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    HardLink(&'a str, &'a str),
}

/// A ustar header with the raw `name` (no sanitising, so `../x` and `/abs`
/// can be written).
fn header(name: &str, kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(if kind == tar::EntryType::Directory {
        0o755
    } else {
        0o644
    });
    h.set_mtime(1_700_000_000);
    h.set_uid(0);
    h.set_gid(0);
    let raw = &mut h.as_old_mut().name;
    raw.fill(0);
    raw[..name.len()].copy_from_slice(name.as_bytes());
    h
}

/// An uncompressed layer tar with these entries.
pub fn layer(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        match e {
            Entry::File(p, data) => {
                let mut h = header(p, tar::EntryType::Regular, data.len() as u64);
                h.set_cksum();
                b.append(&h, *data).unwrap();
            }
            Entry::Dir(p) => {
                let mut h = header(p, tar::EntryType::Directory, 0);
                h.set_cksum();
                b.append(&h, &[][..]).unwrap();
            }
            Entry::Symlink(p, t) | Entry::HardLink(p, t) => {
                let kind = if matches!(e, Entry::Symlink(..)) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                };
                let mut h = header(p, kind, 0);
                let raw = &mut h.as_old_mut().linkname;
                raw.fill(0);
                raw[..t.len()].copy_from_slice(t.as_bytes());
                h.set_cksum();
                b.append(&h, &[][..]).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

/// gzip of `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// An image config for these uncompressed layers.
pub fn config(diff_ids: &[Digest]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-01-02T03:04:05Z",
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids.iter().map(|d| d.to_string()).collect::<Vec<_>>()},
    }))
    .unwrap()
}

/// A tar archive of `(path, bytes)` files, in order.
pub fn tar_of(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (p, data) in files {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, p, &data[..]).unwrap();
    }
    b.into_inner().unwrap()
}

pub fn blob_path(d: &Digest) -> String {
    format!("blobs/sha256/{}", d.hex())
}

/// The files of a docker-archive with one image of these layer blobs
/// (plain or compressed), tagged `tags`; `manifest.json` comes LAST, as
/// `docker save` writes it.
pub fn docker_archive(
    layers: &[Vec<u8>],
    diff_ids: &[Digest],
    tags: &[&str],
) -> Vec<(String, Vec<u8>)> {
    let cfg = config(diff_ids);
    let cfg_digest = Digest::of_bytes(&cfg);
    let mut files = Vec::new();
    let mut paths = Vec::new();
    for l in layers {
        let p = blob_path(&Digest::of_bytes(l));
        paths.push(p.clone());
        files.push((p, l.clone()));
    }
    files.push((blob_path(&cfg_digest), cfg));
    let manifest = json!([{"Config": blob_path(&cfg_digest), "RepoTags": tags, "Layers": paths}]);
    files.push((
        "manifest.json".into(),
        serde_json::to_vec(&manifest).unwrap(),
    ));
    files
}

/// The files of an OCI layout with one image, named `name` (full
/// reference); `layer_media` per layer. `index.json` comes last.
pub fn oci_archive(
    layers: &[Vec<u8>],
    diff_ids: &[Digest],
    layer_media: &str,
    name: &str,
) -> Vec<(String, Vec<u8>)> {
    let cfg = config(diff_ids);
    let cfg_digest = Digest::of_bytes(&cfg);
    let mut files = vec![(
        "oci-layout".to_string(),
        br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
    )];
    let mut descs = Vec::new();
    for l in layers {
        let d = Digest::of_bytes(l);
        descs.push(json!({"mediaType": layer_media, "digest": d.to_string(), "size": l.len()}));
        files.push((blob_path(&d), l.clone()));
    }
    files.push((blob_path(&cfg_digest), cfg.clone()));
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg_digest.to_string(), "size": cfg.len()},
        "layers": descs,
    }))
    .unwrap();
    let md = Digest::of_bytes(&manifest);
    files.push((blob_path(&md), manifest.clone()));
    let index = json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": md.to_string(),
            "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": name},
        }],
    });
    files.push(("index.json".into(), serde_json::to_vec(&index).unwrap()));
    files
}
