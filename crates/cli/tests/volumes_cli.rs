//! `berth volume` output against Docker's (byte for byte where Docker has
//! a format) and bad input: every refusal is one clear line, creates no
//! container or volume, loses no data and leaves no mount behind.

mod containers_support;

use std::fs;
use std::path::Path;

use containers_support::{Env, IMAGE};

fn mountinfo_count() -> usize {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .count()
}

#[test]
fn create_ls_inspect_rm_as_docker() {
    let env = Env::new();
    assert_eq!(env.ok(&["volume", "create", "foo"]), "foo\n");
    // Idempotent.
    assert_eq!(env.ok(&["volume", "create", "--name", "foo"]), "foo\n");
    let anon = env.ok(&["volume", "create"]);
    let anon = anon.trim();
    assert_eq!(anon.len(), 64);
    env.ok(&[
        "volume", "create", "--label", "a=b", "--label", "c", "-d", "local", "lab",
    ]);
    assert_eq!(
        env.ok(&["volume", "ls"]),
        format!("DRIVER    VOLUME NAME\nlocal     {anon}\nlocal     foo\nlocal     lab\n")
    );
    assert_eq!(env.ok(&["volume", "ls", "-q", "-f", "label=a=b"]), "lab\n");
    assert_eq!(env.ok(&["volume", "ls", "-q", "-f", "label=c"]), "lab\n");
    assert_eq!(env.ok(&["volume", "ls", "-q", "-f", "name=fo"]), "foo\n");
    assert_eq!(env.ok(&["volume", "ls", "-q", "-f", "dangling=false"]), "");
    assert_eq!(
        env.ok(&[
            "volume",
            "ls",
            "--format",
            "{{.Name}}:{{.Driver}}:{{.Labels}}",
            "-f",
            "name=lab"
        ]),
        "lab:local:a=b,c=\n"
    );
    assert_eq!(
        env.ok(&[
            "volume",
            "ls",
            "--format",
            "table {{.Name}}\t{{.Scope}}",
            "-f",
            "name=foo"
        ]),
        "VOLUME NAME   SCOPE\nfoo           local\n"
    );
    let root = env.root().canonicalize().unwrap();
    let created = env.ok(&["volume", "inspect", "-f", "{{.CreatedAt}}", "foo"]);
    let created = created.trim();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created).is_ok(),
        "{created}"
    );
    assert_eq!(
        env.ok(&["volume", "inspect", "foo"]),
        format!(
            "[\n    {{\n        \"CreatedAt\": \"{created}\",\n        \"Driver\": \"local\",\n        \"Labels\": null,\n        \"Mountpoint\": \"{}/volumes/foo/_data\",\n        \"Name\": \"foo\",\n        \"Options\": null,\n        \"Scope\": \"local\"\n    }}\n]\n",
            root.display()
        )
    );
    let lab = env.ok(&["volume", "inspect", "-f", "{{json .Labels}}", "lab"]);
    assert_eq!(lab, "{\"a\":\"b\",\"c\":\"\"}\n");
    let r = env.berth(&["volume", "inspect", "foo", "nosuch"]);
    assert_ne!(r.code, 0);
    assert!(r.stdout.contains("\"Name\": \"foo\""));
    assert!(r.stderr.contains("No such volume: nosuch"), "{}", r.stderr);

    assert_eq!(
        env.ok(&["volume", "rm", "foo", anon]),
        format!("foo\n{anon}\n")
    );
    let r = env.berth(&["volume", "rm", "foo"]);
    assert!(
        r.stderr
            .contains("Error response from daemon: get foo: no such volume"),
        "{}",
        r.stderr
    );
    assert_eq!(env.ok(&["volume", "rm", "-f", "foo"]), "foo\n");
    assert_eq!(
        env.ok(&["volume", "prune", "-f", "--filter", "label=x"]),
        "Total reclaimed space: 0B\n"
    );
    assert_eq!(env.ok(&["volume", "ls", "-q"]), "lab\n");
    // prune asks first; anything but y keeps everything.
    let out = env.ok(&["volume", "prune", "-a"]);
    assert!(out.starts_with("WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] "));
    assert_eq!(env.ok(&["volume", "ls", "-q"]), "lab\n");
    assert_eq!(
        env.ok(&["volume", "prune", "-a", "-f", "--filter", "label=a=b"]),
        "Deleted Volumes:\nlab\n\nTotal reclaimed space: 0B\n"
    );
}

