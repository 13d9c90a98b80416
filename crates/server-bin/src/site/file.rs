//! The site file's format: TOML read with the position of every key and value, its keys checked
//! against the schema (unknown keys, wrong types, a key spelt two ways), and its sections handed
//! on as text with positions, so that every later check can name the file, line and column.
//!
//! What a value means (a glob, a regex, a hash, a header) is checked by the module that owns
//! the rule; which top-level keys are flags, and what their values mean, by `cli`. This module
//! must not compile rules nor read anything but the one file.
//!
//! Keys are matched with `-` and `_` taken alike (`max-connections` or `max_connections`,
//! `error_pages` or `error-pages`); one key spelt both ways is an error.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use self::problem::line_and_column;
pub use self::problem::{Located, Problem, SiteError};

/// One section of the file: its name as documented, whether it is a list of tables
/// (`[[name]]`), and its keys as documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Section {
    /// The table's name.
    pub name: &'static str,
    /// `[[name]]`, one table per rule, rather than `[name]`.
    pub list: bool,
    /// The keys it accepts (`error_pages` takes statuses instead).
    pub keys: &'static [&'static str],
}

/// The top-level keys besides the flags and the sections.
pub const TOP_LEVEL: &[&str] = &["fallback"];

/// Every section and its keys: the schema `docs/site-file.md` is checked against.
pub const SECTIONS: &[Section] = &[
    Section {
        name: "headers",
        list: true,
        keys: &["match", "set"],
    },
    Section {
        name: "redirects",
        list: true,
        keys: &["from", "to", "status"],
    },
    Section {
        name: "rewrites",
        list: true,
        keys: &["from", "to"],
    },
    Section {
        name: "error_pages",
        list: false,
        keys: &[],
    },
    Section {
        name: "auth",
        list: false,
        keys: &["paths", "realm", "users"],
    },
    Section {
        name: "cors",
        list: false,
        keys: &[
            "allow_origins",
            "allow_headers",
            "expose_headers",
            "allow_credentials",
            "max_age",
            "paths",
        ],
    },
];

/// A string from the file and where it is (its quotes included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    /// The value, escapes resolved.
    pub value: String,
    /// Byte range in the file.
    pub span: Range<usize>,
}

/// An integer from the file and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Int {
    /// The value.
    pub value: i64,
    /// Byte range in the file.
    pub span: Range<usize>,
}

/// A top-level key that is a flag, its value as the command line would give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The flag's long name (`max-connections`), whatever the spelling in the file.
    pub flag: String,
    /// The value.
    pub value: SettingValue,
    /// Where the key is.
    pub key_span: Range<usize>,
    /// Where the value is.
    pub span: Range<usize>,
}

/// A flag's value in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingValue {
    /// `true` or `false`.
    Switch(bool),
    /// Anything else, as command-line text: numbers in decimal, a list of strings joined with
    /// `,`, a table as `key=value,...`.
    Text(String),
}

/// `[[headers]]`.
#[derive(Debug, Clone)]
pub struct HeaderRule {
    /// Where the table is.
    pub span: Range<usize>,
    /// `match`: one glob or several.
    pub globs: Vec<Text>,
    /// `set`: field names and values, in file order.
    pub set: Vec<(Text, Text)>,
}

/// `[[redirects]]` and `[[rewrites]]`.
#[derive(Debug, Clone)]
pub struct RegexRule {
    /// Where the table is.
    pub span: Range<usize>,
    /// `from`: the regex.
    pub from: Text,
    /// `to`: the target, with `$1`, `${name}` for groups.
    pub to: Text,
    /// `status` (redirects only).
    pub status: Option<Int>,
}

/// `[auth]`.
#[derive(Debug, Clone)]
pub struct AuthSection {
    /// Where the table is.
    pub span: Range<usize>,
    /// `paths`: globs of what is protected.
    pub paths: Option<Vec<Text>>,
    /// `realm`.
    pub realm: Option<Text>,
    /// `users`: names and Argon2id PHC strings, in file order.
    pub users: Vec<(Text, Text)>,
}

