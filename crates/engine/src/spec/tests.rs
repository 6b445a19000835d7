//! Unit tests of the spec builder (no root needed).
#![allow(clippy::field_reassign_with_default)]

use std::path::Path;

use oci_spec::runtime::{Capability, LinuxNamespaceType, Spec};

use super::*;
use crate::options::RunFlags;

const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn image_config(json: serde_json::Value) -> ImageConfig {
    serde_json::from_value(json).unwrap()
}

fn build(flags: RunFlags, image: Option<&ImageConfig>, args: &[&str]) -> Result<Spec, SpecError> {
    let opts = flags.parse().unwrap();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let config = ContainerConfig::new(ID, "busybox", image, &opts, &args)?;
    let user = resolve_user(&config.user, None, None)?;
    build_spec(&SpecInput {
        config: &config,
        options: &opts,
        user: &user,
        rootfs: Path::new("/var/lib/berth/containers/x/rootfs"),
        cgroups_path: "/berth/x",
        private_cgroupns: false,
        init_binary: Some(Path::new("/usr/bin/berth")),
    })
}

fn env_of(spec: &Spec) -> Vec<String> {
    spec.process().as_ref().unwrap().env().clone().unwrap()
}

#[test]
fn docker_defaults() {
    let spec = build(RunFlags::default(), None, &["sh"]).unwrap();
    let process = spec.process().as_ref().unwrap();
    assert_eq!(process.args().as_ref().unwrap(), &vec!["sh".to_string()]);
    assert_eq!(process.cwd(), Path::new("/"));
    assert_eq!(process.no_new_privileges(), Some(false));
    let caps = process.capabilities().as_ref().unwrap();
    let bounding = caps.bounding().as_ref().unwrap();
    assert_eq!(bounding.len(), 14);
    assert!(bounding.contains(&Capability::NetBindService));
    assert!(!bounding.contains(&Capability::SysAdmin));
    assert_eq!(spec.hostname().as_deref(), Some("0123456789ab"));
    assert_eq!(
        env_of(&spec),
        vec![
            format!("PATH={DEFAULT_PATH}"),
            "HOSTNAME=0123456789ab".into(),
            "HOME=/root".into()
        ]
    );
    let linux = spec.linux().as_ref().unwrap();
    let ns: Vec<LinuxNamespaceType> = linux
        .namespaces()
        .as_ref()
        .unwrap()
        .iter()
        .map(|n| n.typ())
        .collect();
    for t in [
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Network,
    ] {
        assert!(ns.contains(&t), "{t:?}");
    }
    assert_eq!(
        linux.masked_paths().as_ref().unwrap().len(),
        MASKED_PATHS.len()
    );
    assert!(linux
        .readonly_paths()
        .as_ref()
        .unwrap()
        .contains(&"/proc/sys".to_string()));
    assert!(linux.seccomp().is_some());
    assert_eq!(linux.cgroups_path().as_deref(), Some(Path::new("/berth/x")));
    let dests: Vec<String> = spec
        .mounts()
        .as_ref()
        .unwrap()
        .iter()
        .map(|m| m.destination().display().to_string())
        .collect();
    assert_eq!(
        dests,
        [
            "/proc",
            "/dev",
            "/dev/pts",
            "/sys",
            "/sys/fs/cgroup",
            "/dev/mqueue",
            "/dev/shm"
        ]
    );
    let devpts = &spec.mounts().as_ref().unwrap()[2];
    assert!(devpts
        .options()
        .as_ref()
        .unwrap()
        .contains(&"gid=5".to_string()));
    let shm = &spec.mounts().as_ref().unwrap()[6];
    assert!(shm
        .options()
        .as_ref()
        .unwrap()
        .contains(&"size=67108864".to_string()));
    assert!(process.rlimits().as_ref().is_none_or(|r| r.is_empty()));
    assert_eq!(spec.root().as_ref().unwrap().readonly(), Some(false));
}

#[test]
fn image_config_applies() {
    let img = image_config(serde_json::json!({
        "Entrypoint": ["/entry"], "Cmd": ["a", "b"], "Env": ["PATH=/img/bin", "X=1"],
        "WorkingDir": "/work", "User": "1000:1000", "Labels": {"from": "image"},
        "StopSignal": "SIGQUIT"
    }));
    let mut flags = RunFlags::default();
    flags.env = vec!["X=2".into()];
    flags.labels = vec!["run=yes".into()];
    let opts = flags.clone().parse().unwrap();
    let config = ContainerConfig::new(ID, "img", Some(&img), &opts, &[]).unwrap();
    assert_eq!(config.labels.len(), 2);
    assert_eq!(config.stop_signal_number(), libc::SIGQUIT);
    let spec = build(flags, Some(&img), &[]).unwrap();
    let process = spec.process().as_ref().unwrap();
    assert_eq!(
        process.args().as_ref().unwrap(),
        &["/entry", "a", "b"].map(String::from).to_vec()
    );
    assert_eq!(process.cwd(), Path::new("/work"));
    assert_eq!((process.user().uid(), process.user().gid()), (1000, 1000));
    assert_eq!(
        env_of(&spec),
        ["PATH=/img/bin", "HOSTNAME=0123456789ab", "X=2", "HOME=/"]
            .map(String::from)
            .to_vec()
    );
}

