//! The volume store through the engine library: create (idempotent, names
//! checked), list filters, in-use refusal, prune of anonymous vs all,
//! concurrent creators; and copy-up over overlay whiteouts and opaque
//! directories (root: mknod and trusted.* xattrs).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use engine::volume::{copy_up, VolumeError, VolumeFilter, Volumes};
use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use storage::Store;

fn labels(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn create_list_remove_prune() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let vols = Volumes::open(&store).unwrap();
    let a = vols
        .create(
            Some("alpha"),
            "local",
            labels(&[("k", "v")]),
            BTreeMap::new(),
        )
        .unwrap();
    assert_eq!(a.mountpoint, dir.path().join("volumes/alpha/_data"));
    assert!(a.mountpoint.is_dir());
    fs::write(a.mountpoint.join("f"), "x").unwrap();
    // Idempotent: same volume, data untouched.
    let again = vols
        .create(Some("alpha"), "local", BTreeMap::new(), BTreeMap::new())
        .unwrap();
    assert_eq!(again, a);
    assert!(a.mountpoint.join("f").exists());
    let gen = vols
        .create(None, "local", BTreeMap::new(), BTreeMap::new())
        .unwrap();
    assert_eq!(gen.name.len(), 64);
    for bad in ["a/b", "..", "../x", ".hidden", "x"] {
        let e = vols
            .create(Some(bad), "local", BTreeMap::new(), BTreeMap::new())
            .unwrap_err();
        assert!(matches!(e, VolumeError::InvalidName(_)), "{bad}: {e}");
    }
    assert!(!dir.path().join("x").exists());
    let e = vols
        .create(Some("beta"), "nfs", BTreeMap::new(), BTreeMap::new())
        .unwrap_err();
    assert!(e.to_string().contains("plugin \"nfs\" not found"), "{e}");
    let e = vols
        .create(
            Some("beta"),
            "local",
            BTreeMap::new(),
            labels(&[("bogus", "1")]),
        )
        .unwrap_err();
    assert!(e.to_string().contains("invalid option key"), "{e}");

    let names = |f: VolumeFilter| -> Vec<String> {
        vols.list(&f).unwrap().into_iter().map(|v| v.name).collect()
    };
    assert_eq!(
        names(VolumeFilter {
            labels: vec!["k=v".into()],
            ..Default::default()
        }),
        vec!["alpha"]
    );
    assert_eq!(
        names(VolumeFilter {
            dangling: Some(true),
            ..Default::default()
        })
        .len(),
        2
    );
    assert!(matches!(
        vols.remove("nosuch", false),
        Err(VolumeError::NoSuchVolume(_))
    ));
    vols.remove("nosuch", true).unwrap();
    // Neither volume is anonymous: a plain prune keeps both, -a takes both.
    assert!(vols.prune(false, &[]).unwrap().deleted.is_empty());
    let r = vols.prune(true, &["k".to_string()]).unwrap();
    assert_eq!((r.deleted, r.reclaimed), (vec!["alpha".to_string()], 1));
    assert!(!dir.path().join("volumes/alpha").exists());
    vols.remove(&gen.name, false).unwrap();
    assert!(vols.list(&VolumeFilter::default()).unwrap().is_empty());
    // Removed directories went through tmp/ and are gone.
    assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
}

#[test]
fn concurrent_creators_get_one_volume() {
    let dir = tempfile::tempdir().unwrap();
    Store::open(dir.path()).unwrap();
    let root = dir.path().to_path_buf();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let root = root.clone();
            std::thread::spawn(move || {
                let store = Store::open(&root).unwrap();
                let vols = Volumes::open(&store).unwrap();
                vols.create(Some("shared"), "local", BTreeMap::new(), BTreeMap::new())
                    .unwrap()
                    .created_at
            })
        })
        .collect();
    let times: Vec<String> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] == w[1]));
    let store = Store::open(&root).unwrap();
    assert_eq!(
        Volumes::open(&store)
            .unwrap()
            .list(&VolumeFilter::default())
            .unwrap()
            .len(),
        1
    );
}

fn whiteout(p: &Path) {
    mknod(p, SFlag::S_IFCHR, Mode::empty(), makedev(0, 0)).unwrap();
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

fn tree(d: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for e in fs::read_dir(d.join(&rel)).unwrap() {
            let e = e.unwrap();
            let r = rel.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                stack.push(r.clone());
                out.push(format!("{}/", r.display()));
            } else {
                out.push(r.display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn copy_up_honours_whiteouts_and_opaque_dirs() {
    let t = tempfile::tempdir().unwrap();
    let l: Vec<PathBuf> = (0..3).map(|i| t.path().join(format!("l{i}"))).collect();
    for d in &l {
        fs::create_dir_all(d.join("data")).unwrap();
    }
    // Bottom: gone, kept, old/, hidden-dir/x.
    fs::write(l[2].join("data/gone"), "").unwrap();
    fs::write(l[2].join("data/kept"), "low").unwrap();
    fs::create_dir_all(l[2].join("data/old/deep")).unwrap();
    fs::write(l[2].join("data/old/deep/x"), "").unwrap();
    fs::create_dir_all(l[2].join("data/op")).unwrap();
    fs::write(l[2].join("data/op/lower-only"), "").unwrap();
    // Middle: whiteouts for gone and old; op is opaque with its own file.
    whiteout(&l[1].join("data/gone"));
    whiteout(&l[1].join("data/old"));
    fs::create_dir_all(l[1].join("data/op")).unwrap();
    opaque(&l[1].join("data/op"));
    fs::write(l[1].join("data/op/mid"), "").unwrap();
    // Top: kept overridden; a new file.
    fs::write(l[0].join("data/kept"), "top").unwrap();
    fs::write(l[0].join("data/new"), "").unwrap();

    let dest = t.path().join("vol");
    fs::create_dir(&dest).unwrap();
    copy_up(&l, "/data", &dest).unwrap();
    assert_eq!(tree(&dest), vec!["kept", "new", "op/", "op/mid"]);
    assert_eq!(fs::read_to_string(dest.join("kept")).unwrap(), "top");
    // An opaque target itself hides everything below.
    let dest2 = t.path().join("vol2");
    fs::create_dir(&dest2).unwrap();
    copy_up(&l, "/data/op", &dest2).unwrap();
    assert_eq!(tree(&dest2), vec!["mid"]);
    // A whited-out target has nothing to copy.
    let dest3 = t.path().join("vol3");
    fs::create_dir(&dest3).unwrap();
    assert_eq!(copy_up(&l, "/data/old", &dest3).unwrap(), 0);
}
