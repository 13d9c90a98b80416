//! Response-head encoding: any status, version, length and well-formed fields (plus a MIME type
//! from an arbitrary path) encode to a head whose lines are exactly what was asked for.
#![no_main]

use http_core::date::HttpDate;
use http_core::{ResponseHead, SERVER, StatusCode, Version, mime};
use libfuzzer_sys::fuzz_target;

const STATUSES: [StatusCode; 19] = [
    StatusCode::OK,
    StatusCode::NO_CONTENT,
    StatusCode::PARTIAL_CONTENT,
    StatusCode::MOVED_PERMANENTLY,
    StatusCode::NOT_MODIFIED,
    StatusCode::PERMANENT_REDIRECT,
    StatusCode::BAD_REQUEST,
    StatusCode::FORBIDDEN,
    StatusCode::NOT_FOUND,
    StatusCode::METHOD_NOT_ALLOWED,
    StatusCode::REQUEST_TIMEOUT,
    StatusCode::PRECONDITION_FAILED,
    StatusCode::URI_TOO_LONG,
    StatusCode::RANGE_NOT_SATISFIABLE,
    StatusCode::HEADER_FIELDS_TOO_LARGE,
    StatusCode::INTERNAL_SERVER_ERROR,
    StatusCode::NOT_IMPLEMENTED,
    StatusCode::SERVICE_UNAVAILABLE,
    StatusCode::VERSION_NOT_SUPPORTED,
];

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fuzz_target!(|data: &[u8]| {
    let Some((fixed, rest)) = data.split_first_chunk::<18>() else {
        return;
    };
    let status = STATUSES[usize::from(fixed[0]) % STATUSES.len()];
    let version = if fixed[1] & 1 == 0 {
        Version::Http11
    } else {
        Version::Http10
    };
    let keep_alive = fixed[1] & 2 != 0;
    let secs = u64::from_le_bytes(fixed[2..10].try_into().unwrap());
    let len = u64::from_le_bytes(fixed[10..18].try_into().unwrap());
    let date = HttpDate::from_unix(secs);

    // `NAME\0VALUE\0NAME\0VALUE...`: the contract is token names and values without CR or LF,
    // so other pairs are dropped; the first remaining value is also a path for the MIME table.
    let text = String::from_utf8_lossy(rest);
    let parts: Vec<&str> = text.split('\0').collect();
    let fields: Vec<(&str, &str)> = parts
        .chunks_exact(2)
        .map(|p| (p[0], p[1].trim_matches([' ', '\t'])))
        .filter(|(name, value)| is_token(name) && !value.contains(['\r', '\n']))
        .collect();
    let content_type = mime::for_path(parts.first().copied().unwrap_or(""));
    assert!(
        is_token(content_type.split('/').next().unwrap()) && !content_type.contains(['\r', '\n'])
    );

    let mut buf = Vec::new();
    let mut head = ResponseHead::new(&mut buf, status, date.as_str());
    head.header("Content-Type", content_type);
    for (name, value) in &fields {
        head.header(name, value);
    }
    head.header_fmt("X-Length", format_args!("{len}"));
    head.content_length(len);
    head.finish(version, keep_alive);

    let text = std::str::from_utf8(&buf).expect("a head of UTF-8 parts is UTF-8");
    let body = text
        .strip_suffix("\r\n\r\n")
        .expect("ends with an empty line");
    let mut lines = body.split("\r\n");
    assert_eq!(
        lines.next(),
        Some(format!("HTTP/1.1 {} {}", status.as_u16(), status.reason()).as_str())
    );
    let mut expected = vec![
        ("Date".to_owned(), date.as_str().to_owned()),
        ("Server".to_owned(), SERVER.to_owned()),
        ("Content-Type".to_owned(), content_type.to_owned()),
    ];
    expected.extend(fields.iter().map(|(n, v)| (n.to_string(), v.to_string())));
    expected.push(("X-Length".to_owned(), len.to_string()));
    expected.push(("Content-Length".to_owned(), len.to_string()));
    match (keep_alive, version) {
        (false, _) => expected.push(("Connection".to_owned(), "close".to_owned())),
        (true, Version::Http10) => {
            expected.push(("Connection".to_owned(), "keep-alive".to_owned()))
        }
        (true, Version::Http11) => {}
    }
    let got: Vec<(String, String)> = lines
        .map(|line| {
            let (name, value) = line.split_once(": ").expect("every field line has `: `");
            (name.to_owned(), value.to_owned())
        })
        .collect();
    assert_eq!(got, expected);
});
