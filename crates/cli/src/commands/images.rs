//! `images`, `tag`, `rmi`, `inspect` and `image prune`: image management
//! with Docker's flags, columns and messages.

use std::io::{self, BufRead, Write};

use anyhow::{bail, Result};
use clap::Args;
use serde_json::{json, Value};
use storage::{Image, RemoveEvent};

use super::{container_using, inspect_doc, open_store};
use crate::listing;
use crate::template::Template;
use crate::units::{human_duration, human_size};
use crate::Globals;

/// `berth images` / `berth image ls`.
#[derive(Args)]
pub struct ListArgs {
    /// Only images of this repository (and tag).
    #[arg(value_name = "REPOSITORY[:TAG]")]
    reference: Option<String>,
    /// Show all images (default hides intermediate images).
    #[arg(short = 'a', long)]
    all: bool,
    /// Show digests.
    #[arg(long)]
    digests: bool,
    /// Filter output based on conditions provided (`dangling=true|false`,
    /// `reference=PATTERN`).
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    filters: Vec<String>,
    /// Format output using a custom template ('table', 'table TEMPLATE',
    /// 'json', or a Go template).
    #[arg(long, value_name = "string")]
    format: Option<String>,
    /// Don't truncate output.
    #[arg(long)]
    no_trunc: bool,
    /// Only show image IDs.
    #[arg(short = 'q', long)]
    quiet: bool,
}

/// `berth tag`.
#[derive(Args)]
pub struct TagArgs {
    /// The existing image (name or id).
    #[arg(value_name = "SOURCE_IMAGE[:TAG]")]
    source: String,
    /// The new name.
    #[arg(value_name = "TARGET_IMAGE[:TAG]")]
    target: String,
}

/// `berth rmi`.
#[derive(Args)]
pub struct RmiArgs {
    /// Images to remove (names or ids).
    #[arg(value_name = "IMAGE", required = true)]
    images: Vec<String>,
    /// Force removal of the image.
    #[arg(short = 'f', long)]
    force: bool,
    /// Do not delete untagged parents (berth images have none).
    #[arg(long)]
    no_prune: bool,
}

/// `berth inspect` / `berth image inspect`.
#[derive(Args)]
pub struct InspectArgs {
    /// Objects to inspect (names or ids).
    #[arg(value_name = "NAME", required = true)]
    pub images: Vec<String>,
    /// Format output using a custom template ('json' or a Go template).
    #[arg(short = 'f', long, value_name = "string")]
    pub format: Option<String>,
    /// Only this type of object (`container` or `image`).
    #[arg(long = "type", value_name = "string")]
    pub kind: Option<String>,
}

/// `berth image prune`.
#[derive(Args)]
pub struct PruneArgs {
    /// Remove all unused images, not just dangling ones.
    #[arg(short = 'a', long)]
    all: bool,
    /// Do not prompt for confirmation.
    #[arg(short = 'f', long)]
    force: bool,
}

/// Docker's default `images` table.
const DEFAULT_TABLE: &str =
    "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";
const DIGESTS_TABLE: &str =
    "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";

