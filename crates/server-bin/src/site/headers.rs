//! `[[headers]]`: header fields added to (or replacing those of) every response whose path a
//! rule's glob matches, the rules taken in file order so that a later rule replaces an earlier
//! one's field of the same name. All globs are matched in one pass (see [`GlobSet`]).
//!
//! Checked here, at load: names are tokens (RFC 9110 §5.1) and not among the fields the server
//! owns (framing, validators, `Vary`, `Date`: a rule must not be able to break a response or its
//! caching); values are visible ASCII with inner spaces, no CR, LF or NUL (§5.5), at most
//! [`MAX_VALUE_BYTES`]. This module must not decide what the exchange does with `Cache-Control`
//! on errors or protected paths (the site module does).

use super::Fields;
use super::file::{HeaderRule, Located, Text};
use super::glob::GlobSet;

/// The longest value a rule may set: a long `Content-Security-Policy` fits, and a response head
/// stays within what clients accept.
pub const MAX_VALUE_BYTES: usize = 8 * 1024;

/// Fields the server sets itself, which no rule may replace: message framing (RFC 9112 §6),
/// connection management (RFC 9110 §7.6.1, and forbidden in HTTP/2 by RFC 9113 §8.2.2), the
/// representation's validators and coding, `Vary` (the exchange lists what the response
/// depends on) and `Date`.
pub const SERVER_OWNED: &[&str] = &[
    "connection",
    "content-encoding",
    "content-length",
    "content-range",
    "date",
    "etag",
    "keep-alive",
    "last-modified",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "vary",
];

/// The compiled header rules.
#[derive(Debug, Clone)]
pub struct HeaderRules {
    globs: GlobSet,
    /// Per rule, its fields as written (name, value).
    fields: Vec<Vec<(Box<str>, Box<str>)>>,
}

impl HeaderRules {
    /// Checks and compiles the rules.
    ///
    /// # Errors
    ///
    /// [`Located`] at the first glob, name or value that cannot be used.
    pub fn compile(rules: &[HeaderRule]) -> Result<Self, Located> {
        let mut fields = Vec::with_capacity(rules.len());
        for rule in rules {
            let mut set: Vec<(Box<str>, Box<str>)> = Vec::with_capacity(rule.set.len());
            for (name, value) in &rule.set {
                check_name(name)?;
                if set.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name.value)) {
                    return Err(Located::invalid(
                        name.span.clone(),
                        &name.value,
                        "this field is set twice in one rule",
                    ));
                }
                check_value(&name.value, value)?;
                set.push((name.value.as_str().into(), value.value.trim().into()));
            }
            fields.push(set);
        }
        let globs = compile_globs(
            rules
                .iter()
                .enumerate()
                .flat_map(|(i, r)| r.globs.iter().map(move |g| (i, g))),
            "match",
        )?;
        Ok(Self { globs, fields })
    }

    /// No rules.
    pub fn empty() -> Self {
        Self {
            globs: GlobSet::empty(),
            fields: Vec::new(),
        }
    }

    /// How many rules there are.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Adds to `out` the fields of every rule that matches `path`, in rule order.
    pub fn apply<'s>(&'s self, path: &str, out: &mut Fields<'s>) {
        for rule in self.globs.owners_matching(path) {
            for (name, value) in self.fields.get(rule).into_iter().flatten() {
                out.set(name, value.as_ref().into());
            }
        }
    }
}

/// Compiles globs from the file into one set, an error pointing into the glob at fault.
///
/// # Errors
///
/// [`Located`] at the first glob that cannot be compiled.
pub fn compile_globs<'t>(
    globs: impl Iterator<Item = (usize, &'t Text)>,
    key: &str,
) -> Result<GlobSet, Located> {
    let globs: Vec<(usize, &Text)> = globs.collect();
    GlobSet::new(globs.iter().map(|(owner, g)| (*owner, g.value.as_str()))).map_err(|(i, e)| {
        let span = globs.get(i).map_or(0..0, |(_, g)| g.span.clone());
        Located::invalid(span, key, format!("bad glob: {}", e.reason)).inside(e.offset)
    })
}

/// A token (RFC 9110 §5.6.2): what a field name, a method or a coding is made of.
pub fn is_token(s: &str) -> bool {
    http_core::is_token(s.as_bytes())
}

fn check_name(name: &Text) -> Result<(), Located> {
    let bad = |why: &str| Err(Located::invalid(name.span.clone(), &name.value, why));
    if !is_token(&name.value) {
        return bad("a field name is letters, digits and !#$%&'*+-.^_`|~ only");
    }
    if SERVER_OWNED.contains(&name.value.to_ascii_lowercase().as_str()) {
        return bad("the server sets this field itself; a rule may not replace it");
    }
    Ok(())
}

