//! Incremental request-head parsing (RFC 9112 §2-§6).
//!
//! [`parse_request`] takes whatever bytes have arrived and answers `Partial` until the head is
//! complete. It owns the framing rules that protect against request smuggling, and must not
//! interpret the target (that is [`crate::target`]) or decide how to answer.

use std::sync::LazyLock;

use regex::bytes::Regex;

use crate::ParseError;
use crate::bytes::{decimal, split_once};
use crate::limits::{MAX_HEAD, MAX_REQUEST_LINE};
use crate::request::{Body, Header, Method, Request, Version};

/// The outcome of feeding bytes to the parser, as in `httparse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status<T> {
    /// A whole head was parsed.
    Complete(T),
    /// More bytes are needed; call again with the same bytes plus the new ones.
    Partial,
}

/// `method SP request-target SP HTTP-version` (RFC 9112 §3). The version's minor digit is
/// optional here only so that `HTTP/2` gets a 505 rather than a 400.
static REQUEST_LINE: LazyLock<Regex> = LazyLock::new(request_line_regex);

// Allowed: the pattern is a constant, so it compiles on every call or on none, and every
// parsing test (`simple_get_is_complete_with_its_head_length` first) would fail on none.
#[allow(clippy::expect_used)]
fn request_line_regex() -> Regex {
    Regex::new(
        r"^([!#$%&'*+.^_`|~0-9A-Za-z-]+) ((?-u:[^\x00-\x20\x7F])+) HTTP/([0-9])(?:\.([0-9]))?$",
    )
    .expect("the request-line pattern is a valid regex")
}

