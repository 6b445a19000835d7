//! berth's container engine: turns user intent (an image, a command line,
//! volumes) into a prepared rootfs and a runtime spec, and supervises it.

pub mod options;
pub mod spec;
