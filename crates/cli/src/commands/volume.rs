//! `berth volume create|ls|inspect|rm|prune` with Docker's output, and the
//! mount flags of `run`/`create` (`-v`, `--mount`, `--tmpfs`,
//! `--volumes-from`).

use std::collections::BTreeMap;
use std::io::{self, BufRead, Write};

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use engine::volume::{MountFlags, Volume, VolumeFilter, Volumes};
use serde_json::{json, Value};

use super::open_store;
use crate::template::Template;
use crate::units::human_size;
use crate::{listing, Globals};

/// The mount flags shared by `run` and `create`.
#[derive(Args, Debug, Default)]
pub struct MountArgs {
    /// Bind mount a volume.
    #[arg(short = 'v', long = "volume", value_name = "list")]
    volume: Vec<String>,
    /// Attach a filesystem mount to the container.
    #[arg(long = "mount", value_name = "mount")]
    mount: Vec<String>,
    /// Mount a tmpfs directory.
    #[arg(long = "tmpfs", value_name = "list")]
    tmpfs: Vec<String>,
    /// Mount volumes from the specified container(s).
    #[arg(long = "volumes-from", value_name = "list")]
    volumes_from: Vec<String>,
}

impl MountArgs {
    /// The flags as the engine takes them.
    pub fn flags(&self) -> MountFlags {
        MountFlags {
            volumes: self.volume.clone(),
            mounts: self.mount.clone(),
            tmpfs: self.tmpfs.clone(),
            volumes_from: self.volumes_from.clone(),
        }
    }
}

/// `berth volume …`.
#[derive(Subcommand, Debug)]
pub enum VolumeCommand {
    /// Create a volume
    Create(CreateArgs),
    /// List volumes
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more volumes
    Inspect(InspectArgs),
    /// Remove one or more volumes
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Remove unused local volumes
    Prune(PruneArgs),
}

/// `volume create`.
#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Specify volume driver name.
    #[arg(
        short = 'd',
        long = "driver",
        default_value = "local",
        value_name = "string"
    )]
    driver: String,
    /// Set metadata for a volume.
    #[arg(long = "label", value_name = "list")]
    label: Vec<String>,
    /// Set driver specific options.
    #[arg(short = 'o', long = "opt", value_name = "map")]
    opt: Vec<String>,
    /// Specify volume name.
    #[arg(long = "name", value_name = "string", hide = true)]
    name: Option<String>,
    /// The volume name.
    #[arg(value_name = "VOLUME")]
    volume: Option<String>,
}

/// `volume ls`.
#[derive(Args, Debug)]
pub struct LsArgs {
    /// Only display volume names.
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Provide filter values (e.g. "dangling=true").
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    filter: Vec<String>,
    /// Format output using a custom template.
    #[arg(long, value_name = "string")]
    format: Option<String>,
}

/// `volume inspect`.
#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format output using a custom template.
    #[arg(short = 'f', long, value_name = "string")]
    format: Option<String>,
    /// Volumes.
    #[arg(value_name = "VOLUME", required = true)]
    volumes: Vec<String>,
}

/// `volume rm`.
#[derive(Args, Debug)]
pub struct RmArgs {
    /// Force the removal of one or more volumes.
    #[arg(short = 'f', long)]
    force: bool,
    /// Volumes.
    #[arg(value_name = "VOLUME", required = true)]
    volumes: Vec<String>,
}

/// `volume prune`.
#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Remove all unused volumes, not just anonymous ones.
    #[arg(short = 'a', long)]
    all: bool,
    /// Provide filter values (e.g. "label=<label>").
    #[arg(long = "filter", value_name = "filter")]
    filter: Vec<String>,
    /// Do not prompt for confirmation.
    #[arg(short = 'f', long)]
    force: bool,
}

/// Runs a `volume` subcommand.
pub fn run(g: &Globals, cmd: VolumeCommand) -> Result<()> {
    match cmd {
        VolumeCommand::Create(a) => create(g, a),
        VolumeCommand::Ls(a) => ls(g, a),
        VolumeCommand::Inspect(a) => inspect(g, a),
        VolumeCommand::Rm(a) => rm(g, a),
        VolumeCommand::Prune(a) => prune(g, a),
    }
}

fn daemon(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("Error response from daemon: {e}")
}

fn key_values(list: &[String]) -> BTreeMap<String, String> {
    list.iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect()
}

/// `volume create`: prints the name.
pub fn create(g: &Globals, a: CreateArgs) -> Result<()> {
    let name = match (&a.name, &a.volume) {
        (Some(n), Some(v)) if n != v => {
            bail!("conflicting options: either specify --name or provide positional arg, not both")
        }
        (n, v) => n.clone().or_else(|| v.clone()),
    };
    for o in &a.opt {
        if !o.contains('=') {
            bail!("invalid argument \"{o}\" for \"-o, --opt\" flag: bad format {o}, expected key=value");
        }
    }
    let store = open_store(g)?;
    let vols = Volumes::open(&store)?;
    let v = vols
        .create(
            name.as_deref(),
            &a.driver,
            key_values(&a.label),
            key_values(&a.opt),
        )
        .map_err(daemon)?;
    println!("{}", v.name);
    Ok(())
}

