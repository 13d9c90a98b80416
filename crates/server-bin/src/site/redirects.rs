//! `[[redirects]]` and `[[rewrites]]`: a regex over the request's path and a target built from
//! its groups. All of a section's regexes are compiled into one `RegexSet`, so a path that no
//! rule matches costs one pass of one automaton; the first rule (in file order) that matches
//! wins, and only its regex is run again for its groups.
//!
//! A target is written as in a URL (percent-encoded); `$1`, `${1}`, `$name`, `${name}` are the
//! regex's groups (as `regex::Captures::expand` reads them; `$$` is a dollar sign). A group's
//! text is percent-encoded where it goes, and the result goes through `http_core::target::decode`,
//! so it is normalised and can never climb above the root. A redirect's target is a path
//! (`/new`) or an absolute `http(s)://` URL whose scheme and host are written out (no group can
//! choose the host); the request's query is appended. A rewrite's target is a path only, and
//! is not rewritten again: one step, so no rule can loop.
//!
//! This module must not resolve files nor build responses: it answers with a path or a
//! `Location`.

use http_core::target::{self, Target};
use http_core::{ParseError, StatusCode};
use regex::{Captures, Regex, RegexBuilder, RegexSet, RegexSetBuilder};

use super::file::{Located, RegexRule, Text};

/// What a section's rules do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Answer with a redirect.
    Redirect,
    /// Serve another path.
    Rewrite,
}

/// The status a redirect gets when the file names none: temporary, so that a mistake is not
/// cached by browsers for good.
pub const DEFAULT_REDIRECT_STATUS: StatusCode = StatusCode::FOUND;

/// The answer to a request a redirect rule matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// 301, 302, 303, 307 or 308.
    pub status: StatusCode,
    /// The `Location` value: percent-encoded, the request's query kept.
    pub location: String,
}

/// The path a rewrite rule serves instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewritten {
    /// Decoded and normalised, as [`Target::path`].
    pub path: String,
    /// Whether it names a directory (as [`Target::trailing_slash`]).
    pub trailing_slash: bool,
}

/// One section's compiled rules.
#[derive(Debug, Clone)]
pub struct RegexRules {
    set: RegexSet,
    rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
struct Rule {
    regex: Regex,
    to: Template,
    status: StatusCode,
}

/// A target with its group references resolved to indices.
#[derive(Debug, Clone)]
struct Template {
    /// `https://host[:port]` of an absolute target.
    origin: Option<Box<str>>,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(Box<str>),
    Group(usize),
}

impl RegexRules {
    /// Checks and compiles a section's rules.
    ///
    /// # Errors
    ///
    /// [`Located`] at the first regex, target or status that cannot be used.
    pub fn compile(rules: &[RegexRule], kind: Kind) -> Result<Self, Located> {
        let mut compiled = Vec::with_capacity(rules.len());
        for rule in rules {
            let regex = compile_regex(&rule.from)?;
            let to = Template::parse(&rule.to, &regex, kind)?;
            let status = match (&rule.status, kind) {
                (None, _) => DEFAULT_REDIRECT_STATUS,
                (Some(status), _) => redirect_status(status.value).ok_or_else(|| {
                    Located::invalid(
                        status.span.clone(),
                        "status",
                        "a redirect's status is 301, 302, 303, 307 or 308",
                    )
                })?,
            };
            compiled.push(Rule { regex, to, status });
        }
        let set = RegexSetBuilder::new(rules.iter().map(|r| &r.from.value))
            .dot_matches_new_line(true)
            .build()
            .map_err(|e| {
                let span = rules.last().map_or(0..0, |r| r.from.span.clone());
                Located::invalid(
                    span,
                    "from",
                    format!(
                        "the regexes together are too large: {}",
                        last_line(&e.to_string())
                    ),
                )
            })?;
        Ok(Self {
            set,
            rules: compiled,
        })
    }

    /// No rules.
    pub fn empty() -> Self {
        Self {
            set: RegexSet::empty(),
            rules: Vec::new(),
        }
    }

    /// How many rules there are.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// The first rule matching `path`, and its groups.
    fn first_match<'p>(&self, path: &'p str) -> Option<(&Rule, Captures<'p>)> {
        if self.rules.is_empty() || !self.set.is_match(path) {
            return None;
        }
        let first = self.set.matches(path).iter().next()?;
        let rule = self.rules.get(first)?;
        Some((rule, rule.regex.captures(path)?))
    }

