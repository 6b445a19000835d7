//! One module per command group: image archives (`import`, `load`,
//! `save`) and image management (`images`, `tag`, `rmi`, `inspect`,
//! `image prune`), plus the helpers they share.

pub mod archive;
pub mod changes;
pub mod container_ops;
pub mod container_ps;
pub mod containers;
mod image_inspect;
pub mod images;
pub mod inspect;
pub mod stats;
pub mod timestamp;
pub mod volume;

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::Value;
use storage::{Digest, Store};

pub use image_inspect::inspect_doc;

use crate::template::{escape_html, type_nils, Nil};
use crate::Globals;

/// Opens the store at `--root`.
pub fn open_store(g: &Globals) -> Result<Store> {
    Store::open(&g.root).with_context(|| format!("cannot open store at {}", g.root.display()))
}

/// Who uses an image, for `rmi` and `image prune`: the id of a container
/// (running or not) made from it. The engine reads on its own database
/// connection, which WAL lets run while the removal holds the write lock.
pub fn container_using(g: &Globals) -> Result<impl Fn(&Digest) -> Option<String>> {
    let engine = containers::open_engine(g)?;
    Ok(move |id: &Digest| engine.image_user(&id.to_string()))
}

/// JSON as Docker's `inspect` prints it: `json.MarshalIndent` with four
/// spaces, HTML characters escaped.
pub fn docker_json_indent<T: Serialize>(v: &T) -> Result<String> {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    v.serialize(&mut ser)?;
    Ok(escape_html(&String::from_utf8(buf)?))
}

/// Docker's `{{json .}}` of a whole document: compact, in the document's
/// own field order (a template renders a `Value`, whose keys are sorted).
pub fn docker_json_compact<T: Serialize>(v: &T) -> Result<String> {
    Ok(escape_html(&serde_json::to_string(v)?))
}

/// The fields of the container document that can be `null` and that
/// Docker's Go types hold as slices or maps, so a template prints them `[]`
/// or `map[]`, as `docker inspect -f` does (checked against dockerd
/// 20.10.24).
pub const CONTAINER_NILS: &[(&str, Nil)] = &[
    ("ExecIDs", Nil::Slice),
    ("HostConfig.CapAdd", Nil::Slice),
    ("HostConfig.CapDrop", Nil::Slice),
    ("HostConfig.SecurityOpt", Nil::Slice),
    ("Config.Entrypoint", Nil::Slice),
    ("Config.OnBuild", Nil::Slice),
    ("Config.Volumes", Nil::Map),
];

/// [`CONTAINER_NILS`] for the image document, whose `Config` is the
/// image's own, any field of it possibly `null`.
pub const IMAGE_NILS: &[(&str, Nil)] = &[
    ("Config.Env", Nil::Slice),
    ("Config.Cmd", Nil::Slice),
    ("Config.Entrypoint", Nil::Slice),
    ("Config.OnBuild", Nil::Slice),
    ("Config.Volumes", Nil::Map),
    ("Config.Labels", Nil::Map),
];

/// [`CONTAINER_NILS`] for the volume document.
pub const VOLUME_NILS: &[(&str, Nil)] = &[("Labels", Nil::Map), ("Options", Nil::Map)];

/// `doc` as a template's value, its `null` slices and maps marked by
/// `nils` (see [`type_nils`]).
pub fn template_value<T: Serialize>(doc: &T, nils: &[(&str, Nil)]) -> Result<Value> {
    let mut v = serde_json::to_value(doc)?;
    type_nils(&mut v, nils);
    Ok(v)
}

/// True for a format that is just `{{json .}}` (spaces allowed), which
/// [`docker_json_compact`] prints in Docker's order.
pub fn is_whole_json(format: &str) -> bool {
    let f: String = format.chars().filter(|c| !c.is_whitespace()).collect();
    f == "{{json.}}"
}