/// `[cors]`.
#[derive(Debug, Clone)]
pub struct CorsSection {
    /// Where the table is.
    pub span: Range<usize>,
    /// `allow_origins`: origins, or `*`.
    pub allow_origins: Vec<Text>,
    /// `allow_headers`: request fields allowed (else those asked for are echoed).
    pub allow_headers: Option<Vec<Text>>,
    /// `expose_headers`: response fields scripts may read.
    pub expose_headers: Option<Vec<Text>>,
    /// `allow_credentials`.
    pub allow_credentials: Option<bool>,
    /// `max_age`: seconds a preflight may be cached.
    pub max_age: Option<Int>,
    /// `paths`: globs where CORS applies.
    pub paths: Option<Vec<Text>>,
}

/// The file, parsed and its structure checked; values are checked by their rules' modules.
#[derive(Debug, Clone)]
pub struct SiteFile {
    /// The file as named.
    pub path: PathBuf,
    /// Line starts, to turn byte offsets into lines and columns.
    text: String,
    /// Top-level keys that are flags, in file order.
    pub settings: Vec<Setting>,
    /// `fallback`.
    pub fallback: Option<Text>,
    /// `[[headers]]`, in file order.
    pub headers: Vec<HeaderRule>,
    /// `[[redirects]]`, in file order.
    pub redirects: Vec<RegexRule>,
    /// `[[rewrites]]`, in file order.
    pub rewrites: Vec<RegexRule>,
    /// `[error_pages]`: the status as written and the page.
    pub error_pages: Vec<(Text, Text)>,
    /// `[auth]`.
    pub auth: Option<AuthSection>,
    /// `[cors]`.
    pub cors: Option<CorsSection>,
}

impl SiteFile {
    /// Reads and parses the file at `path`; `flags` are the long names of the command line's
    /// flags, each also a top-level key.
    ///
    /// # Errors
    ///
    /// [`SiteError`] when the file cannot be read, is not TOML, or does not follow the schema.
    pub fn read(path: &Path, flags: &[&str]) -> Result<Self, SiteError> {
        let text = std::fs::read_to_string(path).map_err(|e| SiteError {
            file: path.to_owned(),
            at: None,
            problem: Problem::Read(e),
        })?;
        Self::parse(path, text, flags)
    }

    /// Parses `text`, read from `path`.
    ///
    /// # Errors
    ///
    /// As [`SiteFile::read`].
    pub fn parse(path: &Path, text: String, flags: &[&str]) -> Result<Self, SiteError> {
        let mut file = Self {
            path: path.to_owned(),
            text: String::new(),
            settings: Vec::new(),
            fallback: None,
            headers: Vec::new(),
            redirects: Vec::new(),
            rewrites: Vec::new(),
            error_pages: Vec::new(),
            auth: None,
            cors: None,
        };
        let outcome = match DeTable::parse(&text) {
            Ok(doc) => file.read_top_level(doc.get_ref(), flags),
            Err(e) => Err(Located::new(
                e.span().unwrap_or(0..0),
                Problem::Syntax(e.message().trim_end().to_owned()),
            )),
        };
        file.text = text;
        match outcome {
            Ok(()) => Ok(file),
            Err(located) => Err(file.error(located)),
        }
    }

    /// Places `located` in the file: the error to show.
    pub fn error(&self, located: Located) -> SiteError {
        let offset = located
            .inside
            .and_then(|inside| self.offset_inside(&located.span, inside))
            .unwrap_or(located.span.start);
        SiteError {
            file: self.path.clone(),
            at: Some(line_and_column(&self.text, offset)),
            problem: located.problem,
        }
    }

    /// The file offset of byte `inside` of the string at `span`, when the string is written
    /// as it reads (no escapes, so that offsets in the value are offsets in the file).
    fn offset_inside(&self, span: &Range<usize>, inside: usize) -> Option<usize> {
        let source = self.text.get(span.clone())?;
        let quote = match source.starts_with("'''") || source.starts_with("\"\"\"") {
            true => 3,
            false => 1,
        };
        let raw = source.get(quote..source.len().checked_sub(quote)?)?;
        let value = DeValue::parse(source).ok()?;
        (value.get_ref().as_str() == Some(raw) && inside <= raw.len())
            .then_some(span.start + quote + inside)
    }