/// Column headers of `images` tables, by field.
const HEADERS: &[(&str, &str)] = &[
    ("Repository", "REPOSITORY"),
    ("Tag", "TAG"),
    ("Digest", "DIGEST"),
    ("ID", "IMAGE ID"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("Size", "SIZE"),
    ("Containers", "CONTAINERS"),
    ("SharedSize", "SHARED SIZE"),
    ("UniqueSize", "UNIQUE SIZE"),
    ("VirtualSize", "VIRTUAL SIZE"),
];

/// One row of `docker images`: an image under one of its names.
fn rows(img: &Image, no_trunc: bool, now: i64) -> Vec<Value> {
    let id = if no_trunc {
        img.id.to_string()
    } else {
        img.id.short().to_string()
    };
    let created = img
        .created
        .as_deref()
        .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
        .map(|t| t.timestamp());
    let (since, at) = match created {
        Some(t) => (
            format!("{} ago", human_duration(now - t)),
            chrono::DateTime::from_timestamp(t, 0)
                .map(|d| d.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string())
                .unwrap_or_default(),
        ),
        None => ("N/A".to_string(), "N/A".to_string()),
    };
    let size = human_size(img.size as f64, 3);
    let row = |repo: String, tag: String, digest: String| {
        json!({
            "Containers": "N/A",
            "CreatedAt": at,
            "CreatedSince": since,
            "Digest": digest,
            "ID": id,
            "Repository": repo,
            "SharedSize": "N/A",
            "Size": size,
            "Tag": tag,
            "UniqueSize": "N/A",
            "VirtualSize": human_size(img.size as f64, 4),
        })
    };
    let digest_of = |repo: &str| {
        img.repo_digests
            .iter()
            .find(|d| d.name() == repo)
            .and_then(|d| d.digest())
            .map(|d| d.to_string())
            .unwrap_or_else(|| "<none>".into())
    };
    let mut out = Vec::new();
    for t in &img.repo_tags {
        out.push(row(
            t.familiar_name(),
            t.tag().unwrap_or("<none>").to_string(),
            digest_of(&t.name()),
        ));
    }
    // Repositories known only by digest show with tag <none>.
    for d in &img.repo_digests {
        if !img.repo_tags.iter().any(|t| t.name() == d.name()) {
            out.push(row(
                d.familiar_name(),
                "<none>".into(),
                d.digest().map(|x| x.to_string()).unwrap_or_default(),
            ));
        }
    }
    if out.is_empty() {
        out.push(row("<none>".into(), "<none>".into(), "<none>".into()));
    }
    out
}

/// Whether a row passes the positional `REPOSITORY[:TAG]` and `--filter`s.
fn keep(img: &Image, row: &Value, reference: Option<&str>, filters: &[(String, String)]) -> bool {
    let repo = row["Repository"].as_str().unwrap_or_default();
    let tag = row["Tag"].as_str().unwrap_or_default();
    if let Some(r) = reference {
        if !matches_ref(r, repo, tag) {
            return false;
        }
    }
    for (k, v) in filters {
        let ok = match k.as_str() {
            "dangling" => (v == "true") == img.repo_tags.is_empty(),
            "reference" => matches_ref(v, repo, tag),
            _ => true,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Docker matches `REPOSITORY[:TAG]` against the familiar name with
/// shell-style wildcards.
fn matches_ref(pattern: &str, repo: &str, tag: &str) -> bool {
    let (prepo, ptag) = match pattern.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, Some(t)),
        _ => (pattern, None),
    };
    glob(prepo, repo) && ptag.is_none_or(|t| glob(t, tag))
}

/// `*` and `?` wildcards (path.Match without classes; `*` stops at `/`).
fn glob(p: &str, s: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some(b'*') => (0..=s.len())
                .take_while(|&i| i == 0 || s[i - 1] != b'/')
                .any(|i| go(&p[1..], &s[i..])),
            Some(b'?') => !s.is_empty() && s[0] != b'/' && go(&p[1..], &s[1..]),
            Some(c) => s.first() == Some(c) && go(&p[1..], &s[1..]),
        }
    }
    go(p.as_bytes(), s.as_bytes())
}

fn parse_filters(raw: &[String]) -> Result<Vec<(String, String)>> {
    raw.iter()
        .map(|f| match f.split_once('=') {
            Some((k, v)) if matches!(k, "dangling" | "reference") => {
                if k == "dangling" && !matches!(v, "true" | "false" | "1" | "0") {
                    bail!("invalid filter 'dangling={v}'");
                }
                let v = match v {
                    "1" => "true",
                    "0" => "false",
                    v => v,
                };
                Ok((k.to_string(), v.to_string()))
            }
            Some((k, _)) => bail!("invalid filter '{k}'"),
            None => bail!("bad format of filter (expected name=value)"),
        })
        .collect()
}

/// `berth images`.
pub fn list(g: &Globals, a: ListArgs) -> Result<()> {
    let filters = parse_filters(&a.filters)?;
    let store = open_store(g)?;
    let now = chrono::Utc::now().timestamp();
    let mut lines: Vec<Value> = Vec::new();
    for img in store.list_images()? {
        for row in rows(&img, a.no_trunc, now) {
            if keep(&img, &row, a.reference.as_deref(), &filters) {
                lines.push(row);
            }
        }
    }
    let mut out = io::stdout().lock();
    if a.quiet {
        for r in &lines {
            writeln!(out, "{}", r["ID"].as_str().unwrap_or_default())?;
        }
        return Ok(());
    }
    let format = match a.format.as_deref() {
        None | Some("") | Some("table") if a.digests => DIGESTS_TABLE.to_string(),
        None | Some("") | Some("table") => DEFAULT_TABLE.to_string(),
        Some("json") => "{{json .}}".to_string(),
        Some(f) => f.to_string(),
    };
    write_rows(&mut out, &format, &lines)?;
    Ok(())
}

/// Renders rows with a Docker `--format` (see [`listing::render`]).
fn write_rows(out: &mut impl Write, format: &str, rows: &[Value]) -> Result<()> {
    out.write_all(listing::render(format, HEADERS, rows)?.as_bytes())?;
    Ok(())
}

/// `berth tag SOURCE TARGET`.
pub fn tag(g: &Globals, a: TagArgs) -> Result<()> {
    let store = open_store(g)?;
    store.tag(&a.source, &a.target)?;
    Ok(())
}

