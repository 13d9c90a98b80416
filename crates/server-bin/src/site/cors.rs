//! `[cors]`: cross-origin resource sharing (the Fetch standard's CORS protocol) for the paths its
//! globs match. A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is
//! answered `204` with the origin (if allowed), the methods this server has, the request fields
//! asked for (or those the file allows) and `Access-Control-Max-Age`; it needs no credentials,
//! since browsers never send them on a preflight. Other requests get
//! `Access-Control-Allow-Origin` when their origin is allowed, and `Vary: Origin` whenever the
//! answer depends on it (a list of origins rather than `*`), so that no cache hands one origin's
//! answer to another.
//!
//! The origin sent back is always the allowed one from the file, never the request's bytes.
//! This module must not build responses: it adds fields to a [`Fields`].

use std::borrow::Cow;

use http_core::Method;

use super::Fields;
use super::file::{CorsSection, Located, Text};
use super::glob::GlobSet;
use super::headers::{compile_globs, is_token};

/// The methods a preflight is told about: all this server answers.
pub const METHODS: &str = "GET, HEAD, OPTIONS";
/// How long a browser may cache a preflight when the file does not say.
pub const DEFAULT_MAX_AGE_SECS: i64 = 3600;
/// The most the file may say (what Firefox allows; Chromium caps at two hours).
pub const MAX_MAX_AGE_SECS: i64 = 86_400;
/// The longest `Access-Control-Request-Headers` echoed back.
pub const MAX_REQUESTED_HEADERS_BYTES: usize = 1024;

/// The compiled `[cors]` section.
#[derive(Debug, Clone)]
pub struct Cors {
    origins: Origins,
    allow_headers: Option<Box<str>>,
    expose_headers: Option<Box<str>>,
    credentials: bool,
    max_age: Box<str>,
    /// `None`: every path.
    paths: Option<GlobSet>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Origins {
    Any,
    /// Lowercase `scheme://host[:port]`.
    List(Vec<Box<str>>),
}

/// Whether a request is a CORS preflight.
pub fn is_preflight(method: Method, origin: Option<&[u8]>, request_method: Option<&[u8]>) -> bool {
    method == Method::Options && origin.is_some() && request_method.is_some()
}

impl Cors {
    /// Checks and compiles the section.
    ///
    /// # Errors
    ///
    /// [`Located`] at the first origin, field name, number or glob that cannot be used.
    pub fn compile(section: &CorsSection) -> Result<Self, Located> {
        let origins = origins(&section.allow_origins)?;
        let credentials = section.allow_credentials.unwrap_or(false);
        if credentials && origins == Origins::Any {
            let at = section
                .allow_origins
                .first()
                .map_or(section.span.clone(), |o| o.span.clone());
            return Err(Located::invalid(
                at,
                "allow_origins",
                "'*' cannot go with allow_credentials (browsers refuse it): list the origins",
            ));
        }
        let allow_headers = match &section.allow_headers {
            Some(names) => Some(field_names(names, "allow_headers", !credentials)?),
            None => None,
        };
        let expose_headers = match &section.expose_headers {
            Some(names) => Some(field_names(names, "expose_headers", !credentials)?),
            None => None,
        };
        let max_age = match &section.max_age {
            Some(age) if (0..=MAX_MAX_AGE_SECS).contains(&age.value) => age.value,
            Some(age) => {
                return Err(Located::invalid(
                    age.span.clone(),
                    "max_age",
                    format!("seconds from 0 to {MAX_MAX_AGE_SECS}"),
                ));
            }
            None => DEFAULT_MAX_AGE_SECS,
        };
        let paths = match &section.paths {
            Some(globs) => Some(compile_globs(globs.iter().map(|g| (0, g)), "paths")?),
            None => None,
        };
        Ok(Self {
            origins,
            allow_headers,
            expose_headers,
            credentials,
            max_age: max_age.to_string().into(),
            paths,
        })
    }

    /// Whether CORS applies to `path`.
    pub fn applies(&self, path: &str) -> bool {
        self.paths.as_ref().is_none_or(|p| p.is_match(path))
    }

    /// The `Access-Control-Allow-Origin` value for `origin`, if it is allowed.
    fn allowed(&self, origin: Option<&[u8]>) -> Option<&str> {
        match &self.origins {
            Origins::Any => Some("*"),
            Origins::List(list) => {
                let origin = origin?;
                list.iter()
                    .find(|o| o.as_bytes().eq_ignore_ascii_case(origin))
                    .map(AsRef::as_ref)
            }
        }
    }

    /// The fields of a `204` answering a preflight from `origin` that asks for
    /// `requested_headers` (`Access-Control-Request-Headers`).
    pub fn preflight<'a>(
        &'a self,
        origin: Option<&[u8]>,
        requested_headers: Option<&[u8]>,
        out: &mut Fields<'a>,
    ) {
        out.vary.extend([
            "Origin",
            "Access-Control-Request-Method",
            "Access-Control-Request-Headers",
        ]);
        let Some(allowed) = self.allowed(origin) else {
            return;
        };
        out.set("Access-Control-Allow-Origin", allowed.into());
        out.set("Access-Control-Allow-Methods", METHODS.into());
        let headers = match &self.allow_headers {
            Some(list) => Some(Cow::Borrowed(list.as_ref())),
            None => requested_headers.and_then(echo_field_names).map(Cow::Owned),
        };
        if let Some(headers) = headers {
            out.set("Access-Control-Allow-Headers", headers);
        }
        if self.credentials {
            out.set("Access-Control-Allow-Credentials", "true".into());
        }
        out.set("Access-Control-Max-Age", self.max_age.as_ref().into());
    }

