//! Deciding the response to one parsed request: method rules, target decoding, file
//! resolution, preconditions, ranges, the representation (precompressed sidecar, on-the-fly
//! compressed copy, or the file itself) and listings, and writing the response head (plus a
//! small body) into the connection's write buffer.
//!
//! It must not touch sockets (the connection sends what this module prepares), nor compress
//! (`files::compress` does, off the workers).

use std::fs::{File, Metadata};
use std::hash::{BuildHasher, RandomState};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use http_core::conditional::{self, Precondition, Validators};
use http_core::date::HttpDate;
use http_core::encoding::{self, Coding};
use http_core::etag::ETag;
use http_core::range::{self, Multipart, Ranges};
use http_core::target::{self, Target};
use http_core::{Body, Method, Request, ResponseHead, StatusCode, Version, mime};
use rustix::fd::OwnedFd;

use crate::context::Context;
use crate::error::ServeError;
use crate::files::body::{FileBody, INLINE_BODY_MAX, Source};
use crate::files::cache::{self, FileCache};
use crate::files::listing;
use crate::files::resolve::{Resolved, resolve, sidecar};
use crate::metrics::prometheus;

/// The methods a static file accepts, for `Allow` (RFC 9110 §10.2.1).
pub const ALLOW: &str = "GET, HEAD, OPTIONS";

/// The body of the 403 for a directory without `index.html` while listings are off, so that
/// whoever opens a shared folder in a browser learns why it is not listed.
const NO_LISTING: &str = "403 Forbidden\nThis folder has no index.html, and directory listings \
     are off (the server's --listing option turns them on).\n";

/// Codings offered for precompressed sidecars, in order of preference.
const SIDECAR_CODINGS: [Coding; 2] = [Coding::Br, Coding::Gzip];

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
    /// What the per-resource counters count: the path of the file served (`/index.html` for
    /// `/`), or of the directory listed.
    pub resource: Option<String>,
}

/// Prepares the response to `req`. While `draining`, every response closes its connection and
/// the health endpoint answers 503.
pub fn respond(
    ctx: &Context,
    cache: &mut FileCache,
    req: &Request<'_, '_>,
    date: &HttpDate,
    draining: bool,
    now: Instant,
    buf: &mut Vec<u8>,
) -> Response {
    // A request body is never read, so the bytes that follow cannot be trusted to start the next
    // request: answer, then close (DESIGN.md "Request bodies").
    let keep_alive = !draining && req.keep_alive && req.body == Body::None;
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
    #[cfg(debug_assertions)]
    panic_on_request(&target);
    let config = &ctx.config;
    if config.metrics_path.as_deref() == Some(target.path.as_str()) {
        return serve_metrics(ctx, req, reply, buf);
    }
    if config.health_path.as_deref() == Some(target.path.as_str()) {
        // A balancer that sees 503 stops sending here at once, before the listener goes away.
        return match draining {
            false => {
                let page = Page {
                    content_type: "text/plain; charset=utf-8",
                    cache_control: "no-store",
                    resource: None,
                };
                serve_page(req, reply, page, buf, || Ok("ok\n".to_owned()))
            }
            true => reply.error(buf, ServeError::Unavailable),
        };
    }
    let key = resource_name(&target);
    if let Some(hit) = cache.get(&key, now) {
        let content_type = mime::for_path(&hit.rel);
        let rep = Representation::plain(Source::Memory(hit.contents), hit.meta, false);
        let rep = compress_on_the_fly(ctx, req, date, &hit.rel, content_type, rep);
        let resource = served_file(&hit.rel);
        return serve_file(ctx, req, reply, resource, content_type, rep, buf);
    }
    match resolve(&ctx.root, &target, config.dotfiles) {
        Ok(Resolved::File { file, meta, rel }) => {
            let content_type = mime::for_path(&rel);
            let rep = choose_representation(ctx, cache, req, file, meta, &rel, now);
            let rep = cache_if_plain(ctx, cache, &key, &rel, rep, now);
            let rep = compress_on_the_fly(ctx, req, date, &rel, content_type, rep);
            serve_file(ctx, req, reply, served_file(&rel), content_type, rep, buf)
        }
        Ok(Resolved::Directory { dir, rel }) if config.listing => {
            serve_listing(ctx, req, reply, dir, &rel, &target, buf)
        }
        // Says only what the start-up block says too: no path, no file names.
        Ok(Resolved::Directory { .. }) => reply.explained(buf, ServeError::Forbidden, NO_LISTING),
        Ok(Resolved::Redirect) => reply.simple(
            buf,
            StatusCode::MOVED_PERMANENTLY,
            &[("Location", &directory_location(&target))],
        ),
        Err(e) => reply.error(buf, e),
    }
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

/// `Location` for a directory requested without its slash: the same path with `/` appended,
/// query kept (RFC 9110 §15.4.2). The path is re-encoded, so nothing from the request reaches
/// the header unescaped.
fn directory_location(target: &Target<'_>) -> String {
    let mut location = target::encode_path(&target.path);
    location.push('/');
    if let Some(query) = target.query {
        location.push('?');
        location.push_str(&target::encode_query(query));
    }
    location
}

/// What a file response sends: the whole file, one range, or several as multipart.
enum Plan {
    /// `Ranges::Partial` here always holds exactly one range.
    Ranges(Ranges),
    Multipart(Multipart),
}

/// The representation chosen for a file: itself, a precompressed sidecar, or a copy compressed
/// on the fly.
struct Representation<'a> {
    source: Source,
    /// The metadata of the file the validators come from: the sidecar for a sidecar, else the
    /// file itself (also for its compressed copies).
    meta: Metadata,
    /// Bytes in `source`.
    len: u64,
    coding: Option<Coding>,
    /// What tells this representation's `ETag` apart from the others of the same file version:
    /// the coding, and for on-the-fly output its level.
    tag: Option<&'a str>,
    /// Sidecars exist (so the small-file cache must not keep the file).
    sidecars: bool,
    /// Responses vary with `Accept-Encoding`: sidecars exist or the file is compressed on the
    /// fly (RFC 9110 §12.5.5: also on its identity responses).
    varies: bool,
    /// The identity size this representation replaces, for on-the-fly output (bytes saved).
    replaces: Option<u64>,
}

