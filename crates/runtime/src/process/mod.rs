//! The container process's own attributes (DESIGN.md step 3.7): rlimits,
//! oom score, no_new_privs, capabilities, user and groups, umask, cwd,
//! env, seccomp, and finally `execve` of `process.args`.
//!
//! `process.apparmorProfile` and `process.selinuxLabel` are ignored: the
//! hosts berth targets so far run neither LSM (no /sys/module/apparmor, no
//! /sys/fs/selinux), so there is nothing to apply them to.

mod attrs;
pub(crate) mod caps;
pub(crate) mod lookup;
pub(crate) mod rlimits;

use std::ffi::CString;
use std::path::Path;

use nix::sys::prctl;
use nix::sys::stat::{umask, Mode};
use nix::unistd::{chdir, execve, setgroups, setresgid, setresuid, Gid, Uid};
use oci_spec::runtime::{LinuxPersonality, Process};

use self::caps::CapSets;
use crate::error::{ChildError, Context};
use crate::seccomp::Program;

/// How the process is finished off.
pub(crate) struct ExecPlan<'a> {
    pub(crate) process: &'a Process,
    /// The seccomp filter, compiled by the parent (a bad profile fails
    /// before any namespace exists, as runc validates it up front).
    pub(crate) seccomp: Option<&'a Program>,
    /// `linux.personality` (init only, as runc).
    pub(crate) personality: Option<&'a LinuxPersonality>,
    /// Capabilities when `process.capabilities` is absent (exec: those of
    /// the container's init, so an exec never has more than the init).
    pub(crate) default_caps: Option<CapSets>,
    /// Set no_new_privs even if the process does not ask (exec into an
    /// init that has it).
    pub(crate) force_no_new_privs: bool,
    /// fds 3 .. 3 + this stay open across execve (runc `--preserve-fds`);
    /// every later fd is closed.
    pub(crate) extra_fds: u32,
}

fn cstrings(list: &[String], what: &str) -> Result<Vec<CString>, ChildError> {
    list.iter()
        .map(|s| CString::new(s.as_bytes()).ctx(|| format!("{what} {s:?}")))
        .collect()
}

/// Applies the process attributes, calls `before_exec` (fifo wait,
/// startContainer hooks), then execs. Returns only on failure.
pub(crate) fn setup_and_exec(
    plan: &ExecPlan,
    before_exec: &mut dyn FnMut() -> Result<(), ChildError>,
) -> ChildError {
    match run(plan, before_exec) {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

fn run(
    plan: &ExecPlan,
    before_exec: &mut dyn FnMut() -> Result<(), ChildError>,
) -> Result<std::convert::Infallible, ChildError> {
    let p = plan.process;
    let args = p.args().clone().unwrap_or_default();
    let Some(cmd) = args.first().cloned() else {
        return Err(ChildError::other("process.args", "empty"));
    };
    let mut env = p.env().clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        // runc and Docker add HOME from the container's /etc/passwd.
        env.push(format!("HOME={}", home_of(p.user().uid())));
    }
    let c_args = cstrings(&args, "argument")?;
    let c_env = cstrings(&env, "environment variable")?;

    rlimits::apply(p.rlimits().as_deref().unwrap_or_default())?;
    if let Some(io) = p.io_priority() {
        attrs::apply_io_priority(io)?;
    }
    if let Some(s) = p.scheduler() {
        attrs::apply_scheduler(s)?;
    }
    let affinity = p.exec_cpu_affinity().as_ref();
    if let Some(initial) = affinity.and_then(|a| a.initial().as_deref()) {
        attrs::apply_cpu_affinity(initial)?;
    }
    if let Some(pers) = plan.personality {
        attrs::apply_personality(pers)?;
    }
    if let Some(adj) = p.oom_score_adj() {
        write_oom_score_adj(adj)?;
    }
    let cwd = p.cwd();
    let nnp = p.no_new_privileges().unwrap_or(false) || plan.force_no_new_privs;
    if nnp {
        prctl::set_no_new_privs().ctx(|| "set no_new_privs".into())?;
    } else if let Some(s) = plan.seccomp {
        // Without no_new_privs, installing a filter needs CAP_SYS_ADMIN,
        // so it goes in before the capabilities are dropped (as runc).
        install_seccomp(s)?;
    }
    let sets = match p.capabilities() {
        Some(c) => Some(CapSets::from_spec(c)?),
        None => plan.default_caps.clone(),
    };
    if let Some(sets) = &sets {
        sets.drop_bounding()?;
    }
    set_user(p)?;
    if let Some(sets) = &sets {
        sets.apply()?;
    }
    prctl::set_keepcaps(false).ctx(|| "clear keep-caps".into())?;
    // runc's default when the spec gives none.
    umask(Mode::from_bits_truncate(p.user().umask().unwrap_or(0o022)));
    if !cwd.as_os_str().is_empty() {
        chdir(cwd).ctx(|| format!("chdir to cwd {}", cwd.display()))?;
    }
    let path = lookup::look_path(&cmd, lookup::path_from_env(&env))?;
    let c_path =
        CString::new(path.as_os_str().as_encoded_bytes()).ctx(|| format!("command {cmd:?}"))?;
    before_exec()?;
    if let Some(fin) = affinity.and_then(|a| a.cpu_affinity_final().as_deref()) {
        attrs::apply_cpu_affinity(fin)?;
    }
    let first = 3 + plan.extra_fds.min(i32::MAX as u32 - 3) as i32;
    crate::sys::cloexec_from(first).ctx(|| "mark fds close-on-exec".into())?;
    // Last, so that a strict profile only has to allow execve (as runc):
    // close_range and sched_setaffinity above run unfiltered.
    if nnp {
        if let Some(s) = plan.seccomp {
            install_seccomp(s)?;
        }
    }
    let err = match execve(&c_path, &c_args, &c_env) {
        Err(e) => e,
        Ok(never) => match never {},
    };
    Err(lookup::exec_error(&cmd, &path, err))
}

/// The home dir of `uid` in the container's /etc/passwd, `/` if none.
fn home_of(uid: u32) -> String {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    home_in_passwd(&passwd, uid).unwrap_or_else(|| "/".into())
}

/// The 6th field of the passwd line whose 3rd field is `uid`.
pub(crate) fn home_in_passwd(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 7 && f[2].parse() == Ok(uid) && !f[5].is_empty()).then(|| f[5].to_string())
    })
}

