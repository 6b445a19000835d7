//! The init starts inside its cgroup (`clone3` with `CLONE_INTO_CGROUP`):
//! the cgroup2 `cgroup.procs` of the container is never written, on this
//! hybrid host and in the pure cgroup2 view that bench/runtime.sh makes
//! (a write would move the task, which waits for an RCU grace period).
//! Without a cgroup namespace the container's cgroup2 mount is one bind
//! of its own directory (a fresh cgroup2 mount waits for a grace period
//! too, and left the host's whole tree underneath the bind).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use common::{stderr, Env, BIN};
use rustix::fs::inotify;

/// Both tests enable controllers at the shared cgroup2 root.
static SERIAL: Mutex<()> = Mutex::new(());

/// Where the host's cgroup2 hierarchy is: `/sys/fs/cgroup/unified` on a
/// hybrid host, `/sys/fs/cgroup` on a pure v2 one.
fn unified_root() -> PathBuf {
    let hybrid = Path::new("/sys/fs/cgroup/unified");
    if hybrid.join("cgroup.procs").exists() {
        hybrid.into()
    } else {
        PathBuf::from("/sys/fs/cgroup")
    }
}

/// Removes the cgroup2 directories the test made in advance (leaf first)
/// and restores the root's `cgroup.subtree_control`, even on failure.
struct Precreated {
    dirs: Vec<PathBuf>,
    root: PathBuf,
    root_subtree: String,
}

impl Drop for Precreated {
    fn drop(&mut self) {
        for d in &self.dirs {
            let _ = fs::write(d.join("cgroup.kill"), "1");
            for _ in 0..100 {
                if fs::remove_dir(d).is_ok() || !d.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        let now = fs::read_to_string(self.root.join("cgroup.subtree_control")).unwrap_or_default();
        for c in now.split_whitespace() {
            if !self.root_subtree.split_whitespace().any(|b| b == c) {
                let _ = fs::write(self.root.join("cgroup.subtree_control"), format!("-{c}"));
            }
        }
    }
}

/// Runs `cat /proc/self/cgroup` in a container while watching its
/// cgroup2 `cgroup.procs` for writes; `pure_v2` runs berth-runtime in a
/// private mount namespace where /sys/fs/cgroup is cgroup2 only.
fn run_watched(tag: &str, pure_v2: bool, join_ipc: bool) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let env = Env::new(
        tag,
        &[
            "sh",
            "-c",
            "cat /proc/self/cgroup; grep ' /sys/fs/cgroup[/ ]' /proc/self/mountinfo",
        ],
    );
    if join_ipc {
        // Joining a namespace takes the double-fork path: the intermediate
        // child clones the init into the cgroup after its setns.
        env.edit_config(|c| {
            let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
            ns.retain(|n| n["type"] != "ipc");
            let own = format!("/proc/{}/ns/ipc", std::process::id());
            ns.push(serde_json::json!({"type": "ipc", "path": own}));
        });
    }
    let cg = env.cgroups_path();
    let root = unified_root();
    let dir = root.join(cg.trim_start_matches('/'));
    let root_subtree = fs::read_to_string(root.join("cgroup.subtree_control")).unwrap();
    let _guard = Precreated {
        dirs: vec![dir.clone(), dir.parent().unwrap().to_path_buf()],
        root: root.clone(),
        root_subtree,
    };
    // The cgroup must exist to be watched: create() accepts an existing one.
    fs::create_dir_all(&dir).unwrap();
    let ino = inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)
        .expect("inotify_init1");
    inotify::add_watch(&ino, dir.join("cgroup.procs"), inotify::WatchFlags::MODIFY)
        .expect("watch cgroup.procs");

    let out: Output = if pure_v2 {
        Command::new("unshare")
            .args(["-m", "sh", "-c"])
            .arg(
                "mount --make-rprivate / && umount -R /sys/fs/cgroup && \
                 mount -t cgroup2 none /sys/fs/cgroup && exec \"$@\"",
            )
            .args(["sh", BIN, "--root"])
            .arg(&env.root)
            .args(["run", "--bundle"])
            .arg(&env.bundle)
            .arg(tag)
            .output()
            .unwrap()
    } else {
        env.cmd()
            .args(["run", "--bundle"])
            .arg(&env.bundle)
            .arg(tag)
            .output()
            .unwrap()
    };
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    // The spec has no cgroup namespace: the full path shows.
    assert!(
        text.lines().any(|l| l == format!("0::{cg}")),
        "init not in {cg}: {text}"
    );

    // mountinfo: `id parent dev root mountpoint opts ... - type src sopts`.
    let cg2: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split(' ').collect::<Vec<_>>())
        .filter(|f| f.len() > 6 && f.contains(&"cgroup2"))
        .collect();
    assert_eq!(cg2.len(), 1, "one cgroup2 mount: {text}");
    assert_eq!(
        cg2[0][3], cg,
        "the mount shows the container's cgroup: {text}"
    );
    assert!(
        cg2[0][5].split(',').any(|o| o == "ro"),
        "read-only as the spec says: {text}"
    );

    // A write to cgroup.procs queues IN_MODIFY before write(2) returns;
    // the runtime has exited, so any such event is already there.
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 1024];
    let mut reader = inotify::Reader::new(&ino, &mut buf);
    match reader.next() {
        Err(e) if e == rustix::io::Errno::AGAIN => {}
        Ok(ev) => panic!("cgroup.procs of {cg} was written ({:?})", ev.events()),
        Err(e) => panic!("read inotify: {e}"),
    }
    env.assert_clean(tag);
}

#[test]
fn init_is_cloned_into_its_cgroup2_cgroup_on_the_host() {
    run_watched("clone-into-host", false, false);
}

#[test]
fn init_is_cloned_into_its_cgroup_in_a_pure_cgroup2_view() {
    run_watched("clone-into-v2", true, false);
}

#[test]
fn init_is_cloned_into_its_cgroup_after_joining_a_namespace() {
    run_watched("clone-into-join", true, true);
}

#[test]
fn exec_is_cloned_into_the_containers_cgroup() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let id = "clone-into-exec";
    let mut env = Env::new(id, &["sleep", "60"]);
    let cg = env.cgroups_path();
    let dir = unified_root().join(cg.trim_start_matches('/'));
    let (ok, err) = env.create(id, &[]);
    assert!(ok, "create: {err}");
    let out = env.run(&["start", id]);
    assert!(out.status.success(), "start: {}", stderr(&out));
    // Watched from here on: the init is placed, only the exec is left.
    let ino = inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)
        .expect("inotify_init1");
    inotify::add_watch(&ino, dir.join("cgroup.procs"), inotify::WatchFlags::MODIFY)
        .expect("watch cgroup.procs");
    let out = env.run(&["exec", id, "cat", "/proc/self/cgroup"]);
    assert!(out.status.success(), "exec: {}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines().any(|l| l == format!("0::{cg}")),
        "exec not in {cg}: {text}"
    );
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 1024];
    let mut reader = inotify::Reader::new(&ino, &mut buf);
    match reader.next() {
        Err(e) if e == rustix::io::Errno::AGAIN => {}
        Ok(ev) => panic!("cgroup.procs of {cg} was written ({:?})", ev.events()),
        Err(e) => panic!("read inotify: {e}"),
    }
    let out = env.run(&["delete", "--force", id]);
    assert!(out.status.success(), "delete: {}", stderr(&out));
    env.assert_clean(id);
}
