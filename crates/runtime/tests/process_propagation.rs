//! Bind propagation options (`rshared`, `rslave`, default) as seen inside
//! a running container, and what crosses between host and container.

#[path = "process_common.rs"]
mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use common::{run, spec, Bundle};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use oci_spec::runtime::{Capability, LinuxCapabilitiesBuilder, MountBuilder, Spec};

/// The tests make host mount points: one at a time keeps each one's view
/// of the host mount table its own.
static SERIAL: Mutex<()> = Mutex::new(());

/// A temp dir with `src/` made a shared mount point on the host (as
/// Docker needs for rshared); every mount under it is detached on drop.
struct SharedSource {
    bundle: Bundle,
    src: PathBuf,
}

impl SharedSource {
    fn new() -> Self {
        let bundle = Bundle::busybox();
        let src = bundle.path().join("src");
        fs::create_dir_all(&src).unwrap();
        let none = None::<&str>;
        mount(Some(&src), &src, none, MsFlags::MS_BIND, none).unwrap();
        let guard = SharedSource { bundle, src };
        mount(none, &guard.src, none, MsFlags::MS_SHARED, none).unwrap();
        guard
    }
}

impl Drop for SharedSource {
    fn drop(&mut self) {
        // MNT_DETACH takes the submounts the test added with it.
        let _ = umount2(&self.src, MntFlags::MNT_DETACH);
    }
}

/// `s` with a bind of `src` on `/m` with `opts` and, if given, the root
/// propagation Docker sets for it.
fn with_bind(mut s: Spec, src: &Path, opts: &[&str], root: Option<&str>) -> Spec {
    let mut mounts = s.mounts().clone().unwrap();
    mounts.push(
        MountBuilder::default()
            .destination("/m")
            .typ("bind")
            .source(src)
            .options(opts.iter().map(|o| o.to_string()).collect::<Vec<_>>())
            .build()
            .unwrap(),
    );
    s.set_mounts(Some(mounts));
    if let Some(r) = root {
        let mut linux = s.linux().clone().unwrap();
        linux.set_rootfs_propagation(Some(r.into()));
        s.set_linux(Some(linux));
    }
    s
}

/// Lets the container mount (CAP_SYS_ADMIN in every set).
fn with_sys_admin(s: &mut Spec) {
    let mut p = s.process().clone().unwrap();
    let caps: oci_spec::runtime::Capabilities = [Capability::SysAdmin].into_iter().collect();
    p.set_capabilities(Some(
        LinuxCapabilitiesBuilder::default()
            .bounding(caps.clone())
            .effective(caps.clone())
            .permitted(caps.clone())
            .inheritable(caps.clone())
            .ambient(caps)
            .build()
            .unwrap(),
    ));
    s.set_process(Some(p));
}

/// The optional fields of `/m`'s line in the container's mountinfo
/// printed first in `out`.
fn tags_of_m(out: &str) -> String {
    let line = out
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/m"))
        .unwrap_or_else(|| panic!("no /m in {out}"));
    let fields: Vec<&str> = line.split(" - ").next().unwrap().split(' ').collect();
    fields[6..].join(" ")
}

/// Prints `/m`'s mountinfo, signals the host with `/m/started`, waits up
/// to 10 s for the host's mount on `src/sub` to show, prints what it holds.
const WAIT_FOR_HOST_MOUNT: &str = "grep ' /m ' /proc/self/mountinfo; touch /m/started; \
     i=0; while [ ! -e /m/sub/hello ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; \
     cat /m/sub/hello 2>/dev/null || echo absent";

/// Once the container has started, mounts a tmpfs holding `hello` on
/// `src/sub` on the host.
fn host_mounts_after_start(src: &Path) -> thread::JoinHandle<()> {
    let src = src.to_path_buf();
    fs::create_dir_all(src.join("sub")).unwrap();
    thread::spawn(move || {
        let start = Instant::now();
        while !src.join("started").exists() {
            assert!(start.elapsed() < Duration::from_secs(20), "never started");
            thread::sleep(Duration::from_millis(20));
        }
        let sub = src.join("sub");
        mount(
            Some("tmpfs"),
            &sub,
            Some("tmpfs"),
            MsFlags::empty(),
            None::<&str>,
        )
        .unwrap();
        fs::write(sub.join("hello"), "from host\n").unwrap();
    })
}