#[test]
fn overrides() {
    let mut flags = RunFlags::default();
    flags.hostname = Some("box".into());
    flags.tty = true;
    flags.workdir = Some("/tmp".into());
    flags.read_only = true;
    flags.network = Some("host".into());
    flags.memory = Some("64m".into());
    flags.cpus = Some("0.5".into());
    flags.pids_limit = Some("20".into());
    flags.ulimits = vec!["nofile=100:200".into()];
    flags.security_opt = vec!["no-new-privileges".into()];
    flags.cap_drop = vec!["ALL".into()];
    flags.cap_add = vec!["net_admin".into()];
    let spec = build(flags, None, &["true"]).unwrap();
    let process = spec.process().as_ref().unwrap();
    assert_eq!(process.terminal(), Some(true));
    assert!(env_of(&spec).contains(&"TERM=xterm".to_string()));
    assert!(env_of(&spec).contains(&"HOSTNAME=box".to_string()));
    assert_eq!(process.no_new_privileges(), Some(true));
    let bounding = process
        .capabilities()
        .as_ref()
        .unwrap()
        .bounding()
        .clone()
        .unwrap();
    assert_eq!(
        bounding.into_iter().collect::<Vec<_>>(),
        vec![Capability::NetAdmin]
    );
    let rl = &process.rlimits().as_ref().unwrap()[0];
    assert_eq!((rl.soft(), rl.hard()), (100, 200));
    assert_eq!(spec.root().as_ref().unwrap().readonly(), Some(true));
    let linux = spec.linux().as_ref().unwrap();
    assert!(!linux
        .namespaces()
        .as_ref()
        .unwrap()
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::Network));
    let res = linux.resources().as_ref().unwrap();
    assert_eq!(res.memory().as_ref().unwrap().limit(), Some(64 << 20));
    let cpu = res.cpu().as_ref().unwrap();
    assert_eq!((cpu.quota(), cpu.period()), (Some(50_000), Some(100_000)));
    assert_eq!(res.pids().as_ref().unwrap().limit(), 20);
}

#[test]
fn privileged_and_unconfined() {
    let mut flags = RunFlags::default();
    flags.privileged = true;
    let spec = build(flags, None, &["sh"]).unwrap();
    let linux = spec.linux().as_ref().unwrap();
    assert!(linux.masked_paths().as_ref().is_none_or(|m| m.is_empty()));
    assert!(linux.readonly_paths().as_ref().is_none_or(|m| m.is_empty()));
    assert!(linux.seccomp().is_none());
    let bounding = spec
        .process()
        .as_ref()
        .unwrap()
        .capabilities()
        .as_ref()
        .unwrap()
        .bounding()
        .clone()
        .unwrap();
    assert_eq!(bounding.len(), all_caps().len());
    let sys = &spec.mounts().as_ref().unwrap()[3];
    assert!(sys.options().as_ref().unwrap().contains(&"rw".to_string()));

    let mut flags = RunFlags::default();
    flags.security_opt = vec!["seccomp=unconfined".into()];
    let spec = build(flags, None, &["sh"]).unwrap();
    assert!(spec.linux().as_ref().unwrap().seccomp().is_none());
    assert!(spec.linux().as_ref().unwrap().masked_paths().is_some());
}

#[test]
fn init_wraps_the_command() {
    let mut flags = RunFlags::default();
    flags.init = true;
    let spec = build(flags, None, &["sleep", "1"]).unwrap();
    assert_eq!(
        spec.process().as_ref().unwrap().args().as_ref().unwrap(),
        &[INIT_PATH, "--", "sleep", "1"].map(String::from).to_vec()
    );
    let last = spec.mounts().as_ref().unwrap().last().unwrap().clone();
    assert_eq!(last.destination(), Path::new(INIT_PATH));
    assert_eq!(last.source().as_deref(), Some(Path::new("/usr/bin/berth")));
}

#[test]
fn errors() {
    assert_eq!(
        build(RunFlags::default(), None, &[])
            .unwrap_err()
            .to_string(),
        "No command specified"
    );
    let mut flags = RunFlags::default();
    flags.workdir = Some("rel".into());
    assert_eq!(
        build(flags, None, &["sh"]).unwrap_err().to_string(),
        "the working directory 'rel' is invalid, it needs to be an absolute path"
    );
    let mut flags = RunFlags::default();
    flags.cap_drop = vec!["bogus".into()];
    assert_eq!(
        build(flags, None, &["sh"]).unwrap_err().to_string(),
        "invalid CapDrop: unknown capability: \"CAP_BOGUS\""
    );
}
