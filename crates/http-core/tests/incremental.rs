//! Properties of the request parser over arbitrary input: it never panics, and feeding a request
//! in two pieces gives the same answer as feeding it whole.

use http_core::limits::MAX_HEADERS;
use http_core::{EMPTY_HEADER, ParseError, Status, parse_request};
use proptest::prelude::*;

/// The parser's answer in an owned form that can be compared across calls.
#[derive(Debug, PartialEq)]
enum Outcome {
    Complete {
        line: Vec<u8>,
        headers: Vec<(String, Vec<u8>)>,
        len: usize,
    },
    Partial,
    Error(ParseError),
}

fn parse(buf: &[u8]) -> Outcome {
    let mut slots = [EMPTY_HEADER; MAX_HEADERS];
    match parse_request(buf, &mut slots) {
        Ok(Status::Complete((req, len))) => Outcome::Complete {
            line: req.line.to_vec(),
            headers: req
                .headers
                .iter()
                .map(|h| (h.name.to_owned(), h.value.to_vec()))
                .collect(),
            len,
        },
        Ok(Status::Partial) => Outcome::Partial,
        Err(e) => Outcome::Error(e),
    }
}

/// Requests that look like what browsers and attackers send, built from plausible pieces.
fn request() -> impl Strategy<Value = Vec<u8>> {
    let method = prop::sample::select(vec!["GET", "HEAD", "POST", "BREW", "get", "OPTIONS"]);
    let target = prop::sample::select(vec![
        "/",
        "/index.html",
        "/a%20b?q=1",
        "http://h/x",
        "*",
        "/a b",
    ]);
    let version = prop::sample::select(vec!["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/1.1 "]);
    let field = prop::sample::select(vec![
        "Host: example.com",
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64)",
        "Accept: text/html,*/*;q=0.8",
        "Connection: close",
        "Connection: keep-alive",
        "Content-Length: 5",
        "Content-Length: 6",
        "Transfer-Encoding: chunked",
        " folded",
        "Bad Name: x",
        "X-Empty:",
        "X-Ctl: a\x01b",
    ]);
    let eol = prop::sample::select(vec!["\r\n", "\n"]);
    (
        method,
        target,
        version,
        prop::collection::vec(field, 0..6),
        eol,
        any::<bool>(),
    )
        .prop_map(|(m, t, v, fields, eol, trailing)| {
            let mut s = format!("{m} {t} {v}{eol}");
            for f in fields {
                s.push_str(f);
                s.push_str(eol);
            }
            s.push_str(eol);
            if trailing {
                s.push_str("GET /next HTTP/1.1\r\n");
            }
            s.into_bytes()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_panics_on_arbitrary_bytes(buf in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse(&buf);
    }

    #[test]
    fn every_prefix_is_partial_or_agrees_with_the_whole(req in request(), cut in any::<prop::sample::Index>()) {
        let whole = parse(&req);
        let cut = cut.index(req.len() + 1);
        let prefix = parse(&req[..cut]);
        match (&prefix, &whole) {
            (Outcome::Partial, _) => {}
            (Outcome::Error(p), Outcome::Error(w)) => prop_assert_eq!(p, w),
            // A complete prefix must be the same complete head (pipelined bytes may follow).
            (Outcome::Complete { .. }, Outcome::Complete { .. }) => prop_assert_eq!(&prefix, &whole),
            _ => prop_assert!(false, "prefix {:?} but whole {:?}", prefix, whole),
        }
    }

    #[test]
    fn byte_by_byte_feeding_reaches_the_whole_answer(req in request()) {
        let whole = parse(&req);
        let first_answer = (0..=req.len())
            .map(|n| parse(&req[..n]))
            .find(|o| *o != Outcome::Partial)
            .unwrap_or(Outcome::Partial);
        prop_assert_eq!(first_answer, whole);
    }
}
