//! `berth stats`: Docker's resource table (CPU %, MEM USAGE / LIMIT,
//! MEM %, NET I/O, BLOCK I/O, PIDS) from each container's cgroup, once
//! with `--no-stream` or refreshed every second. As Docker's daemon, CPU %
//! is over the second between two samples.

use std::collections::HashMap;
use std::io::{self, Write};
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use engine::container::{Container, Status};
use engine::inspect::StatsSample;
use serde_json::{json, Value};

use super::containers::{fail, open_engine};
use crate::listing;
use crate::units::{go_g, human_size};
use crate::Globals;

/// `berth stats`.
#[derive(Args, Debug)]
pub struct StatsArgs {
    /// Show all containers (default shows just running).
    #[arg(short = 'a', long)]
    all: bool,
    /// Format output using a custom template.
    #[arg(long, value_name = "string")]
    format: Option<String>,
    /// Disable streaming stats and only pull the first result.
    #[arg(long)]
    no_stream: bool,
    /// Do not truncate output.
    #[arg(long)]
    no_trunc: bool,
    /// Containers (default: all running ones).
    #[arg(value_name = "CONTAINER")]
    containers: Vec<String>,
}

const DEFAULT_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

const HEADERS: &[(&str, &str)] = &[
    ("Container", "CONTAINER"),
    ("Name", "NAME"),
    ("ID", "CONTAINER ID"),
    ("CPUPerc", "CPU %"),
    ("MemUsage", "MEM USAGE / LIMIT"),
    ("MemPerc", "MEM %"),
    ("NetIO", "NET I/O"),
    ("BlockIO", "BLOCK I/O"),
    ("PIDs", "PIDS"),
];

/// go-units' `BytesSize`: base 1024, `%.4g`, `KiB`, `MiB`, …
fn bytes_size(v: u64) -> String {
    const UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];
    let mut size = v as f64;
    let mut i = 0;
    while size >= 1024.0 && i < UNITS.len() - 1 {
        size /= 1024.0;
        i += 1;
    }
    format!("{}{}", go_g(size, 4), UNITS[i])
}

fn row(label: &str, c: &Container, no_trunc: bool, s: &StatsSample, cpu: f64) -> Value {
    json!({
        "Container": label,
        "Name": c.name,
        "ID": if no_trunc { c.id.as_str() } else { c.short_id() },
        "CPUPerc": format!("{cpu:.2}%"),
        "MemUsage": format!("{} / {}", bytes_size(s.memory), bytes_size(s.memory_limit)),
        "MemPerc": format!("{:.2}%", s.memory_percent()),
        // berth's containers have no network of their own (`none`) or the
        // host's, for which Docker shows no traffic either.
        "NetIO": "0B / 0B",
        "BlockIO": format!(
            "{} / {}",
            human_size(s.block_read as f64, 3),
            human_size(s.block_write as f64, 3)
        ),
        "PIDs": s.pids.to_string(),
    })
}

fn is_running(c: &Container) -> bool {
    matches!(c.state.status, Status::Running | Status::Paused)
}

/// The containers to show, each with what to call it (`.Container`): the
/// name given, or the short id when listing; re-read on every refresh.
fn targets(engine: &engine::Engine, a: &StatsArgs) -> Vec<(String, Container)> {
    if a.containers.is_empty() {
        let mut all = engine.list().unwrap_or_else(|e| fail(&e));
        all.retain(|c| a.all || is_running(c));
        return all
            .into_iter()
            .map(|c| (c.short_id().to_string(), c))
            .collect();
    }
    a.containers
        .iter()
        .map(|n| (n.clone(), engine.find(n).unwrap_or_else(|e| fail(&e))))
        .collect()
}

/// The table (or one line per container) for `format`.
fn render(format: &str, rows: &[Value]) -> Result<String> {
    Ok(listing::render(format, HEADERS, rows)?)
}

/// `berth stats`: with `--no-stream` one table after a second; without,
/// a table every second on a cleared screen until interrupted, as Docker.
pub fn stats(g: &Globals, a: StatsArgs) -> Result<()> {
    let format = match a.format.as_deref() {
        None | Some("") | Some("table") => DEFAULT_TABLE.to_string(),
        Some("json") => "{{json .}}".to_string(),
        Some(f) => f.to_string(),
    };
    let format = format.replace("\\t", "\t").replace("\\n", "\n");
    // A bad template fails before any sampling.
    render(&format, &[])?;
    let engine = open_engine(g).unwrap_or_else(|e| fail(&e));
    let sample = |c: &Container| {
        if is_running(c) {
            // A container that stopped since it was listed shows zeros.
            engine.stats_sample(c).unwrap_or_default()
        } else {
            StatsSample::default()
        }
    };
    // The previous sample of each container id, for CPU %.
    let mut before: HashMap<String, StatsSample> = HashMap::new();
    let mut out = io::stdout();
    loop {
        let shown = targets(&engine, &a);
        let fresh: Vec<&Container> = shown
            .iter()
            .map(|(_, c)| c)
            .filter(|c| is_running(c) && !before.contains_key(&c.id))
            .collect();
        // CPU % needs two samples: the first round waits a second (as
        // Docker's daemon primes its first frame).
        if !fresh.is_empty() {
            for c in fresh {
                before.insert(c.id.clone(), sample(c));
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        let mut rows = Vec::new();
        for (label, c) in &shown {
            let now = sample(c);
            let cpu = before.get(&c.id).map_or(0.0, |b| now.cpu_percent(b));
            rows.push(row(label, c, a.no_trunc, &now, cpu));
            before.insert(c.id.clone(), now);
        }
        let text = render(&format, &rows)?;
        if a.no_stream {
            out.write_all(text.as_bytes())?;
            return Ok(());
        }
        // Clear the screen and home the cursor, as Docker's CLI.
        out.write_all(format!("\x1b[2J\x1b[H{text}").as_bytes())?;
        out.flush()?;
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_sizes_as_go_units() {
        assert_eq!(bytes_size(0), "0B");
        assert_eq!(bytes_size(1000), "1000B");
        assert_eq!(bytes_size(1536), "1.5KiB");
        assert_eq!(bytes_size(2_087_206_912), "1.944GiB");
        assert_eq!(bytes_size(512 * 1024 * 1024), "512MiB");
    }
}
