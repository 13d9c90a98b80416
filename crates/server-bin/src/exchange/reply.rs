//! Every small response the server makes, made by one function ([`small`]): errors, redirects,
//! `304` for pages, `204` to `OPTIONS`, and the two responses that exist only because of HTTPS
//! (`308` from the plain-HTTP redirect listener to `https://`, and the `400` for plain HTTP sent
//! to the TLS port: nginx answers its own 497 there; a standard status with a body that says
//! what to do is clearer to every client).
//!
//! A small response has a short `text/plain` body (none where the status forbids content, none
//! sent to a `HEAD`); an error asked for by a browser (`Accept: text/html`) gets a small page in
//! the listing's style instead, with words for the visitor and a link to `/` (what the operator
//! could change goes to stderr, never to the visitor). Where a `Location` is built from the request, its path and query are
//! re-encoded, so nothing from the request reaches a field unescaped. This module must not touch
//! files or sockets, nor decide which error a request gets.

use std::borrow::Cow;

use http_core::target::{self, Target};
use http_core::{Method, StatusCode};

use super::Request;
use super::response::{Body, Fields, Response};
use crate::error::ServeError;
use crate::html;

/// The methods a static file accepts, for `Allow` (RFC 9110 §10.2.1).
pub const ALLOW: &str = "GET, HEAD, OPTIONS";

/// The body of the 403 for a directory without `index.html` while listings are off.
const NO_LISTING: &str = "403 Forbidden\nThis folder has no index page, and this server does \
     not list folders.\n";

/// Who a small response is for: a `HEAD` gets no content; a browser gets an error as a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Audience {
    /// A `HEAD`: the fields a `GET` would get, no content.
    pub head_only: bool,
    /// The client asked for HTML (`Accept: text/html`), as a browser navigating does.
    pub browser: bool,
}

impl Audience {
    /// The client that sent `req`.
    pub fn of(req: &Request<'_, '_>) -> Self {
        Self {
            head_only: req.head_only(),
            browser: html::accepted(req.fields.values("accept")),
        }
    }

    /// A client whose request could not be read (its head was refused): plain text.
    pub fn unread(head_only: bool) -> Self {
        Self {
            head_only,
            browser: false,
        }
    }
}

/// The one maker of small responses: `status` with `fields` and, where the status allows
/// content, `text` (by default the status line's code and reason) as a plain-text body, left
/// out for a `HEAD` but still measured in `Content-Length`.
pub fn small(
    status: StatusCode,
    mut fields: Fields,
    text: Option<Cow<'static, str>>,
    head_only: bool,
) -> Response {
    if status.forbids_content() {
        return Response {
            status,
            fields,
            content_length: None,
            body: Body::Empty,
            resource: None,
            user: None,
        };
    }
    let text = text.unwrap_or_else(|| status_line(status));
    fields.push("Content-Type", "text/plain; charset=utf-8");
    let content_length = Some(text.len() as u64);
    let body = match (head_only, text) {
        (true, _) => Body::Empty,
        (false, Cow::Borrowed(s)) => Body::Bytes(Cow::Borrowed(s.as_bytes())),
        (false, Cow::Owned(s)) => Body::Bytes(Cow::Owned(s.into_bytes())),
    };
    Response {
        status,
        fields,
        content_length,
        body,
        resource: None,
        user: None,
    }
}

/// The default text of a small response: the status's code and reason, on a line (made once
/// for the statuses this server sends).
fn status_line(status: StatusCode) -> Cow<'static, str> {
    macro_rules! lines {
        ($($name:ident),*) => {
            match status {
                $(StatusCode::$name => {
                    static LINE: std::sync::LazyLock<String> =
                        std::sync::LazyLock::new(|| format!("{}\n", StatusCode::$name));
                    Cow::Borrowed(LINE.as_str())
                })*
                _ => Cow::Owned(format!("{status}\n")),
            }
        };
    }
    lines!(
        MOVED_PERMANENTLY,
        PERMANENT_REDIRECT,
        BAD_REQUEST,
        FORBIDDEN,
        NOT_FOUND,
        METHOD_NOT_ALLOWED,
        REQUEST_TIMEOUT,
        PRECONDITION_FAILED,
        URI_TOO_LONG,
        RANGE_NOT_SATISFIABLE,
        HEADER_FIELDS_TOO_LARGE,
        INTERNAL_SERVER_ERROR,
        NOT_IMPLEMENTED,
        SERVICE_UNAVAILABLE,
        VERSION_NOT_SUPPORTED
    )
}

