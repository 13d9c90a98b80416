//! Incremental request-head parsing (RFC 9112 §2-§6).
//!
//! [`parse_request`] takes whatever bytes have arrived and answers `Partial` until the head is
//! complete. It owns the framing rules that protect against request smuggling, and must not
//! interpret the target (that is [`crate::target`]) or decide how to answer.

use crate::ParseError;
use crate::bytes::{decimal, split_once, split_once_near};
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

/// Which bytes belong to a class, one lookup per byte: the parser runs on every request, and
/// a search of a list of punctuation per byte cost more than the rest of the head together
/// (callgrind).
type ByteClass = [bool; 256];

/// The class of the ASCII letters and digits (when `alphanumeric`) and the bytes of `extra`.
#[allow(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    reason = "evaluated at compile time, where an index out of bounds stops the build"
)]
const fn byte_class(alphanumeric: bool, extra: &[u8]) -> ByteClass {
    let mut class = [false; 256];
    let mut b = 0;
    while b < 256 {
        class[b] = alphanumeric && (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        class[extra[i] as usize] = true;
        i += 1;
    }
    class
}

/// `tchar` (RFC 9110 §5.6.2): the bytes of a method or a field name.
const TCHAR: ByteClass = byte_class(true, b"!#$%&'*+-.^_`|~");

/// A request-target's bytes as the request line admits them: anything visible, obs-text
/// included; no control, space or DEL. What the target means is [`crate::target`]'s business.
const TARGET: ByteClass = target_class();

#[allow(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    reason = "evaluated at compile time, where an index out of bounds stops the build"
)]
const fn target_class() -> ByteClass {
    let mut class = [true; 256];
    let mut b = 0;
    while b <= 0x20 {
        class[b] = false;
        b += 1;
    }
    class[0x7F] = false;
    class
}

/// `unreserved / sub-delims` (RFC 3986 §2.2, §2.3): a registered name's bytes besides `%`.
const REG_NAME: ByteClass = byte_class(true, b"-._~!$&'()*+,;=");

/// An IP literal's bytes between the brackets (RFC 3986 §3.2.2, RFC 6874 zones).
const IP_LITERAL: ByteClass = byte_class(true, b"-._~!$&'()*+,;=:%");

/// Whether `s` is a token (RFC 9110 §5.6.2): one or more `tchar`, as a method or a field name
/// must be.
pub fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && all_in(&TCHAR, s)
}

/// Whether every byte of `s` is in `class`.
fn all_in(class: &ByteClass, s: &[u8]) -> bool {
    s.iter().all(|&b| in_class(class, b))
}

/// Whether `b` is in `class` (every byte has its entry: the lookup cannot fail).
fn in_class(class: &ByteClass, b: u8) -> bool {
    class.get(usize::from(b)).copied().unwrap_or(false)
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

/// `method SP request-target SP HTTP-version` (RFC 9112 §3), split by hand: exactly one
/// space between the parts, a method of `tchar`s, a target of visible bytes and
/// `HTTP/DIGIT[.DIGIT]`. The version's minor digit is optional here only so that `HTTP/2`
/// gets a 505 rather than a 400. The tests hold it to the regular expression that says the
/// same ([`tests::REQUEST_LINE`]).
fn parse_request_line(line: &[u8]) -> Result<(Method, &[u8], Version), ParseError> {
    // The method is a few bytes from the start and the version a few from the end, so each
    // space is looked for from its own end, byte by byte (a vector search costs more on so
    // few bytes). A space inside the target makes it invalid below.
    let first = line
        .iter()
        .position(|&b| b == b' ')
        .ok_or(ParseError::RequestLine)?;
    let last = line
        .iter()
        .rposition(|&b| b == b' ')
        .ok_or(ParseError::RequestLine)?;
    let (method, target, version) =
        match (line.get(..first), line.get(first.saturating_add(1)..last)) {
            (Some(method), Some(target)) => (
                method,
                target,
                line.get(last.saturating_add(1)..).unwrap_or_default(),
            ),
            _ => return Err(ParseError::RequestLine),
        };
    if method.is_empty() || target.is_empty() || !all_in(&TCHAR, method) || !all_in(&TARGET, target)
    {
        return Err(ParseError::RequestLine);
    }
    let version = match version {
        b"HTTP/1.1" => Version::Http11,
        b"HTTP/1.0" => Version::Http10,
        [b'H', b'T', b'T', b'P', b'/', major, rest @ ..]
            if major.is_ascii_digit() && matches!(rest, [] | [b'.', b'0'..=b'9']) =>
        {
            return Err(ParseError::UnsupportedVersion);
        }
        _ => return Err(ParseError::RequestLine),
    };
    let method = Method::from_bytes(method).ok_or(ParseError::UnknownMethod)?;
    Ok((method, target, version))
}

/// What follows the empty line that ends the head, searching `fields` (which starts with the
/// first field line); `None` while that line has not arrived.
fn after_empty_line(fields: &[u8]) -> Option<&[u8]> {
    let mut line_start = 0;
    for end in memchr::memchr_iter(b'\n', fields) {
        if matches!(fields.get(line_start..end), Some([] | [b'\r'])) {
            return fields.get(end.saturating_add(1)..);
        }
        line_start = end.saturating_add(1);
    }
    None
}

/// `field-name ":" OWS field-value OWS` (RFC 9112 §5).
fn parse_field(line: &[u8]) -> Result<Header<'_>, ParseError> {
    if matches!(line.first(), Some(b' ' | b'\t')) {
        return Err(ParseError::ObsoleteFold);
    }
    let (name, value) = split_once_near(line, b':').ok_or(ParseError::HeaderField)?;
    // Whitespace before the colon is not a tchar, so this also rejects `Host : x`, which
    // RFC 9112 §5.1 requires to be refused because proxies disagree on it.
    if name.is_empty() || !all_in(&TCHAR, name) {
        return Err(ParseError::HeaderField);
    }
    let value = trim_ows(value);
    if value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7F) {
        return Err(ParseError::HeaderField);
    }
    let name = match known_field_name(name) {
        Some(known) => known,
        None => std::str::from_utf8(name).map_err(|_| ParseError::HeaderField)?,
    };
    Ok(Header { name, value })
}

