//! The site file's rules, compiled once, and the questions the exchange asks them per request:
//! header rules, redirects and rewrites, the single-page-app fallback, error pages, basic auth
//! and CORS (issue 24).
//!
//! One request, in this order (DESIGN.md "Site rules"):
//! 1. [`Site::decide`], before anything is resolved: a CORS preflight is answered (no
//!    credentials needed), else the first redirect that matches answers, else the first rewrite
//!    that matches changes the path to serve (one step: a rewritten path is not rewritten or
//!    redirected again, so rules cannot loop), then basic auth is checked if the request's path
//!    or the rewritten one is protected. The answer is a preflight, a redirect, a denial (`401`
//!    with the challenge, `429` with `Retry-After`), a bad target (a rule built a path above the
//!    root: `400`, as such a request would get) or the path to serve, with the user's name.
//! 2. The exchange resolves that path beneath the root as any request (race-free).
//! 3. On a `404` for a `GET`/`HEAD` of a browser navigation, [`Site::fallback`] names the page
//!    to serve with `200`; on any error status, [`Site::error_page`] names the page to serve
//!    with that status. A page that is itself protected is only served to a request that was
//!    allowed in.
//! 4. [`Site::fields`] lists the fields to add or replace on whatever response goes out
//!    (file, listing, `304`, error): the header rules for the path whose content is served, then
//!    `Cache-Control: private` for a protected path, then CORS. Rules never set the
//!    `Cache-Control` of an error (it keeps `no-store`: a hashed asset that is missing now may
//!    be deployed a second later) nor of a redirect (a year-long rule for content must not pin
//!    a redirect in caches), and never touch `Vary`: what to add to it is in [`Fields::vary`].
//!
//! The paths rules see are decoded and normalised, with a trailing `/` when the request named
//! a directory (`/docs/`). Nothing here does I/O, knows the HTTP version, or decides
//! keep-alive. Rules are compiled once: the common case (no redirect or rewrite matches) costs
//! one pass of a `RegexSet` per regex section that has rules, and header globs a hash lookup
//! per path segment (or one more `RegexSet` pass for patterns); about 0.2 µs with 300 rules
//! (`tests::bench`). The file's format is in [`file`], each section in its own module, the
//! swapping of rules on SIGHUP in [`reload`].

pub mod auth;
pub mod cors;
pub mod file;
pub mod glob;
pub mod headers;
pub mod pages;
pub mod password;
pub mod redirects;
pub mod reload;

use std::borrow::Cow;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use http_core::target::Target;
use http_core::{Method, ParseError, StatusCode};

use self::auth::{Auth, Outcome};
use self::cors::Cors;
use self::file::{SiteError, SiteFile};
use self::headers::HeaderRules;
use self::pages::Pages;
use self::redirects::{Kind, RegexRules};

pub use self::redirects::Redirect;

/// The compiled rules of one version of the site file.
#[derive(Debug)]
pub struct Site {
    headers: HeaderRules,
    redirects: RegexRules,
    rewrites: RegexRules,
    pages: Pages,
    auth: Option<Auth>,
    cors: Option<Cors>,
}

/// A site file read and compiled: its flag settings and its rules.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The file as parsed (its settings, for `cli` and for reload's comparison).
    pub file: SiteFile,
    /// The rules.
    pub site: std::sync::Arc<Site>,
}

/// What the rules look at in a request. Several lines of one field are passed joined with
/// `, ` (they are lists).
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The method (GET, HEAD or OPTIONS: the exchange refuses the others first).
    pub method: Method,
    /// The decoded target.
    pub target: &'a Target<'a>,
    /// `Authorization`.
    pub authorization: Option<&'a [u8]>,
    /// `Origin`.
    pub origin: Option<&'a [u8]>,
    /// `Access-Control-Request-Method`.
    pub request_method: Option<&'a [u8]>,
    /// `Access-Control-Request-Headers`.
    pub request_headers: Option<&'a [u8]>,
    /// `Accept`.
    pub accept: Option<&'a [u8]>,
    /// The client's address (failed passwords are counted per address).
    pub client: IpAddr,
    /// Now, for the credential cache and the rate limit.
    pub now: Instant,
}

