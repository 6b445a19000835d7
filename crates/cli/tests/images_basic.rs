//! The image commands end to end on a busybox rootfs: `import` (file and
//! stdin, `--change`, `--message`), `images` and its formats, `tag`,
//! `image inspect`, `save`/`load` round trips in both formats, `rmi` and
//! `image prune`, with Docker's output.

mod common;

use common::{busybox_tar, image_ids, Env};
use serde_json::Value;

fn import_busybox(env: &Env, name: &str, extra: &[&str]) -> String {
    let tar = busybox_tar(env.dir.path());
    let mut args = vec!["import"];
    args.extend_from_slice(extra);
    args.push(tar.to_str().unwrap());
    args.push(name);
    let out = env.ok(&args);
    let id = out.trim().to_string();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{out:?}");
    id
}

fn inspect(env: &Env, name: &str) -> Value {
    let out = env.ok(&["image", "inspect", name]);
    assert!(
        out.starts_with("[\n    {\n        \"Id\": \"sha256:"),
        "{out}"
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    v[0].clone()
}

#[test]
fn import_with_changes_and_inspect() {
    let env = Env::new();
    let id = import_busybox(
        &env,
        "busybox:latest",
        &[
            "-c",
            r#"CMD ["sh", "-c", "echo hi"]"#,
            "--change",
            "ENV A=1 B=\"two words\"",
            "-c",
            "WORKDIR /srv",
            "-c",
            "USER 1000",
            "-c",
            "LABEL org.example=yes",
            "-c",
            "EXPOSE 8080",
            "-c",
            "VOLUME /data",
            "-c",
            "STOPSIGNAL SIGINT",
            "-c",
            "ENTRYPOINT /bin/sh -c",
            "-m",
            "my message",
        ],
    );
    let v = inspect(&env, "busybox");
    assert_eq!(v["Id"], id);
    assert_eq!(v["RepoTags"], serde_json::json!(["busybox:latest"]));
    assert_eq!(v["RepoDigests"], serde_json::json!([]));
    assert_eq!(v["Comment"], "my message");
    let c = &v["Config"];
    assert_eq!(c["Cmd"], serde_json::json!(["sh", "-c", "echo hi"]));
    assert_eq!(
        c["Entrypoint"],
        serde_json::json!(["/bin/sh", "-c", "/bin/sh -c"])
    );
    assert_eq!(c["Env"], serde_json::json!(["A=1", "B=two words"]));
    assert_eq!(c["WorkingDir"], "/srv");
    assert_eq!(c["User"], "1000");
    assert_eq!(c["Labels"]["org.example"], "yes");
    assert_eq!(c["ExposedPorts"], serde_json::json!({"8080/tcp": {}}));
    assert_eq!(c["Volumes"], serde_json::json!({"/data": {}}));
    assert_eq!(c["StopSignal"], "SIGINT");
    assert_eq!(v["Os"], "linux");
    assert_eq!(v["RootFS"]["Type"], "layers");
    assert_eq!(v["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    assert!(v["Size"].as_u64().unwrap() > 1_000_000);
    // -f with the Go-template subset.
    assert_eq!(
        env.ok(&[
            "image",
            "inspect",
            "-f",
            "{{.Config.User}} {{json .Config.Cmd}}",
            "busybox"
        ]),
        "1000 [\"sh\",\"-c\",\"echo hi\"]\n"
    );
    assert_eq!(
        env.ok(&[
            "inspect",
            "--format",
            "{{index .Config.Labels \"org.example\"}}",
            &id
        ]),
        "yes\n"
    );
    // Unknown images: Docker prints the found ones, then fails.
    let out = env.run(&["image", "inspect", "busybox", "nosuch"]);
    assert_eq!(out.status.code(), Some(125));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "berth: No such image: nosuch\n"
    );
}

#[test]
fn import_from_stdin_names_dash() {
    let env = Env::new();
    let tar = std::fs::read(busybox_tar(env.dir.path())).unwrap();
    let out = env.run_stdin(&["import", "-"], &tar);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let v = inspect(&env, &id);
    assert_eq!(v["Comment"], "Imported from -");
    assert_eq!(v["RepoTags"], serde_json::json!([]));
    // Untagged images list as <none>.
    let out = env.ok(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
    assert_eq!(out, format!("<none>:<none> {}\n", &id[7..19]));
}

#[test]
fn images_table_and_formats() {
    let env = Env::new();
    let id = import_busybox(&env, "busybox", &[]);
    env.ok(&["tag", "busybox", "example.com:5000/team/app:v1"]);
    let out = env.ok(&["images"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    // Docker's tabwriter: columns padded to the widest cell + 3.
    // Docker's tabwriter: each column is as wide as its widest cell + 3.
    let header = ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"];
    let starts: Vec<usize> = header.iter().map(|h| lines[0].find(h).unwrap()).collect();
    assert_eq!(starts[..3], [0, 28, 38], "{out}");
    let short = &id[7..19];
    for (l, (repo, tag)) in lines[1..]
        .iter()
        .zip([("busybox", "latest"), ("example.com:5000/team/app", "v1")])
    {
        assert!(
            l.starts_with(&format!("{repo:<28}{tag:<10}{short}   ")),
            "{l:?}"
        );
        let created = &l[starts[3]..starts[4]];
        assert!(
            created.trim_end().ends_with(" ago") && created.ends_with("   "),
            "{l:?}"
        );
        assert!(l[starts[4]..].ends_with("MB"), "{l:?}");
    }
    assert_eq!(env.ok(&["images", "-q"]), format!("{short}\n{short}\n"));
    assert_eq!(
        env.ok(&["images", "-q", "--no-trunc", "busybox"]),
        format!("{id}\n")
    );
    assert_eq!(
        env.ok(&[
            "images",
            "--format",
            "{{.Repository}}:{{.Tag}}",
            "example.com:5000/team/app"
        ]),
        "example.com:5000/team/app:v1\n"
    );
    let digests = env.ok(&["images", "--digests"]);
    assert!(
        digests
            .starts_with("REPOSITORY                  TAG       DIGEST    IMAGE ID       CREATED"),
        "{digests}"
    );
    assert!(digests.contains("<none>    "));
    let json = env.ok(&["images", "--format", "{{json .}}", "busybox"]);
    let v: Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(v["Repository"], "busybox");
    assert_eq!(v["ID"], short);
    assert_eq!(v["Digest"], "<none>");
    assert!(json.contains("\\u003cnone\\u003e"), "Go escapes <>: {json}");
    let table = env.ok(&[
        "images",
        "--format",
        "table {{.ID}}\t{{.Repository}}",
        "busybox",
    ]);
    assert_eq!(
        table,
        format!("IMAGE ID       REPOSITORY\n{short}   busybox\n")
    );
    assert_eq!(
        env.ok(&["images", "--filter", "dangling=true"])
            .lines()
            .count(),
        1
    );
    env.fails(&["images", "--format", "{{.Nope"], "template");
}

#[test]
fn save_load_round_trip_both_formats() {
    let env = Env::new();
    let id = import_busybox(&env, "busybox", &["-c", "CMD [\"sh\"]"]);
    env.ok(&["tag", "busybox", "busybox:other"]);
    for format in ["docker-archive", "oci-archive"] {
        let file = env.path(&format!("{format}.tar"));
        env.ok(&[
            "save",
            "--format",
            format,
            "-o",
            file.to_str().unwrap(),
            "busybox",
            "busybox:other",
        ]);
        let fresh = Env::new();
        let out = fresh.ok(&["load", "-i", file.to_str().unwrap()]);
        assert_eq!(
            out, "Loaded image: busybox:latest\nLoaded image: busybox:other\n",
            "{format}"
        );
        assert_eq!(image_ids(&fresh), vec![id.clone()]);
        assert_eq!(fresh.ok(&["load", "-q", "-i", file.to_str().unwrap()]), "");
    }
    // Loading a name another image has moves it, as Docker reports.
    let other = env.path("other.tar");
    let tar = std::fs::read(busybox_tar(env.dir.path())).unwrap();
    let fresh = Env::new();
    let out = fresh.run_stdin(
        &["import", "-", "busybox:latest", "-c", "CMD [\"other\"]"],
        &tar,
    );
    let old = String::from_utf8(out.stdout).unwrap().trim().to_string();
    env.ok(&["save", "-o", other.to_str().unwrap(), "busybox"]);
    assert_eq!(
        fresh.ok(&["load", "-i", other.to_str().unwrap()]),
        format!(
            "The image busybox:latest already exists, renaming the old one with ID {old} to empty string\nLoaded image: busybox:latest\n"
        )
    );
    assert_eq!(image_ids(&fresh).len(), 2);
    // Saved by id: untagged, and loading reports the id.
    let out = env.cmd(&["save", &id[7..19]]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fresh = Env::new();
    let loaded = fresh.run_stdin(&["load"], &out.stdout);
    assert_eq!(
        String::from_utf8(loaded.stdout).unwrap(),
        format!("Loaded image ID: {id}\n")
    );
}

#[test]
fn rmi_and_prune() {
    let env = Env::new();
    let id = import_busybox(&env, "busybox", &[]);
    env.ok(&["tag", "busybox", "other:1"]);
    assert_eq!(env.ok(&["rmi", "other:1"]), "Untagged: other:1\n");
    env.fails(&["rmi", "other:1"], "No such image: other:1");
    assert_eq!(
        env.ok(&["rmi", "busybox"]),
        format!("Untagged: busybox:latest\nDeleted: {id}\n")
    );
    assert!(image_ids(&env).is_empty());
    assert_eq!(
        std::fs::read_dir(env.root().join("layers"))
            .unwrap()
            .count(),
        0
    );

    // prune: dangling only, then everything with -a.
    let id = import_busybox(&env, "busybox", &[]);
    let tar = std::fs::read(busybox_tar(env.dir.path())).unwrap();
    let out = env.run_stdin(&["import", "-", "-c", "CMD [\"x\"]"], &tar);
    let dangling = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let out = env.ok(&["image", "prune", "-f"]);
    assert!(
        out.starts_with(&format!(
            "Deleted Images:\ndeleted: {dangling}\n\nTotal reclaimed space: "
        )),
        "{out}"
    );
    assert_eq!(image_ids(&env), vec![id.clone()]);
    let out = env.ok(&["image", "prune", "-a", "-f"]);
    assert!(
        out.starts_with(&format!(
            "Deleted Images:\nuntagged: busybox:latest\ndeleted: {id}\n\nTotal reclaimed space: "
        )),
        "{out}"
    );
    assert!(out.trim_end().ends_with("MB"), "{out}");
    assert_eq!(
        env.ok(&["image", "prune", "-f"]),
        "Total reclaimed space: 0B\n"
    );
    // Without -f it asks; anything but y keeps everything.
    import_busybox(&env, "busybox", &[]);
    let out = env.run_stdin(&["image", "prune", "-a"], b"n\n");
    assert!(out.status.success());
    assert_eq!(image_ids(&env).len(), 1);
}
