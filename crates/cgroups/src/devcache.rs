//! Attaching the device filter to a container's cgroup without loading it
//! anew each time: loaded programs are kept attached to one empty cgroup,
//! the cache, whence the next container with the same rules takes its own
//! reference by id.
//!
//! Loading costs the verifier and the JIT (0.15-0.3 ms for Docker's rules
//! on a 2-core VM); taking a cached program costs four bpf(2) calls of a
//! few µs each. The container's
//! cgroup gets exactly what a fresh load would give it, its own
//! attachment of a program whose instructions, as the kernel holds them,
//! are ours to the bit; anything else in the cache is passed over, and
//! any failure of the cache falls back to loading. The cache cgroup holds
//! no process, so its programs filter nothing; removing it only empties
//! the cache. Without bpffs (not mounted on every host) an attachment is
//! the one way to keep a program alive after its loader exits.

use std::io::ErrorKind;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::fcntl::{Flock, FlockArg, OFlag};
use nix::sys::stat::Mode;
use oci_spec::runtime::LinuxDeviceCgroup;

use crate::bpf::{self, BPF_PROG_TYPE_CGROUP_DEVICE, MAX_PROGS};
use crate::devfilter::{device_filter, Insn};
use crate::error::CgroupError;

/// The cache's name at the root of the cgroup2 hierarchy.
pub const CACHE_NAME: &str = "berth-device-filters";

