//! Entity-tag lists (`If-Match`, `If-None-Match`) and single tags (`If-Range`): parsing never
//! panics, every tag parsed is a valid opaque tag taken from the input, a strong match implies a
//! weak one, and the server's own tags parse back to themselves.
#![no_main]

use http_core::etag::{ETag, TagList, parse_list, parse_one};
use libfuzzer_sys::fuzz_target;

fn valid_opaque(opaque: &[u8]) -> bool {
    opaque
        .iter()
        .all(|&b| b == 0x21 || (0x23..=0x7E).contains(&b) || b >= 0x80)
}

fuzz_target!(|data: &[u8]| {
    let numbers: Vec<u64> = data
        .chunks_exact(8)
        .take(4)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let n = |i: usize| numbers.get(i).copied().unwrap_or(0);
    let encoding =
        [None, Some("br"), Some("gzip")][usize::from(data.first().copied().unwrap_or(0) % 3)];
    let ours = ETag::for_file(n(0), n(1), i128::from(n(2)), i128::from(n(3)), encoding);
    let (own, rest) = parse_one(ours.as_str().as_bytes()).expect("our own tag parses");
    assert!(rest.is_empty() && !own.weak && ours.strong_eq(&own) && ours.weak_eq(&own));

    match parse_list(data) {
        Some(TagList::Any) => assert_eq!(data.trim_ascii(), b"*"),
        Some(TagList::Tags(tags)) => {
            assert!(!tags.is_empty());
            // Written back as a canonical list, the tags parse to themselves.
            let mut rebuilt = Vec::new();
            for tag in &tags {
                assert!(valid_opaque(tag.opaque));
                if !rebuilt.is_empty() {
                    rebuilt.extend_from_slice(b", ");
                }
                if tag.weak {
                    rebuilt.extend_from_slice(b"W/");
                }
                rebuilt.push(b'"');
                rebuilt.extend_from_slice(tag.opaque);
                rebuilt.push(b'"');
            }
            assert_eq!(parse_list(&rebuilt), Some(TagList::Tags(tags.clone())));
            let list = TagList::Tags(tags);
            if list.any_strong(&ours) {
                assert!(list.any_weak(&ours));
            }
        }
        None => {}
    }
    if let Some((tag, rest)) = parse_one(data) {
        assert!(valid_opaque(tag.opaque));
        // At least the two quotes were consumed.
        assert!(rest.len() + tag.opaque.len() + 2 <= data.len());
        assert!(data.ends_with(rest));
    }
});