/// Parses a request head from the start of `buf`.
///
/// Leading empty lines are skipped (RFC 9112 §2.2). Lines may end in CRLF or a bare LF; a CR
/// anywhere else is rejected. On success returns the request, whose fields are stored in
/// `headers`, and the number of bytes the head occupied (where a body or the next pipelined
/// request starts).
///
/// # Errors
///
/// A [`ParseError`] as soon as the bytes can no longer become a valid head, including when a
/// limit from [`crate::limits`] is exceeded. The caller should answer with
/// [`ParseError::status`] and close the connection.
pub fn parse_request<'b, 'h>(
    buf: &'b [u8],
    headers: &'h mut [Header<'b>],
) -> Result<Status<(Request<'b, 'h>, usize)>, ParseError> {
    let rest = skip_empty_lines(buf);
    if offset_of(buf, rest) > MAX_HEAD {
        return Err(ParseError::HeadTooLarge);
    }

    let Some((line, fields)) = split_once(rest, b'\n') else {
        // The line may still end in a CR that belongs to its terminator, hence the `+ 1`.
        if rest.len() > MAX_REQUEST_LINE + 1 {
            return Err(ParseError::RequestLineTooLong);
        }
        return Ok(Status::Partial);
    };
    let line = strip_cr(line);
    if line.len() > MAX_REQUEST_LINE {
        return Err(ParseError::RequestLineTooLong);
    }
    let (method, target, version) = parse_request_line(line)?;

    // Find the empty line that ends the head before validating any field, so that every prefix
    // of a head gives `Partial` or the same error as the whole head.
    let Some(after_head) = after_empty_line(fields) else {
        if buf.len() > MAX_HEAD {
            return Err(ParseError::HeadTooLarge);
        }
        return Ok(Status::Partial);
    };
    let head_len = offset_of(buf, after_head);
    if head_len > MAX_HEAD {
        return Err(ParseError::HeadTooLarge);
    }

    let mut count = 0;
    let mut hosts = 0u32;
    let mut content_length: Option<u64> = None;
    let mut transfer_encoding: Option<&[u8]> = None;
    let mut connection_close = false;
    let mut connection_keep_alive = false;
    let mut lines = fields;
    // Stops at the empty line found above, before `split_once` can run out of lines.
    while let Some((line, next)) = split_once(lines, b'\n') {
        lines = next;
        let line = strip_cr(line);
        if line.is_empty() {
            break;
        }
        let header = parse_field(line)?;
        let slot = headers.get_mut(count).ok_or(ParseError::TooManyHeaders)?;
        *slot = header;
        // `count` indexed a slot just above, so it is below `headers.len()`: no saturation.
        count = count.saturating_add(1);

        let name = header.name;
        if name.eq_ignore_ascii_case("host") {
            if !is_host(header.value) {
                return Err(ParseError::Host);
            }
            hosts = hosts.saturating_add(1);
        } else if name.eq_ignore_ascii_case("content-length") {
            let n = parse_content_length(header.value)?;
            if content_length.is_some_and(|prev| prev != n) {
                return Err(ParseError::ContentLength);
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // Several fields form one list; the last one carries the final coding.
            transfer_encoding = Some(header.value);
        } else if name.eq_ignore_ascii_case("connection") {
            for token in list_items(header.value) {
                connection_close |= token.eq_ignore_ascii_case(b"close");
                connection_keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        }
    }

    if version == Version::Http11 && hosts != 1 {
        return Err(ParseError::Host);
    }
    if hosts > 1 {
        return Err(ParseError::Host);
    }
    let body = match (transfer_encoding, content_length) {
        (Some(_), Some(_)) => return Err(ParseError::Framing),
        (Some(te), None) => {
            let last = list_items(te).last().unwrap_or_default();
            if version == Version::Http10 || !last.eq_ignore_ascii_case(b"chunked") {
                return Err(ParseError::Framing);
            }
            Body::Chunked
        }
        (None, Some(0) | None) => Body::None,
        (None, Some(n)) => Body::Length(n),
    };
    let keep_alive = match version {
        Version::Http11 => !connection_close,
        Version::Http10 => connection_keep_alive && !connection_close,
    };

    let request = Request {
        line,
        method,
        target,
        version,
        // `count` slots were filled, so the fallback is unreachable.
        headers: headers.get(..count).unwrap_or_default(),
        body,
        keep_alive,
    };
    Ok(Status::Complete((request, head_len)))
}

/// The raw first line of `buf` without its line ending, at most
/// [`MAX_REQUEST_LINE`](crate::limits::MAX_REQUEST_LINE) bytes: what a log shows for a request
/// that could not be parsed. Leading empty lines are skipped as [`parse_request`] skips them.
pub fn first_line(buf: &[u8]) -> &[u8] {
    let rest = skip_empty_lines(buf);
    let line = split_once(rest, b'\n').map_or(rest, |(line, _)| line);
    strip_cr(line.get(..MAX_REQUEST_LINE).unwrap_or(line))
}

/// Whether the request in `buf` is a `HEAD`, as far as its request line shows: a response to
/// it has no content even when an error is found later in the head (RFC 9110 §9.3.2), since
/// the client reads it as the answer to a `HEAD`.
pub fn is_head_request(buf: &[u8]) -> bool {
    first_line(buf).starts_with(b"HEAD ")
}

/// How many bytes of empty lines (CR and LF) `buf` starts with: what a server ignores before
/// a request line (RFC 9112 §2.2), as [`parse_request`] does.
pub fn empty_lines_len(buf: &[u8]) -> usize {
    offset_of(buf, skip_empty_lines(buf))
}

/// `buf` without its leading CR and LF bytes.
fn skip_empty_lines(mut buf: &[u8]) -> &[u8] {
    while let [b'\r' | b'\n', rest @ ..] = buf {
        buf = rest;
    }
    buf
}

/// Where `tail`, a suffix of `buf`, starts in it.
fn offset_of(buf: &[u8], tail: &[u8]) -> usize {
    // A suffix is never longer than the whole, so this never saturates.
    buf.len().saturating_sub(tail.len())
}

fn parse_request_line(line: &[u8]) -> Result<(Method, &[u8], Version), ParseError> {
    let caps = REQUEST_LINE.captures(line).ok_or(ParseError::RequestLine)?;
    let group = |i| caps.get(i).map(|m| m.as_bytes());
    let version = match (group(3), group(4)) {
        (Some(b"1"), Some(b"1")) => Version::Http11,
        (Some(b"1"), Some(b"0")) => Version::Http10,
        _ => return Err(ParseError::UnsupportedVersion),
    };
    // Groups 1 and 2 are not optional: they take part in every match.
    let (Some(method_token), Some(target)) = (group(1), group(2)) else {
        return Err(ParseError::RequestLine);
    };
    let method = Method::from_bytes(method_token).ok_or(ParseError::UnknownMethod)?;
    Ok((method, target, version))
}

/// What follows the empty line that ends the head, searching `fields` (which starts with the
/// first field line); `None` while that line has not arrived.
fn after_empty_line(mut fields: &[u8]) -> Option<&[u8]> {
    loop {
        let (line, rest) = split_once(fields, b'\n')?;
        if strip_cr(line).is_empty() {
            return Some(rest);
        }
        fields = rest;
    }
}

/// `field-name ":" OWS field-value OWS` (RFC 9112 §5).
fn parse_field(line: &[u8]) -> Result<Header<'_>, ParseError> {
    if matches!(line.first(), Some(b' ' | b'\t')) {
        return Err(ParseError::ObsoleteFold);
    }
    let (name, value) = split_once(line, b':').ok_or(ParseError::HeaderField)?;
    // Whitespace before the colon is not a tchar, so this also rejects `Host : x`, which
    // RFC 9112 §5.1 requires to be refused because proxies disagree on it.
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return Err(ParseError::HeaderField);
    }
    let value = trim_ows(value);
    if value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7F) {
        return Err(ParseError::HeaderField);
    }
    let name = std::str::from_utf8(name).map_err(|_| ParseError::HeaderField)?;
    Ok(Header { name, value })
}