    /// The folder the file is in: relative paths in it are taken from there.
    pub fn dir(&self) -> &Path {
        match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        }
    }

    fn read_top_level(&mut self, doc: &DeTable<'_>, flags: &[&str]) -> Result<(), Located> {
        let sections: Vec<&str> = SECTIONS.iter().map(|s| s.name).collect();
        let known: Vec<&str> = flags
            .iter()
            .chain(TOP_LEVEL)
            .chain(&sections)
            .copied()
            .collect();
        for (name, key, value) in checked_entries(doc, &known, "the top level")? {
            match name {
                "fallback" => self.fallback = Some(text(key, value)?),
                "headers" => {
                    for (span, table) in tables(key, value)? {
                        self.headers.push(header_rule(span, table)?);
                    }
                }
                "redirects" | "rewrites" => {
                    for (span, table) in tables(key, value)? {
                        let rule = regex_rule(name, span, table)?;
                        match name {
                            "redirects" => self.redirects.push(rule),
                            _ => self.rewrites.push(rule),
                        }
                    }
                }
                "error_pages" => {
                    let table = table(key, value)?;
                    for (status, page) in sorted(table) {
                        let page = text(status, page)?;
                        let status = Text {
                            value: status.get_ref().to_string(),
                            span: status.span(),
                        };
                        self.error_pages.push((status, page));
                    }
                }
                "auth" => self.auth = Some(auth_section(value.span(), table(key, value)?)?),
                "cors" => self.cors = Some(cors_section(value.span(), table(key, value)?)?),
                flag => self.settings.push(setting(flag, key, value)?),
            }
        }
        Ok(())
    }
}

/// A key as it came, for messages.
type Key<'i> = Spanned<std::borrow::Cow<'i, str>>;
/// A value as it came.
type Value<'i> = Spanned<DeValue<'i>>;

/// The table's entries in file order.
fn sorted<'t, 'i>(table: &'t DeTable<'i>) -> Vec<(&'t Key<'i>, &'t Value<'i>)> {
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(key, _)| key.span().start);
    entries
}

/// `-` and `_` alike.
fn same_key(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .all(|(x, y)| x == y || (x == b'-' || x == b'_') && (y == b'-' || y == b'_'))
}

/// The table's entries in file order, each with the schema's name for its key; an unknown key,
/// or one spelt two ways, is an error.
fn checked_entries<'t, 'i, 'k>(
    table: &'t DeTable<'i>,
    known: &[&'k str],
    within: &str,
) -> Result<Vec<(&'k str, &'t Key<'i>, &'t Value<'i>)>, Located> {
    let mut seen: HashMap<&'k str, &str> = HashMap::new();
    let mut out = Vec::new();
    for (key, value) in sorted(table) {
        let Some(&name) = known.iter().find(|k| same_key(k, key.get_ref())) else {
            return Err(Located::new(
                key.span(),
                Problem::UnknownKey {
                    key: key.get_ref().to_string(),
                    within: within.to_owned(),
                    hint: closest(key.get_ref(), known).map(str::to_owned),
                },
            ));
        };
        if let Some(other) = seen.insert(name, key.get_ref()) {
            return Err(Located::new(
                key.span(),
                Problem::Twice {
                    key: key.get_ref().to_string(),
                    other: other.to_owned(),
                },
            ));
        }
        out.push((name, key, value));
    }
    Ok(out)
}

/// The known key a mistyped one most likely meant: at most two edits away.
fn closest<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    let key = key.replace('_', "-").to_ascii_lowercase();
    known
        .iter()
        .map(|k| (edit_distance(&key, &k.replace('_', "-")), *k))
        .filter(|&(d, _)| d <= 2)
        .min_by_key(|&(d, _)| d)
        .map(|(_, k)| k)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row.first().copied().unwrap_or(0);
        if let Some(first) = row.first_mut() {
            *first = i + 1;
        }
        for (j, cb) in b.iter().enumerate() {
            let above = row.get(j + 1).copied().unwrap_or(0);
            let left = row.get(j).copied().unwrap_or(0);
            let best = (diagonal + usize::from(ca != *cb))
                .min(above + 1)
                .min(left + 1);
            diagonal = above;
            if let Some(cell) = row.get_mut(j + 1) {
                *cell = best;
            }
        }
    }
    row.last().copied().unwrap_or(0)
}

