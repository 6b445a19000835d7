//! The container verbs, one file per concern: create, start (spawn and
//! record), foreground run, the detached monitor, stop/kill/wait, removal,
//! exec.

mod after_exit;
mod create;
mod exec;
mod foreground;
mod monitor;
mod remove;
pub(crate) mod start;
mod stop;
mod tty;

pub use self::exec::ExecRequest;
pub use self::monitor::monitor_main;
pub use self::stop::DEFAULT_STOP_TIMEOUT;