    /// The redirect for `path` (with the request's raw `query`), if a rule matches.
    ///
    /// # Errors
    ///
    /// [`ParseError::Target`] when the target built climbs above the root.
    pub fn redirect(
        &self,
        path: &str,
        query: Option<&[u8]>,
    ) -> Option<Result<Redirect, ParseError>> {
        let (rule, groups) = self.first_match(path)?;
        Some(rule.to.location(&groups, query).map(|location| Redirect {
            status: rule.status,
            location,
        }))
    }

    /// The path to serve instead of `path`, if a rule matches.
    ///
    /// # Errors
    ///
    /// [`ParseError::Target`] when the target built climbs above the root.
    pub fn rewrite(&self, path: &str) -> Option<Result<Rewritten, ParseError>> {
        let (rule, groups) = self.first_match(path)?;
        let expanded = rule.to.expand(&groups);
        Some(target::decode(expanded.as_bytes()).map(|t| Rewritten {
            path: t.path.into_owned(),
            trailing_slash: t.trailing_slash,
        }))
    }
}

fn redirect_status(code: i64) -> Option<StatusCode> {
    Some(match code {
        301 => StatusCode::MOVED_PERMANENTLY,
        302 => StatusCode::FOUND,
        303 => StatusCode::SEE_OTHER,
        307 => StatusCode::TEMPORARY_REDIRECT,
        308 => StatusCode::PERMANENT_REDIRECT,
        _ => return None,
    })
}

/// The last line of a `regex` error, which is the one that says what is wrong.
fn last_line(message: &str) -> &str {
    let line = message.trim_end().lines().last().unwrap_or(message);
    line.strip_prefix("error: ").unwrap_or(line)
}

/// Compiles `from`, a syntax error pointing at its place in the pattern.
fn compile_regex(from: &Text) -> Result<Regex, Located> {
    let pattern = from.value.as_str();
    let syntax = |offset: usize, message: String| {
        Located::invalid(from.span.clone(), "from", format!("bad regex: {message}")).inside(offset)
    };
    let ast = regex_syntax::ast::parse::Parser::new()
        .parse(pattern)
        .map_err(|e| syntax(e.span().start.offset, e.kind().to_string()))?;
    regex_syntax::hir::translate::TranslatorBuilder::new()
        .dot_matches_new_line(true)
        .build()
        .translate(pattern, &ast)
        .map_err(|e| syntax(e.span().start.offset, e.kind().to_string()))?;
    RegexBuilder::new(pattern)
        .dot_matches_new_line(true)
        .build()
        .map_err(|e| syntax(0, last_line(&e.to_string()).to_owned()))
}

impl Template {
    /// Reads `to`, resolving its group references against `regex`, and checks that it is a
    /// target `kind` may have.
    fn parse(to: &Text, regex: &Regex, kind: Kind) -> Result<Self, Located> {
        let value = to.value.as_str();
        let bad = |offset: usize, why: &str| {
            Located::invalid(to.span.clone(), "to", why.to_owned()).inside(offset)
        };
        let (origin, path_at) = match kind {
            Kind::Redirect => split_origin(value).map_err(|(at, why)| bad(at, why))?,
            Kind::Rewrite => (None, 0),
        };
        let rest = value.get(path_at..).unwrap_or_default();
        if !rest.is_empty() && !rest.starts_with('/') || rest.is_empty() && origin.is_none() {
            return Err(bad(
                path_at,
                match kind {
                    Kind::Redirect => "a redirect goes to a path (/new) or to http(s)://host/path",
                    Kind::Rewrite => "a rewrite goes to a path starting with '/'",
                },
            ));
        }
        if rest.starts_with("//") {
            return Err(bad(
                path_at,
                "'//' would name another host: write https://host/... for that",
            ));
        }
        if let Some(at) = rest
            .bytes()
            .position(|b| !b.is_ascii_graphic() || b == b'#')
        {
            return Err(bad(
                path_at + at,
                "write the target as in a URL: spaces and other characters percent-encoded, no '#'",
            ));
        }
        if kind == Kind::Rewrite
            && let Some(at) = rest.find('?')
        {
            return Err(bad(
                path_at + at,
                "a rewrite changes the path only (no '?')",
            ));
        }
        let parts = parse_parts(rest, regex).map_err(|(at, why)| bad(path_at + at, &why))?;
        let template = Self { origin, parts };
        // With every group standing for a plain segment, the path must decode: a target with
        // `..` above the root, or a malformed escape, fails here rather than on a request.
        let trial = template.expand_with(|_| Some("x".to_owned()));
        if decode_expanded(&trial).is_err() {
            return Err(bad(
                path_at,
                "not a path this server can serve: '..' above the root, or a bad %-escape",
            ));
        }
        Ok(template)
    }

