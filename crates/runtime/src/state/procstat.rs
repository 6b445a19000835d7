//! The liveness facts of a process from `/proc/<pid>/stat`: its state and
//! start time, which tell a live init from a zombie or a recycled pid.

use std::fs;

/// The fields of `/proc/<pid>/stat` the runtime needs.
#[derive(Debug, Clone, Copy)]
pub struct ProcStat {
    /// Process state letter (R, S, Z, ...).
    pub state: char,
    /// Start time in clock ticks after boot.
    pub start_time: u64,
}

/// Reads `/proc/<pid>/stat`; `None` if the process does not exist.
pub fn proc_stat(pid: i32) -> Option<ProcStat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// Parses a stat line; the command name may hold spaces and parens, so
/// fields are counted after the *last* `)`.
fn parse_stat(text: &str) -> Option<ProcStat> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // `rest` starts at field 3 (state); start time is field 22.
    let start_time = fields.nth(18)?.parse().ok()?;
    Some(ProcStat { state, start_time })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_stat_with_odd_comm() {
        let line = "123 (a) b (c)) S 1 123 123 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 10 18446744073709551615";
        let st = parse_stat(line).unwrap();
        assert_eq!(st.state, 'S');
        assert_eq!(st.start_time, 98765);
    }
}
