//! The two responses that exist only because of HTTPS: `308` from the plain-HTTP redirect
//! listener to the same URL over `https://`, and the `400` for plain HTTP sent to the TLS port
//! (nginx answers its own 497 there; a standard status with a body that says what to do is
//! clearer to every client). Both are written in the connection's buffer as `respond` writes its
//! responses; this module must not touch sockets.

use http_core::ResponseHead;
use http_core::date::HttpDate;
use http_core::{Method, Request, StatusCode, Version, target};

use crate::respond::Response;

/// `308 Permanent Redirect` to `https://HOST[:PORT]TARGET` (RFC 9110 §15.4.9: unlike 301 the
/// method is kept). The host is that of an absolute-form target when there is one (RFC 9112
/// §3.2.2: it wins over `Host`), else the request's `Host`, without its port; the path and
/// query are re-encoded, so nothing from the request reaches the header unescaped.
pub fn redirect(
    req: &Request<'_, '_>,
    https_port: u16,
    date: &HttpDate,
    buf: &mut Vec<u8>,
) -> Response {
    let head_only = req.method == Method::Head;
    let host = target::authority(req.target)
        .or_else(|| req.header("host"))
        .and_then(host_without_port);
    let Some(host) = host else {
        // No usable Host: there is no URL to send the client to.
        return simple(
            buf,
            StatusCode::BAD_REQUEST,
            date,
            req.version,
            head_only,
            "400 Bad Request: this port only redirects to HTTPS, and needs a Host field\n",
            None,
        );
    };
    let Ok(decoded) = target::decode(req.target) else {
        return simple(
            buf,
            StatusCode::BAD_REQUEST,
            date,
            req.version,
            head_only,
            "400 Bad Request\n",
            None,
        );
    };
    let mut location = format!("https://{host}");
    if https_port != 443 {
        location.push_str(&format!(":{https_port}"));
    }
    location.push_str(&target::encode_path(&decoded.path));
    if let Some(query) = decoded.query {
        location.push('?');
        location.push_str(&target::encode_query(query));
    }
    let body = format!("308 Permanent Redirect: {location}\n");
    simple(
        buf,
        StatusCode::PERMANENT_REDIRECT,
        date,
        req.version,
        head_only,
        &body,
        Some(&location),
    )
}

/// `400` for a client that spoke plain HTTP to the TLS port, naming the URL to use instead
/// (to a `HEAD`, the head alone).
pub fn plain_http(
    https_port: u16,
    head_only: bool,
    date: &HttpDate,
    buf: &mut Vec<u8>,
) -> Response {
    let body = format!(
        "400 Bad Request: this port speaks HTTPS. Use https://HOST:{https_port}/ instead of http://.\n"
    );
    simple(
        buf,
        StatusCode::BAD_REQUEST,
        date,
        Version::Http11,
        head_only,
        &body,
        None,
    )
}

/// A short plain-text response after which the connection closes; `head_only` (a `HEAD`)
/// leaves its body out.
fn simple(
    buf: &mut Vec<u8>,
    status: StatusCode,
    date: &HttpDate,
    version: Version,
    head_only: bool,
    body: &str,
    location: Option<&str>,
) -> Response {
    let mut head = ResponseHead::new(buf, status, date.as_str());
    if let Some(location) = location {
        head.header("Location", location);
    }
    head.header("Content-Type", "text/plain; charset=utf-8")
        .header("Cache-Control", "no-store")
        .content_length(body.len() as u64)
        .finish(version, false);
    let body = if head_only { "" } else { body };
    buf.extend_from_slice(body.as_bytes());
    Response {
        status,
        keep_alive: false,
        file: None,
        body_len: body.len() as u64,
        resource: None,
    }
}

/// The host part of a `Host` value (`name`, `name:port`, `[v6]`, `[v6]:port`), if it is one
/// that can go into a URL unchanged: letters, digits, `.`, `-`, and a bracketed IPv6 address.
fn host_without_port(value: &[u8]) -> Option<&str> {
    let value = std::str::from_utf8(value).ok()?.trim();
    let host = if value.starts_with('[') {
        let end = value.find(']')?;
        value.get(..=end)?
    } else {
        value.split(':').next()?
    };
    let allowed = |c: char| c.is_ascii_alphanumeric() || ".-[]:".contains(c);
    (!host.is_empty() && host.chars().all(allowed)).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lose_their_port_and_keep_brackets() {
        assert_eq!(host_without_port(b"example.com:8080"), Some("example.com"));
        assert_eq!(host_without_port(b"example.com"), Some("example.com"));
        assert_eq!(host_without_port(b"[::1]:8080"), Some("[::1]"));
        assert_eq!(host_without_port(b"10.0.0.2"), Some("10.0.0.2"));
    }

    fn redirect_of(request: &[u8]) -> (Response, String) {
        let mut headers = [http_core::EMPTY_HEADER; 16];
        let req = match http_core::parse_request(request, &mut headers) {
            Ok(http_core::Status::Complete((req, _))) => req,
            other => panic!("{other:?}"),
        };
        let date = HttpDate::from_unix(0);
        let mut buf = Vec::new();
        let response = redirect(&req, 8443, &date, &mut buf);
        (response, String::from_utf8(buf).unwrap())
    }

    fn location(head: &str) -> Option<&str> {
        head.lines().find_map(|l| l.strip_prefix("Location: "))
    }

    #[test]
    fn an_absolute_form_targets_authority_wins_over_host() {
        let (response, head) = redirect_of(
            b"GET http://right.example:8080/a?b=1 HTTP/1.1\r\nHost: wrong.example\r\n\r\n",
        );
        assert_eq!(response.status, StatusCode::PERMANENT_REDIRECT);
        assert_eq!(
            location(&head),
            Some("https://right.example:8443/a?b=1"),
            "{head}"
        );
        // Userinfo has no place in the URL sent back.
        let (response, _) =
            redirect_of(b"GET http://user@evil.example/ HTTP/1.1\r\nHost: good\r\n\r\n");
        assert_eq!(response.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn the_location_carries_no_quote_angle_bracket_space_or_control_byte() {
        let (_, head) =
            redirect_of(b"GET /p?q=<script>\"x\"%zz\x80\xff HTTP/1.1\r\nHost: h.example\r\n\r\n");
        let location = location(&head).unwrap_or_else(|| panic!("{head}"));
        assert_eq!(
            location,
            "https://h.example:8443/p?q=%3Cscript%3E%22x%22%25zz%80%FF"
        );
    }

    #[test]
    fn hosts_that_could_change_the_url_are_refused() {
        assert_eq!(host_without_port(b"evil.com/x"), None);
        assert_eq!(host_without_port(b"a@b"), None);
        assert_eq!(host_without_port(b""), None);
        assert_eq!(host_without_port(b"\"x\""), None);
    }
}