/// The error response for `err`: a short text naming the status (a page for a browser),
/// never stored by caches (`Cache-Control: no-store`), with the fields its status needs
/// (`Allow` on 405, `Retry-After` on 503, `Content-Range` on 416).
pub fn error(err: ServeError, to: Audience) -> Response {
    let mut fields = Fields::new();
    fields.push("Cache-Control", "no-store");
    let mut text = None;
    match err {
        ServeError::MethodNotAllowed => fields.push("Allow", ALLOW),
        ServeError::Unavailable => fields.push("Retry-After", "1"),
        ServeError::RangeNotSatisfiable(len) => {
            fields.push("Content-Range", format!("bytes */{len}"));
        }
        ServeError::NoListing => text = Some(Cow::Borrowed(NO_LISTING)),
        _ => {}
    }
    if !to.browser {
        return small(err.status(), fields, text, to.head_only);
    }
    // The page depends on `Accept` (RFC 9110 §12.5.5), though nothing stores it.
    fields.push("Vary", "Accept");
    let page = error_page(err);
    let mut response = small(err.status(), fields, Some(page.into()), to.head_only);
    response
        .fields
        .set("Content-Type", "text/html; charset=utf-8");
    response
}

/// An error as a page for a person: what happened, what to do, a way home.
fn error_page(err: ServeError) -> String {
    let (title, words) = match err {
        ServeError::NotFound => (
            "Page not found",
            "There is nothing at this address. Check it for typos, or start again from the \
             home page.",
        ),
        ServeError::NoListing => (
            "This folder cannot be shown",
            "This folder has no start page, and this server does not list the files in \
             folders.",
        ),
        ServeError::Forbidden => ("Forbidden", "You do not have access to this page."),
        ServeError::MethodNotAllowed => {
            ("Not allowed", "This address can be read, but not changed.")
        }
        ServeError::Unavailable => (
            "Busy for a moment",
            "The server is busy or restarting. Try again in a few seconds.",
        ),
        ServeError::Internal => (
            "Something went wrong",
            "The server could not answer this request. Try again in a moment.",
        ),
        _ => (
            "This request could not be answered",
            "The server could not answer what the browser asked for.",
        ),
    };
    let status = err.status();
    let body = format!(
        "<h1>{title}</h1>\n<p>{words}</p>\n<p><a href=\"/\">Go to the home page</a></p>\n\
         <p class=\"note\">{}</p>\n",
        html::escape(&status.to_string())
    );
    html::page(title, "error", &body, "")
}

/// `204` to `OPTIONS`, naming the methods a file accepts.
pub fn options() -> Response {
    let mut fields = Fields::new();
    fields.push("Allow", ALLOW);
    small(StatusCode::NO_CONTENT, fields, None, false)
}

/// `204` without fields (a CORS preflight's answer gets its fields from the rules).
pub fn no_content() -> Response {
    small(StatusCode::NO_CONTENT, Fields::new(), None, false)
}

/// A redirect a site rule made: `status` to `location` (already encoded).
pub fn redirect(status: StatusCode, location: String, head_only: bool) -> Response {
    let mut fields = Fields::new();
    fields.push("Location", location);
    small(status, fields, None, head_only)
}

/// `301` to the same directory with its slash, query kept (RFC 9110 §15.4.2).
pub fn directory_redirect(target: &Target<'_>, head_only: bool) -> Response {
    let mut location = target::encode_path(&target.path);
    location.push('/');
    push_query(&mut location, target.query);
    let mut fields = Fields::new();
    fields.push("Location", location);
    small(StatusCode::MOVED_PERMANENTLY, fields, None, head_only)
}

