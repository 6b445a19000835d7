//! The fast path of [`command_for`] must be invisible: for every
//! subcommand of the full tree, help, errors and parse results are the same
//! as the full tree's. The cases are generated from the full tree, so a
//! new subcommand is covered (and one the table lacks fails) on its own.

use std::ffi::OsString;

use clap::error::ErrorKind;
use clap::{ArgMatches, CommandFactory, FromArgMatches};

use super::*;

fn argv(words: &[&str]) -> Vec<OsString> {
    std::iter::once("berth")
        .chain(words.iter().copied())
        .map(OsString::from)
        .collect()
}

/// What clap makes of argv with `cmd`: what matched (see [`parsed`]), or
/// the error's kind and its text both plain and styled (what `e.print()`
/// shows).
fn outcome(
    mut cmd: clap::Command,
    args: &[OsString],
) -> Result<(String, ArgMatches), (ErrorKind, String, String)> {
    match cmd.try_get_matches_from_mut(args) {
        Ok(m) => Ok((parsed(&m), m)),
        Err(e) => {
            let text = e.render();
            let styled = text.ansi().to_string();
            Err((e.kind(), text.to_string(), styled))
        }
    }
}

/// Every matched id with its source, positions and raw values, then the
/// subcommand's, recursively. (`ArgMatches`' own `==` also compares the
/// list of subcommands the tree knew, which the fast tree differs in by
/// design.)
fn parsed(m: &ArgMatches) -> String {
    let mut out = String::new();
    for id in m.ids() {
        let id = id.as_str();
        let raw: Vec<_> = m.get_raw(id).map(|v| v.collect()).unwrap_or_default();
        let at: Vec<_> = m.indices_of(id).map(|i| i.collect()).unwrap_or_default();
        out += &format!("{id} {:?} {at:?} {raw:?}; ", m.value_source(id));
    }
    if let Some((name, sub)) = m.subcommand() {
        out += &format!("[{name}: {}]", parsed(sub));
    }
    out
}

/// Asserts the tree [`command_for`] picks behaves as the full tree on
/// `words`, and returns how many subcommands the picked tree has.
fn same(words: &[&str]) -> usize {
    let args = argv(words);
    let picked = command_for(&args);
    let subs = picked.get_subcommands().count();
    let fast = outcome(picked, &args);
    let full = outcome(Cli::<Command>::command(), &args);
    let strip = |o: &Result<(String, ArgMatches), _>| o.clone().map(|(p, _)| p);
    assert_eq!(strip(&fast), strip(&full), "argv {words:?}");
    if let Ok((_, m)) = &fast {
        // The derived conversion accepts what the fast tree matched.
        assert!(Cli::<Command>::from_arg_matches(m).is_ok(), "{words:?}");
    }
    subs
}

/// The top-level subcommands of the full tree, with their aliases.
fn top_names() -> Vec<(String, clap::Command)> {
    let full = Cli::<Command>::command();
    let mut out = Vec::new();
    for sub in full.get_subcommands() {
        out.push((sub.get_name().to_string(), sub.clone()));
        for alias in sub.get_all_aliases() {
            out.push((alias.to_string(), sub.clone()));
        }
    }
    out
}

#[test]
fn the_table_has_every_subcommand_of_the_tree() {
    let full = Cli::<Command>::command();
    assert_eq!(SUBCOMMANDS.len(), full.get_subcommands().count());
    for (name, sub) in top_names() {
        let args = argv(&[&name]);
        let cmd = command_for(&args);
        let only: Vec<_> = cmd.get_subcommands().map(|s| s.get_name()).collect();
        assert_eq!(only, [sub.get_name()], "fast tree for {name}");
    }
}

