//! Durations and points in time as Docker's command line takes them: Go's duration syntax
//! (`300ms`, `10m`, `1h30m`, `1.5s`; units ns, us, µs, ms, s, m, h) for `--health-*` and
//! `logs --since 10m`, and the time forms of `logs --since/--until` (RFC 3339 with or
//! without fraction and zone, a bare date, or Unix seconds with a fraction).
//!
//! Pure parsers; errors are one line saying what was expected.

use std::time::{Duration, SystemTime};

/// Parses a Go duration (`1h30m`, `10s`, `250ms`, `0`); negative durations are refused.
pub fn parse_go(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration — use e.g. 30s, 1m30s or 500ms");
    let t = text.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    if t.is_empty() || t.starts_with('-') {
        return Err(bad());
    }
    let t = t.strip_prefix('+').unwrap_or(t);
    let mut total = 0f64;
    let mut rest = t;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let num: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += num * scale;
        rest = &rest[unit_len..];
    }
    if !total.is_finite() || total > 1e12 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(total))
}

/// Parses `logs --since/--until`: a Go duration back from `now`, Unix seconds
/// (`1700000000.5`), or an RFC 3339 time (`2026-01-02T15:04:05Z`, with a fraction or a
/// `+01:00` zone; a bare date or a time without zone is read as UTC).
pub fn parse_point(text: &str, now: SystemTime) -> Result<SystemTime, String> {
    let t = text.trim();
    if let Ok(d) = parse_go(t) {
        if t != "0" {
            return Ok(now.checked_sub(d).unwrap_or(SystemTime::UNIX_EPOCH));
        }
    }
    let bad = || {
        format!(
            "{text:?} is not a time — use RFC 3339 (2026-01-02T15:04:05Z), Unix seconds or a duration such as 10m"
        )
    };
    if let Ok(secs) = t.parse::<f64>() {
        if secs >= 0.0 && secs.is_finite() {
            // Past what Duration or the system clock holds: a readable error, not a panic.
            return Duration::try_from_secs_f64(secs)
                .ok()
                .and_then(|d| SystemTime::UNIX_EPOCH.checked_add(d))
                .ok_or_else(bad);
        }
    }
    // A zone offset: shift to UTC by hand (humantime reads `Z` or no zone).
    let (body, offset) = split_offset(t);
    let body = if body.len() == 10 {
        format!("{body}T00:00:00")
    } else {
        body.trim_end_matches('Z').to_string()
    };
    let at = humantime::parse_rfc3339_weak(&body).map_err(|_| bad())?;
    let shifted = if offset >= 0 {
        at.checked_sub(Duration::from_secs(offset as u64))
    } else {
        at.checked_add(Duration::from_secs(offset.unsigned_abs()))
    };
    shifted.ok_or_else(bad)
}

/// Splits a trailing `+HH:MM`/`-HH:MM` zone from an RFC 3339 time: (rest, seconds east).
fn split_offset(t: &str) -> (&str, i64) {
    if t.len() > 16 && t.is_char_boundary(t.len() - 6) {
        let (body, zone) = t.split_at(t.len() - 6);
        let b = zone.as_bytes();
        if (b[0] == b'+' || b[0] == b'-') && b[3] == b':' {
            let (hours, minutes) = (zone.get(1..3).unwrap_or("x"), zone.get(4..6).unwrap_or("x"));
            if let (Ok(h), Ok(m)) = (hours.parse::<i64>(), minutes.parse::<i64>()) {
                let s = h * 3600 + m * 60;
                return (body, if b[0] == b'-' { -s } else { s });
            }
        }
    }
    (t, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_go("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_go("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_go("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_go("0").unwrap(), Duration::ZERO);
        for bad in ["", "10", "abc", "-1s", "5x", "s"] {
            assert!(parse_go(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn points_in_time() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(
            parse_point("10m", now).unwrap(),
            now - Duration::from_secs(600)
        );
        let t = |s| {
            parse_point(s, now)
                .unwrap()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
        };
        assert_eq!(t("1970-01-02T00:00:00Z"), Duration::from_secs(86400));
        assert_eq!(t("1970-01-02"), Duration::from_secs(86400));
        assert_eq!(t("1970-01-02T01:00:00+01:00"), Duration::from_secs(86400));
        assert_eq!(
            t("1970-01-02T00:00:00.5Z"),
            Duration::from_millis(86_400_500)
        );
        assert_eq!(t("86400.25"), Duration::from_millis(86_400_250));
        assert!(parse_point("yesterday", now).is_err());
    }

    #[test]
    fn points_past_the_clock_are_errors_not_panics() {
        let now = SystemTime::now();
        for huge in [
            "1e20",
            "99999999999999999999",
            "18446744073709551616",
            "9999999999999999999",
            "1e308",
        ] {
            let e = parse_point(huge, now).unwrap_err();
            assert!(e.contains("is not a time"), "{huge}: {e}");
        }
        // Multi-byte text where a zone would be: no slicing inside a character.
        for odd in [
            "2026-01-02T15:04:05日本語",
            "2026-01-02T15:04+é:é",
            "2026-01-02T15:0+01:日",
        ] {
            assert!(parse_point(odd, now).is_err(), "{odd}");
        }
    }
}