impl Representation<'_> {
    fn plain(source: Source, meta: Metadata, sidecars: bool) -> Self {
        Self {
            source,
            len: meta.len(),
            meta,
            coding: None,
            tag: None,
            sidecars,
            varies: sidecars,
            replaces: None,
        }
    }
}

fn choose_representation<'a>(
    ctx: &Context,
    cache: &mut FileCache,
    req: &Request<'_, '_>,
    file: File,
    meta: Metadata,
    rel: &str,
    now: Instant,
) -> Representation<'a> {
    let plain = |file, meta, sidecars| Representation::plain(Source::File(file), meta, sidecars);
    if !ctx.config.precompressed || cache.has_no_sidecars(rel, now) {
        return plain(file, meta, false);
    }
    let mut sidecars: Vec<(Coding, File, Metadata)> = SIDECAR_CODINGS
        .iter()
        .filter_map(|&c| sidecar(&ctx.root, rel, &meta, c).map(|(f, m)| (c, f, m)))
        .collect();
    let any = !sidecars.is_empty();
    if !any {
        cache.note_no_sidecars(rel, now);
    }
    let available: Vec<Coding> = sidecars.iter().map(|(c, ..)| *c).collect();
    match encoding::choose(req.values("accept-encoding"), &available) {
        Some(chosen) => {
            let index = sidecars
                .iter()
                .position(|(c, ..)| *c == chosen)
                .unwrap_or_default();
            let (coding, file, meta) = sidecars.swap_remove(index);
            Representation {
                coding: Some(coding),
                tag: Some(coding.token()),
                ..plain(file, meta, true)
            }
        }
        None => plain(file, meta, any),
    }
}

/// Reads a small file without sidecars into the worker's cache and serves it from there.
fn cache_if_plain<'a>(
    ctx: &Context,
    cache: &mut FileCache,
    key: &str,
    rel: &str,
    rep: Representation<'a>,
    now: Instant,
) -> Representation<'a> {
    let Source::File(file) = &rep.source else {
        return rep;
    };
    if rep.sidecars || rep.coding.is_some() || rep.meta.len() > cache::MAX_FILE {
        return rep;
    }
    let mut contents = vec![0; rep.meta.len() as usize];
    if file.read_exact_at(&mut contents, 0).is_err() {
        return rep;
    }
    let contents = Arc::new(contents);
    cache.insert(
        &ctx.root,
        key,
        rel,
        &rep.meta,
        Arc::clone(&contents),
        now,
        SystemTime::now(),
    );
    Representation {
        source: Source::Memory(contents),
        ..rep
    }
}

