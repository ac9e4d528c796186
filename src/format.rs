//! Human-readable figures shared by the command line and the console: relative ages (and
//! when their text next changes, so the console wakes only when the screen would differ),
//! durations, byte counts and thousands separators; and text made safe for a terminal.

use std::borrow::Cow;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};

const MINUTE: i64 = 60;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// "just now", "42s ago", "5m ago", "3h ago", "12d ago"; "never" for no timestamp.
pub fn age(then: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    let Some(then) = then else {
        return "never".into();
    };
    let secs = (now - then).num_seconds().max(0);
    match secs {
        0 => "just now".into(),
        s if s < MINUTE => format!("{s}s ago"),
        s if s < HOUR => format!("{}m ago", s / MINUTE),
        s if s < DAY => format!("{}h ago", s / HOUR),
        s => format!("{}d ago", s / DAY),
    }
}

/// A router's key age and rotation state: "12d", "95d due", "3d staged".
pub fn key_age(
    router: &crate::model::Router,
    max_age: Option<chrono::Duration>,
    now: DateTime<Utc>,
) -> String {
    key_age_of(
        router.keys_created_at,
        router.key_standing(max_age, now),
        now,
    )
}

/// [`key_age`] from its parts (the console keeps compact rows, not whole routers).
pub fn key_age_of(
    keys_created_at: DateTime<Utc>,
    standing: crate::model::KeyStanding,
    now: DateTime<Utc>,
) -> String {
    let age = duration(keys_created_at, now);
    match standing.marker() {
        Some(marker) => format!("{age} {marker}"),
        None => age,
    }
}

/// Seconds until `age(then, now)` shows a different text.
pub fn age_changes_in(then: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
    let secs = (now - then).num_seconds().max(0);
    let step = match secs {
        s if s < MINUTE => 1,
        s if s < HOUR => MINUTE - s % MINUTE,
        s if s < DAY => HOUR - s % HOUR,
        s => DAY - s % DAY,
    };
    step.max(1) as u64
}

/// A span as operators type it: a whole number and s, m, h, d or w (`90d`, `24h`, `45s`).
/// `None` for anything else, for zero, and for spans beyond a hundred years.
pub fn parse_span(text: &str) -> Option<chrono::TimeDelta> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let n: i64 = number.parse().ok()?;
    let unit_secs: i64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    let secs = n.checked_mul(unit_secs)?;
    (1..=100 * 365 * 86_400)
        .contains(&secs)
        .then(|| chrono::TimeDelta::seconds(secs))
}

