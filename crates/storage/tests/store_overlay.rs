//! Overlay assembly as root: the layout and init layer, and the merged
//! view mounted in a private mount namespace (`unshare -m`, so nothing
//! reaches the host mount table) shows init files, merged layers and
//! whiteouts applied.

mod store_common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use storage::{overlay_options, overlay_options_relative, InitFiles, RootfsLayout};
use store_common::{Tar, TestStore, E};
use tar::EntryType;

const INIT: InitFiles<'static> = InitFiles {
    hostname: "box1",
    hosts: "127.0.0.1\tlocalhost\n172.17.0.2\tbox1\n",
    resolv_conf: "nameserver 192.0.2.53\n",
};

/// Mounts the overlay (options relative to `cwd`) in a private mount
/// namespace and runs `script` in the merged root; returns stdout.
fn in_merged_view(options: &str, cwd: &Path, rootfs: &Path, script: &str) -> String {
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-ec"])
        .arg(format!(
            "mount -t overlay overlay -o \"$1\" \"$2\"; cd \"$2\"; {script}"
        ))
        .args(["sh", options, &rootfs.to_string_lossy()])
        .current_dir(cwd)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mount/script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn host_mounts_mention(p: &Path) -> bool {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .contains(&*p.to_string_lossy())
}

#[test]
fn merged_view_has_init_files_layers_and_whiteouts() {
    let ts = TestStore::new();
    let mut bottom = Tar::new();
    bottom
        .entry(E {
            mode: 0o751,
            ..E::new("etc/", EntryType::Directory)
        })
        .file("etc/passwd", b"root:x:0:0\n")
        .file("etc/hostname", b"image-hostname\n")
        .file("gone", b"deleted above")
        .dir("dir/", 0o755)
        .file("dir/old", b"hidden by opaque")
        .entry(E {
            uid: 1234,
            gid: 5678,
            mode: 0o640,
            ..E::new("owned", EntryType::Regular)
        })
        .file("a/bottom", b"bottom");
    let mut top = Tar::new();
    top.file(".wh.gone", b"")
        .dir("dir/", 0o755)
        .file("dir/.wh..wh..opq", b"")
        .file("dir/new", b"new")
        .file("a/top", b"top")
        .entry(E {
            mode: 0o751,
            ..E::new("etc/", EntryType::Directory)
        })
        .file("etc/passwd", b"root:x:0:0\nuser:x:1000:1000\n");
    let (id, layers) = ts.image(&[bottom.finish(), top.finish()], "ov", &["ov"]);
    let layout = ts
        .store
        .prepare_container_rootfs(&id, "ctr1", &INIT)
        .unwrap();
    let cdir = ts.root().join("containers/ctr1");
    assert_eq!(
        layout,
        RootfsLayout {
            lower: vec![
                cdir.join("init"),
                ts.store.layer_path(&layers[1].chain_id),
                ts.store.layer_path(&layers[0].chain_id),
            ],
            upper: cdir.join("upper"),
            work: cdir.join("work"),
            rootfs: ts.root().join("merged"),
        }
    );
    // The mount point is shared: the container dir has no rootfs/ of its
    // own (one directory fewer to make and to free per container).
    assert!(!cdir.join("rootfs").exists());
    assert!(layout.rootfs.is_dir());
    assert_eq!(
        fs::read_to_string(cdir.join("init/etc/hostname")).unwrap(),
        "box1\n"
    );
    assert_eq!(
        fs::metadata(cdir.join("init/etc")).unwrap().mode() & 0o7777,
        0o751,
        "init /etc mirrors the image's"
    );
    let opts = overlay_options(&layout);
    assert!(opts.starts_with(&format!("lowerdir={}:", cdir.join("init").display())));

    let out = in_merged_view(
        &opts,
        Path::new("/"),
        &layout.rootfs,
        "find . | sort; echo ---; cat etc/hostname etc/hosts etc/resolv.conf etc/passwd; stat -c '%u:%g %a' owned; stat -c %a etc; \
         echo upper-write > a/written",
    );
    let (tree, files) = out.split_once("---\n").unwrap();
    let tree: Vec<&str> = tree.lines().collect();
    assert_eq!(
        tree,
        [
            ".",
            "./a",
            "./a/bottom",
            "./a/top",
            "./dir",
            "./dir/new",
            "./etc",
            "./etc/hostname",
            "./etc/hosts",
            "./etc/passwd",
            "./etc/resolv.conf",
            "./owned"
        ]
    );
    assert_eq!(
        files,
        "box1\n127.0.0.1\tlocalhost\n172.17.0.2\tbox1\nnameserver 192.0.2.53\nroot:x:0:0\nuser:x:1000:1000\n1234:5678 640\n751\n"
    );
    // Writes went to the upper dir; the image layers are untouched.
    assert_eq!(
        fs::read_to_string(layout.upper.join("a/written")).unwrap(),
        "upper-write\n"
    );
    assert!(!layout.lower[2].join("a/written").exists());
    assert!(
        !host_mounts_mention(&layout.rootfs),
        "mount leaked to the host"
    );

    // A second prepare of the same container is refused; removal is complete.
    assert!(ts
        .store
        .prepare_container_rootfs(&id, "ctr1", &INIT)
        .is_err());
    assert_eq!(
        ts.store.container_rootfs_layout(&id, "ctr1").unwrap(),
        layout
    );
    ts.store.remove_container_rootfs("ctr1").unwrap();
    assert!(!cdir.exists());
    assert!(ts.tmp_entries().is_empty());
    ts.store.remove_container_rootfs("ctr1").unwrap();
    assert!(ts
        .store
        .prepare_container_rootfs(&id, "../evil", &INIT)
        .is_err());
}

#[test]
fn a_failed_prepare_leaves_no_half_made_rootfs() {
    let ts = TestStore::new();
    let mut t = Tar::new();
    t.file("f", b"x");
    let (id, _) = ts.image(&[t.finish()], "half", &[]);
    // A stale, non-empty init/ makes the final rename fail.
    let cdir = ts.store.container_dir("half");
    fs::create_dir_all(cdir.join("init/etc")).unwrap();
    fs::write(cdir.join("engine-file"), "kept").unwrap();
    assert!(ts
        .store
        .prepare_container_rootfs(&id, "half", &INIT)
        .is_err());
    let mut left: Vec<String> = fs::read_dir(&cdir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(
        left,
        ["engine-file", "init"],
        "no upper/work/.init-* left behind"
    );
    // So a retry after fixing the cause is not refused as "exists".
    fs::remove_dir_all(cdir.join("init")).unwrap();
    ts.store
        .prepare_container_rootfs(&id, "half", &INIT)
        .unwrap();
    ts.store.remove_container_rootfs("half").unwrap();
}

/// Where the filesystem takes the "top of directory hierarchies" flag
/// (ext2/3/4), a new store's `containers/` has it, so each container's
/// directory lands in a block group of its own; elsewhere the store opens
/// all the same. This host's `/tmp` is ext4, so here the flag is checked.
#[test]
fn containers_dir_spreads_its_children_where_the_filesystem_can() {
    use rustix::fs::{ioctl_getflags, ioctl_setflags, IFlags};
    let ts = TestStore::new();
    let flags = |p: &Path| ioctl_getflags(fs::File::open(p).unwrap());
    let probe = ts.dir.path().join("probe");
    fs::create_dir(&probe).unwrap();
    let supported = flags(&probe)
        .and_then(|f| ioctl_setflags(fs::File::open(&probe).unwrap(), f | IFlags::TOPDIR))
        .is_ok()
        && flags(&probe).unwrap().contains(IFlags::TOPDIR);
    let containers = ts.root().join("containers");
    if supported {
        assert!(flags(&containers).unwrap().contains(IFlags::TOPDIR));
    }
    // An existing store is opened as it is.
    drop(ts.store);
    storage::Store::open(&ts.dir.path().join("root")).unwrap();
}

#[test]
fn many_layers_mount_with_relative_options() {
    let ts = TestStore::new();
    let layers: Vec<Vec<u8>> = (0..45)
        .map(|i| {
            let mut t = Tar::new();
            t.file(&format!("l{i:02}"), i.to_string().as_bytes())
                .file("which", i.to_string().as_bytes());
            t.finish()
        })
        .collect();
    let (id, _) = ts.image(&layers, "many", &[]);
    let layout = ts
        .store
        .prepare_container_rootfs(&id, "many", &INIT)
        .unwrap();
    assert_eq!(layout.lower.len(), 46);
    assert!(
        overlay_options(&layout).len() > 4096,
        "absolute options would exceed a page"
    );
    let rel = overlay_options_relative(&layout, &ts.root());
    assert!(rel.len() < 4096);
    let out = in_merged_view(&rel, &ts.root(), &layout.rootfs, "ls | wc -l; cat which");
    assert_eq!(
        out, "47\n44",
        "45 layer files + which + etc; the top layer wins"
    );
    ts.store.remove_container_rootfs("many").unwrap();
}

#[test]
fn busybox_image_runs_in_the_merged_root() {
    let ts = TestStore::new();
    let tar = testkit::busybox_tar(ts.dir.path()).unwrap();
    let data = fs::read(&tar).unwrap();
    let (id, layers) = ts.image(&[store_common::gzip(&data)], "busybox", &["busybox"]);
    assert_eq!(layers[0].diff_id, store_common::sha(&data));
    let layout = ts.store.prepare_container_rootfs(&id, "bb", &INIT).unwrap();
    let out = in_merged_view(
        &overlay_options(&layout),
        Path::new("/"),
        &layout.rootfs,
        "chroot . /bin/sh -c 'echo $(cat /etc/hostname) > /tmp/from-container; ls /bin | wc -l; cat /etc/resolv.conf'",
    );
    let mut lines = out.lines();
    let applets: usize = lines.next().unwrap().trim().parse().unwrap();
    assert!(applets > 50, "busybox applet links missing: {applets}");
    assert_eq!(lines.next(), Some("nameserver 192.0.2.53"));
    assert_eq!(
        fs::read_to_string(layout.upper.join("tmp/from-container")).unwrap(),
        "box1\n"
    );
    ts.store.remove_container_rootfs("bb").unwrap();
}
