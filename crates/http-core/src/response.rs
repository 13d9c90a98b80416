//! Status codes and response-head encoding (RFC 9110 §15, RFC 9112 §4).
//!
//! [`ResponseHead`] appends a head to a caller-owned buffer; it must not decide which fields a
//! response needs (that is the server's policy), only write them correctly.

use std::fmt;
use std::io::Write as _;

use crate::Version;

/// The `Server` field value: this crate's name for the product, with its version.
pub const SERVER: &str = concat!("http-server/", env!("CARGO_PKG_VERSION"));

/// An HTTP status code with its reason phrase.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatusCode(u16);

macro_rules! status_codes {
    ($($name:ident = $code:literal, $reason:literal;)*) => {
        impl StatusCode {
            $(
                #[doc = concat!("`", stringify!($code), " ", $reason, "`")]
                pub const $name: Self = Self($code);
            )*

            /// The reason phrase, or `""` for a code this table does not know.
            pub const fn reason(self) -> &'static str {
                match self.0 {
                    $($code => $reason,)*
                    _ => "",
                }
            }
        }
    };
}

status_codes! {
    OK = 200, "OK";
    NO_CONTENT = 204, "No Content";
    PARTIAL_CONTENT = 206, "Partial Content";
    MOVED_PERMANENTLY = 301, "Moved Permanently";
    FOUND = 302, "Found";
    SEE_OTHER = 303, "See Other";
    NOT_MODIFIED = 304, "Not Modified";
    TEMPORARY_REDIRECT = 307, "Temporary Redirect";
    PERMANENT_REDIRECT = 308, "Permanent Redirect";
    BAD_REQUEST = 400, "Bad Request";
    UNAUTHORIZED = 401, "Unauthorized";
    FORBIDDEN = 403, "Forbidden";
    NOT_FOUND = 404, "Not Found";
    METHOD_NOT_ALLOWED = 405, "Method Not Allowed";
    REQUEST_TIMEOUT = 408, "Request Timeout";
    PRECONDITION_FAILED = 412, "Precondition Failed";
    CONTENT_TOO_LARGE = 413, "Content Too Large";
    URI_TOO_LONG = 414, "URI Too Long";
    RANGE_NOT_SATISFIABLE = 416, "Range Not Satisfiable";
    TOO_MANY_REQUESTS = 429, "Too Many Requests";
    HEADER_FIELDS_TOO_LARGE = 431, "Request Header Fields Too Large";
    INTERNAL_SERVER_ERROR = 500, "Internal Server Error";
    NOT_IMPLEMENTED = 501, "Not Implemented";
    SERVICE_UNAVAILABLE = 503, "Service Unavailable";
    VERSION_NOT_SUPPORTED = 505, "HTTP Version Not Supported";
}

impl StatusCode {
    /// The numeric code.
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// Whether this is a 4xx or 5xx status.
    pub const fn is_error(self) -> bool {
        self.0 >= 400
    }

    /// Whether a response with this status never has content (RFC 9110 §6.4.1).
    pub const fn forbids_content(self) -> bool {
        matches!(self.0, 100..=199 | 204 | 304)
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.0, self.reason())
    }
}

impl fmt::Debug for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StatusCode({self})")
    }
}

/// Writes a response head into a buffer, field by field.
///
/// The status line, `Date` and `Server` are written by [`ResponseHead::new`]; [`finish`] adds
/// the `Connection` field the request's version needs and the empty line.
///
/// [`finish`]: ResponseHead::finish
///
/// ```
/// use http_core::{ResponseHead, StatusCode, Version};
///
/// let mut buf = Vec::new();
/// ResponseHead::new(&mut buf, StatusCode::NOT_FOUND, "Sun, 06 Nov 1994 08:49:37 GMT")
///     .content_length(10)
///     .finish(Version::Http11, false);
/// let head = String::from_utf8(buf).unwrap();
/// assert!(head.starts_with("HTTP/1.1 404 Not Found\r\n"));
/// assert!(head.ends_with("Content-Length: 10\r\nConnection: close\r\n\r\n"));
/// ```
#[must_use = "a head is incomplete until `finish` writes the empty line"]
pub struct ResponseHead<'a> {
    buf: &'a mut Vec<u8>,
}

