//! Conditional requests: evaluating arbitrary `If-*` fields against arbitrary validators never
//! panics, and the outcomes keep RFC 9110 §13's promises that do not depend on parsing.
#![no_main]

use http_core::conditional::{
    Precondition, Validators, evaluate, evaluate_unvalidated, if_range_allows,
};
use http_core::etag::ETag;
use http_core::{Fields, Header, Method};
use libfuzzer_sys::fuzz_target;

const FIELDS: [&str; 5] = [
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    "if-range",
];
const METHODS: [Method; 4] = [Method::Get, Method::Head, Method::Options, Method::Other];

fuzz_target!(|data: &[u8]| {
    let Some((numbers, rest)) = data.split_first_chunk::<25>() else {
        return;
    };
    let n = |i: usize| u64::from_le_bytes(numbers[i * 8..i * 8 + 8].try_into().unwrap());
    let (last_modified, now, inode) = (n(0), n(1), n(2));
    let method = METHODS[usize::from(numbers[24] % 4)];
    let etag = ETag::for_file(inode, 7, i128::from(last_modified), 0, None);
    let v = Validators {
        etag: &etag,
        last_modified,
    };

    // Fields: a selector byte, then the value up to the next 0xFF byte.
    let mut headers = Vec::new();
    for chunk in rest.split(|&b| b == 0xFF) {
        if let Some((&which, value)) = chunk.split_first() {
            headers.push(Header {
                name: FIELDS[usize::from(which) % FIELDS.len()],
                value,
            });
        }
    }
    let fields = Fields(&headers);
    let outcome = evaluate(method, fields, v);
    if headers.iter().all(|h| h.name == "if-range") {
        assert_eq!(outcome, Precondition::Proceed);
    }
    if outcome == Precondition::NotModified {
        assert!(matches!(method, Method::Get | Method::Head));
    }
    // Without validators only `*` in If-Match or If-None-Match decides; nothing else stops it.
    let unvalidated = evaluate_unvalidated(method, fields);
    if unvalidated == Precondition::NotModified {
        assert!(matches!(method, Method::Get | Method::Head));
    }
    if headers
        .iter()
        .all(|h| h.name != "if-match" && h.name != "if-none-match")
    {
        assert_eq!(unvalidated, Precondition::Proceed);
    }

    assert!(if_range_allows(None, v, now));
    assert!(if_range_allows(Some(etag.as_str().as_bytes()), v, now));
    let if_range = fields.get("if-range");
    if if_range_allows(if_range, v, now)
        && let Some(value) = if_range
    {
        let value = value.trim_ascii();
        // Allowed by a date only when that date is a strong validator.
        if !value.starts_with(b"\"") && !value.starts_with(b"W/") {
            assert!(last_modified < now);
        }
    }
});
