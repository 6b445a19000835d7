//! `berth inspect` / `container inspect` of a container print Docker's key
//! order (docker 20.10's `types.ContainerJSON`, checked field by field
//! against a real dockerd), Docker's nulls and omissions, and with
//! `--size` the `SizeRw`/`SizeRootFs` Docker adds after `GraphDriver`.

mod containers_support;

use containers_support::{Env, IMAGE};

/// The keys, in order, of the object whose keys sit at `indent` spaces
/// and that opens at the first line `"<start>": ` (at `indent - 4`), or
/// of every such line for `None`; four-space indented output.
fn keys(text: &str, start: Option<&str>, indent: usize) -> Vec<String> {
    let mut lines = text.lines();
    let pad = " ".repeat(indent);
    let close = " ".repeat(indent - 4) + "}";
    if let Some(start) = start {
        let opening = format!("{}\"{start}\": ", " ".repeat(indent - 4));
        lines
            .by_ref()
            .find(|l| l.starts_with(&opening))
            .unwrap_or_else(|| panic!("no {start} in {text}"));
    }
    let mut out = Vec::new();
    for l in lines {
        if l.starts_with(&close) && start.is_some() {
            break;
        }
        if let Some(rest) = l.strip_prefix(&pad) {
            if let Some(key) = rest.strip_prefix('"') {
                out.push(key.split('"').next().unwrap().to_string());
            }
        }
    }
    out
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn inspect_prints_dockers_key_order() {
    let env = Env::new();
    let vol_src = env.dir.path().join("src");
    std::fs::create_dir(&vol_src).unwrap();
    let bind = format!("{}:/mnt", vol_src.display());
    env.ok(&[
        "create",
        "--name",
        "ordered",
        "-t",
        "-e",
        "A=1",
        "--label",
        "x=y",
        "-v",
        &bind,
        "-v",
        "vol1:/data",
        "--ulimit",
        "nofile=100:200",
        "--stop-signal",
        "SIGUSR1",
        IMAGE,
        "sh",
        "-c",
        "echo hi",
    ]);
    let text = env.ok(&["inspect", "ordered"]);
    assert_eq!(text, env.ok(&["container", "inspect", "ordered"]));
    assert_eq!(
        keys(&text, None, 8),
        strs(&[
            "Id",
            "Created",
            "Path",
            "Args",
            "State",
            "Image",
            "ResolvConfPath",
            "HostnamePath",
            "HostsPath",
            "LogPath",
            "Name",
            "RestartCount",
            "Driver",
            "Platform",
            "MountLabel",
            "ProcessLabel",
            "AppArmorProfile",
            "ExecIDs",
            "HostConfig",
            "GraphDriver",
            "Mounts",
            "Config",
            "NetworkSettings",
        ])
    );
    assert_eq!(
        keys(&text, Some("State"), 12),
        strs(&[
            "Status",
            "Running",
            "Paused",
            "Restarting",
            "OOMKilled",
            "Dead",
            "Pid",
            "ExitCode",
            "Error",
            "StartedAt",
            "FinishedAt",
        ])
    );
    assert_eq!(
        keys(&text, Some("HostConfig"), 12),
        strs(&[
            "LogConfig",
            "NetworkMode",
            "AutoRemove",
            "CapAdd",
            "CapDrop",
            "Privileged",
            "ReadonlyRootfs",
            "SecurityOpt",
            "ShmSize",
            "Memory",
            "NanoCpus",
            "CgroupParent",
            "PidsLimit",
            "Ulimits",
        ])
    );
    assert_eq!(
        keys(&text, Some("Config"), 12),
        strs(&[
            "Hostname",
            "Domainname",
            "User",
            "AttachStdin",
            "AttachStdout",
            "AttachStderr",
            "Tty",
            "OpenStdin",
            "StdinOnce",
            "Env",
            "Cmd",
            "Image",
            "Volumes",
            "WorkingDir",
            "Entrypoint",
            "OnBuild",
            "Labels",
            "StopSignal",
        ])
    );
    let ulimits = &text[text.find("\"Ulimits\"").unwrap()..];
    assert_eq!(
        keys(ulimits, None, 20)[..3],
        strs(&["Name", "Hard", "Soft"])
    );
    assert_eq!(
        keys(&text, Some("Data"), 16),
        strs(&["LowerDir", "MergedDir", "UpperDir", "WorkDir"])
    );
    // The volume mount (the second): Docker's MountPoint order.
    let volume = &text[text.find("\"Name\": \"vol1\"").unwrap() - 60..];
    assert_eq!(
        keys(volume, None, 16)[..8],
        strs(&[
            "Type",
            "Name",
            "Source",
            "Destination",
            "Driver",
            "Mode",
            "RW",
            "Propagation"
        ])
    );
    // Docker's nulls for empty lists, and no Init without --init.
    for null in [
        "\"CapAdd\": null",
        "\"CapDrop\": null",
        "\"SecurityOpt\": null",
        "\"ExecIDs\": null",
    ] {
        assert!(text.contains(null), "{null} in {text}");
    }
    assert!(!text.contains("\"Init\""), "{text}");

    // `{{json .}}` of the whole document keeps Docker's order too.
    for args in [
        &["inspect", "-f", "{{json .}}", "ordered"][..],
        &["inspect", "--format", "json", "ordered"][..],
        &["container", "inspect", "-f", "{{ json . }}", "ordered"][..],
    ] {
        let compact = env.ok(args);
        assert!(compact.starts_with("{\"Id\":\""), "{args:?}: {compact}");
        let at = |k: &str| compact.find(&format!("\"{k}\":")).unwrap();
        assert!(
            at("Created") < at("State")
                && at("State") < at("Image")
                && at("HostConfig") < at("GraphDriver")
                && at("Mounts") < at("Domainname")
                && at("Domainname") < at("NetworkSettings"),
            "{args:?}: {compact}"
        );
        assert_eq!(compact.lines().count(), 1);
    }
    assert!(!text.contains("\"SizeRw\""), "{text}");

    // --size: the sizes after GraphDriver; templates see the same fields.
    env.ok(&[
        "run",
        "--name",
        "sized",
        "--init",
        IMAGE,
        "sh",
        "-c",
        "echo hi > /f",
    ]);
    let sized = env.ok(&["container", "inspect", "--size", "sized"]);
    let top = keys(&sized, None, 8);
    let at = top.iter().position(|k| k == "GraphDriver").unwrap();
    assert_eq!(
        top[at + 1..at + 4],
        strs(&["SizeRw", "SizeRootFs", "Mounts"])
    );
    assert!(sized.contains("\"SizeRw\": 3,"), "{sized}");
    assert!(sized.contains("\"Init\": true"), "{sized}");
    assert_eq!(env.ok(&["inspect", "-s", "sized"]), sized);
    assert_eq!(
        env.ok(&[
            "inspect",
            "-s",
            "-f",
            "{{.SizeRw}} {{.State.Status}}",
            "sized"
        ])
        .trim(),
        "3 exited"
    );
}

/// What Docker's Go structs hold as nil slices and maps (JSON `null`)
/// prints in a template as Go prints them, `[]` and `map[]`, while `json`
/// still writes `null` (each pair checked against dockerd 20.10.24); a nil
/// pointer stays `<nil>`.
#[test]
fn templates_print_nil_slices_and_maps_as_docker() {
    let env = Env::new();
    env.ok(&["create", "--name", "plain", IMAGE, "true"]);
    env.ok(&["volume", "create", "v1"]);
    let t = "{{.Config.Entrypoint}} {{.Config.Volumes}} {{.HostConfig.CapAdd}} \
             {{.ExecIDs}} {{.HostConfig.PidsLimit}} {{json .Config.Entrypoint}} \
             {{json .HostConfig.CapAdd}} {{len .Config.Entrypoint}}";
    let want = "[] map[] [] [] <nil> null null 0";
    for args in [
        &["inspect", "-f", t, "plain"][..],
        &["container", "inspect", "-f", t, "plain"][..],
    ] {
        assert_eq!(env.ok(args).trim(), want, "{args:?}");
    }
    let t = "{{.Config.Entrypoint}} {{.Config.Labels}} {{.Config.OnBuild}} {{json .Config.Labels}}";
    for args in [
        &["inspect", "-f", t, IMAGE][..],
        &["image", "inspect", "-f", t, IMAGE][..],
    ] {
        assert_eq!(env.ok(args).trim(), "[] map[] [] null", "{args:?}");
    }
    let t = "{{.Labels}} {{.Options}} {{json .Labels}}";
    assert_eq!(
        env.ok(&["volume", "inspect", "-f", t, "v1"]).trim(),
        "map[] map[] null"
    );
    // The whole document's JSON keeps its nulls.
    let whole = env.ok(&["image", "inspect", "-f", "{{json .Config}}", IMAGE]);
    assert!(whole.contains("\"Entrypoint\":null"), "{whole}");
}
