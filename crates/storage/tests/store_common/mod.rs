//! Helpers shared by the store tests: tar streams built entry by entry
//! (including hostile raw names), compression, image configs, a temp store.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

use storage::{Digest, Layer, Store, UnpackOptions};
use tar::{EntryType, Header};

/// A tar stream built entry by entry, with raw names (no sanitising).
pub struct Tar {
    b: tar::Builder<Vec<u8>>,
}

/// Entry fields with sensible defaults.
pub struct E<'a> {
    pub name: &'a [u8],
    pub kind: EntryType,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
    pub link: &'a [u8],
    pub data: &'a [u8],
    pub dev: (u32, u32),
}

impl<'a> E<'a> {
    pub fn new(name: &'a str, kind: EntryType) -> E<'a> {
        E {
            name: name.as_bytes(),
            kind,
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 1_600_000_000,
            link: b"",
            data: b"",
            dev: (0, 0),
        }
    }
}

impl Default for Tar {
    fn default() -> Self {
        Tar::new()
    }
}

impl Tar {
    pub fn new() -> Tar {
        Tar {
            b: tar::Builder::new(Vec::new()),
        }
    }

    pub fn entry(&mut self, e: E<'_>) -> &mut Self {
        let mut h = Header::new_ustar();
        {
            let old = h.as_old_mut();
            assert!(e.name.len() < 100 && e.link.len() < 100);
            old.name[..e.name.len()].copy_from_slice(e.name);
            old.linkname[..e.link.len()].copy_from_slice(e.link);
        }
        h.set_entry_type(e.kind);
        h.set_mode(e.mode);
        h.set_uid(e.uid);
        h.set_gid(e.gid);
        h.set_mtime(e.mtime);
        h.set_size(e.data.len() as u64);
        if matches!(e.kind, EntryType::Char | EntryType::Block) {
            h.set_device_major(e.dev.0).unwrap();
            h.set_device_minor(e.dev.1).unwrap();
        }
        h.set_cksum();
        self.b.append(&h, e.data).unwrap();
        self
    }

    pub fn dir(&mut self, name: &str, mode: u32) -> &mut Self {
        self.entry(E {
            mode,
            ..E::new(name, EntryType::Directory)
        })
    }

    pub fn file(&mut self, name: &str, data: &[u8]) -> &mut Self {
        self.entry(E {
            data,
            ..E::new(name, EntryType::Regular)
        })
    }

    pub fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.entry(E {
            link: target.as_bytes(),
            mode: 0o777,
            ..E::new(name, EntryType::Symlink)
        })
    }

    pub fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.entry(E {
            link: target.as_bytes(),
            ..E::new(name, EntryType::Link)
        })
    }

    /// A PAX extended header applying to the next entry.
    pub fn pax(&mut self, records: &[(&str, &[u8])]) -> &mut Self {
        let mut data = Vec::new();
        for (k, v) in records {
            // "<len> <key>=<value>\n" where len counts the whole record.
            let body_len = 1 + k.len() + 1 + v.len() + 1;
            let mut len = body_len + 1;
            while len.to_string().len() + body_len != len {
                len = len.to_string().len() + body_len;
            }
            data.extend_from_slice(format!("{len} {k}=").as_bytes());
            data.extend_from_slice(v);
            data.push(b'\n');
        }
        let mut h = Header::new_ustar();
        h.as_old_mut().name[..9].copy_from_slice(b"PaxHeader");
        h.set_entry_type(EntryType::XHeader);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        self.b.append(&h, &data[..]).unwrap();
        self
    }

    pub fn finish(self) -> Vec<u8> {
        self.b.into_inner().unwrap()
    }
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 1).unwrap()
}

pub fn sha(data: &[u8]) -> Digest {
    Digest::of_bytes(data)
}

/// A store in a temp dir, with a sentinel dir next to its root that no
/// unpack may ever write to.
pub struct TestStore {
    pub dir: tempfile::TempDir,
    pub store: Store,
}

impl TestStore {
    pub fn new() -> TestStore {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sentinel")).unwrap();
        let store = Store::open(&dir.path().join("root")).unwrap();
        TestStore { dir, store }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn sentinel(&self) -> PathBuf {
        self.dir.path().join("sentinel")
    }

    /// Entries of `tmp/` (staging leftovers).
    pub fn tmp_entries(&self) -> Vec<String> {
        names(&self.root().join("tmp"))
    }

    /// Entries of `layers/`.
    pub fn layer_dirs(&self) -> Vec<String> {
        names(&self.root().join("layers"))
    }

    pub fn unpack(&self, data: &[u8], parent: Option<&Layer>) -> Layer {
        let opts = UnpackOptions {
            parent: parent.map(|p| p.chain_id.clone()),
            ..Default::default()
        };
        self.store.unpack_layer(data, &opts).unwrap()
    }

    /// Adds an image made of `layers` (tars), returning its id and layers.
    pub fn image(&self, layers: &[Vec<u8>], salt: &str, tags: &[&str]) -> (Digest, Vec<Layer>) {
        let mut out: Vec<Layer> = Vec::new();
        for l in layers {
            let layer = self.unpack(l, out.last());
            out.push(layer);
        }
        let cfg = config(
            &out.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>(),
            salt,
        );
        let new = storage::NewImage {
            tags: tags
                .iter()
                .map(|t| storage::Reference::parse_with_default_tag(t).unwrap())
                .collect(),
            manifest_digest: None,
        };
        (self.store.add_image(&cfg, &new).unwrap(), out)
    }
}

pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// A minimal OCI image config over `diff_ids`; `salt` makes ids distinct.
pub fn config(diff_ids: &[Digest], salt: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "created": "2024-01-02T03:04:05Z",
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/bin", format!("SALT={salt}")], "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids.iter().map(|d| d.to_string()).collect::<Vec<_>>()},
        "history": [{"created_by": "test"}]
    }))
    .unwrap()
}
