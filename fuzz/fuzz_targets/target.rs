//! Target decoding: a decoded path never climbs above the root, and encoding it again decodes
//! to the same path; an authority is part of the target, and an encoded query has only the
//! characters a URL's query may.
#![no_main]

use http_core::target::{authority, decode, encode_path, encode_query};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(found) = authority(data) {
        assert!(!found.is_empty() && !found.contains(&b'/') && !found.contains(&b'?'));
    }
    let query = encode_query(data);
    assert!(
        query
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&b)),
        "{query:?}"
    );
    let Ok(target) = decode(data) else {
        return;
    };
    assert!(target.path.starts_with('/'));
    assert!(!target.path.contains('\0'));
    for segment in target.segments() {
        assert!(
            !segment.is_empty() && segment != "." && segment != "..",
            "{:?}",
            target.path
        );
    }
    let encoded = encode_path(&target.path);
    let again = decode(encoded.as_bytes()).expect("an encoded path decodes");
    assert_eq!(again.path, target.path);
});
