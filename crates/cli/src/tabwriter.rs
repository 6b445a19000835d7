//! Column alignment as Go's `text/tabwriter` does it for Docker's tables
//! (`tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`): each tab-terminated cell
//! is padded to the widest cell of its column plus 3, at least 10; the last
//! cell of a line is not aligned.

/// Docker's table settings: minimum cell width and padding.
const MIN_WIDTH: usize = 10;
const PADDING: usize = 3;

/// Aligns `lines` (cells separated by `\t`) and returns the text, each line
/// ended by `\n`.
pub fn align(lines: &[String]) -> String {
    let rows: Vec<Vec<&str>> = lines.iter().map(|l| l.split('\t').collect()).collect();
    let mut out = String::new();
    // Go's tabwriter aligns a column over a block of consecutive lines that
    // all have that column terminated by a tab; rows of one table share
    // the shape, so per-column maxima over contiguous runs suffice.
    let widths = column_widths(&rows);
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if c + 1 < row.len() {
                let w = widths[r][c];
                let n = cell.chars().count();
                out.extend(std::iter::repeat_n(' ', w.saturating_sub(n)));
            }
        }
        out.push('\n');
    }
    out
}

/// For each row and each of its terminated cells, the width of that cell's
/// column block.
fn column_widths(rows: &[Vec<&str>]) -> Vec<Vec<usize>> {
    let mut widths: Vec<Vec<usize>> = rows
        .iter()
        .map(|r| vec![0; r.len().saturating_sub(1)])
        .collect();
    let max_cols = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    for c in 0..max_cols {
        let mut r = 0;
        while r < rows.len() {
            if rows[r].len() <= c + 1 {
                r += 1;
                continue;
            }
            let start = r;
            let mut w = MIN_WIDTH;
            while r < rows.len() && rows[r].len() > c + 1 {
                w = w.max(rows[r][c].chars().count() + PADDING);
                r += 1;
            }
            for row in widths.iter_mut().take(r).skip(start) {
                row[c] = w;
            }
        }
    }
    widths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_images_table() {
        let lines = vec![
            "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE".to_string(),
            "busybox\tlatest\tbeae173ccac6\t2 years ago\t4.26MB".to_string(),
        ];
        assert_eq!(
            align(&lines),
            "REPOSITORY   TAG       IMAGE ID       CREATED       SIZE\n\
             busybox      latest    beae173ccac6   2 years ago   4.26MB\n"
        );
    }

    #[test]
    fn single_column_is_untouched() {
        assert_eq!(align(&["abc".to_string()]), "abc\n");
    }
}