/// Swaps in the compressed copy of a compressible file when the client accepts one of the
/// codings on offer and no sidecar was chosen (a sidecar the client accepts wins: the site
/// built it on purpose). Without a copy in the cache yet, the identity goes out and the file is
/// queued for compression, unless the request is a revalidation of the compressed copy's tag,
/// which is answered 304 without the bytes: the tag is known from the file's identity alone.
fn compress_on_the_fly<'a>(
    ctx: &'a Context,
    req: &Request<'_, '_>,
    date: &HttpDate,
    rel: &str,
    content_type: &str,
    rep: Representation<'a>,
) -> Representation<'a> {
    let Some(compression) = &ctx.compression else {
        return rep;
    };
    if rep.coding.is_some() || !compression.applies(content_type, rep.len) {
        return rep;
    }
    let rep = Representation {
        varies: true,
        ..rep
    };
    let Some(coding) = encoding::choose(req.values("accept-encoding"), compression.codings())
    else {
        return rep;
    };
    let tag = Some(compression.tag(coding));
    if let Some(body) = compression.lookup(rel, &rep.meta, coding) {
        return Representation {
            len: body.len() as u64,
            source: Source::Memory(body),
            coding: Some(coding),
            tag,
            replaces: Some(rep.len),
            ..rep
        };
    }
    if req.header("if-none-match").is_some() {
        let etag = file_etag(&rep.meta, tag);
        let validators = Validators {
            etag: &etag,
            last_modified: last_modified(&rep.meta, date),
        };
        if conditional::evaluate(req, validators) == Precondition::NotModified {
            // `serve_file` comes to the same 304 from the same tag, before any body is read.
            return Representation {
                source: Source::Memory(Arc::default()),
                len: 0,
                coding: Some(coding),
                tag,
                ..rep
            };
        }
    }
    rep
}

/// The strong `ETag` of a representation: the file version's, plus `tag` for encoded ones.
fn file_etag(meta: &Metadata, tag: Option<&str>) -> ETag {
    let nanos = |secs: i64, nsec: i64| i128::from(secs) * 1_000_000_000 + i128::from(nsec);
    ETag::for_file(
        meta.ino(),
        meta.len(),
        nanos(meta.mtime(), meta.mtime_nsec()),
        nanos(meta.ctime(), meta.ctime_nsec()),
        tag,
    )
}

/// A representation's modification time for validators and `Last-Modified`, in seconds. A
/// file dated in the future (a clock set wrong, timestamps kept from an archive) counts as
/// modified now: a Last-Modified later than Date is forbidden (RFC 9110 §8.8.2.1), and a client
/// that kept the future date would take every later version for unmodified.
fn last_modified(meta: &Metadata, date: &HttpDate) -> u64 {
    u64::try_from(meta.mtime())
        .unwrap_or(0)
        .min(date.unix_secs())
}

/// The fields every response about a file representation carries (RFC 9110 §15.4.5 asks a 304
/// for the same validators and `Vary` a 200 would have).
struct FileFields<'a> {
    etag: &'a ETag,
    last_modified: HttpDate,
    cache_control: &'a str,
    varies: bool,
}

impl FileFields<'_> {
    fn write(&self, head: &mut ResponseHead<'_>) {
        head.header("ETag", self.etag.as_str())
            .header("Last-Modified", self.last_modified.as_str())
            .header("Cache-Control", self.cache_control);
        if self.varies {
            head.header("Vary", "Accept-Encoding");
        }
    }
}

