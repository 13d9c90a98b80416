//! The exchange: from one request, whatever protocol carried it, to the response it gets.
//!
//! [`respond`] applies the method rules, decodes the target, answers the metrics and health
//! endpoints, resolves the path beneath the root (through the worker's small-file cache), picks
//! the representation (the file, a precompressed sidecar, a copy compressed on the fly), checks
//! the preconditions and the ranges, or makes a listing. What it returns is protocol-neutral
//! ([`Response`]): a status, header fields as data and a body source.
//!
//! What happens when…
//! - the method is not GET or HEAD: `OPTIONS` gets `204` with `Allow`, other known methods
//!   `405`, unknown tokens never get here (the codec answers `501`);
//! - the target cannot be decoded (`%00`, an encoded `/`, invalid UTF-8): `400`;
//! - the path leaves the root, is hidden or missing: `403` or `404` ([`ServeError::status`] is the
//!   one place an error becomes a status, [`reply`] the one place a small response is made);
//! - a directory is asked for without its slash: `301` to it with the slash;
//! - the server is draining: the health endpoint answers `503`; everything else is served.
//!
//! The exchange never writes bytes, never names an HTTP version and never decides whether a
//! connection stays open: each codec encodes the response and adds `Date`, `Server`,
//! `Content-Length` and its own connection management. It must not touch sockets, nor compress
//! (`files::compress` does, off the workers).

mod file;
mod page;
pub mod reply;
pub mod response;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use http_core::date::HttpDate;
use http_core::target::{self, Target};
use http_core::{Fields, Method, mime};

use self::file::Representation;
use self::reply::Audience;
pub use self::response::{Body, Response};
use crate::context::Context;
use crate::error::ServeError;
use crate::files::body::Source;
use crate::files::cache::FileCache;
use crate::files::resolve::{Resolved, Root, resolve};

/// A request as the exchange sees it, whatever protocol carried it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'h, 'b> {
    /// The method.
    pub method: Method,
    /// The request target as sent (origin or absolute form; HTTP/2's `:path`).
    pub target: &'b [u8],
    /// The header fields.
    pub fields: Fields<'h, 'b>,
}

impl Request<'_, '_> {
    /// A `HEAD`: the response carries the fields a `GET` would, and no content.
    pub fn head_only(&self) -> bool {
        self.method == Method::Head
    }
}

/// What one request reads the document root through: the tree taken for it, once, and the
/// worker's small-file cache. Everything the response needs is found in that one tree, so a
/// request never mixes two releases (`files::root`).
pub struct Tree<'a> {
    /// The root's tree when the request started.
    pub root: &'a Arc<Root>,
    /// The worker's small-file cache.
    pub cache: &'a mut FileCache,
}

/// The response to `req`, as of `date` and `now`. While `draining`, the health endpoint answers
/// `503`.
pub fn respond(
    ctx: &Context,
    mut tree: Tree<'_>,
    req: &Request<'_, '_>,
    date: &HttpDate,
    draining: bool,
    now: Instant,
) -> Response {
    match req.method {
        Method::Get | Method::Head => {}
        Method::Options => return reply::options(),
        _ => return reply::error(ServeError::MethodNotAllowed, Audience::of(req)),
    }
    let target = match target::decode(req.target) {
        Ok(target) => target,
        Err(e) => return reply::error(e.into(), Audience::of(req)),
    };
    #[cfg(debug_assertions)]
    panic_on_request(&target);
    let config = &ctx.config;
    if config.metrics_path.as_deref() == Some(target.path.as_str()) {
        return page::metrics(ctx, req);
    }
    if config.health_path.as_deref() == Some(target.path.as_str()) {
        return page::health(req, draining);
    }
    let key = resource_name(&target);
    if let Some(hit) = tree.cache.get(tree.root, &key, now) {
        let content_type = mime::for_path(&hit.rel);
        let rep = Representation::plain(Source::Memory(hit.contents), hit.meta, false);
        let rep = file::compress_on_the_fly(ctx, tree.root, req, date, &hit.rel, content_type, rep);
        return file::serve(ctx, req, date, served_file(&hit.rel), content_type, rep);
    }
    match resolve(tree.root, &target, config.dotfiles) {
        Ok(Resolved::File { file, meta, rel }) => {
            let content_type = mime::for_path(&rel);
            let rep = file::choose(ctx, &mut tree, req, file, meta, &rel, now);
            let rep = file::cache_if_plain(&mut tree, &key, &rel, rep, now);
            let rep = file::compress_on_the_fly(ctx, tree.root, req, date, &rel, content_type, rep);
            file::serve(ctx, req, date, served_file(&rel), content_type, rep)
        }
        Ok(Resolved::Directory { dir, rel }) if config.listing => {
            page::listing(ctx, tree.root, req, dir, &rel, &target, key)
        }
        // Says only what the start-up block says too: no path, no file names.
        Ok(Resolved::Directory { .. }) => no_listing(req),
        Ok(Resolved::Redirect) => reply::directory_redirect(&target, req.head_only()),
        Err(e) => reply::error(e, Audience::of(req)),
    }
}

/// The `403` for a directory without an index while listings are off. The visitor is told only
/// that the folder cannot be shown; the operator, once, on stderr, what would show it.
fn no_listing(req: &Request<'_, '_>) -> Response {
    static TOLD: AtomicBool = AtomicBool::new(false);
    if !TOLD.swap(true, Ordering::Relaxed) {
        eprintln!(
            "http-server: note: a folder without index.html was asked for and got 403; \
             --listing would list such folders"
        );
    }
    reply::error(ServeError::NoListing, Audience::of(req))
}

/// Debug builds only: a request for the path in `HTTP_SERVER_PANIC_PATH` panics, so the tests
/// can check how a panic in a handler is contained and answered. Release builds have no such
/// path.
#[cfg(debug_assertions)]
fn panic_on_request(target: &Target<'_>) {
    static PATH: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let path = PATH.get_or_init(|| std::env::var("HTTP_SERVER_PANIC_PATH").ok());
    if path.as_deref() == Some(target.path.as_str()) {
        panic!("asked to panic for {}", target.path);
    }
}

/// The cache's key for a target, and the counters' name for a listing: its path, with the
/// slash kept for directories.
fn resource_name(target: &Target<'_>) -> String {
    if target.trailing_slash && target.path != "/" {
        format!("{}/", target.path)
    } else {
        target.path.clone()
    }
}

/// The counters' name for a file served: the file's own path under the root, so that `/` and
/// `/index.html` count as the one resource they are (DESIGN.md "Observability"); the request
/// target stays in the access log.
fn served_file(rel: &str) -> String {
    format!("/{rel}")
}
