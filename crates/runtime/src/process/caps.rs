//! The five capability sets of `process.capabilities`. Order matters: the
//! bounding set is dropped while we still hold CAP_SETPCAP, the uid change
//! happens with keep-caps so permitted survives it (capabilities(7)), then
//! effective/permitted/inheritable are set and ambient raised.

use caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::{Capabilities, LinuxCapabilities};

use crate::error::{ChildError, Context};

/// Converts spec capability names to the `caps` crate's type; a name this
/// build does not know is an error naming it.
pub(crate) fn convert(set: Option<&Capabilities>) -> Result<CapsHashSet, ChildError> {
    let mut out = CapsHashSet::new();
    for c in set.into_iter().flatten() {
        // serde gives the spec's own spelling, "CAP_CHOWN".
        let name = serde_json::to_value(c)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string));
        let name = name.unwrap_or_else(|| format!("CAP_{c}"));
        let cap: Capability = name.parse().ctx(|| format!("capability {name}"))?;
        out.insert(cap);
    }
    Ok(out)
}

/// The parsed sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CapSets {
    bounding: CapsHashSet,
    effective: CapsHashSet,
    permitted: CapsHashSet,
    inheritable: CapsHashSet,
    ambient: CapsHashSet,
}

impl CapSets {
    /// Parses the spec's sets (absent = empty, as runc).
    pub(crate) fn from_spec(c: &LinuxCapabilities) -> Result<Self, ChildError> {
        Ok(CapSets {
            bounding: convert(c.bounding().as_ref())?,
            effective: convert(c.effective().as_ref())?,
            permitted: convert(c.permitted().as_ref())?,
            inheritable: convert(c.inheritable().as_ref())?,
            ambient: convert(c.ambient().as_ref())?,
        })
    }

    /// The sets of a running process from its `/proc/<pid>/status`
    /// (`CapInh`, `CapPrm`, `CapEff`, `CapBnd`, `CapAmb` hex masks).
    pub(crate) fn from_status(status: &str) -> Result<Self, String> {
        let mask = |key: &str| -> Result<CapsHashSet, String> {
            let line = status
                .lines()
                .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(':')))
                .ok_or_else(|| format!("no {key} line"))?;
            let bits = u64::from_str_radix(line.trim(), 16).map_err(|e| format!("{key}: {e}"))?;
            Ok(caps::all()
                .into_iter()
                .filter(|c| c.index() < 64 && bits & (1u64 << c.index()) != 0)
                .collect())
        };
        Ok(CapSets {
            bounding: mask("CapBnd")?,
            effective: mask("CapEff")?,
            permitted: mask("CapPrm")?,
            inheritable: mask("CapInh")?,
            ambient: mask("CapAmb")?,
        })
    }

    /// Drops every capability not in the bounding set (before the uid
    /// change: needs CAP_SETPCAP).
    pub(crate) fn drop_bounding(&self) -> Result<(), ChildError> {
        // No probe first (a PR_CAPBSET_READ per capability): dropping one
        // that is already out of the set succeeds, and one the running
        // kernel does not know fails with EINVAL (prctl(2)): there is
        // nothing to drop then.
        for cap in caps::all() {
            if !self.bounding.contains(&cap) {
                match crate::sys::capbset_drop(cap.index()) {
                    Ok(()) | Err(nix::errno::Errno::EINVAL) => {}
                    Err(e) => {
                        return Err(ChildError::other(
                            format!("drop {cap} from bounding set"),
                            e,
                        ))
                    }
                }
            }
        }
        Ok(())
    }

    /// Sets effective, permitted, inheritable, then raises ambient (after
    /// the uid change).
    pub(crate) fn apply(&self) -> Result<(), ChildError> {
        // Inheritable first, while permitted is still the full set (a new
        // inheritable must lie within the old permitted one); then
        // effective (a subset of the current permitted), so that shrinking
        // permitted never leaves effective outside it.
        caps::set(None, CapSet::Inheritable, &self.inheritable)
            .ctx(|| "set inheritable capabilities".into())?;
        caps::set(None, CapSet::Effective, &self.effective)
            .ctx(|| "set effective capabilities".into())?;
        caps::set(None, CapSet::Permitted, &self.permitted)
            .ctx(|| "set permitted capabilities".into())?;
        caps::clear(None, CapSet::Ambient).ctx(|| "clear ambient capabilities".into())?;
        // The kernel only allows an ambient cap that is both permitted and
        // inheritable; others are skipped (runc only warns about them).
        for cap in self.ambient.intersection(&self.permitted) {
            if self.inheritable.contains(cap) {
                caps::raise(None, CapSet::Ambient, *cap).ctx(|| format!("raise ambient {cap}"))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use oci_spec::runtime::Capability as Spec;

    use super::*;

    #[test]
    fn sets_from_proc_status() {
        let status = "Name:\tsh\nCapInh:\t0000000000000000\nCapPrm:\t0000000020000420\n\
                      CapEff:\t0000000020000420\nCapBnd:\t00000000a80425fb\nCapAmb:\t0000000000000000\n";
        let s = CapSets::from_status(status).unwrap();
        let want: CapsHashSet = [
            Capability::CAP_KILL,
            Capability::CAP_NET_BIND_SERVICE,
            Capability::CAP_AUDIT_WRITE,
        ]
        .into_iter()
        .collect();
        assert_eq!(s.effective, want);
        assert_eq!(s.permitted, want);
        assert!(s.inheritable.is_empty() && s.ambient.is_empty());
        assert!(s.bounding.contains(&Capability::CAP_CHOWN));
        assert!(!s.bounding.contains(&Capability::CAP_SYS_ADMIN));
        assert!(CapSets::from_status("Name:\tx\n").is_err());
    }

    #[test]
    fn converts_spec_names() {
        let set: Capabilities = [Spec::Chown, Spec::NetBindService, Spec::SysAdmin]
            .into_iter()
            .collect();
        let out = convert(Some(&set)).unwrap();
        assert!(out.contains(&Capability::CAP_CHOWN));
        assert!(out.contains(&Capability::CAP_NET_BIND_SERVICE));
        assert!(out.contains(&Capability::CAP_SYS_ADMIN));
        assert_eq!(out.len(), 3);
    }
}
