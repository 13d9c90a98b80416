//! The request parser on arbitrary bytes: it must not panic, any prefix must answer `Partial`
//! or exactly what the whole input answers, and a parsed `HEAD` is one `is_head_request` sees.
#![no_main]

use http_core::limits::MAX_HEADERS;
use http_core::{EMPTY_HEADER, Method, ParseError, Status, is_head_request, parse_request};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, PartialEq)]
enum Outcome {
    Complete(Vec<u8>, usize, usize),
    Partial,
    Error(ParseError),
}

fn parse(buf: &[u8]) -> Outcome {
    let mut slots = [EMPTY_HEADER; MAX_HEADERS];
    match parse_request(buf, &mut slots) {
        Ok(Status::Complete((req, len))) => {
            assert!(len <= buf.len());
            assert!(req.headers.len() <= MAX_HEADERS);
            assert_eq!(req.method == Method::Head, is_head_request(buf));
            Outcome::Complete(req.line.to_vec(), req.headers.len(), len)
        }
        Ok(Status::Partial) => Outcome::Partial,
        Err(e) => Outcome::Error(e),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, input)) = data.split_first() else {
        return;
    };
    let whole = parse(input);
    let cut = usize::from(cut).min(input.len());
    let prefix = parse(&input[..cut]);
    match (&prefix, &whole) {
        (Outcome::Partial, _) => {}
        (Outcome::Error(p), Outcome::Error(w)) => assert_eq!(p, w),
        (Outcome::Complete(..), Outcome::Complete(..)) => assert_eq!(prefix, whole),
        _ => panic!("prefix {prefix:?} but whole {whole:?}"),
    }
    let _ = http_core::first_line(input);
});