/// `304` with the fields a `200` would have carried that RFC 9110 §15.4.5 asks for.
pub fn not_modified(fields: Fields) -> Response {
    small(StatusCode::NOT_MODIFIED, fields, None, true)
}

/// `308 Permanent Redirect` to `https://HOST[:PORT]TARGET` (RFC 9110 §15.4.9: unlike 301 the
/// method is kept), for the plain-HTTP redirect listener. The host is that of an absolute-form
/// target when there is one (RFC 9112 §3.2.2: it wins over `Host`), else the request's `Host`,
/// without its port; the path and query are re-encoded.
pub fn https_redirect(req: &Request<'_, '_>, https_port: u16) -> Response {
    let head_only = req.method == Method::Head;
    let no_store = || {
        let mut fields = Fields::new();
        fields.push("Cache-Control", "no-store");
        fields
    };
    let host = target::authority(req.target).or_else(|| req.fields.get("host"));
    let Some(host) = host.and_then(host_without_port) else {
        // No usable Host: there is no URL to send the client to.
        let text = "400 Bad Request: this port only redirects to HTTPS, and needs a Host field\n";
        return small(
            StatusCode::BAD_REQUEST,
            no_store(),
            Some(text.into()),
            head_only,
        );
    };
    let Ok(decoded) = target::decode(req.target) else {
        return small(StatusCode::BAD_REQUEST, no_store(), None, head_only);
    };
    let mut location = format!("https://{host}");
    if https_port != 443 {
        location.push_str(&format!(":{https_port}"));
    }
    location.push_str(&target::encode_path(&decoded.path));
    push_query(&mut location, decoded.query);
    let text = format!("308 Permanent Redirect: {location}\n");
    let mut fields = no_store();
    fields.push("Location", location);
    small(
        StatusCode::PERMANENT_REDIRECT,
        fields,
        Some(text.into()),
        head_only,
    )
}

/// `400` for a client that spoke plain HTTP to the TLS port, naming the URL to use instead.
pub fn plain_http_on_tls_port(https_port: u16, head_only: bool) -> Response {
    let text = format!(
        "400 Bad Request: this port speaks HTTPS. Use https://HOST:{https_port}/ instead of http://.\n"
    );
    let mut fields = Fields::new();
    fields.push("Cache-Control", "no-store");
    small(
        StatusCode::BAD_REQUEST,
        fields,
        Some(text.into()),
        head_only,
    )
}

