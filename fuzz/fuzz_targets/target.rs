//! Target decoding: a decoded path never climbs above the root, and encoding it again decodes
//! to the same path.
#![no_main]

use http_core::target::{decode, encode_path};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
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
