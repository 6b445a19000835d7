//! berth's image store: content-addressed blobs, unpacked layers, images,
//! the metadata database and overlay assembly.
//!
//! Everything lives under one root directory (`--root`, DESIGN.md "On
//! disk"); [`Store::open`] is the entry point.

pub mod archive;
pub mod blobs;
pub mod changes;
pub mod db;
pub mod digest;
pub mod images;
pub mod layers;
pub mod overlay;
pub mod reference;
mod schema;
mod staging;
mod store;

pub use blobs::{BlobError, BlobStore, BlobWriter};
pub use db::{Db, DbError};
pub use digest::{Digest, DigestError, HashingReader};
pub use images::{Image, ImageError, ImageId, InUse, NewImage, RemoveEvent};
pub use layers::{chain_id, chain_ids, Compression, Layer, LayerError, UnpackOptions};
pub use overlay::{
    overlay_options, overlay_options_relative, InitFiles, OverlayError, RootfsLayout,
};
pub use reference::{Reference, ReferenceError};
pub use staging::StagingDir;
pub use store::{Store, StoreError, StoreOptions};
