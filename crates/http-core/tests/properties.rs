//! Properties over arbitrary input: ranges always lie inside the representation, and decoded
//! targets can always be joined to a root without leaving it.

use http_core::range::{self, MAX_RANGES, Ranges};
use http_core::target;
use proptest::prelude::*;

/// Range values built from plausible pieces, so that most of them are well formed.
fn range_value() -> impl Strategy<Value = String> {
    let num = prop_oneof![0u64..2000, Just(u64::MAX), any::<u64>()];
    let spec = prop_oneof![
        (num.clone(), num.clone()).prop_map(|(a, b)| format!("{a}-{b}")),
        num.clone().prop_map(|a| format!("{a}-")),
        num.prop_map(|n| format!("-{n}")),
        Just(String::new()),
        "[ ,=a-z0-9-]{0,6}",
    ];
    (
        prop::sample::select(vec!["bytes=", "BYTES = ", "bytes", "items="]),
        prop::collection::vec(spec, 0..20),
    )
        .prop_map(|(unit, specs)| format!("{unit}{}", specs.join(",")))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn parsed_ranges_lie_inside_the_representation(value in range_value(), len in prop_oneof![Just(0u64), 1u64..5000, Just(u64::MAX)]) {
        if let Ranges::Partial(ranges) = range::parse(value.as_bytes(), len) {
            prop_assert!(!ranges.is_empty() && ranges.len() <= MAX_RANGES);
            for r in &ranges {
                prop_assert!(r.start <= r.end && r.end < len, "{r:?} outside {len}");
            }
            if ranges.len() > 1 {
                prop_assert!(ranges.iter().map(|r| u128::from(r.len())).sum::<u128>() <= u128::from(len));
            }
        }
    }

    #[test]
    fn range_parsing_never_panics_on_arbitrary_bytes(value in prop::collection::vec(any::<u8>(), 0..64), len in any::<u64>()) {
        let _ = range::parse(&value, len);
    }

    #[test]
    fn decoded_targets_stay_below_the_root(raw in "(/|%2[eEfF]|%[0-9a-fA-F]{2}|\\.{1,3}|[a-z]{1,3}|\\?|#|%){0,12}") {
        if let Ok(t) = target::decode(raw.as_bytes()) {
            prop_assert!(t.path.starts_with('/'));
            for segment in t.segments() {
                prop_assert!(!segment.is_empty() && segment != "." && segment != "..", "{segment:?} in {:?}", t.path);
                prop_assert!(!segment.contains('/') && !segment.contains('\0'));
            }
            let joined: std::path::PathBuf = ["/srv/root"].into_iter().chain(t.segments()).collect();
            prop_assert!(joined.starts_with("/srv/root"));
            prop_assert!(joined.components().all(|c| c != std::path::Component::ParentDir));
        }
    }

    #[test]
    fn target_decoding_never_panics(raw in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = target::decode(&raw);
    }
}