/// What to do with a request before any file is looked at.
#[derive(Debug)]
pub enum Decision<'a> {
    /// A CORS preflight: answer `204` with these fields.
    Preflight(Fields<'a>),
    /// Answer with this redirect.
    Redirect(Redirect),
    /// Credentials are needed and were not good.
    Denied(Denial<'a>),
    /// A rule built a target above the root: answer as to such a request (`400`).
    Bad(ParseError),
    /// Serve this.
    Serve(Plan<'a>),
}

/// Why a protected path is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial<'a> {
    /// `401` with `WWW-Authenticate:` this value.
    Challenge(&'a str),
    /// `429` with `Retry-After:` this many seconds: this client failed too often.
    RateLimited(u64),
}

/// The path to serve, and under which access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan<'a> {
    /// Decoded and normalised: the request's, or a rewrite's.
    pub path: Cow<'a, str>,
    /// Whether it names a directory.
    pub trailing_slash: bool,
    /// Whether a rewrite chose it.
    pub rewritten: bool,
    /// The user allowed in, for a protected path (the access log shows it); `None` for a path
    /// that needs no credentials.
    pub user: Option<&'a str>,
}

/// A field to add to a response, replacing one of the same name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field<'a> {
    /// The name as the site file (or the protocol) spells it.
    pub name: &'a str,
    /// The value, checked (no CR, LF or NUL).
    pub value: Cow<'a, str>,
}

/// Fields to add to (or replace in) a response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields<'a> {
    /// In order; each name once (compared case-insensitively).
    pub list: Vec<Field<'a>>,
    /// Names to append to the response's `Vary` (never replacing what it lists).
    pub vary: Vec<&'static str>,
}

impl<'a> Fields<'a> {
    /// Adds `name`, or replaces the value of the field of that name where it is.
    pub fn set(&mut self, name: &'a str, value: Cow<'a, str>) {
        match self
            .list
            .iter_mut()
            .find(|f| f.name.eq_ignore_ascii_case(name))
        {
            Some(field) => *field = Field { name, value },
            None => self.list.push(Field { name, value }),
        }
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.list
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
            .map(|f| f.value.as_ref())
    }

    fn remove(&mut self, name: &str) {
        self.list.retain(|f| !f.name.eq_ignore_ascii_case(name));
    }
}

/// The path as rules see it: with a trailing `/` when a directory was asked for.
pub fn rule_path(path: &str, trailing_slash: bool) -> Cow<'_, str> {
    match trailing_slash && path != "/" {
        true => Cow::Owned(format!("{path}/")),
        false => Cow::Borrowed(path),
    }
}

impl Site {
    /// No rules: what a server without `--config` runs with.
    pub fn empty() -> Self {
        Self {
            headers: HeaderRules::empty(),
            redirects: RegexRules::empty(),
            rewrites: RegexRules::empty(),
            pages: Pages::default(),
            auth: None,
            cors: None,
        }
    }

    /// Checks and compiles the rules of `file`.
    ///
    /// # Errors
    ///
    /// [`SiteError`] at the first value that cannot be used.
    pub fn compile(file: &SiteFile) -> Result<Self, SiteError> {
        let compiled = || -> Result<Self, file::Located> {
            Ok(Self {
                headers: HeaderRules::compile(&file.headers)?,
                redirects: RegexRules::compile(&file.redirects, Kind::Redirect)?,
                rewrites: RegexRules::compile(&file.rewrites, Kind::Rewrite)?,
                pages: Pages::compile(file.fallback.as_ref(), &file.error_pages)?,
                auth: file.auth.as_ref().map(Auth::compile).transpose()?,
                cors: file.cors.as_ref().map(Cors::compile).transpose()?,
            })
        };
        compiled().map_err(|e| file.error(e))
    }

    /// Whether some paths need credentials.
    pub fn has_auth(&self) -> bool {
        self.auth.is_some()
    }

    /// Whether CORS rules read `Origin` and the preflight's fields.
    pub fn has_cors(&self) -> bool {
        self.cors.is_some()
    }

    /// Whether a fallback page reads `Accept`.
    pub fn has_fallback(&self) -> bool {
        self.pages.fallback().is_some()
    }

    /// What the rules are, in a few words, for the start-up and reload lines.
    pub fn summary(&self) -> String {
        let count = |n: usize, what: &str| match n {
            1 => format!("1 {what}"),
            n => format!("{n} {what}s"),
        };
        let mut parts = vec![
            count(self.headers.len(), "header rule"),
            count(self.redirects.len(), "redirect"),
            count(self.rewrites.len(), "rewrite"),
        ];
        if let Some(page) = self.pages.fallback() {
            parts.push(format!("fallback {page}"));
        }
        if self.pages.error_page_count() > 0 {
            parts.push(count(self.pages.error_page_count(), "error page"));
        }
        if let Some(auth) = &self.auth {
            parts.push(format!("auth for {}", count(auth.user_count(), "user")));
        }
        if let Some(cors) = &self.cors {
            parts.push(match cors.origin_count() {
                0 => "CORS for any origin".to_owned(),
                n => format!("CORS for {}", count(n, "origin")),
            });
        }
        parts.join(", ")
    }

