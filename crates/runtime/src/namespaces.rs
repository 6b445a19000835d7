//! Which namespaces the spec asks for: new ones become clone/unshare flags,
//! ones with a `path` are joined with `setns` (user first).

use std::fs::File;
use std::os::fd::AsFd;
use std::path::PathBuf;

use nix::sched::{setns, CloneFlags};
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::error::{ChildError, Context};

/// The spec's namespaces, split into created and joined ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NamespacePlan {
    /// Namespaces to create (`CLONE_NEW*`).
    pub(crate) create: CloneFlags,
    /// Namespaces to join: (flag, path), user namespace first.
    pub(crate) join: Vec<(CloneFlags, PathBuf)>,
}

/// `CLONE_NEWTIME` (Linux 5.6), which neither nix nor libc define. Its bit
/// overlaps clone(2)'s exit-signal byte, so it is only ever unshared.
pub(crate) const CLONE_NEWTIME: CloneFlags = CloneFlags::from_bits_retain(0x80);

/// The clone flag of a namespace type.
pub(crate) fn flag(typ: LinuxNamespaceType) -> CloneFlags {
    match typ {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CLONE_NEWTIME,
    }
}

impl NamespacePlan {
    /// Reads `linux.namespaces`; a duplicate type is an error naming it
    /// (an unknown type name already fails when the spec is parsed).
    pub(crate) fn from_spec(spec: &Spec) -> Result<Self, String> {
        let mut plan = NamespacePlan {
            create: CloneFlags::empty(),
            join: Vec::new(),
        };
        let mut seen = CloneFlags::empty();
        let namespaces = spec.linux().as_ref().and_then(|l| l.namespaces().as_ref());
        for ns in namespaces.into_iter().flatten() {
            let f = flag(ns.typ());
            if seen.contains(f) {
                return Err(format!("namespace {:?} listed twice", ns.typ().to_string()));
            }
            seen |= f;
            match ns.path() {
                Some(p) if !p.as_os_str().is_empty() => plan.join.push((f, p.clone())),
                _ => plan.create |= f,
            }
        }
        // setns into the user namespace first: the others are owned by it
        // and joining them needs its capabilities (setns(2)).
        plan.join
            .sort_by_key(|(f, _)| *f != CloneFlags::CLONE_NEWUSER);
        Ok(plan)
    }
}

/// Joins each namespace in order (child side).
pub(crate) fn join(list: &[(CloneFlags, PathBuf)]) -> Result<(), ChildError> {
    for (f, path) in list {
        let file = File::open(path).ctx(|| format!("open namespace {}", path.display()))?;
        setns(file.as_fd(), *f).ctx(|| format!("join namespace {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use oci_spec::runtime::{LinuxBuilder, LinuxNamespaceBuilder, SpecBuilder};

    use super::*;

    fn spec(ns: Vec<(LinuxNamespaceType, Option<&str>)>) -> Spec {
        let list = ns
            .into_iter()
            .map(|(t, p)| {
                let b = LinuxNamespaceBuilder::default().typ(t);
                match p {
                    Some(p) => b.path(p).build().unwrap(),
                    None => b.build().unwrap(),
                }
            })
            .collect::<Vec<_>>();
        SpecBuilder::default()
            .linux(LinuxBuilder::default().namespaces(list).build().unwrap())
            .build()
            .unwrap()
    }

    #[test]
    fn splits_created_and_joined_user_first() {
        let s = spec(vec![
            (LinuxNamespaceType::Pid, None),
            (LinuxNamespaceType::Network, Some("/proc/1/ns/net")),
            (LinuxNamespaceType::User, Some("/proc/1/ns/user")),
            (LinuxNamespaceType::Mount, None),
        ]);
        let plan = NamespacePlan::from_spec(&s).unwrap();
        assert_eq!(
            plan.create,
            CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS
        );
        assert_eq!(plan.join[0].0, CloneFlags::CLONE_NEWUSER);
        assert_eq!(plan.join[1].0, CloneFlags::CLONE_NEWNET);
    }

    #[test]
    fn duplicate_is_an_error_and_time_is_planned() {
        let dup = spec(vec![
            (LinuxNamespaceType::Pid, None),
            (LinuxNamespaceType::Pid, None),
        ]);
        assert!(NamespacePlan::from_spec(&dup)
            .unwrap_err()
            .contains("twice"));
        let time = spec(vec![(LinuxNamespaceType::Time, None)]);
        assert_eq!(
            NamespacePlan::from_spec(&time).unwrap().create,
            CLONE_NEWTIME
        );
    }
}
