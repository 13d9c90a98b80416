//! Request-target decoding (RFC 9112 §3.2, RFC 3986 §2.1, §5.2.4) and path encoding.
//!
//! [`decode`] turns a raw target into a normalised, percent-decoded path that can be joined to a
//! document root without ever climbing above it. It must not look at the file system: whether the
//! path exists, is hidden or is a directory is the caller's business.

use std::borrow::Cow;

use crate::ParseError;
use crate::bytes::split_once;

/// A decoded origin-form or absolute-form target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target<'b> {
    /// Starts with `/`, has no empty, `.` or `..` segments and no NUL; valid UTF-8.
    /// The root is `/`; otherwise there is no trailing slash (see `trailing_slash`). Borrowed
    /// from the request when it needed no decoding, as nearly every path does.
    pub path: Cow<'b, str>,
    /// The raw query (after `?`, still percent-encoded), if any.
    pub query: Option<&'b [u8]>,
    /// Whether the raw path ended in `/` (or in a `.` or `..` segment), which asks for a
    /// directory.
    pub trailing_slash: bool,
}

impl Target<'_> {
    /// The path's segments, each safe to use as one file-name component.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.path.split('/').filter(|s| !s.is_empty())
    }
}

/// Decodes and normalises a request target.
///
/// Accepts origin-form (`/a/b?q`) and absolute-form (`http://host/a/b?q`, where the path is taken
/// and the authority ignored). Percent-escapes are decoded exactly once; `.` segments are dropped
/// and `..` removes the previous segment.
///
/// # Errors
///
/// [`ParseError::Target`] when the target is in another form (`*`, authority-form, another
/// scheme), contains a raw control byte, space or `#`, has a malformed escape, decodes to a NUL or a `/` inside a segment
/// (`%00`, `%2F`), is not UTF-8 after decoding, or uses `..` to climb above the root.
pub fn decode(raw: &[u8]) -> Result<Target<'_>, ParseError> {
    match plain(raw) {
        Some(target) => Ok(target),
        None => decode_by_segments(raw),
    }
}

/// The common case, in one pass over the bytes: an origin-form target whose path has nothing
/// to refuse, decode or normalise (no control byte, space, `#` or `%`, no empty segment but a
/// trailing one, no segment that starts with `.`), so that it is its own decoding. Five passes
/// (for controls, `?`, `#`, `%` and the segments) cost ~460 instructions for `/1k.html`
/// (callgrind); and a Vec per segment 1,100 before them. `None` sends every other target to
/// [`decode_by_segments`]; the tests check that both agree wherever this one answers.
fn plain(raw: &[u8]) -> Option<Target<'_>> {
    if raw.first() != Some(&b'/') {
        return None;
    }
    let mut previous = 0;
    let mut path_end = raw.len();
    for (i, &b) in raw.iter().enumerate() {
        match b {
            0..=b' ' | 0x7F | b'#' | b'%' => return None,
            b'/' | b'.' if previous == b'/' => return None,
            b'?' => {
                path_end = i;
                break;
            }
            _ => {}
        }
        previous = b;
    }
    let (path, query) = raw.split_at(path_end);
    let query = query.get(1..).filter(|_| !query.is_empty());
    if query.is_some_and(|q| q.iter().any(|&b| b <= b' ' || b == 0x7F)) {
        return None;
    }
    let trailing_slash = path.len() > 1 && path.ends_with(b"/");
    let body = match trailing_slash {
        true => path.strip_suffix(b"/")?,
        false => path,
    };
    Some(Target {
        path: Cow::Borrowed(std::str::from_utf8(body).ok()?),
        query,
        trailing_slash: trailing_slash || path == b"/",
    })
}

/// Decodes any target [`plain`] does not take: absolute-form, escapes, segments to normalise,
/// and every byte to refuse.
fn decode_by_segments(raw: &[u8]) -> Result<Target<'_>, ParseError> {
    // The request-line grammar already excludes these, but this function must be safe on its
    // own: a raw NUL or control byte must never reach a file name.
    if raw.iter().any(|&b| b <= b' ' || b == 0x7F) {
        return Err(ParseError::Target);
    }
    let (origin, absolute) = match raw.first() {
        Some(b'/') => (raw, false),
        _ => (strip_absolute_form(raw)?, true),
    };
    let (path, query) = match split_once(origin, b'?') {
        Some((path, query)) => (path, Some(query)),
        None => (origin, None),
    };
    // In absolute-form an empty path means `/` (RFC 9112 §3.2.2).
    let path: &[u8] = if absolute && path.is_empty() {
        b"/"
    } else {
        path
    };
    if path.first() != Some(&b'/') || path.contains(&b'#') {
        return Err(ParseError::Target);
    }
    normalise(path, query)
}

