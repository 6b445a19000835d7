//! berth's OCI runtime: turns a runtime spec (`config.json`) and a root
//! filesystem into an isolated process, as runc and crun do.
pub mod container;
pub mod error;
mod exec;
pub mod hooks;
mod init;
pub mod netns;
pub mod seccomp;
pub mod spawn;
pub mod state;

pub use error::{ChildErrorKind, SpawnError};
pub use netns::NetnsAhead;
pub use spawn::{
    spawn_exec, spawn_init, ExecOptions, InitHooks, InitOptions, InitProcess, NoHooks, Overlay,
    Stdio,
};
mod channel;
mod child;
mod namespaces;
mod process;
mod rootfs;
mod sys;
mod tty;
