//! Globs over URL paths, compiled to regular expressions and matched many at once (see
//! [`GlobSet`]: the common shapes by hash lookups, the rest through one `regex::RegexSet`).
//!
//! The syntax is fixed here and nowhere else: a glob starts with `/`; `*` is any run of
//! characters within one segment, `?` one character other than `/`, `**` as a whole segment any
//! number of segments (none included, so `/a/**` matches `/a`, `/a/` and everything below it),
//! `{x,y}` one of the alternatives (not nested, no `/` inside), `[abc]`, `[a-z]`, `[!a-z]` one
//! character of a class (never `/`), and `\` takes the next character literally. Matching is
//! case-sensitive and over the whole path.
//!
//! Globs are compiled to `regex` rather than through a glob crate: the semantics are those of
//! a URL path (no platform separators, no case folding), errors can point at the offending
//! character, and the `regex` crate is already here. This module must not know what the globs
//! are for (header rules, auth, CORS).

use std::fmt;

use std::collections::HashMap;

use regex::RegexSet;

/// Why a glob cannot be compiled, and where in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobError {
    /// Byte offset in the glob of the character at fault.
    pub offset: usize,
    /// What is wrong there.
    pub reason: &'static str,
}

impl fmt::Display for GlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.reason, self.offset + 1)
    }
}

impl std::error::Error for GlobError {}

/// Translates one glob into an anchored regular expression.
///
/// # Errors
///
/// [`GlobError`] when the glob does not start with `/`, has an empty, `.` or `..` segment, a
/// `**` that is not a whole segment, or an unclosed `{` or `[`.
pub fn to_regex(glob: &str) -> Result<String, GlobError> {
    if !glob.starts_with('/') {
        return Err(GlobError {
            offset: 0,
            reason: "a glob starts with '/' (as in /**/*.js)",
        });
    }
    // `.` must match a newline too: a decoded path may hold one (`%0A`), and a path that slips
    // past `/private/**` is a way around the rule.
    let mut out = String::from("(?s)^");
    let mut offset = 1;
    let segments: Vec<&str> = glob[1..].split('/').collect();
    let last = segments.len() - 1;
    for (i, segment) in segments.iter().enumerate() {
        match *segment {
            // Zero or more whole segments (before the slash of the next one, if any).
            "**" => out.push_str("(?:/.*)?"),
            // A trailing slash: the glob names a directory as requested with its slash.
            "" if i == last => out.push('/'),
            "" => {
                return Err(GlobError {
                    offset,
                    reason: "empty segment ('//')",
                });
            }
            "." | ".." => {
                return Err(GlobError {
                    offset,
                    reason: "'.' and '..' segments never match a normalised path",
                });
            }
            _ => {
                out.push('/');
                segment_to_regex(segment, offset, &mut out)?;
            }
        }
        offset += segment.len() + 1;
    }
    out.push('$');
    Ok(out)
}

/// Appends the regex for one segment that is not `**`.
fn segment_to_regex(segment: &str, base: usize, out: &mut String) -> Result<(), GlobError> {
    let err = |at: usize, reason| GlobError {
        offset: base + at,
        reason,
    };
    let mut chars = segment.char_indices().peekable();
    let mut in_braces: Option<usize> = None;
    while let Some((at, c)) = chars.next() {
        match c {
            '*' if chars.peek().is_some_and(|&(_, n)| n == '*') => {
                return Err(err(at, "'**' must be a whole segment, as in /a/**/b"));
            }
            '*' => out.push_str("[^/]*"),
            '?' => out.push_str("[^/]"),
            '\\' => match chars.next() {
                Some((_, escaped)) => {
                    out.push_str(&regex::escape(escaped.encode_utf8(&mut [0; 4])))
                }
                None => return Err(err(at, "'\\' at the end escapes nothing")),
            },
            '{' if in_braces.is_some() => return Err(err(at, "'{' cannot be nested")),
            '{' => {
                in_braces = Some(at);
                out.push_str("(?:");
            }
            ',' if in_braces.is_some() => out.push('|'),
            '}' if in_braces.is_some() => {
                in_braces = None;
                out.push(')');
            }
            '[' => {
                let rest = &segment[at + 1..];
                // A `]` first in the class (after a `!` or `^`) belongs to it.
                let mut skip = usize::from(rest.starts_with(['!', '^']));
                if rest[skip..].starts_with(']') {
                    skip += 1;
                }
                let close = rest[skip..]
                    .find(']')
                    .map(|i| at + 1 + skip + i)
                    .ok_or_else(|| err(at, "'[' is not closed"))?;
                class_to_regex(&segment[at + 1..close], out);
                while chars.peek().is_some_and(|&(i, _)| i <= close) {
                    chars.next();
                }
            }
            _ => out.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
        }
    }
    match in_braces {
        Some(at) => Err(err(at, "'{' is not closed")),
        None => Ok(()),
    }
}