/// Makes this process non-dumpable before it joins a container's pid
/// namespace (runc's nsexec does the same): until `execve` it holds the
/// caller's fds (its database, a cgroup directory), only close-on-exec,
/// and a dumpable process's `/proc/PID/fd` can be opened by any process of
/// the same uid in that namespace. `execve` makes it dumpable again.
pub(crate) fn hide_from_container() -> Result<(), ChildError> {
    prctl::set_dumpable(false).ctx(|| "set non-dumpable".into())
}

fn install_seccomp(s: &Program) -> Result<(), ChildError> {
    s.load().ctx(|| "install seccomp filter".into())
}

fn write_oom_score_adj(adj: i32) -> Result<(), ChildError> {
    let path = Path::new("/proc/self/oom_score_adj");
    let current: i32 = std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    match std::fs::write(path, adj.to_string()) {
        Ok(()) => Ok(()),
        // Lowering the score needs CAP_SYS_RESOURCE; keep the inherited
        // one rather than refuse to start (raising always works).
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied && adj < current => Ok(()),
        Err(e) => Err(ChildError::other(format!("set oom_score_adj to {adj}"), e)),
    }
}

/// Groups, gid, uid — with keep-caps, so the permitted set survives the
/// switch to a non-root uid and the spec's sets can then be applied.
fn set_user(p: &Process) -> Result<(), ChildError> {
    let u = p.user();
    let (uid, gid) = (Uid::from_raw(u.uid()), Gid::from_raw(u.gid()));
    prctl::set_keepcaps(true).ctx(|| "set keep-caps".into())?;
    let groups: Vec<Gid> = u
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| Gid::from_raw(*g))
        .collect();
    // setgroups is refused in a user namespace whose setgroups file says
    // "deny"; then only an empty request is acceptable to skip.
    match setgroups(&groups) {
        Err(nix::errno::Errno::EPERM) if groups.is_empty() && setgroups_denied() => {}
        other => other.ctx(|| format!("set additional groups {groups:?}"))?,
    }
    setresgid(gid, gid, gid).ctx(|| format!("set gid {gid}"))?;
    setresuid(uid, uid, uid).ctx(|| format!("set uid {uid}"))?;
    Ok(())
}

fn setgroups_denied() -> bool {
    std::fs::read_to_string("/proc/self/setgroups").is_ok_and(|s| s.trim() == "deny")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_from_passwd() {
        let p = "root:x:0:0:root:/root:/bin/sh\nbad line\nnobody:x:65534:65534::/nonexistent:/bin/false\n";
        assert_eq!(home_in_passwd(p, 0).as_deref(), Some("/root"));
        assert_eq!(home_in_passwd(p, 65534).as_deref(), Some("/nonexistent"));
        assert_eq!(home_in_passwd(p, 1000), None);
    }
}
