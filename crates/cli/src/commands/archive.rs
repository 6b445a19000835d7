//! `import`, `load` and `save`: image archives in and out, with Docker's
//! flags and messages (`--format` as podman's).

use std::fs::File;
use std::io::{self, BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use storage::archive::{self, ArchiveFormat};
use storage::reference::Reference;

use super::open_store;
use crate::Globals;

/// `berth import`.
#[derive(Args)]
pub struct ImportArgs {
    /// Rootfs tarball (plain, gzip or zstd), or `-` for STDIN.
    #[arg(value_name = "file|-")]
    file: String,
    /// Name for the new image.
    #[arg(value_name = "REPOSITORY[:TAG]")]
    reference: Option<String>,
    /// Apply Dockerfile instruction to the created image.
    #[arg(short = 'c', long = "change", value_name = "list")]
    changes: Vec<String>,
    /// Set commit message for imported image.
    #[arg(short = 'm', long = "message", value_name = "string")]
    message: Option<String>,
    /// Set platform if server is multi-platform capable (only the host's).
    #[arg(long, value_name = "string")]
    platform: Option<String>,
}

/// `berth load`.
#[derive(Args)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN.
    #[arg(short = 'i', long = "input", value_name = "string")]
    input: Option<PathBuf>,
    /// Suppress the load output.
    #[arg(short = 'q', long)]
    quiet: bool,
}

/// `berth save`.
#[derive(Args)]
pub struct SaveArgs {
    /// Images to save (names or ids).
    #[arg(value_name = "IMAGE", required = true)]
    images: Vec<String>,
    /// Write to a file, instead of STDOUT.
    #[arg(short = 'o', long = "output", value_name = "string")]
    output: Option<PathBuf>,
    /// Archive format (as podman's `save --format`).
    #[arg(long, value_enum, default_value_t = Format::DockerArchive)]
    format: Format,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    DockerArchive,
    OciArchive,
}

/// Reads a whole input: the named file or STDIN.
fn input(path: &str) -> Result<Box<dyn Read>> {
    if path == "-" {
        return Ok(Box::new(BufReader::with_capacity(
            1 << 20,
            io::stdin().lock(),
        )));
    }
    let f = File::open(path).with_context(|| format!("open {path}"))?;
    Ok(Box::new(BufReader::with_capacity(1 << 20, f)))
}

/// `berth import FILE|- [REPOSITORY[:TAG]]`: prints the new image id.
pub fn import(g: &Globals, a: ImportArgs) -> Result<()> {
    if let Some(p) = &a.platform {
        let host = format!("linux/{}", archive::go_arch());
        if p != &host && p != "linux" {
            bail!("platform {p} is not supported: only {host}");
        }
    }
    let reference = a
        .reference
        .as_deref()
        .map(Reference::parse_with_default_tag)
        .transpose()?;
    if a.file.contains("://") {
        bail!("importing from a URL is not supported: {}", a.file);
    }
    let reader = input(&a.file)?;
    let store = open_store(g)?;
    let id = archive::import(
        &store,
        reader,
        reference.as_ref(),
        &a.changes,
        &a.file,
        a.message.as_deref(),
    )?;
    println!("{id}");
    Ok(())
}

/// `berth load [-i FILE] [-q]`: prints `Loaded image: NAME` per tag, or
/// `Loaded image ID: sha256:…` for an untagged image.
pub fn load(g: &Globals, a: LoadArgs) -> Result<()> {
    let reader: Box<dyn Read> = match &a.input {
        Some(p) => {
            let f = File::open(p).with_context(|| format!("open {}", p.display()))?;
            Box::new(BufReader::with_capacity(1 << 20, f))
        }
        None => {
            let stdin = io::stdin();
            if stdin.is_terminal() {
                bail!("requested load from stdin, but stdin is empty");
            }
            Box::new(BufReader::with_capacity(1 << 20, stdin.lock()))
        }
    };
    let store = open_store(g)?;
    let loaded = archive::load(&store, reader)?;
    if a.quiet {
        return Ok(());
    }
    let mut out = io::stdout().lock();
    for img in loaded {
        for (name, old) in &img.moved {
            writeln!(
                out,
                "The image {} already exists, renaming the old one with ID {old} to empty string",
                name.familiar_string()
            )?;
        }
        if img.names.is_empty() {
            writeln!(out, "Loaded image ID: {}", img.id)?;
        }
        for n in img.names {
            writeln!(out, "Loaded image: {}", n.familiar_string())?;
        }
    }
    Ok(())
}

/// `berth save [-o FILE] IMAGE...`: refuses to write to a terminal.
pub fn save(g: &Globals, a: SaveArgs) -> Result<()> {
    let format = match a.format {
        Format::DockerArchive => ArchiveFormat::DockerArchive,
        Format::OciArchive => ArchiveFormat::OciArchive,
    };
    let store = open_store(g)?;
    match &a.output {
        Some(path) => {
            // Write next to the target and rename, so a failed save never
            // leaves a truncated archive under the requested name.
            let tmp = path.with_file_name(format!(
                ".{}.berth-tmp",
                path.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            ));
            let f = File::create(&tmp).with_context(|| format!("create {}", tmp.display()))?;
            let res = archive::save(
                &store,
                &a.images,
                BufWriter::with_capacity(1 << 20, f),
                format,
            );
            if let Err(e) = res {
                let _ = std::fs::remove_file(&tmp);
                return Err(e.into());
            }
            std::fs::rename(&tmp, path).with_context(|| format!("rename to {}", path.display()))?;
        }
        None => {
            let stdout = io::stdout();
            if stdout.is_terminal() {
                bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            }
            archive::save(
                &store,
                &a.images,
                BufWriter::with_capacity(1 << 20, stdout.lock()),
                format,
            )?;
        }
    }
    Ok(())
}
