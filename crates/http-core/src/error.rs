//! The one error type of this crate and its mapping to an HTTP status.

use std::fmt;

use crate::StatusCode;

/// Why a request head (or its target) was refused.
///
/// Each variant maps to exactly one status through [`ParseError::status`]; that method is the
/// only place where parse failures become HTTP statuses.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParseError {
    /// The request line is not `method SP target SP HTTP/x.y`.
    RequestLine,
    /// The request line is longer than [`crate::limits::MAX_REQUEST_LINE`].
    RequestLineTooLong,
    /// The method is a valid token but not one this server knows.
    UnknownMethod,
    /// The version is well formed but not HTTP/1.0 or HTTP/1.1.
    UnsupportedVersion,
    /// A field line is malformed: no colon, whitespace before the colon, a bad name, or a control
    /// character in the value.
    HeaderField,
    /// A field line starts with whitespace (obsolete line folding, RFC 9112 §5.2).
    ObsoleteFold,
    /// The head is longer than [`crate::limits::MAX_HEAD`].
    HeadTooLarge,
    /// The head has more than [`crate::limits::MAX_HEADERS`] fields.
    TooManyHeaders,
    /// An HTTP/1.1 request without exactly one `Host` field (RFC 9112 §3.2).
    Host,
    /// `Content-Length` is not a number, or appears with different values.
    ContentLength,
    /// The framing is ambiguous: `Transfer-Encoding` with `Content-Length`, or a transfer coding
    /// other than a final `chunked` (RFC 9112 §6.1, §6.3).
    Framing,
    /// The request target cannot be decoded into a safe path.
    Target,
}

impl ParseError {
    /// The response status for this error.
    pub const fn status(self) -> StatusCode {
        match self {
            Self::RequestLine
            | Self::HeaderField
            | Self::ObsoleteFold
            | Self::Host
            | Self::ContentLength
            | Self::Framing
            | Self::Target => StatusCode::BAD_REQUEST,
            Self::RequestLineTooLong => StatusCode::URI_TOO_LONG,
            Self::HeadTooLarge | Self::TooManyHeaders => StatusCode::HEADER_FIELDS_TOO_LARGE,
            Self::UnknownMethod => StatusCode::NOT_IMPLEMENTED,
            Self::UnsupportedVersion => StatusCode::VERSION_NOT_SUPPORTED,
        }
    }

    fn description(self) -> &'static str {
        match self {
            Self::RequestLine => "malformed request line",
            Self::RequestLineTooLong => "request line too long",
            Self::UnknownMethod => "method not implemented",
            Self::UnsupportedVersion => "HTTP version not supported",
            Self::HeaderField => "malformed header field",
            Self::ObsoleteFold => "obsolete line folding in header field",
            Self::HeadTooLarge => "request head too large",
            Self::TooManyHeaders => "too many header fields",
            Self::Host => "missing or duplicate Host header",
            Self::ContentLength => "invalid Content-Length",
            Self::Framing => "ambiguous message framing",
            Self::Target => "invalid request target",
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

impl std::error::Error for ParseError {}