#[test]
fn every_subcommand_helps_and_fails_as_the_full_tree() {
    for (name, sub) in top_names() {
        let n = name.as_str();
        for words in [
            vec![n, "--help"],
            vec![n, "-h"],
            vec![n],
            vec![n, "x"],
            vec![n, "x", "y", "z"],
            vec![n, "--no-such-option"],
            vec![n, "-Q"],
            vec!["--root", "/r", "-D", n, "--help"],
            vec!["--root=/r", "--runroot", "/q", n, "x", "y"],
            vec![n, "--debug", "--runroot=/q", "x"],
            vec![n, "--root"],
            vec![n, "help"],
            vec![n, "nosuch"],
        ] {
            assert_eq!(same(&words), 1, "{words:?} took the full tree");
        }
        for nested in sub.get_subcommands() {
            let names = std::iter::once(nested.get_name()).chain(nested.get_all_aliases());
            for m in names {
                for words in [
                    vec![n, m, "--help"],
                    vec![n, m],
                    vec![n, m, "x"],
                    vec![n, m, "x", "--bogus"],
                    vec!["-D", n, m, "--format", "{{.ID}}", "-q", "a"],
                ] {
                    assert_eq!(same(&words), 1, "{words:?} took the full tree");
                }
            }
        }
    }
}

#[test]
fn real_command_lines_parse_as_the_full_tree() {
    for line in [
        "run --rm -e A=1 -v /a:/b --name web busybox sh -c true",
        "--root /r run -d -t -i --cpus 1.5 -m 64m busybox",
        "run busybox ls --root /x -D",
        "create --entrypoint /bin/sh -w /tmp busybox -c exit",
        "ps -a --format {{.ID}}",
        "ps -aq --no-trunc -f status=exited",
        "container ls -a",
        "container list -n 2",
        "container ps -s",
        "image ls -q",
        "image list",
        "images --digests",
        "volume create --label a=b v1",
        "volume ls -q",
        "volume remove v1 v2",
        "logs -f --tail 3 -t c1",
        "exec -it -u 0 c1 sh -c id",
        "cp c1:/etc/hosts -",
        "commit -c CMD=x c1 img:tag",
        "rm -fv a b",
        "stop -t 0 c1",
        "kill -s KILL c1",
        "inspect --format {{.Id}} x",
        "__monitor --help",
    ] {
        let words: Vec<&str> = line.split(' ').collect();
        assert_eq!(same(&words), 1, "{line} took the full tree");
    }
}

#[test]
fn anything_else_takes_the_full_tree() {
    let full = Cli::<Command>::command().get_subcommands().count();
    for words in [
        vec![],
        vec!["--help"],
        vec!["-h"],
        vec!["help"],
        vec!["help", "run"],
        vec!["rnu"],
        vec!["volumes"],
        vec!["--bogus"],
        vec!["-D"],
        vec!["-DV"],
        vec!["--debug=true", "ps"],
        vec!["--root"],
        vec!["--root", "--debug", "ps"],
        vec!["--root", "-x", "ps"],
        vec!["--version", "ps"],
        vec!["-D", "--help", "ps"],
    ] {
        assert_eq!(same(&words), full, "{words:?} left the full tree");
    }
}

#[test]
fn a_bare_version_builds_the_top_level_alone() {
    for words in [
        vec!["--version"],
        vec!["-V"],
        vec!["-D", "--root", "/r", "--version"],
    ] {
        assert_eq!(same(&words), 0, "{words:?}");
    }
}

#[test]
fn parse_from_converts_as_the_derive() {
    let cli = parse_from(argv(&["--root", "/r", "ps", "-a", "--runroot=/q"])).unwrap();
    assert_eq!(cli.root, std::path::Path::new("/r"));
    assert_eq!(cli.runroot, std::path::Path::new("/q"));
    assert!(!cli.debug);
    assert!(matches!(cli.command, Command::Ps(_)));
    let cli = parse_from(argv(&["container", "ls", "-D"])).unwrap();
    assert!(cli.debug);
    assert!(matches!(
        cli.command,
        Command::Container(ContainerCommand::Ls(_))
    ));
    let err = parse_from(argv(&["volum"])).err().unwrap();
    assert_eq!(err.kind(), ErrorKind::InvalidSubcommand);
    assert!(err.render().to_string().contains("'volume'"), "{err}");
}
