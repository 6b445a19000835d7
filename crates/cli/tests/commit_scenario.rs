//! `commit`, `diff` and `history` as root on a busybox image: the scenario
//! of issue 6 (a volume's content, the init files and deletions), Docker's
//! diff lines, layer sharing with the parent, and the cross-tool check
//! (`berth save` of the committed image runs in podman with the same files).

mod common;
mod containers_support;

use containers_support::{Env, IMAGE};

/// The base image of the scenario: busybox plus /srv/keep/{a,b}, itself
/// made by a commit (so the scenario commits on top of a committed image).
fn base_image(env: &Env) -> String {
    env.ok(&[
        "run",
        "--name",
        "prep",
        IMAGE,
        "sh",
        "-c",
        "mkdir -p /srv/keep && echo a > /srv/keep/a && echo b > /srv/keep/b",
    ]);
    let id = env.ok(&["commit", "prep", "base:1"]).trim().to_string();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    id
}

/// Runs the sequence of changes in container `ctr`.
fn scenario_container(env: &Env) {
    env.ok(&[
        "run",
        "--name",
        "ctr",
        "--hostname",
        "committed-host",
        "-v",
        "/test",
        "base:1",
        "sh",
        "-c",
        "echo vol > /test/in-volume && echo out > /etc/outside-volume \
         && rm /etc/group && rm -rf /srv/keep/* && echo changed > /etc/hostname",
    ]);
}

#[test]
fn diff_lines_match_docker() {
    let env = Env::new();
    base_image(&env);
    scenario_container(&env);
    // What `docker diff` prints for the same sequence: the volume's
    // content and the rewritten /etc/hostname (a bind mount in Docker, an
    // init-layer file here) are not changes of the container.
    assert_eq!(
        env.ok(&["diff", "ctr"]),
        "C /etc\n\
         D /etc/group\n\
         A /etc/outside-volume\n\
         C /srv/keep\n\
         D /srv/keep/a\n\
         D /srv/keep/b\n\
         A /test\n"
    );
    // A container that changed nothing has no diff.
    env.ok(&["create", "--name", "idle", "base:1", "true"]);
    assert_eq!(env.ok(&["diff", "idle"]), "");
}

#[test]
fn committed_image_has_the_changes_and_not_the_volume() {
    let env = Env::new();
    let base = base_image(&env);
    scenario_container(&env);
    let id = env
        .ok(&[
            "commit",
            "-m",
            "the scenario",
            "-a",
            "c1 <c1@berth>",
            "ctr",
            "scenario:v1",
        ])
        .trim()
        .to_string();
    assert!(id.starts_with("sha256:"), "{id}");
    let out = env.ok(&[
        "run",
        "--rm",
        "--hostname",
        "fresh",
        "scenario:v1",
        "sh",
        "-c",
        "cat /etc/outside-volume; test -e /etc/group && echo has-group; \
         ls -A /srv/keep | wc -l; test -d /test && echo test-dir; \
         test -e /test/in-volume && echo has-in-volume; cat /etc/hostname",
    ]);
    assert_eq!(out, "out\n0\ntest-dir\nfresh\n");
    // As Docker, the anonymous volume of the container is a VOLUME of the
    // image; the commit also keeps the container's command.
    let config = env.ok(&[
        "image",
        "inspect",
        "-f",
        "{{json .Config.Volumes}} {{json .Config.Cmd}}",
        &id,
    ]);
    assert!(
        config.starts_with("{\"/test\":{}} [\"sh\",\"-c\","),
        "{config}"
    );

    // The new image stacks one layer on its parent's, sharing them on disk.
    let layers = |img: &str| -> Vec<String> {
        env.ok(&["image", "inspect", "-f", "{{json .RootFS.Layers}}", img])
            .trim()
            .trim_matches(|c| c == '[' || c == ']')
            .split(',')
            .map(|s| s.trim_matches('"').to_string())
            .collect()
    };
    let (parent, child) = (layers(&base), layers(&id));
    assert_eq!(child.len(), parent.len() + 1, "{child:?}");
    assert_eq!(&child[..parent.len()], &parent[..]);
    let layer_dirs = std::fs::read_dir(env.root().join("layers"))
        .unwrap()
        .count();
    assert_eq!(layer_dirs, child.len(), "every layer is stored once");
    // No layer carries the init files or the volume's content.
    for e in std::fs::read_dir(env.root().join("layers")).unwrap() {
        let diff = e.unwrap().path().join("diff");
        for f in [
            "etc/hostname",
            "etc/hosts",
            "etc/resolv.conf",
            "test/in-volume",
        ] {
            assert!(!diff.join(f).exists(), "{} has {f}", diff.display());
        }
    }
}

