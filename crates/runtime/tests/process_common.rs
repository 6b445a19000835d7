//! Shared helpers for the process tests (included with `#[path]`).
#![allow(dead_code)]

use std::fs::{self, File};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxIdMappingBuilder, LinuxNamespaceBuilder, LinuxNamespaceType, Spec};
use runtime::{spawn_init, InitOptions, NoHooks, Overlay, Stdio};

/// Init options for container `id` of bundle `b` running `s`: pivot, no
/// overlay, console or fifo, the caller's stdio.
pub fn init_opts<'a>(id: &'a str, b: &'a Bundle, s: &'a Spec) -> InitOptions<'a> {
    InitOptions {
        id,
        spec: s,
        bundle: b.path(),
        overlay: None,
        console_socket: None,
        no_pivot: false,
        exec_fifo: None,
        stdio: Stdio::default(),
        preserve_fds: 0,
        netns: None,
    }
}

/// A bundle in a temp dir: `rootfs/` with busybox, removed on drop.
pub struct Bundle {
    pub dir: tempfile::TempDir,
}

impl Bundle {
    pub fn busybox() -> Self {
        let dir = tempfile::tempdir().unwrap();
        testkit::busybox_rootfs(&dir.path().join("rootfs")).unwrap();
        Bundle { dir }
    }
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }
}

/// runc's default spec with `args`, hostname `box`, rootfs `rootfs`.
pub fn spec(args: &[&str]) -> Spec {
    let mut spec = Spec::default();
    spec.set_hostname(Some("box".into()));
    let mut process = spec.process().clone().unwrap();
    process.set_args(Some(args.iter().map(|s| s.to_string()).collect()));
    spec.set_process(Some(process));
    spec
}

/// `s` in a new user namespace mapping root to host uid/gid 100000
/// (65536 ids), without cgroup mounts (cgroup v1 cannot be mounted from
/// a user namespace).
pub fn with_user_namespace(mut s: Spec) -> Spec {
    let mut linux = s.linux().clone().unwrap();
    let mut ns = linux.namespaces().clone().unwrap();
    ns.push(
        LinuxNamespaceBuilder::default()
            .typ(LinuxNamespaceType::User)
            .build()
            .unwrap(),
    );
    linux.set_namespaces(Some(ns));
    let map = LinuxIdMappingBuilder::default()
        .container_id(0u32)
        .host_id(100000u32)
        .size(65536u32)
        .build()
        .unwrap();
    linux.set_uid_mappings(Some(vec![map]));
    linux.set_gid_mappings(Some(vec![map]));
    s.set_linux(Some(linux));
    // cgroup v1 cannot be mounted from a user namespace.
    let mut mounts = s.mounts().clone().unwrap();
    mounts.retain(|m| m.typ().as_deref() != Some("cgroup"));
    s.set_mounts(Some(mounts));
    s
}

/// What a container run gave.
#[derive(Debug)]
pub enum Outcome {
    Exited {
        code: i32,
        stdout: String,
        stderr: String,
    },
    Failed {
        kind: String,
        message: String,
    },
}

impl Outcome {
    pub fn ok(self) -> (i32, String, String) {
        match self {
            Outcome::Exited {
                code,
                stdout,
                stderr,
            } => (code, stdout, stderr),
            Outcome::Failed { kind, message } => panic!("spawn failed ({kind}): {message}"),
        }
    }
}

pub use testkit::in_child;

/// Runs the container to completion with stdout/stderr captured in files.
pub fn run(bundle: &Bundle, spec: &Spec, overlay: Option<&Overlay>) -> Outcome {
    run_with(bundle, spec, overlay, false)
}

/// [`run`], choosing `no_pivot`.
pub fn run_with(
    bundle: &Bundle,
    spec: &Spec,
    overlay: Option<&Overlay>,
    no_pivot: bool,
) -> Outcome {
    let out = bundle.path().join("stdout");
    let err = bundle.path().join("stderr");
    let result = bundle.path().join("result");
    let _ = fs::remove_file(&result);
    in_child(|| {
        let o = File::create(&out).unwrap();
        let e = File::create(&err).unwrap();
        let opts = InitOptions {
            id: "test",
            spec,
            bundle: bundle.path(),
            overlay,
            console_socket: None,
            no_pivot,
            exec_fifo: None,
            stdio: Stdio {
                stdin: None,
                stdout: Some(o.as_fd()),
                stderr: Some(e.as_fd()),
            },
            preserve_fds: 0,
            netns: None,
        };
        let text = match spawn_init(&opts, &mut NoHooks) {
            Ok(init) => format!("ok {}", init.wait().unwrap()),
            Err(e) => format!("err {:?} {e}", e.kind()),
        };
        fs::write(&result, text).unwrap();
        0
    });
    let text = fs::read_to_string(&result).expect("result file");
    let rest = text.split_once(' ').unwrap().1;
    if let Some(code) = text.strip_prefix("ok ") {
        Outcome::Exited {
            code: code.parse().unwrap(),
            stdout: fs::read_to_string(&out).unwrap(),
            stderr: fs::read_to_string(&err).unwrap(),
        }
    } else {
        let (kind, message) = rest.split_once(' ').unwrap();
        Outcome::Failed {
            kind: kind.into(),
            message: message.into(),
        }
    }
}
