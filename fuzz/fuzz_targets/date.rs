//! HTTP dates: parsing arbitrary bytes never panics (issue 10: a multi-byte character across a
//! field boundary did), a parsed date formats and parses back to the same instant, and any
//! instant formats to a 29-byte IMF-fixdate with calendar fields in range.
#![no_main]

use http_core::date::{Civil, HttpDate, parse_http_date};
use libfuzzer_sys::fuzz_target;

fn check_instant(secs: u64) {
    let date = HttpDate::from_unix(secs);
    assert_eq!(date.as_str().len(), 29, "{date:?}");
    assert!(date.unix_secs() <= secs);
    assert_eq!(
        parse_http_date(date.as_str().as_bytes()),
        Some(date.unix_secs()),
        "{date:?}"
    );
    let c = Civil::from_unix(secs);
    assert!((1970..=9999).contains(&c.year), "{c:?}");
    assert!(
        (1..=12).contains(&c.month) && (1..=31).contains(&c.day),
        "{c:?}"
    );
    assert!(c.hour < 24 && c.minute < 60 && c.second < 60, "{c:?}");
    assert_eq!(c.month_name.len(), 3);
    assert_eq!(c.weekday_name.len(), 3);
}

fuzz_target!(|data: &[u8]| {
    if let Some(secs) = parse_http_date(data) {
        check_instant(secs);
        assert_eq!(HttpDate::from_unix(secs).unix_secs(), secs);
    }
    if let Some(bytes) = data.first_chunk::<8>() {
        check_instant(u64::from_le_bytes(*bytes));
    }
});