fn type_error(key: &Key<'_>, value: &Value<'_>, expected: &'static str) -> Located {
    Located::new(
        value.span(),
        Problem::Type {
            key: key.get_ref().to_string(),
            expected,
        },
    )
}

fn text(key: &Key<'_>, value: &Value<'_>) -> Result<Text, Located> {
    match value.get_ref() {
        DeValue::String(s) => Ok(Text {
            value: s.to_string(),
            span: value.span(),
        }),
        _ => Err(type_error(key, value, "a string")),
    }
}

fn int(key: &Key<'_>, value: &Value<'_>) -> Result<Int, Located> {
    let DeValue::Integer(i) = value.get_ref() else {
        return Err(type_error(key, value, "an integer"));
    };
    let n = i64::from_str_radix(i.as_str(), i.radix())
        .map_err(|_| type_error(key, value, "an integer that fits in 64 bits"))?;
    Ok(Int {
        value: n,
        span: value.span(),
    })
}

fn boolean(key: &Key<'_>, value: &Value<'_>) -> Result<bool, Located> {
    value
        .get_ref()
        .as_bool()
        .ok_or_else(|| type_error(key, value, "true or false"))
}

/// A string or a list of strings.
fn texts(key: &Key<'_>, value: &Value<'_>) -> Result<Vec<Text>, Located> {
    const EXPECTED: &str = "a string or a list of strings";
    match value.get_ref() {
        DeValue::String(_) => Ok(vec![text(key, value)?]),
        DeValue::Array(items) => items
            .iter()
            .map(|item| text(key, item).map_err(|_| type_error(key, item, EXPECTED)))
            .collect(),
        _ => Err(type_error(key, value, EXPECTED)),
    }
}

fn table<'t, 'i>(key: &Key<'_>, value: &'t Value<'i>) -> Result<&'t DeTable<'i>, Located> {
    value
        .get_ref()
        .as_table()
        .ok_or_else(|| type_error(key, value, "a table"))
}

/// `[[name]]`: the tables, each with its span.
fn tables<'t, 'i>(
    key: &Key<'_>,
    value: &'t Value<'i>,
) -> Result<Vec<(Range<usize>, &'t DeTable<'i>)>, Located> {
    const EXPECTED: &str = "a list of tables, each starting with [[...]]";
    let items = value
        .get_ref()
        .as_array()
        .ok_or_else(|| type_error(key, value, EXPECTED))?;
    items
        .iter()
        .map(|item| match item.get_ref() {
            DeValue::Table(t) => Ok((item.span(), t)),
            _ => Err(type_error(key, item, EXPECTED)),
        })
        .collect()
}

/// A table of strings (header fields, users), in file order.
fn string_table(key: &Key<'_>, value: &Value<'_>) -> Result<Vec<(Text, Text)>, Located> {
    sorted(table(key, value)?)
        .into_iter()
        .map(|(name, v)| {
            let name_text = Text {
                value: name.get_ref().to_string(),
                span: name.span(),
            };
            Ok((name_text, text(name, v)?))
        })
        .collect()
}

fn missing(span: &Range<usize>, key: &'static str, within: &str) -> Located {
    Located::new(
        span.clone(),
        Problem::Missing {
            key,
            within: within.to_owned(),
        },
    )
}

/// The schema's keys of the section called `name`.
fn keys_of(name: &str) -> &'static [&'static str] {
    SECTIONS
        .iter()
        .find(|s| s.name == name)
        .map_or(&[], |s| s.keys)
}

fn header_rule(span: Range<usize>, table: &DeTable<'_>) -> Result<HeaderRule, Located> {
    const WITHIN: &str = "[[headers]]";
    let mut rule = HeaderRule {
        span,
        globs: Vec::new(),
        set: Vec::new(),
    };
    for (name, key, value) in checked_entries(table, keys_of("headers"), WITHIN)? {
        match name {
            "match" => rule.globs = texts(key, value)?,
            _ => rule.set = string_table(key, value)?,
        }
    }
    if rule.globs.is_empty() {
        return Err(missing(&rule.span, "match", WITHIN));
    }
    if rule.set.is_empty() {
        return Err(missing(&rule.span, "set", WITHIN));
    }
    Ok(rule)
}