/// The field names clients send in nearly every request, as HTTP/1.1 clients capitalise them
/// and as HTTP/2 requires them (lowercase), matched to literals: a name that is one needs no
/// UTF-8 check to become a `&str` (`from_utf8` walks even an ASCII name: ~120 instructions for
/// `User-Agent`, a dozen names a browser request). Any other name is checked as before.
pub fn known_field_name(name: &[u8]) -> Option<&'static str> {
    Some(match name {
        b"Accept" => "Accept",
        b"Accept-Encoding" => "Accept-Encoding",
        b"Accept-Language" => "Accept-Language",
        b"Cache-Control" => "Cache-Control",
        b"Connection" => "Connection",
        b"Cookie" => "Cookie",
        b"Host" => "Host",
        b"If-Modified-Since" => "If-Modified-Since",
        b"If-None-Match" => "If-None-Match",
        b"Pragma" => "Pragma",
        b"Range" => "Range",
        b"Referer" => "Referer",
        b"Sec-Fetch-Dest" => "Sec-Fetch-Dest",
        b"Sec-Fetch-Mode" => "Sec-Fetch-Mode",
        b"Sec-Fetch-Site" => "Sec-Fetch-Site",
        b"Upgrade-Insecure-Requests" => "Upgrade-Insecure-Requests",
        b"User-Agent" => "User-Agent",
        b"accept" => "accept",
        b"accept-encoding" => "accept-encoding",
        b"accept-language" => "accept-language",
        b"authorization" => "authorization",
        b"cache-control" => "cache-control",
        b"content-length" => "content-length",
        b"content-type" => "content-type",
        b"cookie" => "cookie",
        b"host" => "host",
        b"if-match" => "if-match",
        b"if-modified-since" => "if-modified-since",
        b"if-none-match" => "if-none-match",
        b"if-range" => "if-range",
        b"if-unmodified-since" => "if-unmodified-since",
        b"origin" => "origin",
        b"pragma" => "pragma",
        b"priority" => "priority",
        b"range" => "range",
        b"referer" => "referer",
        b"sec-fetch-dest" => "sec-fetch-dest",
        b"sec-fetch-mode" => "sec-fetch-mode",
        b"sec-fetch-site" => "sec-fetch-site",
        b"te" => "te",
        b"upgrade-insecure-requests" => "upgrade-insecure-requests",
        b"user-agent" => "user-agent",
        _ => return None,
    })
}

/// `Host = uri-host [ ":" port ]` (RFC 9110 §7.2, RFC 3986 §3.2.2): a bracketed IP literal or
/// a registered name (possibly empty, as RFC 9112 §3.2 asks of a client without an authority),
/// then an optional run of digits. Anything else, such as a space, `/`, `@` or a second colon,
/// makes the request one a server must refuse (RFC 9112 §3.2). HTTP/2's `:authority` is held
/// to the same rule.
pub fn is_host(value: &[u8]) -> bool {
    let (host, port) = match value {
        [b'[', rest @ ..] => {
            let Some(end) = rest.iter().position(|&b| b == b']') else {
                return false;
            };
            let (literal, after) = rest.split_at(end);
            // IPv6 (with an RFC 6874 zone, `%25eth0`) or IPvFuture; the exact forms need not
            // be checked, only that nothing in it could end the authority.
            let literal_ok = !literal.is_empty() && all_in(&IP_LITERAL, literal);
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
        _ => match split_once_near(value, b':') {
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
            &b if in_class(&REG_NAME, b) => tail,
            _ => return false,
        };
    }
    true
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
mod tests;