    /// The fields for a request that is not a preflight, from `origin`.
    pub fn simple<'a>(&'a self, origin: Option<&[u8]>, out: &mut Fields<'a>) {
        if matches!(self.origins, Origins::List(_)) {
            out.vary.push("Origin");
        }
        let Some(allowed) = self.allowed(origin) else {
            return;
        };
        out.set("Access-Control-Allow-Origin", allowed.into());
        if self.credentials {
            out.set("Access-Control-Allow-Credentials", "true".into());
        }
        if let Some(expose) = &self.expose_headers {
            out.set("Access-Control-Expose-Headers", expose.as_ref().into());
        }
    }

    /// A summary for the reload line: how many origins (0 for any).
    pub fn origin_count(&self) -> usize {
        match &self.origins {
            Origins::Any => 0,
            Origins::List(list) => list.len(),
        }
    }
}

/// `Access-Control-Request-Headers` as a clean list of field names, or `None` if it is not one.
fn echo_field_names(value: &[u8]) -> Option<String> {
    if value.len() > MAX_REQUESTED_HEADERS_BYTES {
        return None;
    }
    let value = std::str::from_utf8(value).ok()?;
    let names: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() || !names.iter().all(|n| is_token(n)) {
        return None;
    }
    Some(names.join(", "))
}

fn origins(list: &[Text]) -> Result<Origins, Located> {
    if let [only] = list
        && only.value == "*"
    {
        return Ok(Origins::Any);
    }
    let mut origins = Vec::with_capacity(list.len());
    for origin in list {
        let bad = |why: &str| Located::invalid(origin.span.clone(), "allow_origins", why);
        let value = origin.value.to_ascii_lowercase();
        match value.as_str() {
            "*" => {
                return Err(bad(
                    "'*' allows every origin, so it stands alone in the list",
                ));
            }
            "null" => {
                return Err(bad(
                    "'null' is the origin of sandboxed and file: pages, any of them: it is not allowed",
                ));
            }
            _ => {}
        }
        let host = value
            .strip_prefix("https://")
            .or_else(|| value.strip_prefix("http://"));
        let ok = host.is_some_and(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        });
        if !ok {
            return Err(bad(
                "an origin is scheme://host[:port], as browsers send it (no path, no trailing '/')",
            ));
        }
        origins.push(value.into());
    }
    Ok(Origins::List(origins))
}

