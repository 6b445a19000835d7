//! berth's container engine: turns user intent (an image, a command line,
//! volumes) into a prepared rootfs and a runtime spec, and supervises it.

pub mod commit;
pub mod container;
pub mod cp;
mod engine;
mod error;
pub mod export;
pub mod inspect;
mod lifecycle;
pub mod logs;
pub mod options;
pub mod spec;
mod timing;
pub mod volume;

pub use engine::Engine;
pub use error::EngineError;
pub use lifecycle::{monitor_main, ExecRequest, DEFAULT_STOP_TIMEOUT};