/// `[abc]`, `[a-z]`, `[!x]`: a class of one character, never `/`.
fn class_to_regex(body: &str, out: &mut String) {
    let (negated, body) = match body.strip_prefix(['!', '^']) {
        Some(rest) => (true, rest),
        None => (false, body),
    };
    let mut class = String::new();
    for c in body.chars() {
        match c {
            // Ranges keep their dash; everything else is literal inside the class.
            '-' => class.push('-'),
            _ => class.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
        }
    }
    match negated {
        true => out.push_str(&format!("[^/{class}]")),
        false => out.push_str(&format!("[[{class}]&&[^/]]")),
    }
}

/// Many globs matched at once; each glob belongs to an owner (a rule), several globs may share
/// one.
///
/// The shapes sites use most take no regex: `/**` matches everything, `/a/b/**` is looked up
/// by the path's own prefixes (one hash lookup per segment, however many rules), a glob
/// without wildcards by the path itself. The other globs go into one `RegexSet`, matched in
/// one pass.
#[derive(Debug, Clone, Default)]
pub struct GlobSet {
    /// Owners of `/**`.
    everywhere: Vec<usize>,
    /// Owners of `PREFIX/**`, by `PREFIX`.
    under: HashMap<Box<str>, Vec<usize>>,
    /// Owners of globs without wildcards, by the path.
    exact: HashMap<Box<str>, Vec<usize>>,
    /// The other globs, and their owners by pattern index.
    set: Option<(RegexSet, Vec<usize>)>,
}

/// Whether a glob is a plain path (no wildcard, class, alternative or escape).
fn is_literal(glob: &str) -> bool {
    !glob.contains(['*', '?', '{', '}', '[', ']', '\\'])
}

impl GlobSet {
    /// Compiles `globs`, each with the index of the rule it belongs to (ascending).
    ///
    /// # Errors
    ///
    /// The index in `globs` of the first glob that cannot be compiled, and why.
    pub fn new<'g>(
        globs: impl IntoIterator<Item = (usize, &'g str)>,
    ) -> Result<Self, (usize, GlobError)> {
        let mut out = Self::default();
        let mut patterns = Vec::new();
        let mut pattern_at = Vec::new();
        let mut owners = Vec::new();
        for (i, (owner, glob)) in globs.into_iter().enumerate() {
            // Every glob is translated, so that every one is checked the same way.
            let regex = to_regex(glob).map_err(|e| (i, e))?;
            match glob.strip_suffix("/**") {
                Some("") => out.everywhere.push(owner),
                Some(prefix) if is_literal(prefix) => {
                    out.under.entry(prefix.into()).or_default().push(owner);
                }
                _ if is_literal(glob) => out.exact.entry(glob.into()).or_default().push(owner),
                _ => {
                    patterns.push(regex);
                    pattern_at.push(i);
                    owners.push(owner);
                }
            }
        }
        if patterns.is_empty() {
            return Ok(out);
        }
        let set = RegexSet::new(&patterns).map_err(|_| {
            // Say which glob: the first that does not compile alone (a class such as `[z-a]`),
            // else the last, which made the set too large.
            let (at, reason) = match patterns.iter().position(|p| regex::Regex::new(p).is_err()) {
                Some(at) => (at, "invalid character class"),
                None => (
                    patterns.len().saturating_sub(1),
                    "too many or too large globs to compile together",
                ),
            };
            let at = pattern_at.get(at).copied().unwrap_or_default();
            (at, GlobError { offset: 0, reason })
        })?;
        out.set = Some((set, owners));
        Ok(out)
    }