/// Field names joined for a response field; `*` allowed alone when `wildcard`.
fn field_names(names: &[Text], key: &str, wildcard: bool) -> Result<Box<str>, Located> {
    for name in names {
        let ok = is_token(&name.value) && (name.value != "*" || wildcard && names.len() == 1);
        if !ok {
            return Err(Located::invalid(
                name.span.clone(),
                key,
                "field names (tokens), or '*' alone without allow_credentials",
            ));
        }
    }
    Ok(names
        .iter()
        .map(|n| n.value.as_str())
        .collect::<Vec<_>>()
        .join(", ")
        .into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::file::SiteFile;
    use std::path::Path;

    fn compile(toml: &str) -> Result<Cors, String> {
        let file = SiteFile::parse(Path::new("s.toml"), toml.to_owned(), &[])
            .map_err(|e| e.to_string())?;
        Cors::compile(file.cors.as_ref().unwrap()).map_err(|e| file.error(e).to_string())
    }

    fn fields(out: &Fields<'_>) -> Vec<(String, String)> {
        out.list
            .iter()
            .map(|f| (f.name.to_owned(), f.value.to_string()))
            .collect()
    }

    fn listed() -> Cors {
        compile("[cors]\nallow_origins = ['https://Example.com', 'http://localhost:5173']\n")
            .unwrap()
    }

    #[test]
    fn a_preflight_from_an_allowed_origin_is_told_everything() {
        let cors = listed();
        let mut out = Fields::default();
        cors.preflight(
            Some(b"https://example.com"),
            Some(b"content-type, X-Token"),
            &mut out,
        );
        assert_eq!(
            fields(&out),
            vec![
                (
                    "Access-Control-Allow-Origin".into(),
                    "https://example.com".into()
                ),
                (
                    "Access-Control-Allow-Methods".into(),
                    "GET, HEAD, OPTIONS".into()
                ),
                (
                    "Access-Control-Allow-Headers".into(),
                    "content-type, X-Token".into()
                ),
                ("Access-Control-Max-Age".into(), "3600".into()),
            ]
        );
        assert_eq!(
            out.vary,
            vec![
                "Origin",
                "Access-Control-Request-Method",
                "Access-Control-Request-Headers"
            ]
        );
    }

    #[test]
    fn a_preflight_from_another_origin_gets_no_permission() {
        let cors = listed();
        let mut out = Fields::default();
        cors.preflight(Some(b"https://evil.example"), Some(b"x"), &mut out);
        assert!(out.list.is_empty());
        assert!(out.vary.contains(&"Origin"));
    }

    #[test]
    fn requested_headers_are_echoed_only_when_they_are_field_names() {
        let cors = listed();
        for bad in [
            &b"a b"[..],
            b"x\r\ny",
            b"",
            &[b'a'; MAX_REQUESTED_HEADERS_BYTES + 1],
        ] {
            let mut out = Fields::default();
            cors.preflight(Some(b"http://localhost:5173"), Some(bad), &mut out);
            assert!(
                !out.list
                    .iter()
                    .any(|f| f.name == "Access-Control-Allow-Headers"),
                "{bad:?}"
            );
        }
        let fixed =
            compile("[cors]\nallow_origins = ['*']\nallow_headers = ['X-A']\nmax_age = 60\n")
                .unwrap();
        let mut out = Fields::default();
        fixed.preflight(Some(b"https://any.example"), Some(b"X-B"), &mut out);
        assert_eq!(
            fields(&out),
            vec![
                ("Access-Control-Allow-Origin".into(), "*".into()),
                (
                    "Access-Control-Allow-Methods".into(),
                    "GET, HEAD, OPTIONS".into()
                ),
                ("Access-Control-Allow-Headers".into(), "X-A".into()),
                ("Access-Control-Max-Age".into(), "60".into()),
            ]
        );
    }

    #[test]
    fn a_simple_request_gets_its_allowed_origin_and_vary_origin_for_a_list() {
        let cors = listed();
        let mut out = Fields::default();
        cors.simple(Some(b"HTTPS://EXAMPLE.COM"), &mut out);
        assert_eq!(
            fields(&out),
            vec![(
                "Access-Control-Allow-Origin".into(),
                "https://example.com".into()
            )]
        );
        assert_eq!(out.vary, vec!["Origin"]);
        // No origin, or another: no permission, but the answer still varies by origin.
        let mut out = Fields::default();
        cors.simple(None, &mut out);
        assert!(out.list.is_empty());
        assert_eq!(out.vary, vec!["Origin"]);
        // `*`: the same answer for everyone, so no Vary.
        let any = compile("[cors]\nallow_origins = '*'\nexpose_headers = ['X-Total']\n").unwrap();
        let mut out = Fields::default();
        any.simple(None, &mut out);
        assert_eq!(
            fields(&out),
            vec![
                ("Access-Control-Allow-Origin".into(), "*".into()),
                ("Access-Control-Expose-Headers".into(), "X-Total".into()),
            ]
        );
        assert!(out.vary.is_empty());
    }

    #[test]
    fn credentials_need_a_list_of_origins() {
        let with =
            compile("[cors]\nallow_origins = ['https://a.example']\nallow_credentials = true\n")
                .unwrap();
        let mut out = Fields::default();
        with.simple(Some(b"https://a.example"), &mut out);
        assert_eq!(out.list[1].value, "true");
        assert_eq!(
            compile("[cors]\nallow_origins = ['*']\nallow_credentials = true\n").unwrap_err(),
            "s.toml:2:18: 'allow_origins': '*' cannot go with allow_credentials (browsers refuse it): list the origins"
        );
        assert!(
            compile("[cors]\nallow_origins = ['https://a.example']\nallow_credentials = true\nallow_headers = ['*']\n")
                .unwrap_err()
                .contains("'*' alone without allow_credentials")
        );
    }

    #[test]
    fn bad_origins_and_ages_are_refused_where_they_are() {
        let err =
            |origins: &str| compile(&format!("[cors]\nallow_origins = {origins}\n")).unwrap_err();
        assert!(
            err("['https://a.example/']").starts_with("s.toml:2:18: 'allow_origins': an origin is")
        );
        assert!(err("['a.example']").contains("an origin is"));
        assert!(err("['null']").contains("'null'"));
        assert!(err("['*', 'https://a.example']").contains("stands alone"));
        assert!(err("[]").ends_with("[cors] needs 'allow_origins'"));
        assert!(
            compile("[cors]\nallow_origins = '*'\nmax_age = -1\n")
                .unwrap_err()
                .starts_with("s.toml:3:11: 'max_age'")
        );
    }

    #[test]
    fn paths_limit_where_cors_applies() {
        let cors = compile("[cors]\nallow_origins = '*'\npaths = '/api/**'\n").unwrap();
        assert!(cors.applies("/api/x"));
        assert!(!cors.applies("/index.html"));
        assert!(listed().applies("/anything"));
    }

    #[test]
    fn only_options_with_origin_and_a_requested_method_is_a_preflight() {
        assert!(is_preflight(Method::Options, Some(b"o"), Some(b"GET")));
        assert!(!is_preflight(Method::Options, Some(b"o"), None));
        assert!(!is_preflight(Method::Options, None, Some(b"GET")));
        assert!(!is_preflight(Method::Get, Some(b"o"), Some(b"GET")));
    }
}
