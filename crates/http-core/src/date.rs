//! HTTP dates (RFC 9110 §5.6.7): formatting as IMF-fixdate and parsing all three formats.
//!
//! Times are whole seconds since the Unix epoch, passed in by the caller; this module must not
//! read a clock.

use std::fmt;

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]; // 1970-01-01 was a Thursday
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// An IMF-fixdate such as `Sun, 06 Nov 1994 08:49:37 GMT`, formatted without allocating.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HttpDate {
    bytes: [u8; 29],
}

impl HttpDate {
    /// Formats `secs` seconds after the Unix epoch. Dates after 9999 are clamped to the last
    /// second of 9999, the last year IMF-fixdate can express.
    pub fn from_unix(secs: u64) -> Self {
        const MAX: u64 = 253_402_300_799; // 9999-12-31T23:59:59Z
        let secs = secs.min(MAX);
        let days = secs / 86_400;
        let rem = secs % 86_400;
        let (year, month, day) = civil_from_days(days as i64);
        let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
        let mut bytes = *b"Thu, 01 Jan 1970 00:00:00 GMT";
        bytes[..3].copy_from_slice(DAYS[(days % 7) as usize].as_bytes());
        put2(&mut bytes[5..7], day as u64);
        bytes[8..11].copy_from_slice(MONTHS[(month - 1) as usize].as_bytes());
        put2(&mut bytes[12..14], (year / 100) as u64);
        put2(&mut bytes[14..16], (year % 100) as u64);
        put2(&mut bytes[17..19], h);
        put2(&mut bytes[20..22], m);
        put2(&mut bytes[23..25], s);
        Self { bytes }
    }

    /// The formatted date.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes).expect("an HttpDate is always ASCII")
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
    /// Hour, 0-23.
    pub hour: u64,
    /// Minute, 0-59.
    pub minute: u64,
    /// Second, 0-59.
    pub second: u64,
}

impl Civil {
    /// Breaks `secs` seconds after the Unix epoch into UTC calendar fields.
    pub fn from_unix(secs: u64) -> Self {
        let days = secs / 86_400;
        let rem = secs % 86_400;
        let (year, month, day) = civil_from_days(days as i64);
        Self {
            year: year as u64,
            month: month as u64,
            month_name: MONTHS[(month - 1) as usize],
            day: day as u64,
            hour: rem / 3600,
            minute: rem % 3600 / 60,
            second: rem % 60,
        }
    }
}

fn put2(dst: &mut [u8], v: u64) {
    dst[0] = b'0' + (v / 10 % 10) as u8;
    dst[1] = b'0' + (v % 10) as u8;
}

/// Parses an HTTP date in any of the three formats a recipient must accept (RFC 9110 §5.6.7):
/// IMF-fixdate, RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime
/// (`Sun Nov  6 08:49:37 1994`). Returns seconds since the Unix epoch, or `None` for anything
/// else, including dates before 1970: callers ignore invalid dates (RFC 9110 §13.1.3).
pub fn parse_http_date(value: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(value).ok()?.trim();
    parse_imf_fixdate(s)
        .or_else(|| parse_rfc850(s))
        .or_else(|| parse_asctime(s))
}

fn parse_imf_fixdate(s: &str) -> Option<u64> {
    // Sun, 06 Nov 1994 08:49:37 GMT
    let b = s.as_bytes();
    if b.len() != 29 || &b[3..5] != b", " || &b[25..] != b" GMT" {
        return None;
    }
    let weekday = &s[..3];
    let day = num(&s[5..7])?;
    let month = month(&s[8..11])?;
    let year = num(&s[12..16])?;
    (b[7] == b' ' && b[11] == b' ' && b[16] == b' ').then_some(())?;
    let secs = time_of_day(&s[17..25])?;
    to_unix(year, month, day, secs, weekday)
}

fn parse_rfc850(s: &str) -> Option<u64> {
    // Sunday, 06-Nov-94 08:49:37 GMT
    let (weekday, rest) = s.split_once(", ")?;
    let b = rest.as_bytes();
    if b.len() != 22 || b[2] != b'-' || b[6] != b'-' || b[9] != b' ' || &b[18..] != b" GMT" {
        return None;
    }
    let day = num(&rest[..2])?;
    let month = month(&rest[3..6])?;
    let yy = num(&rest[7..9])?;
    // RFC 9110 §5.6.7: a two-digit year more than 50 years in the future is in the past century.
    // Without a clock we use the fixed pivot most servers use: 70-99 are 19xx, 00-69 are 20xx.
    let year = if yy >= 70 { 1900 + yy } else { 2000 + yy };
    let secs = time_of_day(&rest[10..18])?;
    let short = weekday.get(..3)?;
    let long_ok = LONG_DAYS.contains(&weekday);
    long_ok.then_some(())?;
    to_unix(year, month, day, secs, short)
}

const LONG_DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

fn parse_asctime(s: &str) -> Option<u64> {
    // Sun Nov  6 08:49:37 1994
    let b = s.as_bytes();
    if b.len() != 24 || b[3] != b' ' || b[7] != b' ' || b[10] != b' ' || b[19] != b' ' {
        return None;
    }
    let weekday = &s[..3];
    let month = month(&s[4..7])?;
    let day = num(s[8..10].trim_start())?;
    let secs = time_of_day(&s[11..19])?;
    let year = num(&s[20..24])?;
    to_unix(year, month, day, secs, weekday)
}

fn num(s: &str) -> Option<u64> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

fn month(s: &str) -> Option<u64> {
    MONTHS.iter().position(|m| *m == s).map(|i| i as u64 + 1)
}

fn time_of_day(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let (h, m, sec) = (num(&s[..2])?, num(&s[3..5])?, num(&s[6..8])?);
    // 60 allows a leap second, which RFC 5322 permits.
    (h < 24 && m < 60 && sec <= 60).then_some(h * 3600 + m * 60 + sec)
}

fn to_unix(year: u64, month: u64, day: u64, secs: u64, weekday: &str) -> Option<u64> {
    if year < 1970 || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year as i64, month as i64, day as i64);
    let days = u64::try_from(days).ok()?;
    // A wrong day name means the sender's clock or formatting is broken; reject rather than guess.
    (DAYS[(days % 7) as usize] == weekday).then_some(days * 86_400 + secs)
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Howard Hinnant's `days_from_civil`: days since 1970-01-01 for a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`]: (year, month 1-12, day 1-31).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
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
            "Wed, 31 Dec 1969 23:59:59 GMT", // before the epoch
            "Sun,  6 Nov 1994 08:49:37 GMT",
        ] {
            assert_eq!(parse_http_date(s.as_bytes()), None, "{s:?}");
        }
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
