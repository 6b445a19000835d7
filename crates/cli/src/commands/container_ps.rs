//! `ps` / `container ls`: Docker's columns, `-a`, `-q`, `--no-trunc`,
//! `-f status=|name=|label=|id=`, `--format`, `-s` (SIZE).

use std::io::{self, Write};

use anyhow::{bail, Result};
use clap::Args;
use engine::container::{Container, Status};
use engine::inspect::{status_text, ContainerSize};
use serde_json::{json, Value};

use super::containers::{fail, open_engine};
use crate::listing;
use crate::units::{human_duration, human_size};
use crate::Globals;

/// `berth ps`.
#[derive(Args, Debug)]
pub struct PsArgs {
    /// Show all containers (default shows just running).
    #[arg(short = 'a', long)]
    all: bool,
    /// Filter output based on conditions provided.
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    filters: Vec<String>,
    /// Format output using a custom template.
    #[arg(long, value_name = "string")]
    format: Option<String>,
    /// Don't truncate output.
    #[arg(long)]
    no_trunc: bool,
    /// Only display container IDs.
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Show n last created containers (includes all states).
    #[arg(short = 'n', long, value_name = "int")]
    last: Option<usize>,
    /// Show the latest created container (includes all states).
    #[arg(short = 'l', long)]
    latest: bool,
    /// Display total file sizes.
    #[arg(short = 's', long)]
    size: bool,
}

const DEFAULT_TABLE: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

const HEADERS: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("CreatedAt", "CREATED AT"),
    ("RunningFor", "CREATED"),
    ("Ports", "PORTS"),
    ("State", "STATE"),
    ("Status", "STATUS"),
    ("Size", "SIZE"),
    ("Names", "NAMES"),
    ("Labels", "LABELS"),
    ("Mounts", "MOUNTS"),
    ("Networks", "NETWORKS"),
];

/// Docker truncates COMMAND to 20 characters with an ellipsis.
fn ellipsis(s: &str, max: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= max {
        return s.to_string();
    }
    let mut out: String = chars[..max - 1].iter().collect();
    out.push('…');
    out
}

/// Docker's SIZE: the writable layer, then `(virtual …)` with the image.
fn size_text(size: ContainerSize) -> String {
    let rw = human_size(size.rw as f64, 3);
    if size.root_fs > 0 {
        format!("{rw} (virtual {})", human_size(size.root_fs as f64, 3))
    } else {
        rw
    }
}

fn row(c: &Container, no_trunc: bool, size: ContainerSize) -> Value {
    let cmd: Vec<&str> = c
        .config
        .entrypoint
        .iter()
        .chain(&c.config.cmd)
        .map(String::as_str)
        .collect();
    let cmd = cmd.join(" ");
    let command = if no_trunc {
        format!("\"{cmd}\"")
    } else {
        format!("\"{}\"", ellipsis(&cmd, 20))
    };
    let created = chrono::DateTime::parse_from_rfc3339(&c.created).ok();
    let running_for = created.map_or(String::new(), |t| {
        format!(
            "{} ago",
            human_duration((chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds())
        )
    });
    let created_at = created.map_or(String::new(), |t| {
        t.format("%Y-%m-%d %H:%M:%S %z UTC").to_string()
    });
    let labels: Vec<String> = c
        .config
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    json!({
        "ID": if no_trunc { c.id.clone() } else { c.short_id().to_string() },
        "Image": c.config.image,
        "Command": command,
        "CreatedAt": created_at,
        "RunningFor": running_for,
        "Ports": "",
        "State": c.state.status.as_str(),
        "Status": status_text(c),
        "Size": size_text(size),
        "Names": c.name,
        "Labels": labels.join(","),
        "Mounts": "",
        "Networks": c.host_config.network.as_str(),
    })
}

/// One `-f key=value`.
fn keep(c: &Container, filters: &[(String, String)]) -> bool {
    // Docker ORs values of one key and ANDs different keys.
    let keys: std::collections::BTreeSet<&str> = filters.iter().map(|(k, _)| k.as_str()).collect();
    keys.into_iter().all(|key| {
        filters
            .iter()
            .filter(|(k, _)| k == key)
            .any(|(_, v)| match key {
                "status" => c.state.status.as_str() == v,
                "name" => c.name.contains(v.trim_start_matches('/')),
                "id" => c.id.starts_with(v.as_str()),
                "label" => match v.split_once('=') {
                    Some((lk, lv)) => c.config.labels.get(lk).is_some_and(|x| x == lv),
                    None => c.config.labels.contains_key(v.as_str()),
                },
                "ancestor" => &c.config.image == v || c.image_id.contains(v.as_str()),
                _ => false,
            })
    })
}

const STATUSES: &[&str] = &[
    "created",
    "restarting",
    "running",
    "removing",
    "paused",
    "exited",
    "dead",
];

fn parse_filters(raw: &[String]) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for f in raw {
        let Some((k, v)) = f.split_once('=') else {
            bail!("bad format of filter (expected name=value)");
        };
        match k {
            "status" if !STATUSES.contains(&v) => {
                bail!("invalid filter 'status={v}'")
            }
            "status" | "name" | "id" | "label" | "ancestor" => {}
            _ => bail!("invalid filter '{k}'"),
        }
        out.push((k.to_string(), v.to_string()));
    }
    Ok(out)
}

/// `berth ps`.
pub fn ps(g: &Globals, a: PsArgs) -> Result<()> {
    let filters = parse_filters(&a.filters)?;
    let engine = open_engine(g).unwrap_or_else(|e| fail(&e));
    let mut all = engine.list().unwrap_or_else(|e| fail(&e));
    let limit = if a.latest { Some(1) } else { a.last };
    let show_all = a.all || limit.is_some() || filters.iter().any(|(k, _)| k == "status");
    all.retain(|c| {
        (show_all || c.state.status == Status::Running || c.state.status == Status::Paused)
            && keep(c, &filters)
    });
    if let Some(n) = limit {
        all.truncate(n);
    }
    let mut out = io::stdout().lock();
    if a.quiet {
        for c in &all {
            let id = if a.no_trunc { &c.id } else { c.short_id() };
            writeln!(out, "{id}")?;
        }
        return Ok(());
    }
    let format = match a.format.as_deref() {
        None | Some("") | Some("table") if a.size => format!("{DEFAULT_TABLE}\t{{{{.Size}}}}"),
        None | Some("") | Some("table") => DEFAULT_TABLE.to_string(),
        Some("json") => "{{json .}}".to_string(),
        Some(f) => f.to_string(),
    };
    // As Docker's CLI: a format that shows .Size asks for the sizes too
    // (walking every writable layer is the cost -s opts into).
    let sized = a.size || format.contains(".Size");
    let rows: Vec<Value> = all
        .iter()
        .map(|c| {
            let size = if sized {
                engine.container_size(c)
            } else {
                ContainerSize::default()
            };
            row(c, a.no_trunc, size)
        })
        .collect();
    out.write_all(listing::render(&format, HEADERS, &rows)?.as_bytes())?;
    Ok(())
}
