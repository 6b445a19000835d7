//! The container's `/sys/fs/cgroup` shows its own cgroup, not the host's
//! whole tree (runc binds the container's subtree when there is no cgroup
//! namespace).

mod common;

use common::{stderr, Env};
use serde_json::json;

#[test]
fn cgroup_mount_shows_the_containers_own_cgroup() {
    // pids.max exists in every cgroup but the root: reading the limit set
    // below proves the mount is the container's cgroup. cgroup.procs of
    // the root would list the host's processes too.
    let env = Env::new(
        "cgfs",
        &[
            "sh",
            "-c",
            "d=/sys/fs/cgroup/pids; [ -d $d ] || d=/sys/fs/cgroup; \
             cat $d/pids.max; wc -l < $d/cgroup.procs",
        ],
    );
    env.edit_config(|c| {
        c["linux"]["resources"]["pids"] = json!({"limit": 77});
        let ns = c["linux"]["namespaces"].as_array().unwrap();
        assert!(
            !ns.iter().any(|n| n["type"] == "cgroup"),
            "the case without a cgroup namespace"
        );
    });
    let out = env
        .cmd()
        .args(["run", "--bundle"])
        .arg(&env.bundle)
        .arg("cgfs")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.first(), Some(&"77"), "stdout: {text}");
    // sh and wc (cat has exited): nothing of the host's.
    let procs: usize = lines[1].trim().parse().unwrap();
    assert!(procs <= 3, "{procs} processes in the container's cgroup");
    env.assert_clean("cgfs");
}
