//! Docker's user-given points in time (`--since`, `--until`, the `until`
//! filter of prunes and listings), read as Docker's `GetTimestamp` reads
//! them: a Go duration back from now (`10m`, `24h`), Unix seconds with an
//! optional fraction (`1700000000.5`), an RFC 3339 time, or a date or
//! date-and-time without a zone, which is local time (`2026-12-07`,
//! `2026-12-07T10:30`).

use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// A point in time the user gave that none of Docker's forms reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "cannot read {0:?} as a time: use a duration back from now (10m, 24h), Unix seconds, \
     an RFC 3339 time (2026-12-07T10:30:00Z) or a local date (2026-12-07)"
)]
pub struct TimestampError(pub String);

/// Reads `value` as Docker does; durations count back from `now`.
pub fn parse(value: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, TimestampError> {
    let bad = || TimestampError(value.to_string());
    let value = value.trim();
    if value != "0"
        && let Ok(nanos) = crate::units::parse_duration(value)
    {
        return Ok(now - chrono::Duration::nanoseconds(nanos));
    }
    if let Some(unix) = unix_seconds(value) {
        return unix.ok_or_else(bad);
    }
    if let Ok(time) = DateTime::parse_from_rfc3339(value) {
        return Ok(time.with_timezone(&Utc));
    }
    local(value).ok_or_else(bad)
}

/// `SECONDS[.FRACTION]`: `None` when `value` is not of that shape,
/// `Some(None)` when it is but is out of range.
fn unix_seconds(value: &str) -> Option<Option<DateTime<Utc>>> {
    let (seconds, fraction) = value.split_once('.').unwrap_or((value, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(seconds) || !(fraction.is_empty() || digits(fraction)) {
        return None;
    }
    let Ok(seconds) = seconds.parse::<i64>() else {
        return Some(None);
    };
    let nanos = format!("{fraction:0<9}")
        .get(..9)
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(0);
    Some(Utc.timestamp_opt(seconds, nanos).single())
}

/// The zone-less forms, in the daemon's local time.
fn local(value: &str) -> Option<DateTime<Utc>> {
    const FORMATS: [&str; 2] = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"];
    // chrono reads no time without minutes: `2026-12-07T10` is 10:00.
    let whole_hour = format!("{value}:00");
    let value = if value.len() == 13 && value.as_bytes()[10] == b'T' {
        whole_hour.as_str()
    } else {
        value
    };
    let naive = FORMATS
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(value, format).ok())
        .or_else(|| {
            NaiveDate::parse_from_str(value, "%Y-%m-%d")
                .ok()
                .and_then(|date| date.and_hms_opt(0, 0, 0))
        })?;
    Local
        .from_local_datetime(&naive)
        .earliest()
        .map(|time| time.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap()
    }

    #[test]
    fn durations_count_back_from_now() {
        let at = |v| parse(v, now()).unwrap();
        assert_eq!(at("10m"), now() - chrono::Duration::minutes(10));
        assert_eq!(at("24h"), now() - chrono::Duration::hours(24));
        assert_eq!(at("1h30m"), now() - chrono::Duration::minutes(90));
    }

    #[test]
    fn unix_seconds_and_rfc3339_are_absolute() {
        let at = |v| parse(v, now()).unwrap();
        assert_eq!(at("0"), Utc.timestamp_opt(0, 0).unwrap());
        assert_eq!(
            at("1700000000"),
            Utc.timestamp_opt(1_700_000_000, 0).unwrap()
        );
        assert_eq!(
            at("1700000000.25"),
            Utc.timestamp_opt(1_700_000_000, 250_000_000).unwrap()
        );
        assert_eq!(
            at("2026-12-07T10:30:00Z"),
            Utc.with_ymd_and_hms(2026, 12, 7, 10, 30, 0).unwrap()
        );
        assert_eq!(
            at("2026-12-07T10:30:00.5+02:00"),
            Utc.with_ymd_and_hms(2026, 12, 7, 8, 30, 0).unwrap()
                + chrono::Duration::milliseconds(500)
        );
    }

    #[test]
    fn zoneless_forms_are_local_time() {
        let local = |y, mo, d, h, mi| {
            Local
                .with_ymd_and_hms(y, mo, d, h, mi, 0)
                .unwrap()
                .with_timezone(&Utc)
        };
        let at = |v| parse(v, now()).unwrap();
        assert_eq!(at("2026-12-07"), local(2026, 12, 7, 0, 0));
        assert_eq!(at("2026-12-07T10"), local(2026, 12, 7, 10, 0));
        assert_eq!(at("2026-12-07T10:30"), local(2026, 12, 7, 10, 30));
        assert_eq!(at("2026-12-07T10:30:00"), local(2026, 12, 7, 10, 30));
    }

    #[test]
    fn anything_else_is_refused_by_name() {
        for bad in ["yesterday", "", "10x", "2026-13-01", "12.x", "-5"] {
            let error = parse(bad, now()).unwrap_err();
            assert!(error.to_string().contains(&format!("{bad:?}")), "{error}");
        }
    }
}