/// Binary units, one decimal: "0 B", "812 B", "1.5 KiB", "20.3 MiB", "4.0 GiB".
pub fn bytes(n: i64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{} B", n.max(0));
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Binary units in at most five columns, for tables: "0", "812B", "1.5K", "20.3M", "676M",
/// "4.0G".
pub fn bytes_short(n: i64) -> String {
    const UNITS: [&str; 5] = ["K", "M", "G", "T", "P"];
    if n < 1024 {
        return if n <= 0 { "0".into() } else { format!("{n}B") };
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if value < 99.95 {
        format!("{value:.1}{}", UNITS[unit])
    } else {
        format!("{}{}", value as u64, UNITS[unit])
    }
}

/// A count with thousands separators: 65278 -> "65,278".
pub fn count(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A count and its noun: "1 tenant", "2 tenants", "65,278 routers".
pub fn counted(n: i64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{} {noun}s", count(n))
    }
}

/// A span of time in its largest whole unit, e.g. "12s", "4m", "3h", "2d".
pub fn duration(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let secs = (to - from).num_seconds().max(0);
    match secs {
        s if s < MINUTE => format!("{s}s"),
        s if s < HOUR => format!("{}m", s / MINUTE),
        s if s < DAY => format!("{}h", s / HOUR),
        s => format!("{}d", s / DAY),
    }
}

/// Text safe to print on a terminal: C0 controls, DEL and C1 controls (which terminals may
/// read as escape sequences) are shown as `\x1b`, `\x7f`, `\u{9b}`. Everything else, line
/// breaks included, is escaped too when it is a control: callers that print several lines
/// escape each line. Borrowed when there is nothing to escape (the common case).
pub fn escape_control(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match u32::from(c) {
            n @ (0..=0x1f | 0x7f) => {
                let _ = write!(out, "\\x{n:02x}");
            }
            n @ 0x80..=0x9f => {
                let _ = write!(out, "\\u{{{n:x}}}");
            }
            _ => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn spans_are_a_number_and_a_unit_within_a_hundred_years() {
        assert_eq!(parse_span("45s"), Some(chrono::TimeDelta::seconds(45)));
        assert_eq!(parse_span(" 2w "), Some(chrono::TimeDelta::weeks(2)));
        assert_eq!(parse_span("400d"), Some(chrono::TimeDelta::days(400)));
        for bad in [
            "",
            "d",
            "0h",
            "-1d",
            "1.5h",
            "24",
            "24H",
            "1y",
            "99999999999999999999s",
            "36501d",
        ] {
            assert_eq!(parse_span(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn control_characters_are_shown_escaped() {
        assert!(matches!(escape_control("r1.acme"), Cow::Borrowed(_)));
        assert_eq!(escape_control("caf\u{e9} \u{1f600}"), "caf\u{e9} \u{1f600}");
        assert_eq!(escape_control("r1\x1b]0;PWNED\x07"), "r1\\x1b]0;PWNED\\x07");
        assert_eq!(escape_control("a\nb\tc\rd"), "a\\x0ab\\x09c\\x0dd");
        assert_eq!(escape_control("\x7f\u{9b}31m"), "\\x7f\\u{9b}31m");
        // Escaping is idempotent: escaped text has no control left.
        let once = escape_control("x\x1b[2Jy").into_owned();
        assert_eq!(escape_control(&once), once);
    }

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + secs, 0).single().unwrap()
    }

    #[test]
    fn ages_read_naturally_and_know_when_they_change() {
        let now = t(10_000);
        assert_eq!(age(None, now), "never");
        assert_eq!(age(Some(now), now), "just now");
        assert_eq!(age(Some(t(9_958)), now), "42s ago");
        assert_eq!(age(Some(t(10_000 - 5 * 60 - 7)), now), "5m ago");
        assert_eq!(age(Some(t(10_000 - 3 * 3600)), now), "3h ago");
        assert_eq!(age(Some(t(10_000 - 2 * 86_400)), now), "2d ago");
        assert_eq!(
            age(Some(t(10_005)), now),
            "just now",
            "clock skew is not negative"
        );
        assert_eq!(age_changes_in(t(9_990), now), 1);
        assert_eq!(age_changes_in(t(10_000 - 65), now), 55);
        let then = t(10_000 - 65);
        assert_ne!(
            age(Some(then), t(10_000 + 54)),
            age(Some(then), t(10_000 + 55))
        );
    }

    #[test]
    fn bytes_use_binary_units() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
        assert_eq!(count(65278), "65,278");
        assert_eq!(count(155), "155");
        assert_eq!(count(1_000_000), "1,000,000");
        assert_eq!(count(10_118_090), "10,118,090");
    }

    #[test]
    fn counted_nouns() {
        assert_eq!(counted(1, "tenant"), "1 tenant");
        assert_eq!(counted(0, "router"), "0 routers");
        assert_eq!(counted(65_278, "router"), "65,278 routers");
    }

    #[test]
    fn durations() {
        assert_eq!(duration(t(0), t(12)), "12s");
        assert_eq!(duration(t(0), t(125)), "2m");
        assert_eq!(duration(t(0), t(5 * 3600)), "5h");
        assert_eq!(duration(t(0), t(3 * 86_400)), "3d");
        assert_eq!(duration(t(5), t(0)), "0s");
    }
}

#[cfg(test)]
mod short_tests {
    use super::*;

    #[test]
    fn short_bytes_stay_within_five_columns() {
        assert_eq!(bytes_short(0), "0");
        assert_eq!(bytes_short(812), "812B");
        assert_eq!(bytes_short(1536), "1.5K");
        assert_eq!(bytes_short(709_743_000), "676M");
        assert_eq!(bytes_short(4 * 1024 * 1024 * 1024), "4.0G");
        for n in [1023, 1024, 104_857_599, 1_073_741_823, i64::MAX] {
            assert!(
                bytes_short(n).chars().count() <= 5,
                "{n}: {}",
                bytes_short(n)
            );
        }
    }
}
