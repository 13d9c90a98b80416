//! `Accept-Encoding` negotiation: never panics, only offers what is available, and whatever it
//! picks from all codings it would also pick when that coding is the only one available.
#![no_main]

use http_core::encoding::{Coding, choose};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mask, value)) = data.split_first() else {
        return;
    };
    let available: Vec<Coding> = [Coding::Br, Coding::Gzip]
        .into_iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, c)| c)
        .collect();
    assert_eq!(choose(None, &available), None);
    let chosen = choose(Some(value), &available);
    if let Some(coding) = chosen {
        assert!(available.contains(&coding));
        assert_eq!(choose(Some(value), &[coding]), Some(coding));
        assert!(!coding.token().is_empty() && !coding.extension().is_empty());
    }
    if available.is_empty() {
        assert_eq!(chosen, None);
    }
});
