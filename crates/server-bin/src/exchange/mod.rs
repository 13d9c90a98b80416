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
mod rules;
mod validators;

use std::borrow::Cow;
use std::net::IpAddr;
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
use crate::files::body::{FileBody, Source};
use crate::files::cache::{self, Contents, FileCache};
use crate::files::resolve::{Resolved, Root, resolve};
use crate::site::{self, Plan, Site, rule_path};

/// A request as the exchange sees it, whatever protocol carried it.
#[derive(Clone, Copy)]
pub struct Request<'h, 'b> {
    /// The method.
    pub method: Method,
    /// The request target as sent (origin or absolute form; HTTP/2's `:path`).
    pub target: &'b [u8],
    /// The header fields.
    pub fields: Fields<'h, 'b>,
    /// The client's address, looked up (once per connection) only when a response depends on
    /// it: the metrics' privacy, failed passwords counted per client.
    pub client: &'h dyn Fn() -> Option<IpAddr>,
    /// The body can go by `sendfile` (plain HTTP/1.1), so a small file is served from the
    /// worker's cache only up to [`crate::files::cache::MAX_FILE_SENDFILE`]; TLS and HTTP/2 copy
    /// every body and take cached files up to [`crate::files::cache::MAX_FILE`].
    pub sendfile: bool,
}

impl std::fmt::Debug for Request<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("target", &String::from_utf8_lossy(self.target))
            .finish_non_exhaustive()
    }
}

impl Request<'_, '_> {
    /// A `HEAD`: the response carries the fields a `GET` would, and no content.
    pub fn head_only(&self) -> bool {
        self.method == Method::Head
    }
}

/// What one request reads the document root through: the tree taken for it, once, the
/// worker's small-file cache, and the site rules taken for it. Everything the response needs is
/// found in that one tree, so a request never mixes two releases (`files::root`), and under
/// those rules, so a reload never splits one (`site::reload`).
pub struct Tree<'a> {
    /// The root's tree when the request started.
    pub root: &'a Arc<Root>,
    /// The worker's small-file cache.
    pub cache: &'a mut FileCache,
    /// The site rules when the request started.
    pub site: &'a Arc<Site>,
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
        // The asterisk form asks about the server as a whole (RFC 9110 §9.3.7).
        Method::Options if req.target == b"*" => return reply::options(),
        Method::Options => {}
        _ => return reply::error(ServeError::MethodNotAllowed, Audience::of(req)),
    }
    let target = match target::decode(req.target) {
        Ok(target) => target,
        Err(e) => return reply::error(e.into(), Audience::of(req)),
    };
    #[cfg(debug_assertions)]
    panic_on_request(&target);
    if let Some(endpoint) = endpoint(ctx, req, &target, draining) {
        return endpoint;
    }
    let site = Arc::clone(tree.site);
    let asked = rules::Asked::of(req.fields, &site);
    let sreq = asked.request(req, &target, &site, now);
    let plan = match rules::answer(site.decide(&sreq), req) {
        Ok(answered) => return answered,
        Err(plan) => plan,
    };
    if req.method == Method::Options {
        let mut response = reply::options();
        rules::decorate(
            &site,
            &sreq,
            Some(&plan),
            (&plan.path, plan.trailing_slash),
            "",
            &mut response,
        );
        return response;
    }
    let rewritten = rules::planned_target(&plan, &target);
    let serving = rewritten.as_ref().unwrap_or(&target);
    let (mut response, content) = match serve_target(ctx, &mut tree, req, serving, date, now) {
        Ok(response) => (
            response,
            (Cow::Borrowed(&*serving.path), serving.trailing_slash),
        ),
        Err(e) => {
            let (response, (path, slash)) =
                substitute(ctx, &mut tree, req, &sreq, &plan, e, date, now);
            (response, (Cow::Owned(path), slash))
        }
    };
    rules::decorate(
        &site,
        &sreq,
        Some(&plan),
        (&content.0, content.1),
        &ctx.config.cache_control,
        &mut response,
    );
    response.user = plan.user.map(str::to_owned);
    response
}

/// The metrics and health endpoints, if `target` names one: health for anyone; the metrics,
/// which name every file fetched, for loopback clients only unless `--metrics-public` (to
/// others the path is like any other).
fn endpoint(
    ctx: &Context,
    req: &Request<'_, '_>,
    target: &Target<'_>,
    draining: bool,
) -> Option<Response> {
    let config = &ctx.config;
    let path = Some(&*target.path);
    if config.health_path.as_deref() == path {
        return Some(page::health(req, draining));
    }
    if config.metrics_path.as_deref() == path
        && (config.metrics_public
            || (req.client)().is_some_and(|ip| ip.to_canonical().is_loopback()))
    {
        return Some(page::metrics(ctx, req));
    }
    None
}

