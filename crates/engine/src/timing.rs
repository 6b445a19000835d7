//! Opt-in timing spans for profiling the engine's hot paths: with
//! `BERTH_TIMING=1` in the environment, each [`mark`] prints
//! `berth-timing: <label> <ms since the first mark>` to stderr. Off, a mark
//! is one relaxed load of a cached flag.

use std::sync::OnceLock;
use std::time::Instant;

/// When the first mark ran, or `None` when timing is off.
static START: OnceLock<Option<Instant>> = OnceLock::new();

/// Records that the engine reached `label` (see the module docs).
pub(crate) fn mark(label: &str) {
    let start = START.get_or_init(|| {
        std::env::var_os("BERTH_TIMING")
            .is_some_and(|v| v == "1")
            .then(Instant::now)
    });
    if let Some(t0) = start {
        eprintln!(
            "berth-timing: {label} {:.3}",
            t0.elapsed().as_secs_f64() * 1000.0
        );
    }
}
