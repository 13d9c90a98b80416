//! HTTP dates (RFC 9110 §5.6.7): parsing the three formats a recipient must accept (with the
//! `httpdate` crate), and formatting our own `Date`/`Last-Modified` values and calendar fields
//! for logs and listings.
//!
//! Times are whole seconds since the Unix epoch, passed in by the caller; this module must not
//! read a clock.

use std::fmt;
use std::time::UNIX_EPOCH;

use crate::bytes::two_digits;

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]; // 1970-01-01 was a Thursday
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The last second IMF-fixdate can express: 9999-12-31T23:59:59Z.
const MAX_SECS: u64 = 253_402_300_799;

/// An IMF-fixdate such as `Sun, 06 Nov 1994 08:49:37 GMT`, formatted without allocating, with
/// the instant it shows.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HttpDate {
    bytes: [u8; 29],
    secs: u64,
}

impl HttpDate {
    /// Formats `secs` seconds after the Unix epoch. Dates after 9999 are clamped to the last
    /// second of 9999, the last year IMF-fixdate can express.
    pub fn from_unix(secs: u64) -> Self {
        let secs = secs.min(MAX_SECS);
        let c = Civil::from_unix(secs);
        // Every field has a fixed width once the year is at most 9999, so the parts fill the 29
        // bytes exactly. Written by hand: `write!` was a tenth of a small request's instructions
        // (each response carries a `Last-Modified`).
        let seconds = two_digits(c.second);
        let parts: [&[u8]; 15] = [
            c.weekday_name.as_bytes(),
            b", ",
            &two_digits(c.day),
            b" ",
            c.month_name.as_bytes(),
            b" ",
            &two_digits(c.year / 100),
            &two_digits(c.year),
            b" ",
            &two_digits(c.hour),
            b":",
            &two_digits(c.minute),
            b":",
            &seconds,
            b" GMT",
        ];
        let mut bytes = *b"Thu, 01 Jan 1970 00:00:00 GMT";
        for (slot, &b) in bytes.iter_mut().zip(parts.iter().flat_map(|p| p.iter())) {
            *slot = b;
        }
        Self { bytes, secs }
    }

    /// The instant shown, in seconds since the Unix epoch (clamped as [`HttpDate::from_unix`]
    /// clamps).
    pub fn unix_secs(&self) -> u64 {
        self.secs
    }

    /// The formatted date's bytes: what a response head is written from, without the check
    /// of [`HttpDate::as_str`] (two a response cost 200 instructions).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The formatted date.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever written into `bytes`, so this never falls back.
        std::str::from_utf8(&self.bytes).unwrap_or_default()
    }
}

impl fmt::Display for HttpDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for HttpDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HttpDate({})", self.as_str())
    }
}

/// A UTC calendar date and time of day, for formats other than HTTP's (such as access logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    /// Year, e.g. 1994.
    pub year: u64,
    /// Month, 1-12.
    pub month: u64,
    /// Three-letter English month name.
    pub month_name: &'static str,
    /// Day of the month, 1-31.
    pub day: u64,
    /// Three-letter English day of the week.
    pub weekday_name: &'static str,
    /// Hour, 0-23.
    pub hour: u64,
    /// Minute, 0-59.
    pub minute: u64,
    /// Second, 0-59.
    pub second: u64,
}

impl Civil {
    /// Breaks `secs` seconds after the Unix epoch into UTC calendar fields. Times after 9999
    /// are clamped to its last second, as [`HttpDate::from_unix`] does.
    pub fn from_unix(secs: u64) -> Self {
        let secs = secs.min(MAX_SECS);
        let days = secs / 86_400;
        let rem = secs % 86_400;
        // With `secs` clamped, `days` is at most 2,932,896 and no step can overflow; the
        // fallback (the epoch) is unreachable.
        let (year, month, day) = civil_from_days(days).unwrap_or((1970, 1, 1));
        Self {
            year,
            month,
            month_name: name(&MONTHS, month.saturating_sub(1)),
            day,
            weekday_name: name(&DAYS, days % 7),
            hour: rem / 3600,
            minute: rem % 3600 / 60,
            second: rem % 60,
        }
    }
}