/// `Host = uri-host [ ":" port ]` (RFC 9110 §7.2, RFC 3986 §3.2.2): a bracketed IP literal or
/// a registered name (possibly empty, as RFC 9112 §3.2 asks of a client without an authority),
/// then an optional run of digits. Anything else, such as a space, `/`, `@` or a second colon,
/// makes the request one a server must refuse (RFC 9112 §3.2).
fn is_host(value: &[u8]) -> bool {
    let (host, port) = match value {
        [b'[', rest @ ..] => {
            let Some(end) = rest.iter().position(|&b| b == b']') else {
                return false;
            };
            let (literal, after) = rest.split_at(end);
            // IPv6 (with an RFC 6874 zone, `%25eth0`) or IPvFuture; the exact forms need not
            // be checked, only that nothing in it could end the authority.
            let literal_ok = !literal.is_empty()
                && literal
                    .iter()
                    .all(|&b| is_unreserved(b) || is_sub_delim(b) || b == b':' || b == b'%');
            if !literal_ok {
                return false;
            }
            // `after` starts with the `]`.
            match after.get(1..).unwrap_or_default() {
                [] => (&[][..], None),
                [b':', port @ ..] => (&[][..], Some(port)),
                _ => return false,
            }
        }
        _ => match split_once(value, b':') {
            Some((host, port)) => (host, Some(port)),
            None => (value, None),
        },
    };
    is_reg_name(host) && port.is_none_or(|p| p.iter().all(u8::is_ascii_digit))
}

/// `reg-name = *( unreserved / pct-encoded / sub-delims )` (RFC 3986 §3.2.2).
fn is_reg_name(name: &[u8]) -> bool {
    let mut rest = name;
    while let [b, tail @ ..] = rest {
        rest = match b {
            b'%' => match tail {
                [h, l, after @ ..] if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => after,
                _ => return false,
            },
            &b if is_unreserved(b) || is_sub_delim(b) => tail,
            _ => return false,
        };
    }
    true
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn is_sub_delim(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
    )
}

/// `Content-Length = 1*DIGIT`, also accepting a list of identical values (RFC 9110 §8.6).
fn parse_content_length(value: &[u8]) -> Result<u64, ParseError> {
    let mut result = None;
    for item in value.split(|&b| b == b',') {
        let item = trim_ows(item);
        let n = decimal(item).ok_or(ParseError::ContentLength)?;
        if result.is_some_and(|prev| prev != n) {
            return Err(ParseError::ContentLength);
        }
        result = Some(n);
    }
    result.ok_or(ParseError::ContentLength)
}

/// The non-empty, trimmed items of a comma-separated field value.
fn list_items(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|item| !item.is_empty())
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
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
            "a b", "a/b", "a, b", "user@a", "a:b", "a:1:2", "[::1", "[::1]x", "[]", "a%zz",
            "[::1]:8a", "a\\b",
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
}