impl<'a> ResponseHead<'a> {
    /// Starts a head: the status line (always `HTTP/1.1`, the highest version we speak, as
    /// RFC 9110 §6.2 asks), `Date` and `Server`.
    pub fn new(buf: &'a mut Vec<u8>, status: StatusCode, date: impl AsRef<[u8]>) -> Self {
        buf.extend_from_slice(b"HTTP/1.1 ");
        write_u64(buf, u64::from(status.0));
        buf.push(b' ');
        buf.extend_from_slice(status.reason().as_bytes());
        buf.extend_from_slice(b"\r\n");
        let mut head = Self { buf };
        head.header("Date", date).header("Server", SERVER);
        head
    }

    /// Appends a field. The value must not contain CR or LF; values built by this server never
    /// do, and a debug build checks it.
    pub fn header(&mut self, name: &str, value: impl AsRef<[u8]>) -> &mut Self {
        let value = value.as_ref();
        debug_assert!(
            !value.iter().any(|&b| b == b'\r' || b == b'\n'),
            "header value with a line break"
        );
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.extend_from_slice(b": ");
        self.buf.extend_from_slice(value);
        self.buf.extend_from_slice(b"\r\n");
        self
    }

    /// Appends a field whose value is formatted, such as a number or a date.
    pub fn header_fmt(&mut self, name: &str, value: fmt::Arguments<'_>) -> &mut Self {
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.extend_from_slice(b": ");
        // Writing to a Vec cannot fail.
        let _ = self.buf.write_fmt(value);
        self.buf.extend_from_slice(b"\r\n");
        self
    }

    /// Appends `Content-Length`.
    pub fn content_length(&mut self, len: u64) -> &mut Self {
        self.buf.extend_from_slice(b"Content-Length: ");
        write_u64(self.buf, len);
        self.buf.extend_from_slice(b"\r\n");
        self
    }

    /// Ends the head. `Connection: close` is sent when the connection will close; an HTTP/1.0
    /// client that asked to keep the connection gets `Connection: keep-alive`, since its default
    /// is to close (RFC 9112 §9.3).
    pub fn finish(&mut self, request_version: Version, keep_alive: bool) {
        match (keep_alive, request_version) {
            (false, _) => self.buf.extend_from_slice(b"Connection: close\r\n"),
            (true, Version::Http10) => self.buf.extend_from_slice(b"Connection: keep-alive\r\n"),
            (true, Version::Http11) => {}
        }
        self.buf.extend_from_slice(b"\r\n");
    }
}

fn write_u64(buf: &mut Vec<u8>, n: u64) {
    crate::bytes::push_decimal(buf, n);
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: &str = "Sun, 06 Nov 1994 08:49:37 GMT";

    fn head(version: Version, keep_alive: bool) -> String {
        let mut buf = Vec::new();
        ResponseHead::new(&mut buf, StatusCode::OK, DATE)
            .header("Content-Type", "text/plain; charset=utf-8")
            .content_length(0)
            .finish(version, keep_alive);
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn writes_status_line_date_server_and_fields_in_order() {
        assert_eq!(
            head(Version::Http11, true),
            format!(
                "HTTP/1.1 200 OK\r\nDate: {DATE}\r\nServer: {SERVER}\r\n\
                 Content-Type: text/plain; charset=utf-8\r\nContent-Length: 0\r\n\r\n"
            )
        );
    }

    #[test]
    fn closing_connection_is_announced() {
        assert!(head(Version::Http11, false).ends_with("Connection: close\r\n\r\n"));
        assert!(head(Version::Http10, false).ends_with("Connection: close\r\n\r\n"));
    }

    #[test]
    fn http10_keep_alive_is_announced_explicitly() {
        assert!(head(Version::Http10, true).ends_with("Connection: keep-alive\r\n\r\n"));
    }

    #[test]
    fn content_length_handles_zero_and_u64_max() {
        for n in [0, 7, 10, 1_048_576, u64::MAX] {
            let mut buf = Vec::new();
            ResponseHead::new(&mut buf, StatusCode::OK, DATE)
                .content_length(n)
                .finish(Version::Http11, true);
            let text = String::from_utf8(buf).unwrap();
            assert!(
                text.contains(&format!("\r\nContent-Length: {n}\r\n")),
                "{text}"
            );
        }
    }

    #[test]
    fn every_named_status_has_a_reason() {
        for code in [
            200, 204, 206, 301, 304, 400, 403, 404, 405, 408, 412, 414, 416, 431, 500, 501, 503,
            505,
        ] {
            assert!(!StatusCode(code).reason().is_empty(), "{code}");
        }
        assert_eq!(StatusCode(299).reason(), "");
    }
}
