//! A file response: which representation of the file goes out (the file itself, a precompressed
//! sidecar, or a copy compressed on the fly), its validators and preconditions, and the ranges
//! asked for.
//!
//! It must not read bodies (the codec sends them from the [`FileBody`]), nor compress (the
//! compression threads do, off the workers).

use std::fs::{File, Metadata};
use std::hash::{BuildHasher, RandomState};
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use http_core::StatusCode;
use http_core::conditional::{self, Precondition, Validators};
use http_core::date::HttpDate;
use http_core::encoding::{self, Coding};
use http_core::range::{self, Multipart, Ranges};

use super::response::{Body, Fields, Response, Text};
use super::validators::{self, Validated};
use super::{Request, Tree, reply};
use crate::context::Context;
use crate::error::ServeError;
use crate::files::body::{FileBody, Source};
use crate::files::resolve::{Root, sidecar};

/// Codings offered for precompressed sidecars, in order of preference.
const SIDECAR_CODINGS: [Coding; 2] = [Coding::Br, Coding::Gzip];

/// The representation chosen for a file: itself, a precompressed sidecar, or a copy compressed
/// on the fly.
pub struct Representation<'a> {
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
    /// The file itself, from `source`.
    pub fn plain(source: Source, meta: Metadata, sidecars: bool) -> Self {
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

/// The file's own bytes or a precompressed sidecar the client accepts.
pub fn choose<'a>(
    ctx: &Context,
    tree: &mut Tree<'_>,
    req: &Request<'_, '_>,
    file: File,
    meta: Metadata,
    rel: &str,
    now: Instant,
) -> Representation<'a> {
    let plain = |file, meta, sidecars| Representation::plain(Source::File(file), meta, sidecars);
    if !ctx.config.precompressed || tree.cache.has_no_sidecars(rel, now) {
        return plain(file, meta, false);
    }
    let mut sidecars: Vec<(Coding, File, Metadata)> = SIDECAR_CODINGS
        .iter()
        .filter_map(|&c| sidecar(tree.root, rel, &meta, c).map(|(f, m)| (c, f, m)))
        .collect();
    let any = !sidecars.is_empty();
    if !any {
        tree.cache.note_no_sidecars(rel, now);
    }
    let available: Vec<Coding> = sidecars.iter().map(|(c, ..)| *c).collect();
    match encoding::choose(req.fields.values("accept-encoding"), &available) {
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

/// Reads a file without sidecars of at most `max` bytes into the worker's cache and serves it
/// from there; keeps a larger one open in the cache and serves it from that descriptor.
pub fn cache_if_plain<'a>(
    tree: &mut Tree<'_>,
    key: &str,
    rel: &str,
    rep: Representation<'a>,
    max: u64,
    now: Instant,
) -> Representation<'a> {
    if rep.sidecars || rep.coding.is_some() {
        return rep;
    }
    let Source::File(file) = rep.source else {
        return rep;
    };
    if rep.meta.len() > max {
        let file = Arc::new(file);
        let wall = SystemTime::now();
        let shared = Arc::clone(&file);
        tree.cache
            .insert_open(tree.root, key, rel, &rep.meta, shared, now, wall);
        return Representation {
            source: Source::Shared(file),
            ..rep
        };
    }
    let mut contents = vec![0; rep.meta.len() as usize];
    if file.read_exact_at(&mut contents, 0).is_err() {
        return Representation {
            source: Source::File(file),
            ..rep
        };
    }
    let contents = Arc::new(contents);
    tree.cache.insert(
        tree.root,
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
pub fn compress_on_the_fly<'a>(
    ctx: &'a Context,
    root: &Arc<Root>,
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
    let accepted = req.fields.values("accept-encoding");
    let Some(coding) = encoding::choose(accepted, compression.codings()) else {
        return rep;
    };
    let tag = Some(compression.tag(coding));
    if let Some(body) = compression.lookup(root, rel, &rep.meta, coding) {
        return Representation {
            len: body.len() as u64,
            source: Source::Memory(body),
            coding: Some(coding),
            tag,
            replaces: Some(rep.len),
            ..rep
        };
    }
    if req.fields.get("if-none-match").is_some() {
        let validated = validators::of(&rep.meta, tag, date);
        let validators = Validators {
            etag: &validated.etag,
            last_modified: validated.last_modified,
        };
        if conditional::evaluate(req.method, req.fields, validators) == Precondition::NotModified {
            // `serve` comes to the same 304 from the same tag, before any body is read.
            return Representation {
                source: Source::Memory(Arc::new(Vec::new())),
                len: 0,
                coding: Some(coding),
                tag,
                ..rep
            };
        }
    }
    rep
}

/// Appends the fields every response about a file representation carries (RFC 9110 §15.4.5
/// asks a 304 for the same validators and `Vary` a 200 would have).
fn with_file_fields(
    mut fields: Fields,
    ctx: &Context,
    validated: &Validated,
    varies: bool,
) -> Fields {
    fields.push("ETag", Text::Shared(validated.etag.shared()));
    fields.push("Last-Modified", Text::Date(validated.last_modified_date));
    fields.push(
        "Cache-Control",
        Text::Shared(Arc::clone(&ctx.config.cache_control)),
    );
    if varies {
        fields.push("Vary", "Accept-Encoding");
    }
    fields
}

