//! A network namespace made ahead (`NetnsAhead`): the init joins it
//! instead of creating one, only where the namespace may serve, and it is
//! as fresh as one the clone would have made.

#[path = "process_common.rs"]
mod common;

use std::fs::{self, File};
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;

use common::{in_child, init_opts, spec, with_user_namespace, Bundle};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use runtime::{spawn_init, InitOptions, NetnsAhead, NoHooks, Stdio};

/// Runs `s` with a namespace made ahead; returns the container's stdout
/// and the made namespace as `readlink /proc/self/ns/net` names it.
fn run_ahead(b: &Bundle, s: &Spec) -> (String, String) {
    let out = b.path().join("stdout");
    let made = b.path().join("made");
    let code = in_child(|| {
        let ahead = NetnsAhead::start().unwrap().finish().expect("netns made");
        let ino = File::from(ahead.try_clone().unwrap())
            .metadata()
            .unwrap()
            .ino();
        fs::write(&made, format!("net:[{ino}]")).unwrap();
        let o = File::create(&out).unwrap();
        let opts = InitOptions {
            stdio: Stdio {
                stdout: Some(o.as_fd()),
                ..Stdio::default()
            },
            netns: Some(ahead.as_fd()),
            ..init_opts("netns", b, s)
        };
        let init = spawn_init(&opts, &mut NoHooks).unwrap();
        drop(ahead);
        init.wait().unwrap()
    });
    assert_eq!(code, 0, "{}", fs::read_to_string(&out).unwrap_or_default());
    (
        fs::read_to_string(&out).unwrap(),
        fs::read_to_string(&made).unwrap(),
    )
}

#[test]
fn the_init_joins_the_namespace_made_ahead_which_is_fresh() {
    let b = Bundle::busybox();
    let s = spec(&["sh", "-c", "readlink /proc/self/ns/net; cat /proc/net/dev"]);
    let (out, made) = run_ahead(&b, &s);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], made);
    let host = fs::read_link("/proc/self/ns/net").unwrap();
    assert_ne!(lines[0], host.to_str().unwrap());
    // Two header lines and the loopback device only.
    assert_eq!(lines.len(), 4, "{out}");
    assert!(lines[3].trim_start().starts_with("lo:"), "{out}");
}

#[test]
fn a_new_user_namespace_makes_its_own() {
    let b = Bundle::busybox();
    let s = with_user_namespace(spec(&["readlink", "/proc/self/ns/net"]));
    let (out, made) = run_ahead(&b, &s);
    // The namespace made ahead belongs to the host's user namespace: root
    // in the container could not configure it.
    assert_ne!(out.trim(), made);
    assert!(out.starts_with("net:["), "{out}");
}

#[test]
fn without_a_network_namespace_in_the_spec_it_is_not_joined() {
    let b = Bundle::busybox();
    let mut s = spec(&["readlink", "/proc/self/ns/net"]);
    let mut linux = s.linux().clone().unwrap();
    let mut ns = linux.namespaces().clone().unwrap();
    ns.retain(|n| n.typ() != LinuxNamespaceType::Network);
    linux.set_namespaces(Some(ns));
    s.set_linux(Some(linux));
    let (out, _) = run_ahead(&b, &s);
    let host = fs::read_link("/proc/self/ns/net").unwrap();
    assert_eq!(out.trim(), host.to_str().unwrap());
}
