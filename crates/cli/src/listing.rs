//! Docker's `--format` for listings (`ps`, `images`, `volume ls`, `stats`):
//! `table …` renders the column titles as a header row and aligns the
//! columns as Docker's tabwriter; any other format is one template output
//! per row.

use serde_json::Value;

use crate::tabwriter;
use crate::template::{Template, TemplateError};

/// Renders `rows` with `format` (`\t` and `\n` written as escapes are
/// taken as tab and newline, as Docker's CLI does); `titles` maps each
/// field to its column title for the header row of a `table` format.
pub fn render(
    format: &str,
    titles: &[(&str, &str)],
    rows: &[Value],
) -> Result<String, TemplateError> {
    let format = format.replace("\\t", "\t").replace("\\n", "\n");
    if let Some(body) = format.strip_prefix("table") {
        let tpl = Template::parse(body.trim_start())?;
        let header = Value::Object(
            titles
                .iter()
                .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
                .collect(),
        );
        let mut lines = vec![tpl.render(&header)?];
        for r in rows {
            lines.push(tpl.render(r)?);
        }
        return Ok(tabwriter::align(&lines));
    }
    let tpl = Template::parse(&format)?;
    let mut text = String::new();
    for r in rows {
        text.push_str(&tpl.render(r)?);
        text.push('\n');
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_has_a_header_and_aligned_columns() {
        let rows = [
            json!({"A": "x", "B": "1"}),
            json!({"A": "longer", "B": "2"}),
        ];
        let text = render("table {{.A}}\\t{{.B}}", &[("A", "NAME"), ("B", "N")], &rows).unwrap();
        // Cells padded to the widest + 3, at least 10 wide (Docker's tabwriter).
        assert_eq!(text, "NAME      N\nx         1\nlonger    2\n");
    }

    #[test]
    fn other_formats_are_one_line_per_row() {
        let rows = [json!({"A": "x"}), json!({"A": "y"})];
        assert_eq!(render("{{.A}}", &[], &rows).unwrap(), "x\ny\n");
        assert!(render("{{.A", &[], &rows).is_err());
    }
}