fn regex_rule(
    section: &str,
    span: Range<usize>,
    table: &DeTable<'_>,
) -> Result<RegexRule, Located> {
    let within = format!("[[{section}]]");
    let (mut from, mut to, mut status) = (None, None, None);
    for (name, key, value) in checked_entries(table, keys_of(section), &within)? {
        match name {
            "from" => from = Some(text(key, value)?),
            "to" => to = Some(text(key, value)?),
            _ => status = Some(int(key, value)?),
        }
    }
    Ok(RegexRule {
        from: from.ok_or_else(|| missing(&span, "from", &within))?,
        to: to.ok_or_else(|| missing(&span, "to", &within))?,
        status,
        span,
    })
}

fn auth_section(span: Range<usize>, table: &DeTable<'_>) -> Result<AuthSection, Located> {
    let mut auth = AuthSection {
        span,
        paths: None,
        realm: None,
        users: Vec::new(),
    };
    for (name, key, value) in checked_entries(table, keys_of("auth"), "[auth]")? {
        match name {
            "paths" => auth.paths = Some(texts(key, value)?),
            "realm" => auth.realm = Some(text(key, value)?),
            _ => auth.users = string_table(key, value)?,
        }
    }
    if auth.users.is_empty() {
        return Err(missing(&auth.span, "users", "[auth]"));
    }
    Ok(auth)
}

fn cors_section(span: Range<usize>, table: &DeTable<'_>) -> Result<CorsSection, Located> {
    let mut cors = CorsSection {
        span,
        allow_origins: Vec::new(),
        allow_headers: None,
        expose_headers: None,
        allow_credentials: None,
        max_age: None,
        paths: None,
    };
    for (name, key, value) in checked_entries(table, keys_of("cors"), "[cors]")? {
        match name {
            "allow_origins" => cors.allow_origins = texts(key, value)?,
            "allow_headers" => cors.allow_headers = Some(texts(key, value)?),
            "expose_headers" => cors.expose_headers = Some(texts(key, value)?),
            "allow_credentials" => cors.allow_credentials = Some(boolean(key, value)?),
            "max_age" => cors.max_age = Some(int(key, value)?),
            _ => cors.paths = Some(texts(key, value)?),
        }
    }
    if cors.allow_origins.is_empty() {
        return Err(missing(&cors.span, "allow_origins", "[cors]"));
    }
    Ok(cors)
}

/// A flag's value as command-line text.
fn setting(flag: &str, key: &Key<'_>, value: &Value<'_>) -> Result<Setting, Located> {
    const EXPECTED: &str = "true, false, a number, a string, a list of strings or a table";
    let as_text = |v: &Value<'_>| -> Option<String> {
        match v.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                .ok()
                .map(|n| n.to_string()),
            DeValue::Float(f) => Some(f.as_str().replace('_', "")),
            _ => None,
        }
    };
    let value_out = match value.get_ref() {
        DeValue::Boolean(b) => SettingValue::Switch(*b),
        DeValue::Array(items) => {
            let parts: Option<Vec<String>> = items.iter().map(as_text).collect();
            SettingValue::Text(
                parts
                    .ok_or_else(|| type_error(key, value, EXPECTED))?
                    .join(","),
            )
        }
        DeValue::Table(t) => {
            let parts: Option<Vec<String>> = sorted(t)
                .into_iter()
                .map(|(k, v)| Some(format!("{}={}", k.get_ref(), as_text(v)?)))
                .collect();
            SettingValue::Text(
                parts
                    .ok_or_else(|| type_error(key, value, EXPECTED))?
                    .join(","),
            )
        }
        _ => SettingValue::Text(as_text(value).ok_or_else(|| type_error(key, value, EXPECTED))?),
    };
    Ok(Setting {
        flag: flag.to_owned(),
        value: value_out,
        key_span: key.span(),
        span: value.span(),
    })
}

mod problem;
#[cfg(test)]
mod tests;
