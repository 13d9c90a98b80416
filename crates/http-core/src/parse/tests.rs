//! The parser's tests: heads whole and in pieces, every limit and every smuggling rule.

use super::*;
use crate::EMPTY_HEADER;
use crate::limits::{MAX_HEADERS, MAX_REQUEST_LINE};

/// Method, target, version, body, keep-alive and head length of a complete head.
type Parsed = (Method, Vec<u8>, Version, Body, bool, usize);

/// Parses `input` whole and returns the outcome in an owned, comparable form.
fn outcome(input: &[u8]) -> Result<Option<Parsed>, ParseError> {
    let mut slots = [EMPTY_HEADER; MAX_HEADERS];
    parse_request(input, &mut slots).map(|status| match status {
        Status::Complete((r, len)) => Some((
            r.method,
            r.target.to_vec(),
            r.version,
            r.body,
            r.keep_alive,
            len,
        )),
        Status::Partial => None,
    })
}

fn err(input: &[u8]) -> ParseError {
    outcome(input).expect_err("expected an error")
}

#[test]
fn simple_get_is_complete_with_its_head_length() {
    let req = b"GET /a.html?x=1 HTTP/1.1\r\nHost: h\r\n\r\nNEXT";
    let (method, target, version, body, keep_alive, len) = outcome(req).unwrap().unwrap();
    assert_eq!(method, Method::Get);
    assert_eq!(target, b"/a.html?x=1");
    assert_eq!(version, Version::Http11);
    assert_eq!(body, Body::None);
    assert!(keep_alive);
    assert_eq!(&req[len..], b"NEXT");
}

#[test]
fn header_values_are_trimmed_and_names_kept_as_sent() {
    let mut slots = [EMPTY_HEADER; MAX_HEADERS];
    let buf = b"GET / HTTP/1.1\r\nHost:  h \r\nX-Thing:\tv a l\t\r\nEmpty:\r\n\r\n";
    let Ok(Status::Complete((req, _))) = parse_request(buf, &mut slots) else {
        panic!("not complete");
    };
    assert_eq!(req.headers.len(), 3);
    assert_eq!(req.header("host"), Some(&b"h"[..]));
    assert_eq!(req.headers[1].name, "X-Thing");
    assert_eq!(req.header("x-thing"), Some(&b"v a l"[..]));
    assert_eq!(req.header("empty"), Some(&b""[..]));
    assert_eq!(req.header("missing"), None);
    assert_eq!(req.line, b"GET / HTTP/1.1");
}

#[test]
fn bare_lf_line_endings_and_leading_empty_lines_are_accepted() {
    let req = b"\r\n\nGET / HTTP/1.1\nHost: h\n\n";
    let (.., len) = outcome(req).unwrap().unwrap();
    assert_eq!(len, req.len());
}