    /// A set that matches nothing.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The prefixes of `path` that a `PREFIX/**` glob matches it under: the path itself and
    /// every part of it that ends before a `/`.
    fn prefixes(path: &str) -> impl Iterator<Item = &str> {
        path.match_indices('/')
            .filter(|&(at, _)| at > 0)
            .map(|(at, _)| path.get(..at).unwrap_or_default())
            .chain(std::iter::once(path))
    }

    /// Whether any glob matches `path`.
    pub fn is_match(&self, path: &str) -> bool {
        !self.everywhere.is_empty()
            || self.exact.contains_key(path)
            || !self.under.is_empty() && Self::prefixes(path).any(|p| self.under.contains_key(p))
            || self.set.as_ref().is_some_and(|(set, _)| set.is_match(path))
    }

    /// The owners of the globs that match `path`, ascending, each once.
    pub fn owners_matching(&self, path: &str) -> Vec<usize> {
        let mut owners = self.everywhere.clone();
        if let Some(exact) = self.exact.get(path) {
            owners.extend_from_slice(exact);
        }
        if !self.under.is_empty() {
            for prefix in Self::prefixes(path) {
                if let Some(under) = self.under.get(prefix) {
                    owners.extend_from_slice(under);
                }
            }
        }
        if let Some((set, set_owners)) = &self.set {
            owners.extend(set.matches(path).iter().filter_map(|i| set_owners.get(i)));
        }
        owners.sort_unstable();
        owners.dedup();
        owners
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(glob: &str, path: &str) -> bool {
        regex::Regex::new(&to_regex(glob).unwrap())
            .unwrap()
            .is_match(path)
    }

    #[test]
    fn a_star_stays_within_one_segment() {
        assert!(matches("/*.html", "/index.html"));
        assert!(!matches("/*.html", "/docs/index.html"));
        assert!(matches("/docs/*", "/docs/a"));
        assert!(!matches("/docs/*", "/docs/a/b"));
        assert!(matches("/a?c", "/abc"));
        assert!(!matches("/a?c", "/a/c"));
    }

    #[test]
    fn a_double_star_is_any_number_of_segments_none_included() {
        for path in ["/assets", "/assets/", "/assets/a.js", "/assets/x/y/z.css"] {
            assert!(matches("/assets/**", path), "{path}");
        }
        assert!(!matches("/assets/**", "/assetsx"));
        assert!(!matches("/assets/**", "/other/assets/a"));
        for path in ["/", "/a", "/a/b/"] {
            assert!(matches("/**", path), "{path}");
        }
        for path in ["/a.js", "/x/a.js", "/x/y/a.js"] {
            assert!(matches("/**/*.js", path), "{path}");
        }
        assert!(!matches("/**/*.js", "/a.json"));
        for path in ["/a/b", "/a/x/b", "/a/x/y/b"] {
            assert!(matches("/a/**/b", path), "{path}");
        }
        assert!(!matches("/a/**/b", "/a/xb"));
    }

    #[test]
    fn a_newline_in_a_decoded_path_does_not_slip_past_a_glob() {
        assert!(matches("/private/**", "/private/x\ny"));
        assert!(matches("/private/*", "/private/x\ny"));
        assert!(matches("/private/?", "/private/\n"));
    }

    #[test]
    fn braces_classes_and_escapes() {
        assert!(matches("/*.{js,css}", "/a.css"));
        assert!(matches("/*.{js,css}", "/a.js"));
        assert!(!matches("/*.{js,css}", "/a.html"));
        assert!(matches("/v[0-9]/x", "/v3/x"));
        assert!(!matches("/v[0-9]/x", "/va/x"));
        assert!(matches("/v[!0-9]", "/va"));
        assert!(!matches("/v[!0-9]", "/v/"));
        assert!(!matches("/v[!0-9]", "/v1"));
        assert!(matches("/[]]", "/]"));
        assert!(matches(r"/a\*b", "/a*b"));
        assert!(!matches(r"/a\*b", "/axb"));
        // Regex syntax in a glob is literal.
        assert!(matches("/a+(b).c", "/a+(b).c"));
        assert!(!matches("/a.c", "/abc"));
    }

    #[test]
    fn a_trailing_slash_names_the_directory_as_requested() {
        assert!(matches("/docs/", "/docs/"));
        assert!(!matches("/docs/", "/docs"));
        assert!(matches("/", "/"));
        assert!(!matches("/", "/a"));
    }

    #[test]
    fn bad_globs_say_where() {
        let err = |g: &str| to_regex(g).unwrap_err();
        assert_eq!(err("assets/**").offset, 0);
        assert_eq!(err("/a//b").offset, 3);
        assert_eq!(err("/a/../b").offset, 3);
        assert_eq!(err("/a**").offset, 2);
        assert_eq!(err("/a/x**/b").offset, 4);
        assert_eq!(err("/{a,b").offset, 1);
        assert_eq!(err("/x{a,{b}}").offset, 5);
        assert_eq!(err("/[ab").offset, 1);
        assert_eq!(err("/a\\").offset, 2);
        assert!(err("/a**").to_string().contains("whole segment"));
    }

    /// Each glob through the set and through a regex of its own agree.
    #[test]
    fn the_set_s_shortcuts_match_as_the_regexes_do() {
        let globs = [
            "/**", "/a/**", "/a/b/**", "/a", "/a/b", "/a/", "/a/*", "/*.js", "/**/*.js", "/é/**",
            "/a\\*/**", "/a*/**", "/",
        ];
        let paths = [
            "/",
            "/a",
            "/a/",
            "/a/b",
            "/a/b/",
            "/a/b/c.js",
            "/ab",
            "/ab/c",
            "/x.js",
            "/é",
            "/é/x",
            "/a*",
            "/a*/x",
            "/b/a",
        ];
        for glob in globs {
            let set = GlobSet::new([(0, glob)]).unwrap();
            for path in paths {
                assert_eq!(set.is_match(path), matches(glob, path), "{glob} {path}");
                assert_eq!(
                    set.owners_matching(path) == vec![0],
                    matches(glob, path),
                    "{glob} {path}"
                );
            }
        }
    }

    #[test]
    fn a_set_reports_the_owners_of_matching_globs_in_order() {
        let set = GlobSet::new([(0, "/**"), (1, "/a/**"), (1, "/b/**"), (2, "/c/*")]).unwrap();
        assert_eq!(set.owners_matching("/a/x"), vec![0, 1]);
        assert_eq!(set.owners_matching("/b"), vec![0, 1]);
        assert_eq!(set.owners_matching("/c/d"), vec![0, 2]);
        assert!(set.is_match("/z"));
        assert!(!GlobSet::empty().is_match("/z"));
        assert_eq!(GlobSet::empty().owners_matching("/z"), Vec::<usize>::new());
        let (at, _) = GlobSet::new([(0, "/ok"), (1, "bad")]).unwrap_err();
        assert_eq!(at, 1);
        let (at, e) = GlobSet::new([(0, "/ok"), (1, "/[z-a]"), (2, "/x")]).unwrap_err();
        assert_eq!((at, e.reason), (1, "invalid character class"));
        let set = GlobSet::new([(0, "/a/*"), (1, "/**"), (2, "/a/**"), (3, "/a/x")]).unwrap();
        assert_eq!(set.owners_matching("/a/x"), vec![0, 1, 2, 3]);
    }
}
