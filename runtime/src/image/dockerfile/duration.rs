//! Go-style durations (`30s`, `1m30s`, `500ms`, `1.5h`), as Docker reads
//! the HEALTHCHECK `--interval`, `--timeout`, `--start-period` and
//! `--start-interval` flags.

use std::time::Duration;

const NANOS_PER: &[(&str, u128)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("\u{b5}s", 1_000),
    ("\u{3bc}s", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Parses a duration as Go's `time.ParseDuration` does: an optional sign,
/// then one or more decimal numbers each followed by a unit (`ns`, `us`,
/// `ms`, `s`, `m`, `h`); a bare `0` is allowed. Returns whether it was
/// negative, and its length.
pub(crate) fn parse_go_duration(text: &str) -> Result<(bool, Duration), String> {
    let invalid = |why: &str| {
        format!(
            "invalid duration {text:?} ({why}); expected a number with a unit, such as 30s, \
             1m30s or 500ms"
        )
    };
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Ok((negative, Duration::ZERO));
    }
    if rest.is_empty() {
        return Err(invalid("it is empty"));
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let int_part = &rest[..int_len];
        rest = &rest[int_len..];
        let mut frac_part = "";
        if let Some(after_dot) = rest.strip_prefix('.') {
            let frac_len = after_dot
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after_dot.len());
            frac_part = &after_dot[..frac_len];
            rest = &after_dot[frac_len..];
            if int_part.is_empty() && frac_part.is_empty() {
                return Err(invalid("a '.' with no digits"));
            }
        } else if int_part.is_empty() {
            return Err(invalid("expected a number"));
        }
        let unit_len = rest
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        if unit.is_empty() {
            return Err(invalid("missing unit"));
        }
        let Some(&(_, per)) = NANOS_PER.iter().find(|(u, _)| *u == unit) else {
            return Err(invalid(&format!("unknown unit {unit:?}")));
        };
        let whole: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| invalid("number too large"))?
        };
        let mut nanos = whole.checked_mul(per).ok_or_else(|| invalid("too large"))?;
        let mut scale: u128 = 1;
        let mut frac: u128 = 0;
        // 18 digits are beyond nanosecond precision even for hours.
        for digit in frac_part.bytes().take(18) {
            frac = frac * 10 + u128::from(digit - b'0');
            scale *= 10;
        }
        nanos = nanos
            .checked_add(frac * per / scale)
            .ok_or_else(|| invalid("too large"))?;
        total = total
            .checked_add(nanos)
            .ok_or_else(|| invalid("too large"))?;
    }
    if total > i64::MAX as u128 {
        return Err(invalid("too large"));
    }
    let secs = (total / 1_000_000_000) as u64;
    let sub = (total % 1_000_000_000) as u32;
    Ok((negative, Duration::new(secs, sub)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        let cases = [
            ("0", 0),
            ("30s", 30_000_000_000),
            ("1m30s", 90_000_000_000),
            ("500ms", 500_000_000),
            ("1.5h", 5_400_000_000_000),
            (".5s", 500_000_000),
            ("1.s", 1_000_000_000),
            ("10us", 10_000),
            ("10\u{b5}s", 10_000),
            ("7ns", 7),
            ("1.9999999999999999999999999999999h", 7_199_999_999_999),
            ("+2s", 2_000_000_000),
        ];
        for (text, nanos) in cases {
            let (negative, d) = parse_go_duration(text).unwrap();
            assert!(!negative, "{text}");
            assert_eq!(d.as_nanos(), nanos, "{text}");
        }
        assert_eq!(
            parse_go_duration("-1s").unwrap(),
            (true, Duration::from_secs(1))
        );
    }

    #[test]
    fn rejects_malformed_durations() {
        for (text, why) in [
            ("", "empty"),
            ("30", "missing unit"),
            ("s", "expected a number"),
            ("1x", "unknown unit \"x\""),
            (".s", "no digits"),
            ("3000000h", "too large"),
        ] {
            let err = parse_go_duration(text).unwrap_err();
            assert!(err.contains(why), "{text}: {err}");
        }
    }
}