fn open_dir(dir: &Path) -> std::io::Result<OwnedFd> {
    nix::fcntl::open(
        dir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(std::io::Error::from)
}

/// Compiles `rules` and attaches the program to cgroup `dir`, taking it
/// from cache cgroup `cache` when it is there, and putting it there after
/// a load otherwise.
pub fn attach_device_filter(
    dir: &Path,
    rules: &[LinuxDeviceCgroup],
    cache: Option<&Path>,
) -> Result<(), CgroupError> {
    let prog = device_filter(rules);
    let cgroup = open_dir(dir).map_err(|source| CgroupError::Read {
        path: dir.into(),
        source,
    })?;
    // A cached program the kernel will not attach here (one program is
    // attached to a cgroup at most once: the same rules applied twice, by
    // `update` or a cgroup two containers share) falls back to a fresh
    // load, which always attaches next to the others, as before the cache.
    let cached = cache
        .and_then(|c| find(c, &prog))
        .filter(|fd| bpf::attach(cgroup.as_fd(), fd.as_fd()).is_ok());
    let (prog_fd, loaded) = match cached {
        Some(fd) => (fd, false),
        None => {
            let fd = load(dir, &prog)?;
            // The attachment keeps the program alive; our fds may close.
            bpf::attach(cgroup.as_fd(), fd.as_fd()).map_err(|source| CgroupError::BpfAttach {
                path: dir.into(),
                source,
            })?;
            (fd, true)
        }
    };
    if let (true, Some(cache)) = (loaded, cache) {
        // Best effort: a failure costs the next container a load.
        let _ = store(cache, &prog, &prog_fd);
    }
    Ok(())
}

/// BPF_PROG_LOAD, explaining a refusal with the verifier's log.
fn load(dir: &Path, prog: &[Insn]) -> Result<OwnedFd, CgroupError> {
    bpf::load(prog, None).map_err(|source| {
        // Load again with the log only to explain the refusal: a log too
        // small for a good program would itself fail the load.
        let mut log = vec![0u8; 1 << 16];
        let verifier = match bpf::load(prog, Some((1, &mut log))) {
            Ok(_) => String::new(),
            Err(_) => String::from_utf8_lossy(&log)
                .trim_end_matches('\0')
                .trim()
                .to_string(),
        };
        CgroupError::BpfLoad {
            path: dir.into(),
            verifier,
            source,
        }
    })
}

/// Whether loaded program `fd` is `prog`: a device program whose
/// instructions are ours, all of them.
fn is(fd: &OwnedFd, prog: &[Insn]) -> bool {
    match bpf::inspect(fd.as_fd(), prog.len()) {
        Ok(l) => {
            l.prog_type == BPF_PROG_TYPE_CGROUP_DEVICE
                && l.len == prog.len()
                && l.insns.as_deref() == Some(prog)
        }
        Err(_) => false,
    }
}

/// A new fd of `prog` if cache cgroup `cache` holds it.
fn find(cache: &Path, prog: &[Insn]) -> Option<OwnedFd> {
    let dir = open_dir(cache).ok()?;
    holding(&bpf::query(dir.as_fd()).ok()?, prog)
}

/// A new fd of the program among loaded programs `ids` that is `prog`.
fn holding(ids: &[u32], prog: &[Insn]) -> Option<OwnedFd> {
    ids.iter()
        .filter_map(|&id| bpf::prog_by_id(id).ok())
        .find(|fd| is(fd, prog))
}

/// Attaches loaded program `fd` (for `prog`) to cache cgroup `cache`,
/// making the cache if need be. Starts racing to store the same program
/// take turns under a lock on the cache directory, so it is held once;
/// a full cache gives up its oldest program.
fn store(cache: &Path, prog: &[Insn], fd: &OwnedFd) -> std::io::Result<()> {
    if !is(fd, prog) {
        // The kernel rewrote it: it would never be found.
        return Ok(());
    }
    match std::fs::create_dir(cache) {
        Err(e) if e.kind() != ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    let dir = Flock::lock(open_dir(cache)?, FlockArg::LockExclusive)
        .map_err(|(_, e)| std::io::Error::from(e))?;
    let ids = bpf::query(dir.as_fd())?;
    if holding(&ids, prog).is_some() {
        return Ok(());
    }
    if ids.len() >= MAX_PROGS {
        let oldest = bpf::prog_by_id(ids[0])?;
        bpf::detach(dir.as_fd(), oldest.as_fd())?;
    }
    bpf::attach(dir.as_fd(), fd.as_fd())
    // Dropping `dir` releases the lock.
}

/// What the kernel's verifier reported for a device filter program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifierStats {
    /// Instructions in the program.
    pub insns: usize,
    /// Instructions the verifier walked, revisits included.
    pub processed: u64,
    /// Verifier states it kept at once, at most.
    pub peak_states: u64,
}

/// Loads the filter for `rules` once, attached nowhere, and returns the
/// verifier's statistics: a measure of what each load costs, and a check
/// that the program's shape keeps the verifier's walk short.
pub fn device_filter_stats(rules: &[LinuxDeviceCgroup]) -> Result<VerifierStats, CgroupError> {
    let prog = device_filter(rules);
    let mut log = vec![0u8; 4096];
    let res = bpf::load(&prog, Some((bpf::BPF_LOG_STATS, &mut log)));
    let text = String::from_utf8_lossy(&log);
    let text = text.trim_end_matches('\0');
    res.map_err(|source| CgroupError::BpfLoad {
        path: "(none)".into(),
        verifier: text.trim().to_string(),
        source,
    })?;
    // "processed 268 insns (limit 1000000) max_states_per_insn 0
    // total_states 24 peak_states 24 mark_read 0"
    let field = |key: &str| -> Option<u64> {
        let mut words = text.split_whitespace();
        words.find(|w| *w == key)?;
        words.next()?.parse().ok()
    };
    match (field("processed"), field("peak_states")) {
        (Some(processed), Some(peak_states)) => Ok(VerifierStats {
            insns: prog.len(),
            processed,
            peak_states,
        }),
        _ => Err(CgroupError::BpfLoad {
            path: "(none)".into(),
            verifier: text.trim().to_string(),
            source: std::io::Error::new(ErrorKind::InvalidData, "no statistics in the log"),
        }),
    }
}

#[cfg(test)]
mod tests {
    //! Privileged: each test makes its own cgroups in the host's cgroup2
    //! hierarchy (`/sys/fs/cgroup/unified` on a hybrid host) and removes
    //! them, with the processes it put there, when it ends.

    use std::io::{Read, Write};
    use std::path::PathBuf;
    use std::process::{Command, Stdio};
    use std::sync::atomic::{AtomicU32, Ordering};

    use oci_spec::runtime::LinuxDeviceType;

    use super::*;
    use crate::devfilter::tests::rule;
    use crate::mountinfo::Layout;

    /// Docker's default rules, as the engine's spec has them.
    fn docker() -> Vec<LinuxDeviceCgroup> {
        crate::devfilter::tests::docker()
    }

    /// The runtime's list for a spec that has Docker's rules: deny all,
    /// the spec's rules, then the runtime's default nodes.
    fn runtime_list() -> Vec<LinuxDeviceCgroup> {
        let mut rules = docker();
        rules.extend(docker()[1..11].iter().cloned());
        rules
    }

    /// Deny all; `a 1:* r`; `c 1:3 rwm`.
    fn narrow() -> Vec<LinuxDeviceCgroup> {
        vec![
            rule(false, None, None, None, "rwm"),
            rule(true, Some(LinuxDeviceType::A), Some(1), None, "r"),
            rule(true, Some(LinuxDeviceType::C), Some(1), Some(3), "rwm"),
        ]
    }

    /// A cgroup2 directory of this test; removed (processes killed first)
    /// on drop, children first.
    struct TestCgroup(PathBuf);

    impl TestCgroup {
        fn new(tag: &str) -> Self {
            static N: AtomicU32 = AtomicU32::new(0);
            let root = match Layout::detect().expect("cgroup layout") {
                Layout::Unified(m) => m.mount_point,
                Layout::Legacy { unified, .. } => unified.expect("a cgroup2 mount").mount_point,
            };
            let n = N.fetch_add(1, Ordering::Relaxed);
            let dir = root.join(format!("berth-test-devcg-{tag}-{}-{n}", std::process::id()));
            std::fs::create_dir(&dir).unwrap();
            TestCgroup(dir)
        }

        fn child(&self, name: &str) -> PathBuf {
            let d = self.0.join(name);
            std::fs::create_dir(&d).unwrap();
            d
        }
    }

    impl Drop for TestCgroup {
        fn drop(&mut self) {
            let _ = std::fs::write(self.0.join("cgroup.kill"), "1");
            let children: Vec<PathBuf> = std::fs::read_dir(&self.0)
                .map(|rd| {
                    rd.flatten()
                        .map(|e| e.path())
                        .filter(|p| p.is_dir())
                        .collect()
                })
                .unwrap_or_default();
            for d in children.iter().chain([&self.0]) {
                for _ in 0..200 {
                    if std::fs::remove_dir(d).is_ok() || !d.exists() {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
            }
        }
    }

    /// Device accesses, one word each: open for reading and writing,
    /// mknod of a char and a block node.
    const SCRIPT: &str = r#"
        t() { if "$@" 2>/dev/null; then echo "$1 $2 ok"; else echo "$1 $2 denied"; fi; }
        rd() { (exec 3<"$1"); }
        wr() { (exec 3>"$1"); }
        t rd /dev/zero; t wr /dev/zero; t wr /dev/null; t rd /dev/kmsg
        t rd /dev/loop-control
        t mknod "$D/c1-3" c 1 3; t mknod "$D/c1-11" c 1 11; t mknod "$D/b7-0" b 7 0
    "#;

    /// What [`SCRIPT`] prints under [`docker`].
    const DOCKER_EXPECTED: &str = "rd /dev/zero ok\nwr /dev/zero ok\nwr /dev/null ok\n\
        rd /dev/kmsg denied\nrd /dev/loop-control denied\n\
        mknod D/c1-3 ok\nmknod D/c1-11 ok\nmknod D/b7-0 ok\n";

    /// What [`SCRIPT`] prints under [`narrow`].
    const NARROW_EXPECTED: &str = "rd /dev/zero ok\nwr /dev/zero denied\nwr /dev/null ok\n\
        rd /dev/kmsg ok\nrd /dev/loop-control denied\n\
        mknod D/c1-3 ok\nmknod D/c1-11 denied\nmknod D/b7-0 denied\n";

    /// Runs [`SCRIPT`] in cgroup `dir` and returns what it printed.
    fn accesses_in(dir: &Path) -> String {
        let tmp = tempfile::tempdir().unwrap();
        let mut child = Command::new("/bin/sh")
            .args(["-c", &format!("read _gate; {SCRIPT}")])
            .env("D", tmp.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let placed = std::fs::write(dir.join("cgroup.procs"), child.id().to_string());
        if placed.is_err() {
            let _ = child.kill();
        }
        let mut stdin = child.stdin.take().unwrap();
        let _ = stdin.write_all(b"go\n");
        drop(stdin);
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        child.wait().unwrap();
        placed.unwrap();
        out.replace(&tmp.path().display().to_string(), "D")
    }

    fn ids(dir: &Path) -> Vec<u32> {
        bpf::query(open_dir(dir).unwrap().as_fd()).unwrap()
    }

    #[test]
    fn verifier_walks_each_instruction_about_once() {
        for (name, rules) in [("docker", docker()), ("runtime", runtime_list())] {
            let s = device_filter_stats(&rules).unwrap();
            eprintln!("{name}: {s:?}");
            // Before the per-block reloads Docker's list took 380 steps
            // for 96 instructions, the runtime's 918 for 171: every block
            // was walked once per way of failing the one above. Now 197
            // for 131 and 386 for 241: the verifier keeps states only
            // every few jumps, so a second path into a block walks a few
            // instructions before it meets one.
            assert!(s.processed <= 2 * s.insns as u64, "{name}: {s:?}");
            assert!(s.peak_states <= rules.len() as u64 * 3, "{name}: {s:?}");
        }
    }

    #[test]
    fn same_rules_applied_twice_to_one_cgroup() {
        // `update` with unchanged device rules, or two containers sharing
        // a cgroup: the cached program is attached here already and the
        // kernel refuses it a second time, so a fresh one is loaded.
        let t = TestCgroup::new("twice");
        let cache = t.0.join("cache");
        let a = t.child("a");
        attach_device_filter(&a, &narrow(), Some(&cache)).unwrap();
        attach_device_filter(&a, &narrow(), Some(&cache)).unwrap();
        let attached = ids(&a);
        assert_eq!(attached.len(), 2, "{attached:?}");
        assert_ne!(attached[0], attached[1]);
        assert_eq!(accesses_in(&a), NARROW_EXPECTED);
    }

    #[test]
    fn kernel_keeps_the_program_as_given() {
        let privileged = vec![
            rule(false, None, None, None, "rwm"),
            rule(true, None, None, None, "rwm"),
        ];
        for rules in [docker(), runtime_list(), narrow(), privileged, vec![]] {
            let prog = device_filter(&rules);
            let fd = bpf::load(&prog, None).unwrap();
            assert!(
                is(&fd, &prog),
                "the kernel rewrote the filter for {rules:?}"
            );
            assert!(!is(&fd, &prog[1..]));
        }
    }

    #[test]
    fn policy_holds_when_loaded_and_when_cached() {
        let t = TestCgroup::new("policy");
        let cache = t.0.join("cache");
        for (rules, expected) in [(docker(), DOCKER_EXPECTED), (narrow(), NARROW_EXPECTED)] {
            let a = t.child(&format!("a{}", rules.len()));
            let b = t.child(&format!("b{}", rules.len()));
            attach_device_filter(&a, &rules, Some(&cache)).unwrap();
            attach_device_filter(&b, &rules, Some(&cache)).unwrap();
            // b took the program a loaded, from the cache.
            let (ia, ib) = (ids(&a), ids(&b));
            assert_eq!(ia.len(), 1);
            assert_eq!(ia, ib, "b loaded its own program");
            assert!(ids(&cache).contains(&ia[0]));
            assert_eq!(accesses_in(&a), expected, "loaded, {rules:?}");
            assert_eq!(accesses_in(&b), expected, "cached, {rules:?}");
        }
        // One program per rule list.
        assert_eq!(ids(&cache).len(), 2);
        // Without a cache: a program of its own.
        let c = t.child("c");
        attach_device_filter(&c, &docker(), None).unwrap();
        assert!(!ids(&t.0.join(format!("a{}", docker().len()))).contains(&ids(&c)[0]));
        assert_eq!(accesses_in(&c), DOCKER_EXPECTED);
    }

    #[test]
    fn foreign_programs_in_the_cache_are_passed_over() {
        let t = TestCgroup::new("foreign");
        let cache = t.child("cache");
        // An allow-all program, and one for Docker's list whose deny-all
        // leaves out mknod: same length, one instruction off.
        let allow_all = device_filter(&[]);
        let mut rules = docker();
        rules[0] = rule(false, None, None, None, "rw");
        let near = device_filter(&rules);
        assert_eq!(near.len(), device_filter(&docker()).len());
        let mut planted = Vec::new();
        for p in [&allow_all, &near] {
            let fd = bpf::load(p, None).unwrap();
            bpf::attach(open_dir(&cache).unwrap().as_fd(), fd.as_fd()).unwrap();
            planted.extend(ids(&cache).last().copied());
        }
        let a = t.child("a");
        attach_device_filter(&a, &docker(), Some(&cache)).unwrap();
        let ia = ids(&a);
        assert_eq!(ia.len(), 1);
        assert!(!planted.contains(&ia[0]), "a foreign program was taken");
        assert_eq!(accesses_in(&a), DOCKER_EXPECTED);
        // Ours joined the cache, next to the others.
        assert_eq!(ids(&cache), [planted.clone(), ia.clone()].concat());
    }

    #[test]
    fn missing_cache_is_made_and_an_unusable_one_falls_back_to_loading() {
        let t = TestCgroup::new("nocache");
        let cache = t.0.join("cache");
        let a = t.child("a");
        attach_device_filter(&a, &narrow(), Some(&cache)).unwrap();
        assert_eq!(ids(&cache), ids(&a), "cache made and filled");
        // A cache that cannot be made (no such parent): loads, works.
        let b = t.child("b");
        let nowhere = t.0.join("no/such/cache");
        attach_device_filter(&b, &narrow(), Some(&nowhere)).unwrap();
        assert_ne!(ids(&b), ids(&a));
        assert_eq!(accesses_in(&b), NARROW_EXPECTED);
        // A cache that vanished after the first container: loads again.
        std::fs::remove_dir(&cache).unwrap();
        let c = t.child("c");
        attach_device_filter(&c, &narrow(), Some(&cache)).unwrap();
        assert_eq!(accesses_in(&c), NARROW_EXPECTED);
        assert_eq!(ids(&cache), ids(&c));
    }

    #[test]
    fn a_full_cache_gives_up_its_oldest_program() {
        let t = TestCgroup::new("full");
        let cache = t.child("cache");
        let dir = open_dir(&cache).unwrap();
        // Fill the cache with programs for lists `c 1:N rwm`.
        for n in 0..MAX_PROGS as i64 {
            let rules = [rule(
                true,
                Some(LinuxDeviceType::C),
                Some(1),
                Some(n),
                "rwm",
            )];
            let fd = bpf::load(&device_filter(&rules), None).unwrap();
            bpf::attach(dir.as_fd(), fd.as_fd()).unwrap();
        }
        let before = ids(&cache);
        assert_eq!(before.len(), MAX_PROGS);
        let a = t.child("a");
        attach_device_filter(&a, &docker(), Some(&cache)).unwrap();
        let after = ids(&cache);
        assert_eq!(after.len(), MAX_PROGS);
        assert!(!after.contains(&before[0]));
        assert_eq!(after.last(), ids(&a).first());
    }
}
