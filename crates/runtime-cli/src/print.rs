//! Output of `list` and `ps` in runc's table and JSON shapes.

use std::process::Command;

use anyhow::{bail, Context};
use runtime::container::ListEntry;

/// `list`: a table (runc's tabwriter: min width 12, padding 3), the ids
/// only with `-q`, or a JSON array of states.
pub fn list(format: &str, quiet: bool, entries: &[ListEntry]) -> anyhow::Result<()> {
    if quiet {
        for e in entries {
            println!("{}", e.id);
        }
        return Ok(());
    }
    match format {
        "json" => println!("{}", serde_json::to_string(entries)?),
        "table" => {
            let mut rows =
                vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from)];
            for e in entries {
                rows.push([
                    e.id.clone(),
                    e.pid.to_string(),
                    e.status.clone(),
                    e.bundle.clone(),
                    e.created.clone(),
                    e.owner.clone(),
                ]);
            }
            print!("{}", table(&rows));
        }
        other => bail!("invalid format option {other:?}: want table or json"),
    }
    Ok(())
}

/// Aligns columns as Go's `tabwriter.NewWriter(w, 12, 1, 3, ' ', 0)`.
fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max((c.chars().count() + 3).max(12));
        }
    }
    let mut out = String::new();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i + 1 == N {
                out.push_str(c);
            } else {
                out.push_str(&format!("{c:<w$}", w = widths[i]));
            }
        }
        out.push('\n');
    }
    out
}

/// `ps`: the pids as JSON, or ps(1)'s output (default `-ef`) filtered to
/// the container's processes, as runc does.
pub fn ps(format: &str, pids: &[i32], ps_args: &[String]) -> anyhow::Result<()> {
    match format {
        "json" => {
            println!("{}", serde_json::to_string(pids)?);
            return Ok(());
        }
        "table" => {}
        other => bail!("invalid format option {other:?}: want table or json"),
    }
    let args: Vec<String> = if ps_args.is_empty() {
        vec!["-ef".into()]
    } else {
        ps_args.to_vec()
    };
    let out = Command::new("ps").args(&args).output().context("run ps")?;
    if !out.status.success() {
        bail!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .context("ps output has no PID column")?;
    println!("{header}");
    for l in lines {
        let pid = l
            .split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            println!("{l}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_pads_like_tabwriter() {
        let t = table(&[
            ["ID".to_string(), "X".to_string()],
            ["abc".to_string(), "y".to_string()],
        ]);
        assert_eq!(t, "ID          X\nabc         y\n");
    }
}
