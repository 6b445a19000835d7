//! Bad input for `load`, `import` and `tag`: each is refused with exit 125
//! and one clear line, creates no image (the list is unchanged), leaves no
//! half-made layer or staging file, and writes nothing outside the store.

mod common;

use std::fs;

use common::archives::{self, docker_archive, gzip, layer, oci_archive, tar_of, Entry};
use common::{check_failure, tree, Env};
use storage::Digest;

/// A store holding one good image, and what its directories contain.
struct Baseline {
    env: Env,
    ids: Vec<String>,
    layers: Vec<String>,
    blobs: Vec<String>,
}

fn baseline() -> Baseline {
    let env = Env::new();
    let l = layer(&[Entry::Dir("etc"), Entry::File("etc/good", b"good\n")]);
    let files = docker_archive(
        std::slice::from_ref(&l),
        &[Digest::of_bytes(&l)],
        &["good:1"],
    );
    let out = env.run_stdin(&["load"], &tar_of(&files));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ids = common::image_ids(&env);
    assert_eq!(ids.len(), 1);
    let layers = tree(&env.root().join("layers"));
    let blobs = tree(&env.root().join("blobs"));
    Baseline {
        env,
        ids,
        layers,
        blobs,
    }
}

impl Baseline {
    /// Loads `archive` from stdin, expects the failure, checks nothing
    /// changed.
    fn load_fails(&self, archive: &[u8], needle: &str) -> String {
        let out = self.env.run_stdin(&["load"], archive);
        let err = check_failure(&["load"], &out, needle);
        self.unchanged();
        err
    }

    fn unchanged(&self) {
        assert_eq!(common::image_ids(&self.env), self.ids, "image list changed");
        assert_eq!(
            tree(&self.env.root().join("layers")),
            self.layers,
            "layers changed"
        );
        // Blobs a failed load spooled are removed again.
        assert_eq!(
            tree(&self.env.root().join("blobs")),
            self.blobs,
            "blobs left"
        );
        assert_eq!(
            tree(&self.env.root().join("tmp")),
            Vec::<String>::new(),
            "staging left"
        );
    }
}

