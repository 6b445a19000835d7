//! berth's OCI runtime: turns a runtime spec (`config.json`) and a root
//! filesystem into an isolated process, as runc and crun do.
pub mod state;
pub mod container;
pub mod hooks;
pub mod error;
mod exec;
mod init;
pub mod seccomp;
pub mod spawn;

pub use error::{ChildErrorKind, SpawnError};
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