/// A field value the site file may set: visible ASCII with spaces or tabs inside.
pub fn check_value(name: &str, value: &Text) -> Result<(), Located> {
    let bad = |why: &str| Err(Located::invalid(value.span.clone(), name, why));
    let trimmed = value.value.trim();
    if trimmed.is_empty() {
        return bad("an empty value (leave the field out instead)");
    }
    if let Some(at) = value
        .value
        .bytes()
        .position(|b| !(b.is_ascii_graphic() || b == b' ' || b == b'\t'))
    {
        return Err(Located::invalid(
            value.span.clone(),
            name,
            "a field value is visible ASCII and spaces only (no line breaks, no control or non-ASCII characters)",
        )
        .inside(at));
    }
    if trimmed.len() > MAX_VALUE_BYTES {
        return bad(&format!("longer than {MAX_VALUE_BYTES} bytes"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::file::SiteFile;
    use std::path::Path;

    fn compile(toml: &str) -> Result<HeaderRules, String> {
        let file = SiteFile::parse(Path::new("s.toml"), toml.to_owned(), &[])
            .map_err(|e| e.to_string())?;
        HeaderRules::compile(&file.headers).map_err(|e| file.error(e).to_string())
    }

    fn fields(rules: &HeaderRules, path: &str) -> Vec<(String, String)> {
        let mut out = Fields::default();
        rules.apply(path, &mut out);
        out.list
            .iter()
            .map(|f| (f.name.to_owned(), f.value.to_string()))
            .collect()
    }

    /// The two rules, then one that replaces the first one's field for some paths.
    fn vite() -> String {
        format!(
            "{}\n[[headers]]\nmatch = ['/assets/legacy/**', '/old/*']\nset = {{ 'cache-control' = 'no-cache' }}\n",
            crate::site::tests::SPA
        )
    }

    #[test]
    fn every_matching_rule_adds_its_fields_in_rule_order() {
        let rules = compile(&vite()).unwrap();
        assert_eq!(rules.len(), 3);
        assert_eq!(
            fields(&rules, "/assets/app.123.js"),
            vec![
                (
                    "Cache-Control".into(),
                    "public, max-age=31536000, immutable".into()
                ),
                ("X-Content-Type-Options".into(), "nosniff".into()),
                ("Referrer-Policy".into(), "no-referrer".into()),
            ]
        );
        assert_eq!(
            fields(&rules, "/index.html"),
            vec![
                ("X-Content-Type-Options".into(), "nosniff".into()),
                ("Referrer-Policy".into(), "no-referrer".into()),
            ]
        );
    }

    #[test]
    fn a_later_rule_replaces_an_earlier_one_s_field_whatever_its_case() {
        let rules = compile(&vite()).unwrap();
        let got = fields(&rules, "/assets/legacy/a.js");
        // In the first rule's place, as the later rule spells it.
        assert_eq!(got[0], ("cache-control".into(), "no-cache".into()));
        assert_eq!(got.len(), 3);
        assert_eq!(
            fields(&rules, "/old/x")[2],
            ("cache-control".into(), "no-cache".into())
        );
    }

    #[test]
    fn no_rule_no_field() {
        assert!(fields(&HeaderRules::empty(), "/a").is_empty());
        let rules = compile("[[headers]]\nmatch = '/a/*'\nset = { X-A = '1' }\n").unwrap();
        assert!(fields(&rules, "/b").is_empty());
    }

    #[test]
    fn names_and_values_that_would_break_a_response_are_refused_where_they_are() {
        let err = |set: &str| {
            compile(&format!("[[headers]]\nmatch = '/**'\nset = {{ {set} }}\n")).unwrap_err()
        };
        assert_eq!(
            err("'Content-Length' = '5'"),
            "s.toml:3:9: 'Content-Length': the server sets this field itself; a rule may not replace it"
        );
        assert!(err("Vary = 'Cookie'").contains("sets this field itself"));
        assert!(err("'Bad Name' = 'x'").starts_with("s.toml:3:9: 'Bad Name': a field name"));
        assert_eq!(
            err("X-A = \"a\\r\\nSet-Cookie: x=1\""),
            // The value has escapes: the error points at its opening quote.
            "s.toml:3:15: 'X-A': a field value is visible ASCII and spaces only (no line breaks, no control or non-ASCII characters)"
        );
        assert!(
            err("X-A = 'aé'").starts_with("s.toml:3:17: 'X-A': a field value is visible ASCII")
        );
        assert!(err("X-A = '  '").contains("empty value"));
        assert!(err("X-A = '1', x-a = '2'").contains("set twice"));
        let long = "a".repeat(MAX_VALUE_BYTES + 1);
        assert!(err(&format!("X-A = '{long}'")).contains("longer than"));
    }

    #[test]
    fn a_bad_glob_is_pointed_at_inside_its_string() {
        assert_eq!(
            compile("[[headers]]\nmatch = '/a**'\nset = { X-A = '1' }\n").unwrap_err(),
            "s.toml:2:12: 'match': bad glob: '**' must be a whole segment, as in /a/**/b"
        );
        assert_eq!(
            compile("[[headers]]\nmatch = ['/ok', 'rel/*']\nset = { X-A = '1' }\n").unwrap_err(),
            "s.toml:2:18: 'match': bad glob: a glob starts with '/' (as in /**/*.js)"
        );
        assert!(
            compile("[[headers]]\nset = { X-A = '1' }\n")
                .unwrap_err()
                .ends_with("[[headers]] needs 'match'")
        );
    }

    #[test]
    fn tokens() {
        assert!(is_token("X-Frame-Options"));
        assert!(!is_token(""));
        assert!(!is_token("a b"));
        assert!(!is_token("a:b"));
    }
}