#[test]
fn history_shows_the_commit_as_docker() {
    let env = Env::new();
    base_image(&env);
    scenario_container(&env);
    let id = env
        .ok(&["commit", "-m", "the scenario", "ctr", "scenario:v1"])
        .trim()
        .to_string();
    let out = env.ok(&["history", "scenario:v1"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(lines[0].starts_with("IMAGE          CREATED "), "{out}");
    assert!(lines[0].contains("CREATED BY") && lines[0].ends_with("COMMENT"));
    let short = &id[7..19];
    assert!(lines[1].starts_with(short), "{out}");
    assert!(
        lines[1].contains("sh -c echo vol > /test/in-volume && echo out…"),
        "{out}"
    );
    assert!(lines[1].trim_end().ends_with("the scenario"), "{out}");
    assert!(lines[2].starts_with("<missing>") && lines[3].starts_with("<missing>"));
    let q = env.ok(&["history", "-q", "--no-trunc", "scenario:v1"]);
    assert_eq!(q, format!("{id}\n<missing>\n<missing>\n"));
    let full = env.ok(&["history", "--no-trunc", "scenario:v1"]);
    assert!(full.contains("&& echo changed > /etc/hostname"), "{full}");
}

#[test]
fn commit_of_a_running_container_pauses_and_resumes_it() {
    let env = Env::new();
    env.ok(&[
        "run",
        "-d",
        "--name",
        "live",
        IMAGE,
        "sh",
        "-c",
        "echo up > /srv-live; while true; do sleep 0.1; done",
    ]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while env
        .ok(&["diff", "live"])
        .lines()
        .all(|l| l != "A /srv-live")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "container never wrote"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let id = env.ok(&["commit", "live", "live:1"]).trim().to_string();
    assert!(id.starts_with("sha256:"));
    assert_eq!(env.inspect("live", "{{.State.Status}}"), "running");
    env.ok(&["commit", "-p=false", "live", "live:2"]);
    let out = env.ok(&["run", "--rm", "live:1", "cat", "/srv-live"]);
    assert_eq!(out, "up\n");
}

#[test]
fn saved_commit_runs_in_podman_with_the_same_files() {
    let env = Env::new();
    base_image(&env);
    scenario_container(&env);
    env.ok(&["commit", "ctr", "localhost/scenario:v1"]);
    let archive = env.dir.path().join("scenario.tar");
    env.ok(&[
        "save",
        "-o",
        archive.to_str().unwrap(),
        "localhost/scenario:v1",
    ]);
    let podman = common::Podman::new();
    podman.ok(&["load", "-i", archive.to_str().unwrap()]);
    let out = podman.ok(&[
        "--runtime",
        "runc",
        "run",
        "--rm",
        "--ulimit",
        "nofile=1024:20000",
        "--ulimit",
        "nproc=1024:1024",
        "--network",
        "none",
        "localhost/scenario:v1",
        "sh",
        "-c",
        "cat /etc/outside-volume; test -e /etc/group && echo has-group; \
         ls -A /srv/keep | wc -l; test -e /test/in-volume && echo has-in-volume; \
         head -1 /etc/passwd",
    ]);
    assert_eq!(out, "out\n0\nroot:x:0:0:root:/root:/bin/sh\n");
}

#[test]
fn commit_change_instructions_set_the_new_config() {
    let env = Env::new();
    env.ok(&["run", "--name", "ctr", IMAGE, "true"]);
    env.ok(&[
        "commit",
        "-c",
        "CMD [\"echo\", \"from-cmd\"]",
        "-c",
        "ENV GREETING=hi",
        "-c",
        "WORKDIR /tmp",
        "-c",
        "LABEL team=berth",
        "ctr",
        "changed:1",
    ]);
    let cfg = env.ok(&[
        "image",
        "inspect",
        "-f",
        "{{json .Config.Cmd}} {{.Config.WorkingDir}} {{.Config.Labels.team}}",
        "changed:1",
    ]);
    assert_eq!(cfg.trim(), "[\"echo\",\"from-cmd\"] /tmp berth");
    let out = env.ok(&["run", "--rm", "changed:1"]);
    assert_eq!(out, "from-cmd\n");
    let out = env.ok(&[
        "run",
        "--rm",
        "changed:1",
        "sh",
        "-c",
        "echo $GREETING $(pwd)",
    ]);
    assert_eq!(out, "hi /tmp\n");
}