/// What a file response sends: the whole file, one range, or several as multipart.
enum Plan {
    /// `Ranges::Partial` here always holds exactly one range.
    Ranges(Ranges),
    Multipart(Multipart),
}

/// The response for `rep`, a representation of the file counted as `resource`: `304` or `412`
/// when the preconditions say so, else `200` or `206` with the ranges asked for.
pub fn serve(
    ctx: &Context,
    req: &Request<'_, '_>,
    date: &HttpDate,
    resource: Arc<str>,
    content_type: &'static str,
    rep: Representation<'_>,
) -> Response {
    let len = rep.len;
    let validated = validators::of(&rep.meta, rep.tag, date);
    let validators = Validators {
        etag: &validated.etag,
        last_modified: validated.last_modified,
    };
    let plan = match conditional::evaluate(req.method, req.fields, validators) {
        Precondition::Proceed => plan(req, validators, rep.varies, date, len, content_type),
        Precondition::NotModified => {
            let fields = with_file_fields(Fields::new(), ctx, &validated, rep.varies);
            return Response {
                resource: Some(resource),
                ..reply::not_modified(fields)
            };
        }
        Precondition::Failed => {
            return reply::error(ServeError::PreconditionFailed, reply::Audience::of(req));
        }
    };
    let Some(Ranged {
        status,
        content_type,
        content_range,
        body,
    }) = ranged(plan, rep.source, len, content_type)
    else {
        return reply::error(
            ServeError::RangeNotSatisfiable(len),
            reply::Audience::of(req),
        );
    };
    let body_len = body.remaining();
    if let (Some(identity_len), StatusCode::OK, false) = (rep.replaces, status, req.head_only())
        && let Some(compression) = &ctx.compression
    {
        compression.saved(identity_len.saturating_sub(body_len));
    }
    let mut fields = Fields::new();
    fields.push("Content-Type", content_type);
    if let Some(coding) = rep.coding {
        fields.push("Content-Encoding", coding.token());
    }
    if let Some(content_range) = content_range {
        fields.push("Content-Range", content_range);
    }
    fields.push("Accept-Ranges", "bytes");
    Response {
        status,
        fields: with_file_fields(fields, ctx, &validated, rep.varies),
        content_length: Some(body_len),
        body: match req.head_only() {
            true => Body::Empty,
            false => Body::File(body),
        },
        resource: Some(resource),
        user: None,
    }
}

/// A file response's status, its type (which a multipart body changes), its `Content-Range`,
/// and its body.
struct Ranged {
    status: StatusCode,
    content_type: Text,
    content_range: Option<String>,
    body: FileBody,
}

/// What `plan` sends of `source` (`len` bytes of type `content_type`); `None` when no range
/// is satisfiable.
fn ranged(plan: Plan, source: Source, len: u64, content_type: &'static str) -> Option<Ranged> {
    Some(match plan {
        Plan::Ranges(Ranges::Whole) => Ranged {
            status: StatusCode::OK,
            content_type: Text::Static(content_type),
            content_range: None,
            body: FileBody::range(source, 0, len),
        },
        Plan::Ranges(Ranges::Partial(ranges)) => {
            let r = ranges.first()?;
            Ranged {
                status: StatusCode::PARTIAL_CONTENT,
                content_type: Text::Static(content_type),
                content_range: Some(r.content_range(len)),
                body: FileBody::range(source, r.start, r.len()),
            }
        }
        Plan::Multipart(layout) => Ranged {
            status: StatusCode::PARTIAL_CONTENT,
            content_type: Text::Owned(layout.content_type.clone()),
            content_range: None,
            body: FileBody::multipart(source, layout),
        },
        Plan::Ranges(Ranges::Unsatisfiable) => return None,
    })
}

/// The ranges to send. Several ranges whose multipart body could not even be measured get the
/// whole file.
///
/// Where the response `varies` by coding, a date in `If-Range` sends the whole representation:
/// every coding carries the file's `Last-Modified`, so the date cannot say which one the client
/// holds, and a range of the gzip bytes would be spliced onto an identity download (RFC 9110
/// §13.1.5 lets a server refuse a validator it cannot trust; issue 27). An entity tag names
/// one coding and still lets the range apply.
fn plan(
    req: &Request<'_, '_>,
    validators: Validators<'_>,
    varies: bool,
    date: &HttpDate,
    len: u64,
    content_type: &str,
) -> Plan {
    let if_range = req.fields.get("if-range");
    let trusted = !varies || if_range.is_none_or(conditional::is_entity_tag);
    let ranges = match req.fields.get("range") {
        Some(value)
            if trusted && conditional::if_range_allows(if_range, validators, date.unix_secs()) =>
        {
            range::parse(value, len)
        }
        _ => Ranges::Whole,
    };
    match ranges {
        Ranges::Partial(ranges) if ranges.len() > 1 => {
            match Multipart::new(&ranges, len, content_type, &boundary()) {
                Some(layout) => Plan::Multipart(layout),
                None => Plan::Ranges(Ranges::Whole),
            }
        }
        other => Plan::Ranges(other),
    }
}

/// A multipart boundary: 32 hex digits from the standard library's randomly keyed hasher, so a
/// file cannot be crafted to contain the boundary of its own response.
fn boundary() -> String {
    let a = RandomState::new().hash_one(0u8);
    let b = RandomState::new().hash_one(1u8);
    format!("{a:016x}{b:016x}")
}
