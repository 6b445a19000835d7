//! Human-readable sizes and durations, printed exactly as Docker's
//! `go-units` package prints them (`HumanSizeWithPrecision`,
//! `HumanDuration`), so `berth images` matches `docker images`.

/// Decimal unit names used by `units.HumanSize` (base 1000).
const DECIMAL: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];

/// `units.HumanSizeWithPrecision(size, precision)`: base 1000, `%.*g`.
pub fn human_size(size: f64, precision: usize) -> String {
    let mut size = size;
    let mut i = 0;
    while size >= 1000.0 && i < DECIMAL.len() - 1 {
        size /= 1000.0;
        i += 1;
    }
    format!("{}{}", go_g(size, precision), DECIMAL[i])
}

/// Go's `%.{prec}g`: shortest of %e/%f at `prec` significant digits, with
/// trailing zeros removed.
pub fn go_g(v: f64, prec: usize) -> String {
    let prec = prec.max(1);
    if v == 0.0 {
        return "0".into();
    }
    let e = format!("{:.*e}", prec - 1, v);
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= prec as i32 {
        let mant = strip_zeros(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        strip_zeros(&format!("{v:.decimals$}")).to_string()
    }
}

fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// `units.HumanDuration`: "Less than a second", "About a minute",
/// "3 hours", "2 weeks", ... (the engine's, which `ps` STATUS uses too).
pub fn human_duration(secs: i64) -> String {
    engine::inspect::human_duration(chrono::Duration::seconds(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_docker() {
        assert_eq!(human_size(4_261_550.0, 3), "4.26MB");
        assert_eq!(human_size(4_261_550.0, 4), "4.262MB");
        assert_eq!(human_size(0.0, 3), "0B");
        assert_eq!(human_size(999.0, 3), "999B");
        assert_eq!(human_size(1000.0, 3), "1kB");
        assert_eq!(human_size(123_456_789.0, 3), "123MB");
        assert_eq!(human_size(999_900.0, 3), "1e+03kB");
        assert_eq!(human_size(1_500_000_000.0, 3), "1.5GB");
    }

    #[test]
    fn durations_like_docker() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(1), "1 second");
        assert_eq!(human_duration(59), "59 seconds");
        assert_eq!(human_duration(60), "About a minute");
        assert_eq!(human_duration(60 * 59), "59 minutes");
        assert_eq!(human_duration(3600), "About an hour");
        assert_eq!(human_duration(2 * 3600), "2 hours");
        assert_eq!(human_duration(3 * 86400), "3 days");
        assert_eq!(human_duration(20 * 86400), "2 weeks");
        assert_eq!(human_duration(90 * 86400), "3 months");
        assert_eq!(human_duration(3 * 365 * 86400), "3 years");
    }
}
