//! Volumes: the local volume store (`<root>/volumes/<name>/_data`, records
//! in `berth.db`), the `-v`/`--mount`/`--tmpfs`/`--volumes-from` syntax, and
//! a container's mounts — resolved at create (with copy-up), added to the
//! runtime spec as bind/tmpfs mounts, released at removal.
//!
//! Every mount is performed by the runtime inside the container's own mount
//! namespace, after the overlay and before `pivot_root`, with targets
//! resolved by `openat2(RESOLVE_IN_ROOT)`: the host's mount table never shows
//! a volume. A local-driver volume with options (`type=tmpfs` or
//! `type=none,o=bind,device=/path`) is likewise mounted in the container's
//! namespace straight from its device, never on the host at `_data` as
//! Docker's local driver does; its `_data` stays an empty placeholder.

mod attach;
mod copyup;
mod error;
mod parse;
mod store;

pub use self::attach::{add_to_spec, attach, inspect_mounts, release, MountPoint};
pub(crate) use self::attach::{known_without_mounts, release_in, remove_trash};
pub use self::copyup::copy_up;
pub use self::error::VolumeError;
pub use self::parse::{
    parse_mount, parse_tmpfs, parse_volume, parse_volumes_from, validate_name, MountFlags,
    MountKind, MountRequest,
};
pub use self::store::{PruneReport, Volume, VolumeFilter, Volumes, MIGRATIONS};
