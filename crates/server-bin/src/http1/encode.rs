//! The HTTP/1.1 form of a response head: the status line, `Date`, `Server`, the exchange's
//! fields, `Content-Length`, and `Connection` when the connection will close (or an HTTP/1.0
//! client asked to keep it). The one place a response becomes HTTP/1.1 bytes.
//!
//! It must not decide any field's value: the exchange decides the response, the codec whether
//! the connection stays open.

use http_core::date::HttpDate;
use http_core::{ResponseHead, Version};

use crate::exchange::Response;

/// Appends the head of `response` to `buf`, as sent on a connection that `keep_alive`s or not
/// after it, to a client that spoke `version`.
pub fn head(
    buf: &mut Vec<u8>,
    response: &Response,
    date: &HttpDate,
    version: Version,
    keep_alive: bool,
) {
    let mut head = ResponseHead::new(buf, response.status, date.as_bytes());
    for field in response.fields.iter() {
        head.header(field.name.as_str(), field.value.as_bytes());
    }
    if let Some(len) = response.content_length {
        head.content_length(len);
    }
    head.finish(version, keep_alive);
}

#[cfg(test)]
mod tests {
    use http_core::{SERVER, StatusCode};

    use super::*;
    use crate::error::ServeError;
    use crate::exchange::reply;

    #[test]
    fn a_head_carries_date_server_the_fields_the_length_and_the_connection() {
        let mut buf = Vec::new();
        let response = reply::error(ServeError::NotFound, reply::Audience::unread(true));
        let date = HttpDate::from_unix(784_111_777);
        head(&mut buf, &response, &date, Version::Http11, false);
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            format!(
                "HTTP/1.1 404 Not Found\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\
                 Server: {SERVER}\r\nCache-Control: no-store\r\n\
                 Content-Type: text/plain; charset=utf-8\r\nContent-Length: 14\r\n\
                 Connection: close\r\n\r\n"
            )
        );
    }

    #[test]
    fn a_status_without_content_has_no_length() {
        let mut buf = Vec::new();
        let response = reply::options();
        head(
            &mut buf,
            &response,
            &HttpDate::from_unix(0),
            Version::Http10,
            true,
        );
        let text = String::from_utf8(buf).unwrap();
        assert!(text.starts_with(&format!("HTTP/1.1 {}\r\n", StatusCode::NO_CONTENT)));
        assert!(!text.contains("Content-Length"), "{text}");
        assert!(text.ends_with("Allow: GET, HEAD, OPTIONS\r\nConnection: keep-alive\r\n\r\n"));
    }
}