/// Runs the waiting container with the bind `opts` and root propagation
/// `root`; gives `/m`'s tags and whether the host's later mount showed.
fn run_waiting(opts: &[&str], root: Option<&str>) -> (String, bool) {
    let g = SharedSource::new();
    let s = with_bind(spec(&["sh", "-c", WAIT_FOR_HOST_MOUNT]), &g.src, opts, root);
    let host = host_mounts_after_start(&g.src);
    let (code, out, err) = run(&g.bundle, &s, None).ok();
    host.join().unwrap();
    assert_eq!(code, 0, "stderr: {err}");
    (tags_of_m(&out), out.contains("from host"))
}

#[test]
fn rshared_bind_is_shared_and_receives_host_mounts() {
    let _l = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (tags, seen) = run_waiting(&["rbind", "rshared"], Some("shared"));
    assert!(tags.contains("shared:"), "{tags}");
    assert!(seen, "host mount below an rshared bind did not show");
}

#[test]
fn rslave_bind_is_slave_and_receives_host_mounts() {
    let _l = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (tags, seen) = run_waiting(&["rbind", "rslave"], Some("rslave"));
    assert!(
        tags.contains("master:") && !tags.contains("shared:"),
        "{tags}"
    );
    assert!(seen, "host mount below an rslave bind did not show");
}

#[test]
fn rshared_bind_without_root_propagation_is_still_shared() {
    let _l = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let g = SharedSource::new();
    let s = with_bind(
        spec(&["grep", " /m ", "/proc/self/mountinfo"]),
        &g.src,
        &["rbind", "rshared"],
        None,
    );
    let (code, out, err) = run(&g.bundle, &s, None).ok();
    assert_eq!(code, 0, "stderr: {err}");
    assert!(tags_of_m(&out).contains("shared:"), "{out}");
}

#[test]
fn default_bind_is_private_both_ways() {
    let _l = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let g = SharedSource::new();
    fs::create_dir_all(g.src.join("inner")).unwrap();
    let mut s = with_bind(
        spec(&[
            "sh",
            "-c",
            &format!("mount -t tmpfs inside /m/inner && {WAIT_FOR_HOST_MOUNT}"),
        ]),
        &g.src,
        &["rbind"],
        None,
    );
    with_sys_admin(&mut s);
    let host = host_mounts_after_start(&g.src);
    let (code, out, err) = run(&g.bundle, &s, None).ok();
    host.join().unwrap();
    assert_eq!(code, 0, "stderr: {err}");
    let tags = tags_of_m(&out);
    assert!(
        !tags.contains("shared:") && !tags.contains("master:"),
        "{tags}"
    );
    assert!(
        out.contains("absent"),
        "host mount crossed a private bind: {out}"
    );
    // The container's tmpfs never reached the host's shared source.
    let inner = format!(" {} ", g.src.join("inner").display());
    let host_table = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!host_table.contains(&inner), "{host_table}");
}

#[test]
fn mount_inside_rshared_bind_reaches_shared_host_source() {
    // Docker's documented rshared behaviour, on a source this test made
    // shared itself (the guard detaches whatever lands below it).
    let _l = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let g = SharedSource::new();
    fs::create_dir_all(g.src.join("inner")).unwrap();
    let mut s = with_bind(
        spec(&[
            "sh",
            "-c",
            "mount -t tmpfs inside /m/inner && touch /m/inner/made",
        ]),
        &g.src,
        &["rbind", "rshared"],
        Some("shared"),
    );
    with_sys_admin(&mut s);
    let (code, _out, err) = run(&g.bundle, &s, None).ok();
    assert_eq!(code, 0, "stderr: {err}");
    assert!(
        g.src.join("inner/made").exists(),
        "container mount not on host"
    );
}