/// What `target` names beneath the root, served: a file (through the worker's cache, in the
/// representation the client accepts), a listing, a redirect to the directory with its slash;
/// or the error that stops it, which the rules may answer with a page of their own.
fn serve_target(
    ctx: &Context,
    tree: &mut Tree<'_>,
    req: &Request<'_, '_>,
    target: &Target<'_>,
    date: &HttpDate,
    now: Instant,
) -> Result<Response, ServeError> {
    let key = rule_path(&target.path, target.trailing_slash);
    let cached_max = tree.cache.max_file_for(req.sendfile);
    let hit = tree.cache.get(tree.root, &key, now);
    let usable = |hit: &cache::Hit| match &hit.contents {
        Contents::Bytes(bytes) => bytes.len() as u64 <= cached_max,
        Contents::Open(_) => true,
    };
    if let Some(hit) = hit.filter(usable) {
        let rel = cache::rel(&hit.name);
        let content_type = hit.content_type;
        let source = match hit.contents {
            Contents::Bytes(bytes) => Source::Memory(bytes),
            Contents::Open(file) => Source::Shared(file),
        };
        let rep = Representation::plain(source, hit.meta, false);
        let rep = file::compress_on_the_fly(ctx, tree.root, req, date, rel, content_type, rep);
        return Ok(file::serve(
            ctx,
            req,
            date,
            Arc::clone(&hit.name),
            content_type,
            rep,
        ));
    }
    match resolve(tree.root, target, ctx.config.dotfiles)? {
        Resolved::File { file, meta, rel } => {
            let content_type = mime::for_path(&rel);
            let rep = file::choose(ctx, tree, req, file, meta, &rel, now);
            let rep = file::cache_if_plain(tree, &key, &rel, rep, cached_max, now);
            let rep = file::compress_on_the_fly(ctx, tree.root, req, date, &rel, content_type, rep);
            Ok(file::serve(
                ctx,
                req,
                date,
                served_file(&rel),
                content_type,
                rep,
            ))
        }
        Resolved::Directory { dir, rel } if ctx.config.listing => Ok(page::listing(
            ctx,
            tree.root,
            req,
            dir,
            &rel,
            target,
            key.into_owned(),
        )),
        Resolved::Directory { .. } => Err(ServeError::NoListing),
        Resolved::Redirect => Ok(reply::directory_redirect(target, req.head_only())),
    }
}

/// The response for `err` met serving `plan`: the site's fallback page with `200` for a browser
/// navigating to a missing path (validated as its own file), else the site's page for that
/// status with the status kept, else the server's own error. Returns the path its content came
/// from, for the header rules.
#[allow(
    clippy::too_many_arguments,
    reason = "each is one fact of the request being answered"
)]
fn substitute(
    ctx: &Context,
    tree: &mut Tree<'_>,
    req: &Request<'_, '_>,
    sreq: &site::Request<'_>,
    plan: &Plan<'_>,
    err: ServeError,
    date: &HttpDate,
    now: Instant,
) -> (Response, (String, bool)) {
    let site = Arc::clone(tree.site);
    if err == ServeError::NotFound
        && let Some(page) = site.fallback(sreq, plan)
        && let Ok(page) = target::decode(page.as_bytes())
        && let Ok(mut response) = serve_target(ctx, tree, req, &page, date, now)
    {
        // The page depends on `Accept` (a script asked with `*/*` stays a 404).
        response.fields.set("Vary", vary_with(&response, "Accept"));
        return (response, (page.path.into_owned(), false));
    }
    if err == ServeError::NoListing {
        note_no_listing();
    }
    if let Some(page) = site.error_page(err.status(), plan.user)
        && let Some(response) = error_page(ctx, tree, req, page, err)
    {
        return (response, (page.to_owned(), false));
    }
    let content = (plan.path.to_string(), plan.trailing_slash);
    (reply::error(err, Audience::of(req)), content)
}

/// The site's page for `err`, read beneath the root as any file, sent whole with the error's
/// status and fields; `None` when it cannot be read (the server's own error goes instead).
fn error_page(
    ctx: &Context,
    tree: &mut Tree<'_>,
    req: &Request<'_, '_>,
    page: &str,
    err: ServeError,
) -> Option<Response> {
    let target = target::decode(page.as_bytes()).ok()?;
    let Ok(Resolved::File { file, meta, rel }) = resolve(tree.root, &target, ctx.config.dotfiles)
    else {
        return None;
    };
    let mut response = reply::error(err, Audience::unread(req.head_only()));
    response.fields.set("Content-Type", mime::for_path(&rel));
    response.content_length = Some(meta.len());
    response.body = match req.head_only() {
        true => Body::Empty,
        false => Body::File(FileBody::range(Source::File(file), 0, meta.len())),
    };
    Some(response)
}

/// `response`'s `Vary` with `name` added.
fn vary_with(response: &Response, name: &'static str) -> String {
    match response.fields.value("vary") {
        Some(vary) => format!("{vary}, {name}"),
        None => name.to_owned(),
    }
}

/// A directory without an index while listings are off gets `403`. The visitor is told only
/// that the folder cannot be shown; the operator, once, on stderr, what would show it.
fn note_no_listing() {
    static TOLD: AtomicBool = AtomicBool::new(false);
    if !TOLD.swap(true, Ordering::Relaxed) {
        eprintln!(
            "http-server: note: a folder without index.html was asked for and got 403; \
             --listing would list such folders"
        );
    }
}

/// Debug builds only: a request for the path in `HTTP_SERVER_PANIC_PATH` panics, so the tests
/// can check how a panic in a handler is contained and answered. Release builds have no such
/// path.
#[cfg(debug_assertions)]
fn panic_on_request(target: &Target<'_>) {
    static PATH: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let path = PATH.get_or_init(|| std::env::var("HTTP_SERVER_PANIC_PATH").ok());
    if path.as_deref() == Some(&*target.path) {
        panic!("asked to panic for {}", target.path);
    }
}

/// The counters' name for a file served: the file's own path under the root, so that `/` and
/// `/index.html` count as the one resource they are (DESIGN.md "Observability"); the request
/// target stays in the access log.
fn served_file(rel: &str) -> Arc<str> {
    // Not `format!`: its machinery cost 500 instructions a response (callgrind).
    ["/", rel].concat().into()
}