fn serve_file(
    ctx: &Context,
    req: &Request<'_, '_>,
    reply: Reply<'_>,
    resource: String,
    content_type: &str,
    rep: Representation<'_>,
    buf: &mut Vec<u8>,
) -> Response {
    let len = rep.len;
    let last_modified = last_modified(&rep.meta, reply.date);
    let etag = file_etag(&rep.meta, rep.tag);
    let validators = Validators {
        etag: &etag,
        last_modified,
    };
    let fields = FileFields {
        etag: &etag,
        last_modified: HttpDate::from_unix(last_modified),
        cache_control: &ctx.config.cache_control,
        varies: rep.varies,
    };

    match conditional::evaluate(req, validators) {
        Precondition::Proceed => {}
        Precondition::NotModified => {
            let mut head = ResponseHead::new(buf, StatusCode::NOT_MODIFIED, reply.date.as_str());
            fields.write(&mut head);
            head.finish(reply.version, reply.keep_alive);
            return Response {
                status: StatusCode::NOT_MODIFIED,
                keep_alive: reply.keep_alive,
                file: None,
                body_len: 0,
                resource: Some(resource),
            };
        }
        Precondition::Failed => return reply.error(buf, ServeError::PreconditionFailed),
    }

    let ranges = match req.header("range") {
        Some(value)
            if conditional::if_range_allows(
                req.header("if-range"),
                validators,
                reply.date.unix_secs(),
            ) =>
        {
            range::parse(value, len)
        }
        _ => Ranges::Whole,
    };
    // Several ranges whose multipart body could not even be measured get the whole file.
    let ranges = match ranges {
        Ranges::Partial(ranges) if ranges.len() > 1 => {
            match Multipart::new(&ranges, len, content_type, &boundary()) {
                Some(layout) => Plan::Multipart(layout),
                None => Plan::Ranges(Ranges::Whole),
            }
        }
        other => Plan::Ranges(other),
    };
    let (status, content_type, content_range, body) = match ranges {
        Plan::Ranges(Ranges::Whole) => (
            StatusCode::OK,
            content_type.to_owned(),
            None,
            FileBody::range(rep.source, 0, len),
        ),
        Plan::Ranges(Ranges::Partial(ranges)) => {
            let r = ranges[0];
            let body = FileBody::range(rep.source, r.start, r.len());
            (
                StatusCode::PARTIAL_CONTENT,
                content_type.to_owned(),
                Some(r.content_range(len)),
                body,
            )
        }
        Plan::Multipart(layout) => {
            let multipart_type = layout.content_type.clone();
            (
                StatusCode::PARTIAL_CONTENT,
                multipart_type,
                None,
                FileBody::multipart(rep.source, layout),
            )
        }
        Plan::Ranges(Ranges::Unsatisfiable) => {
            return reply.error(buf, ServeError::RangeNotSatisfiable(len));
        }
    };

    let body_len = body.remaining();
    if let (Some(identity_len), StatusCode::OK, false) = (rep.replaces, status, reply.head_only)
        && let Some(compression) = &ctx.compression
    {
        compression.saved(identity_len.saturating_sub(body_len));
    }
    let start = buf.len();
    let mut head = ResponseHead::new(buf, status, reply.date.as_str());
    head.header("Content-Type", &content_type);
    if let Some(coding) = rep.coding {
        head.header("Content-Encoding", coding.token());
    }
    if let Some(content_range) = &content_range {
        head.header("Content-Range", content_range);
    }
    head.content_length(body_len)
        .header("Accept-Ranges", "bytes");
    fields.write(&mut head);
    head.finish(reply.version, reply.keep_alive);

    let file = if reply.head_only {
        None
    } else if body_len <= INLINE_BODY_MAX {
        if body.read_into(buf).is_err() {
            buf.truncate(start);
            return reply.error(buf, ServeError::Internal);
        }
        None
    } else {
        Some(body)
    };
    Response {
        status,
        keep_alive: reply.keep_alive,
        file,
        body_len: if reply.head_only { 0 } else { body_len },
        resource: Some(resource),
    }
}

fn serve_listing(
    ctx: &Context,
    req: &Request<'_, '_>,
    reply: Reply<'_>,
    dir: OwnedFd,
    rel: &str,
    target: &Target<'_>,
    buf: &mut Vec<u8>,
) -> Response {
    let page = Page {
        content_type: "text/html; charset=utf-8",
        // A listing changes whenever the directory does; caches must always ask.
        cache_control: "no-cache",
        resource: Some(resource_name(target)),
    };
    serve_page(req, reply, page, buf, || {
        listing::render(&ctx.root, dir, rel, &target.path, target.query)
            .map_err(|_| ServeError::Forbidden)
    })
}

/// The Prometheus exposition of every counter, fresh on each request.
fn serve_metrics(
    ctx: &Context,
    req: &Request<'_, '_>,
    reply: Reply<'_>,
    buf: &mut Vec<u8>,
) -> Response {
    let page = Page {
        content_type: prometheus::CONTENT_TYPE,
        cache_control: "no-store",
        resource: None,
    };
    serve_page(req, reply, page, buf, || {
        Ok(prometheus::render(&ctx.metrics.snapshot()))
    })
}

/// How a page the server makes (a listing, the metrics, health) is sent.
struct Page<'a> {
    content_type: &'a str,
    cache_control: &'a str,
    /// The resource it is counted under, if any.
    resource: Option<String>,
}

