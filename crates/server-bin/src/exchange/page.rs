//! Pages the server makes rather than reads: directory listings, the Prometheus metrics and the
//! health answer.
//!
//! Such a page has no validators, so only `*` in `If-Match` or `If-None-Match` can pass or fail
//! (`412`, `304`); preconditions are checked before the page is made (a huge directory is costly
//! to read for a `304`). It must not read files itself (`files::listing` does).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use http_core::StatusCode;
use http_core::conditional::{self, Precondition};
use http_core::encoding;
use http_core::target::Target;
use rustix::fd::OwnedFd;

use super::response::{Body, Fields, Response};
use super::{Request, reply};
use crate::context::Context;
use crate::error::ServeError;
use crate::files::body::{FileBody, Source};
use crate::files::listing;
use crate::files::resolve::Root;
use crate::metrics::prometheus;

/// How a page is sent.
struct Page {
    content_type: &'static str,
    cache_control: &'static str,
    /// Whether it may come compressed, by `Accept-Encoding`.
    varies: bool,
    /// The resource it is counted under, if any.
    resource: Option<Arc<str>>,
}

/// The listing of the directory `dir`, found at `rel` and asked for as `target`, counted under
/// `resource`.
pub fn listing(
    ctx: &Context,
    root: &Root,
    req: &Request<'_, '_>,
    dir: OwnedFd,
    rel: &str,
    target: &Target<'_>,
    resource: String,
) -> Response {
    // Compressed as files are, with the codings the server offers (`--compress`).
    let codings = ctx.compression.as_ref().map_or(&[][..], |c| c.codings());
    let coding = encoding::choose(req.fields.values("accept-encoding"), codings);
    let page = Page {
        content_type: "text/html; charset=utf-8",
        // A listing changes whenever the directory does; caches must always ask.
        cache_control: "no-cache",
        varies: !codings.is_empty(),
        resource: Some(resource.into()),
    };
    let root_name = ctx
        .config
        .root
        .file_name()
        .map_or_else(|| "/".into(), |n| n.to_string_lossy());
    let asked = listing::Asked {
        root,
        dir,
        rel,
        url_path: &target.path,
        query: target.query,
        root_name: &root_name,
    };
    serve(req, page, || {
        let made = listing::render(&ctx.listings, asked, coding, Instant::now());
        made.map(Made::Shared).map_err(|e| match e {
            listing::Unlisted::Busy(_) => ServeError::Unavailable,
            // Out of descriptors or memory for now: try again; else it cannot be listed.
            listing::Unlisted::Io(e) if crate::error::is_resource_exhaustion(&e) => {
                ServeError::Unavailable
            }
            listing::Unlisted::Io(_) => ServeError::Forbidden,
        })
    })
}

/// The Prometheus exposition of every counter, fresh on each request.
pub fn metrics(ctx: &Context, req: &Request<'_, '_>) -> Response {
    let page = Page {
        content_type: prometheus::CONTENT_TYPE,
        cache_control: "no-store",
        varies: false,
        resource: None,
    };
    serve(req, page, || {
        Ok(Made::Text(prometheus::render(&ctx.metrics.snapshot())))
    })
}

/// `ok` while serving; `503` once shutting down, so that a balancer stops sending here at once,
/// before the listener goes away.
pub fn health(req: &Request<'_, '_>, draining: bool) -> Response {
    if draining {
        return reply::error(ServeError::Unavailable, reply::Audience::of(req));
    }
    let page = Page {
        content_type: "text/plain; charset=utf-8",
        cache_control: "no-store",
        varies: false,
        resource: None,
    };
    serve(req, page, || Ok(Made::Text("ok\n".to_owned())))
}

/// A page's bytes: made for this response, or shared with others (a listing kept a while,
/// perhaps compressed).
enum Made {
    Text(String),
    Shared(listing::Made),
}

/// `page`, made by `make` unless the request's preconditions stop it first (a `304` is counted
/// under the page's resource, as a file's is).
fn serve(
    req: &Request<'_, '_>,
    page: Page,
    make: impl FnOnce() -> Result<Made, ServeError>,
) -> Response {
    match conditional::evaluate_unvalidated(req.method, req.fields) {
        Precondition::Proceed => {}
        Precondition::NotModified => {
            let mut fields = Fields::new();
            fields.push("Cache-Control", page.cache_control);
            if page.varies {
                fields.push("Vary", "Accept-Encoding");
            }
            return Response {
                resource: page.resource,
                ..reply::not_modified(fields)
            };
        }
        Precondition::Failed => {
            return reply::error(ServeError::PreconditionFailed, reply::Audience::of(req));
        }
    }
    let mut coding = None;
    let (len, body) = match make() {
        Ok(Made::Text(text)) => (text.len(), Body::Bytes(Cow::Owned(text.into_bytes()))),
        Ok(Made::Shared(made)) => {
            coding = made.coding;
            let len = made.bytes.len();
            let body = FileBody::range(Source::Memory(made.bytes), 0, len as u64);
            (len, Body::File(body))
        }
        Err(e) => return reply::error(e, reply::Audience::of(req)),
    };
    let mut fields = Fields::new();
    fields.push("Content-Type", page.content_type);
    fields.push("Cache-Control", page.cache_control);
    if let Some(coding) = coding {
        fields.push("Content-Encoding", coding.token());
    }
    if page.varies {
        fields.push("Vary", "Accept-Encoding");
    }
    Response {
        status: StatusCode::OK,
        fields,
        content_length: Some(len as u64),
        body: match req.head_only() {
            true => Body::Empty,
            false => body,
        },
        resource: page.resource,
        user: None,
    }
}
