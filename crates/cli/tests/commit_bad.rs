//! Bad input to `commit` and `cp` (root): a missing container, a bad `-c`
//! instruction, a bad repository name, `..` above the root and symlinks
//! pointing out of the container — one clear line, exit 125, and neither
//! the store nor the host changed.

mod common;
mod containers_support;

use std::fs;

use containers_support::{Env, IMAGE};

/// What a failed command must leave as it was.
fn snapshot(env: &Env) -> (String, Vec<String>, Vec<String>) {
    (
        env.ok(&["images", "-a", "--no-trunc", "-q"]),
        common::tree(&env.root().join("layers")),
        common::tree(&env.root().join("blobs")),
    )
}

/// Runs berth, expects exit 125 and one `berth: ` line with `needle`.
fn fails(env: &Env, args: &[&str], needle: &str) {
    let out = env.cmd(args).output().unwrap();
    common::check_failure(args, &out, needle);
}

#[test]
fn commit_bad_input_changes_nothing() {
    let env = Env::new();
    env.ok(&["run", "--name", "ctr", IMAGE, "sh", "-c", "echo x > /new"]);
    let before = snapshot(&env);
    fails(&env, &["commit", "nope"], "No such container: nope");
    fails(&env, &["commit", "-c", "BOGUS x", "ctr"], "BOGUS");
    fails(
        &env,
        &["commit", "ctr", "Bad/Name"],
        "invalid reference format",
    );
    fails(
        &env,
        &["commit", "ctr", "x@sha256:abc"],
        "invalid reference format",
    );
    assert_eq!(snapshot(&env), before);
    fails(&env, &["diff", "nope"], "No such container: nope");
    fails(
        &env,
        &["export", "-o", "/dev/null", "nope"],
        "No such container: nope",
    );
    fails(&env, &["history", "nope:latest"], "No such image");
}

#[test]
fn cp_refuses_dotdot_and_symlinks_out_of_the_root() {
    let env = Env::new();
    let host = env.dir.path().join("host-secret-dir");
    fs::create_dir(&host).unwrap();
    fs::write(host.join("secret"), "host secret\n").unwrap();
    let hostp = host.to_str().unwrap().to_string();
    // Symlinks inside the container that name the host dir, absolutely
    // and with enough `..` to climb out of any root.
    let script = format!(
        "ln -s {hostp} /abs && ln -s ../../../../../../../..{hostp} /rel && \
         ln -s {hostp}/secret /file"
    );
    env.ok(&["run", "--name", "ctr", IMAGE, "sh", "-c", &script]);
    let out_dir = env.dir.path().join("out");
    fs::create_dir(&out_dir).unwrap();
    let dst = out_dir.to_str().unwrap();
    let before = snapshot(&env);

    fails(
        &env,
        &["cp", "ctr:/../../etc/passwd", dst],
        "leaves the container's root",
    );
    fails(
        &env,
        &["cp", "ctr:/etc/../../x", dst],
        "leaves the container's root",
    );
    for p in ["ctr:/abs/secret", "ctr:/rel/secret", "ctr:/file/."] {
        fails(&env, &["cp", p, dst], "Could not find the file");
    }
    // The symlink itself is copied as a symlink, never its host target.
    env.ok(&["cp", "ctr:/file", dst]);
    assert_eq!(
        fs::read_link(out_dir.join("file")).unwrap(),
        host.join("secret")
    );
    assert_eq!(common::tree(&out_dir), ["file"]);

    let src = env.dir.path().join("payload");
    fs::write(&src, "payload\n").unwrap();
    let srcp = src.to_str().unwrap();
    // Resolved inside the container, where the symlinks' targets do not
    // exist: refused, and nothing reaches the host dir.
    for dest in ["ctr:/abs/", "ctr:/rel/x", "ctr:/abs/secret"] {
        fails(&env, &["cp", srcp, dest], "does not exist");
    }
    fails(
        &env,
        &["cp", srcp, "ctr:/../x"],
        "leaves the container's root",
    );
    assert_eq!(common::tree(&host), ["secret"]);
    assert_eq!(
        fs::read_to_string(host.join("secret")).unwrap(),
        "host secret\n"
    );
    assert_eq!(snapshot(&env), before);
}
