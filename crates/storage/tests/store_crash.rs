//! Several processes and SIGKILL: a killed unpack leaves only locked
//! staging that the next open removes (while a live process's staging is
//! kept), and two processes adding images that share layers at once leave
//! a consistent store. Children are forked; tests here run one at a time.

mod store_common;

use std::fs::File;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, pipe, ForkResult, Pid};
use storage::{NewImage, Reference, Store, UnpackOptions};
use store_common::{sha, Tar, TestStore};

/// Forking while another test thread allocates could deadlock the child.
static SERIAL: Mutex<()> = Mutex::new(());

/// Runs `f` in a forked child that exits 0 on `Ok`; an error or panic is
/// written to the real stderr (the harness's capture is lost in a child).
fn in_child(f: impl FnOnce() -> Result<(), String>) -> Pid {
    // SAFETY: SERIAL serialises this binary's tests, so no thread holds a lock
    // the child needs; the child runs `f` and _exits, never returning.
    match unsafe { fork() }.unwrap() {
        ForkResult::Child => {
            let code = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
                Ok(Ok(())) => 0,
                Ok(Err(e)) => {
                    let _ = writeln!(std::io::stderr(), "child {}: {e}", std::process::id());
                    1
                }
                Err(_) => 101,
            };
            // SAFETY: _exit ends the child without running the parent's
            // atexit handlers or destructors twice.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => child,
    }
}

/// Kills the child on drop if a test assertion fails first.
struct Child(Option<Pid>);

impl Drop for Child {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = kill(p, Signal::SIGKILL);
            let _ = waitpid(p, None);
        }
    }
}

fn wait_exit(c: &mut Child) -> i32 {
    match waitpid(c.0.take().unwrap(), None).unwrap() {
        WaitStatus::Exited(_, code) => code,
        other => panic!("child ended with {other:?}"),
    }
}

fn big_layer() -> Vec<u8> {
    let mut t = Tar::new();
    t.file("small", b"s")
        .file("big", &vec![0x5a; 8 << 20])
        .file("after", b"a");
    t.finish()
}

