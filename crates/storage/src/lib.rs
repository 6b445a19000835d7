//! berth's image store: content-addressed blobs, unpacked layers, images,
//! the metadata database and overlay assembly.
//!
//! Everything lives under one root directory (`--root`, DESIGN.md "On
//! disk"); [`Store::open`] is the entry point:
//!
//! ```text
//! berth.db                     SQLite (WAL): images, tags, layers, + engine tables
//! blobs/sha256/<hex>           configs, manifests, original layer blobs
//! layers/<chain-id hex>/diff/  one unpacked layer, shared by every image using it
//! containers/<id>/{init,upper,work,rootfs}
//! volumes/
//! tmp/                         staging, flock'ed by the process building it
//! ```
//!
//! Several processes may use one store at once and any may be killed:
//! layers and blobs are built in locked staging entries under `tmp/` and
//! renamed into place only when complete and verified (so a layer or blob
//! path that exists is always complete); metadata changes are single
//! SQLite transactions; [`Store::open`] removes staging nobody holds.
//!
//! A typical load: [`Store::put_blob`] the config/manifest,
//! [`Store::unpack_layer`] each layer bottom-up (parent = previous chain
//! id), then [`Store::add_image`]. The engine then calls
//! [`Store::prepare_container_rootfs`] and mounts [`RootfsLayout`].

pub mod archive;
pub mod blobs;
pub mod changes;
pub mod db;
pub mod digest;
pub mod images;
pub mod layers;
pub mod overlay;
mod pipe;
pub mod reference;
mod schema;
mod staging;
mod store;

pub use blobs::{BlobError, BlobStore, BlobWriter};
pub use db::{Db, DbError};
pub use digest::{Digest, DigestError, HashingReader};
pub use images::{Image, ImageError, ImageId, InUse, NewImage, RemoveEvent};
pub use layers::{chain_id, chain_ids, dir_size, Compression, Layer, LayerError, UnpackOptions};
pub use overlay::{
    overlay_options, overlay_options_relative, InitFiles, OverlayError, RootfsLayout,
};
pub use reference::{Reference, ReferenceError};
pub use staging::StagingDir;
pub use store::{Store, StoreError, StoreOptions};
