//! The runtime's container lifecycle, one file per verb of the runc
//! command line: create, start, state, kill, delete, run, exec, ps/list,
//! pause/resume, update. Each verb that changes a container takes its lock
//! from [`crate::state`]; readers (`state`, `list`, `ps`) do not need it.

mod bundle;
mod cgroup;
mod console;
mod create;
mod delete;
mod error;
mod exec;
mod kill;
mod list;
mod pause;
mod process;
mod run;
mod start;
mod state;
mod update;

pub use bundle::{load_bundle, Bundle};
pub use create::{create, CreateOptions};
pub use delete::delete;
pub use error::ContainerError;
pub use exec::{exec, ExecRequest};
pub use kill::{kill, parse_signal};
pub use list::{list, ps_pids, ListEntry};
pub use pause::{pause, resume};
pub use process::{load_process_file, process_from_args, ExecArgs, ExecProcess};
pub use run::{run, RunOutcome};
pub use start::start;
pub use state::state;
pub use update::update;