#[test]
fn killed_unpack_is_cleaned_and_retry_succeeds() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let ts = TestStore::new();
    let root = ts.root();
    let data = big_layer();
    let (rd, wr): (OwnedFd, OwnedFd) = pipe().unwrap();
    let opts = UnpackOptions {
        expected_diff_id: Some(sha(&data)),
        store_blob: true,
        ..Default::default()
    };
    let child_opts = opts.clone();
    let child_root = root.clone();
    let mut child = Child(Some(in_child(move || {
        let store = Store::open(&child_root).unwrap();
        store
            .unpack_layer(File::from(rd), &child_opts)
            .map(drop)
            .map_err(|e| e.to_string())
    })));
    // Feed half the stream, then wait until the child's staging exists.
    let mut w = File::from(wr);
    w.write_all(&data[..data.len() / 2]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while ts
        .tmp_entries()
        .iter()
        .filter(|n| n.starts_with("layer-") || n.starts_with("blob-"))
        .count()
        < 2
    {
        assert!(
            Instant::now() < deadline,
            "child never staged: {:?}",
            ts.tmp_entries()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Opening the store while the child is alive keeps its staging.
    drop(Store::open(&root).unwrap());
    assert_eq!(
        ts.tmp_entries().len(),
        2,
        "live staging removed: {:?}",
        ts.tmp_entries()
    );

    kill(child.0.unwrap(), Signal::SIGKILL).unwrap();
    assert!(matches!(
        waitpid(child.0.take().unwrap(), None).unwrap(),
        WaitStatus::Signaled(_, Signal::SIGKILL, _)
    ));
    drop(w);
    assert_eq!(ts.tmp_entries().len(), 2, "the kill leaves staging behind");
    assert!(ts.layer_dirs().is_empty());

    let store = Store::open(&root).unwrap();
    assert!(
        ts.tmp_entries().is_empty(),
        "leftovers not cleaned: {:?}",
        ts.tmp_entries()
    );
    assert!(store_common::names(&root.join("blobs/sha256")).is_empty());
    let layer = store.unpack_layer(&data[..], &opts).unwrap();
    assert_eq!(
        std::fs::metadata(store.layer_path(&layer.chain_id).join("big"))
            .unwrap()
            .len(),
        8 << 20
    );
    assert!(store.has_blob(layer.blob_digest.as_ref().unwrap()));
}

#[test]
fn two_processes_add_images_sharing_layers() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let ts = TestStore::new();
    let mut base = Tar::new();
    base.file("base", &vec![1u8; 256 << 10]);
    let base = base.finish();
    let rounds = 8;
    let mut children: Vec<Child> = (0..2)
        .map(|who| {
            let root = ts.root();
            let base = base.clone();
            Child(Some(in_child(move || {
                for i in 0..rounds {
                    let store = Store::open(&root).map_err(|e| e.to_string())?;
                    let mut own = Tar::new();
                    own.file("own", format!("{who}-{i}").as_bytes());
                    let own = own.finish();
                    let opts = UnpackOptions {
                        expected_diff_id: Some(sha(&base)),
                        ..Default::default()
                    };
                    let b = store
                        .unpack_layer(&base[..], &opts)
                        .map_err(|e| e.to_string())?;
                    let opts = UnpackOptions {
                        parent: Some(b.chain_id.clone()),
                        ..Default::default()
                    };
                    let o = store
                        .unpack_layer(&own[..], &opts)
                        .map_err(|e| e.to_string())?;
                    let cfg = store_common::config(&[b.diff_id, o.diff_id], &format!("{who}-{i}"));
                    let tags = vec![
                        Reference::parse(&format!("img:{who}-{i}")).unwrap(),
                        Reference::parse("img:shared").unwrap(),
                    ];
                    store
                        .add_image(
                            &cfg,
                            &NewImage {
                                tags,
                                manifest_digest: None,
                            },
                        )
                        .map_err(|e| e.to_string())?;
                }
                Ok(())
            })))
        })
        .collect();
    for c in &mut children {
        assert_eq!(wait_exit(c), 0, "a child failed");
    }
    let store = Store::open(&ts.root()).unwrap();
    let images = store.list_images().unwrap();
    assert_eq!(images.len(), 2 * rounds);
    assert_eq!(
        ts.layer_dirs().len(),
        1 + 2 * rounds,
        "base unpacked once, shared"
    );
    let base_chain = &images[0].layers[0];
    assert!(images.iter().all(|i| &i.layers[0] == base_chain));
    let shared = images
        .iter()
        .filter(|i| i.repo_tags.iter().any(|t| t.tag() == Some("shared")))
        .count();
    assert_eq!(shared, 1, "a tag names exactly one image");
    assert!(ts.tmp_entries().is_empty());
    // Removing everything leaves an empty, consistent store.
    for img in images {
        store
            .remove_image(&img.id.to_string(), true, &|_| None)
            .unwrap();
    }
    assert!(ts.layer_dirs().is_empty());
}

#[test]
fn concurrent_first_opens_of_a_fresh_store_all_succeed() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    // The race (SQLite answering "database is locked" without waiting while
    // another process switches a fresh file to WAL) is narrow: many rounds.
    for round in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        concurrent_first_opens(&dir.path().join(format!("fresh-{round}")));
    }
}