/// Decodes `path` segment by segment: escapes decoded once, `.` dropped, `..` removing the
/// segment before it (never above the root).
fn normalise<'b>(path: &[u8], query: Option<&'b [u8]>) -> Result<Target<'b>, ParseError> {
    let mut segments: Vec<Vec<u8>> = Vec::new();
    // A path whose last segment is empty, `.` or `..` names a directory, as a POSIX lookup
    // would take it (`/a.txt/.` is no more a file than `/a.txt/`).
    let mut names_directory = false;
    for raw_segment in path.split(|&b| b == b'/') {
        let segment = percent_decode(raw_segment)?;
        names_directory = matches!(segment.as_slice(), b"" | b"." | b"..");
        match segment.as_slice() {
            b"" | b"." => {}
            b".." => {
                segments.pop().ok_or(ParseError::Target)?;
            }
            _ => segments.push(segment),
        }
    }

    let mut decoded = Vec::with_capacity(path.len());
    for segment in &segments {
        decoded.push(b'/');
        decoded.extend_from_slice(segment);
    }
    if decoded.is_empty() {
        decoded.push(b'/');
    }
    let decoded = String::from_utf8(decoded).map_err(|_| ParseError::Target)?;
    Ok(Target {
        path: Cow::Owned(decoded),
        query,
        trailing_slash: names_directory,
    })
}

/// Reduces absolute-form (`http://authority/path?query`) to what follows the authority, which
/// may be empty or start with `/` or `?`.
fn strip_absolute_form(raw: &[u8]) -> Result<&[u8], ParseError> {
    split_absolute_form(raw).map(|(_, rest)| rest)
}

/// The authority of an absolute-form target (`host[:port]` of `http://host:port/path?q`, as
/// sent, possibly with userinfo), or `None` for any other form. RFC 9112 §3.2.2: a server must
/// take the host from it and ignore `Host`.
pub fn authority(raw: &[u8]) -> Option<&[u8]> {
    match raw.first() {
        Some(b'/') | None => None,
        Some(_) => split_absolute_form(raw)
            .ok()
            .map(|(authority, _)| authority),
    }
}

/// Splits absolute-form into its non-empty authority and what follows it.
fn split_absolute_form(raw: &[u8]) -> Result<(&[u8], &[u8]), ParseError> {
    let (scheme, after) = split_once(raw, b':').ok_or(ParseError::Target)?;
    if !(scheme.eq_ignore_ascii_case(b"http") || scheme.eq_ignore_ascii_case(b"https")) {
        return Err(ParseError::Target);
    }
    let after = after.strip_prefix(b"//").ok_or(ParseError::Target)?;
    let end = after
        .iter()
        .position(|&b| b == b'/' || b == b'?')
        .unwrap_or(after.len());
    match after.split_at_checked(end) {
        Some((authority, rest)) if !authority.is_empty() => Ok((authority, rest)),
        _ => Err(ParseError::Target),
    }
}

fn percent_decode(segment: &[u8]) -> Result<Vec<u8>, ParseError> {
    let mut out = Vec::with_capacity(segment.len());
    let mut rest = segment;
    loop {
        rest = match rest {
            [] => return Ok(out),
            [b'%', hi, lo, tail @ ..] => {
                let (Some(hi), Some(lo)) = (hex_value(*hi), hex_value(*lo)) else {
                    return Err(ParseError::Target);
                };
                let decoded = hi << 4 | lo;
                if decoded == 0 || decoded == b'/' {
                    return Err(ParseError::Target);
                }
                out.push(decoded);
                tail
            }
            [b'%', ..] => return Err(ParseError::Target),
            [b, tail @ ..] => {
                out.push(*b);
                tail
            }
        };
    }
}

fn hex_value(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Percent-encodes a decoded path for use in a `Location` field or an HTML link: every byte
/// outside RFC 3986's unreserved set, sub-delims, `:`, `@` and `/` is escaped, so the result never
/// contains whitespace, `?`, `#`, `%` (unescaped), quotes or control characters.
pub fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path.as_bytes() {
        let keep = b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&b);
        push_encoded(&mut out, b, keep);
    }
    out
}

