//! The parsed request head: method, target, version and fields borrowed from the caller's buffer.
//!
//! Nothing here allocates or copies; a [`Request`] lives only as long as the buffer it was parsed
//! from. Interpreting the target as a path is [`crate::target`]'s job, not this module's.

/// A request method (RFC 9110 §9).
///
/// Methods this server cannot serve but which are registered with IANA are kept apart from
/// unknown tokens, because the former get `405 Method Not Allowed` and the latter
/// `501 Not Implemented` (RFC 9110 §15.5.6, §15.6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// `OPTIONS`
    Options,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
    /// `PATCH`
    Patch,
    /// `CONNECT`
    Connect,
    /// `TRACE`
    Trace,
    /// Another method from the IANA registry (WebDAV and friends), never served by a static server.
    Other,
}

/// Methods from the IANA HTTP method registry beyond the ones with their own variant.
const REGISTERED_OTHERS: &[&[u8]] = &[
    b"ACL",
    b"BASELINE-CONTROL",
    b"BIND",
    b"CHECKIN",
    b"CHECKOUT",
    b"COPY",
    b"LABEL",
    b"LINK",
    b"LOCK",
    b"MERGE",
    b"MKACTIVITY",
    b"MKCALENDAR",
    b"MKCOL",
    b"MKREDIRECTREF",
    b"MKWORKSPACE",
    b"MOVE",
    b"ORDERPATCH",
    b"PRI",
    b"PROPFIND",
    b"PROPPATCH",
    b"QUERY",
    b"REBIND",
    b"REPORT",
    b"SEARCH",
    b"UNBIND",
    b"UNCHECKOUT",
    b"UNLINK",
    b"UNLOCK",
    b"UPDATE",
    b"UPDATEREDIRECTREF",
    b"VERSION-CONTROL",
];

impl Method {
    /// Recognises a method token. Methods are case-sensitive (RFC 9110 §9.1), so `get` is unknown.
    pub fn from_bytes(token: &[u8]) -> Option<Self> {
        Some(match token {
            b"GET" => Self::Get,
            b"HEAD" => Self::Head,
            b"OPTIONS" => Self::Options,
            b"POST" => Self::Post,
            b"PUT" => Self::Put,
            b"DELETE" => Self::Delete,
            b"PATCH" => Self::Patch,
            b"CONNECT" => Self::Connect,
            b"TRACE" => Self::Trace,
            other if REGISTERED_OTHERS.contains(&other) => Self::Other,
            _ => return None,
        })
    }
}

/// The protocol version of a request. Only the two this server speaks can be represented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// HTTP/1.0: connections close after each response unless the client asks for keep-alive.
    Http10,
    /// HTTP/1.1: connections persist unless either side says `Connection: close`.
    Http11,
}

/// How the request's body is framed (RFC 9112 §6.3). A static server reads no bodies, but it must
/// know whether one follows to decide if the connection can be reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Body {
    /// No body (no framing fields, or `Content-Length: 0`).
    None,
    /// `Content-Length: n` with n > 0.
    Length(u64),
    /// `Transfer-Encoding` ending in `chunked`.
    Chunked,
}

/// One header field, borrowed from the request buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'b> {
    /// The field name as sent (a validated token, so always ASCII). Compare it case-insensitively.
    pub name: &'b str,
    /// The field value with surrounding whitespace removed. May contain obs-text (bytes >= 0x80).
    pub value: &'b [u8],
}

/// An unused header slot, to build the caller-owned array that [`crate::parse_request`] fills.
pub const EMPTY_HEADER: Header<'static> = Header {
    name: "",
    value: b"",
};

/// A complete, validated request head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'b, 'h> {
    /// The request line without its line ending, for logs.
    pub line: &'b [u8],
    /// The method.
    pub method: Method,
    /// The raw request target; decode it with [`crate::target::decode`].
    pub target: &'b [u8],
    /// The protocol version.
    pub version: Version,
    /// The header fields in the order received.
    pub headers: &'h [Header<'b>],
    /// How a body, if any, is framed.
    pub body: Body,
    /// Whether the client allows the connection to stay open after the response
    /// (RFC 9112 §9.3: the version's default, overridden by `Connection: close`/`keep-alive`).
    pub keep_alive: bool,
}

impl<'b, 'h> Request<'b, 'h> {
    /// The value of the first field called `name` (case-insensitive), if any.
    pub fn header(&self, name: &str) -> Option<&'b [u8]> {
        self.fields().get(name)
    }

    /// The values of every field line called `name` (case-insensitive), in order; see
    /// [`Fields::values`].
    pub fn values<'r>(&'r self, name: &'r str) -> impl Iterator<Item = &'b [u8]> + Clone + 'r {
        self.fields().values(name)
    }

    /// The header fields as a [`Fields`] view, which is what readers of fields take, so that
    /// fields decoded from another protocol (HTTP/2's HPACK) can be read the same way.
    pub fn fields(&self) -> Fields<'h, 'b> {
        Fields(self.headers)
    }
}

/// A read-only view of a request's header fields, whatever protocol carried them: the field
/// lines in the order received, names compared case-insensitively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fields<'h, 'b>(pub &'h [Header<'b>]);

impl<'h, 'b> Fields<'h, 'b> {
    /// The value of the first field called `name` (case-insensitive), if any.
    pub fn get(self, name: &str) -> Option<&'b [u8]> {
        self.values(name).next()
    }

    /// The values of every field line called `name` (case-insensitive), in order. The lines of
    /// a list-valued field form one list (RFC 9110 §5.3), so a reader of such a field must
    /// take them all, not only [`Fields::get`]'s first.
    pub fn values<'r>(self, name: &'r str) -> impl Iterator<Item = &'b [u8]> + Clone + 'r
    where
        'h: 'r,
    {
        self.0
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    }
}
