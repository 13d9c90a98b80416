//! Deciding the response to one parsed request: method rules, target decoding, file resolution,
//! and writing the response head (plus a small body) into the connection's write buffer.
//!
//! It must not touch sockets: the connection sends what this module prepares.

use std::time::UNIX_EPOCH;

use http_core::date::HttpDate;
use http_core::{Body, Method, Request, ResponseHead, StatusCode, Version, mime, target};

use crate::config::Config;
use crate::error::ServeError;
use crate::files::body::{FileBody, INLINE_BODY_MAX};
use crate::files::resolve::{Resolved, resolve};

/// The methods a static file accepts, for `Allow` (RFC 9110 §10.2.1).
pub const ALLOW: &str = "GET, HEAD, OPTIONS";

/// What the connection needs to know about a prepared response. The head, and a small body,
/// have been appended to the write buffer.
#[derive(Debug)]
pub struct Response {
    /// The status sent.
    pub status: StatusCode,
    /// Whether the connection may be reused afterwards.
    pub keep_alive: bool,
    /// A body still to be sent after the buffer (large files).
    pub file: Option<FileBody>,
    /// Body bytes of the whole response (inline or file), for logs.
    pub body_len: u64,
    /// The request path of a file served, for the per-resource counters.
    pub resource: Option<String>,
}

/// Prepares the response to `req`. `keep_alive` is false when the server wants the connection
/// closed whatever the client asked (draining).
pub fn respond(
    config: &Config,
    req: &Request<'_, '_>,
    date: &str,
    keep_alive: bool,
    buf: &mut Vec<u8>,
) -> Response {
    // A request body is never read, so the bytes that follow cannot be trusted to start the next
    // request: answer, then close (DESIGN.md "Request bodies").
    let keep_alive = keep_alive && req.keep_alive && req.body == Body::None;
    let reply = Reply {
        version: req.version,
        head_only: req.method == Method::Head,
        keep_alive,
        date,
    };
    match req.method {
        Method::Get | Method::Head => {}
        Method::Options => return reply.simple(buf, StatusCode::NO_CONTENT, &[("Allow", ALLOW)]),
        _ => return reply.error(buf, ServeError::MethodNotAllowed),
    }
    let target = match target::decode(req.target) {
        Ok(target) => target,
        Err(e) => return reply.error(buf, e.into()),
    };
    match resolve(&config.root, &target, config.dotfiles) {
        Ok(Resolved::File { file, meta, path }) => {
            let content_type = mime::for_path(path.to_str().unwrap_or_default());
            let modified = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs());
            let len = meta.len();
            let start = buf.len();
            ResponseHead::new(buf, StatusCode::OK, date)
                .header("Content-Type", content_type)
                .content_length(len)
                .header("Last-Modified", HttpDate::from_unix(modified).as_str())
                .header("Cache-Control", &config.cache_control)
                .finish(req.version, keep_alive);
            let body = FileBody::new(file, 0, len);
            let file = if reply.head_only {
                None
            } else if len <= INLINE_BODY_MAX {
                if body.read_into(buf).is_err() {
                    buf.truncate(start);
                    return reply.error(buf, ServeError::Internal);
                }
                None
            } else {
                Some(body)
            };
            Response {
                status: StatusCode::OK,
                keep_alive,
                file,
                body_len: if reply.head_only { 0 } else { len },
                resource: Some(target.path),
            }
        }
        Ok(Resolved::Redirect(location)) => reply.simple(
            buf,
            StatusCode::MOVED_PERMANENTLY,
            &[("Location", &location)],
        ),
        Err(e) => reply.error(buf, e),
    }
}

/// How to write a response that is not a file.
#[derive(Debug, Clone, Copy)]
pub struct Reply<'a> {
    /// The request's version, or 1.1 when it is unknown.
    pub version: Version,
    /// HEAD: send the head only.
    pub head_only: bool,
    /// Whether the connection stays open.
    pub keep_alive: bool,
    /// The `Date` value.
    pub date: &'a str,
}

impl Reply<'_> {
    /// An error response: a short plain-text body naming the status, never stored by caches,
    /// with the fields its status needs (`Allow` on 405).
    pub fn error(self, buf: &mut Vec<u8>, err: ServeError) -> Response {
        let extra: &[(&str, &str)] = match err {
            ServeError::MethodNotAllowed => &[("Allow", ALLOW)],
            _ => &[],
        };
        self.status(buf, err.status(), extra)
    }

    /// A response with a short plain-text body naming `status`, never stored by caches.
    pub fn status(self, buf: &mut Vec<u8>, status: StatusCode, extra: &[(&str, &str)]) -> Response {
        let mut fields = vec![("Cache-Control", "no-store")];
        fields.extend_from_slice(extra);
        self.simple(buf, status, &fields)
    }

    /// A response with `extra` fields and, unless the status forbids content, a short
    /// plain-text body naming the status.
    pub fn simple(self, buf: &mut Vec<u8>, status: StatusCode, extra: &[(&str, &str)]) -> Response {
        let mut head = ResponseHead::new(buf, status, self.date);
        for (name, value) in extra {
            head.header(name, value);
        }
        let body = if status.forbids_content() {
            String::new()
        } else {
            head.header("Content-Type", "text/plain; charset=utf-8");
            format!("{status}\n")
        };
        if status != StatusCode::NO_CONTENT && status != StatusCode::NOT_MODIFIED {
            head.content_length(body.len() as u64);
        }
        head.finish(self.version, self.keep_alive);
        if !self.head_only {
            buf.extend_from_slice(body.as_bytes());
        }
        Response {
            status,
            keep_alive: self.keep_alive,
            file: None,
            body_len: if self.head_only { 0 } else { body.len() as u64 },
            resource: None,
        }
    }
}