/// `berth rmi`: prints `Untagged: …` / `Deleted: …`; carries on past a
/// failing image and fails at the end, as Docker does.
pub fn rmi(g: &Globals, a: RmiArgs) -> Result<()> {
    let store = open_store(g)?;
    let in_use = container_using(g)?;
    let mut out = io::stdout().lock();
    let mut errors = Vec::new();
    for name in &a.images {
        match store.remove_image(name, a.force, &in_use) {
            Ok(events) => {
                for e in events {
                    match e {
                        RemoveEvent::Untagged(r) => {
                            writeln!(out, "Untagged: {}", r.familiar_string())?
                        }
                        RemoveEvent::Deleted(id) => writeln!(out, "Deleted: {id}")?,
                    }
                }
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    out.flush()?;
    if !errors.is_empty() {
        bail!("{}", errors.join("; "));
    }
    Ok(())
}

/// `berth image inspect`: Docker's JSON array (4-space indent), or one
/// template output per image with `-f`.
pub fn inspect(g: &Globals, a: InspectArgs) -> Result<()> {
    if let Some(k) = &a.kind {
        if k != "image" {
            bail!("{k:?} is not a valid value for --type (only \"image\" is supported yet)");
        }
    }
    let tpl = match a.format.as_deref() {
        None | Some("") => None,
        Some("json") => Some(Template::parse("{{json .}}")?),
        Some(f) => Some(Template::parse(f)?),
    };
    let store = open_store(g)?;
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    for name in &a.images {
        match store.resolve(name).and_then(|id| inspect_doc(&store, &id)) {
            Ok(v) => docs.push(v),
            Err(e) => errors.push(e.to_string()),
        }
    }
    let mut out = io::stdout().lock();
    match tpl {
        Some(t) => {
            for d in &docs {
                writeln!(
                    out,
                    "{}",
                    t.render(&super::template_value(d, super::IMAGE_NILS)?)?
                )?;
            }
        }
        None => {
            let text = super::docker_json_indent(&docs)?;
            writeln!(out, "{text}")?;
        }
    }
    out.flush()?;
    if !errors.is_empty() {
        bail!("{}", errors.join("; "));
    }
    Ok(())
}

/// `berth image prune`: asks first unless `-f`, then prints Docker's
/// `Deleted Images:` list and `Total reclaimed space:`.
pub fn prune(g: &Globals, a: PruneArgs) -> Result<()> {
    if !a.force {
        let what = if a.all {
            "all images without at least one container associated to them"
        } else {
            "all dangling images"
        };
        eprint!("WARNING! This will remove {what}.\nAre you sure you want to continue? [y/N] ");
        let mut answer = String::new();
        io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            return Ok(());
        }
    }
    let store = open_store(g)?;
    let in_use = container_using(g)?;
    let (events, reclaimed) = store.prune_images(a.all, &in_use)?;
    let mut out = io::stdout().lock();
    if !events.is_empty() {
        writeln!(out, "Deleted Images:")?;
        for e in events {
            match e {
                RemoveEvent::Untagged(r) => writeln!(out, "untagged: {}", r.familiar_string())?,
                RemoveEvent::Deleted(id) => writeln!(out, "deleted: {id}")?,
            }
        }
        writeln!(out)?;
    }
    writeln!(
        out,
        "Total reclaimed space: {}",
        human_size(reclaimed as f64, 4)
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_patterns() {
        assert!(matches_ref("busybox", "busybox", "latest"));
        assert!(matches_ref("busybox:latest", "busybox", "latest"));
        assert!(!matches_ref("busybox:1", "busybox", "latest"));
        assert!(matches_ref("busy*", "busybox", "latest"));
        assert!(!matches_ref("*", "foo/bar", "latest"));
        assert!(matches_ref("localhost:5000/x", "localhost:5000/x", "v1"));
        assert!(matches_ref("localhost:5000/x:v1", "localhost:5000/x", "v1"));
    }

    #[test]
    fn table_output_matches_docker() {
        let row = json!({"Repository": "busybox", "Tag": "latest", "ID": "a94547699b5f",
            "CreatedSince": "3 minutes ago", "Size": "1.98MB"});
        let mut out = Vec::new();
        write_rows(&mut out, DEFAULT_TABLE, &[row]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "REPOSITORY   TAG       IMAGE ID       CREATED         SIZE\n\
             busybox      latest    a94547699b5f   3 minutes ago   1.98MB\n"
        );
    }

    #[test]
    fn filters_parse() {
        assert!(parse_filters(&["dangling=true".into()]).is_ok());
        assert!(parse_filters(&["dangling=maybe".into()]).is_err());
        assert!(parse_filters(&["bogus=1".into()]).is_err());
    }
}
