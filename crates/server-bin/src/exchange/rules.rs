//! The site file's rules inside one exchange: what the rules see of a request, and how their
//! answers become responses (a preflight, a redirect, a denial) or fields on a response.
//!
//! The rules themselves (matching, auth, CORS) are `crate::site`'s; this module only translates
//! between them and the exchange's neutral request and response. It must not resolve files.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use http_core::Fields as RequestFields;
use http_core::target::Target;

use super::Request;
use super::reply::{self, Audience};
use super::response::Response;
use crate::error::ServeError;
use crate::site::{self, Decision, Denial, Plan, Site};

/// The request fields the rules read, each a list's lines joined with `, ` (rarely needed:
/// a client sends each on one line).
pub struct Asked<'b> {
    authorization: Option<Cow<'b, [u8]>>,
    origin: Option<Cow<'b, [u8]>>,
    request_method: Option<Cow<'b, [u8]>>,
    request_headers: Option<Cow<'b, [u8]>>,
    accept: Option<Cow<'b, [u8]>>,
}

impl<'b> Asked<'b> {
    /// What `fields` hold of what `site`'s rules read: nothing of what they do not (each
    /// field looked for is a pass over every line of the head).
    pub fn of(fields: RequestFields<'_, 'b>, site: &Site) -> Self {
        let read = |wanted: bool, name| wanted.then(|| joined(fields, name)).flatten();
        let cors = site.has_cors();
        Self {
            authorization: read(site.has_auth(), "authorization"),
            origin: read(cors, "origin"),
            request_method: read(cors, "access-control-request-method"),
            request_headers: read(cors, "access-control-request-headers"),
            accept: read(site.has_fallback(), "accept"),
        }
    }

    /// The request as the rules see it.
    pub fn request<'a>(
        &'a self,
        req: &Request<'_, '_>,
        target: &'a Target<'a>,
        site: &Site,
        now: Instant,
    ) -> site::Request<'a> {
        // The address is only looked up when failed passwords are counted by it.
        let client = match site.has_auth() {
            true => (req.client)(),
            false => None,
        };
        site::Request {
            method: req.method,
            target,
            authorization: self.authorization.as_deref(),
            origin: self.origin.as_deref(),
            request_method: self.request_method.as_deref(),
            request_headers: self.request_headers.as_deref(),
            accept: self.accept.as_deref(),
            client: client.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            now,
        }
    }
}

/// The lines of field `name`, as one.
fn joined<'b>(fields: RequestFields<'_, 'b>, name: &str) -> Option<Cow<'b, [u8]>> {
    let mut lines = fields.values(name);
    let first = lines.next()?;
    let Some(second) = lines.next() else {
        return Some(Cow::Borrowed(first));
    };
    let mut all = first.to_vec();
    for line in std::iter::once(second).chain(lines) {
        all.extend_from_slice(b", ");
        all.extend_from_slice(line);
    }
    Some(Cow::Owned(all))
}

/// The response a decision makes on its own (anything but [`Decision::Serve`]), with the
/// rules' fields for it; `Err` with the plan to serve.
pub fn answer<'s>(decision: Decision<'s>, req: &Request<'_, '_>) -> Result<Response, Plan<'s>> {
    let response = match decision {
        Decision::Serve(plan) => return Err(plan),
        Decision::Preflight(fields) => {
            let mut response = reply::no_content();
            add(&mut response, fields);
            response
        }
        Decision::Redirect(redirect) => {
            reply::redirect(redirect.status, redirect.location, req.head_only())
        }
        Decision::Denied(Denial::Challenge(challenge)) => {
            let mut response = reply::error(ServeError::Unauthorized, Audience::of(req));
            response
                .fields
                .push("WWW-Authenticate", challenge.to_owned());
            response
        }
        Decision::Denied(Denial::RateLimited(secs)) => {
            let mut response = reply::error(ServeError::TooManyRequests, Audience::of(req));
            response.fields.set("Retry-After", secs.to_string());
            response
        }
        Decision::Bad(e) => reply::error(e.into(), Audience::of(req)),
    };
    Ok(response)
}

/// Adds the rules' fields for `response`, whose content came from `path` (a directory when
/// the flag says so), to a request the rules saw as `sreq` and planned as `plan`.
/// `cache_control` is what the response's `Cache-Control` would be without rules when it has
/// none of its own.
pub fn decorate(
    site: &Site,
    sreq: &site::Request<'_>,
    plan: Option<&Plan<'_>>,
    path: (&str, bool),
    cache_control: &str,
    response: &mut Response,
) {
    let own = || {
        response
            .fields
            .value("cache-control")
            .unwrap_or(cache_control)
    };
    let fields = site.fields(sreq, plan, path, response.status, &own);
    add(response, fields);
}

/// Sets each of `fields` on `response` (replacing a field of the same name) and appends their
/// `Vary` names to its `Vary`.
fn add(response: &mut Response, fields: site::Fields<'_>) {
    for field in fields.list {
        response
            .fields
            .set(field.name.to_owned(), field.value.into_owned());
    }
    if fields.vary.is_empty() {
        return;
    }
    let vary = match response.fields.value("vary") {
        Some(old) => format!("{old}, {}", fields.vary.join(", ")),
        None => fields.vary.join(", "),
    };
    response.fields.set("Vary", vary);
}

/// A target for `plan`'s path, when a rewrite chose another one (else the request's).
pub fn planned_target<'q>(plan: &Plan<'_>, target: &Target<'q>) -> Option<Target<'q>> {
    plan.rewritten.then(|| Target {
        path: Cow::Owned(plan.path.to_string()),
        query: target.query,
        trailing_slash: plan.trailing_slash,
    })
}
