//! Cross-tool tests with podman: images built by `podman build` (adding,
//! changing and deleting files and emptying directories, so whiteouts and
//! opaque directories occur) are saved by podman as docker-archive and
//! OCI archive, loaded by berth, and the merged root filesystem berth
//! assembles must equal podman's view of the same image. Images saved by
//! berth must load into podman with the same image id.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{busybox_tar, Env, Podman};
use storage::{overlay_options, InitFiles, Store};

const CONTAINERFILE: &str = r#"FROM localhost/busybox-base
COPY a.txt /etc/a.txt
COPY gone /etc/gone
COPY d /opt/d
RUN echo changed > /etc/a.txt && rm /etc/gone && rm -rf /opt/d/sub/* && mkdir -p /data && echo z > /data/z && chmod 0600 /data/z && chown 12:34 /data/z && ln -s /data/z /data/link && ln /data/z /data/hard && mkfifo /data/fifo && rm /bin/ls
RUN rm -rf /opt/d && mkdir /opt/d && echo new > /opt/d/n && chmod 1777 /opt/d
"#;

/// Lists a tree: path, type, mode, owner, size and sha256 of files, link
/// targets. Run inside `dir` (which may be a freshly mounted overlay).
const LIST: &str = r#"cd "$1" && find . -mindepth 1 \( -type f -printf '%P|%y|%m|%U|%G|%s|' -exec sh -c 'sha256sum < "$1" | cut -c1-64' _ {} \; \) -o -printf '%P|%y|%m|%U|%G||%l\n' | LC_ALL=C sort"#;

fn build_image(env: &Env, podman: &Podman) -> String {
    let tar = busybox_tar(env.dir.path());
    podman.ok(&["import", tar.to_str().unwrap(), "localhost/busybox-base"]);
    let ctx = env.path("ctx");
    fs::create_dir_all(ctx.join("d/sub/deeper")).unwrap();
    fs::write(ctx.join("a.txt"), "hello\n").unwrap();
    fs::write(ctx.join("gone"), "to be deleted\n").unwrap();
    fs::write(ctx.join("d/sub/f"), "f\n").unwrap();
    fs::write(ctx.join("d/sub/deeper/g"), "g\n").unwrap();
    fs::write(ctx.join("d/keep"), "keep\n").unwrap();
    fs::write(ctx.join("Containerfile"), CONTAINERFILE).unwrap();
    podman.ok(&[
        "build",
        "--runtime",
        "runc",
        "--network",
        "none",
        "--ulimit",
        "nofile=1024:20000",
        "--ulimit",
        "nproc=1024:1024",
        "-t",
        "localhost/multi:1",
        ctx.to_str().unwrap(),
    ]);
    podman
        .ok(&[
            "image",
            "inspect",
            "--format",
            "{{.Id}}",
            "localhost/multi:1",
        ])
        .trim()
        .to_string()
}

fn list_dir(dir: &Path) -> String {
    let out = Command::new("sh")
        .args(["-c", LIST, "list"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Assembles the image's rootfs with the store's overlay layout, mounts it
/// in a private mount namespace (gone when the shell exits) and lists it.
/// The init layer (berth's `/etc/hostname` etc., the container's and not
/// the image's) is left out of the stack, so the view is the image's.
fn list_berth_rootfs(env: &Env, image: &str) -> String {
    let store = Store::open(&env.root()).unwrap();
    let id = store.resolve(image).unwrap();
    let init = InitFiles {
        hostname: "cmp",
        hosts: "127.0.0.1 localhost\n",
        resolv_conf: "",
    };
    let mut layout = store.prepare_container_rootfs(&id, "cmp", &init).unwrap();
    assert_eq!(
        fs::read_to_string(layout.lower[0].join("etc/hostname")).unwrap(),
        "cmp\n"
    );
    layout.lower.remove(0);
    struct Cleanup<'a>(&'a Store);
    impl Drop for Cleanup<'_> {
        fn drop(&mut self) {
            let _ = self.0.remove_container_rootfs("cmp");
        }
    }
    let _cleanup = Cleanup(&store);
    let script = format!("mount -t overlay overlay -o \"$2\" \"$1\" && {LIST}");
    let out = Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            &script,
            "list",
        ])
        .arg(&layout.rootfs)
        .arg(overlay_options(&layout))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn list_podman_rootfs(podman: &Podman, image: &str) -> String {
    let dir = podman.ok(&["image", "mount", image]);
    let listing = list_dir(Path::new(dir.trim()));
    podman.ok(&["image", "unmount", image]);
    listing
}

fn assert_same_listing(berth: &str, podman: &str) {
    if berth != podman {
        let b: Vec<&str> = berth.lines().collect();
        let p: Vec<&str> = podman.lines().collect();
        let only_b: Vec<&&str> = b.iter().filter(|l| !p.contains(l)).collect();
        let only_p: Vec<&&str> = p.iter().filter(|l| !b.contains(l)).collect();
        panic!("rootfs differs:\nonly in berth: {only_b:#?}\nonly in podman: {only_p:#?}");
    }
}

#[test]
fn podman_archives_load_and_match_podman_rootfs() {
    let env = Env::new();
    let podman = Podman::new();
    let id = build_image(&env, &podman);
    let expected = list_podman_rootfs(&podman, "localhost/multi:1");
    // Sanity: the build did produce deletions, an emptied dir and metadata.
    assert!(!expected.contains("etc/gone|"));
    assert!(!expected.contains("opt/d/sub"));
    assert!(!expected.contains("bin/ls|"));
    assert!(expected.contains("data/z|f|600|12|34|2|"));
    assert!(expected.contains("opt/d|d|1777|"));

    for format in ["docker-archive", "oci-archive"] {
        let archive = env.path(&format!("{format}.tar"));
        podman.ok(&[
            "save",
            "--format",
            format,
            "-o",
            archive.to_str().unwrap(),
            "localhost/multi:1",
        ]);
        let store = Env::new();
        let out = store.ok(&["load", "-i", archive.to_str().unwrap()]);
        assert_eq!(out, "Loaded image: localhost/multi:1\n", "{format}");
        let got = store.ok(&["image", "inspect", "-f", "{{.Id}}", "localhost/multi:1"]);
        assert_eq!(
            got.trim(),
            format!("sha256:{}", id.trim_start_matches("sha256:"))
        );
        assert_eq!(got.trim().len(), 71);
        // The whiteouts and opaque dirs of the upper layers must hide what
        // the lower layers have, exactly as podman applies them.
        let listing = list_berth_rootfs(&store, "localhost/multi:1");
        assert_same_listing(&listing, &expected);
        // Loading the same archive again is a no-op with the same output.
        let again = store.ok(&["load", "-i", archive.to_str().unwrap()]);
        assert_eq!(again, out);
        assert_eq!(common::image_ids(&store).len(), 1);
    }
}

#[test]
fn berth_save_loads_into_podman_with_same_id() {
    let env = Env::new();
    let podman = Podman::new();
    let id = build_image(&env, &podman);
    let archive = env.path("from-podman.tar");
    podman.ok(&["save", "-o", archive.to_str().unwrap(), "localhost/multi:1"]);
    env.ok(&["load", "-i", archive.to_str().unwrap()]);
    env.ok(&["tag", "localhost/multi:1", "example.com:5000/team/app:v2"]);
    let expected_id = format!("sha256:{}", id.trim_start_matches("sha256:"));

    // podman reads one image per OCI archive, so that one gets one name.
    let both: &[&str] = &["localhost/multi:1", "example.com:5000/team/app:v2"];
    for (format, names) in [("docker-archive", both), ("oci-archive", &both[1..])] {
        let out = env.path(&format!("berth-{format}.tar"));
        let mut args = vec!["save", "--format", format, "-o", out.to_str().unwrap()];
        args.extend(names);
        env.ok(&args);
        let p2 = Podman::new();
        p2.ok(&["load", "-i", out.to_str().unwrap()]);
        for name in names {
            let got = p2.ok(&["image", "inspect", "--format", "{{.Id}}", name]);
            assert_eq!(
                format!("sha256:{}", got.trim().trim_start_matches("sha256:")),
                expected_id,
                "{format} {name}"
            );
        }
        // And back into a fresh berth store, with the same rootfs.
        let back = Env::new();
        let loaded = back.ok(&["load", "-i", out.to_str().unwrap()]);
        for name in names {
            assert!(
                loaded.contains(&format!("Loaded image: {name}\n")),
                "{loaded}"
            );
        }
        assert_eq!(common::image_ids(&back), vec![expected_id.clone()]);
        assert_same_listing(
            &list_berth_rootfs(&back, "example.com:5000/team/app:v2"),
            &list_podman_rootfs(&p2, "example.com:5000/team/app:v2"),
        );
    }
}