fn concurrent_first_opens(root: &Path) {
    let mut children: Vec<Child> = (0..8)
        .map(|_| {
            let root = root.to_path_buf();
            Child(Some(in_child(move || {
                let store = Store::open(&root).map_err(|e| e.to_string())?;
                store
                    .db()
                    .migrate("extra", &["CREATE TABLE extra (v INTEGER)"])
                    .map_err(|e| e.to_string())?;
                Ok(())
            })))
        })
        .collect();
    for c in &mut children {
        assert_eq!(wait_exit(c), 0, "a concurrent open failed");
    }
    let store = Store::open(root).unwrap();
    let v: i64 = store
        .db()
        .conn()
        .query_row(
            "SELECT version FROM berth_schema WHERE component = 'extra'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(v, 1);
    let uv: i64 = store
        .db()
        .conn()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(uv, 1);
    let mode: String = store
        .db()
        .conn()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

/// A docker-archive of two big plain layers, manifest.json last.
fn two_layer_archive() -> (Vec<u8>, usize) {
    let l0 = big_layer();
    let mut t = Tar::new();
    t.file("top", &vec![0xa5; 4 << 20]);
    let l1 = t.finish();
    let cfg = store_common::config(&[sha(&l0), sha(&l1)], "crash");
    let cname = format!("{}.json", sha(&cfg).hex());
    let manifest = serde_json::json!([
        {"Config": cname, "RepoTags": ["crash:1"], "Layers": ["a/layer.tar", "b/layer.tar"]}
    ]);
    let mut a = Tar::new();
    a.file("a/layer.tar", &l0)
        .file("b/layer.tar", &l1)
        .file(&cname, &cfg)
        .file("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    // Where the second layer's data starts (after two 512-byte headers).
    (a.finish(), 512 + l0.len() + 512)
}

#[test]
fn killed_load_with_layers_unpacked_ahead_leaves_nothing_and_retry_succeeds() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let ts = TestStore::new();
    let root = ts.root();
    let (archive, second) = two_layer_archive();
    let (rd, wr): (OwnedFd, OwnedFd) = pipe().unwrap();
    let child_root = root.clone();
    let mut child = Child(Some(in_child(move || {
        let store = Store::open(&child_root).unwrap();
        storage::archive::load(&store, File::from(rd))
            .map(drop)
            .map_err(|e| e.to_string())
    })));
    // The whole first layer (unpacked ahead, waiting in staging for the
    // manifest) and part of the second.
    let mut w = File::from(wr);
    w.write_all(&archive[..second + (1 << 20)]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while ts
        .tmp_entries()
        .iter()
        .filter(|n| n.starts_with("layer-"))
        .count()
        < 2
    {
        assert!(
            Instant::now() < deadline,
            "child never staged both layers: {:?}",
            ts.tmp_entries()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    kill(child.0.unwrap(), Signal::SIGKILL).unwrap();
    assert!(matches!(
        waitpid(child.0.take().unwrap(), None).unwrap(),
        WaitStatus::Signaled(_, Signal::SIGKILL, _)
    ));
    drop(w);
    assert!(ts.layer_dirs().is_empty());

    let store = Store::open(&root).unwrap();
    assert!(
        ts.tmp_entries().is_empty(),
        "leftovers not cleaned: {:?}",
        ts.tmp_entries()
    );
    assert!(store.list_images().unwrap().is_empty());
    assert!(ts.layer_dirs().is_empty());
    let loaded = storage::archive::load(&store, &archive[..]).unwrap();
    let layers = store.image_layers(&loaded[0].id).unwrap();
    assert_eq!(
        std::fs::metadata(store.layer_path(&layers[1].chain_id).join("top"))
            .unwrap()
            .len(),
        4 << 20
    );
    assert!(ts.tmp_entries().is_empty());
}

/// A pids cgroup that admits a single task (v1 `pids` hierarchy, else the
/// cgroup2 root), removed on drop once its member has exited.
struct OneTaskCgroup(std::path::PathBuf);

impl OneTaskCgroup {
    fn new() -> OneTaskCgroup {
        let v1 = Path::new("/sys/fs/cgroup/pids");
        let base = if v1.join("cgroup.procs").exists() {
            v1
        } else {
            Path::new("/sys/fs/cgroup")
        };
        let dir = base.join(format!("berth-storage-test-{}", std::process::id()));
        std::fs::create_dir(&dir).unwrap();
        let cg = OneTaskCgroup(dir);
        std::fs::write(cg.0.join("pids.max"), "1")
            .unwrap_or_else(|e| panic!("no pids controller at {}: {e}", cg.0.display()));
        cg
    }
}

impl Drop for OneTaskCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn without_a_spare_thread_unpack_and_load_run_on_one() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let ts = TestStore::new();
    let root = ts.root();
    let cg = OneTaskCgroup::new();
    let procs = cg.0.join("cgroup.procs");
    let (archive, _) = two_layer_archive();
    let mut child = Child(Some(in_child(move || {
        std::fs::write(&procs, "0").map_err(|e| format!("join cgroup: {e}"))?;
        if std::thread::Builder::new().spawn(|| ()).is_ok() {
            return Err("a thread could still be started".into());
        }
        let store = Store::open(&root).map_err(|e| e.to_string())?;
        let plain = big_layer();
        let layer = store
            .unpack_layer(
                &store_common::gzip(&plain)[..],
                &UnpackOptions {
                    expected_diff_id: Some(sha(&plain)),
                    ..Default::default()
                },
            )
            .map_err(|e| e.to_string())?;
        let big = store.layer_path(&layer.chain_id).join("big");
        if std::fs::metadata(&big).map(|m| m.len()).ok() != Some(8 << 20) {
            return Err("gzip layer not unpacked".into());
        }
        let loaded = storage::archive::load(&store, &archive[..]).map_err(|e| e.to_string())?;
        let layers = store
            .image_layers(&loaded[0].id)
            .map_err(|e| e.to_string())?;
        let top = store.layer_path(&layers[1].chain_id).join("top");
        match std::fs::metadata(&top) {
            Ok(m) if m.len() == 4 << 20 => Ok(()),
            other => Err(format!("top layer not unpacked: {other:?}")),
        }
    })));
    assert_eq!(wait_exit(&mut child), 0, "see the child's stderr");
    drop(cg);
    assert!(ts.tmp_entries().is_empty(), "{:?}", ts.tmp_entries());
}
