//! A request's header list as HPACK decoded it, checked as RFC 9113 §8 says before the exchange
//! sees it: lowercase names without forbidden bytes, values without CR, LF, NUL or surrounding
//! whitespace, the request pseudo-header fields (`:method`, `:scheme`, `:path`, `:authority`)
//! each once and before every other field, `:method` a token, no connection-specific field,
//! `te` only `trailers`, and `:authority` (or one `host`) a valid host, as HTTP/1.1's `Host`
//! must be.
//!
//! A request that breaks a rule is malformed: a stream error (RST_STREAM `PROTOCOL_ERROR`, RFC
//! 9113 §8.1.1), never the connection's end. This module must not decide responses.

use http_core::{Header, Method, is_host, is_token, known_field_name};

/// Whether `name` (lowercase) belongs to a connection, not a message: no such field may appear
/// in HTTP/2 (§8.2.2), in a request or in a response.
pub fn is_connection_specific(name: &[u8]) -> bool {
    matches!(
        name,
        b"connection" | b"proxy-connection" | b"keep-alive" | b"transfer-encoding" | b"upgrade"
    )
}

/// The bytes a field name may not hold (§8.2.1): controls and space, uppercase letters, DEL
/// and above, the colon. One lookup per byte: every name of every request is checked.
const NOT_IN_NAME: [bool; 256] = not_in_name();

#[allow(
    clippy::indexing_slicing,
    reason = "evaluated at compile time, where an index out of bounds stops the build"
)]
const fn not_in_name() -> [bool; 256] {
    let mut class = [false; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        class[b] = byte <= 0x20 || byte.is_ascii_uppercase() || byte >= 0x7f || byte == b':';
        b += 1;
    }
    class
}

/// What the pseudo-header fields say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pseudo<'f> {
    /// `:method`, known or not (`None`: a token the registry does not know, answered `501`).
    pub method: Option<Method>,
    /// `:method` as sent, for the log.
    pub method_text: &'f [u8],
    /// `:path` (an origin-form target, or `*` for `OPTIONS`).
    pub path: &'f [u8],
    /// `:authority`, if sent.
    pub authority: Option<&'f [u8]>,
    /// `content-length`, if sent (checked against the DATA received).
    pub content_length: Option<u64>,
}

/// Why a request is malformed, for the tests' eyes (every one is the same stream error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

/// Checks the decoded `fields` of a request (not trailers) and collects the regular fields into
/// `out` (cleared first) as the exchange reads them.
///
/// # Errors
///
/// [`Malformed`] with the first rule broken.
pub fn validate<'f>(
    fields: impl Iterator<Item = (&'f [u8], &'f [u8])>,
    out: &mut Vec<Header<'f>>,
) -> Result<Pseudo<'f>, Malformed> {
    out.clear();
    let mut method = None;
    let mut scheme = None;
    let mut path = None;
    let mut authority = None;
    let mut content_length = None;
    let mut host = false;
    let mut regular = false;
    for (name, value) in fields {
        check_value(value)?;
        if let Some(pseudo) = name.strip_prefix(b":") {
            if regular {
                return Err(Malformed("a pseudo-header field after a regular one"));
            }
            let slot = match pseudo {
                b"method" => &mut method,
                b"scheme" => &mut scheme,
                b"path" => &mut path,
                b"authority" => &mut authority,
                _ => return Err(Malformed("an unknown or response pseudo-header field")),
            };
            if slot.replace(value).is_some() {
                return Err(Malformed("a pseudo-header field twice"));
            }
            continue;
        }
        regular = true;
        let name = check_name(name)?;
        match name.as_bytes() {
            n if is_connection_specific(n) => {
                return Err(Malformed("a connection-specific field"));
            }
            b"te" if !value.eq_ignore_ascii_case(b"trailers") => {
                return Err(Malformed("te other than trailers"));
            }
            b"host" if !is_host(value) => return Err(Malformed("a host that is no host")),
            // As HTTP/1.1 refuses a second Host: which one names the target would be a guess.
            b"host" if std::mem::replace(&mut host, true) => {
                return Err(Malformed("two host fields"));
            }
            b"content-length" => {
                let len = parse_length(value).ok_or(Malformed("a bad content-length"))?;
                if content_length.replace(len).is_some_and(|old| old != len) {
                    return Err(Malformed("two content-lengths"));
                }
            }
            _ => {}
        }
        out.push(Header { name, value });
    }
    let method_text = method.ok_or(Malformed("no :method"))?;
    if !is_token(method_text) {
        return Err(Malformed("a :method that is not a token"));
    }
    if method_text == b"CONNECT" {
        // No tunnels here; the extended CONNECT of RFC 8441 is not offered either.
        return Err(Malformed("CONNECT"));
    }
    let path = path
        .filter(|p| !p.is_empty())
        .ok_or(Malformed("no :path"))?;
    match scheme {
        Some(b"http" | b"https") => {}
        Some(_) => return Err(Malformed("a scheme that is not http or https")),
        None => return Err(Malformed("no :scheme")),
    }
    if path == b"*" && method_text != b"OPTIONS" || path != b"*" && !path.starts_with(b"/") {
        return Err(Malformed("a :path that is not origin-form"));
    }
    check_authority(authority, out)?;
    Ok(Pseudo {
        method: Method::from_bytes(method_text),
        method_text,
        path,
        authority,
        content_length,
    })
}

