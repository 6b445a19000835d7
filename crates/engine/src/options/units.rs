//! Docker's unit parsers for `--memory` and `--cpus`, with its messages
//! (docker/go-units `RAMInBytes`, docker/cli `NanoCPUs`).

/// Parses a size in Docker's binary units (`b`, `k`, `m`, `g`, `t`, `p`, an
/// optional `i`/`b` suffix, case-insensitive, a decimal fraction allowed):
/// `512m` is 512 MiB. Returns `None` for anything go-units would refuse.
pub fn parse_ram_bytes(value: &str) -> Option<i64> {
    let s = value.trim_end();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
        return None;
    }
    let number: f64 = number.parse().ok()?;
    let suffix = suffix
        .strip_prefix(' ')
        .unwrap_or(suffix)
        .to_ascii_lowercase();
    let mut chars = suffix.chars();
    let multiplier: f64 = match chars.next() {
        None => 1.0,
        Some('b') if suffix.len() == 1 => 1.0,
        Some(c) => {
            let shift = match c {
                'k' => 10,
                'm' => 20,
                'g' => 30,
                't' => 40,
                'p' => 50,
                _ => return None,
            };
            let rest: String = chars.collect();
            if !matches!(rest.as_str(), "" | "b" | "i" | "ib") {
                return None;
            }
            (1u64 << shift) as f64
        }
    };
    let bytes = number * multiplier;
    if !bytes.is_finite() || bytes > i64::MAX as f64 {
        return None;
    }
    Some(bytes as i64)
}

/// Why a `--cpus` value was refused (docker/cli `NanoCPUs.Set`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CpusParseError {
    /// Not a decimal number at all.
    NotRational,
    /// More than nine decimal places: not a whole number of nano-CPUs.
    TooPrecise,
}

/// Parses `--cpus` (a decimal number of CPUs) into nano-CPUs.
pub fn parse_nano_cpus(value: &str) -> Result<i64, CpusParseError> {
    let (whole, frac) = value.split_once('.').unwrap_or((value, ""));
    let digits_ok = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    let whole_digits = whole.strip_prefix(['-', '+']).unwrap_or(whole);
    if (whole_digits.is_empty() && frac.is_empty()) || !digits_ok(whole_digits) || !digits_ok(frac)
    {
        return Err(CpusParseError::NotRational);
    }
    let frac_trimmed = frac.trim_end_matches('0');
    if frac_trimmed.len() > 9 {
        return Err(CpusParseError::TooPrecise);
    }
    let whole_n: i64 = if whole_digits.is_empty() {
        0
    } else {
        whole_digits
            .parse()
            .map_err(|_| CpusParseError::NotRational)?
    };
    let frac_n: i64 = if frac_trimmed.is_empty() {
        0
    } else {
        let padded = format!("{frac_trimmed:0<9}");
        padded.parse().map_err(|_| CpusParseError::NotRational)?
    };
    let nano = whole_n
        .checked_mul(1_000_000_000)
        .and_then(|n| n.checked_add(frac_n))
        .ok_or(CpusParseError::NotRational)?;
    Ok(if whole.starts_with('-') { -nano } else { nano })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ram_units_are_binary_and_case_insensitive() {
        assert_eq!(parse_ram_bytes("1024"), Some(1024));
        assert_eq!(parse_ram_bytes("10b"), Some(10));
        assert_eq!(parse_ram_bytes("4k"), Some(4096));
        assert_eq!(parse_ram_bytes("4KB"), Some(4096));
        assert_eq!(parse_ram_bytes("512m"), Some(512 << 20));
        assert_eq!(parse_ram_bytes("512MiB"), Some(512 << 20));
        assert_eq!(parse_ram_bytes("1g"), Some(1 << 30));
        assert_eq!(parse_ram_bytes("1.5g"), Some(3 << 29));
        assert_eq!(parse_ram_bytes("2 G"), Some(2 << 30));
    }

    #[test]
    fn ram_garbage_is_refused() {
        for bad in [
            "", "x", "m", "12x", "-1m", "1.m", ".5m", "1mm", "1gbb", "1 2m",
        ] {
            assert_eq!(parse_ram_bytes(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn cpus_are_nano_cpus() {
        assert_eq!(parse_nano_cpus("1"), Ok(1_000_000_000));
        assert_eq!(parse_nano_cpus("0.5"), Ok(500_000_000));
        assert_eq!(parse_nano_cpus(".25"), Ok(250_000_000));
        assert_eq!(parse_nano_cpus("1.000000001"), Ok(1_000_000_001));
        assert_eq!(parse_nano_cpus("1.0000000010"), Ok(1_000_000_001));
        assert_eq!(
            parse_nano_cpus("1.0000000001"),
            Err(CpusParseError::TooPrecise)
        );
        assert_eq!(parse_nano_cpus("abc"), Err(CpusParseError::NotRational));
        assert_eq!(parse_nano_cpus(""), Err(CpusParseError::NotRational));
        assert_eq!(parse_nano_cpus("1.2.3"), Err(CpusParseError::NotRational));
    }
}