    /// The target with `groups` filled in, percent-encoded (without the origin).
    fn expand(&self, groups: &Captures<'_>) -> String {
        self.expand_with(|i| groups.get(i).map(|m| target::encode_path(m.as_str())))
    }

    fn expand_with(&self, group: impl Fn(usize) -> Option<String>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Group(i) => out.push_str(&group(*i).unwrap_or_default()),
            }
        }
        out
    }

    /// The `Location` for `groups`, with the request's `query` appended.
    fn location(&self, groups: &Captures<'_>, query: Option<&[u8]>) -> Result<String, ParseError> {
        let expanded = self.expand(groups);
        let target = decode_expanded(&expanded)?;
        let mut location = String::from(self.origin.as_deref().unwrap_or_default());
        location.push_str(&path_with_slash(&target));
        let queries = [target.query, query.filter(|q| !q.is_empty())];
        for (i, q) in queries.into_iter().flatten().enumerate() {
            location.push(if i == 0 { '?' } else { '&' });
            location.push_str(&target::encode_query(q));
        }
        Ok(location)
    }
}

/// Decodes an expanded target; an empty one (`https://host` alone) is the root.
fn decode_expanded(expanded: &str) -> Result<Target<'_>, ParseError> {
    match expanded.is_empty() {
        true => target::decode(b"/"),
        false => target::decode(expanded.as_bytes()),
    }
}

/// The encoded path, with its trailing slash if it names a directory.
fn path_with_slash(target: &Target<'_>) -> String {
    let mut path = target::encode_path(&target.path);
    if target.trailing_slash && path != "/" {
        path.push('/');
    }
    path
}