/// Checks the fields of a trailer section: no pseudo-header fields, the same name and value
/// rules as a request's.
///
/// # Errors
///
/// [`Malformed`] with the first rule broken.
pub fn validate_trailers<'f>(
    mut fields: impl Iterator<Item = (&'f [u8], &'f [u8])>,
) -> Result<(), Malformed> {
    fields.try_for_each(|(name, value)| {
        if name.starts_with(b":") {
            return Err(Malformed("a pseudo-header field in trailers"));
        }
        check_value(value)?;
        let name = check_name(name)?;
        match is_connection_specific(name.as_bytes()) {
            true => Err(Malformed("a connection-specific field")),
            false => Ok(()),
        }
    })
}

/// A field name must not hold bytes 0x00-0x20, uppercase letters, 0x7f-0xff or a colon
/// (§8.2.1), nor be empty; what passes is ASCII.
fn check_name(name: &[u8]) -> Result<&str, Malformed> {
    let bad = |&b: &u8| NOT_IN_NAME.get(usize::from(b)).copied().unwrap_or(true);
    if name.is_empty() || name.iter().any(bad) {
        return Err(Malformed(
            "a field name with an uppercase letter or a forbidden byte",
        ));
    }
    Ok(match known_field_name(name) {
        Some(known) => known,
        None => {
            std::str::from_utf8(name).map_err(|_| Malformed("a field name that is not ASCII"))?
        }
    })
}

/// A field value must not hold NUL, CR or LF, nor start or end with whitespace (§8.2.1).
fn check_value(value: &[u8]) -> Result<(), Malformed> {
    if value.iter().any(|&b| matches!(b, 0 | b'\r' | b'\n')) {
        return Err(Malformed("a field value with NUL, CR or LF"));
    }
    let space = |b: Option<&u8>| matches!(b, Some(b' ' | b'\t'));
    if space(value.first()) || space(value.last()) {
        return Err(Malformed("a field value with surrounding whitespace"));
    }
    Ok(())
}