fn one_layer_archive(entries: &[Entry<'_>]) -> Vec<u8> {
    let l = layer(entries);
    tar_of(&docker_archive(
        std::slice::from_ref(&l),
        &[Digest::of_bytes(&l)],
        &["bad:1"],
    ))
}

#[test]
fn truncated_archive() {
    let b = baseline();
    let big: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let full = one_layer_archive(&[Entry::File("big", &big)]);
    // Cut inside the layer, and cut just before manifest.json.
    b.load_fails(&full[..full.len() / 2], "truncated");
    let l = layer(&[Entry::File("big", &big)]);
    let files = docker_archive(
        std::slice::from_ref(&l),
        &[Digest::of_bytes(&l)],
        &["bad:1"],
    );
    b.load_fails(
        &tar_of(&files[..files.len() - 1]),
        "neither manifest.json nor index.json",
    );
    b.load_fails(b"", "neither manifest.json nor index.json");
}

#[test]
fn not_a_tar() {
    let b = baseline();
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    b.load_fails(&garbage, "archive");
}

#[test]
fn wrong_digests() {
    let b = baseline();
    let l = layer(&[Entry::File("a", b"a\n")]);
    let other = layer(&[Entry::File("b", b"b\n")]);
    // A blob stored under a name that is not its digest.
    let mut files = docker_archive(
        std::slice::from_ref(&l),
        &[Digest::of_bytes(&l)],
        &["bad:1"],
    );
    files[0].1 = other.clone();
    b.load_fails(&tar_of(&files), "digest mismatch");
    // The config's diff id does not match the layer.
    let files = docker_archive(
        std::slice::from_ref(&l),
        &[Digest::of_bytes(&other)],
        &["bad:1"],
    );
    b.load_fails(&tar_of(&files), "diff id");
    // An OCI descriptor whose digest names another blob.
    let mut files = oci_archive(
        std::slice::from_ref(&l),
        &[Digest::of_bytes(&l)],
        "application/vnd.oci.image.layer.v1.tar",
        "example.com/bad:1",
    );
    let i = files
        .iter()
        .position(|(p, _)| p == &archives::blob_path(&Digest::of_bytes(&l)))
        .unwrap();
    files[i].1 = other;
    b.load_fails(&tar_of(&files), "mismatch");
}

#[test]
fn gzip_garbage() {
    let b = baseline();
    let good = gzip(&layer(&[Entry::File("a", b"a\n")]));
    let mut bad = good.clone();
    let n = bad.len();
    for x in &mut bad[12..n - 8] {
        *x ^= 0x5a;
    }
    let files = docker_archive(
        &[bad],
        &[Digest::of_bytes(&layer(&[Entry::File("a", b"a\n")]))],
        &["bad:1"],
    );
    b.load_fails(&tar_of(&files), "layer");
    let junk = b.env.path("junk.tar.gz");
    fs::write(&junk, &good[..good.len() / 2]).unwrap();
    let out = b.env.run(&["import", junk.to_str().unwrap(), "bad:2"]);
    check_failure(&["import"], &out, "layer");
    b.unchanged();
}

#[test]
fn path_traversal_in_layers() {
    let b = baseline();
    let outside = b.env.path("outside");
    fs::create_dir(&outside).unwrap();
    let target = outside.to_str().unwrap().to_string();
    let through = format!("{target}/..");
    // (entries, what the error must say)
    let cases: Vec<(Vec<Entry<'_>>, &str)> = vec![
        (vec![Entry::File("../escape", b"x")], "refusing entry"),
        (vec![Entry::File("a/../../escape", b"x")], "refusing entry"),
        (
            vec![Entry::Symlink("l", &target), Entry::File("l/pwned", b"x")],
            "refusing entry",
        ),
        (
            vec![Entry::Symlink("up", ".."), Entry::File("up/escape", b"x")],
            "refusing entry",
        ),
        (
            vec![
                Entry::Symlink("l2", &through),
                Entry::File("l2/outside/pwned", b"x"),
            ],
            "refusing entry",
        ),
        (
            vec![Entry::HardLink("h", "../../../../../../etc/passwd")],
            "refusing entry",
        ),
        (vec![Entry::HardLink("h", "/etc/passwd")], "absolute path"),
    ];
    for (entries, needle) in &cases {
        let archive = one_layer_archive(entries);
        b.load_fails(&archive, needle);
        assert_eq!(tree(&outside), Vec::<String>::new(), "wrote outside");
        assert!(!b.env.path("escape").exists());
        assert!(!b.env.root().join("escape").exists());
    }
    // An absolute entry name is refused too (issue 3's `/abs`), and
    // nothing lands at the host's /.
    let abs = b.env.path("abs.tar");
    fs::write(&abs, layer(&[Entry::File("/abs-escape-berth-test", b"x")])).unwrap();
    let out = b.env.run(&["import", abs.to_str().unwrap(), "abs:1"]);
    check_failure(&["import"], &out, "absolute path");
    assert!(!std::path::Path::new("/abs-escape-berth-test").exists());
    // The same via import.
    let f = b.env.path("evil.tar");
    fs::write(&f, layer(&cases[2].0)).unwrap();
    let out = b.env.run(&["import", f.to_str().unwrap(), "evil:1"]);
    check_failure(&["import"], &out, "refusing entry");
    assert_eq!(tree(&outside), Vec::<String>::new(), "wrote outside");
    b.unchanged();
}

#[test]
fn manifest_names_missing_blob() {
    let b = baseline();
    let l = layer(&[Entry::File("a", b"a\n")]);
    let mut files = docker_archive(
        std::slice::from_ref(&l),
        &[Digest::of_bytes(&l)],
        &["bad:1"],
    );
    files.remove(0);
    b.load_fails(&tar_of(&files), "missing from the archive");
    let mut files = oci_archive(
        std::slice::from_ref(&l),
        &[Digest::of_bytes(&l)],
        "application/vnd.oci.image.layer.v1.tar",
        "example.com/bad:1",
    );
    files.retain(|(p, _)| p != &archives::blob_path(&Digest::of_bytes(&l)));
    b.load_fails(&tar_of(&files), "missing from the archive");
}

#[test]
fn unknown_media_type() {
    let b = baseline();
    let l = layer(&[Entry::File("a", b"a\n")]);
    let files = oci_archive(
        std::slice::from_ref(&l),
        &[Digest::of_bytes(&l)],
        "application/vnd.example.weird",
        "example.com/bad:1",
    );
    let err = b.load_fails(&tar_of(&files), "unknown media type");
    assert!(err.contains("application/vnd.example.weird"), "{err}");
}

#[test]
fn bad_references() {
    let b = baseline();
    let l = layer(&[Entry::File("a", b"a\n")]);
    let files = docker_archive(
        std::slice::from_ref(&l),
        &[Digest::of_bytes(&l)],
        &["Bad:Upper"],
    );
    b.load_fails(&tar_of(&files), "invalid reference format");
    b.env
        .fails(&["tag", "good:1", "Bad:x"], "must be lowercase");
    b.env
        .fails(&["tag", "good:1", "a:b:c:d"], "invalid reference format");
    b.env
        .fails(&["tag", "nosuch", "x:1"], "No such image: nosuch");
    let f = b.env.path("ok.tar");
    fs::write(&f, layer(&[Entry::File("a", b"a\n")])).unwrap();
    b.env.fails(
        &["import", f.to_str().unwrap(), "UPPER"],
        "must be lowercase",
    );
    b.env.fails(
        &["import", f.to_str().unwrap(), "x:1", "-c", "RUN true"],
        "not a valid change command",
    );
    b.env.fails(
        &[
            "save",
            "-o",
            b.env.path("s.tar").to_str().unwrap(),
            "nosuch",
        ],
        "No such image",
    );
    assert!(!b.env.path("s.tar").exists());
    b.unchanged();
}

#[test]
fn usage_errors_exit_125() {
    let env = Env::new();
    let out = env.run(&["images", "--bogus"]);
    assert_eq!(out.status.code(), Some(125));
    let out = env.run(&["load", "-i", env.path("missing.tar").to_str().unwrap()]);
    check_failure(&["load"], &out, "missing.tar");
    let out = env.run(&["nosuchcommand"]);
    assert_eq!(out.status.code(), Some(125));
}