#[test]
fn bad_input_is_refused_cleanly() {
    let env = Env::new();
    env.ok(&["volume", "create", "keep"]);
    let keep = env.root().join("volumes/keep/_data/precious");
    fs::write(&keep, "data").unwrap();
    let id = env
        .ok(&["create", "-v", "keep:/k", IMAGE, "true"])
        .trim()
        .to_string();
    let before = mountinfo_count();
    let cases: &[(&[&str], &str)] = &[
        (&["run", "--rm", "-v", "", IMAGE, "true"], "invalid empty volume spec"),
        (&["run", "--rm", "-v", ":/x", IMAGE, "true"], "invalid spec: :/x: empty section between colons"),
        (&["run", "--rm", "-v", "x", IMAGE, "true"], "invalid volume specification: 'x': invalid mount config for type \"volume\": invalid mount path: 'x' mount path must be absolute"),
        (&["run", "--rm", "-v", "/a:rel", IMAGE, "true"], "invalid volume specification: '/a:rel'"),
        (&["run", "--rm", "-v", "/a:/b:bogus", IMAGE, "true"], "invalid mode: bogus"),
        (&["run", "--rm", "-v", "a/b:/x", IMAGE, "true"], "create a/b: \"a/b\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed"),
        (&["run", "--rm", "-v", "..:/x", IMAGE, "true"], "create ..: \"..\" includes invalid characters"),
        (&["run", "--rm", "-v", "keep:/k", "-v", "/h:/k", IMAGE, "true"], "Duplicate mount point: /k"),
        (&["run", "--rm", "--mount", "type=bind,source=/nonexistent-berth,target=/x", IMAGE, "true"], "invalid mount config for type \"bind\": bind source path does not exist: /nonexistent-berth"),
        (&["run", "--rm", "--mount", "type=bind,target=/x", IMAGE, "true"], "invalid mount config for type \"bind\": field Source must not be empty"),
        (&["run", "--rm", "--mount", "type=volume,src=v", IMAGE, "true"], "target is required"),
        (&["run", "--rm", "--tmpfs", "rel", IMAGE, "true"], "invalid mount path: 'rel' mount path must be absolute"),
        (&["run", "--rm", "--volumes-from", "nosuch", IMAGE, "true"], "No such container: nosuch"),
        (&["volume", "create", "a/b"], "create a/b: \"a/b\" includes invalid characters"),
        (&["volume", "create", ".."], "create ..: \"..\" includes invalid characters"),
        (&["volume", "create", "-d", "nfs", "n1"], "plugin \"nfs\" not found"),
        (&["volume", "rm", "keep"], &format!("Error response from daemon: remove keep: volume is in use - [{id}]")),
        (&["volume", "rm", "nosuch"], "Error response from daemon: get nosuch: no such volume"),
        (&["volume", "ls", "-f", "bogus"], "bad format of filter (expected name=value)"),
    ];
    for (args, needle) in cases {
        let r = env.berth(args);
        assert_ne!(r.code, 0, "{args:?} succeeded");
        assert!(r.stderr.starts_with("berth: "), "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{args:?}: {}", r.stderr);
        assert_eq!(
            r.stderr.trim_end().lines().count(),
            1,
            "{args:?}: {}",
            r.stderr
        );
    }
    assert_eq!(env.ok(&["ps", "-aq", "--no-trunc"]).trim(), id);
    assert_eq!(env.ok(&["volume", "ls", "-q"]), "keep\n");
    assert_eq!(fs::read_to_string(&keep).unwrap(), "data");
    assert!(!Path::new("/nonexistent-berth").exists());
    assert_eq!(
        fs::read_dir(env.root().join("containers")).unwrap().count(),
        1
    );
    assert_eq!(mountinfo_count(), before);
}
