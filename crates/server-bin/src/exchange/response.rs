//! The protocol-neutral response: a status, header fields as data, the length a `GET` of the
//! representation carries, and where the body's bytes come from.
//!
//! A codec turns it into its own wire form (the HTTP/1.1 codec into a head and a body sent by
//! writes or `sendfile`; HTTP/2 into HEADERS and DATA frames) and adds what belongs to the
//! connection, never to the exchange: `Date`, `Server`, `Content-Length`'s encoding,
//! `Connection`. This module must not know any of those, nor any HTTP version.

use std::borrow::Cow;
use std::sync::Arc;

use http_core::StatusCode;
use http_core::date::HttpDate;

use crate::files::body::FileBody;

/// A field name or value, stored the cheapest way its origin allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Text {
    /// A constant of the server's (`text/html; charset=utf-8`, `no-store`).
    Static(&'static str),
    /// A value shared with the configuration or the site rules, copied per response by
    /// reference count only.
    Shared(Arc<str>),
    /// A value made for this response (an `ETag`, a `Content-Range`).
    Owned(String),
    /// An HTTP date (formatted without allocating).
    Date(HttpDate),
}

impl Text {
    /// The text.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Static(s) => s,
            Self::Shared(s) => s,
            Self::Owned(s) => s,
            Self::Date(date) => date.as_str(),
        }
    }

    /// The text's bytes, as a codec writes them (a date's without checking them again).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Date(date) => date.as_bytes(),
            other => other.as_str().as_bytes(),
        }
    }
}

impl From<&'static str> for Text {
    fn from(s: &'static str) -> Self {
        Self::Static(s)
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Self::Owned(s)
    }
}

impl From<Arc<str>> for Text {
    fn from(s: Arc<str>) -> Self {
        Self::Shared(s)
    }
}

/// One header field of a response. Names are written in their usual capitalisation; HTTP/2
/// lowercases them (RFC 9113 §8.2.1), HTTP/1.1 sends them as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The field name (a token).
    pub name: Text,
    /// The field value (no CR, LF or NUL).
    pub value: Text,
}

/// A response's header fields, in the order they are sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields(Vec<Field>);

impl Fields {
    /// No fields, with room for a file response's without growing.
    pub fn new() -> Self {
        Self(Vec::with_capacity(10))
    }

    /// Appends a field.
    pub fn push(&mut self, name: impl Into<Text>, value: impl Into<Text>) {
        self.0.push(Field {
            name: name.into(),
            value: value.into(),
        });
    }

    /// Replaces every field called `name` (case-insensitive) by one with `value`, in the place
    /// of the first, or appends it if there is none.
    pub fn set(&mut self, name: impl Into<Text>, value: impl Into<Text>) {
        let name = name.into();
        let key = name.as_str().to_owned();
        let same = |f: &Field| f.name.as_str().eq_ignore_ascii_case(&key);
        match self.0.iter().position(same) {
            Some(first) => {
                if let Some(field) = self.0.get_mut(first) {
                    field.value = value.into();
                }
                let mut index = 0;
                self.0.retain(|f| {
                    index += 1;
                    index - 1 == first || !same(f)
                });
            }
            None => self.0.push(Field {
                name,
                value: value.into(),
            }),
        }
    }

    /// The text of the first field called `name` (case-insensitive), if any.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|f| f.name.as_str().eq_ignore_ascii_case(name))
            .map(|f| f.value.as_str())
    }

    /// The value of the first field called `name` (case-insensitive), if any.
    #[cfg(test)]
    pub fn get(&self, name: &str) -> Option<&Text> {
        self.0
            .iter()
            .find(|f| f.name.as_str().eq_ignore_ascii_case(name))
            .map(|f| &f.value)
    }

    /// The fields, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Field> {
        self.0.iter()
    }
}

/// Where a response's body comes from.
#[derive(Debug, Default)]
pub enum Body {
    /// Nothing is sent: a `HEAD`, a `304`, a `204`.
    #[default]
    Empty,
    /// Bytes the server made (an error text, a listing, the metrics).
    Bytes(Cow<'static, [u8]>),
    /// Ranges of a file, or of a cached copy of one, possibly between multipart part heads.
    File(FileBody),
}

/// What the exchange decided for one request.
#[derive(Debug)]
pub struct Response {
    /// The status.
    pub status: StatusCode,
    /// The header fields, without those a codec adds itself (`Date`, `Server`,
    /// `Content-Length`, `Connection`).
    pub fields: Fields,
    /// The `Content-Length` to announce: the length of the content a `GET` would carry (so a
    /// `HEAD` announces it too, with an empty body); `None` for statuses that have none.
    pub content_length: Option<u64>,
    /// The bytes to send.
    pub body: Body,
    /// What the per-resource counters count: the path of the file served (`/index.html` for
    /// `/`), or of the directory listed.
    pub resource: Option<Arc<str>>,
    /// The user a protected path let in, for the access log.
    pub user: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_replaces_every_field_of_that_name_in_the_place_of_the_first() {
        let mut fields = Fields::new();
        fields.push("Cache-Control", "no-cache");
        fields.push("ETag", String::from("\"x\""));
        fields.push("cache-control", "private");
        fields.set("CACHE-CONTROL", Text::Shared(Arc::from("max-age=60")));
        let names: Vec<_> = fields.iter().map(|f| f.name.clone()).collect();
        assert_eq!(names, [Text::Static("Cache-Control"), Text::Static("ETag")]);
        assert_eq!(
            fields.get("cache-control"),
            Some(&Text::Shared(Arc::from("max-age=60")))
        );
        fields.set("Vary", "Origin");
        assert_eq!(fields.get("vary"), Some(&Text::Static("Origin")));
    }

    #[test]
    fn dates_read_as_imf_fixdate() {
        assert_eq!(
            Text::Date(HttpDate::from_unix(784_111_777)).as_str(),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
    }
}