/// A query as received, made safe to repeat in a `Location` field or a link: what RFC 3986 §3.4
/// allows in a query (unreserved, sub-delims, `:`, `@`, `/`, `?`, and the query's own `%XX`
/// escapes) stays as it is and every other byte is percent-encoded, so the result never
/// contains `"`, `<`, `>`, `\`, a space, a control byte or a `%` that starts no escape.
pub fn encode_query(query: &[u8]) -> String {
    let mut out = String::with_capacity(query.len());
    let mut rest = query;
    while let [b, tail @ ..] = rest {
        let keep = match b {
            b'%' => matches!(tail, [h, l, ..] if h.is_ascii_hexdigit() && l.is_ascii_hexdigit()),
            b => b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?".contains(b),
        };
        push_encoded(&mut out, *b, keep);
        rest = tail;
    }
    out
}

fn push_encoded(out: &mut String, b: u8, keep: bool) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    if keep {
        out.push(char::from(b));
    } else {
        out.push('%');
        // A nibble is below 16, so the fallback is unreachable.
        let hex = |nibble: u8| HEX.get(usize::from(nibble)).map_or('0', |&h| char::from(h));
        out.push(hex(b >> 4));
        out.push(hex(b & 0xF));
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        /// Wherever the shortcut answers, it answers as segment-by-segment decoding does; and
        /// it answers for the plain paths most requests carry.
        #[test]
        fn the_shortcut_agrees_with_decoding_segment_by_segment(
            raw in "/[/.a%2Fé?#\\x00 \\x7f]{0,12}",
        ) {
            let raw = raw.as_bytes();
            if let Some(fast) = plain(raw) {
                prop_assert_eq!(Ok(fast), decode_by_segments(raw));
            }
        }
    }

    #[test]
    fn plain_paths_take_the_shortcut() {
        for raw in [
            "/",
            "/index.html",
            "/a/b/",
            "/assets/app-3f2a.js",
            "/caf\u{e9}",
            "/a.b/c",
            "/a?b=%2F#x/../y",
            "/?",
            "/a/?q",
        ] {
            let target = plain(raw.as_bytes()).expect(raw);
            assert_eq!(Ok(target), decode_by_segments(raw.as_bytes()), "{raw}");
        }
        for raw in [
            "//",
            "/a//b",
            "/.well-known/x",
            "/a/..",
            "/%41",
            "/a//",
            "/a#b",
            "/a b",
            "/a?b c",
            "/a?\u{7f}",
            "http://h/a",
        ] {
            assert_eq!(plain(raw.as_bytes()), None, "{raw}");
        }
    }

    fn path(raw: &str) -> Result<String, ParseError> {
        decode(raw.as_bytes()).map(|t| t.path.into_owned())
    }

    #[test]
    fn origin_form_paths_are_normalised() {
        for (raw, expected) in [
            ("/", "/"),
            ("/index.html", "/index.html"),
            ("//a///b//", "/a/b"),
            ("/a/./b/.", "/a/b"),
            ("/a/b/../c", "/a/c"),
            ("/a/..", "/"),
            ("/a/%2e%2e/b", "/b"),
            ("/%7Euser/caf%C3%A9.txt", "/~user/café.txt"),
            ("/with%20space/a+b", "/with space/a+b"),
            ("/100%25", "/100%"),
            ("/a%3Fb%23c", "/a?b#c"),
        ] {
            assert_eq!(path(raw).as_deref(), Ok(expected), "{raw}");
        }
    }

    #[test]
    fn query_is_split_off_and_kept_raw() {
        let t = decode(b"/a/?x=%20&y=/..").unwrap();
        assert_eq!(t.path, "/a");
        assert_eq!(t.query, Some(&b"x=%20&y=/.."[..]));
        assert!(t.trailing_slash);
        let t = decode(b"/a?").unwrap();
        assert_eq!(t.query, Some(&b""[..]));
        assert!(!t.trailing_slash);
        for dir in [&b"/a/."[..], b"/a/%2e", b"/a/b/..", b"/a/./", b"/"] {
            assert!(decode(dir).unwrap().trailing_slash, "{dir:?}");
        }
        assert!(!decode(b"/a/.b").unwrap().trailing_slash);
    }

    #[test]
    fn climbing_above_the_root_is_rejected() {
        for raw in [
            "/..",
            "/../etc/passwd",
            "/a/../../b",
            "/%2e%2e/x",
            "/.%2E/x",
            "/a/%2E%2e/%2e%2e/",
        ] {
            assert_eq!(path(raw), Err(ParseError::Target), "{raw}");
        }
    }

    #[test]
    fn dangerous_escapes_are_rejected() {
        for raw in [
            "/a%00b",
            "/a%2fb",
            "/..%2f..%2fetc%2fpasswd",
            "/a%2Fb",
            "/a%",
            "/a%4",
            "/a%zz",
            "/caf%C3",        // truncated UTF-8
            "/%FF%FE",        // not UTF-8
            "/%C0%AE%C0%AE/", // overlong dots
            "/a#frag",
            "/\x04\x00/", // found by the `target` fuzz target
            "/a b",
            "/a\tb",
            "/a\x7f",
        ] {
            assert_eq!(path(raw), Err(ParseError::Target), "{raw}");
        }
    }

    #[test]
    fn absolute_form_takes_the_path() {
        for (raw, expected) in [
            ("http://example.com/a/b", "/a/b"),
            ("HTTP://example.com:8080/x?y", "/x"),
            ("https://h", "/"),
            ("http://h?q=1", "/"),
            ("http://h/../../etc/passwd/..", ""),
        ] {
            match expected {
                "" => assert_eq!(path(raw), Err(ParseError::Target), "{raw}"),
                _ => assert_eq!(path(raw).as_deref(), Ok(expected), "{raw}"),
            }
        }
        assert_eq!(decode(b"http://h?q=1").unwrap().query, Some(&b"q=1"[..]));
    }

    #[test]
    fn other_forms_are_rejected() {
        for raw in [
            "*",
            "example.com:443",
            "ftp://h/a",
            "file:///etc/passwd",
            "http:/a",
            "http:///a",
            "a/b",
            "",
        ] {
            assert_eq!(path(raw), Err(ParseError::Target), "{raw}");
        }
    }

    #[test]
    fn segments_are_single_components() {
        let t = decode(b"/a/b%20c/d").unwrap();
        assert_eq!(t.segments().collect::<Vec<_>>(), ["a", "b c", "d"]);
        assert_eq!(decode(b"/").unwrap().segments().count(), 0);
    }

    #[test]
    fn encode_path_escapes_everything_that_could_break_a_header_or_link() {
        assert_eq!(
            encode_path("/a b/c?d#e%f\"g<h>"),
            "/a%20b/c%3Fd%23e%25f%22g%3Ch%3E"
        );
        assert_eq!(encode_path("/café/\r\n"), "/caf%C3%A9/%0D%0A");
        assert_eq!(
            encode_path("/keep-._~!$&'()*+,;=:@/"),
            "/keep-._~!$&'()*+,;=:@/"
        );
    }

    #[test]
    fn encoding_then_decoding_round_trips() {
        for p in ["/a b/c?d#e%f", "/café/ü", "/x+y/%2F"] {
            assert_eq!(path(&encode_path(p)).as_deref(), Ok(p), "{p}");
        }
    }

    #[test]
    fn a_query_keeps_what_rfc_3986_allows_and_escapes_the_rest() {
        assert_eq!(encode_query(b"x=1&y=%22z%22"), "x=1&y=%22z%22");
        assert_eq!(encode_query(b"q=caf\xC3\xA9 "), "q=caf%C3%A9%20");
        assert_eq!(encode_query(b"a=/b?c:d@e!$'()*+,;"), "a=/b?c:d@e!$'()*+,;");
        assert_eq!(
            encode_query(b"q=<script>\"x\"`{|}^\\[]#"),
            "q=%3Cscript%3E%22x%22%60%7B%7C%7D%5E%5C%5B%5D%23"
        );
        // A `%` that starts no escape is one itself; the query's escapes stay as they are.
        assert_eq!(encode_query(b"100%&%zz&%4"), "100%25&%25zz&%254");
        assert_eq!(encode_query(b"%41%e9"), "%41%e9");
    }

    #[test]
    fn the_authority_is_that_of_an_absolute_form_target_only() {
        assert_eq!(
            authority(b"http://example.com:8080/x?y"),
            Some(&b"example.com:8080"[..])
        );
        assert_eq!(authority(b"HTTPS://[::1]?q"), Some(&b"[::1]"[..]));
        assert_eq!(authority(b"http://u@h/"), Some(&b"u@h"[..]));
        assert_eq!(authority(b"/x?http://h/"), None);
        assert_eq!(authority(b"http:///x"), None);
        assert_eq!(authority(b"ftp://h/x"), None);
        assert_eq!(authority(b"*"), None);
        assert_eq!(authority(b""), None);
    }
}
