//! `berth inspect`: Docker's top-level inspect, which looks a name up as
//! a container first and then as an image (`--type` narrows it).

use std::io::{self, Write};

use anyhow::{bail, Result};
use clap::Args;
use serde::Serialize;
use serde_json::Value;

use super::containers::open_engine;
use super::{
    docker_json_compact, docker_json_indent, inspect_doc, is_whole_json, open_store,
    template_value, CONTAINER_NILS, IMAGE_NILS,
};
use crate::template::{Nil, Template};
use crate::Globals;

/// `berth inspect`.
#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Objects to inspect (names or ids).
    #[arg(value_name = "NAME", required = true)]
    pub names: Vec<String>,
    /// Format output using a custom template ('json' or a Go template).
    #[arg(short = 'f', long, value_name = "string")]
    pub format: Option<String>,
    /// Display total file sizes if the type is container.
    #[arg(short = 's', long)]
    pub size: bool,
    /// Only this type of object (`container` or `image`).
    #[arg(long = "type", value_name = "string")]
    pub kind: Option<String>,
}

/// `berth inspect [-s] [--type container|image] NAME...`.
pub fn inspect(g: &Globals, a: InspectArgs) -> Result<()> {
    let kind = a.kind.as_deref().unwrap_or("");
    if !matches!(kind, "" | "container" | "image") {
        bail!("{kind:?} is not a valid value for --type");
    }
    let format = match a.format.as_deref() {
        None | Some("") => None,
        Some("json") => Some("{{json .}}"),
        Some(f) => Some(f),
    };
    let tpl = format.map(Template::parse).transpose()?;
    let whole_json = format.is_some_and(is_whole_json);
    let engine = if kind == "image" {
        None
    } else {
        Some(open_engine(g)?)
    };
    let store = open_store(g)?;
    // Each object as (its Docker-ordered JSON text, indented or compact
    // for `{{json .}}`, and its value for other templates).
    let mut docs: Vec<(String, Value)> = Vec::new();
    let mut errors = Vec::new();
    for name in &a.names {
        if let Some(c) = engine
            .as_ref()
            .and_then(|e| e.find(name).ok().map(|c| (e, c)))
        {
            docs.push(shown(
                &c.0.inspect_doc(&c.1, a.size),
                whole_json,
                CONTAINER_NILS,
            )?);
            continue;
        }
        if kind != "container" {
            if let Ok(doc) = store.resolve(name).and_then(|id| inspect_doc(&store, &id)) {
                docs.push(shown(&doc, whole_json, IMAGE_NILS)?);
                continue;
            }
        }
        errors.push(format!("No such object: {name}"));
    }
    let mut out = io::stdout().lock();
    match tpl {
        Some(_) if whole_json => {
            for (text, _) in &docs {
                writeln!(out, "{text}")?;
            }
        }
        Some(t) => {
            for (_, v) in &docs {
                writeln!(out, "{}", t.render(v)?)?;
            }
        }
        None => writeln!(out, "{}", json_array(&docs))?,
    }
    out.flush()?;
    if !errors.is_empty() {
        bail!("{}", errors.join("; "));
    }
    Ok(())
}

/// A document as (its JSON text in its own field order: compact for
/// `{{json .}}`, else indented; its value for templates, with its `null`
/// slices and maps typed by `nils`).
fn shown<T: Serialize>(doc: &T, whole_json: bool, nils: &[(&str, Nil)]) -> Result<(String, Value)> {
    let text = if whole_json {
        docker_json_compact(doc)?
    } else {
        docker_json_indent(doc)?
    };
    Ok((text, template_value(doc, nils)?))
}

/// Docker's indented JSON array of already indented documents; the
/// documents keep their own field order (containers' and images' differ).
fn json_array(docs: &[(String, Value)]) -> String {
    if docs.is_empty() {
        return "[]".into();
    }
    let items: Vec<String> = docs
        .iter()
        .map(|(text, _)| {
            text.lines()
                .map(|l| format!("    {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect();
    format!("[\n{}\n]", items.join(",\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_indents_each_document_once() {
        let a = docker_json_indent(&serde_json::json!({"Id": "x", "Config": {"A": 1}})).unwrap();
        let docs = vec![(a, Value::Null), ("{}".to_string(), Value::Null)];
        assert_eq!(
            json_array(&docs),
            "[\n    {\n        \"Config\": {\n            \"A\": 1\n        },\n        \"Id\": \"x\"\n    },\n    {}\n]"
        );
        assert_eq!(json_array(&[]), "[]");
    }
}
