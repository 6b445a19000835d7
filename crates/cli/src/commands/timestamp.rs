//! The times `logs --since/--until` accept, read as Docker's CLI reads
//! them (its `timetypes.GetTimestamp`): a Go duration before now (`10m`,
//! `1h30m`), an RFC 3339 date or date-time (zone optional: without one it
//! is local time; seconds and fraction optional), or a Unix timestamp
//! (`1700000000`, `1700000000.5`). `0` and the empty string mean "no limit".

use chrono::{DateTime, Duration, FixedOffset, Local, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// Parses `value` of flag `flag` relative to `now`; `None` means no limit.
/// The error is Docker's: `invalid value for "since": ...`.
pub fn parse_log_time(
    flag: &str,
    value: &str,
    now: DateTime<Local>,
) -> Result<Option<DateTime<Utc>>, String> {
    parse(value, now).map_err(|e| format!("invalid value for \"{flag}\": {e}"))
}

fn parse(value: &str, now: DateTime<Local>) -> Result<Option<DateTime<Utc>>, String> {
    if value.is_empty() || value == "0" {
        return Ok(None);
    }
    if let Some(d) = go_duration(value) {
        return Ok(Some((now - d).with_timezone(&Utc)));
    }
    // As Docker: a zone is given by Z, + or a third dash (a negative offset).
    let zoned = value.contains(['z', 'Z', '+']) || value.matches('-').count() == 3;
    if let Some(t) = date_time(value, zoned, &now) {
        return Ok(Some(t));
    }
    if value.contains('-') {
        return Err(format!(
            "parsing time {value:?}: not a valid date or RFC 3339 time"
        ));
    }
    unix_timestamp(value)
        .map(Some)
        .ok_or_else(|| format!("failed to parse value as time or duration: {value:?}"))
}

/// A date-time `YYYY-MM-DD[THH[:MM[:SS[.fff]]]][zone]`.
fn date_time(value: &str, zoned: bool, now: &DateTime<Local>) -> Option<DateTime<Utc>> {
    let (naive, zone) = if zoned {
        split_zone(value)?
    } else {
        (value, None)
    };
    let naive = match naive.split_once('T') {
        Some((date, time)) => {
            // Docker accepts hours only, or hours and minutes.
            let time = match time.matches(':').count() {
                0 => format!("{time}:00:00"),
                1 => format!("{time}:00"),
                _ => time.to_string(),
            };
            NaiveDateTime::parse_from_str(&format!("{date}T{time}"), "%Y-%m-%dT%H:%M:%S%.f").ok()?
        }
        None => NaiveDate::parse_from_str(naive, "%Y-%m-%d")
            .ok()?
            .and_hms_opt(0, 0, 0)?,
    };
    let offset = match zone {
        Some(z) => z,
        None => *now.offset(),
    };
    let t = offset.from_local_datetime(&naive).single()?;
    Some(t.with_timezone(&Utc))
}

/// Splits `2020-01-02T03:04:05+01:00` into the local part and its offset
/// (`Z` is UTC); `None` when the zone is malformed.
fn split_zone(value: &str) -> Option<(&str, Option<FixedOffset>)> {
    if let Some(rest) = value.strip_suffix(['Z', 'z']) {
        return Some((rest, Some(FixedOffset::east_opt(0)?)));
    }
    // The offset is the last six characters: [+-]HH:MM.
    let at = value.len().checked_sub(6)?;
    let (rest, zone) = (value.get(..at)?, value.get(at..)?);
    let sign = match zone.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (h, m) = zone[1..].split_once(':')?;
    let secs = h.parse::<i32>().ok()? * 3600 + m.parse::<i32>().ok()? * 60;
    Some((rest, Some(FixedOffset::east_opt(sign * secs)?)))
}

/// `seconds[.fraction]` since the epoch.
fn unix_timestamp(value: &str) -> Option<DateTime<Utc>> {
    let (secs, frac) = match value.split_once('.') {
        Some((s, f)) => (s, f),
        None => (value, ""),
    };
    let secs: i64 = secs.parse().ok()?;
    let nanos = if frac.is_empty() {
        0
    } else {
        if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        format!("{frac:0<9}").parse::<u32>().ok()?
    };
    DateTime::from_timestamp(secs, nanos)
}

/// A Go `time.ParseDuration` string: `[-+]` then one or more
/// `<decimal><unit>` with units ns, us, µs, ms, s, m, h.
fn go_duration(value: &str) -> Option<Duration> {
    let (negative, mut rest) = match value.as_bytes().first()? {
        b'-' => (true, &value[1..]),
        b'+' => (false, &value[1..]),
        _ => (false, value),
    };
    if rest == "0" {
        return Some(Duration::zero());
    }
    if rest.is_empty() {
        return None;
    }
    let mut total_nanos: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(num_len);
        if num.is_empty() || num == "." {
            return None;
        }
        let n: f64 = num.parse().ok()?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total_nanos += n * scale;
        rest = tail;
    }
    if !total_nanos.is_finite() || total_nanos > i64::MAX as f64 {
        return None;
    }
    let d = Duration::nanoseconds(total_nanos as i64);
    Some(if negative { -d } else { d })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Local> {
        Utc.with_ymd_and_hms(2024, 5, 6, 12, 0, 0)
            .unwrap()
            .with_timezone(&Local)
    }

    fn at(v: &str) -> DateTime<Utc> {
        parse(v, now()).unwrap().unwrap()
    }

    #[test]
    fn durations_count_back_from_now() {
        let n = now().with_timezone(&Utc);
        assert_eq!(at("10m"), n - Duration::minutes(10));
        assert_eq!(at("1h30m"), n - Duration::minutes(90));
        assert_eq!(at("1.5h"), n - Duration::minutes(90));
        assert_eq!(at("250ms"), n - Duration::milliseconds(250));
        assert_eq!(at("-5s"), n + Duration::seconds(5));
        assert!(go_duration("5").is_none());
        assert!(go_duration("5x").is_none());
        assert!(go_duration("m").is_none());
    }

    #[test]
    fn rfc3339_in_its_zone_or_local() {
        let utc = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(at("2024-05-06T10:11:12Z"), utc("2024-05-06T10:11:12Z"));
        assert_eq!(
            at("2024-05-06T10:11:12.5+02:00"),
            utc("2024-05-06T08:11:12.5Z")
        );
        assert_eq!(at("2024-05-06T10:11:12-03:00"), utc("2024-05-06T13:11:12Z"));
        assert_eq!(at("2024-05-06T10Z"), utc("2024-05-06T10:00:00Z"));
        assert_eq!(at("2024-05-06T10:30Z"), utc("2024-05-06T10:30:00Z"));
        assert_eq!(at("2024-05-06Z"), utc("2024-05-06T00:00:00Z"));
        // Without a zone: the local time of `now`'s zone.
        let off = *now().offset();
        let local = |y, mo, d, h, mi, s| {
            off.with_ymd_and_hms(y, mo, d, h, mi, s)
                .unwrap()
                .with_timezone(&Utc)
        };
        assert_eq!(at("2024-05-06T10:11:12"), local(2024, 5, 6, 10, 11, 12));
        assert_eq!(at("2024-05-06"), local(2024, 5, 6, 0, 0, 0));
    }

    #[test]
    fn unix_timestamps_and_no_limit() {
        assert_eq!(
            at("1700000000"),
            DateTime::from_timestamp(1700000000, 0).unwrap()
        );
        assert_eq!(
            at("1700000000.25"),
            DateTime::from_timestamp(1700000000, 250_000_000).unwrap()
        );
        assert_eq!(parse("0", now()).unwrap(), None);
        assert_eq!(parse("", now()).unwrap(), None);
    }

    #[test]
    fn bad_values_name_the_flag() {
        let e = parse_log_time("since", "yesterday", now()).unwrap_err();
        assert_eq!(
            e,
            "invalid value for \"since\": failed to parse value as time or duration: \"yesterday\""
        );
        let e = parse_log_time("until", "2024-13-01", now()).unwrap_err();
        assert!(
            e.starts_with("invalid value for \"until\": parsing time \"2024-13-01\": "),
            "{e}"
        );
        assert!(parse("2024-05-06T10:11:12+2", now()).is_err());
        assert!(parse("1.2.3", now()).is_err());
    }
}
