//! The image store: add/resolve/list/tag/untag/rmi/prune with Docker's
//! rules, layer sharing between images, and config access.

mod store_common;

use storage::{ImageError, NewImage, Reference, RemoveEvent, StoreError};
use store_common::{config, sha, Tar, TestStore};

fn layer(name: &str, content: &[u8]) -> Vec<u8> {
    let mut t = Tar::new();
    t.file(name, content);
    t.finish()
}

fn no_containers(_: &storage::ImageId) -> Option<String> {
    None
}

fn familiar(refs: &[Reference]) -> Vec<String> {
    refs.iter().map(|r| r.familiar_string()).collect()
}

#[test]
fn add_resolve_and_list() {
    let ts = TestStore::new();
    let base = layer("base", b"base");
    let top = layer("top", b"top content");
    let (id, layers) = ts.image(
        &[base.clone(), top.clone()],
        "a",
        &["busybox", "localhost:5000/x/y:v1"],
    );
    let img = ts.store.image(&id).unwrap();
    assert_eq!(
        familiar(&img.repo_tags),
        ["busybox:latest", "localhost:5000/x/y:v1"]
    );
    assert_eq!(img.diff_ids, vec![sha(&base), sha(&top)]);
    assert_eq!(
        img.layers,
        layers
            .iter()
            .map(|l| l.chain_id.clone())
            .collect::<Vec<_>>()
    );
    assert_eq!(img.size, 4 + 11);
    assert_eq!(img.created.as_deref(), Some("2024-01-02T03:04:05Z"));
    for name in [
        "busybox",
        "busybox:latest",
        "docker.io/library/busybox",
        "localhost:5000/x/y:v1",
        &id.to_string(),
        &id.hex()[..12],
        &id.hex()[..3],
        &format!("sha256:{}", &id.hex()[..10]),
    ] {
        assert_eq!(ts.store.resolve(name).unwrap(), id, "{name}");
    }
    let err = ts.store.resolve("nothere").unwrap_err();
    assert_eq!(err.to_string(), "No such image: nothere");
    let err = ts.store.resolve("Bad:Ref").unwrap_err();
    assert!(
        err.to_string().contains("invalid reference format"),
        "{err}"
    );
    assert_eq!(
        ts.store.image_config_bytes(&id).unwrap(),
        config(&img.diff_ids, "a")
    );
    let cfg = ts.store.image_config(&id).unwrap();
    assert_eq!(cfg.rootfs().diff_ids().len(), 2);
    assert_eq!(ts.store.list_images().unwrap(), vec![img]);
    let layers_back = ts.store.image_layers(&id).unwrap();
    assert_eq!(layers_back, layers);
}

#[test]
fn digest_references_and_manifest_digest() {
    let ts = TestStore::new();
    let l = ts.unpack(&layer("f", b"x"), None);
    let manifest = sha(b"manifest");
    let cfg = config(std::slice::from_ref(&l.diff_id), "m");
    let new = NewImage {
        tags: vec![Reference::parse("busybox:1.36").unwrap()],
        manifest_digest: Some(manifest.clone()),
    };
    let id = ts.store.add_image(&cfg, &new).unwrap();
    let img = ts.store.image(&id).unwrap();
    assert_eq!(familiar(&img.repo_digests), [format!("busybox@{manifest}")]);
    assert_eq!(
        ts.store.resolve(&format!("busybox@{manifest}")).unwrap(),
        id
    );
    assert!(ts.store.resolve(&format!("other@{manifest}")).is_err());
}

#[test]
fn ambiguous_prefix_is_an_error() {
    let ts = TestStore::new();
    let l = ts.unpack(&layer("f", b"x"), None);
    // 17 images: two must share the first hex digit.
    let mut ids = Vec::new();
    for i in 0..17 {
        let cfg = config(std::slice::from_ref(&l.diff_id), &i.to_string());
        ids.push(ts.store.add_image(&cfg, &NewImage::default()).unwrap());
    }
    let clash = ids
        .iter()
        .find(|a| ids.iter().filter(|b| b.hex()[..1] == a.hex()[..1]).count() > 1)
        .unwrap();
    let err = ts.store.resolve(&clash.hex()[..1]).unwrap_err();
    assert!(
        matches!(err, StoreError::Image(ImageError::Ambiguous(_))),
        "{err}"
    );
    assert_eq!(ts.store.list_images().unwrap().len(), 17);
}