#[test]
fn incomplete_heads_are_partial() {
    for input in [
        &b""[..],
        b"\r\n",
        b"GET",
        b"GET / HTTP/1.1",
        b"GET / HTTP/1.1\r",
        b"GET / HTTP/1.1\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\n\r",
    ] {
        assert_eq!(
            outcome(input),
            Ok(None),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn keep_alive_follows_version_defaults_and_connection_tokens() {
    let cases: &[(&[u8], bool)] = &[
        (b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", true),
        (
            b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
            false,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Keep-Alive, CLOSE\r\n\r\n",
            false,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: h\r\nConnection: closed\r\n\r\n",
            true,
        ),
        (b"GET / HTTP/1.0\r\n\r\n", false),
        (b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true),
        (
            b"GET / HTTP/1.0\r\nConnection: te, Keep-Alive\r\n\r\n",
            true,
        ),
        (
            b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
            false,
        ),
    ];
    for (input, expected) in cases {
        let (.., keep_alive, _) = outcome(input).unwrap().unwrap();
        assert_eq!(
            keep_alive,
            *expected,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn methods_map_to_known_registered_or_unknown() {
    let method = |m: &str| outcome(format!("{m} / HTTP/1.1\r\nHost: h\r\n\r\n").as_bytes());
    assert_eq!(method("HEAD").unwrap().unwrap().0, Method::Head);
    assert_eq!(method("OPTIONS").unwrap().unwrap().0, Method::Options);
    assert_eq!(method("DELETE").unwrap().unwrap().0, Method::Delete);
    assert_eq!(method("PROPFIND").unwrap().unwrap().0, Method::Other);
    assert_eq!(method("BREW"), Err(ParseError::UnknownMethod));
    assert_eq!(method("get"), Err(ParseError::UnknownMethod));
}

#[test]
fn versions_other_than_1_0_and_1_1_are_unsupported() {
    for v in ["HTTP/2.0", "HTTP/2", "HTTP/3", "HTTP/0.9", "HTTP/1.2"] {
        let input = format!("GET / {v}\r\nHost: h\r\n\r\n");
        assert_eq!(err(input.as_bytes()), ParseError::UnsupportedVersion, "{v}");
    }
}

#[test]
fn malformed_request_lines_are_rejected_as_soon_as_the_line_ends() {
    for line in [
        &b"GET /\r\n"[..],
        b"GET  / HTTP/1.1\r\n",
        b"GET / HTTP/1.1 \r\n",
        b" GET / HTTP/1.1\r\n",
        b"GET / http/1.1\r\n",
        b"GET / HTTP/11\r\n",
        b"GET /a b HTTP/1.1\r\n",
        b"GET /\x00 HTTP/1.1\r\n",
        b"GET /\r HTTP/1.1\r\n",
        b"G(T / HTTP/1.1\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n",
    ] {
        assert_eq!(
            err(line),
            ParseError::RequestLine,
            "{:?}",
            String::from_utf8_lossy(line)
        );
    }
}

#[test]
fn malformed_fields_are_rejected() {
    let cases: &[(&[u8], ParseError)] = &[
        (
            b"GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n",
            ParseError::HeaderField,
        ),
        (
            b"GET / HTTP/1.1\r\nHost : h\r\n\r\n",
            ParseError::HeaderField,
        ),
        (
            b"GET / HTTP/1.1\r\nHost\t: h\r\n\r\n",
            ParseError::HeaderField,
        ),
        (
            b"GET / HTTP/1.1\r\n: h\r\nHost: h\r\n\r\n",
            ParseError::HeaderField,
        ),
        (
            b"GET / HTTP/1.1\r\nHo(st: h\r\n\r\n",
            ParseError::HeaderField,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\n\r\n",
            ParseError::HeaderField,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n",
            ParseError::HeaderField,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: h\r\nX: a\x7fb\r\n\r\n",
            ParseError::HeaderField,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n",
            ParseError::ObsoleteFold,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n",
            ParseError::ObsoleteFold,
        ),
        (
            b"GET / HTTP/1.1\r\n Host: h\r\n\r\n",
            ParseError::ObsoleteFold,
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(
            err(input),
            *expected,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn obs_text_in_a_value_is_allowed() {
    assert!(
        outcome(b"GET / HTTP/1.1\r\nHost: h\r\nX: caf\xc3\xa9\r\n\r\n")
            .unwrap()
            .is_some()
    );
}

#[test]
fn a_host_that_is_not_a_host_and_port_is_refused() {
    for host in [
        "a b", "a/b", "a, b", "user@a", "a:b", "a:1:2", "[::1", "[::1]x", "[]", "a%zz", "[::1]:8a",
        "a\\b",
    ] {
        let head = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
        assert_eq!(err(head.as_bytes()), ParseError::Host, "Host: {host}");
    }
}

#[test]
fn names_addresses_and_ports_are_hosts() {
    for host in [
        "example.com",
        "example.com:8080",
        "127.0.0.1:80",
        "[::1]",
        "[::1]:8080",
        "[v1.fe80::a+en1]",
        "[fe80::1%25eth0]:80",
        "xn--caf-dma.example",
        "a%41b",
        "a,b",
        "a:",
        "",
    ] {
        let head = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
        assert!(outcome(head.as_bytes()).unwrap().is_some(), "Host: {host}");
    }
}

#[test]
fn a_head_request_is_known_by_its_line_alone() {
    assert!(is_head_request(
        b"HEAD / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"
    ));
    assert!(is_head_request(b"\r\nHEAD /x HTTP/1.2\r\n"));
    assert!(!is_head_request(b"GET / HTTP/1.1\r\n\r\n"));
    assert!(!is_head_request(b"HEADER / HTTP/1.1\r\n\r\n"));
    assert!(!is_head_request(b"head / HTTP/1.1\r\n\r\n"));
}

#[test]
fn http11_needs_exactly_one_host() {
    assert_eq!(err(b"GET / HTTP/1.1\r\n\r\n"), ParseError::Host);
    assert_eq!(
        err(b"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n"),
        ParseError::Host
    );
    assert_eq!(
        err(b"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"),
        ParseError::Host
    );
    assert!(outcome(b"GET / HTTP/1.0\r\n\r\n").unwrap().is_some());
    assert!(
        outcome(b"GET / HTTP/1.1\r\nHost:\r\n\r\n")
            .unwrap()
            .is_some()
    );
}

#[test]
fn body_framing_is_derived_and_smuggling_attempts_rejected() {
    let body = |fields: &str| {
        outcome(format!("GET / HTTP/1.1\r\nHost: h\r\n{fields}\r\n").as_bytes())
            .map(|o| o.unwrap().3)
    };
    assert_eq!(body(""), Ok(Body::None));
    assert_eq!(body("Content-Length: 0\r\n"), Ok(Body::None));
    assert_eq!(body("Content-Length: 12\r\n"), Ok(Body::Length(12)));
    assert_eq!(body("Content-Length: 5, 5\r\n"), Ok(Body::Length(5)));
    assert_eq!(
        body("Content-Length: 5\r\nContent-Length: 5\r\n"),
        Ok(Body::Length(5))
    );
    assert_eq!(body("Transfer-Encoding: chunked\r\n"), Ok(Body::Chunked));
    assert_eq!(
        body("Transfer-Encoding: gzip, Chunked\r\n"),
        Ok(Body::Chunked)
    );
    for bad in [
        "Content-Length: 5\r\nContent-Length: 6\r\n",
        "Content-Length: 5, 6\r\n",
        "Content-Length: -1\r\n",
        "Content-Length: +5\r\n",
        "Content-Length: 0x10\r\n",
        "Content-Length: \r\n",
        "Content-Length: 1 2\r\n",
        "Content-Length: 99999999999999999999999\r\n",
    ] {
        assert_eq!(body(bad), Err(ParseError::ContentLength), "{bad:?}");
    }
    for bad in [
        "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
        "Transfer-Encoding: gzip\r\n",
        "Transfer-Encoding: chunked, gzip\r\n",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n",
        "Transfer-Encoding: \r\n",
    ] {
        assert_eq!(body(bad), Err(ParseError::Framing), "{bad:?}");
    }
    assert_eq!(
        err(b"GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
        ParseError::Framing
    );
}

#[test]
fn request_line_limit_is_exact() {
    let line_of = |target_len: usize| {
        // "GET " + target + " HTTP/1.1" is target_len + 13 bytes.
        let target = format!("/{}", "a".repeat(target_len - 1));
        format!("GET {target} HTTP/1.1\r\nHost: h\r\n\r\n")
    };
    assert!(
        outcome(line_of(MAX_REQUEST_LINE - 13).as_bytes())
            .unwrap()
            .is_some()
    );
    assert_eq!(
        err(line_of(MAX_REQUEST_LINE - 12).as_bytes()),
        ParseError::RequestLineTooLong
    );
    let unterminated = format!("GET /{}", "a".repeat(MAX_REQUEST_LINE));
    assert_eq!(err(unterminated.as_bytes()), ParseError::RequestLineTooLong);
}

#[test]
fn head_size_and_field_count_limits_give_431() {
    let big = format!(
        "GET / HTTP/1.1\r\nHost: h\r\nX: {}\r\n\r\n",
        "v".repeat(MAX_HEAD)
    );
    assert_eq!(err(big.as_bytes()), ParseError::HeadTooLarge);
    let unterminated = format!("GET / HTTP/1.1\r\nHost: h\r\nX: {}", "v".repeat(MAX_HEAD));
    assert_eq!(err(unterminated.as_bytes()), ParseError::HeadTooLarge);
    let endless_empty_lines = "\r\n".repeat(MAX_HEAD);
    assert_eq!(
        err(endless_empty_lines.as_bytes()),
        ParseError::HeadTooLarge
    );

    let fields = |n: usize| {
        let mut s = String::from("GET / HTTP/1.1\r\nHost: h\r\n");
        for i in 1..n {
            s.push_str(&format!("X-{i}: v\r\n"));
        }
        s + "\r\n"
    };
    assert!(outcome(fields(MAX_HEADERS).as_bytes()).unwrap().is_some());
    assert_eq!(
        err(fields(MAX_HEADERS + 1).as_bytes()),
        ParseError::TooManyHeaders
    );
}

#[test]
fn empty_lines_before_a_request_are_measured() {
    assert_eq!(empty_lines_len(b"\r\n\nGET / HTTP/1.1\r\n"), 3);
    assert_eq!(empty_lines_len(b"GET"), 0);
    assert_eq!(empty_lines_len(b"\r\n"), 2);
    assert_eq!(empty_lines_len(b""), 0);
}

#[test]
fn first_line_takes_the_request_line_for_logs() {
    assert_eq!(first_line(b"\r\nGARBAGE x\r\nHost: h\r\n"), b"GARBAGE x");
    assert_eq!(first_line(b"GET / HTTP/1.1"), b"GET / HTTP/1.1");
    assert_eq!(first_line(b""), b"");
    assert_eq!(
        first_line(&[b'a'; MAX_REQUEST_LINE * 2]).len(),
        MAX_REQUEST_LINE
    );
}

#[test]
fn errors_map_to_their_statuses() {
    use crate::StatusCode;
    assert_eq!(ParseError::RequestLine.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        ParseError::RequestLineTooLong.status(),
        StatusCode::URI_TOO_LONG
    );
    assert_eq!(
        ParseError::HeadTooLarge.status(),
        StatusCode::HEADER_FIELDS_TOO_LARGE
    );
    assert_eq!(
        ParseError::TooManyHeaders.status(),
        StatusCode::HEADER_FIELDS_TOO_LARGE
    );
    assert_eq!(
        ParseError::UnknownMethod.status(),
        StatusCode::NOT_IMPLEMENTED
    );
    assert_eq!(
        ParseError::UnsupportedVersion.status(),
        StatusCode::VERSION_NOT_SUPPORTED
    );
    assert_eq!(ParseError::Framing.status(), StatusCode::BAD_REQUEST);
}

/// The request line's grammar (RFC 9112 §3) as a regular expression, the version's minor digit
/// optional so that `HTTP/2` is a version to refuse rather than a malformed line: the
/// specification [`parse_request_line`] is held to.
pub(super) static REQUEST_LINE: std::sync::LazyLock<regex::bytes::Regex> =
    std::sync::LazyLock::new(|| {
        regex::bytes::Regex::new(
            r"^([!#$%&'*+.^_`|~0-9A-Za-z-]+) ((?-u:[^\x00-\x20\x7F])+) HTTP/([0-9])(?:\.([0-9]))?$",
        )
        .unwrap()
    });

/// What the grammar says of `line`: the method token, target and version, or the error.
fn by_the_grammar(line: &[u8]) -> Result<(Method, &[u8], Version), ParseError> {
    let caps = REQUEST_LINE.captures(line).ok_or(ParseError::RequestLine)?;
    let group = |i| caps.get(i).map(|m| m.as_bytes());
    let version = match (group(3), group(4)) {
        (Some(b"1"), Some(b"1")) => Version::Http11,
        (Some(b"1"), Some(b"0")) => Version::Http10,
        _ => return Err(ParseError::UnsupportedVersion),
    };
    let method = Method::from_bytes(group(1).unwrap()).ok_or(ParseError::UnknownMethod)?;
    Ok((method, group(2).unwrap(), version))
}

mod request_line_grammar {
    use proptest::prelude::*;

    use super::*;

    /// A byte that sits on an edge of some class of the grammar.
    fn odd_byte() -> impl Strategy<Value = u8> {
        prop::sample::select(vec![
            0u8, 9, 10, 13, 0x1F, b' ', b'"', b'(', b'.', b'/', b':', b'@', 0x7F, 0x80, 0xFF,
        ])
    }

    /// `part`, sometimes with an odd byte put somewhere in it.
    fn spoiled(part: &'static [&'static [u8]]) -> impl Strategy<Value = Vec<u8>> {
        (
            prop::sample::select(part),
            prop::option::of((any::<prop::sample::Index>(), odd_byte())),
        )
            .prop_map(|(part, odd)| {
                let mut part = part.to_vec();
                if let Some((at, b)) = odd {
                    part.insert(at.index(part.len() + 1), b);
                }
                part
            })
    }

    /// Lines shaped like a request line, each part right or spoiled by one byte, the spaces
    /// between them one, two or none; and some bytes at random.
    fn line() -> impl Strategy<Value = Vec<u8>> {
        let space = prop::sample::select(vec![&b" "[..], b"", b"  ", b"\t"]);
        let shaped = (
            spoiled(&[b"GET", b"HEAD", b"PRI", b"OPTIONS", b"", b"FOO-BAR"]),
            space.clone(),
            spoiled(&[b"/", b"/a?b=%20", b"*", b"http://h:1/x", b"/\xc3\xa9", b""]),
            space,
            spoiled(&[
                b"HTTP/1.1",
                b"HTTP/1.0",
                b"HTTP/2",
                b"HTTP/2.0",
                b"HTTP/1.",
                b"http/1.1",
            ]),
        )
            .prop_map(|(m, s1, t, s2, v)| [&m[..], s1, &t, s2, &v].concat());
        prop_oneof![4 => shaped, 1 => prop::collection::vec(any::<u8>(), 0..24)]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        #[test]
        fn the_hand_written_split_agrees_with_the_grammar(line in line()) {
            prop_assert_eq!(parse_request_line(&line), by_the_grammar(&line));
        }
    }

    #[test]
    fn the_grammar_and_the_split_agree_on_the_usual_lines() {
        for line in [
            &b"GET / HTTP/1.1"[..],
            b"HEAD /a%20b?x=y HTTP/1.0",
            b"OPTIONS * HTTP/1.1",
            b"GET http://h/x HTTP/1.1",
            b"GET /\xc3\xa9 HTTP/1.1",
            b"GET / HTTP/2",
            b"GET / HTTP/2.0",
            b"GET / HTTP/1.",
            b"GET / HTTP/1.1\r",
            b"FOO / HTTP/1.1",
        ] {
            assert_eq!(parse_request_line(line), by_the_grammar(line), "{line:?}");
        }
    }
}

#[test]
fn a_known_field_name_is_the_same_name() {
    for name in [
        "Accept",
        "Accept-Encoding",
        "Accept-Language",
        "Cache-Control",
        "Connection",
        "Cookie",
        "Host",
        "If-Modified-Since",
        "If-None-Match",
        "Pragma",
        "Range",
        "Referer",
        "Sec-Fetch-Dest",
        "Sec-Fetch-Mode",
        "Sec-Fetch-Site",
        "Upgrade-Insecure-Requests",
        "User-Agent",
        "accept",
        "accept-encoding",
        "accept-language",
        "authorization",
        "cache-control",
        "content-length",
        "content-type",
        "cookie",
        "host",
        "if-match",
        "if-modified-since",
        "if-none-match",
        "if-range",
        "if-unmodified-since",
        "origin",
        "pragma",
        "priority",
        "range",
        "referer",
        "sec-fetch-dest",
        "sec-fetch-mode",
        "sec-fetch-site",
        "te",
        "upgrade-insecure-requests",
        "user-agent",
    ] {
        assert_eq!(known_field_name(name.as_bytes()), Some(name));
    }
    // Any other spelling is checked as any name is.
    assert_eq!(known_field_name(b"HOST"), None);
    let mut slots = [EMPTY_HEADER; 4];
    let parsed = parse_request(b"GET / HTTP/1.1\r\nHOST: a\r\nX-Y: b\r\n\r\n", &mut slots);
    let Ok(Status::Complete((req, _))) = parsed else {
        panic!("{parsed:?}")
    };
    assert_eq!(
        req.headers.iter().map(|h| h.name).collect::<Vec<_>>(),
        ["HOST", "X-Y"]
    );
}
