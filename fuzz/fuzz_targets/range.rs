//! `Range` parsing: whatever the value and length, ranges lie inside the representation, and
//! a multipart layout describes exactly its bytes.
#![no_main]

use http_core::range::{self, MAX_RANGES, Multipart, Ranges};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let (len, value) = data.split_at(8);
    let len = u64::from_le_bytes(len.try_into().unwrap());
    if let Ranges::Partial(ranges) = range::parse(value, len) {
        assert!(!ranges.is_empty() && ranges.len() <= MAX_RANGES);
        let mut total = 0u128;
        for r in &ranges {
            assert!(r.start <= r.end && r.end < len, "{r:?} outside {len}");
            total += u128::from(r.len());
        }
        if ranges.len() > 1 {
            assert!(total <= u128::from(len));
            // None only when the length cannot fit in a u64.
            if let Some(layout) = Multipart::new(&ranges, len, "text/plain", "fuzzboundary") {
                let heads: u128 = layout.parts.iter().map(|(h, _)| h.len() as u128).sum();
                assert_eq!(
                    u128::from(layout.content_length),
                    heads + total + layout.trailer.len() as u128
                );
            } else {
                assert!(total + 4096 > u128::from(u64::MAX));
            }
        }
    }
});