fn push_query(location: &mut String, query: Option<&[u8]>) {
    if let Some(query) = query {
        location.push('?');
        location.push_str(&target::encode_query(query));
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
    use http_core::target::decode;

    use super::*;

    fn body(r: &Response) -> &[u8] {
        match &r.body {
            Body::Bytes(b) => b,
            _ => b"",
        }
    }

    #[test]
    fn redirect_locations_are_encoded_and_keep_the_query() {
        let location = |raw: &[u8]| {
            let r = directory_redirect(&decode(raw).unwrap(), false);
            r.fields.get("location").unwrap().as_str().to_owned()
        };
        assert_eq!(
            location(b"/a%20b/caf%C3%A9?q=%22x%22"),
            "/a%20b/caf%C3%A9/?q=%22x%22"
        );
        assert_eq!(location(b"/docs?x=1&y"), "/docs/?x=1&y");
    }

    #[test]
    fn a_head_gets_the_length_of_the_text_it_does_not_get() {
        let get = error(ServeError::NotFound, Audience::unread(false));
        let head = error(ServeError::NotFound, Audience::unread(true));
        assert_eq!(body(&get), b"404 Not Found\n");
        assert!(matches!(head.body, Body::Empty));
        assert_eq!(head.content_length, get.content_length);
        assert_eq!(head.fields, get.fields);
    }

    #[test]
    fn statuses_without_content_have_no_type_length_or_body() {
        let r = options();
        assert_eq!(r.content_length, None);
        assert!(r.fields.get("content-type").is_none());
        assert_eq!(r.fields.get("allow").map(|v| v.as_str()), Some(ALLOW));
        let r = not_modified(Fields::new());
        assert_eq!(r.content_length, None);
        assert!(matches!(r.body, Body::Empty));
    }

    #[test]
    fn errors_carry_the_fields_their_status_needs() {
        let field = |e, name| {
            error(e, Audience::default())
                .fields
                .get(name)
                .map(|v| v.as_str().to_owned())
        };
        assert_eq!(
            field(ServeError::MethodNotAllowed, "allow").as_deref(),
            Some(ALLOW)
        );
        assert_eq!(
            field(ServeError::Unavailable, "retry-after").as_deref(),
            Some("1")
        );
        assert_eq!(
            field(ServeError::RangeNotSatisfiable(7), "content-range").as_deref(),
            Some("bytes */7")
        );
        assert_eq!(
            field(ServeError::NotFound, "cache-control").as_deref(),
            Some("no-store")
        );
    }

    #[test]
    fn a_browser_gets_an_error_page_and_curl_the_short_text() {
        let browser = Audience {
            head_only: false,
            browser: true,
        };
        let page = error(ServeError::NotFound, browser);
        let text = String::from_utf8(body(&page).to_vec()).unwrap();
        assert!(text.starts_with("<!doctype html>"), "{text}");
        assert!(text.contains("<a href=\"/\">") && text.contains("404 Not Found"));
        let field = |r: &Response, name| r.fields.get(name).map(|v| v.as_str().to_owned());
        assert_eq!(
            field(&page, "content-type").as_deref(),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(field(&page, "vary").as_deref(), Some("Accept"));
        assert_eq!(page.content_length, Some(text.len() as u64));
        let plain = error(ServeError::NotFound, Audience::unread(false));
        assert_eq!(body(&plain), b"404 Not Found\n");
        assert_eq!(field(&plain, "vary"), None);
        // The visitor is not told about the operator's options.
        let folder = error(ServeError::NoListing, browser);
        assert!(!String::from_utf8_lossy(body(&folder)).contains("--listing"));
    }

    #[test]
    fn hosts_lose_their_port_and_keep_brackets() {
        assert_eq!(host_without_port(b"example.com:8080"), Some("example.com"));
        assert_eq!(host_without_port(b"example.com"), Some("example.com"));
        assert_eq!(host_without_port(b"[::1]:8080"), Some("[::1]"));
        assert_eq!(host_without_port(b"10.0.0.2"), Some("10.0.0.2"));
    }

    fn redirect_of(request: &[u8]) -> Response {
        let mut headers = [http_core::EMPTY_HEADER; 16];
        let req = match http_core::parse_request(request, &mut headers) {
            Ok(http_core::Status::Complete((req, _))) => req,
            other => panic!("{other:?}"),
        };
        let view = Request {
            method: req.method,
            target: req.target,
            fields: req.fields(),
            client: &|| None,
            sendfile: true,
        };
        https_redirect(&view, 8443)
    }

    fn location(r: &Response) -> Option<String> {
        r.fields.get("location").map(|v| v.as_str().to_owned())
    }

    #[test]
    fn an_absolute_form_targets_authority_wins_over_host() {
        let response = redirect_of(
            b"GET http://right.example:8080/a?b=1 HTTP/1.1\r\nHost: wrong.example\r\n\r\n",
        );
        assert_eq!(response.status, StatusCode::PERMANENT_REDIRECT);
        assert_eq!(
            location(&response).as_deref(),
            Some("https://right.example:8443/a?b=1")
        );
        // Userinfo has no place in the URL sent back.
        let response = redirect_of(b"GET http://user@evil.example/ HTTP/1.1\r\nHost: good\r\n\r\n");
        assert_eq!(response.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn the_location_carries_no_quote_angle_bracket_space_or_control_byte() {
        let response =
            redirect_of(b"GET /p?q=<script>\"x\"%zz\x80\xff HTTP/1.1\r\nHost: h.example\r\n\r\n");
        assert_eq!(
            location(&response).as_deref(),
            Some("https://h.example:8443/p?q=%3Cscript%3E%22x%22%25zz%80%FF")
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