/// `table[i]`, or `"???"` for an index outside it (which the callers never pass).
fn name(table: &[&'static str], i: u64) -> &'static str {
    usize::try_from(i)
        .ok()
        .and_then(|i| table.get(i))
        .copied()
        .unwrap_or("???")
}

/// Parses an HTTP date in any of the three formats a recipient must accept (RFC 9110 §5.6.7):
/// IMF-fixdate, RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime
/// (`Sun Nov  6 08:49:37 1994`). Returns seconds since the Unix epoch, or `None` for anything
/// else, including dates before 1970 and a day name that does not match the date: callers
/// ignore invalid dates (RFC 9110 §13.1.3).
pub fn parse_http_date(value: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(value).ok()?.trim_ascii();
    let time = httpdate::parse_http_date(s).ok()?;
    time.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}

/// Howard Hinnant's `civil_from_days` for days since 1970-01-01, in unsigned arithmetic since
/// the days are never negative here: (year, month 1-12, day 1-31). `None` only if a step
/// overflows, which no `u64` input makes it do (the largest intermediate is under 2^50).
fn civil_from_days(days: u64) -> Option<(u64, u64, u64)> {
    let z = days.checked_add(719_468)?; // days since 0000-03-01
    let era = z / 146_097;
    let doe = z % 146_097; // day of the 400-year era, [0, 146096]
    let yoe = doe
        .checked_sub(doe / 1460)?
        .checked_add(doe / 36_524)?
        .checked_sub(doe / 146_096)?
        / 365; // year of the era, [0, 399]
    let year_start = yoe
        .checked_mul(365)?
        .checked_add(yoe / 4)?
        .checked_sub(yoe / 100)?;
    let doy = doe.checked_sub(year_start)?; // day of the year from March 1st, [0, 365]
    let mp = doy.checked_mul(5)?.checked_add(2)? / 153; // month from March, [0, 11]
    let month_start = mp.checked_mul(153)?.checked_add(2)? / 5;
    let day = doy.checked_sub(month_start)?.checked_add(1)?;
    let month = if mp < 10 {
        mp.checked_add(3)?
    } else {
        mp.checked_sub(9)?
    };
    let year = era
        .checked_mul(400)?
        .checked_add(yoe)?
        .checked_add(u64::from(month <= 2))?;
    Some((year, month, day))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_the_rfc_example() {
        assert_eq!(
            HttpDate::from_unix(784_111_777).as_str(),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
    }

    #[test]
    fn civil_breaks_down_the_rfc_example() {
        let c = Civil::from_unix(784_111_777);
        assert_eq!((c.year, c.month, c.month_name, c.day), (1994, 11, "Nov", 6));
        assert_eq!(c.weekday_name, "Sun");
        assert_eq!((c.hour, c.minute, c.second), (8, 49, 37));
    }

    #[test]
    fn formats_the_epoch_and_a_leap_day() {
        assert_eq!(
            HttpDate::from_unix(0).as_str(),
            "Thu, 01 Jan 1970 00:00:00 GMT"
        );
        assert_eq!(
            HttpDate::from_unix(951_782_400).as_str(),
            "Tue, 29 Feb 2000 00:00:00 GMT"
        );
    }

    #[test]
    fn clamps_dates_past_year_9999() {
        assert_eq!(
            HttpDate::from_unix(u64::MAX).as_str(),
            "Fri, 31 Dec 9999 23:59:59 GMT"
        );
        assert_eq!(HttpDate::from_unix(u64::MAX).unix_secs(), MAX_SECS);
        assert_eq!(HttpDate::from_unix(784_111_777).unix_secs(), 784_111_777);
    }

    #[test]
    fn parses_all_three_formats_to_the_same_instant() {
        for s in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(parse_http_date(s.as_bytes()), Some(784_111_777), "{s}");
        }
    }

    #[test]
    fn rejects_malformed_dates() {
        for s in [
            "",
            "yesterday",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Mon, 06 Nov 1994 08:49:37 GMT", // wrong weekday
            "Sun, 31 Nov 1994 08:49:37 GMT", // no 31 November
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:49 GMT",
            "Sun, 06 Nov 1994 08:49:60 GMT",
            "Sun, 06 Nov 10994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT\0",
            "Wed, 31 Dec 1969 23:59:59 GMT", // before the epoch
            "Sun,  6 Nov 1994 08:49:37 GMT",
        ] {
            assert_eq!(parse_http_date(s.as_bytes()), None, "{s:?}");
        }
    }

    #[test]
    fn a_multi_byte_character_at_any_field_boundary_is_invalid_not_a_panic() {
        // Issue 10: `Sun, 0éNov 1994 08:49:37 GMT` (29 bytes, `é` across byte 7) made the
        // parser slice inside a character and panic. Put the two-byte `é` at every offset of
        // all three formats, both replacing one byte (the length grows by one) and replacing
        // two (the length stays what the format expects).
        assert_eq!(
            parse_http_date("Sun, 0éNov 1994 08:49:37 GMT".as_bytes()),
            None
        );
        for valid in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            for at in 0..valid.len() {
                for replaced in [1, 2] {
                    let mut bytes = valid.as_bytes().to_vec();
                    let end = (at + replaced).min(bytes.len());
                    bytes.splice(at..end, "é".bytes());
                    let text = String::from_utf8_lossy(&bytes);
                    assert_eq!(parse_http_date(&bytes), None, "{text:?}");
                }
            }
        }
    }

    #[test]
    fn formatting_agrees_with_the_httpdate_crate() {
        use std::time::{Duration, UNIX_EPOCH};
        let mut secs = 0u64;
        while secs < MAX_SECS {
            let ours = HttpDate::from_unix(secs);
            let theirs = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs));
            assert_eq!(ours.as_str(), theirs, "{secs}");
            secs += 7_777_777 + secs / 3;
        }
        let last = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(MAX_SECS));
        assert_eq!(HttpDate::from_unix(MAX_SECS).as_str(), last);
    }

    #[test]
    fn format_then_parse_round_trips() {
        for secs in [
            0,
            1,
            86_399,
            86_400,
            951_782_400,
            1_700_000_000,
            4_102_444_800,
        ] {
            let formatted = HttpDate::from_unix(secs);
            assert_eq!(parse_http_date(formatted.as_str().as_bytes()), Some(secs));
        }
    }
}
