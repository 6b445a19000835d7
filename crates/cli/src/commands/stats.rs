//! `berth stats --no-stream`: Docker's one-shot resource table (CPU %,
//! MEM USAGE / LIMIT, MEM %, NET I/O, BLOCK I/O, PIDS) from each
//! container's cgroup. As Docker's daemon, two samples a second apart so
//! that CPU % covers that second. Streaming (without `--no-stream`) is not
//! implemented and says so.

use std::io::{self, Write};
use std::time::Duration;

use anyhow::{bail, Result};
use clap::Args;
use engine::container::{Container, Status};
use engine::inspect::StatsSample;
use serde_json::{json, Value};

use super::containers::{fail, open_engine};
use crate::tabwriter;
use crate::template::Template;
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

/// `berth stats --no-stream`.
pub fn stats(g: &Globals, a: StatsArgs) -> Result<()> {
    if !a.no_stream {
        bail!("stats: streaming is not implemented; use --no-stream");
    }
    let engine = open_engine(g).unwrap_or_else(|e| fail(&e));
    // (what to call it, the container)
    let targets: Vec<(String, Container)> = if a.containers.is_empty() {
        let mut all = engine.list().unwrap_or_else(|e| fail(&e));
        all.retain(|c| a.all || is_running(c));
        all.into_iter()
            .map(|c| (c.short_id().to_string(), c))
            .collect()
    } else {
        a.containers
            .iter()
            .map(|n| (n.clone(), engine.find(n).unwrap_or_else(|e| fail(&e))))
            .collect()
    };
    let sample = |c: &Container| {
        if is_running(c) {
            // A container that stopped since it was listed shows zeros.
            engine.stats_sample(c).unwrap_or_default()
        } else {
            StatsSample::default()
        }
    };
    let first: Vec<StatsSample> = targets.iter().map(|(_, c)| sample(c)).collect();
    if targets.iter().any(|(_, c)| is_running(c)) {
        std::thread::sleep(Duration::from_secs(1));
    }
    let rows: Vec<Value> = targets
        .iter()
        .zip(&first)
        .map(|((label, c), before)| {
            let now = sample(c);
            row(label, c, a.no_trunc, &now, now.cpu_percent(before))
        })
        .collect();

    let format = match a.format.as_deref() {
        None | Some("") | Some("table") => DEFAULT_TABLE.to_string(),
        Some("json") => "{{json .}}".to_string(),
        Some(f) => f.to_string(),
    };
    let format = format.replace("\\t", "\t").replace("\\n", "\n");
    let mut out = io::stdout().lock();
    if let Some(t) = format.strip_prefix("table") {
        let tpl = Template::parse(t.trim_start())?;
        let headers = Value::Object(
            HEADERS
                .iter()
                .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
                .collect(),
        );
        let mut lines = vec![tpl.render(&headers)?];
        for r in &rows {
            lines.push(tpl.render(r)?);
        }
        out.write_all(tabwriter::align(&lines).as_bytes())?;
    } else {
        let tpl = Template::parse(&format)?;
        for r in &rows {
            writeln!(out, "{}", tpl.render(r)?)?;
        }
    }
    Ok(())
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