#[test]
fn missing_layers_and_bad_configs_are_refused() {
    let ts = TestStore::new();
    let cfg = config(&[sha(b"never unpacked")], "x");
    let err = ts.store.add_image(&cfg, &NewImage::default()).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Image(ImageError::MissingLayer { index: 0, .. })
        ),
        "{err}"
    );
    let err = ts
        .store
        .add_image(b"{not json", &NewImage::default())
        .unwrap_err();
    assert!(
        err.to_string().contains("not a valid image config"),
        "{err}"
    );
    let err = ts
        .store
        .add_image(
            br#"{"rootfs":{"type":"layers","diff_ids":["sha256:1"]}}"#,
            &NewImage::default(),
        )
        .unwrap_err();
    assert!(err.to_string().contains("diff_ids"), "{err}");
    assert!(ts.store.list_images().unwrap().is_empty());
}

#[test]
fn tags_move_between_images_and_untag_leaves_dangling() {
    let ts = TestStore::new();
    let (a, _) = ts.image(&[layer("a", b"a")], "a", &["app:1"]);
    let (b, _) = ts.image(&[layer("b", b"b")], "b", &["app:1"]);
    assert_eq!(ts.store.resolve("app:1").unwrap(), b);
    assert!(
        ts.store.image(&a).unwrap().repo_tags.is_empty(),
        "tag moved"
    );
    let r = ts.store.tag("app:1", "other").unwrap();
    assert_eq!(r.familiar_string(), "other:latest");
    assert_eq!(ts.store.resolve("other").unwrap(), b);
    ts.store.tag(&a.hex()[..12], "app:1").unwrap();
    assert_eq!(ts.store.resolve("app:1").unwrap(), a);
    assert_eq!(ts.store.untag("other").unwrap(), b);
    assert!(ts.store.image(&b).unwrap().repo_tags.is_empty());
    assert!(ts.store.untag("other").is_err());
    assert!(ts.store.tag("nothere", "x").is_err());
    assert!(ts.store.tag("app:1", "UPPER").is_err());
}

#[test]
fn shared_base_layers_are_shared_and_kept_on_remove() {
    let ts = TestStore::new();
    let base = layer("base", b"base");
    let (a, la) = ts.image(&[base.clone(), layer("a", b"a")], "a", &["a"]);
    let (b, lb) = ts.image(&[base.clone(), layer("b", b"b")], "b", &["b"]);
    assert_eq!(la[0].chain_id, lb[0].chain_id);
    assert_eq!(ts.layer_dirs().len(), 3, "base unpacked once");
    let ev = ts.store.remove_image("a", false, &no_containers).unwrap();
    assert_eq!(
        ev,
        vec![
            RemoveEvent::Untagged(Reference::parse("a:latest").unwrap()),
            RemoveEvent::Deleted(a.clone())
        ]
    );
    assert!(ts.store.has_layer(&la[0].chain_id), "shared base kept");
    assert!(!ts.store.has_layer(&la[1].chain_id), "own layer removed");
    assert!(!ts.store.has_blob(&a), "config blob removed");
    assert!(ts.store.has_blob(&b));
    assert!(ts.store.resolve("a").is_err());
    ts.store
        .remove_image(&b.to_string(), false, &no_containers)
        .unwrap();
    assert!(ts.layer_dirs().is_empty());
    assert!(ts.tmp_entries().is_empty());
    let rows: i64 = ts
        .store
        .db()
        .conn()
        .query_row("SELECT count(*) FROM layers", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 0);
}

