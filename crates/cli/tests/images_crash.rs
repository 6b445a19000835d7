//! A `load` killed with SIGKILL mid-way (while spooling blobs, and again
//! while unpacking layers) leaves the store consistent: no image, no
//! half-made layer once the store is reopened, and the next `load` of the
//! same archive succeeds. Also: the peak RSS of a load stays bounded.

mod common;

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;
use std::process::{Child, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::{image_ids, tree, Env};
use serde_json::json;
use storage::{Digest, HashingReader};

/// Deterministic incompressible bytes: a 1 MiB xorshift block, repeated
/// with each copy stamped by its index (fast even in a debug build).
struct Noise {
    block: Vec<u8>,
    pos: u64,
    left: u64,
}

impl Noise {
    fn new(seed: u64, len: u64) -> Noise {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut block = vec![0u8; 1 << 20];
        for chunk in block.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes());
        }
        Noise {
            block,
            pos: 0,
            left: len,
        }
    }
}

impl Read for Noise {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let off = (self.pos % (1 << 20)) as usize;
        let n = buf.len().min(self.left as usize).min((1 << 20) - off);
        buf[..n].copy_from_slice(&self.block[off..off + n]);
        if off == 0 && n >= 8 {
            buf[..8].copy_from_slice(&(self.pos >> 20).to_le_bytes());
        }
        self.pos += n as u64;
        self.left -= n as u64;
        Ok(n)
    }
}

/// Writes a docker-archive with `layers` layers of one `mb`-MB file each,
/// `manifest.json` last; returns its path.
fn big_archive(dir: &Path, layers: u64, mb: u64) -> std::path::PathBuf {
    let mut diff_ids = Vec::new();
    let mut layer_files = Vec::new();
    for i in 0..layers {
        let p = dir.join(format!("layer{i}.tar"));
        let mut b = tar::Builder::new(BufWriter::new(File::create(&p).unwrap()));
        let mut h = tar::Header::new_ustar();
        h.set_size(mb << 20);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, format!("data/file{i}"), Noise::new(i + 1, mb << 20))
            .unwrap();
        b.into_inner().unwrap().flush().unwrap();
        let mut r = HashingReader::new(File::open(&p).unwrap());
        io::copy(&mut r, &mut io::sink()).unwrap();
        diff_ids.push(r.finish().0);
        layer_files.push(p);
    }
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": diff_ids.iter().map(Digest::to_string).collect::<Vec<_>>()},
    }))
    .unwrap();
    let cfg_name = format!("{}.json", Digest::of_bytes(&config).hex());
    let manifest = json!([{
        "Config": cfg_name,
        "RepoTags": ["big:1"],
        "Layers": (0..layers).map(|i| format!("l{i}/layer.tar")).collect::<Vec<_>>(),
    }]);
    let out = dir.join("big.tar");
    let mut b = tar::Builder::new(BufWriter::new(File::create(&out).unwrap()));
    for (i, p) in layer_files.iter().enumerate() {
        b.append_path_with_name(p, format!("l{i}/layer.tar"))
            .unwrap();
        fs::remove_file(p).unwrap();
    }
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, data).unwrap();
    };
    add(&cfg_name, &config);
    add("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    b.into_inner().unwrap().flush().unwrap();
    out
}

/// Kills the child on drop if a test fails before it does.
struct Killer(Child);

impl Drop for Killer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `berth load -i archive`, waits until `ready` holds (or the load
/// ends), then SIGKILLs it. Returns whether it was killed mid-way.
fn kill_when(env: &Env, archive: &Path, ready: impl Fn() -> bool) -> bool {
    let child = env
        .cmd(&["load", "-i", archive.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut k = Killer(child);
    let deadline = Instant::now() + Duration::from_secs(120);
    while !ready() {
        if k.0.try_wait().unwrap().is_some() || Instant::now() > deadline {
            return false;
        }
        sleep(Duration::from_millis(5));
    }
    // Child::kill sends SIGKILL.
    k.0.kill().unwrap();
    let status = k.0.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    status.signal() == Some(9)
}

fn staging_entries(env: &Env, prefix: &str) -> usize {
    fs::read_dir(env.root().join("tmp"))
        .map(|d| {
            d.filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().starts_with(prefix))
            })
            .count()
        })
        .unwrap_or(0)
}

#[test]
fn sigkilled_load_leaves_store_consistent_and_retry_succeeds() {
    let env = Env::new();
    let archive = big_archive(env.dir.path(), 3, 16);
    // 1: killed while the archive's blobs are being spooled.
    let killed = kill_when(&env, &archive, || {
        staging_entries(&env, "load-") > 0 && staging_entries(&env, "blob-") > 0
    });
    assert!(killed, "load finished before it could be killed");
    assert!(image_ids(&env).is_empty());
    // Reopening the store (any command) removes the dead process's staging.
    assert_eq!(tree(&env.root().join("tmp")), Vec::<String>::new());

    // 2: killed while layers are being unpacked.
    let layers = env.root().join("layers");
    let killed = kill_when(&env, &archive, || {
        staging_entries(&env, "layer") > 0 || fs::read_dir(&layers).is_ok_and(|d| d.count() > 0)
    });
    assert!(killed, "load finished before it could be killed");
    assert!(image_ids(&env).is_empty());
    assert_eq!(tree(&env.root().join("tmp")), Vec::<String>::new());
    // Every layer directory left is complete (complete layers may stay).
    for e in fs::read_dir(&layers).unwrap() {
        assert!(e.unwrap().path().join("diff/data").is_dir());
    }

    // 3: the retry succeeds and the store is clean.
    assert_eq!(
        env.ok(&["load", "-i", archive.to_str().unwrap()]),
        "Loaded image: big:1\n"
    );
    assert_eq!(image_ids(&env).len(), 1);
    assert_eq!(fs::read_dir(&layers).unwrap().count(), 3);
    assert_eq!(tree(&env.root().join("tmp")), Vec::<String>::new());
    let f = layers.read_dir().unwrap().next().unwrap().unwrap().path();
    let data = fs::read_dir(f.join("diff/data"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(data.metadata().unwrap().len(), 16 << 20);
}

/// Streaming: the peak RSS of a load stays far below the archive's size
/// (layers are never held in memory), measured by GNU time.
#[test]
fn load_peak_rss_is_bounded() {
    let env = Env::new();
    let archive = big_archive(env.dir.path(), 2, 48);
    let rss_file = env.path("rss");
    let out = std::process::Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(&rss_file)
        .arg(common::BERTH)
        .arg("--root")
        .arg(env.root())
        .args(["load", "-q", "-i"])
        .arg(&archive)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kb: u64 = fs::read_to_string(&rss_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(kb < 50 * 1024, "peak RSS {kb} KB for a 96 MB archive");
    assert_eq!(image_ids(&env).len(), 1);
}