/// `:authority` and `host`, held to HTTP/1.1's `Host` rule: at least one, each a valid host
/// without userinfo, the same if both (RFC 9113 §8.3.1).
fn check_authority(authority: Option<&[u8]>, fields: &[Header<'_>]) -> Result<(), Malformed> {
    let host = fields.iter().find(|h| h.name == "host").map(|h| h.value);
    match (authority, host) {
        (None, None) => Err(Malformed("neither :authority nor host")),
        // An `http` or `https` URI with an empty host is invalid (RFC 9110 §4.2.1).
        // `is_host` refuses userinfo: `@` is in neither a reg-name nor an IP literal.
        (Some(a), _) if a.is_empty() || !is_host(a) => {
            Err(Malformed("an :authority that is no host"))
        }
        (Some(a), Some(h)) if !a.eq_ignore_ascii_case(h) => {
            Err(Malformed("host differs from :authority"))
        }
        _ => Ok(()),
    }
}

/// `1*DIGIT`, without overflow.
fn parse_length(value: &[u8]) -> Option<u64> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(fields: &[(&str, &str)]) -> Result<Pseudo<'static>, Malformed> {
        let owned: Vec<(&'static [u8], &'static [u8])> = fields
            .iter()
            .map(|(n, v)| {
                let n: &'static str = Box::leak(n.to_string().into_boxed_str());
                let v: &'static str = Box::leak(v.to_string().into_boxed_str());
                (n.as_bytes(), v.as_bytes())
            })
            .collect();
        let mut out = Vec::new();
        validate(owned.into_iter(), &mut out)
    }

    const GET: [(&str, &str); 4] = [
        (":method", "GET"),
        (":scheme", "https"),
        (":path", "/index.html"),
        (":authority", "example.com"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        GET.iter().copied().chain(extra.iter().copied()).collect()
    }

    #[test]
    fn known_and_other_names_are_checked_alike() {
        assert_eq!(check_name(b"user-agent"), Ok("user-agent"));
        assert_eq!(check_name(b"x-custom"), Ok("x-custom"));
        assert!(check_name(b"User-Agent").is_err());
    }

    #[test]
    fn a_plain_get_passes_with_its_fields() {
        let p = check(&with(&[("accept", "*/*"), ("te", "trailers")])).unwrap();
        assert_eq!(p.method, Some(Method::Get));
        assert_eq!(p.path, b"/index.html");
        assert_eq!(p.authority, Some(&b"example.com"[..]));
    }

    #[test]
    fn every_rule_of_section_8_makes_a_request_malformed() {
        let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
            ("uppercase name", with(&[("Accept", "*/*")])),
            ("colon in name", with(&[("x:y", "z")])),
            ("space in name", with(&[("a b", "c")])),
            ("connection", with(&[("connection", "close")])),
            ("keep-alive", with(&[("keep-alive", "5")])),
            ("proxy-connection", with(&[("proxy-connection", "x")])),
            (
                "transfer-encoding",
                with(&[("transfer-encoding", "chunked")]),
            ),
            ("upgrade", with(&[("upgrade", "h2c")])),
            ("te gzip", with(&[("te", "gzip")])),
            ("leading space", with(&[("accept", " */*")])),
            ("trailing tab", with(&[("accept", "*/*\t")])),
            ("pseudo after regular", {
                let mut f = vec![("accept", "*/*")];
                f.extend(GET);
                f
            }),
            ("unknown pseudo", with(&[(":protocol", "websocket")])),
            ("response pseudo", with(&[(":status", "200")])),
            (
                "duplicate :path",
                vec![
                    (":method", "GET"),
                    (":path", "/"),
                    (":scheme", "https"),
                    (":path", "/"),
                    (":authority", "a"),
                ],
            ),
            (
                "no :method",
                vec![(":scheme", "https"), (":path", "/"), (":authority", "a")],
            ),
            (
                "no :scheme",
                vec![(":method", "GET"), (":path", "/"), (":authority", "a")],
            ),
            (
                "empty :path",
                vec![
                    (":method", "GET"),
                    (":scheme", "https"),
                    (":path", ""),
                    (":authority", "a"),
                ],
            ),
            (
                "no :path",
                vec![
                    (":method", "GET"),
                    (":scheme", "https"),
                    (":authority", "a"),
                ],
            ),
            (
                "no authority or host",
                vec![(":method", "GET"), (":scheme", "https"), (":path", "/")],
            ),
            (
                "empty authority",
                vec![
                    (":method", "GET"),
                    (":scheme", "https"),
                    (":path", "/"),
                    (":authority", ""),
                ],
            ),
            (
                "userinfo",
                vec![
                    (":method", "GET"),
                    (":scheme", "https"),
                    (":path", "/"),
                    (":authority", "u@a"),
                ],
            ),
            ("host differs", with(&[("host", "other.example")])),
            (
                "two lengths",
                with(&[("content-length", "1"), ("content-length", "2")]),
            ),
            ("bad length", with(&[("content-length", "-1")])),
            (
                "asterisk for GET",
                vec![
                    (":method", "GET"),
                    (":scheme", "https"),
                    (":path", "*"),
                    (":authority", "a"),
                ],
            ),
            (
                "CONNECT",
                vec![(":method", "CONNECT"), (":authority", "a:443")],
            ),
        ];
        for (name, fields) in cases {
            assert!(check(&fields).is_err(), "{name} passed");
        }
    }

    #[test]
    fn a_second_host_field_is_malformed_whatever_it_says() {
        // HTTP/1.1 refuses two Host fields; a second one that differs from :authority used to
        // pass, since only the first was compared.
        assert!(check(&with(&[("host", "example.com"), ("host", "evil.example")])).is_err());
        assert!(check(&with(&[("host", "example.com"), ("host", "example.com")])).is_err());
    }

    #[test]
    fn te_trailers_passes_in_any_case() {
        // "trailers" is a token, and tokens compare without regard to case (RFC 9110 §10.1.4).
        assert!(check(&with(&[("te", "Trailers")])).is_ok());
    }

    #[test]
    fn a_method_that_is_not_a_token_is_malformed() {
        // HTTP/1.1 refuses such a request line (400) rather than calling it an unknown method.
        for method in ["G T", "GET\"", "", "G(T"] {
            let fields = [
                (":method", method),
                (":scheme", "http"),
                (":path", "/"),
                (":authority", "a"),
            ];
            assert!(check(&fields).is_err(), "{method:?} passed");
        }
        assert_eq!(
            check(&[
                (":method", "BREW"),
                (":scheme", "http"),
                (":path", "/"),
                (":authority", "a")
            ])
            .unwrap()
            .method,
            None
        );
    }

    #[test]
    fn host_equal_to_the_authority_passes_and_host_alone_does_too() {
        assert!(check(&with(&[("host", "EXAMPLE.com")])).is_ok());
        let host_only = [
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            ("host", "example.com:8080"),
        ];
        assert!(check(&host_only).is_ok());
    }

    #[test]
    fn trailers_hold_no_pseudo_header_fields() {
        let trailers: [(&[u8], &[u8]); 1] = [(b":path", b"/")];
        assert!(validate_trailers(trailers.into_iter()).is_err());
        let trailers: [(&[u8], &[u8]); 1] = [(b"x-checksum", b"abc")];
        assert!(validate_trailers(trailers.into_iter()).is_ok());
    }
}