#[test]
fn rmi_follows_dockers_rules() {
    let ts = TestStore::new();
    let (id, _) = ts.image(&[layer("f", b"f")], "x", &["one:1", "one:2", "two:1"]);
    // By name with other names left: only untagged.
    let ev = ts
        .store
        .remove_image("one:2", false, &no_containers)
        .unwrap();
    assert_eq!(
        ev,
        vec![RemoveEvent::Untagged(Reference::parse("one:2").unwrap())]
    );
    // By id with names in two repositories: refused without force.
    let err = ts
        .store
        .remove_image(&id.hex()[..12], false, &no_containers)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories", id.short())
    );
    // In use by a container: refused without force, untag only with force.
    let used = |_: &storage::ImageId| Some("3f2a91c0be11aaaa".to_string());
    let err = ts
        .store
        .remove_image("two:1", true, &used)
        .map(|_| ())
        .and_then(|_| ts.store.remove_image("one:1", false, &used).map(|_| ()));
    let err = err.unwrap_err();
    assert!(
        err.to_string()
            .contains("container 3f2a91c0be11 is using its referenced image"),
        "{err}"
    );
    let ev = ts.store.remove_image("one:1", true, &used).unwrap();
    assert_eq!(
        ev,
        vec![RemoveEvent::Untagged(Reference::parse("one:1").unwrap())]
    );
    assert!(ts.store.image(&id).is_ok(), "in-use image kept, dangling");
    // Dangling and unused: deleted by id; a second time it is gone.
    let ev = ts
        .store
        .remove_image(&id.to_string(), false, &no_containers)
        .unwrap();
    assert_eq!(ev, vec![RemoveEvent::Deleted(id.clone())]);
    let err = ts
        .store
        .remove_image(&id.to_string(), false, &no_containers)
        .unwrap_err();
    assert!(err.to_string().starts_with("No such image"), "{err}");
}

#[test]
fn rmi_by_id_with_force_removes_every_name() {
    let ts = TestStore::new();
    let (id, _) = ts.image(&[layer("f", b"f")], "x", &["one:1", "two:1"]);
    let ev = ts
        .store
        .remove_image(&id.hex()[..5], true, &no_containers)
        .unwrap();
    assert_eq!(ev.len(), 3);
    assert_eq!(ev[2], RemoveEvent::Deleted(id));
    assert!(ts.store.list_images().unwrap().is_empty());
    assert!(ts.layer_dirs().is_empty());
}

#[test]
fn prune_removes_dangling_or_all_unused() {
    let ts = TestStore::new();
    let (tagged, _) = ts.image(&[layer("t", b"t")], "t", &["keep"]);
    let (dangling, _) = ts.image(&[layer("d", b"dangling")], "d", &[]);
    let (used, _) = ts.image(&[layer("u", b"u")], "u", &[]);
    let in_use = |id: &storage::ImageId| (*id == used).then(|| "c0ffee".to_string());
    let (ev, bytes) = ts.store.prune_images(false, &in_use).unwrap();
    assert_eq!(ev, vec![RemoveEvent::Deleted(dangling)]);
    assert_eq!(bytes, 8);
    let (ev, _) = ts.store.prune_images(true, &in_use).unwrap();
    assert_eq!(
        ev,
        vec![
            RemoveEvent::Untagged(Reference::parse("keep:latest").unwrap()),
            RemoveEvent::Deleted(tagged)
        ]
    );
    let left: Vec<_> = ts
        .store
        .list_images()
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(left, vec![used]);
    assert_eq!(ts.layer_dirs().len(), 1);
}

#[test]
fn orphan_layers_survive_until_old() {
    let ts = TestStore::new();
    let l = ts.unpack(&layer("o", b"orphan"), None);
    ts.store.prune_images(true, &no_containers).unwrap();
    assert!(
        ts.store.has_layer(&l.chain_id),
        "a fresh layer may be about to be used by a load"
    );
    ts.store
        .db()
        .conn()
        .execute("UPDATE layers SET created_at = 0", [])
        .unwrap();
    let (_, bytes) = ts.store.prune_images(false, &no_containers).unwrap();
    assert_eq!(bytes, 6);
    assert!(!ts.store.has_layer(&l.chain_id));
}

#[test]
fn unrecorded_layer_dirs_are_pruned_when_old() {
    let ts = TestStore::new();
    let l = ts.unpack(&layer("u", b"unrecorded"), None);
    // As if killed between the rename into layers/ and the record.
    ts.store
        .db()
        .conn()
        .execute("DELETE FROM layers", [])
        .unwrap();
    ts.store.prune_images(false, &no_containers).unwrap();
    assert!(ts.store.has_layer(&l.chain_id), "fresh dirs are kept");
    let dir = ts.root().join("layers").join(l.chain_id.hex());
    let old = nix::sys::time::TimeSpec::new(1_000_000_000, 0);
    nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        &dir,
        &old,
        &old,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .unwrap();
    ts.store.prune_images(false, &no_containers).unwrap();
    assert!(!ts.store.has_layer(&l.chain_id));
    assert!(ts.layer_dirs().is_empty());
    assert!(ts.tmp_entries().is_empty());
}
