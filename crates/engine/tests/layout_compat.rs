//! The container dir layout across versions (root): a new container has
//! no `rootfs/` of its own (the overlay goes on the store's shared mount
//! point), and a container made by an older berth, which has one, still
//! runs and is removed whole.

mod common;

use common::engine_with_busybox;
use engine::options::RunFlags;
use engine::Engine;

#[test]
fn old_and_new_container_dirs_both_run_and_remove() {
    // In a single-threaded child: it spawns a container in-process.
    let code = testkit::in_child(|| {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine_with_busybox(dir.path());
        let args = [
            "sh".to_string(),
            "-c".into(),
            "test \"$(cat /etc/hostname)\" = \"$(hostname)\" && echo hi > /f".into(),
        ];
        let new = engine
            .create("busybox", RunFlags::default().parse().unwrap(), &args)
            .unwrap();
        let old = engine
            .create("busybox", RunFlags::default().parse().unwrap(), &args)
            .unwrap();
        let new_dir = engine.container_dir(&new.id);
        assert!(!new_dir.join("rootfs").exists());
        // As an older berth left it: an empty per-container mount point.
        let old_dir = engine.container_dir(&old.id);
        std::fs::create_dir(old_dir.join("rootfs")).unwrap();
        // A store an older berth made has no shared mount point: this berth
        // opening it must make it, or none of its containers starts.
        drop(engine);
        std::fs::remove_dir(dir.path().join("root/merged")).unwrap();
        let engine = Engine::open(&dir.path().join("root"), &dir.path().join("run")).unwrap();
        for c in [&old, &new] {
            assert_eq!(engine.run_foreground(c).unwrap(), 0, "{}", c.id);
            let upper = engine.container_dir(&c.id).join("upper/f");
            assert_eq!(std::fs::read_to_string(upper).unwrap(), "hi\n");
        }
        for c in [&new, &old] {
            engine.remove(&c.id, false).unwrap();
            assert!(!engine.container_dir(&c.id).exists());
        }
        assert!(engine.list().unwrap().is_empty());
        let tmp = dir.path().join("root/tmp");
        assert_eq!(std::fs::read_dir(tmp).unwrap().count(), 0);
        0
    });
    assert_eq!(code, 0);
}