    /// What to do with `req` before resolving anything (see the module's steps).
    pub fn decide<'a>(&'a self, req: &Request<'a>) -> Decision<'a> {
        let path = rule_path(&req.target.path, req.target.trailing_slash);
        if let Some(cors) = &self.cors
            && cors::is_preflight(req.method, req.origin, req.request_method)
            && cors.applies(&path)
        {
            let mut fields = Fields::default();
            cors.preflight(req.origin, req.request_headers, &mut fields);
            return Decision::Preflight(fields);
        }
        match self.redirects.redirect(&path, req.target.query) {
            Some(Ok(redirect)) => return Decision::Redirect(redirect),
            Some(Err(e)) => return Decision::Bad(e),
            None => {}
        }
        let plan = match self.rewrites.rewrite(&path) {
            Some(Ok(rewritten)) => Plan {
                path: Cow::Owned(rewritten.path),
                trailing_slash: rewritten.trailing_slash,
                rewritten: true,
                user: None,
            },
            Some(Err(e)) => return Decision::Bad(e),
            None => Plan {
                path: Cow::Borrowed(&*req.target.path),
                trailing_slash: req.target.trailing_slash,
                rewritten: false,
                user: None,
            },
        };
        let Some(auth) = &self.auth else {
            return Decision::Serve(plan);
        };
        // A rewrite must not be a way around the protection of either path.
        let protected = auth.protects(&path)
            || plan.rewritten && auth.protects(&rule_path(&plan.path, plan.trailing_slash));
        if !protected {
            return Decision::Serve(plan);
        }
        match auth.check(req.authorization, req.client, req.now) {
            Outcome::Allowed(user) => Decision::Serve(Plan {
                user: Some(user),
                ..plan
            }),
            Outcome::Challenge => Decision::Denied(Denial::Challenge(auth.challenge())),
            Outcome::RateLimited(wait) => {
                Decision::Denied(Denial::RateLimited(whole_seconds(wait)))
            }
        }
    }

    /// The page to serve with `200` instead of the `404` that `plan` met, if the request is a
    /// browser's navigation (a `GET` or `HEAD` whose `Accept` names `text/html`).
    pub fn fallback(&self, req: &Request<'_>, plan: &Plan<'_>) -> Option<&str> {
        let page = self.pages.fallback()?;
        let navigation = matches!(req.method, Method::Get | Method::Head)
            && crate::html::accepted(req.accept.into_iter());
        // The fallback's own 404 is a real one.
        (navigation && plan.path != page && self.may_serve(page, plan.user)).then_some(page)
    }

    /// The page to serve, with the original status, for an error `status`; `user` is the one
    /// the request was allowed in as, if any.
    pub fn error_page(&self, status: StatusCode, user: Option<&str>) -> Option<&str> {
        let page = self.pages.error_page(status.as_u16())?;
        self.may_serve(page, user).then_some(page)
    }

    /// Whether a page may be served to a request allowed in as `user` (or not at all).
    fn may_serve(&self, page: &str, user: Option<&str>) -> bool {
        user.is_some() || self.auth.as_ref().is_none_or(|a| !a.protects(page))
    }

    /// The fields to add to or replace in a response with `status` to `req`, whose content
    /// comes from `path` (the file served, the fallback or error page, or the request's own
    /// path for a generated response), protected if `plan` has a user. `cache_control` tells
    /// the value the exchange would send without rules (`--cache-control` for files, `no-store`
    /// for errors), asked only for a protected response.
    pub fn fields<'a, 'c>(
        &'a self,
        req: &Request<'_>,
        plan: Option<&Plan<'_>>,
        path: (&str, bool),
        status: StatusCode,
        cache_control: &dyn Fn() -> &'c str,
    ) -> Fields<'a> {
        let mut fields = Fields::default();
        self.headers.apply(&rule_path(path.0, path.1), &mut fields);
        // A rule's caching is for content: an error or a redirect keeps the server's.
        if status.is_error()
            || (300..400).contains(&status.as_u16()) && status != StatusCode::NOT_MODIFIED
        {
            fields.remove("Cache-Control");
        } else if plan.is_some_and(|p| p.user.is_some()) {
            let private = match fields.get("Cache-Control") {
                Some(own) => auth::private_cache_control(own),
                None => auth::private_cache_control(cache_control()),
            };
            fields.set("Cache-Control", Cow::Owned(private));
        }
        if let Some(cors) = &self.cors
            && cors.applies(&rule_path(&req.target.path, req.target.trailing_slash))
        {
            cors.simple(req.origin, &mut fields);
        }
        fields
    }
}

/// `Retry-After` seconds: at least one, rounded up.
fn whole_seconds(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

/// The warning printed at start and on reload when passwords would cross the network in clear.
pub const PLAIN_AUTH_WARNING: &str = "warning: [auth] without TLS: passwords cross the network in clear (use --tls-cert or --tls-self-signed)";

#[cfg(test)]
mod tests;