fn parse_filters(list: &[String]) -> Result<VolumeFilter> {
    let mut f = VolumeFilter::default();
    for item in list {
        let Some((k, v)) = item.split_once('=') else {
            bail!("bad format of filter (expected name=value)");
        };
        match k.to_ascii_lowercase().as_str() {
            "dangling" => {
                f.dangling = Some(match v.to_ascii_lowercase().as_str() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => bail!(daemon(format!("invalid filter 'dangling={v}'"))),
                })
            }
            "name" => f.names.push(v.to_string()),
            "label" => f.labels.push(v.to_string()),
            "driver" => f.drivers.push(v.to_string()),
            _ => bail!(daemon(format!("invalid filter '{k}'"))),
        }
    }
    Ok(f)
}

/// The row a `--format` template sees (Docker's volume formatter fields).
fn row(v: &Volume) -> Value {
    let labels = v
        .labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    json!({
        "Name": v.name,
        "Driver": v.driver,
        "Scope": v.scope,
        "Mountpoint": v.mountpoint,
        "Labels": labels,
        "Links": "N/A",
        "Size": "N/A",
        "CreatedAt": v.created_at,
    })
}

const HEADERS: &[(&str, &str)] = &[
    ("Name", "VOLUME NAME"),
    ("Driver", "DRIVER"),
    ("Scope", "SCOPE"),
    ("Mountpoint", "MOUNTPOINT"),
    ("Labels", "LABELS"),
    ("Links", "LINKS"),
    ("Size", "SIZE"),
    ("CreatedAt", "CREATED"),
];

/// `volume ls`.
pub fn ls(g: &Globals, a: LsArgs) -> Result<()> {
    let filter = parse_filters(&a.filter)?;
    let store = open_store(g)?;
    let vols = Volumes::open(&store)?.list(&filter)?;
    let mut out = io::stdout().lock();
    if a.quiet {
        for v in &vols {
            writeln!(out, "{}", v.name)?;
        }
        return Ok(());
    }
    let format = match a.format.as_deref() {
        None | Some("") | Some("table") => "table {{.Driver}}\t{{.Name}}".to_string(),
        Some("json") => "{{json .}}".to_string(),
        Some(f) => f.to_string(),
    };
    let rows: Vec<Value> = vols.iter().map(row).collect();
    out.write_all(listing::render(&format, HEADERS, &rows)?.as_bytes())?;
    Ok(())
}

/// `volume inspect`: Docker's JSON array, or one template output per volume.
pub fn inspect(g: &Globals, a: InspectArgs) -> Result<()> {
    let tpl = match a.format.as_deref() {
        None | Some("") => None,
        Some("json") => Some(Template::parse("{{json .}}")?),
        Some(f) => Some(Template::parse(f)?),
    };
    let store = open_store(g)?;
    let vols = Volumes::open(&store)?;
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    for name in &a.volumes {
        match vols.get(name) {
            Ok(v) => docs.push(serde_json::to_value(&v)?),
            Err(_) => errors.push(format!("No such volume: {name}")),
        }
    }
    let mut out = io::stdout().lock();
    match tpl {
        Some(t) => {
            for d in &docs {
                writeln!(
                    out,
                    "{}",
                    t.render(&super::template_value(d, super::VOLUME_NILS)?)?
                )?;
            }
        }
        None => writeln!(out, "{}", super::docker_json_indent(&docs)?)?,
    }
    out.flush()?;
    if !errors.is_empty() {
        bail!("{}", errors.join("\n"));
    }
    Ok(())
}

/// `volume rm`: prints each removed name; carries on past failures.
pub fn rm(g: &Globals, a: RmArgs) -> Result<()> {
    let store = open_store(g)?;
    let vols = Volumes::open(&store)?;
    let mut out = io::stdout().lock();
    let mut errors = Vec::new();
    for name in &a.volumes {
        match vols.remove(name, a.force) {
            Ok(()) => writeln!(out, "{name}")?,
            Err(e) => errors.push(daemon(e).to_string()),
        }
    }
    out.flush()?;
    if !errors.is_empty() {
        bail!("{}", errors.join("\n"));
    }
    Ok(())
}

/// `volume prune`: unused anonymous volumes (all unused with `-a`).
pub fn prune(g: &Globals, a: PruneArgs) -> Result<()> {
    let mut labels = Vec::new();
    for f in &a.filter {
        match f.split_once('=') {
            Some(("label", v)) => labels.push(v.to_string()),
            Some((k, _)) => bail!(daemon(format!("invalid filter '{k}'"))),
            None => bail!("bad format of filter (expected name=value)"),
        }
    }
    let mut out = io::stdout().lock();
    if !a.force {
        let what = if a.all { "all" } else { "anonymous" };
        write!(
            out,
            "WARNING! This will remove {what} local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] "
        )?;
        out.flush()?;
        let mut answer = String::new();
        io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y") {
            return Ok(());
        }
    }
    let store = open_store(g)?;
    let report = Volumes::open(&store)?.prune(a.all, &labels)?;
    if !report.deleted.is_empty() {
        writeln!(out, "Deleted Volumes:")?;
        for n in &report.deleted {
            writeln!(out, "{n}")?;
        }
        writeln!(out)?;
    }
    writeln!(
        out,
        "Total reclaimed space: {}",
        human_size(report.reclaimed as f64, 4)
    )?;
    Ok(())
}