/// Where a target is wrong (a byte offset in it) and why.
type BadAt = (usize, &'static str);

/// Splits `http(s)://host[:port]` off an absolute target: the origin and where the path
/// starts. A path-only target has no origin.
fn split_origin(to: &str) -> Result<(Option<Box<str>>, usize), BadAt> {
    let lower = to.get(..8).unwrap_or(to).to_ascii_lowercase();
    let scheme_len = if lower.starts_with("https://") {
        8
    } else if lower.starts_with("http://") {
        7
    } else if to.contains("://") {
        return Err((0, "a redirect to another host is http:// or https://"));
    } else {
        return Ok((None, 0));
    };
    let rest = to.get(scheme_len..).unwrap_or_default();
    let host_len = rest.find(['/', '?']).unwrap_or(rest.len());
    let host = rest.get(..host_len).unwrap_or_default();
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    if !host_ok {
        return Err((
            scheme_len,
            "the host of a redirect is written out (letters, digits, '.', '-', a port; no groups)",
        ));
    }
    if rest.get(host_len..).is_some_and(|r| r.starts_with('?')) {
        return Err((scheme_len + host_len, "write a '/' before the query"));
    }
    let end = scheme_len + host_len;
    Ok((to.get(..end).map(Into::into), end))
}

/// Splits a target into literal text and group references, checked against `regex`.
fn parse_parts(to: &str, regex: &Regex) -> Result<Vec<Part>, (usize, String)> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut rest = to;
    while let Some(dollar) = rest.find('$') {
        literal.push_str(rest.get(..dollar).unwrap_or_default());
        let offset = to.len() - rest.len() + dollar;
        let after = rest.get(dollar + 1..).unwrap_or_default();
        let (name, consumed) = if after.starts_with('$') {
            literal.push('$');
            rest = after.get(1..).unwrap_or_default();
            continue;
        } else if let Some(braced) = after.strip_prefix('{') {
            let close = braced
                .find('}')
                .ok_or((offset, "'${' is not closed".to_owned()))?;
            (braced.get(..close).unwrap_or_default(), close + 2)
        } else {
            let len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (after.get(..len).unwrap_or_default(), len)
        };
        if name.is_empty() {
            return Err((
                offset,
                "a '$' starts a group ($1, ${1}, ${name}); write $$ for a dollar sign".to_owned(),
            ));
        }
        let index = match name.parse::<usize>() {
            Ok(i) if i < regex.captures_len() => i,
            Ok(i) => {
                return Err((
                    offset,
                    format!("group {i} is not in 'from', which has {}", regex.captures_len() - 1),
                ));
            }
            Err(_) => regex
                .capture_names()
                .position(|n| n == Some(name))
                .ok_or_else(|| (offset, format!("no group named '{name}' in 'from' (write ${{1}}x to follow a group with letters)")))?,
        };
        if !literal.is_empty() {
            parts.push(Part::Literal(std::mem::take(&mut literal).into()));
        }
        parts.push(Part::Group(index));
        rest = after.get(consumed..).unwrap_or_default();
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        parts.push(Part::Literal(literal.into()));
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::file::SiteFile;
    use std::path::Path;

    fn compile(toml: &str) -> Result<(RegexRules, RegexRules), String> {
        let file = SiteFile::parse(Path::new("s.toml"), toml.to_owned(), &[])
            .map_err(|e| e.to_string())?;
        let redirects = RegexRules::compile(&file.redirects, Kind::Redirect)
            .map_err(|e| file.error(e).to_string())?;
        let rewrites = RegexRules::compile(&file.rewrites, Kind::Rewrite)
            .map_err(|e| file.error(e).to_string())?;
        Ok((redirects, rewrites))
    }

    fn redirects(toml: &str) -> RegexRules {
        compile(toml).unwrap().0
    }

    fn location(rules: &RegexRules, path: &str, query: Option<&str>) -> Option<(u16, String)> {
        rules
            .redirect(path, query.map(str::as_bytes))
            .map(|r| r.unwrap())
            .map(|r| (r.status.as_u16(), r.location))
    }

    const BLOG: &str = r#"
[[redirects]]
from = '^/blog/(\d+)/(.+)$'
to = "/posts/$1-$2"
status = 301

[[redirects]]
from = '^/blog/(?P<rest>.*)$'
to = "https://archive.example.org:8443/old/${rest}?from=blog"
status = 308

[[redirects]]
from = '^/tmp$'
to = "/elsewhere"
"#;

    #[test]
    fn the_first_matching_redirect_wins_with_its_groups_and_the_query_kept() {
        let rules = redirects(BLOG);
        assert_eq!(
            location(&rules, "/blog/2024/hello", Some("a=1&b=%20")),
            Some((301, "/posts/2024-hello?a=1&b=%20".into()))
        );
        assert_eq!(
            location(&rules, "/blog/about", None),
            Some((
                308,
                "https://archive.example.org:8443/old/about?from=blog".into()
            ))
        );
        assert_eq!(
            location(&rules, "/blog/about", Some("x=2")),
            Some((
                308,
                "https://archive.example.org:8443/old/about?from=blog&x=2".into()
            ))
        );
        assert_eq!(
            location(&rules, "/tmp", None),
            Some((302, "/elsewhere".into()))
        );
        assert_eq!(location(&rules, "/other", Some("q")), None);
        assert_eq!(location(&RegexRules::empty(), "/blog/1/x", None), None);
    }

    #[test]
    fn a_group_s_text_is_encoded_in_the_location() {
        let rules = redirects(BLOG);
        // Decoded paths may hold spaces, quotes, `?`, `#`, line breaks and non-ASCII.
        let (_, loc) = location(&rules, "/blog/7/a b\"?#\r\nSet-Cookie:x=é", None).unwrap();
        assert_eq!(loc, "/posts/7-a%20b%22%3F%23%0D%0ASet-Cookie:x=%C3%A9");
        // A raw query is repeated as received, anything but visible ASCII escaped.
        let (_, loc) = location(&rules, "/tmp", Some("a=\r\n")).unwrap();
        assert_eq!(loc, "/elsewhere?a=%0D%0A");
    }

    #[test]
    fn a_target_is_normalised_and_cannot_climb_above_the_root() {
        let rules = redirects("[[redirects]]\nfrom = '^/a(.*)$'\nto = '/$1'\n");
        // `/a..` is one segment named `a..`; its group `..` would climb.
        assert_eq!(rules.redirect("/a..", None), Some(Err(ParseError::Target)));
        assert_eq!(
            location(&rules, "/a/x/../y/", None),
            Some((302, "/y/".into()))
        );
    }

    #[test]
    fn a_rewrite_is_one_step_to_a_decoded_path() {
        let (_, rules) = compile(
            "[[rewrites]]\nfrom = '^/docs/(.*)$'\nto = '/manual/$1'\n\n[[rewrites]]\nfrom = '^/manual/(.*)$'\nto = '/docs/$1'\n",
        )
        .unwrap();
        let rewritten = rules.rewrite("/docs/a b/").unwrap().unwrap();
        assert_eq!(
            rewritten,
            Rewritten {
                path: "/manual/a b".into(),
                trailing_slash: true
            }
        );
        // Rules that would send each other's paths back and forth: one step, no loop.
        assert_eq!(rules.rewrite("/manual/x").unwrap().unwrap().path, "/docs/x");
        assert_eq!(rules.rewrite("/docs/x").unwrap().unwrap().path, "/manual/x");
        assert_eq!(rules.rewrite("/other"), None);
    }

    #[test]
    fn a_rewrite_that_climbs_above_the_root_is_a_bad_target() {
        let (_, rules) = compile("[[rewrites]]\nfrom = '^/x(.*)$'\nto = '/$1'\n").unwrap();
        assert_eq!(rules.rewrite("/x.."), Some(Err(ParseError::Target)));
        assert_eq!(
            rules.rewrite("/x%2e%2e"),
            Some(Ok(Rewritten {
                path: "/%2e%2e".into(),
                trailing_slash: false
            }))
        );
    }

    #[test]
    fn bad_rules_are_refused_with_their_place() {
        let redirect =
            |from: &str, to: &str| format!("[[redirects]]\nfrom = '{from}'\nto = '{to}'\n");
        let rewrite = |to: &str| format!("[[rewrites]]\nfrom = '^/a$'\nto = '{to}'\n");
        let cases = [
            (
                redirect("^/blog/(\\d+", "/x"),
                "s.toml:2:16: 'from': bad regex: unclosed group",
            ),
            (
                redirect("\\p{Nope}", "/x"),
                "s.toml:2:9: 'from': bad regex: Unicode property not found",
            ),
            (
                redirect("^/a$", "/x") + "status = 200\n",
                "s.toml:4:10: 'status': a redirect's status is 301, 302, 303, 307 or 308",
            ),
            (
                redirect("^/(a)$", "/x/$2"),
                "s.toml:3:10: 'to': group 2 is not in 'from', which has 1",
            ),
            (
                redirect("^/(a)$", "/x/$1_y"),
                "s.toml:3:10: 'to': no group named '1_y'",
            ),
            (
                redirect("^/a$", "/x/$"),
                "s.toml:3:10: 'to': a '$' starts a group",
            ),
            (
                redirect("^/a$", "x"),
                "s.toml:3:7: 'to': a redirect goes to a path",
            ),
            (
                redirect("^/a$", "//evil.example/"),
                "s.toml:3:7: 'to': '//' would name another host",
            ),
            (
                redirect("^/(.*)$", "https://$1.example/"),
                "s.toml:3:15: 'to': the host of a redirect",
            ),
            (
                redirect("^/a$", "ftp://x/"),
                "s.toml:3:7: 'to': a redirect to another host is http:// or https://",
            ),
            (
                redirect("^/a$", "/a b"),
                "s.toml:3:9: 'to': write the target as in a URL",
            ),
            (
                rewrite("/../x"),
                "s.toml:3:7: 'to': not a path this server can serve: '..' above the root, or a bad %-escape",
            ),
            (
                rewrite("/x?y=1"),
                "s.toml:3:9: 'to': a rewrite changes the path only",
            ),
            (
                rewrite("https://x/"),
                "s.toml:3:7: 'to': a rewrite goes to a path starting with '/'",
            ),
            (
                rewrite("/x") + "status = 301\n",
                "s.toml:4:1: unknown key 'status' in [[rewrites]]",
            ),
        ];
        for (toml, expected) in cases {
            let err = compile(&toml).unwrap_err();
            assert!(err.starts_with(expected), "{toml}\n{err}\n{expected}");
        }
    }

    #[test]
    fn dollar_signs_and_braced_groups() {
        let rules = redirects("[[redirects]]\nfrom = '^/p/(?<id>\\d+)$'\nto = '/$$/${id}x/${1}'\n");
        assert_eq!(
            location(&rules, "/p/5", None),
            Some((302, "/$/5x/5".into()))
        );
    }

    #[test]
    fn an_absolute_target_to_the_bare_host_goes_to_its_root() {
        let rules = redirects("[[redirects]]\nfrom = '^/away$'\nto = 'https://example.org'\n");
        assert_eq!(
            location(&rules, "/away", Some("q=1")),
            Some((302, "https://example.org/?q=1".into()))
        );
    }
}
