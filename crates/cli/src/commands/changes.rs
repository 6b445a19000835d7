//! The commands that turn a container's changes into images and files:
//! `commit`, `diff`, `export`, `cp`, and `history` of an image, with
//! Docker's flags and output.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};
use clap::{ArgAction, Args};
use engine::commit::CommitOptions;
use engine::cp::{CopyDest, CopySource};
use serde_json::Value;

use super::containers::open_engine;
use super::open_store;
use crate::tabwriter::align;
use crate::units::{human_duration, human_size};
use crate::Globals;

/// `berth commit`.
#[derive(Args, Debug)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>").
    #[arg(short = 'a', long, default_value = "")]
    author: String,
    /// Apply Dockerfile instruction to the created image.
    #[arg(short = 'c', long = "change", value_name = "list")]
    change: Vec<String>,
    /// Commit message.
    #[arg(short = 'm', long, default_value = "")]
    message: String,
    /// Pause container during commit.
    #[arg(short = 'p', long, default_value = "true", action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pause: bool,
    /// The container.
    #[arg(value_name = "CONTAINER")]
    container: String,
    /// REPOSITORY[:TAG] for the new image.
    #[arg(value_name = "REPOSITORY[:TAG]")]
    reference: Option<String>,
}

/// `berth commit`: prints the new image's id.
pub fn commit(g: &Globals, a: CommitArgs) -> Result<()> {
    let e = open_engine(g)?;
    let id = e.commit(
        &a.container,
        &CommitOptions {
            message: a.message,
            author: a.author,
            changes: a.change,
            pause: a.pause,
            reference: a.reference,
        },
    )?;
    println!("{id}");
    Ok(())
}

/// `berth diff`.
#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The container.
    #[arg(value_name = "CONTAINER")]
    container: String,
}

/// `berth diff`: one `A|C|D PATH` line per change.
pub fn diff(g: &Globals, a: DiffArgs) -> Result<()> {
    let e = open_engine(g)?;
    let mut out = BufWriter::new(io::stdout().lock());
    for c in e.diff(&a.container)? {
        writeln!(out, "{c}")?;
    }
    out.flush()?;
    Ok(())
}

/// `berth export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT.
    #[arg(short = 'o', long, value_name = "string")]
    output: Option<std::path::PathBuf>,
    /// The container.
    #[arg(value_name = "CONTAINER")]
    container: String,
}

/// `berth export`: the container's filesystem as a tar.
pub fn export(g: &Globals, a: ExportArgs) -> Result<()> {
    let e = open_engine(g)?;
    match &a.output {
        Some(p) => {
            // Written aside and renamed, so a failed export leaves no
            // truncated archive under the requested name.
            let dir = p
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let tmp = tempfile_in(dir, p)?;
            let f = std::fs::File::create(&tmp)
                .with_context(|| format!("cannot create {}", tmp.display()))?;
            let res = e
                .export(&a.container, BufWriter::with_capacity(1 << 20, f))
                .map_err(anyhow::Error::from)
                .and_then(|w| w.into_inner().map_err(|e| e.into_error().into()))
                .and_then(|f| f.sync_all().map_err(Into::into));
            match res {
                Ok(()) => std::fs::rename(&tmp, p)
                    .with_context(|| format!("cannot write {}", p.display())),
                Err(err) => {
                    let _ = std::fs::remove_file(&tmp);
                    Err(err)
                }
            }
        }
        None => {
            if io::IsTerminal::is_terminal(&io::stdout()) {
                bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            }
            let w = e.export(
                &a.container,
                BufWriter::with_capacity(1 << 20, io::stdout().lock()),
            )?;
            w.into_inner().map_err(|e| e.into_error())?.flush()?;
            Ok(())
        }
    }
}

fn tempfile_in(dir: &Path, p: &Path) -> Result<std::path::PathBuf> {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(dir.join(format!(".{name}.berth-export-{}", std::process::id())))
}

/// `berth cp`.
#[derive(Args, Debug)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information) — not supported.
    #[arg(short = 'a', long)]
    archive: bool,
    /// Always follow symbol link in SRC_PATH — not supported.
    #[arg(short = 'L', long)]
    follow_link: bool,
    /// Suppress progress output during copy (there is none).
    #[arg(short = 'q', long)]
    quiet: bool,
    /// CONTAINER:SRC_PATH or SRC_PATH or `-`.
    #[arg(value_name = "SRC")]
    src: String,
    /// CONTAINER:DEST_PATH or DEST_PATH or `-`.
    #[arg(value_name = "DEST")]
    dest: String,
}

/// `CONTAINER:PATH` (a leading `/` or `.` means a local path, as Docker).
fn split_container(s: &str) -> Option<(&str, &str)> {
    if s.starts_with('/') || s.starts_with('.') {
        return None;
    }
    s.split_once(':').filter(|(c, _)| !c.is_empty())
}