/// A page the server makes with `make`, unless the request's preconditions stop it first (a
/// huge directory is costly to read for a `304`): such a page has no validators, so only `*`
/// in `If-Match` or `If-None-Match` can pass or fail (`412`, `304`, the latter counted under
/// its resource as a file's is).
fn serve_page(
    req: &Request<'_, '_>,
    reply: Reply<'_>,
    page: Page<'_>,
    buf: &mut Vec<u8>,
    make: impl FnOnce() -> Result<String, ServeError>,
) -> Response {
    match conditional::evaluate_unvalidated(req) {
        Precondition::Proceed => {}
        Precondition::NotModified => {
            let fields = [("Cache-Control", page.cache_control)];
            let response = reply.simple(buf, StatusCode::NOT_MODIFIED, &fields);
            return Response {
                resource: page.resource,
                ..response
            };
        }
        Precondition::Failed => return reply.error(buf, ServeError::PreconditionFailed),
    }
    match make() {
        Ok(body) => reply.generated(buf, page, &body),
        Err(e) => reply.error(buf, e),
    }
}

/// A multipart boundary: 32 hex digits from the standard library's randomly keyed hasher, so a
/// file cannot be crafted to contain the boundary of its own response.
fn boundary() -> String {
    let a = RandomState::new().hash_one(0u8);
    let b = RandomState::new().hash_one(1u8);
    format!("{a:016x}{b:016x}")
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
    /// The `Date` value (and its instant, which `If-Range` needs).
    pub date: &'a HttpDate,
}

impl Reply<'_> {
    /// A `200` carrying `page`, whose body the server made, inline.
    fn generated(self, buf: &mut Vec<u8>, page: Page<'_>, body: &str) -> Response {
        ResponseHead::new(buf, StatusCode::OK, self.date.as_str())
            .header("Content-Type", page.content_type)
            .content_length(body.len() as u64)
            .header("Cache-Control", page.cache_control)
            .finish(self.version, self.keep_alive);
        if !self.head_only {
            buf.extend_from_slice(body.as_bytes());
        }
        Response {
            status: StatusCode::OK,
            keep_alive: self.keep_alive,
            file: None,
            body_len: if self.head_only { 0 } else { body.len() as u64 },
            resource: page.resource,
        }
    }

    /// An error response: a short plain-text body naming the status, never stored by caches,
    /// with the fields its status needs (`Allow` on 405, `Content-Range` on 416, `Retry-After`
    /// on 503).
    pub fn error(self, buf: &mut Vec<u8>, err: ServeError) -> Response {
        match err {
            ServeError::MethodNotAllowed => self.status(buf, err.status(), &[("Allow", ALLOW)]),
            ServeError::Unavailable => self.status(buf, err.status(), &[("Retry-After", "1")]),
            ServeError::RangeNotSatisfiable(len) => {
                let content_range = format!("bytes */{len}");
                self.status(buf, err.status(), &[("Content-Range", &content_range)])
            }
            _ => self.status(buf, err.status(), &[]),
        }
    }

    /// A response with a short plain-text body naming `status`, never stored by caches.
    pub fn status(self, buf: &mut Vec<u8>, status: StatusCode, extra: &[(&str, &str)]) -> Response {
        let mut fields = vec![("Cache-Control", "no-store")];
        fields.extend_from_slice(extra);
        self.simple(buf, status, &fields)
    }

    /// The error response for `err` with `body` instead of the bare status line.
    fn explained(self, buf: &mut Vec<u8>, err: ServeError, body: &str) -> Response {
        let status = err.status();
        self.with_body(buf, status, &[("Cache-Control", "no-store")], body)
    }

    /// A response with `extra` fields and, unless the status forbids content, a short
    /// plain-text body naming the status.
    pub fn simple(self, buf: &mut Vec<u8>, status: StatusCode, extra: &[(&str, &str)]) -> Response {
        self.with_body(buf, status, extra, &format!("{status}\n"))
    }

    /// A response with `extra` fields and, unless the status forbids content, the plain-text
    /// `body`.
    fn with_body(
        self,
        buf: &mut Vec<u8>,
        status: StatusCode,
        extra: &[(&str, &str)],
        body: &str,
    ) -> Response {
        let mut head = ResponseHead::new(buf, status, self.date.as_str());
        for (name, value) in extra {
            head.header(name, value);
        }
        let body = if status.forbids_content() {
            ""
        } else {
            head.header("Content-Type", "text/plain; charset=utf-8");
            body
        };
        if !status.forbids_content() {
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

#[cfg(test)]
mod tests {
    use http_core::target::decode;

    use super::*;

    #[test]
    fn redirect_locations_are_encoded_and_keep_the_query() {
        let target = decode(b"/a%20b/caf%C3%A9?q=%22x%22").unwrap();
        assert_eq!(directory_location(&target), "/a%20b/caf%C3%A9/?q=%22x%22");
        let target = decode(b"/docs?x=1&y").unwrap();
        assert_eq!(directory_location(&target), "/docs/?x=1&y");
    }
}