/// `berth cp`.
pub fn cp(g: &Globals, a: CpArgs) -> Result<()> {
    if a.archive || a.follow_link {
        bail!("cp: --archive and --follow-link are not supported");
    }
    let e = open_engine(g)?;
    match (split_container(&a.src), split_container(&a.dest)) {
        (Some(_), Some(_)) => bail!("copying between containers is not supported"),
        (None, None) => bail!("must specify at least one container source"),
        (Some((c, p)), None) => {
            if a.dest == "-" {
                let mut out = BufWriter::new(io::stdout().lock());
                e.copy_from(c, p, CopyDest::Tar(&mut out))?;
                out.flush()?;
            } else {
                e.copy_from(c, p, CopyDest::Path(Path::new(&a.dest)))?;
            }
            Ok(())
        }
        (None, Some((c, p))) => {
            if a.src == "-" {
                let mut input = io::stdin().lock();
                e.copy_to(c, CopySource::Tar(&mut input), p)?;
            } else {
                e.copy_to(c, CopySource::Path(Path::new(&a.src)), p)?;
            }
            Ok(())
        }
    }
}

/// `berth history`.
#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// Print sizes and dates in human readable format.
    #[arg(short = 'H', long, default_value = "true", action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    human: bool,
    /// Don't truncate output.
    #[arg(long)]
    no_trunc: bool,
    /// Only show image IDs.
    #[arg(short = 'q', long)]
    quiet: bool,
    /// The image.
    #[arg(value_name = "IMAGE")]
    image: String,
}

/// One row of `docker history`, newest first.
struct Row {
    id: String,
    created: Option<i64>,
    created_by: String,
    size: u64,
    comment: String,
}

/// `berth history`: Docker's columns `IMAGE CREATED CREATED BY SIZE COMMENT`.
pub fn history(g: &Globals, a: HistoryArgs) -> Result<()> {
    let store = open_store(g)?;
    let id = store.resolve(&a.image)?;
    let config: Value = serde_json::from_slice(&store.image_config_bytes(&id)?)
        .with_context(|| format!("image {id}: invalid config"))?;
    let layers = store.image_layers(&id)?;
    let mut sizes = layers.iter().map(|l| l.size);
    let mut rows = Vec::new();
    for h in config["history"].as_array().into_iter().flatten() {
        let empty = h["empty_layer"].as_bool().unwrap_or(false);
        rows.push(Row {
            id: "<missing>".into(),
            created: h["created"]
                .as_str()
                .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
                .map(|t| t.timestamp()),
            created_by: h["created_by"].as_str().unwrap_or("").to_string(),
            size: if empty { 0 } else { sizes.next().unwrap_or(0) },
            comment: h["comment"].as_str().unwrap_or("").to_string(),
        });
    }
    rows.reverse();
    match rows.first_mut() {
        Some(top) => {
            top.id = if a.no_trunc {
                id.to_string()
            } else {
                id.short().to_string()
            }
        }
        None => rows.push(Row {
            id: if a.no_trunc {
                id.to_string()
            } else {
                id.short().to_string()
            },
            created: None,
            created_by: String::new(),
            size: layers.iter().map(|l| l.size).sum(),
            comment: String::new(),
        }),
    }
    let mut out = io::stdout().lock();
    if a.quiet {
        for r in &rows {
            writeln!(out, "{}", r.id)?;
        }
        return Ok(());
    }
    let now = chrono::Utc::now().timestamp();
    let mut lines = vec!["IMAGE\tCREATED\tCREATED BY\tSIZE\tCOMMENT".to_string()];
    for r in &rows {
        let created = match (r.created, a.human) {
            (Some(t), true) => format!("{} ago", human_duration(now - t)),
            (Some(t), false) => chrono::DateTime::from_timestamp(t, 0)
                .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default(),
            (None, _) => "N/A".into(),
        };
        let by = r.created_by.replace('\t', " ");
        let by = if a.no_trunc { by } else { ellipsis(&by, 45) };
        let size = if a.human {
            human_size(r.size as f64, 3)
        } else {
            r.size.to_string()
        };
        lines.push(format!("{}\t{created}\t{by}\t{size}\t{}", r.id, r.comment));
    }
    out.write_all(align(&lines).as_bytes())?;
    Ok(())
}

/// Docker's `Ellipsis`: at most `max` characters, the last one `…`.
fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_paths_split_as_docker() {
        assert_eq!(split_container("c1:/etc"), Some(("c1", "/etc")));
        assert_eq!(split_container("/tmp/a:b"), None);
        assert_eq!(split_container("./a:b"), None);
        assert_eq!(split_container("file"), None);
    }

    #[test]
    fn ellipsis_keeps_width() {
        assert_eq!(ellipsis("abc", 45), "abc");
        let long = "x".repeat(50);
        let e = ellipsis(&long, 45);
        assert_eq!(e.chars().count(), 45);
        assert!(e.ends_with('…'));
    }
}
